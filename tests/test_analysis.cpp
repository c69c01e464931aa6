// Face detection (YuNet, dlib HOG, OpenCV Haar) on real photos and composed frames, and the
// tracker's association, smoothing, hysteresis and re-analysis schedule.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "analysis/face_detector.h"
#include "analysis/tracker.h"

// check.h defines macros (fail, ...) that clash with libstdc++ headers: include it last.
#include <check.h>

namespace {

struct Photo {
  const char *file;
  cv::Point centre;  // of the face, read off the image by eye
  int size;          // rough face width in pixels
};

// tests/data/faces (see tests/data/README.md).
const Photo kPhotos[] = {
    {"real-photos-100.jpg", {124, 175}, 180},
    {"real-photos-137.jpg", {118, 102}, 110},
    {"real-photos-156.jpg", {127, 88}, 90},
};

cv::Mat load_gray(const char *file) {
  const char *dir = std::getenv("DFD_TEST_DATA");
  ck_assert_msg(dir != nullptr, "DFD_TEST_DATA is not set");
  const std::string path = std::string(dir) + "/faces/" + file;
  cv::Mat gray = cv::imread(path, cv::IMREAD_GRAYSCALE);
  ck_assert_msg(!gray.empty(), "cannot read %s", path.c_str());
  return gray;
}

dfd::DetectorOptions options(dfd::DetectorKind kind, int max_width, int min_face_size) {
  dfd::DetectorOptions o;
  o.kind = kind;
  o.max_width = max_width;
  o.min_face_size = min_face_size;
  return o;
}

const char *name(dfd::DetectorKind kind) {
  switch (kind) {
    case dfd::DetectorKind::Hog:
      return "hog";
    case dfd::DetectorKind::Haar:
      return "haar";
    case dfd::DetectorKind::Yunet:
      return "yunet";
  }
  return "?";
}

cv::Point centre(const cv::Rect &r) {
  return {r.x + r.width / 2, r.y + r.height / 2};
}

// The box is on the face: its centre near the face's centre and its size comparable.
void assert_on_face(const cv::Rect &box, cv::Point face_centre, int face_size, const char *what) {
  const cv::Point c = centre(box);
  const double distance = std::hypot(c.x - face_centre.x, c.y - face_centre.y);
  ck_assert_msg(distance <= 0.25 * face_size, "%s: box centre (%d,%d) is %.0f px from (%d,%d)",
                what, c.x, c.y, distance, face_centre.x, face_centre.y);
  ck_assert_msg(box.width >= face_size * 0.6 && box.width <= face_size * 1.6,
                "%s: box width %d for a face of about %d", what, box.width, face_size);
}

// A 1280x720 gray frame with the 137 photo enlarged 2x (a face of about 220 px) at (700, 150).
cv::Mat composed_frame(cv::Point *face_centre, int *face_size) {
  const cv::Mat photo = load_gray(kPhotos[1].file);
  cv::Mat big;
  cv::resize(photo, big, {}, 2.0, 2.0, cv::INTER_CUBIC);
  cv::Mat frame(720, 1280, CV_8UC1, cv::Scalar(90));
  const cv::Point origin(700, 150);
  big.copyTo(frame(cv::Rect(origin, big.size())));
  *face_centre = origin + kPhotos[1].centre * 2;
  *face_size = kPhotos[1].size * 2;
  return frame;
}

constexpr dfd::DetectorKind kKinds[] = {dfd::DetectorKind::Yunet, dfd::DetectorKind::Hog,
                                        dfd::DetectorKind::Haar};

}  // namespace

// ---- detector ---------------------------------------------------------------------------

START_TEST(test_detects_real_faces) {
  for (const dfd::DetectorKind kind : kKinds) {
    auto detector = dfd::FaceDetector::create(options(kind, 0, 40));
    for (const Photo &photo : kPhotos) {
      const auto faces = detector->detect(load_gray(photo.file));
      ck_assert_msg(faces.size() == 1, "%s found %zu faces in %s", name(kind), faces.size(),
                    photo.file);
      assert_on_face(faces[0].box, photo.centre, photo.size, photo.file);
      ck_assert(faces[0].confidence > 0.f && faces[0].confidence <= 1.f);
    }
  }
}
END_TEST

START_TEST(test_full_frame_coordinates_when_downscaled) {
  cv::Point face_centre;
  int face_size = 0;
  const cv::Mat frame = composed_frame(&face_centre, &face_size);
  for (const dfd::DetectorKind kind : kKinds) {
    // Detection at 640x360: the box must come back in 1280x720 pixels.
    auto half = dfd::FaceDetector::create(options(kind, 640, 160));
    const auto faces = half->detect(frame);
    ck_assert_msg(faces.size() == 1, "%s found %zu faces", name(kind), faces.size());
    assert_on_face(faces[0].box, face_centre, face_size, name(kind));
    ck_assert((faces[0].box & cv::Rect(0, 0, 1280, 720)) == faces[0].box);

    auto full = dfd::FaceDetector::create(options(kind, 0, 160));
    const auto reference = full->detect(frame);
    ck_assert_uint_eq(reference.size(), 1);
    const float iou = dfd::intersection_over_union(faces[0].box, reference[0].box);
    ck_assert_msg(iou >= 0.6f, "%s: half-size box differs from full-size box (IoU %.2f)",
                  name(kind), iou);
  }
}
END_TEST

START_TEST(test_detect_near_follows_known_faces) {
  // What the element does between whole-frame searches: look for each tracked face around its
  // last box only. The face has moved since that box was found; it must still be found, in
  // frame pixels, and nothing where the box holds no face.
  cv::Point face_centre;
  int face_size = 0;
  const cv::Mat frame = composed_frame(&face_centre, &face_size);
  const cv::Rect moved(face_centre.x - face_size / 2 + face_size / 6,
                       face_centre.y - face_size / 2 - face_size / 8, face_size, face_size);
  const cv::Rect empty_area(40, 400, face_size, face_size);
  for (const dfd::DetectorKind kind : kKinds) {
    auto detector = dfd::FaceDetector::create(options(kind, 640, 64));
    const auto faces = detector->detect_near(frame, {moved});
    ck_assert_msg(faces.size() == 1, "%s found %zu faces near the moved box", name(kind),
                  faces.size());
    assert_on_face(faces[0].box, face_centre, face_size, name(kind));

    ck_assert_uint_eq(detector->detect_near(frame, {empty_area}).size(), 0);
    ck_assert_uint_eq(detector->detect_near(frame, {}).size(), 0);
    ck_assert_uint_eq(detector->detect_near(frame, {cv::Rect(5000, 5000, 100, 100)}).size(), 0);
    // Two tracks on one face (one about to be dropped) report it once.
    const auto both = detector->detect_near(frame, {moved, moved + cv::Point(8, 8)});
    ck_assert_msg(both.size() == 1, "%s reported %zu faces for one", name(kind), both.size());
  }
}
END_TEST

START_TEST(test_min_face_size_limits_downscaling) {
  // max_width 320 alone would shrink the 220 px face to 55 px, under HOG's 80 px window. With
  // min_face_size 160 the detector must detect at 0.5 instead and still find it.
  cv::Point face_centre;
  int face_size = 0;
  const cv::Mat frame = composed_frame(&face_centre, &face_size);
  auto detector = dfd::FaceDetector::create(options(dfd::DetectorKind::Hog, 320, 160));
  const auto faces = detector->detect(frame);
  ck_assert_uint_eq(faces.size(), 1);
  assert_on_face(faces[0].box, face_centre, face_size, "hog at max_width 320");
}
END_TEST

START_TEST(test_blank_frames_have_no_faces) {
  for (const dfd::DetectorKind kind : kKinds) {
    auto detector = dfd::FaceDetector::create(options(kind, 640, 64));
    ck_assert_uint_eq(detector->detect(cv::Mat(720, 1280, CV_8UC1, cv::Scalar(0))).size(), 0);
    ck_assert_uint_eq(detector->detect(cv::Mat(720, 1280, CV_8UC1, cv::Scalar(128))).size(), 0);
    ck_assert_uint_eq(detector->detect(cv::Mat()).size(), 0);
  }
}
END_TEST

START_TEST(test_min_face_size_filters) {
  for (const dfd::DetectorKind kind : kKinds) {
    for (const int min_size : {60, 100, 150}) {
      auto detector = dfd::FaceDetector::create(options(kind, 0, min_size));
      for (const Photo &photo : kPhotos) {
        for (const dfd::FaceBox &face : detector->detect(load_gray(photo.file))) {
          // A face's size is its longer side (YuNet's boxes are taller than wide).
          ck_assert_msg(std::max(face.box.width, face.box.height) >= min_size &&
                            2 * std::min(face.box.width, face.box.height) >= min_size,
                        "%s kept a %dx%d box under min_face_size %d in %s", name(kind),
                        face.box.width, face.box.height, min_size, photo.file);
        }
      }
    }
    // The 156 face is about 90 px: found at 60, gone at 130. (Haar, asked for larger faces
    // only, can still return a loose box around a smaller face; it then meets the size.)
    const cv::Mat gray = load_gray(kPhotos[2].file);
    ck_assert_uint_eq(dfd::FaceDetector::create(options(kind, 0, 60))->detect(gray).size(), 1);
    ck_assert_msg(dfd::FaceDetector::create(options(kind, 0, 130))->detect(gray).empty(),
                  "%s kept a face under min_face_size", name(kind));
  }
}
END_TEST

START_TEST(test_faces_sorted_by_area) {
  // Two photos side by side: faces of about 180 and 110 px.
  const cv::Mat a = load_gray(kPhotos[0].file);
  const cv::Mat b = load_gray(kPhotos[1].file);
  cv::Mat frame(480, 800, CV_8UC1, cv::Scalar(90));
  b.copyTo(frame(cv::Rect(cv::Point(20, 100), b.size())));
  a.copyTo(frame(cv::Rect(cv::Point(450, 80), a.size())));
  for (const dfd::DetectorKind kind : kKinds) {
    auto detector = dfd::FaceDetector::create(options(kind, 0, 60));
    const auto faces = detector->detect(frame);
    ck_assert_msg(faces.size() == 2, "%s found %zu faces", name(kind), faces.size());
    ck_assert_int_ge(faces[0].box.area(), faces[1].box.area());
    assert_on_face(faces[0].box, cv::Point(450, 80) + kPhotos[0].centre, kPhotos[0].size,
                   "larger face");
    assert_on_face(faces[1].box, cv::Point(20, 100) + kPhotos[1].centre, kPhotos[1].size,
                   "smaller face");
  }
}
END_TEST

START_TEST(test_detector_errors) {
  auto detector = dfd::FaceDetector::create({});
  try {
    detector->detect(cv::Mat(100, 100, CV_8UC3, cv::Scalar(0, 0, 0)));
    ck_abort_msg("a colour frame was accepted");
  } catch (const std::invalid_argument &) {
  }
  dfd::DetectorOptions bad = options(dfd::DetectorKind::Haar, 640, 64);
  bad.haar_cascade = "/nonexistent/cascade.xml";
  try {
    dfd::FaceDetector::create(bad);
    ck_abort_msg("a missing cascade loaded");
  } catch (const std::runtime_error &e) {
    ck_assert_ptr_nonnull(std::strstr(e.what(), "/nonexistent/cascade.xml"));
  }
  char corrupt[] = "/tmp/dfd-test-cascade-XXXXXX";
  const int fd = mkstemp(corrupt);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, "not a cascade\n", 14), 14);
  close(fd);
  bad.haar_cascade = corrupt;
  try {
    dfd::FaceDetector::create(bad);
    ck_abort_msg("a corrupt cascade loaded");
  } catch (const std::runtime_error &e) {
    ck_assert_ptr_nonnull(std::strstr(e.what(), corrupt));
  }
  unlink(corrupt);
}
END_TEST

START_TEST(test_yunet_landmarks_and_colour) {
  auto detector = dfd::FaceDetector::create(options(dfd::DetectorKind::Yunet, 0, 40));
  for (const Photo &photo : kPhotos) {
    const cv::Mat gray = load_gray(photo.file);
    const auto faces = detector->detect(gray);
    ck_assert_uint_eq(faces.size(), 1);
    const dfd::FaceBox &face = faces[0];
    ck_assert_uint_eq(face.landmarks.size(), 5);
    // Eyes above the nose, the nose above the mouth corners, all inside the box; the
    // person's right eye and mouth corner lie on the image's left.
    const auto &p = face.landmarks;
    const cv::Rect2f box(face.box);
    for (const cv::Point2f &point : p) ck_assert_msg(box.contains(point), "%s", photo.file);
    ck_assert(p[0].x < p[1].x && p[3].x < p[4].x);
    ck_assert(std::max(p[0].y, p[1].y) < p[2].y && p[2].y < std::min(p[3].y, p[4].y));

    // The same face from the colour image.
    const std::string path = std::string(std::getenv("DFD_TEST_DATA")) + "/faces/" + photo.file;
    const auto colour = detector->detect(cv::imread(path, cv::IMREAD_COLOR));
    ck_assert_uint_eq(colour.size(), 1);
    ck_assert(dfd::intersection_over_union(colour[0].box, face.box) > 0.8f);
  }
  // Sides that are not multiples of 32, down to a pixel, must not reach the network's
  // shape limits.
  for (const int side : {1, 7, 31, 33, 63, 65, 101}) {
    const cv::Mat tiny(side, side + 3, CV_8UC1, cv::Scalar(128));
    ck_assert(detector->detect(tiny).empty());
  }
  dfd::DetectorOptions missing = options(dfd::DetectorKind::Yunet, 640, 64);
  missing.yunet_model = "/nonexistent/yunet.onnx";
  try {
    dfd::FaceDetector::create(missing);
    ck_abort_msg("a missing YuNet model must be refused");
  } catch (const std::runtime_error &e) {
    ck_assert_msg(std::strstr(e.what(), "/nonexistent/yunet.onnx") != nullptr, "%s", e.what());
  }
}
END_TEST

// ---- tracker ----------------------------------------------------------------------------

namespace {

dfd::FaceBox face_at(int x, int y, int size = 100) {
  return {cv::Rect(x, y, size, size), 0.9f, {}};
}

dfd::TrackerOptions tracker_options() {
  dfd::TrackerOptions o;
  o.iou_threshold = 0.3f;
  o.max_missed = 2;
  o.smoothing = 1.f;  // smoothed == newest score, so hysteresis tests read directly
  o.threshold = 0.5f;
  o.verdict_analyses = 3;
  return o;
}

}  // namespace

START_TEST(test_iou) {
  const cv::Rect a(0, 0, 10, 10);
  ck_assert_float_eq(dfd::intersection_over_union(a, a), 1.f);
  ck_assert_float_eq(dfd::intersection_over_union(a, cv::Rect(20, 20, 10, 10)), 0.f);
  // Half overlap: 50 / (100 + 100 - 50).
  ck_assert_float_eq_tol(dfd::intersection_over_union(a, cv::Rect(5, 0, 10, 10)), 1.f / 3.f, 1e-6f);
  ck_assert_float_eq(dfd::intersection_over_union(cv::Rect(), cv::Rect()), 0.f);
}
END_TEST

START_TEST(test_ids_stable_over_moving_boxes) {
  dfd::Tracker tracker(tracker_options());
  auto ids = tracker.associate({face_at(100, 100), face_at(400, 100)});
  ck_assert_uint_eq(ids.size(), 2);
  ck_assert_uint_eq(ids[0], 1);
  ck_assert_uint_eq(ids[1], 2);
  for (int step = 1; step <= 30; ++step) {
    // Both move 8 px a frame (IoU 0.85 between frames), listed in alternating order.
    std::vector<dfd::FaceBox> faces = {face_at(100 + 8 * step, 100),
                                       face_at(400 + 8 * step, 100 + 3 * step)};
    const bool swapped = step % 2 == 1;
    if (swapped) std::swap(faces[0], faces[1]);
    ids = tracker.associate(faces);
    ck_assert_uint_eq(ids[swapped ? 1 : 0], 1);
    ck_assert_uint_eq(ids[swapped ? 0 : 1], 2);
  }
  const dfd::Track *track = tracker.find(1);
  ck_assert_ptr_nonnull(track);
  ck_assert_int_eq(track->box.x, 100 + 8 * 30);
  ck_assert_uint_eq(tracker.tracks().size(), 2);
}
END_TEST

START_TEST(test_new_face_gets_new_id) {
  dfd::Tracker tracker(tracker_options());
  tracker.associate({face_at(100, 100)});
  const auto ids = tracker.associate({face_at(105, 100), face_at(600, 300, 80)});
  ck_assert_uint_eq(ids[0], 1);
  ck_assert_uint_eq(ids[1], 2);
  // A box overlapping too little (IoU < 0.3) is a new face, not a jump of the old one.
  const auto jumped = tracker.associate({face_at(105 + 80, 100), face_at(600, 300, 80)});
  ck_assert_uint_eq(jumped[0], 3);
  ck_assert_uint_eq(jumped[1], 2);
  ck_assert_float_eq(tracker.find(2)->detection_confidence, 0.9f);
}
END_TEST

START_TEST(test_track_dropped_after_max_missed) {
  dfd::Tracker tracker(tracker_options());  // max_missed = 2
  tracker.associate({face_at(100, 100)});
  tracker.associate({});
  tracker.associate({});
  ck_assert_ptr_nonnull(tracker.find(1));
  ck_assert_int_eq(tracker.find(1)->missed, 2);
  // Seen again within max_missed: same id, missed cleared.
  ck_assert_uint_eq(tracker.associate({face_at(102, 100)})[0], 1);
  ck_assert_int_eq(tracker.find(1)->missed, 0);
  for (int i = 0; i < 3; ++i) tracker.associate({});
  ck_assert_ptr_null(tracker.find(1));
  ck_assert(tracker.tracks().empty());
  // Back after being dropped: a new id, and scores for the old one are ignored.
  ck_assert_uint_eq(tracker.associate({face_at(102, 100)})[0], 2);
  ck_assert(!tracker.add_score(1, 0.9f, {}, 10).changed);
  ck_assert(!tracker.find(2)->scored);
}
END_TEST

START_TEST(test_smoothing_arithmetic) {
  dfd::TrackerOptions o = tracker_options();
  o.smoothing = 0.25f;
  dfd::Tracker tracker(o);
  tracker.associate({face_at(0, 0)});
  dfd::RelevancyGrid grid{2, 1, {0.25f, 0.75f}};
  tracker.add_score(1, 0.8f, grid, 3);
  const dfd::Track *t = tracker.find(1);
  ck_assert(t->scored);
  ck_assert_float_eq_tol(t->smoothed, 0.8f, 1e-6f);  // first score is taken as it is
  tracker.add_score(1, 0.4f, {}, 5);
  ck_assert_float_eq_tol(t->smoothed, 0.25f * 0.4f + 0.75f * 0.8f, 1e-6f);  // 0.7
  tracker.add_score(1, 0.0f, {}, 7);
  ck_assert_float_eq_tol(t->smoothed, 0.75f * 0.7f, 1e-6f);  // 0.525
  ck_assert_float_eq(t->score, 0.0f);
  ck_assert_int_eq(t->analyses, 3);
  ck_assert_int_eq(t->last_scored_frame, 7);
  ck_assert(t->relevancy.values.empty());  // the newest analysis's grid
}
END_TEST

START_TEST(test_verdict_hysteresis) {
  dfd::Tracker tracker(tracker_options());  // 3 analyses, threshold 0.5, no smoothing
  tracker.associate({face_at(0, 0)});
  int64_t frame = 0;
  auto score = [&](float p) { return tracker.add_score(1, p, {}, frame++); };
  ck_assert(!score(0.9f).changed);
  ck_assert(!score(0.9f).changed);
  ck_assert(!score(0.1f).changed);  // agreement with "real" resets the streak
  ck_assert_int_eq(tracker.find(1)->streak, 0);
  ck_assert(!score(0.9f).changed);
  ck_assert(!score(0.9f).changed);
  ck_assert(!tracker.find(1)->fake);
  const dfd::VerdictChange up = score(0.5f);  // at the threshold counts as fake
  ck_assert(up.changed);
  ck_assert(up.fake);
  ck_assert(tracker.find(1)->fake);
  ck_assert_int_eq(tracker.find(1)->streak, 0);
  ck_assert(!score(0.9f).changed);  // stays fake
  ck_assert(!score(0.2f).changed);
  ck_assert(!score(0.2f).changed);
  const dfd::VerdictChange down = score(0.2f);
  ck_assert(down.changed);
  ck_assert(!down.fake);
  ck_assert(!tracker.find(1)->fake);
}
END_TEST

START_TEST(test_single_analysis_verdict) {
  dfd::TrackerOptions o = tracker_options();
  o.verdict_analyses = 1;
  dfd::Tracker tracker(o);
  tracker.associate({face_at(0, 0)});
  ck_assert(!tracker.add_score(1, 0.2f, {}, 0).changed);
  ck_assert(tracker.add_score(1, 0.7f, {}, 1).changed);
  ck_assert(!tracker.add_score(1, 0.7f, {}, 2).changed);
  const dfd::VerdictChange back = tracker.add_score(1, 0.3f, {}, 3);
  ck_assert(back.changed);
  ck_assert(!back.fake);
}
END_TEST

START_TEST(test_wants_analysis_intervals) {
  dfd::Tracker tracker(tracker_options());
  tracker.associate({face_at(0, 0)});
  ck_assert(tracker.wants_analysis(1, 0, 10));  // never submitted
  tracker.mark_submitted(1, 5);
  ck_assert(!tracker.wants_analysis(1, 5, 10));
  ck_assert(!tracker.wants_analysis(1, 14, 10));
  ck_assert(tracker.wants_analysis(1, 15, 10));
  ck_assert(tracker.wants_analysis(1, 5, 1));
  // 0: scored once, never again.
  ck_assert(!tracker.wants_analysis(1, 5, 0));
  ck_assert(!tracker.wants_analysis(1, 5000, 0));
  ck_assert_int_eq(tracker.find(1)->last_submitted_frame, 5);
  ck_assert(!tracker.wants_analysis(99, 100, 10));  // no such track
}
END_TEST

START_TEST(test_reset) {
  dfd::Tracker tracker(tracker_options());
  tracker.associate({face_at(0, 0), face_at(300, 0)});
  tracker.reset();
  ck_assert(tracker.tracks().empty());
  // Ids are not reused after a reset.
  ck_assert_uint_eq(tracker.associate({face_at(0, 0)})[0], 3);
}
END_TEST

int main() {
  Suite *suite = suite_create("analysis");
  TCase *detector = tcase_create("detector");
  tcase_set_timeout(detector, 120);
  tcase_add_test(detector, test_detects_real_faces);
  tcase_add_test(detector, test_full_frame_coordinates_when_downscaled);
  tcase_add_test(detector, test_min_face_size_limits_downscaling);
  tcase_add_test(detector, test_detect_near_follows_known_faces);
  tcase_add_test(detector, test_blank_frames_have_no_faces);
  tcase_add_test(detector, test_min_face_size_filters);
  tcase_add_test(detector, test_faces_sorted_by_area);
  tcase_add_test(detector, test_detector_errors);
  tcase_add_test(detector, test_yunet_landmarks_and_colour);
  suite_add_tcase(suite, detector);
  TCase *tracker = tcase_create("tracker");
  tcase_add_test(tracker, test_iou);
  tcase_add_test(tracker, test_ids_stable_over_moving_boxes);
  tcase_add_test(tracker, test_new_face_gets_new_id);
  tcase_add_test(tracker, test_track_dropped_after_max_missed);
  tcase_add_test(tracker, test_smoothing_arithmetic);
  tcase_add_test(tracker, test_verdict_hysteresis);
  tcase_add_test(tracker, test_single_analysis_verdict);
  tcase_add_test(tracker, test_wants_analysis_intervals);
  tcase_add_test(tracker, test_reset);
  suite_add_tcase(suite, tracker);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_VERBOSE);
  const int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
