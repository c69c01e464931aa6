// Frames, harnesses and metadata accessors shared by the GstHarness tests of deepfakedetect
// (test_elements.cpp, test_faults.cpp).
//
// Include it after every C++ standard header: it brings in GStreamer's check library, whose
// check.h defines macros (fail, ...) that clash with standard headers included after it.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

// GStreamer's check library bundles an older libcheck without these assertions.
#define assert_nonnull(p) ck_assert_msg((p) != nullptr, "%s is NULL", #p)
#define assert_null(p) ck_assert_msg((p) == nullptr, "%s is not NULL", #p)
#define assert_near(a, b, ...) dfd::testing::assert_near_impl((a), (b), #a, ##__VA_ARGS__)

namespace dfd::testing {

inline void assert_near_impl(double a, double b, const char *what, double tolerance = 0.0) {
  ck_assert_msg(std::fabs(a - b) <= tolerance, "%s: %.9g != %.9g", what, a, b);
}

// How much slower than a plain build this one runs: 1 normally; set by the sanitizer test
// setup (DFD_TEST_TIME_SCALE=4) and by valgrind's run-memcheck (50). Waits for work to finish
// are multiplied by it; checks that something happens *promptly* are multiplied too, since
// under those tools every step, the prompt ones included, is that much slower.
inline double time_scale() {
  const char *text = std::getenv("DFD_TEST_TIME_SCALE");
  const double scale = text != nullptr ? std::atof(text) : 1.0;
  return scale >= 1.0 ? scale : 1.0;
}

inline std::string data_path(const std::string &name) {
  const char *dir = std::getenv("DFD_TEST_DATA");
  return std::string(dir != nullptr ? dir : "tests/data") + "/" + name;
}

// Every format deepfakedetect and deepfakeoverlay accept.
inline constexpr const char *kFormats[] = {"RGB",  "BGR",  "RGBx", "BGRx", "xRGB",
                                           "xBGR", "RGBA", "BGRA", "I420", "NV12"};

// ---- frames -------------------------------------------------------------------------------

inline GstVideoInfo video_info(const char *format, int width, int height) {
  GstVideoInfo info;
  gst_video_info_set_format(&info, gst_video_format_from_string(format), width, height);
  GST_VIDEO_INFO_FPS_N(&info) = 25;
  GST_VIDEO_INFO_FPS_D(&info) = 1;
  return info;
}

inline std::string caps_string(const GstVideoInfo &info) {
  GstCaps *caps = gst_video_info_to_caps(&info);
  gchar *text = gst_caps_to_string(caps);
  std::string out = text;
  g_free(text);
  gst_caps_unref(caps);
  return out;
}

// A frame of `format` showing `bgr`, converted by GStreamer's own converter.
inline GstBuffer *frame_from_bgr(const cv::Mat &bgr, const char *format, GstClockTime pts) {
  const GstVideoInfo in_info = video_info("BGR", bgr.cols, bgr.rows);
  GstBuffer *in = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&in_info), nullptr);
  // Row padding is part of the buffer and tests compare whole buffers: give it a value.
  gst_buffer_memset(in, 0, 0, gst_buffer_get_size(in));
  GstVideoFrame in_frame;
  ck_assert(gst_video_frame_map(&in_frame, &in_info, in, GST_MAP_WRITE));
  for (int y = 0; y < bgr.rows; ++y) {
    memcpy(static_cast<uint8_t *>(GST_VIDEO_FRAME_PLANE_DATA(&in_frame, 0)) +
               y * GST_VIDEO_FRAME_PLANE_STRIDE(&in_frame, 0),
           bgr.ptr(y), static_cast<size_t>(bgr.cols) * 3);
  }
  const GstVideoInfo out_info = video_info(format, bgr.cols, bgr.rows);
  GstBuffer *out = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&out_info), nullptr);
  gst_buffer_memset(out, 0, 0, gst_buffer_get_size(out));
  GstVideoFrame out_frame;
  ck_assert(gst_video_frame_map(&out_frame, &out_info, out, GST_MAP_WRITE));
  GstVideoConverter *converter = gst_video_converter_new(
      const_cast<GstVideoInfo *>(&in_info), const_cast<GstVideoInfo *>(&out_info), nullptr);
  gst_video_converter_frame(converter, &in_frame, &out_frame);
  gst_video_converter_free(converter);
  gst_video_frame_unmap(&out_frame);
  gst_video_frame_unmap(&in_frame);
  gst_buffer_unref(in);
  GST_BUFFER_PTS(out) = pts;
  GST_BUFFER_DURATION(out) = GST_SECOND / 25;
  return out;
}

inline cv::Mat face_image() {
  // 239x320: an odd width on purpose.
  const cv::Mat image = cv::imread(data_path("faces/real-photos-100.jpg"), cv::IMREAD_COLOR);
  ck_assert_msg(!image.empty(), "cannot read the test face image");
  return image;
}

inline cv::Mat even_size(const cv::Mat &image) {
  return image(cv::Rect(0, 0, image.cols & ~1, image.rows & ~1)).clone();
}

// Noise with no structure a face detector would take for a face.
inline cv::Mat noise_image(int width, int height, unsigned seed) {
  cv::Mat image(height, width, CV_8UC3);
  cv::RNG rng(seed);
  rng.fill(image, cv::RNG::UNIFORM, 0, 256);
  cv::GaussianBlur(image, image, cv::Size(9, 9), 3);
  return image;
}

inline std::vector<uint8_t> bytes_of(GstBuffer *buffer) {
  std::vector<uint8_t> bytes(gst_buffer_get_size(buffer));
  gst_buffer_extract(buffer, 0, bytes.data(), bytes.size());
  return bytes;
}

inline GstClockTime frame_pts(int i) {
  return static_cast<GstClockTime>(i) * GST_SECOND / 25;
}

// ---- elements -----------------------------------------------------------------------------

// A deepfakedetect on `model` with a short batch timeout.
inline GstElement *make_detect_with(const std::string &model, const char *name = nullptr) {
  GstElement *detect = gst_element_factory_make("deepfakedetect", name);
  ck_assert_msg(detect != nullptr, "deepfakedetect not found: is GST_PLUGIN_PATH set?");
  g_object_set(detect, "model", model.c_str(), "batch-timeout", 20u, nullptr);
  return detect;
}

// The harness keeps its own reference: `element` stays valid until gst_harness_teardown.
// Not live (a harness says live by default): frames are files' frames, all analysed.
inline GstHarness *element_harness(GstElement *element, const GstVideoInfo &info) {
  GstHarness *h = gst_harness_new_with_element(element, "sink", "src");
  gst_object_unref(element);
  gst_harness_set_live(h, FALSE);
  gst_harness_set_src_caps_str(h, caps_string(info).c_str());
  return h;
}

inline GstVideoRegionOfInterestMeta *first_roi(GstBuffer *buffer) {
  gpointer state = nullptr;
  return reinterpret_cast<GstVideoRegionOfInterestMeta *>(
      gst_buffer_iterate_meta_filtered(buffer, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE));
}

inline guint roi_count(GstBuffer *buffer) {
  return gst_buffer_get_n_meta(buffer, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE);
}

inline std::string string_field(const GstStructure *s, const char *name) {
  const gchar *value = gst_structure_get_string(s, name);
  ck_assert_msg(value != nullptr, "missing string field %s in %s", name, gst_structure_get_name(s));
  return value;
}

inline double double_field(const GstStructure *s, const char *name) {
  gdouble value = 0;
  ck_assert_msg(gst_structure_get_double(s, name, &value), "missing double field %s in %s", name,
                gst_structure_get_name(s));
  return value;
}

inline int int_field(const GstStructure *s, const char *name) {
  gint value = 0;
  ck_assert_msg(gst_structure_get_int(s, name, &value), "missing int field %s in %s", name,
                gst_structure_get_name(s));
  return value;
}

// The next output buffer, waiting up to 60 s (times time_scale()), where gst_harness_pull
// gives up after a fixed 60 s: under valgrind one analysis can take longer. NULL on timeout.
inline GstBuffer *pull_frame(GstHarness *h) {
  const gint64 end =
      g_get_monotonic_time() + static_cast<gint64>(60 * time_scale()) * G_USEC_PER_SEC;
  while (g_get_monotonic_time() < end) {
    if (GstBuffer *buffer = gst_harness_try_pull(h)) return buffer;
    g_usleep(2000);
  }
  return nullptr;
}

// Waits for EOS on the harness's event queue, for at most `seconds` (times time_scale()).
inline bool wait_for_eos(GstHarness *h, int seconds) {
  const gint64 end =
      g_get_monotonic_time() + static_cast<gint64>(seconds * time_scale()) * G_USEC_PER_SEC;
  while (g_get_monotonic_time() < end) {
    GstEvent *event = gst_harness_try_pull_event(h);
    if (event == nullptr) {
      g_usleep(5000);
      continue;
    }
    const bool eos = GST_EVENT_TYPE(event) == GST_EVENT_EOS;
    gst_event_unref(event);
    if (eos) return true;
  }
  return false;
}

// Going to PAUSED must fail with an element error (RESOURCE domain) naming the problem; with
// `mentions`, the error's message or debug text must contain it. The element is then set to
// NULL, which must succeed, and released.
inline void expect_start_error(GstElement *detect, const char *what,
                               const char *mentions = nullptr) {
  GstBus *bus = gst_bus_new();
  gst_element_set_bus(detect, bus);
  ck_assert_int_eq(gst_element_set_state(detect, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  GstMessage *message = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
  ck_assert_msg(message != nullptr, "%s: no error message", what);
  GError *error = nullptr;
  gchar *debug = nullptr;
  gst_message_parse_error(message, &error, &debug);
  ck_assert_msg(error->domain == GST_RESOURCE_ERROR, "%s: %s", what, error->message);
  assert_nonnull(debug);
  if (mentions != nullptr) {
    ck_assert_msg(
        std::strstr(error->message, mentions) != nullptr || std::strstr(debug, mentions) != nullptr,
        "%s: the error does not mention '%s': %s (%s)", what, mentions, error->message, debug);
  }
  g_error_free(error);
  g_free(debug);
  gst_message_unref(message);
  ck_assert_int_eq(gst_element_set_state(detect, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  // The messages still queued hold the element, which holds the bus: flushing breaks the cycle.
  gst_bus_set_flushing(bus, TRUE);
  gst_object_unref(bus);
  gst_object_unref(detect);
}

}  // namespace dfd::testing
