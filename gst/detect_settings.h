// deepfakedetect's properties: their values, their documentation (what gst-inspect-1.0 shows)
// and GValue conversion, kept apart from the element's data flow.
#pragma once

#include <glib-object.h>

#include <string>

#include "analysis/face_analyzer.h"

namespace dfd::gst::detect {

enum Property {
  PROP_0,
  PROP_MODEL,
  PROP_DEVICE,
  PROP_MODEL_INSTANCE_ID,
  PROP_BATCH_SIZE,
  PROP_BATCH_TIMEOUT,
  PROP_INFERENCE_INTERVAL,
  PROP_RECLASSIFY_INTERVAL,
  PROP_MAX_FRAMES_IN_FLIGHT,
  PROP_DETECTOR,
  PROP_DETECTION_MAX_WIDTH,
  PROP_MIN_FACE_SIZE,
  PROP_MARGIN,
  PROP_THRESHOLD,
  PROP_SMOOTHING,
  PROP_VERDICT_FRAMES,
  PROP_EXPLAIN,
  PROP_POST_MESSAGES,
  PROP_MAX_LATENCY,
  PROP_DETECTION_INTERVAL,
  PROP_INFERENCE_REGION,
  PROP_OBJECT_CLASS,
  // Read-only counters: the element answers these itself.
  PROP_FRAMES_ANALYSED,
  PROP_FRAMES_SKIPPED,
  PROP_FACES_ANALYSED,
  PROP_DETECTION_TIME,
  PROP_INFERENCE_TIME,
  PROP_BATCHES,
  PROP_BATCHED_FACES,
};

// DL Streamer's names: search the whole frame, or classify the regions already on it.
enum class InferenceRegion { FullFrame = 0, RoiList = 1 };

struct Settings {
  std::string model;  // set from dfd::default_model_path() when the element is made
  std::string device = "cpu";
  std::string instance_id;
  int batch_size = 8;
  // Waiting for a fuller batch only adds latency for a single stream: while the model runs,
  // the next faces queue up and form the next batch anyway.
  guint batch_timeout_ms = 0;
  guint inference_interval = 1;
  guint reclassify_interval = 1;
  guint max_frames_in_flight = 16;
  DetectorKind detector = kDefaultDetector;
  int detection_max_width = 640;
  int min_face_size = 64;
  double margin = 0.0;
  double threshold = -1.0;  // -1: the model's own
  double smoothing = 0.5;
  guint verdict_frames = 3;
  bool explain = true;
  bool post_messages = true;
  guint max_latency_ms = 200;
  guint detection_interval = 0;  // 0: automatic (every frame on files, see the element)
  InferenceRegion inference_region = InferenceRegion::FullFrame;
  std::string object_class = "face";  // roi-list: comma-separated ROI types; empty: all
  guint tracker_generation = 0;       // bumped when a property of the tracker changes
};

GType detector_enum_type();
GType inference_region_enum_type();

void install_properties(GObjectClass *klass);

// Both return false for ids they do not handle (the counters, or an invalid id).
bool set_setting(Settings &settings, guint id, const GValue *value);
bool get_setting(const Settings &settings, guint id, GValue *value);

}  // namespace dfd::gst::detect
