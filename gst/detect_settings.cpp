#include "detect_settings.h"

#include <gst/gst.h>

#include "core/engine.h"

namespace dfd::gst::detect {

namespace {

constexpr auto kReadyFlags =
    static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
constexpr auto kPlayingFlags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                        GST_PARAM_MUTABLE_PLAYING);
constexpr auto kCounterFlags = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

std::string string_or(const GValue *value, const std::string &fallback) {
  const gchar *text = g_value_get_string(value);
  return text != nullptr ? text : fallback;
}

}  // namespace

GType detector_enum_type() {
  static gsize type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(DetectorKind::Yunet),
       "YuNet CNN (OpenCV FaceDetectorYN, models/yunet-202202.onnx): faces from about 20 px, "
       "turned and dim ones too, with 5 landmarks",
       "yunet"},
      {static_cast<gint>(DetectorKind::Hog), "dlib HOG frontal face detector", "hog"},
      {static_cast<gint>(DetectorKind::Haar), "OpenCV Haar cascade (opencv-data)", "haar"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type)) {
    g_once_init_leave(&type, g_enum_register_static("GstDeepfakeDetector", values));
  }
  return static_cast<GType>(type);
}

GType inference_region_enum_type() {
  static gsize type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(InferenceRegion::FullFrame), "Search the whole frame for faces",
       "full-frame"},
      {static_cast<gint>(InferenceRegion::RoiList),
       "Classify the regions of interest already on the frame (object-class)", "roi-list"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type)) {
    g_once_init_leave(&type, g_enum_register_static("GstDeepfakeInferenceRegion", values));
  }
  return static_cast<GType>(type);
}

void install_properties(GObjectClass *klass) {
  // The default model is resolved once, when the class is made (DEEPFAKE_MODEL counts then).
  const std::string model = dfd::default_model_path();
  const Settings defaults;
  g_object_class_install_property(
      klass, PROP_MODEL,
      g_param_spec_string("model", "Model",
                          "Path of the model file (.safetensors with its config). Default: the "
                          "shipped model, or $DEEPFAKE_MODEL when set",
                          model.c_str(), kReadyFlags));
  g_object_class_install_property(
      klass, PROP_DEVICE,
      g_param_spec_string("device", "Device",
                          "Inference device: cpu, cuda or cuda:N, or DL Streamer's names CPU, "
                          "GPU, GPU.N (a CUDA GPU here). CUDA needs a CUDA build of LibTorch; "
                          "otherwise going to PAUSED fails with an element error",
                          "cpu", kReadyFlags));
  g_object_class_install_property(
      klass, PROP_MODEL_INSTANCE_ID,
      g_param_spec_string("model-instance-id", "Model instance id",
                          "Elements in one process with the same non-empty id share one loaded "
                          "model and one batch queue (model and device must match). Empty: a "
                          "private instance",
                          "", kReadyFlags));
  g_object_class_install_property(
      klass, PROP_BATCH_SIZE,
      g_param_spec_uint("batch-size", "Batch size",
                        "Faces per inference batch (across frames and, with a shared "
                        "model-instance-id, across elements)",
                        1, 256, static_cast<guint>(defaults.batch_size), kReadyFlags));
  g_object_class_install_property(
      klass, PROP_BATCH_TIMEOUT,
      g_param_spec_uint("batch-timeout", "Batch timeout",
                        "Longest time in ms a partial batch waits for more faces before it runs. "
                        "0: it runs as soon as the model is free, and faces that arrive while "
                        "the model is busy make up the next batch",
                        0, 10000, defaults.batch_timeout_ms, kReadyFlags));
  g_object_class_install_property(
      klass, PROP_INFERENCE_INTERVAL,
      g_param_spec_uint("inference-interval", "Inference interval",
                        "Detect and classify faces on every Nth frame; frames in between carry "
                        "the last boxes and scores forward",
                        1, G_MAXINT, defaults.inference_interval, kPlayingFlags));
  g_object_class_install_property(
      klass, PROP_RECLASSIFY_INTERVAL,
      g_param_spec_uint("reclassify-interval", "Reclassify interval",
                        "Score a tracked face again only after this many frames (1: on every "
                        "analysed frame; 0: never, each face is scored once and keeps that "
                        "result)",
                        0, G_MAXINT, defaults.reclassify_interval, kPlayingFlags));
  g_object_class_install_property(
      klass, PROP_MAX_FRAMES_IN_FLIGHT,
      g_param_spec_uint("max-frames-in-flight", "Max frames in flight",
                        "Frames held while their faces are scored. When full, upstream waits. "
                        "On live sources, new frames are passed on unanalysed instead while this "
                        "many await scores, and upstream waits only at 4 times this many queued",
                        1, 1000, defaults.max_frames_in_flight, kPlayingFlags));
  g_object_class_install_property(
      klass, PROP_DETECTOR,
      g_param_spec_enum("detector", "Detector",
                        "Face detector (full-frame). The model is trained on crops around this "
                        "detector's boxes: keep the default unless the model card says otherwise",
                        detector_enum_type(), static_cast<gint>(defaults.detector), kReadyFlags));
  g_object_class_install_property(
      klass, PROP_DETECTION_MAX_WIDTH,
      g_param_spec_uint("detection-max-width", "Detection max width",
                        "Faces are detected on a copy at most this wide (0: full size); raised "
                        "when min-face-size would fall below the detector's window",
                        0, 8192, static_cast<guint>(defaults.detection_max_width), kReadyFlags));
  g_object_class_install_property(
      klass, PROP_MIN_FACE_SIZE,
      g_param_spec_uint("min-face-size", "Min face size",
                        "Smallest face, in frame pixels, that is detected", 8, 4096,
                        static_cast<guint>(defaults.min_face_size), kReadyFlags));
  g_object_class_install_property(
      klass, PROP_MARGIN,
      g_param_spec_double("margin", "Margin",
                          "Extra context around the square face crop, as a fraction of the "
                          "face's long side on every side (0: the training crop)",
                          0.0, 1.0, defaults.margin, kPlayingFlags));
  g_object_class_install_property(
      klass, PROP_THRESHOLD,
      g_param_spec_double("threshold", "Threshold",
                          "Smoothed fake probability at or above which a face is called fake; "
                          "-1 uses the threshold stored in the model",
                          -1.0, 1.0, defaults.threshold, kPlayingFlags));
  g_object_class_install_property(
      klass, PROP_SMOOTHING,
      g_param_spec_double("smoothing", "Smoothing",
                          "Weight of the newest score in a face's smoothed score "
                          "(1: no smoothing)",
                          0.0, 1.0, defaults.smoothing, kPlayingFlags));
  g_object_class_install_property(
      klass, PROP_VERDICT_FRAMES,
      g_param_spec_uint("verdict-frames", "Verdict frames",
                        "Consecutive analyses on the other side of the threshold needed to "
                        "change a face's verdict",
                        1, 1000, defaults.verdict_frames, kPlayingFlags));
  g_object_class_install_property(
      klass, PROP_EXPLAIN,
      g_param_spec_boolean("explain", "Explain",
                           "Compute each face's relevancy grid (attached as "
                           "GstDeepfakeRelevancyMeta); costs a backward pass",
                           TRUE, kPlayingFlags));
  g_object_class_install_property(
      klass, PROP_POST_MESSAGES,
      g_param_spec_boolean("post-messages", "Post messages",
                           "Post a 'deepfake' element message per analysed frame and a "
                           "'deepfake-alert' message when a face's verdict changes",
                           TRUE, kPlayingFlags));
  g_object_class_install_property(
      klass, PROP_MAX_LATENCY,
      g_param_spec_uint("max-latency", "Max latency",
                        "Live sources only: the latency in ms this element adds and reports. A "
                        "frame whose scores are not back in time is pushed with its faces' last "
                        "results, and analysis is skipped while it could not finish in time",
                        0, 60000, defaults.max_latency_ms, kPlayingFlags));
  g_object_class_install_property(
      klass, PROP_DETECTION_INTERVAL,
      g_param_spec_uint("detection-interval", "Detection interval",
                        "Search the whole frame for faces on every Nth analysed frame; in "
                        "between, only the tracked faces are searched for, each around its last "
                        "box (a few ms instead of tens), so new faces appear up to N frames "
                        "later. 0: automatic, every frame on files and every 10th frame on live "
                        "sources",
                        0, G_MAXINT, defaults.detection_interval, kPlayingFlags));
  g_object_class_install_property(
      klass, PROP_INFERENCE_REGION,
      g_param_spec_enum(
          "inference-region", "Inference region",
          "full-frame: find faces with the detector and attach a region of interest for each. "
          "roi-list: run no detector, classify the GstVideoRegionOfInterestMeta already on the "
          "frame whose type is in object-class (from gvadetect, nvinfer, another "
          "deepfakedetect or the application), keeping their ids and adding the deepfake "
          "params and relevancy to them; a region's object_id param, when upstream tracks, is "
          "its track",
          inference_region_enum_type(), static_cast<gint>(InferenceRegion::FullFrame),
          kReadyFlags));
  g_object_class_install_property(
      klass, PROP_OBJECT_CLASS,
      g_param_spec_string("object-class", "Object class",
                          "roi-list: comma-separated region types to classify (the ROI meta's "
                          "roi_type); empty: every region",
                          defaults.object_class.c_str(), kPlayingFlags));
  g_object_class_install_property(
      klass, PROP_FRAMES_ANALYSED,
      g_param_spec_uint64("frames-analysed", "Frames analysed",
                          "Frames on which faces were detected (and due faces scored)", 0,
                          G_MAXUINT64, 0, kCounterFlags));
  g_object_class_install_property(
      klass, PROP_FRAMES_SKIPPED,
      g_param_spec_uint64("frames-skipped", "Frames skipped",
                          "Frames due for analysis (by inference-interval) that were passed on "
                          "unanalysed to keep up: live backlog, full queue on a live source, "
                          "or QoS from downstream",
                          0, G_MAXUINT64, 0, kCounterFlags));
  g_object_class_install_property(
      klass, PROP_FACES_ANALYSED,
      g_param_spec_uint64("faces-analysed", "Faces analysed", "Face crops scored by the model", 0,
                          G_MAXUINT64, 0, kCounterFlags));
  g_object_class_install_property(
      klass, PROP_DETECTION_TIME,
      g_param_spec_uint64("detection-time", "Detection time",
                          "Nanoseconds the detection thread spent on frames (face search, "
                          "tracking, crops) since the element started",
                          0, G_MAXUINT64, 0, kCounterFlags));
  g_object_class_install_property(
      klass, PROP_INFERENCE_TIME,
      g_param_spec_uint64("inference-time", "Inference time",
                          "Nanoseconds the model spent on batches since the element started, "
                          "as of the newest scores pushed (with a shared model-instance-id: "
                          "all sharing elements' batches)",
                          0, G_MAXUINT64, 0, kCounterFlags));
  g_object_class_install_property(
      klass, PROP_BATCHES,
      g_param_spec_uint64("batches", "Batches",
                          "Model passes run since the model instance was created, as of the "
                          "newest scores pushed (with a shared model-instance-id: all sharing "
                          "elements' batches)",
                          0, G_MAXUINT64, 0, kCounterFlags));
  g_object_class_install_property(
      klass, PROP_BATCHED_FACES,
      g_param_spec_uint64("batched-faces", "Batched faces",
                          "Faces in those model passes (with a shared model-instance-id: all "
                          "sharing elements' faces; faces-analysed counts this element's)",
                          0, G_MAXUINT64, 0, kCounterFlags));
}

bool set_setting(Settings &s, guint id, const GValue *value) {
  switch (id) {
    case PROP_MODEL:
      s.model = string_or(value, dfd::default_model_path());
      return true;
    case PROP_DEVICE:
      s.device = string_or(value, "cpu");
      return true;
    case PROP_MODEL_INSTANCE_ID:
      s.instance_id = string_or(value, "");
      return true;
    case PROP_BATCH_SIZE:
      s.batch_size = static_cast<int>(g_value_get_uint(value));
      return true;
    case PROP_BATCH_TIMEOUT:
      s.batch_timeout_ms = g_value_get_uint(value);
      return true;
    case PROP_INFERENCE_INTERVAL:
      s.inference_interval = g_value_get_uint(value);
      return true;
    case PROP_DETECTION_INTERVAL:
      s.detection_interval = g_value_get_uint(value);
      return true;
    case PROP_RECLASSIFY_INTERVAL:
      s.reclassify_interval = g_value_get_uint(value);
      return true;
    case PROP_MAX_FRAMES_IN_FLIGHT:
      s.max_frames_in_flight = g_value_get_uint(value);
      return true;
    case PROP_DETECTOR:
      s.detector = static_cast<DetectorKind>(g_value_get_enum(value));
      return true;
    case PROP_DETECTION_MAX_WIDTH:
      s.detection_max_width = static_cast<int>(g_value_get_uint(value));
      return true;
    case PROP_MIN_FACE_SIZE:
      s.min_face_size = static_cast<int>(g_value_get_uint(value));
      return true;
    case PROP_MARGIN:
      s.margin = g_value_get_double(value);
      return true;
    case PROP_THRESHOLD:
      s.threshold = g_value_get_double(value);
      ++s.tracker_generation;
      return true;
    case PROP_SMOOTHING:
      s.smoothing = g_value_get_double(value);
      ++s.tracker_generation;
      return true;
    case PROP_VERDICT_FRAMES:
      s.verdict_frames = g_value_get_uint(value);
      ++s.tracker_generation;
      return true;
    case PROP_EXPLAIN:
      s.explain = g_value_get_boolean(value);
      return true;
    case PROP_POST_MESSAGES:
      s.post_messages = g_value_get_boolean(value);
      return true;
    case PROP_MAX_LATENCY:
      s.max_latency_ms = g_value_get_uint(value);
      return true;
    case PROP_INFERENCE_REGION:
      s.inference_region = static_cast<InferenceRegion>(g_value_get_enum(value));
      return true;
    case PROP_OBJECT_CLASS:
      s.object_class = string_or(value, "");
      return true;
    default:
      return false;
  }
}

bool get_setting(const Settings &s, guint id, GValue *value) {
  switch (id) {
    case PROP_MODEL:
      g_value_set_string(value, s.model.c_str());
      return true;
    case PROP_DEVICE:
      g_value_set_string(value, s.device.c_str());
      return true;
    case PROP_MODEL_INSTANCE_ID:
      g_value_set_string(value, s.instance_id.c_str());
      return true;
    case PROP_BATCH_SIZE:
      g_value_set_uint(value, static_cast<guint>(s.batch_size));
      return true;
    case PROP_BATCH_TIMEOUT:
      g_value_set_uint(value, s.batch_timeout_ms);
      return true;
    case PROP_INFERENCE_INTERVAL:
      g_value_set_uint(value, s.inference_interval);
      return true;
    case PROP_DETECTION_INTERVAL:
      g_value_set_uint(value, s.detection_interval);
      return true;
    case PROP_RECLASSIFY_INTERVAL:
      g_value_set_uint(value, s.reclassify_interval);
      return true;
    case PROP_MAX_FRAMES_IN_FLIGHT:
      g_value_set_uint(value, s.max_frames_in_flight);
      return true;
    case PROP_DETECTOR:
      g_value_set_enum(value, static_cast<gint>(s.detector));
      return true;
    case PROP_DETECTION_MAX_WIDTH:
      g_value_set_uint(value, static_cast<guint>(s.detection_max_width));
      return true;
    case PROP_MIN_FACE_SIZE:
      g_value_set_uint(value, static_cast<guint>(s.min_face_size));
      return true;
    case PROP_MARGIN:
      g_value_set_double(value, s.margin);
      return true;
    case PROP_THRESHOLD:
      g_value_set_double(value, s.threshold);
      return true;
    case PROP_SMOOTHING:
      g_value_set_double(value, s.smoothing);
      return true;
    case PROP_VERDICT_FRAMES:
      g_value_set_uint(value, s.verdict_frames);
      return true;
    case PROP_EXPLAIN:
      g_value_set_boolean(value, s.explain);
      return true;
    case PROP_POST_MESSAGES:
      g_value_set_boolean(value, s.post_messages);
      return true;
    case PROP_MAX_LATENCY:
      g_value_set_uint(value, s.max_latency_ms);
      return true;
    case PROP_INFERENCE_REGION:
      g_value_set_enum(value, static_cast<gint>(s.inference_region));
      return true;
    case PROP_OBJECT_CLASS:
      g_value_set_string(value, s.object_class.c_str());
      return true;
    default:
      return false;
  }
}

}  // namespace dfd::gst::detect
