// deepfakedetect with inference-region=roi-list, through GstHarness: it classifies the regions
// of interest already on the frame (their ids, boxes and other params kept), filters them by
// object-class, tracks them by the upstream object_id, replaces an earlier classifier's params,
// carries results to frames it does not analyse, and scores a region exactly as it scores the
// same face found by its own detector. A small random model; CK_FORK=no.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "deepfakemeta.h"
#include "random_model.h"

// Last: it brings in check.h, whose macros clash with standard headers included after it.
#include "element_helpers.h"

using namespace dfd::testing;

namespace {

std::string g_model;

// A region of interest as an upstream detector (gvadetect, or a first deepfakedetect) leaves
// it: a `detection` param with the detector's confidence, and an `object_id` when it tracks.
GstVideoRegionOfInterestMeta *add_region(GstBuffer *buffer, const char *type, int id,
                                         const cv::Rect &box, int object_id,
                                         double confidence = 0.6) {
  GstVideoRegionOfInterestMeta *roi = gst_buffer_add_video_region_of_interest_meta(
      buffer, type, static_cast<guint>(box.x), static_cast<guint>(box.y),
      static_cast<guint>(box.width), static_cast<guint>(box.height));
  roi->id = id;
  gst_video_region_of_interest_meta_add_param(
      roi, gst_structure_new("detection", "confidence", G_TYPE_DOUBLE, confidence, nullptr));
  if (object_id != 0) {
    gst_video_region_of_interest_meta_add_param(
        roi, gst_structure_new("object_id", "id", G_TYPE_INT, object_id, nullptr));
  }
  return roi;
}

GstVideoRegionOfInterestMeta *roi_with_id(GstBuffer *buffer, int id) {
  return gst_buffer_get_video_region_of_interest_meta_id(buffer, id);
}

int count_params(GstVideoRegionOfInterestMeta *roi, const char *name) {
  int n = 0;
  for (GList *l = roi->params; l != nullptr; l = l->next) {
    n += gst_structure_has_name(static_cast<GstStructure *>(l->data), name) ? 1 : 0;
  }
  return n;
}

GstElement *make_classifier(const char *object_class = nullptr) {
  GstElement *detect = make_detect_with(g_model);
  gst_util_set_object_arg(G_OBJECT(detect), "inference-region", "roi-list");
  if (object_class != nullptr) g_object_set(detect, "object-class", object_class, nullptr);
  return detect;
}

// The face box HOG finds on the test photo, by running the element in full-frame mode, and
// the fake probability it gives that face.
void full_frame_result(const cv::Mat &bgr, cv::Rect *box, double *probability) {
  const GstVideoInfo info = video_info("BGR", bgr.cols, bgr.rows);
  GstHarness *h = element_harness(make_detect_with(g_model), info);
  ck_assert_int_eq(gst_harness_push(h, frame_from_bgr(bgr, "BGR", 0)), GST_FLOW_OK);
  GstBuffer *out = pull_frame(h);
  assert_nonnull(out);
  GstVideoRegionOfInterestMeta *roi = first_roi(out);
  assert_nonnull(roi);
  *box = cv::Rect(static_cast<int>(roi->x), static_cast<int>(roi->y), static_cast<int>(roi->w),
                  static_cast<int>(roi->h));
  *probability = double_field(gst_video_region_of_interest_meta_get_param(roi, "deepfake"),
                              "fake_probability");
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

// The `face` structures of the `deepfake` messages on `bus`, oldest first, one vector per frame.
std::vector<std::vector<GstStructure *>> message_faces(GstBus *bus) {
  std::vector<std::vector<GstStructure *>> out;
  while (GstMessage *message = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT)) {
    const GstStructure *s = gst_message_get_structure(message);
    if (gst_structure_has_name(s, "deepfake")) {
      std::vector<GstStructure *> faces;
      const GValue *array = gst_structure_get_value(s, "faces");
      for (guint i = 0; i < gst_value_array_get_size(array); ++i) {
        faces.push_back(
            gst_structure_copy(gst_value_get_structure(gst_value_array_get_value(array, i))));
      }
      out.push_back(faces);
    }
    gst_message_unref(message);
  }
  return out;
}

void free_faces(std::vector<std::vector<GstStructure *>> &frames) {
  for (auto &faces : frames) {
    for (GstStructure *s : faces) gst_structure_free(s);
  }
  frames.clear();
}

}  // namespace

// Upstream regions are classified in place: no new ROI, ids and boxes kept, the wanted class
// only, the upstream tracking id as the track, the relevancy linked to the upstream ROI's id.
START_TEST(test_classifies_upstream_regions) {
  const cv::Mat bgr = face_image();
  cv::Rect box;
  double full_frame_p = 0;
  full_frame_result(bgr, &box, &full_frame_p);

  const GstVideoInfo info = video_info("BGR", bgr.cols, bgr.rows);
  GstElement *detect = make_classifier();
  GstBus *bus = gst_bus_new();
  gst_element_set_bus(detect, bus);
  GstHarness *h = element_harness(detect, info);
  for (int i = 0; i < 2; ++i) {
    GstBuffer *in = frame_from_bgr(bgr, "BGR", frame_pts(i));
    add_region(in, "face", 5, box, 77);
    add_region(in, "person", 6, cv::Rect(0, 0, bgr.cols, bgr.rows), 0);
    const std::vector<uint8_t> pixels = bytes_of(in);
    ck_assert_int_eq(gst_harness_push(h, in), GST_FLOW_OK);
    GstBuffer *out = pull_frame(h);
    assert_nonnull(out);
    ck_assert(bytes_of(out) == pixels);
    ck_assert_uint_eq(roi_count(out), 2);  // nothing added

    GstVideoRegionOfInterestMeta *face = roi_with_id(out, 5);
    assert_nonnull(face);
    ck_assert(cv::Rect(face->x, face->y, face->w, face->h) == box);
    const GstStructure *deepfake = gst_video_region_of_interest_meta_get_param(face, "deepfake");
    assert_nonnull(deepfake);
    // The same crop as the full-frame element's: the same score.
    assert_near(double_field(deepfake, "fake_probability"), full_frame_p, 1e-5);
    ck_assert_int_eq(int_field(deepfake, "analyses"), i + 1);
    // The upstream id is kept, and is the track.
    ck_assert_int_eq(count_params(face, "object_id"), 1);
    ck_assert_int_eq(
        int_field(gst_video_region_of_interest_meta_get_param(face, "object_id"), "id"), 77);
    ck_assert_int_eq(count_params(face, "detection"), 1);
    const GstStructure *grid = gst_video_region_of_interest_meta_get_param(face, "relevancy");
    assert_nonnull(grid);
    const GstDeepfakeRelevancyMeta *relevancy =
        gst_buffer_get_deepfake_relevancy_meta_for_roi(out, 5);
    assert_nonnull(relevancy);
    ck_assert_int_eq(int_field(grid, "width"), static_cast<int>(relevancy->grid_width));

    // Not in object-class: untouched.
    GstVideoRegionOfInterestMeta *person = roi_with_id(out, 6);
    assert_nonnull(person);
    assert_null(gst_video_region_of_interest_meta_get_param(person, "deepfake"));
    assert_null(gst_video_region_of_interest_meta_get_param(person, "object_id"));
    assert_null(gst_buffer_get_deepfake_relevancy_meta_for_roi(out, 6));
    gst_buffer_unref(out);
  }
  std::vector<std::vector<GstStructure *>> frames = message_faces(bus);
  ck_assert_uint_eq(frames.size(), 2);
  for (const auto &faces : frames) {
    ck_assert_uint_eq(faces.size(), 1);
    guint64 id = 0;
    ck_assert(gst_structure_get_uint64(faces[0], "object_id", &id));
    ck_assert_uint_eq(id, 77);
    assert_near(double_field(faces[0], "detection_confidence"), 0.6, 1e-6);
    ck_assert_int_eq(int_field(faces[0], "w"), box.width);
  }
  free_faces(frames);
  guint64 analysed = 0, faces = 0;
  g_object_get(detect, "frames-analysed", &analysed, "faces-analysed", &faces, nullptr);
  ck_assert_uint_eq(analysed, 2);
  ck_assert_uint_eq(faces, 2);
  gst_bus_set_flushing(bus, TRUE);
  gst_harness_teardown(h);
  gst_object_unref(bus);
}
END_TEST

// object-class lists the types to classify; empty: every region. Regions without an upstream
// id are tracked by overlap and get an object_id param.
START_TEST(test_object_class_filter) {
  const cv::Mat bgr = face_image();
  const GstVideoInfo info = video_info("BGR", bgr.cols, bgr.rows);
  const cv::Rect head(40, 90, 160, 160);
  for (const char *classes : {"", "face, person", "person"}) {
    GstHarness *h = element_harness(make_classifier(classes), info);
    GstBuffer *in = frame_from_bgr(bgr, "BGR", 0);
    add_region(in, "face", 1, head, 0);
    add_region(in, "person", 2, cv::Rect(0, 0, bgr.cols, bgr.rows), 0);
    add_region(in, "car", 3, cv::Rect(10, 10, 60, 40), 0);
    ck_assert_int_eq(gst_harness_push(h, in), GST_FLOW_OK);
    GstBuffer *out = pull_frame(h);
    assert_nonnull(out);
    const std::string wanted = classes;
    for (const auto &[id, type] :
         std::vector<std::pair<int, std::string>>{{1, "face"}, {2, "person"}, {3, "car"}}) {
      GstVideoRegionOfInterestMeta *roi = roi_with_id(out, id);
      assert_nonnull(roi);
      const bool classified = wanted.empty() || wanted.find(type) != std::string::npos;
      const GstStructure *deepfake = gst_video_region_of_interest_meta_get_param(roi, "deepfake");
      ck_assert_msg((deepfake != nullptr) == classified, "object-class '%s': %s %s", classes,
                    type.c_str(), classified ? "not classified" : "classified");
      if (classified) {
        // Tracked here: an object_id param added, a new track each.
        ck_assert_int_ge(
            int_field(gst_video_region_of_interest_meta_get_param(roi, "object_id"), "id"), 1);
      }
    }
    gst_buffer_unref(out);
    gst_harness_teardown(h);
  }
}
END_TEST

// A second classifier replaces the first one's deepfake and relevancy params and meta instead
// of adding another set; a frame without regions passes without any.
START_TEST(test_replaces_earlier_classification) {
  const cv::Mat bgr = face_image();
  const GstVideoInfo info = video_info("BGR", bgr.cols, bgr.rows);
  GstHarness *h = element_harness(make_classifier(), info);
  GstBuffer *in = frame_from_bgr(bgr, "BGR", 0);
  GstVideoRegionOfInterestMeta *roi = add_region(in, "face", 4, cv::Rect(40, 90, 160, 160), 9);
  gst_video_region_of_interest_meta_add_param(
      roi, gst_structure_new("deepfake", "label", G_TYPE_STRING, "stale", nullptr));
  const float stale[] = {0.5f};
  gst_buffer_add_deepfake_relevancy_meta(in, 4, 40, 90, 160, 160, 1, 1, stale);
  ck_assert_int_eq(gst_harness_push(h, in), GST_FLOW_OK);
  GstBuffer *out = pull_frame(h);
  assert_nonnull(out);
  roi = roi_with_id(out, 4);
  ck_assert_int_eq(count_params(roi, "deepfake"), 1);
  ck_assert_int_eq(count_params(roi, "relevancy"), 1);
  const std::string label =
      string_field(gst_video_region_of_interest_meta_get_param(roi, "deepfake"), "label");
  ck_assert(label == "fake" || label == "real");
  ck_assert_uint_eq(gst_buffer_get_n_meta(out, gst_deepfake_relevancy_meta_api_type_lookup()), 1);
  ck_assert_uint_gt(gst_buffer_get_deepfake_relevancy_meta_for_roi(out, 4)->grid_width, 1);
  gst_buffer_unref(out);

  GstBuffer *empty = frame_from_bgr(bgr, "BGR", frame_pts(1));
  const std::vector<uint8_t> pixels = bytes_of(empty);
  ck_assert_int_eq(gst_harness_push(h, empty), GST_FLOW_OK);
  out = pull_frame(h);
  ck_assert(bytes_of(out) == pixels);
  // The photo's face is not looked for: no detector runs in roi-list mode.
  ck_assert_uint_eq(roi_count(out), 0);
  ck_assert_uint_eq(gst_buffer_get_n_meta(out, gst_deepfake_relevancy_meta_api_type_lookup()), 0);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}
END_TEST

// Frames between two analysed ones (inference-interval) still carry their regions' results:
// by upstream id, or by overlap with the analysed frame's faces; a region matching none gets
// nothing.
START_TEST(test_frames_not_analysed_carry_results) {
  const cv::Mat bgr = face_image();
  const GstVideoInfo info = video_info("BGR", bgr.cols, bgr.rows);
  GstElement *detect = make_classifier();
  g_object_set(detect, "inference-interval", 2u, nullptr);
  GstHarness *h = element_harness(detect, info);
  const cv::Rect head(40, 90, 160, 160);
  GstBuffer *in = frame_from_bgr(bgr, "BGR", 0);
  add_region(in, "face", 1, head, 31);
  add_region(in, "face", 2, cv::Rect(0, 0, 60, 60), 0);
  ck_assert_int_eq(gst_harness_push(h, in), GST_FLOW_OK);
  GstBuffer *out = pull_frame(h);
  const int corner_track = int_field(
      gst_video_region_of_interest_meta_get_param(roi_with_id(out, 2), "object_id"), "id");
  gst_buffer_unref(out);

  in = frame_from_bgr(bgr, "BGR", frame_pts(1));             // not analysed
  add_region(in, "face", 1, head, 31);                       // the same id
  add_region(in, "face", 2, cv::Rect(2, 2, 60, 60), 0);      // overlapping, no id
  add_region(in, "face", 3, cv::Rect(150, 250, 50, 50), 0);  // new, overlapping nothing
  ck_assert_int_eq(gst_harness_push(h, in), GST_FLOW_OK);
  out = pull_frame(h);
  const GstStructure *by_id =
      gst_video_region_of_interest_meta_get_param(roi_with_id(out, 1), "deepfake");
  assert_nonnull(by_id);
  ck_assert_int_eq(int_field(by_id, "analyses"), 1);
  GstVideoRegionOfInterestMeta *overlapping = roi_with_id(out, 2);
  assert_nonnull(gst_video_region_of_interest_meta_get_param(overlapping, "deepfake"));
  ck_assert_int_eq(
      int_field(gst_video_region_of_interest_meta_get_param(overlapping, "object_id"), "id"),
      corner_track);
  assert_null(gst_video_region_of_interest_meta_get_param(roi_with_id(out, 3), "deepfake"));
  gst_buffer_unref(out);
  guint64 analysed = 0;
  g_object_get(detect, "frames-analysed", &analysed, nullptr);
  ck_assert_uint_eq(analysed, 1);
  gst_harness_teardown(h);
}
END_TEST

int main(int argc, char **argv) {
  char dir[] = "/tmp/dfd-test-regions-XXXXXX";
  if (mkdtemp(dir) == nullptr) {
    std::perror("mkdtemp");
    return EXIT_FAILURE;
  }
  g_model = std::string(dir) + "/model.safetensors";
  save_random_model(small_spatial_config("test-regions", "tests/test_detect_regions.cpp"), g_model,
                    13);
  gst_check_init(&argc, &argv);
  Suite *s = suite_create("detect-regions");
  TCase *tc = tcase_create("roi-list");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_classifies_upstream_regions);
  tcase_add_test(tc, test_object_class_filter);
  tcase_add_test(tc, test_replaces_earlier_classification);
  tcase_add_test(tc, test_frames_not_analysed_carry_results);
  suite_add_tcase(s, tc);
  SRunner *runner = srunner_create(s);
  srunner_run_all(runner, CK_NORMAL);
  const int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  std::remove(g_model.c_str());
  rmdir(dir);
  std::fflush(stdout);
  std::fflush(stderr);
  // As test_elements: an element of a failed test may still run; gst_deinit would wait for it.
  _exit(failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
