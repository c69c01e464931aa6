// Fault cases for deepfakedetect: EOS and flushing seeks while a batch is in flight,
// renegotiation, degenerate and huge frames, a crowd of faces, broken model files and devices,
// many state cycles, and teardown with work in flight. Every case checks that the element
// reports what went wrong or recovers, and that each buffer that should pass did pass, in order.
// Runs with CK_FORK=no (LibTorch's thread pool does not survive fork), GST_PLUGIN_PATH pointing
// at the build's gst/ folder.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/engine.h"
#include "core/torch_model.h"
#include "deepfakemeta.h"
#include "proc_stats.h"
#include "random_model.h"

// Last: it brings in check.h, whose macros clash with standard headers included after it.
#include "element_helpers.h"

using namespace dfd::testing;

namespace {

std::string g_dir;
std::string g_model;  // a working random model

void make_model() {
  char templ[] = "/tmp/dfd-test-faults-XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  g_dir = templ;
  g_model = g_dir + "/faults-spatial.safetensors";
  save_random_model(small_spatial_config("faults-spatial", "tests/test_faults.cpp"), g_model, 23);
}

std::vector<char> file_bytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const std::string &path, const std::vector<char> &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ck_assert_msg(out.good(), "cannot write %s", path.c_str());
}

GstElement *make_detect() {
  return make_detect_with(g_model);
}

// `picture` pasted onto blurred noise of width x height at (x, y).
cv::Mat on_noise(const cv::Mat &picture, int width, int height, int x, int y, unsigned seed) {
  cv::Mat frame = noise_image(width, height, seed);
  picture.copyTo(frame(cv::Rect(x, y, picture.cols, picture.rows)));
  return frame;
}

cv::Rect roi_box(const GstVideoRegionOfInterestMeta *roi) {
  return cv::Rect(static_cast<int>(roi->x), static_cast<int>(roi->y), static_cast<int>(roi->w),
                  static_cast<int>(roi->h));
}

std::vector<GstVideoRegionOfInterestMeta *> rois(GstBuffer *buffer) {
  std::vector<GstVideoRegionOfInterestMeta *> out;
  gpointer state = nullptr;
  while (GstMeta *meta = gst_buffer_iterate_meta_filtered(
             buffer, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
    out.push_back(reinterpret_cast<GstVideoRegionOfInterestMeta *>(meta));
  }
  return out;
}

// A scored face: its deepfake params carry a label and a probability, its relevancy grid spans
// its box, and its normalised detection box is the pixel box over the frame size.
void check_scored_face(GstBuffer *buffer, GstVideoRegionOfInterestMeta *roi, int width,
                       int height) {
  ck_assert_uint_le(roi->x + roi->w, static_cast<guint>(width));
  ck_assert_uint_le(roi->y + roi->h, static_cast<guint>(height));
  const GstStructure *detection = gst_video_region_of_interest_meta_get_param(roi, "detection");
  assert_nonnull(detection);
  assert_near(double_field(detection, "x_min"), static_cast<double>(roi->x) / width, 1e-9);
  assert_near(double_field(detection, "y_max"), static_cast<double>(roi->y + roi->h) / height,
              1e-9);
  const GstStructure *deepfake = gst_video_region_of_interest_meta_get_param(roi, "deepfake");
  assert_nonnull(deepfake);
  const std::string label = string_field(deepfake, "label");
  ck_assert_msg(label == "fake" || label == "real", "face not scored: label %s", label.c_str());
  const double p = double_field(deepfake, "fake_probability");
  ck_assert(p >= 0.0 && p <= 1.0);
  const GstDeepfakeRelevancyMeta *relevancy =
      gst_buffer_get_deepfake_relevancy_meta_for_roi(buffer, roi->id);
  assert_nonnull(relevancy);
  ck_assert_uint_eq(relevancy->x, roi->x);
  ck_assert_uint_eq(relevancy->y, roi->y);
  ck_assert_uint_eq(relevancy->w, roi->w);
  ck_assert_uint_eq(relevancy->h, roi->h);
}

int object_id(GstVideoRegionOfInterestMeta *roi) {
  return int_field(gst_video_region_of_interest_meta_get_param(roi, "object_id"), "id");
}

// Pulls one frame per entry of `pts` and checks that they are the ones pushed, in order: same
// PTS, same pixels.
void expect_frames(GstHarness *h, const std::vector<GstClockTime> &pts,
                   const std::vector<std::vector<uint8_t>> &pixels, const char *what) {
  for (size_t i = 0; i < pts.size(); ++i) {
    GstBuffer *out = pull_frame(h);
    ck_assert_msg(out != nullptr, "%s: frame %zu did not come out", what, i);
    ck_assert_msg(GST_BUFFER_PTS(out) == pts[i], "%s: frame %zu out of order", what, i);
    ck_assert_msg(bytes_of(out) == pixels[i], "%s: frame %zu changed", what, i);
    gst_buffer_unref(out);
  }
}

// ---- pipelines ------------------------------------------------------------------------------

// What crossed one pad: buffers (PTS, faces, whether all faces were scored) since the newest
// flush-stop, and how many flushes there were.
struct PadLog {
  std::mutex lock;
  int flushes = 0;
  std::vector<GstClockTime> pts;
  std::vector<int> faces;
  std::vector<bool> scored;

  size_t count() {
    std::lock_guard<std::mutex> guard(lock);
    return pts.size();
  }
};

GstPadProbeReturn log_pad(GstPad *, GstPadProbeInfo *info, gpointer data) {
  auto *log = static_cast<PadLog *>(data);
  std::lock_guard<std::mutex> guard(log->lock);
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
    log->pts.push_back(GST_BUFFER_PTS(buffer));
    bool scored = true;
    const std::vector<GstVideoRegionOfInterestMeta *> found = rois(buffer);
    for (GstVideoRegionOfInterestMeta *roi : found) {
      const GstStructure *deepfake = gst_video_region_of_interest_meta_get_param(roi, "deepfake");
      const gchar *label =
          deepfake != nullptr ? gst_structure_get_string(deepfake, "label") : nullptr;
      scored = scored && label != nullptr && std::string(label) != "unknown";
    }
    log->faces.push_back(static_cast<int>(found.size()));
    log->scored.push_back(scored);
  } else if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_FLUSH_STOP) {
    ++log->flushes;
    log->pts.clear();
    log->faces.clear();
    log->scored.clear();
  }
  return GST_PAD_PROBE_OK;
}

void watch_pad(GstElement *element, const char *pad_name, PadLog *log) {
  GstPad *pad = gst_element_get_static_pad(element, pad_name);
  gst_pad_add_probe(
      pad, static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_FLUSH),
      log_pad, log, nullptr);
  gst_object_unref(pad);
}

// Polls `done` until it holds or `seconds` pass.
template <typename Pred>
bool wait_until(Pred done, int seconds) {
  const gint64 end =
      g_get_monotonic_time() + static_cast<gint64>(seconds * time_scale()) * G_USEC_PER_SEC;
  while (!done()) {
    if (g_get_monotonic_time() > end) return false;
    g_usleep(2000);
  }
  return true;
}

// Waits for EOS or an error on the pipeline's bus; fails the test on an error.
void expect_eos(GstElement *pipeline, int seconds, const char *what) {
  GstBus *bus = gst_element_get_bus(pipeline);
  GstMessage *message = gst_bus_timed_pop_filtered(
      bus, seconds * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  ck_assert_msg(message != nullptr, "%s: no EOS within %d s", what, seconds);
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
    GError *error = nullptr;
    gst_message_parse_error(message, &error, nullptr);
    ck_assert_msg(false, "%s: error from %s: %s", what, GST_MESSAGE_SRC_NAME(message),
                  error->message);
  }
  gst_message_unref(message);
  gst_object_unref(bus);
}

// Counts finalized buffers: the frames the test made must all be released in the end.
void count_finalized(gpointer data, GstMiniObject *) {
  static_cast<std::atomic<int> *>(data)->fetch_add(1);
}

}  // namespace

// ---- tests ----------------------------------------------------------------------------------

START_TEST(test_eos_mid_batch) {
  const cv::Mat face = even_size(face_image());
  const GstVideoInfo info = video_info("NV12", face.cols, face.rows);
  GstElement *detect = make_detect();
  // The six faces are far from a batch of 256: only the timeout runs them, long after EOS
  // arrived.
  g_object_set(detect, "batch-size", 256u, "batch-timeout", 3000u, nullptr);
  GstHarness *h = element_harness(detect, info);
  const int frames = 12;
  std::vector<GstClockTime> pts;
  for (int i = 0; i < frames; ++i) {
    const cv::Mat picture = i % 2 == 0 ? face : noise_image(face.cols, face.rows, i);
    pts.push_back(frame_pts(i));
    ck_assert_int_eq(gst_harness_push(h, frame_from_bgr(picture, "NV12", pts.back())), GST_FLOW_OK);
  }
  ck_assert(gst_harness_push_event(h, gst_event_new_eos()));
  ck_assert_msg(wait_for_eos(h, 60), "no EOS");
  // EOS came after every frame, each with its result.
  ck_assert_uint_eq(gst_harness_buffers_in_queue(h), frames);
  for (int i = 0; i < frames; ++i) {
    GstBuffer *out = pull_frame(h);
    ck_assert_uint_eq(GST_BUFFER_PTS(out), pts[i]);
    const std::vector<GstVideoRegionOfInterestMeta *> found = rois(out);
    ck_assert_uint_eq(found.size(), i % 2 == 0 ? 1 : 0);
    for (GstVideoRegionOfInterestMeta *roi : found)
      check_scored_face(out, roi, face.cols, face.rows);
    gst_buffer_unref(out);
  }
  guint64 analysed = 0, faces = 0;
  g_object_get(detect, "frames-analysed", &analysed, "faces-analysed", &faces, nullptr);
  ck_assert_uint_eq(analysed, frames);
  ck_assert_uint_eq(faces, frames / 2);
  gst_harness_teardown(h);
}
END_TEST

START_TEST(test_flushing_seek_in_flight) {
  const std::string clip = data_path("videos/liveportrait-d18.mp4");
  GError *error = nullptr;
  GstElement *pipeline =
      gst_parse_launch(("filesrc location=\"" + clip +
                        "\" ! qtdemux ! avdec_h264 ! videoconvert ! video/x-raw,format=I420 ! "
                        "deepfakedetect name=d ! fakesink sync=false")
                           .c_str(),
                       &error);
  ck_assert_msg(pipeline != nullptr, "%s", error != nullptr ? error->message : "");
  GstElement *detect = gst_bin_get_by_name(GST_BIN(pipeline), "d");
  // Eight frames queue (then upstream waits) and their faces wait for a batch of 16 that only
  // the timeout, 10 s (the longest there is), can run: the seek lands while they are in
  // flight, since eight frames arrive in a fraction of that even on a loaded machine.
  g_object_set(detect, "model", g_model.c_str(), "batch-size", 16u, "batch-timeout", 10000u,
               "max-frames-in-flight", 8u, nullptr);
  PadLog in, out;
  watch_pad(detect, "sink", &in);
  watch_pad(detect, "src", &out);

  ck_assert_int_ne(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  ck_assert_msg(wait_until([&] { return in.count() >= 8; }, 30), "frames did not arrive");
  ck_assert_msg(out.count() == 0, "the batch was not in flight at the seek");
  // Room for the whole segment after the seek, so that batches fill instead of timing out.
  g_object_set(detect, "max-frames-in-flight", 64u, nullptr);
  const GstClockTime start = 3 * GST_SECOND, stop = 4 * GST_SECOND;
  ck_assert(gst_element_seek(
      pipeline, 1.0, GST_FORMAT_TIME,
      static_cast<GstSeekFlags>(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE), GST_SEEK_TYPE_SET,
      static_cast<gint64>(start), GST_SEEK_TYPE_SET, static_cast<gint64>(stop)));
  expect_eos(pipeline, 120, "flushing seek");

  {
    std::lock_guard<std::mutex> a(in.lock), b(out.lock);
    ck_assert_int_ge(in.flushes, 1);
    ck_assert_int_eq(out.flushes, in.flushes);
    // After the flush: exactly the frames that came in went out, in order, none from before.
    ck_assert_msg(in.pts.size() >= 25, "only %zu frames after the seek", in.pts.size());
    ck_assert_uint_eq(out.pts.size(), in.pts.size());
    int with_faces = 0;
    for (size_t i = 0; i < out.pts.size(); ++i) {
      ck_assert_uint_eq(out.pts[i], in.pts[i]);
      // The frames around the new segment (how exactly the decoder clips is its business),
      // nothing from before the seek.
      ck_assert_msg(out.pts[i] + GST_SECOND / 10 >= start && out.pts[i] <= stop + GST_SECOND / 10,
                    "frame at %" GST_TIME_FORMAT " is outside the segment",
                    GST_TIME_ARGS(out.pts[i]));
      if (i > 0) ck_assert_uint_gt(out.pts[i], out.pts[i - 1]);
      ck_assert_msg(out.scored[i], "frame %zu has a face without a score", i);
      if (out.faces[i] > 0) ++with_faces;
    }
    // The clip shows one face throughout.
    ck_assert_msg(with_faces * 10 >= static_cast<int>(out.pts.size()) * 9,
                  "faces on only %d of %zu frames", with_faces, out.pts.size());
  }
  ck_assert_int_eq(gst_element_set_state(pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  gst_object_unref(detect);
  gst_object_unref(pipeline);
}
END_TEST

START_TEST(test_flush_keeps_pending_caps) {
  const cv::Mat face = face_image();
  const GstVideoInfo face_info = video_info("BGR", face.cols, face.rows);
  const GstVideoInfo small_info = video_info("BGR", 160, 120);
  GstElement *detect = make_detect();
  g_object_set(detect, "batch-size", 8u, "batch-timeout", 3000u, nullptr);
  GstHarness *h = element_harness(detect, face_info);
  for (int i = 0; i < 2; ++i) {
    ck_assert_int_eq(gst_harness_push(h, frame_from_bgr(face, "BGR", frame_pts(i))), GST_FLOW_OK);
  }
  // New caps queue behind the frames waiting for their batch; a flush then drops the frames,
  // but downstream must still learn the new caps (as a queue keeps sticky events on flush).
  gst_harness_set_src_caps_str(h, caps_string(small_info).c_str());
  ck_assert(gst_harness_push_event(h, gst_event_new_flush_start()));
  ck_assert(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  ck_assert(gst_harness_push_event(h, gst_event_new_segment(&segment)));
  std::vector<GstClockTime> pts;
  std::vector<std::vector<uint8_t>> pixels;
  for (int i = 0; i < 3; ++i) {
    GstBuffer *in =
        frame_from_bgr(noise_image(160, 120, static_cast<unsigned>(i)), "BGR", frame_pts(i));
    pts.push_back(frame_pts(i));
    pixels.push_back(bytes_of(in));
    ck_assert_int_eq(gst_harness_push(h, in), GST_FLOW_OK);
  }
  ck_assert(gst_harness_push_event(h, gst_event_new_eos()));
  ck_assert_msg(wait_for_eos(h, 60), "no EOS after the flush");
  // Whatever left before the flush is not checked; what follows it must be the new frames.
  while (gst_harness_buffers_in_queue(h) > pts.size()) gst_buffer_unref(pull_frame(h));
  expect_frames(h, pts, pixels, "after the flush");
  GstCaps *caps = gst_pad_get_current_caps(h->sinkpad);
  assert_nonnull(caps);
  GstVideoInfo out_info;
  ck_assert(gst_video_info_from_caps(&out_info, caps));
  ck_assert_msg(GST_VIDEO_INFO_WIDTH(&out_info) == 160 && GST_VIDEO_INFO_HEIGHT(&out_info) == 120,
                "downstream still has %dx%d caps", GST_VIDEO_INFO_WIDTH(&out_info),
                GST_VIDEO_INFO_HEIGHT(&out_info));
  gst_caps_unref(caps);
  gst_harness_teardown(h);
}
END_TEST

START_TEST(test_resolution_change_mid_batch) {
  const cv::Mat small = even_size(face_image());
  cv::Mat large;
  cv::resize(small, large, cv::Size(small.cols * 2, small.rows * 2), 0, 0, cv::INTER_CUBIC);
  const GstVideoInfo small_info = video_info("I420", small.cols, small.rows);
  const GstVideoInfo large_info = video_info("I420", large.cols, large.rows);
  GstElement *detect = make_detect();
  // The caps change lands while the first frames' faces wait for their batch.
  g_object_set(detect, "batch-size", 64u, "batch-timeout", 1500u, nullptr);
  GstHarness *h = element_harness(detect, small_info);
  for (int i = 0; i < 3; ++i) {
    ck_assert_int_eq(gst_harness_push(h, frame_from_bgr(small, "I420", frame_pts(i))), GST_FLOW_OK);
  }
  gst_harness_set_src_caps_str(h, caps_string(large_info).c_str());
  for (int i = 3; i < 6; ++i) {
    ck_assert_int_eq(gst_harness_push(h, frame_from_bgr(large, "I420", frame_pts(i))), GST_FLOW_OK);
  }
  ck_assert(gst_harness_push_event(h, gst_event_new_eos()));
  ck_assert_msg(wait_for_eos(h, 60), "no EOS");
  ck_assert_uint_eq(gst_harness_buffers_in_queue(h), 6);

  cv::Rect small_box;
  int small_id = 0;
  for (int i = 0; i < 6; ++i) {
    GstBuffer *out = pull_frame(h);
    ck_assert_uint_eq(GST_BUFFER_PTS(out), frame_pts(i));
    const GstVideoInfo &info = i < 3 ? small_info : large_info;
    ck_assert_uint_eq(gst_buffer_get_size(out), GST_VIDEO_INFO_SIZE(&info));
    const std::vector<GstVideoRegionOfInterestMeta *> found = rois(out);
    ck_assert_uint_eq(found.size(), 1);
    check_scored_face(out, found[0], GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info));
    const cv::Rect box = roi_box(found[0]);
    if (i == 0) {
      small_box = box;
      small_id = object_id(found[0]);
    }
    if (i < 3) {
      ck_assert_int_eq(object_id(found[0]), small_id);
    } else {
      // The same face at twice the size, found afresh as a new object: its box is in the new
      // frame's pixels.
      ck_assert_int_gt(object_id(found[0]), small_id);
      const double centre_x = box.x + box.width / 2.0, centre_y = box.y + box.height / 2.0;
      const double small_x = small_box.x + small_box.width / 2.0;
      const double small_y = small_box.y + small_box.height / 2.0;
      ck_assert_msg(std::abs(centre_x - 2 * small_x) < 0.15 * box.width &&
                        std::abs(centre_y - 2 * small_y) < 0.15 * box.height,
                    "box (%d, %d %dx%d) is not where the face is in the large frame", box.x, box.y,
                    box.width, box.height);
      ck_assert_int_ge(box.width, small_box.width * 3 / 2);
      ck_assert_int_le(box.width, small_box.width * 5 / 2);
    }
    gst_buffer_unref(out);
  }
  GstCaps *caps = gst_pad_get_current_caps(h->sinkpad);
  GstVideoInfo out_info;
  ck_assert(gst_video_info_from_caps(&out_info, caps));
  ck_assert_int_eq(GST_VIDEO_INFO_WIDTH(&out_info), large.cols);
  gst_caps_unref(caps);
  gst_harness_teardown(h);
}
END_TEST

START_TEST(test_tiny_and_odd_frames) {
  // One stream renegotiating through every format and size (one model load for all).
  const int sizes[][2] = {{1, 1}, {2, 1}, {1, 2}, {33, 17}, {17, 33}, {641, 479}};
  GstHarness *h = element_harness(make_detect(), video_info("I420", 1, 1));
  int frame = 0;
  for (const char *format : kFormats) {
    for (const auto &size : sizes) {
      const int width = size[0], height = size[1];
      gst_harness_set_src_caps_str(h, caps_string(video_info(format, width, height)).c_str());
      std::vector<GstClockTime> pts;
      std::vector<std::vector<uint8_t>> pixels;
      for (int i = 0; i < 3; ++i, ++frame) {
        GstBuffer *in = frame_from_bgr(noise_image(width, height, static_cast<unsigned>(frame)),
                                       format, frame_pts(frame));
        pts.push_back(frame_pts(frame));
        pixels.push_back(bytes_of(in));
        ck_assert_int_eq(gst_harness_push(h, in), GST_FLOW_OK);
      }
      const std::string what =
          std::string(format) + " " + std::to_string(width) + "x" + std::to_string(height);
      expect_frames(h, pts, pixels, what.c_str());
    }
  }
  // A face at an odd offset in an odd-sized frame of each planar layout is found and scored.
  const cv::Mat face = face_image();
  for (const char *format : {"I420", "NV12", "BGR"}) {
    gst_harness_set_src_caps_str(h, caps_string(video_info(format, 641, 479)).c_str());
    ck_assert_int_eq(gst_harness_push(h, frame_from_bgr(on_noise(face, 641, 479, 201, 97, 4),
                                                        format, frame_pts(frame++))),
                     GST_FLOW_OK);
    GstBuffer *out = pull_frame(h);
    const std::vector<GstVideoRegionOfInterestMeta *> found = rois(out);
    ck_assert_msg(found.size() == 1, "%s 641x479: %zu faces", format, found.size());
    check_scored_face(out, found[0], 641, 479);
    ck_assert(cv::Rect(201, 97, face.cols, face.rows).contains(roi_box(found[0]).tl()));
    gst_buffer_unref(out);
  }
  gst_harness_teardown(h);
}
END_TEST

START_TEST(test_4k_frames) {
  cv::Mat face;
  cv::resize(face_image(), face, cv::Size(), 3.0, 3.0, cv::INTER_CUBIC);
  const int width = 3840, height = 2160;
  const cv::Rect placed(2501, 1001, face.cols, face.rows);
  const cv::Mat picture = on_noise(face, width, height, placed.x, placed.y, 9);
  for (const char *format : {"I420", "BGRx"}) {
    const GstVideoInfo info = video_info(format, width, height);
    GstHarness *h = element_harness(make_detect(), info);
    std::vector<GstClockTime> pts;
    std::vector<std::vector<uint8_t>> pixels;
    for (int i = 0; i < 2; ++i) {
      GstBuffer *in = frame_from_bgr(picture, format, frame_pts(i));
      pts.push_back(frame_pts(i));
      pixels.push_back(bytes_of(in));
      ck_assert_int_eq(gst_harness_push(h, in), GST_FLOW_OK);
    }
    for (int i = 0; i < 2; ++i) {
      GstBuffer *out = pull_frame(h);
      ck_assert_uint_eq(GST_BUFFER_PTS(out), pts[i]);
      ck_assert_msg(bytes_of(out) == pixels[i], "%s 4K frame %d changed", format, i);
      const std::vector<GstVideoRegionOfInterestMeta *> found = rois(out);
      ck_assert_msg(found.size() == 1, "%s 4K: %zu faces", format, found.size());
      check_scored_face(out, found[0], width, height);
      const cv::Rect box = roi_box(found[0]);
      // In 4K pixels: inside the pasted picture, and about three times the original face.
      ck_assert_msg((box & placed) == box, "%s 4K: box (%d, %d %dx%d) outside the face picture",
                    format, box.x, box.y, box.width, box.height);
      ck_assert_int_ge(box.width, 300);
      gst_buffer_unref(out);
    }
    gst_harness_teardown(h);
  }
}
END_TEST

START_TEST(test_fifty_faces) {
  // Three portraits, each at its own size centred in a 260x320 tile, ten tiles by five.
  std::vector<cv::Mat> portraits;
  for (const char *name :
       {"faces/real-photos-100.jpg", "faces/real-photos-137.jpg", "faces/real-photos-156.jpg"}) {
    portraits.push_back(cv::imread(data_path(name), cv::IMREAD_COLOR));
    ck_assert_msg(!portraits.back().empty(), "cannot read %s", name);
  }
  const int tile_w = 260, tile_h = 320, columns = 10, rows = 5;
  cv::Mat mosaic(tile_h * rows, tile_w * columns, CV_8UC3, cv::Scalar(128, 128, 128));
  std::vector<cv::Rect> tiles;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < columns; ++c) {
      const cv::Mat &p = portraits[static_cast<size_t>(r * columns + c) % portraits.size()];
      const cv::Rect at(c * tile_w + (tile_w - p.cols) / 2, r * tile_h + (tile_h - p.rows) / 2,
                        p.cols, p.rows);
      p.copyTo(mosaic(at));
      tiles.emplace_back(c * tile_w, r * tile_h, tile_w, tile_h);
    }
  }
  const GstVideoInfo info = video_info("BGR", mosaic.cols, mosaic.rows);
  GstElement *detect = make_detect();
  // 50 faces in one frame, batches of 8.
  g_object_set(detect, "batch-size", 8u, nullptr);
  GstHarness *h = element_harness(detect, info);
  const int frames = 2;
  for (int i = 0; i < frames; ++i) {
    ck_assert_int_eq(gst_harness_push(h, frame_from_bgr(mosaic, "BGR", frame_pts(i))), GST_FLOW_OK);
  }
  std::set<int> first_ids;
  for (int i = 0; i < frames; ++i) {
    GstBuffer *out = pull_frame(h);
    ck_assert_uint_eq(GST_BUFFER_PTS(out), frame_pts(i));
    const std::vector<GstVideoRegionOfInterestMeta *> found = rois(out);
    ck_assert_msg(found.size() == tiles.size(), "frame %d: %zu faces of %zu", i, found.size(),
                  tiles.size());
    std::vector<int> per_tile(tiles.size(), 0);
    std::set<int> ids;
    for (GstVideoRegionOfInterestMeta *roi : found) {
      check_scored_face(out, roi, mosaic.cols, mosaic.rows);
      const cv::Rect box = roi_box(roi);
      for (size_t t = 0; t < tiles.size(); ++t) {
        if ((box & tiles[t]) == box) ++per_tile[t];
      }
      ids.insert(object_id(roi));
    }
    for (size_t t = 0; t < tiles.size(); ++t) {
      ck_assert_msg(per_tile[t] == 1, "tile %zu holds %d face boxes", t, per_tile[t]);
    }
    ck_assert_uint_eq(ids.size(), tiles.size());
    // The second frame is the same picture: the same 50 tracks.
    if (i == 0) first_ids = ids;
    ck_assert(ids == first_ids);
    gst_buffer_unref(out);
  }
  guint64 faces = 0;
  g_object_get(detect, "faces-analysed", &faces, nullptr);
  ck_assert_uint_eq(faces, frames * tiles.size());
  gst_harness_teardown(h);
}
END_TEST

START_TEST(test_broken_model_files) {
  const std::vector<char> good = file_bytes(g_model);
  ck_assert_uint_gt(good.size(), 1024);
  struct Case {
    const char *what;
    std::vector<char> bytes;
  };
  std::vector<Case> cases;
  cases.push_back({"empty file", {}});
  cases.push_back({"shorter than its header length", {good.begin(), good.begin() + 5}});
  cases.push_back({"truncated in the header", {good.begin(), good.begin() + 64}});
  cases.push_back({"truncated to half", {good.begin(), good.begin() + good.size() / 2}});
  cases.push_back({"last byte missing", {good.begin(), good.end() - 1}});
  std::vector<char> garbage(4096);
  std::mt19937 rng(5);
  for (char &c : garbage) c = static_cast<char>(rng() & 0xff);
  cases.push_back({"garbage", garbage});
  // A valid header over weights overwritten with 0xff bytes: NaN floats.
  std::vector<char> nan_weights = good;
  for (size_t i = nan_weights.size() - 4096; i < nan_weights.size(); ++i) nan_weights[i] = '\xff';
  cases.push_back({"NaN weights", nan_weights});
  std::vector<char> longer = good;
  longer.push_back('\0');
  cases.push_back({"a trailing byte", longer});

  const std::string path = g_dir + "/broken.safetensors";
  for (const Case &c : cases) {
    write_file(path, c.bytes);
    GstElement *detect = gst_element_factory_make("deepfakedetect", nullptr);
    g_object_set(detect, "model", path.c_str(), nullptr);
    expect_start_error(detect, c.what, path.c_str());
  }

  // Removed after it was chosen, before the start.
  write_file(path, good);
  GstElement *removed = gst_element_factory_make("deepfakedetect", nullptr);
  g_object_set(removed, "model", path.c_str(), nullptr);
  ck_assert_int_eq(std::remove(path.c_str()), 0);
  expect_start_error(removed, "removed file", path.c_str());

  // A directory where the file should be.
  GstElement *directory = gst_element_factory_make("deepfakedetect", nullptr);
  g_object_set(directory, "model", g_dir.c_str(), nullptr);
  expect_start_error(directory, "a directory", g_dir.c_str());

  // In a pipeline: PAUSED fails with the element's error, NULL is clean, nothing is left.
  write_file(path, {good.begin(), good.begin() + good.size() / 3});
  GstElement *pipeline = gst_parse_launch(
      "videotestsrc num-buffers=5 ! video/x-raw,width=64,height=48 ! deepfakedetect name=d ! "
      "fakesink",
      nullptr);
  GstElement *detect = gst_bin_get_by_name(GST_BIN(pipeline), "d");
  g_object_set(detect, "model", path.c_str(), nullptr);
  gpointer weak = detect;
  g_object_add_weak_pointer(G_OBJECT(detect), &weak);
  ck_assert_int_eq(gst_element_set_state(pipeline, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  GstBus *bus = gst_element_get_bus(pipeline);
  GstMessage *message = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
  assert_nonnull(message);
  ck_assert_ptr_eq(GST_MESSAGE_SRC(message), GST_OBJECT(detect));
  GError *error = nullptr;
  gst_message_parse_error(message, &error, nullptr);
  ck_assert_msg(std::strstr(error->message, path.c_str()) != nullptr, "%s", error->message);
  g_error_free(error);
  gst_message_unref(message);
  gst_object_unref(bus);
  gst_object_unref(detect);
  ck_assert_int_eq(gst_element_set_state(pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  gst_object_unref(pipeline);
  ck_assert_msg(weak == nullptr, "deepfakedetect was not finalized");
  std::remove(path.c_str());
}
END_TEST

// The newest fake probability deepfakedetect on `device` gives the face of `face`.
static double score_on(const char *device, const cv::Mat &face) {
  GstElement *detect = make_detect_with(g_model);
  g_object_set(detect, "device", device, "batch-size", 1u, nullptr);
  GstHarness *h = element_harness(detect, video_info("BGR", face.cols, face.rows));
  ck_assert_int_eq(gst_harness_push(h, frame_from_bgr(face, "BGR", 0)), GST_FLOW_OK);
  GstBuffer *out = pull_frame(h);
  assert_nonnull(out);
  GstVideoRegionOfInterestMeta *roi = first_roi(out);
  assert_nonnull(roi);
  const double p =
      double_field(gst_video_region_of_interest_meta_get_param(roi, "deepfake"), "confidence");
  gst_buffer_unref(out);
  gst_harness_teardown(h);
  return p;
}

START_TEST(test_cuda_devices) {
  if (!dfd::cuda_available()) {
    for (const char *device : {"cuda", "cuda:0", "cuda:3"}) {
      GstElement *detect = gst_element_factory_make("deepfakedetect", nullptr);
      g_object_set(detect, "model", g_model.c_str(), "device", device, nullptr);
      // Either this LibTorch has no CUDA, or it sees no GPU: both say so, naming CUDA.
      expect_start_error(detect, device, "CUDA");
    }
    return;
  }
  // A GPU host: the element runs there and scores the face as on the CPU (cuDNN may use TF32
  // for convolutions: 1e-2 in probability), and a device that is not there is refused.
  const cv::Mat face = face_image();
  const double cpu = score_on("cpu", face), gpu = score_on("cuda", face);
  std::printf("the face on cpu %.6f, on cuda %.6f\n", cpu, gpu);
  ck_assert_msg(std::fabs(cpu - gpu) <= 1e-2, "cpu %.6f, cuda %.6f", cpu, gpu);
  GstElement *detect = gst_element_factory_make("deepfakedetect", nullptr);
  g_object_set(detect, "model", g_model.c_str(), "device", "cuda:63", nullptr);
  expect_start_error(detect, "cuda:63", "visible");
}
END_TEST

START_TEST(test_many_state_cycles) {
  GstElement *pipeline = gst_parse_launch(
      "videotestsrc pattern=snow num-buffers=3 ! video/x-raw,width=32,height=24,format=I420 ! "
      "deepfakedetect name=d batch-timeout=5 ! "
      "fakesink name=sink sync=false",
      nullptr);
  assert_nonnull(pipeline);
  GstElement *detect = gst_bin_get_by_name(GST_BIN(pipeline), "d");
  g_object_set(detect, "model", g_model.c_str(), nullptr);
  gpointer weak = detect;
  g_object_add_weak_pointer(G_OBJECT(detect), &weak);
  PadLog in, out;
  watch_pad(detect, "sink", &in);
  watch_pad(detect, "src", &out);
  gst_object_unref(detect);
  GstBus *bus = gst_element_get_bus(pipeline);

  const int cycles = 200;
  ProcStats settled;
  for (int cycle = 0; cycle < cycles; ++cycle) {
    {
      std::lock_guard<std::mutex> a(in.lock), b(out.lock);
      in.pts.clear();
      out.pts.clear();
    }
    ck_assert_int_ne(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    if (cycle % 2 == 0) {
      // Even cycles play the three frames to the end: all three pass, in order.
      expect_eos(pipeline, 30, "state cycle");
      std::lock_guard<std::mutex> a(in.lock), b(out.lock);
      ck_assert_uint_eq(in.pts.size(), 3);
      ck_assert_msg(out.pts == in.pts, "cycle %d: %zu frames in, %zu out", cycle, in.pts.size(),
                    out.pts.size());
    }
    // Odd cycles stop at once, with frames possibly in flight.
    ck_assert_int_eq(gst_element_set_state(pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
    gst_bus_set_flushing(bus, TRUE);
    gst_bus_set_flushing(bus, FALSE);
    if (cycle == 9) settled = proc_stats();
  }
  const ProcStats end = proc_stats();
  // Each cycle loads and releases the model and starts and stops three threads (batcher,
  // detection worker, src-pad task): a leaked thread a cycle would add 190. GStreamer's task
  // pool keeps a couple of idle threads for a while, hence the slack.
  ck_assert_msg(end.threads <= settled.threads + 2, "threads: %d after 10 cycles, %d after %d",
                settled.threads, end.threads, cycles);
  ck_assert_msg(end.fds == settled.fds, "fds: %d after 10 cycles, %d after %d", settled.fds,
                end.fds, cycles);
  // A leaked model is 16 MB a cycle; allocator noise is far below this bound.
  ck_assert_msg(end.rss_kb - settled.rss_kb < 64 * 1024, "RSS grew from %ld to %ld kB",
                settled.rss_kb, end.rss_kb);
  gst_object_unref(bus);
  gst_object_unref(pipeline);
  ck_assert_msg(weak == nullptr, "deepfakedetect was not finalized");
}
END_TEST

START_TEST(test_teardown_in_flight) {
  const cv::Mat face = face_image();
  const GstVideoInfo info = video_info("BGR", face.cols, face.rows);
  GstElement *pipeline =
      gst_parse_launch(("appsrc name=src format=time caps=\"" + caps_string(info) +
                        "\" ! deepfakedetect name=d ! fakesink name=sink sync=false")
                           .c_str(),
                       nullptr);
  assert_nonnull(pipeline);
  GstElement *src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
  GstElement *detect = gst_bin_get_by_name(GST_BIN(pipeline), "d");
  // Six faces wait for a batch of 64 that would time out only after 10 s.
  g_object_set(detect, "model", g_model.c_str(), "batch-size", 64u, "batch-timeout", 10000u,
               nullptr);
  gpointer weak = detect;
  g_object_add_weak_pointer(G_OBJECT(detect), &weak);
  PadLog out;
  watch_pad(detect, "src", &out);
  ck_assert_int_ne(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);

  std::atomic<int> finalized{0};
  const int frames = 6;
  const auto first_push = std::chrono::steady_clock::now();
  for (int i = 0; i < frames; ++i) {
    GstBuffer *buffer = frame_from_bgr(face, "BGR", frame_pts(i));
    gst_mini_object_weak_ref(GST_MINI_OBJECT(buffer), count_finalized, &finalized);
    GstFlowReturn ret = GST_FLOW_ERROR;
    g_signal_emit_by_name(src, "push-buffer", buffer, &ret);
    gst_buffer_unref(buffer);
    ck_assert_int_eq(ret, GST_FLOW_OK);
  }
  // Every frame detected, every face submitted, none scored yet.
  ck_assert_msg(wait_until(
                    [&] {
                      guint64 analysed = 0;
                      g_object_get(detect, "frames-analysed", &analysed, nullptr);
                      return analysed == frames;
                    },
                    60),
                "detection did not finish");
  ck_assert_uint_eq(out.count(), 0);

  const auto start = std::chrono::steady_clock::now();
  ck_assert_int_eq(gst_element_set_state(pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  const auto stopped = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(stopped - start).count();
  const double since_first = std::chrono::duration<double>(stopped - first_push).count();
  std::printf("teardown in flight: stopped in %.2f s, %.2f s after the first frame\n", seconds,
              since_first);
  // Stopping runs the pending batch once (its futures may have waiters) rather than waiting
  // out its 10 s timeout, which started after the first frame: done before that timeout could
  // have fired, however slowly a loaded machine got there.
  // (Under memcheck, time scale 50, the frames alone take longer than the timeout: there only
  // the stop itself is timed.)
  ck_assert_msg((time_scale() <= 4 ? since_first : seconds) < 9.5,
                "stopping took %.1f s, %.1f s after the first frame", seconds, since_first);
  gst_object_unref(src);
  gst_object_unref(detect);
  gst_object_unref(pipeline);
  ck_assert_msg(weak == nullptr, "deepfakedetect was not finalized");
  ck_assert_msg(finalized.load() == frames, "%d of %d in-flight buffers were released",
                finalized.load(), frames);
}
END_TEST

static Suite *faults_suite() {
  Suite *s = suite_create("faults");
  TCase *tc = tcase_create("deepfakedetect");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_eos_mid_batch);
  tcase_add_test(tc, test_flushing_seek_in_flight);
  tcase_add_test(tc, test_flush_keeps_pending_caps);
  tcase_add_test(tc, test_resolution_change_mid_batch);
  tcase_add_test(tc, test_tiny_and_odd_frames);
  tcase_add_test(tc, test_4k_frames);
  tcase_add_test(tc, test_fifty_faces);
  tcase_add_test(tc, test_broken_model_files);
  tcase_add_test(tc, test_cuda_devices);
  tcase_add_test(tc, test_many_state_cycles);
  tcase_add_test(tc, test_teardown_in_flight);
  suite_add_tcase(s, tc);
  return s;
}

int main(int argc, char **argv) {
  make_model();
  gst_check_init(&argc, &argv);
  SRunner *runner = srunner_create(faults_suite());
  srunner_run_all(runner, CK_NORMAL);
  const int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  std::remove(g_model.c_str());
  rmdir(g_dir.c_str());
  // Not a return: after a failed test (no fork) an element may still be running, and
  // gst_deinit, which gst_check_init registers for exit, would wait for its thread forever.
  std::fflush(stdout);
  std::fflush(stderr);
  _exit(failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
