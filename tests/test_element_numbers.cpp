// deepfakedetect's numbers, not only its plumbing: in every accepted format the score it reports
// for a face is Engine::infer's on the crop it should have made from the box it reports, and
// that box is the face detector's; frames laid out with padded strides and plane offsets
// (GstVideoMeta) give the same boxes and scores as packed ones; formats outside the caps are
// refused at negotiation. The model is the golden Lite0 model (tests/golden/: the shipped
// configuration, RGB, with fixed weights), so the scores move with the colours and the crop.
// CK_FORK=no (LibTorch), GST_PLUGIN_PATH pointing at the build's gst/ folder.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "analysis/face_detector.h"
#include "core/engine.h"
#include "deepfakemeta.h"
#include "golden_model.h"
#include "imaging/preprocess.h"

// Last: it brings in check.h, whose macros clash with standard headers included after it.
#include "element_helpers.h"

using namespace dfd::testing;

namespace {

std::string g_model_dir;
std::string g_model;  // the golden Lite0 model, expanded

// A packed RGB-family frame holds the picture's bytes exactly, so the element's crop is the
// reference crop and only float rounding could separate the two scores (measured: none).
// An I420 or NV12 frame no longer holds the picture: its reference is the frame converted
// back here (yuv_to_bgr), and the two conversions may round a half level differently. This
// model is very sensitive to colour (three converters that differ by 1-3 levels on average
// moved its probability by up to 0.1: GStreamer's with interpolated chroma, OpenCV's, the
// element's), so the bound is 1e-3, not a level's worth.
constexpr double kPackedTolerance = 1e-5;
constexpr double kYuvTolerance = 1e-3;

// The face (real-photos-100.jpg, 239x320) pasted at an odd position on a noise background, so
// that a crop shifted or taken from the wrong place shows.
constexpr int kFrameWidth = 480, kFrameHeight = 400, kFaceX = 37, kFaceY = 41;

cv::Mat test_picture() {
  cv::Mat frame = noise_image(kFrameWidth, kFrameHeight, 5);
  const cv::Mat face = face_image();
  face.copyTo(frame(cv::Rect(kFaceX, kFaceY, face.cols, face.rows)));
  return frame;
}

// The fake probability the element attached to the face. Read in this one place: the field
// that carries it is part of the metadata's naming, which may change.
double fake_probability(GstVideoRegionOfInterestMeta *roi) {
  const GstStructure *param =
      gst_video_region_of_interest_meta_get_param(roi, GST_DEEPFAKE_PARAM_CLASSIFICATION);
  assert_nonnull(param);
  return double_field(param, GST_DEEPFAKE_FIELD_CONFIDENCE);
}

struct Reported {
  cv::Rect box;
  double probability = 0;
};

GstElement *make_detect() {
  GstElement *detect = make_detect_with(g_model);
  // The detector is named, not left to the default, so that the box can be checked against
  // the same detector run here.
  gst_util_set_object_arg(G_OBJECT(detect), "detector", "hog");
  g_object_set(detect, "batch-size", 1u, nullptr);
  return detect;
}

dfd::DetectorOptions detector_options(GstElement *detect) {
  guint max_width = 0, min_size = 0;
  g_object_get(detect, "detection-max-width", &max_width, "min-face-size", &min_size, nullptr);
  dfd::DetectorOptions options;
  options.kind = dfd::DetectorKind::Hog;
  options.max_width = static_cast<int>(max_width);
  options.min_face_size = static_cast<int>(min_size);
  return options;
}

// Runs one frame through a fresh deepfakedetect; the one face it reports. `gray` receives the
// picture the detector should have seen (for I420/NV12 the frame's own Y plane).
Reported run_frame(GstBuffer *frame, const GstVideoInfo &info, dfd::DetectorOptions *options,
                   cv::Mat *y_plane = nullptr) {
  GstElement *detect = make_detect();
  if (options != nullptr) *options = detector_options(detect);
  GstHarness *h = element_harness(detect, info);
  if (y_plane != nullptr) {
    GstVideoFrame mapped;
    ck_assert(gst_video_frame_map(&mapped, const_cast<GstVideoInfo *>(&info), frame, GST_MAP_READ));
    *y_plane = cv::Mat(GST_VIDEO_FRAME_HEIGHT(&mapped), GST_VIDEO_FRAME_WIDTH(&mapped), CV_8UC1,
                       GST_VIDEO_FRAME_COMP_DATA(&mapped, 0),
                       static_cast<size_t>(GST_VIDEO_FRAME_COMP_STRIDE(&mapped, 0)))
                   .clone();
    gst_video_frame_unmap(&mapped);
  }
  ck_assert_int_eq(gst_harness_push(h, frame), GST_FLOW_OK);
  GstBuffer *out = pull_frame(h);
  assert_nonnull(out);
  ck_assert_uint_eq(roi_count(out), 1);
  GstVideoRegionOfInterestMeta *roi = first_roi(out);
  const Reported reported{cv::Rect(static_cast<int>(roi->x), static_cast<int>(roi->y),
                                   static_cast<int>(roi->w), static_cast<int>(roi->h)),
                          fake_probability(roi)};
  gst_buffer_unref(out);
  gst_harness_teardown(h);
  return reported;
}

dfd::Engine &engine() {
  static std::unique_ptr<dfd::Engine> loaded = dfd::Engine::load(g_model, {});
  return *loaded;
}

// An I420 or NV12 frame as BGR, as the caps say it is to be read: the colour matrix and
// range of its colorimetry, each chroma sample for the 2x2 pixels it covers (no
// interpolation), R = Y' + 2(1 - Kr) Cr, B = Y' + 2(1 - Kb) Cb, G from Y' = Kr R + Kg G + Kb B.
cv::Mat yuv_to_bgr(GstBuffer *buffer, const GstVideoInfo &info) {
  GstVideoFrame frame;
  ck_assert(gst_video_frame_map(&frame, const_cast<GstVideoInfo *>(&info), buffer, GST_MAP_READ));
  gdouble kr = 0, kb = 0;
  ck_assert(gst_video_color_matrix_get_Kr_Kb(info.colorimetry.matrix, &kr, &kb));
  gint offset[GST_VIDEO_MAX_COMPONENTS] = {}, scale[GST_VIDEO_MAX_COMPONENTS] = {};
  gst_video_color_range_offsets(info.colorimetry.range, info.finfo, offset, scale);
  const auto plane = [&](int component) {
    return static_cast<const uint8_t *>(GST_VIDEO_FRAME_COMP_DATA(&frame, component));
  };
  cv::Mat out(GST_VIDEO_INFO_HEIGHT(&info), GST_VIDEO_INFO_WIDTH(&info), CV_8UC3);
  for (int y = 0; y < out.rows; ++y) {
    for (int x = 0; x < out.cols; ++x) {
      const auto sample = [&](int component) {
        const int sx = component == 0 ? x : x / 2, sy = component == 0 ? y : y / 2;
        return plane(component)[sy * GST_VIDEO_FRAME_COMP_STRIDE(&frame, component) +
                                sx * GST_VIDEO_FRAME_COMP_PSTRIDE(&frame, component)];
      };
      const double luma = (sample(0) - offset[0]) / static_cast<double>(scale[0]);
      const double cb = (sample(1) - offset[1]) / static_cast<double>(scale[1]);
      const double cr = (sample(2) - offset[2]) / static_cast<double>(scale[2]);
      const double r = luma + 2 * (1 - kr) * cr, b = luma + 2 * (1 - kb) * cb;
      const double g = (luma - kr * r - kb * b) / (1 - kr - kb);
      out.at<cv::Vec3b>(y, x) = {cv::saturate_cast<uint8_t>(255 * b),
                                 cv::saturate_cast<uint8_t>(255 * g),
                                 cv::saturate_cast<uint8_t>(255 * r)};
    }
  }
  gst_video_frame_unmap(&frame);
  return out;
}

// The engine's probability on the crop the element should have cut from `picture` for `box`:
// the seed's square box (margin 0, the element's default), the model's own input rule.
double engine_probability(const cv::Mat &picture, const cv::Rect &box) {
  const cv::Rect crop = dfd::seed_square_box(box, picture.size());
  ck_assert(!crop.empty());
  const dfd::ModelInput input = dfd::make_model_input(picture(crop).clone(), engine().config());
  const std::vector<uint8_t> bytes = dfd::pack_model_inputs({input}, engine().config().image_size);
  return engine().infer(bytes.data(), 1, /*explain=*/true).at(0).probability;
}

// A copy of `packed` (a frame of `info`) laid out with every plane's stride 72 bytes longer
// than packed and planes in reverse order with gaps between them, described by a GstVideoMeta;
// the padding holds a pattern, so reading it would change the crop. `padded_info` gets the
// layout (what a GstVideoMeta-aware element must use to map the frame).
GstBuffer *padded_copy(GstBuffer *packed, const GstVideoInfo &info, GstVideoInfo *padded_info) {
  GstVideoInfo padded = info;
  const guint planes = GST_VIDEO_INFO_N_PLANES(&info);
  gsize offset = 40;  // a plane offset that is not 0
  for (guint p = planes; p-- > 0;) {
    const gint rows = GST_VIDEO_INFO_COMP_HEIGHT(&info, p == 0 ? 0 : (planes == 2 ? 1 : p));
    padded.stride[p] = GST_VIDEO_INFO_PLANE_STRIDE(&info, p) + 72;
    padded.offset[p] = offset;
    offset += static_cast<gsize>(padded.stride[p]) * rows + 136;
  }
  padded.size = offset;
  GstBuffer *out = gst_buffer_new_allocate(nullptr, padded.size, nullptr);
  gst_buffer_memset(out, 0, 0xA5, padded.size);
  gsize offsets[GST_VIDEO_MAX_PLANES] = {};
  gint strides[GST_VIDEO_MAX_PLANES] = {};
  for (guint p = 0; p < planes; ++p) {
    offsets[p] = padded.offset[p];
    strides[p] = padded.stride[p];
  }
  gst_buffer_add_video_meta_full(out, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT(&info),
                                 GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info), planes,
                                 offsets, strides);
  GstVideoFrame src, dst;
  ck_assert(gst_video_frame_map(&src, const_cast<GstVideoInfo *>(&info), packed, GST_MAP_READ));
  ck_assert(gst_video_frame_map(&dst, &padded, out, GST_MAP_WRITE));
  ck_assert(gst_video_frame_copy(&dst, &src));
  gst_video_frame_unmap(&dst);
  gst_video_frame_unmap(&src);
  GST_BUFFER_PTS(out) = GST_BUFFER_PTS(packed);
  GST_BUFFER_DURATION(out) = GST_BUFFER_DURATION(packed);
  if (padded_info != nullptr) *padded_info = padded;
  return out;
}

}  // namespace

// ---- tests ----------------------------------------------------------------------------------

START_TEST(test_scores_match_engine) {
  const cv::Mat picture = test_picture();
  cv::Mat gray;
  cv::cvtColor(picture, gray, cv::COLOR_BGR2GRAY);
  for (const char *format : kFormats) {
    const GstVideoInfo info = video_info(format, kFrameWidth, kFrameHeight);
    const bool yuv = GST_VIDEO_INFO_IS_YUV(&info);
    dfd::DetectorOptions options;
    cv::Mat y_plane;
    GstBuffer *frame = frame_from_bgr(picture, format, 0);
    // What the frame shows: the picture itself in a packed format.
    const cv::Mat shown = yuv ? yuv_to_bgr(frame, info) : picture;
    const Reported got = run_frame(frame, info, &options, yuv ? &y_plane : nullptr);

    // The box is the detector's, on what the element's detector sees: the Y plane, or the
    // picture's luma.
    const std::vector<dfd::FaceBox> found =
        dfd::FaceDetector::create(options)->detect(yuv ? y_plane : gray);
    ck_assert_msg(found.size() == 1, "%s: the detector finds %zu faces", format, found.size());
    ck_assert_msg(got.box == found[0].box, "%s: ROI %dx%d+%d+%d, detector %dx%d+%d+%d", format,
                  got.box.width, got.box.height, got.box.x, got.box.y, found[0].box.width,
                  found[0].box.height, found[0].box.x, found[0].box.y);
    // On the face, not somewhere in the noise.
    ck_assert((got.box & cv::Rect(kFaceX, kFaceY, 239, 320)) == got.box);

    const double expected = engine_probability(shown, got.box);
    const double tolerance = yuv ? kYuvTolerance : kPackedTolerance;
    std::printf(
        "%-5s box %dx%d+%d+%d: element %.7f, engine on the crop %.7f (|diff| %.1e, "
        "allowed %.0e)\n",
        format, got.box.width, got.box.height, got.box.x, got.box.y, got.probability, expected,
        std::fabs(got.probability - expected), tolerance);
    ck_assert_msg(std::fabs(got.probability - expected) <= tolerance,
                  "%s: element %.7f, engine %.7f on the crop it should have made", format,
                  got.probability, expected);
  }
}
END_TEST

START_TEST(test_padded_layout_matches_packed) {
  const cv::Mat picture = test_picture();
  for (const char *format : kFormats) {
    const GstVideoInfo info = video_info(format, kFrameWidth, kFrameHeight);
    GstBuffer *packed = frame_from_bgr(picture, format, 0);
    GstVideoInfo layout;
    GstBuffer *padded = padded_copy(packed, info, &layout);
    ck_assert_uint_gt(gst_buffer_get_size(padded), gst_buffer_get_size(packed));
    const Reported a = run_frame(packed, info, nullptr);
    const Reported b = run_frame(padded, info, nullptr);
    std::printf(
        "%-5s packed %dx%d+%d+%d %.7f, padded (strides +72, planes at %zu..) %dx%d+%d+%d "
        "%.7f\n",
        format, a.box.width, a.box.height, a.box.x, a.box.y, a.probability,
        static_cast<size_t>(layout.offset[0]), b.box.width, b.box.height, b.box.x, b.box.y,
        b.probability);
    ck_assert_msg(a.box == b.box, "%s: the padded frame's box differs", format);
    ck_assert_msg(std::fabs(a.probability - b.probability) <= 1e-6, "%s: padded %.7f, packed %.7f",
                  format, b.probability, a.probability);
  }
}
END_TEST

START_TEST(test_gray8_refused) {
  for (const char *name : {"deepfakedetect", "deepfakeoverlay"}) {
    // The pads refuse the caps outright...
    GstElement *element = gst_element_factory_make(name, nullptr);
    assert_nonnull(element);
    GstPad *sink = gst_element_get_static_pad(element, "sink");
    GstCaps *gray = gst_caps_from_string(
        "video/x-raw,format=GRAY8,width=320,height=240,"
        "framerate=25/1");
    ck_assert_msg(!gst_pad_query_accept_caps(sink, gray), "%s accepts GRAY8", name);
    gst_caps_unref(gray);
    gst_object_unref(sink);
    gst_object_unref(element);

    // ...a source that can only offer GRAY8 cannot be linked to them...
    GstElement *source = gst_element_factory_make("videotestsrc", nullptr);
    element = gst_element_factory_make(name, nullptr);
    GstElement *bin = gst_pipeline_new(nullptr);
    gst_bin_add_many(GST_BIN(bin), source, element, nullptr);
    gray = gst_caps_from_string("video/x-raw,format=GRAY8");
    ck_assert_msg(!gst_element_link_filtered(source, element, gray), "%s links to GRAY8", name);
    gst_caps_unref(gray);
    gst_object_unref(bin);

    // ...and GRAY8 caps pushed anyway end the stream as not negotiated, frame unseen.
    element = gst_element_factory_make(name, nullptr);
    if (std::string(name) == "deepfakedetect")
      g_object_set(element, "model", g_model.c_str(), nullptr);
    GstHarness *h = gst_harness_new_with_element(element, "sink", "src");
    gst_object_unref(element);
    gst_harness_play(h);
    ck_assert(gst_pad_push_event(h->srcpad, gst_event_new_stream_start("gray")));
    GstCaps *caps = gst_caps_from_string(
        "video/x-raw,format=GRAY8,width=320,height=240,"
        "framerate=25/1");
    // A sticky event is stored whatever the peer says; the refusal shows on the first buffer.
    gst_pad_push_event(h->srcpad, gst_event_new_caps(caps));
    gst_caps_unref(caps);
    GstSegment segment;
    gst_segment_init(&segment, GST_FORMAT_TIME);
    gst_pad_push_event(h->srcpad, gst_event_new_segment(&segment));
    GstBuffer *buffer = gst_buffer_new_allocate(nullptr, 320 * 240, nullptr);
    ck_assert_int_eq(gst_harness_push(h, buffer), GST_FLOW_NOT_NEGOTIATED);
    ck_assert_uint_eq(gst_harness_buffers_received(h), 0);
    gst_harness_teardown(h);
  }
}
END_TEST

int main(int argc, char **argv) {
  gst_check_init(&argc, &argv);
  char templ[] = "/tmp/dfd-test-element-numbers-XXXXXX";
  if (mkdtemp(templ) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  g_model_dir = templ;
  g_model = g_model_dir + "/golden-lite0.safetensors";
  try {
    expand_golden_model("lite0", g_model);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  Suite *suite = suite_create("element-numbers");
  TCase *caps = tcase_create("caps");
  tcase_set_timeout(caps, 120);
  tcase_add_test(caps, test_gray8_refused);
  suite_add_tcase(suite, caps);
  TCase *scores = tcase_create("scores");
  tcase_set_timeout(scores, 600);
  tcase_add_test(scores, test_scores_match_engine);
  suite_add_tcase(suite, scores);
  TCase *layout = tcase_create("layout");
  tcase_set_timeout(layout, 600);
  tcase_add_test(layout, test_padded_layout_matches_packed);
  suite_add_tcase(suite, layout);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_VERBOSE);
  const int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  std::remove(g_model.c_str());
  rmdir(g_model_dir.c_str());
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
