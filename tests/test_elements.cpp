// deepfakedetect and deepfakeoverlay through GstHarness and small pipelines, with a small
// random spatial model made once per run. Runs with CK_FORK=no (LibTorch's thread pool does
// not survive fork), GST_PLUGIN_PATH pointing at the build's gst/ folder.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/engine.h"
#include "core/torch_model.h"
#include "deepfakemeta.h"
#include "random_model.h"

// Last: it brings in check.h, whose macros clash with standard headers included after it.
#include "element_helpers.h"

using namespace dfd::testing;

namespace {

std::string g_model_dir;
std::string g_model;          // a working random model
std::string g_model_copy;     // the same file at another path (another instance for the batcher)
std::string g_corrupt_model;  // bytes that are not a model file

void make_models() {
  char templ[] = "/tmp/dfd-test-elements-XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  g_model_dir = templ;
  g_model = g_model_dir + "/test-spatial.safetensors";
  dfd::testing::save_random_model(
      dfd::testing::small_spatial_config("test-spatial", "tests/test_elements.cpp"), g_model, 11);
  g_model_copy = g_model_dir + "/test-spatial-copy.safetensors";
  {
    std::ifstream in(g_model, std::ios::binary);
    std::ofstream out(g_model_copy, std::ios::binary);
    out << in.rdbuf();
  }
  g_corrupt_model = g_model_dir + "/corrupt.safetensors";
  std::ofstream corrupt(g_corrupt_model, std::ios::binary);
  std::mt19937 rng(3);
  for (int i = 0; i < 4096; ++i) corrupt.put(static_cast<char>(rng() & 0xff));
}

void remove_models() {
  for (const std::string &f : {g_model, g_model_copy, g_corrupt_model}) std::remove(f.c_str());
  rmdir(g_model_dir.c_str());
}

GstElement *make_detect(const char *extra_name = nullptr) {
  return make_detect_with(g_model, extra_name);
}

}  // namespace

// ---- tests ----------------------------------------------------------------------------------

START_TEST(test_caps_every_format_odd_size) {
  for (const char *name : {"deepfakedetect", "deepfakeoverlay"}) {
    for (const char *format : kFormats) {
      const GstVideoInfo info = video_info(format, 321, 241);
      GstElement *element = gst_element_factory_make(name, nullptr);
      assert_nonnull(element);
      if (std::string(name) == "deepfakedetect") {
        g_object_set(element, "model", g_model.c_str(), "batch-timeout", 1u, nullptr);
      }
      GstHarness *h = element_harness(element, info);
      GstBuffer *in = frame_from_bgr(noise_image(321, 241, 1), format, 0);
      const std::vector<uint8_t> before = bytes_of(in);
      ck_assert_int_eq(gst_harness_push(h, in), GST_FLOW_OK);
      GstBuffer *out = pull_frame(h);
      assert_nonnull(out);
      GstCaps *caps = gst_pad_get_current_caps(h->sinkpad);
      assert_nonnull(caps);
      GstVideoInfo out_info;
      ck_assert(gst_video_info_from_caps(&out_info, caps));
      ck_assert_msg(gst_video_info_is_equal(&out_info, &info), "%s: caps changed for %s", name,
                    format);
      ck_assert(bytes_of(out) == before);
      gst_caps_unref(caps);
      gst_buffer_unref(out);
      gst_harness_teardown(h);
    }
  }
}
END_TEST

START_TEST(test_face_metadata) {
  const cv::Mat bgr = face_image();
  for (const char *format : {"BGR", "RGB", "xRGB", "RGBA", "I420", "NV12"}) {
    const GstVideoInfo info = video_info(format, bgr.cols, bgr.rows);
    GstHarness *h = element_harness(make_detect(), info);
    GstBuffer *in = frame_from_bgr(bgr, format, 0);
    const std::vector<uint8_t> before = bytes_of(in);
    ck_assert_int_eq(gst_harness_push(h, in), GST_FLOW_OK);
    GstBuffer *out = pull_frame(h);
    assert_nonnull(out);
    ck_assert_msg(bytes_of(out) == before, "%s: pixels changed", format);
    ck_assert_uint_eq(roi_count(out), 1);

    GstVideoRegionOfInterestMeta *roi = first_roi(out);
    ck_assert_str_eq(g_quark_to_string(roi->roi_type), "face");
    // The face of real-photos-100.jpg is about 180 px, in the lower middle of the picture.
    ck_assert_int_ge(roi->w, 120);
    ck_assert_int_le(roi->w, 239);
    ck_assert_uint_le(roi->x + roi->w, static_cast<guint>(bgr.cols));
    ck_assert_uint_le(roi->y + roi->h, static_cast<guint>(bgr.rows));

    const GstStructure *detection = gst_video_region_of_interest_meta_get_param(roi, "detection");
    assert_nonnull(detection);
    assert_near(double_field(detection, "x_min"), static_cast<double>(roi->x) / bgr.cols, 1e-9);
    assert_near(double_field(detection, "y_min"), static_cast<double>(roi->y) / bgr.rows, 1e-9);
    assert_near(double_field(detection, "x_max"), static_cast<double>(roi->x + roi->w) / bgr.cols,
                1e-9);
    assert_near(double_field(detection, "y_max"), static_cast<double>(roi->y + roi->h) / bgr.rows,
                1e-9);
    const double confidence = double_field(detection, "confidence");
    ck_assert(confidence > 0.0 && confidence <= 1.0);
    ck_assert_int_eq(int_field(detection, "label_id"), 0);

    const GstStructure *deepfake = gst_video_region_of_interest_meta_get_param(roi, "deepfake");
    assert_nonnull(deepfake);
    const std::string label = string_field(deepfake, "label");
    ck_assert(label == "fake" || label == "real");
    ck_assert_int_eq(int_field(deepfake, "label_id"), label == "fake" ? 1 : 0);
    const double p = double_field(deepfake, "fake_probability");
    ck_assert(p >= 0.0 && p <= 1.0);
    // DL Streamer's confidence: of the label.
    assert_near(double_field(deepfake, "confidence"), label == "fake" ? p : 1.0 - p, 1e-6);
    // Compared as std::string: ck_assert_str_eq would read the temporary after it is destroyed.
    ck_assert(string_field(deepfake, "model_name") == "test-spatial");
    ck_assert(string_field(deepfake, "attribute_name") == "deepfake");
    // One analysis: the smoothed score starts at the score itself.
    assert_near(double_field(deepfake, "smoothed_score"), p, 1e-6);
    const std::string verdict = string_field(deepfake, "verdict");
    ck_assert(verdict == "fake" || verdict == "real");
    ck_assert_int_eq(int_field(deepfake, "analyses"), 1);

    const GstStructure *object = gst_video_region_of_interest_meta_get_param(roi, "object_id");
    assert_nonnull(object);
    ck_assert_int_ge(int_field(object, "id"), 1);

    const GstDeepfakeRelevancyMeta *relevancy =
        gst_buffer_get_deepfake_relevancy_meta_for_roi(out, roi->id);
    assert_nonnull(relevancy);
    ck_assert_uint_eq(relevancy->x, roi->x);
    ck_assert_uint_eq(relevancy->y, roi->y);
    ck_assert_uint_eq(relevancy->w, roi->w);
    ck_assert_uint_eq(relevancy->h, roi->h);
    ck_assert_uint_gt(relevancy->grid_width, 0);
    ck_assert_uint_gt(relevancy->grid_height, 0);
    float lo = 1.f, hi = 0.f;
    for (guint i = 0; i < relevancy->grid_width * relevancy->grid_height; ++i) {
      lo = std::min(lo, relevancy->values[i]);
      hi = std::max(hi, relevancy->values[i]);
    }
    ck_assert(lo >= 0.f && hi <= 1.f && hi > lo);
    // The same grid as a param, for consumers that cannot read the meta (Python).
    const GstStructure *grid = gst_video_region_of_interest_meta_get_param(roi, "relevancy");
    assert_nonnull(grid);
    ck_assert_int_eq(int_field(grid, "width"), static_cast<int>(relevancy->grid_width));
    ck_assert_int_eq(int_field(grid, "height"), static_cast<int>(relevancy->grid_height));
    const GValue *values = gst_structure_get_value(grid, "values");
    assert_nonnull(values);
    ck_assert(GST_VALUE_HOLDS_ARRAY(values));
    ck_assert_uint_eq(gst_value_array_get_size(values),
                      relevancy->grid_width * relevancy->grid_height);
    for (guint i = 0; i < gst_value_array_get_size(values); ++i) {
      assert_near(g_value_get_float(gst_value_array_get_value(values, i)), relevancy->values[i]);
    }

    // The meta survives a copy (transform) with the ROI it belongs to.
    GstBuffer *copy = gst_buffer_copy(out);
    GstVideoRegionOfInterestMeta *copied_roi = first_roi(copy);
    assert_nonnull(copied_roi);
    assert_nonnull(gst_buffer_get_deepfake_relevancy_meta_for_roi(copy, copied_roi->id));
    gst_buffer_unref(copy);

    gst_buffer_unref(out);
    gst_harness_teardown(h);
  }
}
END_TEST

START_TEST(test_faceless_frames_identical) {
  for (const char *format : kFormats) {
    const GstVideoInfo info = video_info(format, 321, 241);
    GstHarness *h = element_harness(make_detect(), info);
    std::vector<std::vector<uint8_t>> sent;
    std::vector<GstBuffer *> pointers;
    for (int i = 0; i < 4; ++i) {
      GstBuffer *in = frame_from_bgr(noise_image(321, 241, 10 + i), format, frame_pts(i));
      sent.push_back(bytes_of(in));
      pointers.push_back(in);
      ck_assert_int_eq(gst_harness_push(h, in), GST_FLOW_OK);
    }
    for (int i = 0; i < 4; ++i) {
      GstBuffer *out = pull_frame(h);
      assert_nonnull(out);
      ck_assert_uint_eq(GST_BUFFER_PTS(out), frame_pts(i));
      ck_assert_uint_eq(roi_count(out), 0);
      ck_assert_msg(bytes_of(out) == sent[i], "%s frame %d changed", format, i);
      // Not even copied: the very buffer that went in.
      ck_assert_ptr_eq(out, pointers[i]);
      gst_buffer_unref(out);
    }
    gst_harness_teardown(h);
  }
}
END_TEST

START_TEST(test_messages) {
  const cv::Mat bgr = face_image();
  const GstVideoInfo info = video_info("BGR", bgr.cols, bgr.rows);
  GstElement *detect = make_detect();
  // Every face is fake at threshold 0, and one analysis changes the verdict: an alert.
  g_object_set(detect, "threshold", 0.0, "verdict-frames", 1u, nullptr);
  GstBus *bus = gst_bus_new();
  gst_element_set_bus(detect, bus);
  GstHarness *h = element_harness(detect, info);
  // A segment whose stream time runs 10 s ahead of the PTS: `timestamp` is the stream time, as
  // DL Streamer's gvametaconvert writes it, and `pts` the buffer's own.
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  segment.time = 10 * GST_SECOND;
  ck_assert(gst_harness_push_event(h, gst_event_new_segment(&segment)));
  const int frames = 3;
  for (int i = 0; i < frames; ++i) {
    ck_assert_int_eq(gst_harness_push(h, frame_from_bgr(bgr, "BGR", frame_pts(i))), GST_FLOW_OK);
  }
  for (int i = 0; i < frames; ++i) gst_buffer_unref(pull_frame(h));

  int frame_messages = 0, alerts = 0;
  while (GstMessage *message = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT)) {
    const GstStructure *s = gst_message_get_structure(message);
    if (gst_structure_has_name(s, "deepfake")) {
      guint64 pts = 0, timestamp = 0, analysed = 0, skipped = 0, running = 0;
      ck_assert(gst_structure_get_uint64(s, "pts", &pts));
      ck_assert_uint_eq(pts, frame_pts(frame_messages));
      ck_assert(gst_structure_get_uint64(s, "timestamp", &timestamp));
      ck_assert_uint_eq(timestamp, frame_pts(frame_messages) + 10 * GST_SECOND);
      ck_assert(gst_structure_get_uint64(s, "running_time", &running));
      ck_assert_uint_eq(running, frame_pts(frame_messages));
      ck_assert(gst_structure_get_uint64(s, "frames_analysed", &analysed));
      ck_assert(gst_structure_get_uint64(s, "frames_skipped", &skipped));
      ck_assert_uint_ge(analysed, static_cast<guint64>(frame_messages + 1));
      ck_assert_uint_eq(skipped, 0);
      const GValue *faces = gst_structure_get_value(s, "faces");
      assert_nonnull(faces);
      ck_assert_uint_eq(gst_value_array_get_size(faces), 1);
      const GstStructure *face = gst_value_get_structure(gst_value_array_get_value(faces, 0));
      guint64 id = 0;
      ck_assert(gst_structure_get_uint64(face, "object_id", &id));
      ck_assert_uint_eq(id, 1);
      ck_assert_int_gt(int_field(face, "w"), 0);
      ck_assert_int_gt(int_field(face, "h"), 0);
      const double p = double_field(face, "fake_probability");
      ck_assert(p >= 0.0);
      assert_near(double_field(face, "confidence"), p, 1e-6);  // the label is fake
      ck_assert(double_field(face, "smoothed_score") >= 0.0);
      ck_assert_int_eq(int_field(face, "analyses"), frame_messages + 1);
      ck_assert(string_field(face, "label") == "fake");
      ck_assert(string_field(face, "verdict") == "fake");
      ++frame_messages;
    } else if (gst_structure_has_name(s, "deepfake-alert")) {
      guint64 id = 0, pts = 1, timestamp = 0;
      ck_assert(gst_structure_get_uint64(s, "object_id", &id));
      ck_assert_uint_eq(id, 1);
      ck_assert(string_field(s, "verdict") == "fake");
      ck_assert(string_field(s, "previous_verdict") == "real");
      ck_assert(gst_structure_get_uint64(s, "pts", &pts));
      ck_assert_uint_eq(pts, 0);
      ck_assert(gst_structure_get_uint64(s, "timestamp", &timestamp));
      ck_assert_uint_eq(timestamp, 10 * GST_SECOND);
      ck_assert(gst_structure_has_field(s, "running_time"));
      ck_assert(double_field(s, "smoothed_score") >= 0.0);  // fake at threshold 0
      ck_assert_uint_ge(string_field(s, "wall_clock").size(), 20);
      ++alerts;
    }
    gst_message_unref(message);
  }
  ck_assert_int_eq(frame_messages, frames);
  ck_assert_int_eq(alerts, 1);
  guint64 analysed = 0, faces = 0;
  g_object_get(detect, "frames-analysed", &analysed, "faces-analysed", &faces, nullptr);
  ck_assert_uint_eq(analysed, frames);
  ck_assert_uint_eq(faces, frames);
  // Queued messages hold the element, which holds the bus: flushing breaks the cycle.
  gst_bus_set_flushing(bus, TRUE);
  gst_harness_teardown(h);
  gst_object_unref(bus);
}
END_TEST

START_TEST(test_eos_partial_batch) {
  const cv::Mat bgr = even_size(face_image());
  const GstVideoInfo info = video_info("I420", bgr.cols, bgr.rows);
  GstElement *detect = make_detect();
  // Five faces never fill a batch of 8: only the batch timeout runs them.
  g_object_set(detect, "batch-size", 8u, "batch-timeout", 1500u, nullptr);
  GstHarness *h = element_harness(detect, info);
  const int frames = 9;
  for (int i = 0; i < frames; ++i) {
    const cv::Mat picture = i % 2 == 0 ? bgr : noise_image(bgr.cols, bgr.rows, i);
    ck_assert_int_eq(gst_harness_push(h, frame_from_bgr(picture, "I420", frame_pts(i))),
                     GST_FLOW_OK);
  }
  ck_assert(gst_harness_push_event(h, gst_event_new_eos()));
  ck_assert_msg(wait_for_eos(h, 30), "no EOS");
  // EOS is pushed after every frame: all of them are already there.
  ck_assert_uint_eq(gst_harness_buffers_in_queue(h), frames);
  for (int i = 0; i < frames; ++i) {
    GstBuffer *out = pull_frame(h);
    ck_assert_uint_eq(GST_BUFFER_PTS(out), frame_pts(i));
    // The noise frames are analysed too, and have no face.
    ck_assert_uint_eq(roi_count(out), i % 2 == 0 ? 1 : 0);
    gst_buffer_unref(out);
  }
  gst_harness_teardown(h);
}
END_TEST

START_TEST(test_flush_mid_batch) {
  const cv::Mat bgr = face_image();
  const GstVideoInfo info = video_info("BGR", bgr.cols, bgr.rows);
  GstElement *detect = make_detect();
  g_object_set(detect, "batch-size", 8u, "batch-timeout", 1500u, nullptr);
  GstHarness *h = element_harness(detect, info);
  for (int i = 0; i < 3; ++i) {
    ck_assert_int_eq(gst_harness_push(h, frame_from_bgr(bgr, "BGR", frame_pts(i))), GST_FLOW_OK);
  }
  // The three frames wait for their batch: the flush lands in the middle of it.
  ck_assert(gst_harness_push_event(h, gst_event_new_flush_start()));
  ck_assert(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  ck_assert(gst_harness_push_event(h, gst_event_new_segment(&segment)));
  const GstClockTime base = 100 * GST_SECOND;
  for (int i = 0; i < 2; ++i) {
    ck_assert_int_eq(gst_harness_push(h, frame_from_bgr(bgr, "BGR", base + frame_pts(i))),
                     GST_FLOW_OK);
  }
  ck_assert(gst_harness_push_event(h, gst_event_new_eos()));
  ck_assert_msg(wait_for_eos(h, 30), "no EOS after the flush");
  std::vector<GstClockTime> after;
  while (GstBuffer *out = gst_harness_try_pull(h)) {
    if (GST_BUFFER_PTS(out) >= base) {
      after.push_back(GST_BUFFER_PTS(out));
      // The tracks were reset by the flush: the face is found again and scored afresh.
      ck_assert_uint_eq(roi_count(out), 1);
    } else {
      ck_assert_msg(after.empty(), "a frame from before the flush came after it");
    }
    gst_buffer_unref(out);
  }
  ck_assert_uint_eq(after.size(), 2);
  ck_assert_uint_eq(after[0], base);
  ck_assert_uint_eq(after[1], base + frame_pts(1));
  gst_harness_teardown(h);
}
END_TEST

START_TEST(test_state_cycles) {
  GstElement *pipeline = gst_parse_launch(
      "videotestsrc pattern=ball num-buffers=1000 ! video/x-raw,width=320,height=240,format=I420 "
      "! deepfakedetect name=d batch-timeout=5 ! fakesink sync=false",
      nullptr);
  assert_nonnull(pipeline);
  GstElement *detect = gst_bin_get_by_name(GST_BIN(pipeline), "d");
  g_object_set(detect, "model", g_model.c_str(), nullptr);
  gpointer weak = detect;
  g_object_add_weak_pointer(G_OBJECT(detect), &weak);
  gst_object_unref(detect);

  const auto rss_kb = [] {
    long pages = 0, resident = 0;
    FILE *f = std::fopen("/proc/self/statm", "r");
    if (f != nullptr) {
      if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
      std::fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
  };
  long rss_at_10 = 0;
  for (int cycle = 0; cycle < 100; ++cycle) {
    ck_assert_int_ne(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    // Let frames flow for a moment on some cycles, so that NULL finds frames in flight.
    ck_assert_int_eq(gst_element_get_state(pipeline, nullptr, nullptr, 10 * GST_SECOND),
                     GST_STATE_CHANGE_SUCCESS);
    if (cycle % 10 == 0) g_usleep(50000);
    ck_assert_int_eq(gst_element_set_state(pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
    if (cycle == 10) rss_at_10 = rss_kb();
  }
  const long growth_kb = rss_kb() - rss_at_10;
  // A leaked model is 16 MB a cycle; allocator noise is far below this bound.
  ck_assert_msg(growth_kb < 64 * 1024, "RSS grew by %ld kB over 90 cycles", growth_kb);
  gst_object_unref(pipeline);
  ck_assert_msg(weak == nullptr, "deepfakedetect was not finalized");
}
END_TEST

START_TEST(test_bad_model_is_an_error) {
  GstElement *missing = gst_element_factory_make("deepfakedetect", nullptr);
  g_object_set(missing, "model", "/nonexistent/model.safetensors", nullptr);
  expect_start_error(missing, "missing model");

  GstElement *corrupt = gst_element_factory_make("deepfakedetect", nullptr);
  g_object_set(corrupt, "model", g_corrupt_model.c_str(), nullptr);
  expect_start_error(corrupt, "corrupt model");

  GstElement *cuda = gst_element_factory_make("deepfakedetect", nullptr);
  if (!dfd::cuda_available()) {
    g_object_set(cuda, "model", g_model.c_str(), "device", "cuda", nullptr);
    expect_start_error(cuda, "cuda on a CPU-only build");
  } else {
    // A GPU host: a device that is not there is still refused, and says how many there are.
    g_object_set(cuda, "model", g_model.c_str(), "device", "cuda:63", nullptr);
    expect_start_error(cuda, "cuda:63", "visible");
  }
  GstElement *bad_device = gst_element_factory_make("deepfakedetect", nullptr);
  g_object_set(bad_device, "model", g_model.c_str(), "device", "tpu:3", nullptr);
  expect_start_error(bad_device, "malformed device");
}
END_TEST

// Changed samples of `format` between two frames must lie inside `allowed` (frame pixels).
static void check_changes_inside(const GstVideoInfo &info, GstBuffer *before, GstBuffer *after,
                                 const std::vector<cv::Rect> &allowed, const char *what) {
  GstVideoFrame a, b;
  ck_assert(gst_video_frame_map(&a, &info, before, GST_MAP_READ));
  ck_assert(gst_video_frame_map(&b, &info, after, GST_MAP_READ));
  const auto inside = [&](int x, int y) {
    return std::any_of(allowed.begin(), allowed.end(),
                       [&](const cv::Rect &r) { return r.contains(cv::Point(x, y)); });
  };
  int changed = 0;
  for (guint c = 0; c < GST_VIDEO_FRAME_N_COMPONENTS(&a); ++c) {
    const int width = GST_VIDEO_FRAME_COMP_WIDTH(&a, c);
    const int height = GST_VIDEO_FRAME_COMP_HEIGHT(&a, c);
    const int pstride = GST_VIDEO_FRAME_COMP_PSTRIDE(&a, c);
    const int stride = GST_VIDEO_FRAME_COMP_STRIDE(&a, c);
    const auto *pa = static_cast<const uint8_t *>(GST_VIDEO_FRAME_COMP_DATA(&a, c));
    const auto *pb = static_cast<const uint8_t *>(GST_VIDEO_FRAME_COMP_DATA(&b, c));
    const int sub_x = GST_VIDEO_INFO_WIDTH(&info) > width ? 2 : 1;
    const int sub_y = GST_VIDEO_INFO_HEIGHT(&info) > height ? 2 : 1;
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        const int offset = y * stride + x * pstride;
        if (pa[offset] == pb[offset]) continue;
        ++changed;
        // A subsampled chroma sample covers sub_x x sub_y pixels: all must be allowed.
        for (int dy = 0; dy < sub_y; ++dy) {
          for (int dx = 0; dx < sub_x; ++dx) {
            const int px = std::min(x * sub_x + dx, GST_VIDEO_INFO_WIDTH(&info) - 1);
            const int py = std::min(y * sub_y + dy, GST_VIDEO_INFO_HEIGHT(&info) - 1);
            ck_assert_msg(inside(px, py), "%s: component %u changed at (%d, %d)", what, c, px, py);
          }
        }
      }
    }
  }
  ck_assert_msg(changed > 0, "%s: the overlay drew nothing", what);
  gst_video_frame_unmap(&b);
  gst_video_frame_unmap(&a);
}

START_TEST(test_overlay_only_inside_boxes) {
  const cv::Mat bgr = face_image();
  for (const char *format : {"BGR", "RGB", "RGBx", "xRGB", "xBGR", "BGRA", "I420", "NV12"}) {
    const GstVideoInfo info = video_info(format, bgr.cols, bgr.rows);
    GstHarness *detect = element_harness(make_detect(), info);
    ck_assert_int_eq(gst_harness_push(detect, frame_from_bgr(bgr, format, 0)), GST_FLOW_OK);
    GstBuffer *annotated = pull_frame(detect);
    GstVideoRegionOfInterestMeta *roi = first_roi(annotated);
    assert_nonnull(roi);
    const cv::Rect box(static_cast<int>(roi->x), static_cast<int>(roi->y), static_cast<int>(roi->w),
                       static_cast<int>(roi->h));

    // Boxes and heatmap only: every change is inside the face box.
    GstElement *overlay = gst_element_factory_make("deepfakeoverlay", nullptr);
    g_object_set(overlay, "draw-labels", FALSE, nullptr);
    GstHarness *h = element_harness(overlay, info);
    GstBuffer *reference = gst_buffer_copy_deep(annotated);
    ck_assert_int_eq(gst_harness_push(h, gst_buffer_ref(annotated)), GST_FLOW_OK);
    GstBuffer *drawn = pull_frame(h);
    check_changes_inside(info, reference, drawn, {box}, format);
    gst_buffer_unref(drawn);
    gst_harness_teardown(h);

    // With labels: the label sits just above the box (or inside it at the top).
    GstHarness *labelled = gst_harness_new("deepfakeoverlay");
    gst_harness_set_src_caps_str(labelled, caps_string(info).c_str());
    ck_assert_int_eq(gst_harness_push(labelled, gst_buffer_ref(annotated)), GST_FLOW_OK);
    drawn = pull_frame(labelled);
    const cv::Rect label_band(box.x - 2, std::max(0, box.y - 40), bgr.cols - box.x + 2, 40);
    check_changes_inside(info, reference, drawn, {box, label_band}, format);
    gst_buffer_unref(drawn);
    gst_harness_teardown(labelled);

    gst_buffer_unref(reference);
    gst_buffer_unref(annotated);
    gst_harness_teardown(detect);
  }

  // A frame without faces goes through the overlay as the same, unmapped buffer.
  const GstVideoInfo info = video_info("BGR", 64, 48);
  GstHarness *h = gst_harness_new("deepfakeoverlay");
  gst_harness_set_src_caps_str(h, caps_string(info).c_str());
  GstBuffer *plain = frame_from_bgr(noise_image(64, 48, 5), "BGR", 0);
  ck_assert_int_eq(gst_harness_push(h, plain), GST_FLOW_OK);
  GstBuffer *out = pull_frame(h);
  ck_assert_ptr_eq(out, plain);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}
END_TEST

START_TEST(test_shared_model_instance) {
  const cv::Mat bgr = face_image();
  const GstVideoInfo info = video_info("BGR", bgr.cols, bgr.rows);
  // A batch of two with a long timeout: each element alone would wait 10 s for its batch; with
  // one shared instance, their two faces make one full batch at once.
  const auto shared = [&](const char *name) {
    GstElement *detect = make_detect(name);
    g_object_set(detect, "model-instance-id", "shared-test", "batch-size", 2u, "batch-timeout",
                 10000u, nullptr);
    return element_harness(detect, info);
  };
  GstHarness *a = shared("a");
  GstHarness *b = shared("b");
  ck_assert_int_eq(gst_harness_push(a, frame_from_bgr(bgr, "BGR", 0)), GST_FLOW_OK);
  ck_assert_int_eq(gst_harness_push(b, frame_from_bgr(bgr, "BGR", 0)), GST_FLOW_OK);
  GstBuffer *out_a = pull_frame(a);
  GstBuffer *out_b = pull_frame(b);
  assert_nonnull(out_a);
  assert_nonnull(out_b);
  // One model pass scored both elements' faces. (Separate instances would each have run a
  // pass of one face, after the batch timeout.)
  for (GstHarness *h : {a, b}) {
    guint64 batches = 0, batched = 0, own = 0;
    g_object_get(h->element, "batches", &batches, "batched-faces", &batched, "faces-analysed", &own,
                 nullptr);
    ck_assert_msg(batches == 1 && batched == 2 && own == 1,
                  "%s: %" G_GUINT64_FORMAT " batches of %" G_GUINT64_FORMAT
                  " faces, %" G_GUINT64_FORMAT " its own",
                  GST_ELEMENT_NAME(h->element), batches, batched, own);
  }
  for (GstBuffer *out : {out_a, out_b}) {
    GstVideoRegionOfInterestMeta *roi = first_roi(out);
    assert_nonnull(roi);
    const GstStructure *deepfake = gst_video_region_of_interest_meta_get_param(roi, "deepfake");
    ck_assert(string_field(deepfake, "label") != "unknown");
    gst_buffer_unref(out);
  }

  // The same id with another model file is refused while the instance is in use.
  GstElement *other = gst_element_factory_make("deepfakedetect", nullptr);
  g_object_set(other, "model", g_model_copy.c_str(), "model-instance-id", "shared-test", nullptr);
  expect_start_error(other, "another model under a shared id");

  gst_harness_teardown(a);
  gst_harness_teardown(b);
}
END_TEST

START_TEST(test_live_latency_and_deadline) {
  const cv::Mat bgr = face_image();
  const GstVideoInfo info = video_info("BGR", bgr.cols, bgr.rows);
  GstElement *detect = make_detect();
  g_object_set(detect, "max-latency", 1u, "batch-size", 1u, nullptr);
  GstHarness *h = element_harness(detect, info);
  gst_harness_set_live(h, TRUE);
  gst_harness_set_upstream_latency(h, 10 * GST_MSECOND);
  // Upstream's 10 ms plus our budget of 1 ms; the query also tells the element it is live.
  ck_assert_uint_eq(gst_harness_query_latency(h), 11 * GST_MSECOND);

  // A budget of 1 ms cannot hold detection and a model pass: the frame leaves at once, with
  // nothing known yet (no face on it, so it was not held for one), and the analysis still
  // reaches the track later. The deadline is the promise the budget makes, widened for a
  // loaded machine: a frame held for its analysis would carry its face.
  const gint64 start = g_get_monotonic_time();
  ck_assert_int_eq(gst_harness_push(h, frame_from_bgr(bgr, "BGR", 0)), GST_FLOW_OK);
  GstBuffer *first = pull_frame(h);
  ck_assert_msg(g_get_monotonic_time() - start < 2 * G_USEC_PER_SEC * time_scale(),
                "the live frame was held");
  ck_assert_uint_eq(roi_count(first), 0);
  gst_buffer_unref(first);

  // Frames keep passing, each at once and in order, and the late analysis is applied when a
  // later frame passes: from then on the frames carry the face and its score. (At least one
  // frame is skipped meanwhile: detection and the model are still busy with frame 0.)
  const gint64 give_up = g_get_monotonic_time() + 120 * G_USEC_PER_SEC * time_scale();
  bool scored = false;
  for (int i = 1; !scored; ++i) {
    ck_assert_msg(g_get_monotonic_time() < give_up, "the late score never reached a frame");
    g_usleep(40000);  // a 25 fps source
    ck_assert_int_eq(gst_harness_push(h, frame_from_bgr(bgr, "BGR", frame_pts(i))), GST_FLOW_OK);
    GstBuffer *out = pull_frame(h);
    assert_nonnull(out);
    ck_assert_uint_eq(GST_BUFFER_PTS(out), frame_pts(i));
    if (GstVideoRegionOfInterestMeta *face = first_roi(out)) {
      scored = string_field(gst_video_region_of_interest_meta_get_param(face, "deepfake"),
                            "label") != "unknown";
    }
    gst_buffer_unref(out);
  }
  guint64 skipped = 0;
  g_object_get(detect, "frames-skipped", &skipped, nullptr);
  ck_assert_uint_ge(skipped, 1);
  gst_harness_teardown(h);
}
END_TEST

START_TEST(test_relevancy_meta_scales) {
  GstBuffer *buffer = gst_buffer_new();
  const float values[] = {0.f, 0.5f, 1.f, 0.25f, 0.75f, 0.1f};
  assert_nonnull(gst_buffer_add_deepfake_relevancy_meta(buffer, 7, 100, 50, 40, 60, 3, 2, values));
  GstVideoInfo in_info, out_info;
  gst_video_info_set_format(&in_info, GST_VIDEO_FORMAT_I420, 640, 480);
  gst_video_info_set_format(&out_info, GST_VIDEO_FORMAT_I420, 320, 240);
  GstVideoMetaTransform transform = {&in_info, &out_info};
  GstBuffer *scaled = gst_buffer_new();
  GstMeta *meta =
      reinterpret_cast<GstMeta *>(gst_buffer_get_deepfake_relevancy_meta_for_roi(buffer, 7));
  ck_assert(meta->info->transform_func(scaled, meta, buffer,
                                       gst_video_meta_transform_scale_get_quark(), &transform));
  const GstDeepfakeRelevancyMeta *out = gst_buffer_get_deepfake_relevancy_meta_for_roi(scaled, 7);
  assert_nonnull(out);
  ck_assert_uint_eq(out->x, 50);
  ck_assert_uint_eq(out->y, 25);
  ck_assert_uint_eq(out->w, 20);
  ck_assert_uint_eq(out->h, 30);
  ck_assert_uint_eq(out->grid_width, 3);
  ck_assert_uint_eq(out->grid_height, 2);
  for (int i = 0; i < 6; ++i) assert_near(out->values[i], values[i]);
  assert_null(gst_buffer_get_deepfake_relevancy_meta_for_roi(scaled, 8));
  gst_buffer_unref(scaled);
  gst_buffer_unref(buffer);
}
END_TEST

START_TEST(test_interval_and_caps_change) {
  const cv::Mat bgr = face_image();
  const GstVideoInfo face_info = video_info("BGR", bgr.cols, bgr.rows);
  const GstVideoInfo small_info = video_info("BGR", 160, 120);
  GstElement *detect = make_detect();
  g_object_set(detect, "inference-interval", 2u, nullptr);
  GstHarness *h = element_harness(detect, face_info);
  const auto object_id = [](GstBuffer *buffer) {
    GstVideoRegionOfInterestMeta *roi = first_roi(buffer);
    assert_nonnull(roi);
    return int_field(gst_video_region_of_interest_meta_get_param(roi, "object_id"), "id");
  };

  // Every second frame is analysed; the ones between carry its face and score forward.
  for (int i = 0; i < 4; ++i) {
    ck_assert_int_eq(gst_harness_push(h, frame_from_bgr(bgr, "BGR", frame_pts(i))), GST_FLOW_OK);
  }
  int first_id = 0;
  for (int i = 0; i < 4; ++i) {
    GstBuffer *out = pull_frame(h);
    ck_assert_uint_eq(roi_count(out), 1);
    if (i == 0) first_id = object_id(out);
    ck_assert_int_eq(object_id(out), first_id);
    gst_buffer_unref(out);
  }
  guint64 analysed = 0, skipped = 0;
  g_object_get(detect, "frames-analysed", &analysed, "frames-skipped", &skipped, nullptr);
  ck_assert_uint_eq(analysed, 2);
  ck_assert_uint_eq(skipped, 0);

  // New caps mid-stream: the old boxes do not belong on frames of another size.
  gst_harness_set_src_caps_str(h, caps_string(small_info).c_str());
  for (int i = 4; i < 6; ++i) {
    ck_assert_int_eq(
        gst_harness_push(h, frame_from_bgr(noise_image(160, 120, i), "BGR", frame_pts(i))),
        GST_FLOW_OK);
  }
  for (int i = 4; i < 6; ++i) {
    GstBuffer *out = pull_frame(h);
    ck_assert_uint_eq(gst_buffer_get_size(out), GST_VIDEO_INFO_SIZE(&small_info));
    ck_assert_uint_eq(roi_count(out), 0);
    gst_buffer_unref(out);
  }
  GstCaps *caps = gst_pad_get_current_caps(h->sinkpad);
  GstVideoInfo out_info;
  ck_assert(gst_video_info_from_caps(&out_info, caps));
  ck_assert_int_eq(GST_VIDEO_INFO_WIDTH(&out_info), 160);
  gst_caps_unref(caps);

  // And back: the face is found again, as a new object.
  gst_harness_set_src_caps_str(h, caps_string(face_info).c_str());
  for (int i = 6; i < 8; ++i) {
    ck_assert_int_eq(gst_harness_push(h, frame_from_bgr(bgr, "BGR", frame_pts(i))), GST_FLOW_OK);
  }
  for (int i = 6; i < 8; ++i) {
    GstBuffer *out = pull_frame(h);
    ck_assert_uint_eq(roi_count(out), 1);
    ck_assert_int_gt(object_id(out), first_id);
    gst_buffer_unref(out);
  }
  gst_harness_teardown(h);
}
END_TEST

static Suite *elements_suite() {
  Suite *s = suite_create("elements");
  TCase *tc = tcase_create("deepfake");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_caps_every_format_odd_size);
  tcase_add_test(tc, test_face_metadata);
  tcase_add_test(tc, test_faceless_frames_identical);
  tcase_add_test(tc, test_messages);
  tcase_add_test(tc, test_interval_and_caps_change);
  tcase_add_test(tc, test_eos_partial_batch);
  tcase_add_test(tc, test_flush_mid_batch);
  tcase_add_test(tc, test_bad_model_is_an_error);
  tcase_add_test(tc, test_overlay_only_inside_boxes);
  tcase_add_test(tc, test_shared_model_instance);
  tcase_add_test(tc, test_live_latency_and_deadline);
  tcase_add_test(tc, test_relevancy_meta_scales);
  tcase_add_test(tc, test_state_cycles);
  suite_add_tcase(s, tc);
  return s;
}

int main(int argc, char **argv) {
  make_models();
  // The element's default model is the one made above.
  setenv("DEEPFAKE_MODEL", g_model.c_str(), 1);
  gst_check_init(&argc, &argv);
  SRunner *runner = srunner_create(elements_suite());
  srunner_run_all(runner, CK_NORMAL);
  const int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  remove_models();
  // Not a return: after a failed test (no fork) an element may still be running, and
  // gst_deinit, which gst_check_init registers for exit, would wait for its thread forever.
  std::fflush(stdout);
  std::fflush(stderr);
  _exit(failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
