// The analysis path that deepfakedetect, deepfake-scan and deepfake-eval --videos share
// (src/analysis): tracks from upstream ids, FaceAnalyzer on detected and on given regions with
// a small random model, the completion callback, the detection worker, and the live
// scheduler's decisions on made-up loads. LibTorch runs here: CK_FORK=no.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "analysis/box_relevancy.h"
#include "analysis/detection_worker.h"
#include "analysis/face_analyzer.h"
#include "analysis/frame_view.h"
#include "analysis/live_scheduler.h"
#include "analysis/tracker.h"
#include "core/batcher.h"
#include "random_model.h"

// check.h defines macros (fail, ...) that clash with libstdc++ headers: include it last.
#include <check.h>

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string model_path() {
  static const std::string path = [] {
    const std::string p =
        "/tmp/dfd-test-analysis-flow-" + std::to_string(getpid()) + ".safetensors";
    dfd::testing::save_random_model(
        dfd::testing::small_spatial_config("analysis-flow", "test_analysis_flow.cpp"), p, 7);
    return p;
  }();
  return path;
}

std::shared_ptr<dfd::Batcher> batcher(int batch_size = 8) {
  dfd::BatcherOptions options;
  options.batch_size = batch_size;
  options.timeout = milliseconds(0);
  return dfd::Batcher::acquire("", model_path(), {}, options);
}

cv::Mat face_photo() {
  const char *dir = std::getenv("DFD_TEST_DATA");
  ck_assert_msg(dir != nullptr, "DFD_TEST_DATA is not set");
  const cv::Mat image = cv::imread(std::string(dir) + "/faces/real-photos-100.jpg");
  ck_assert_msg(!image.empty(), "cannot read the test face");
  return image;
}

// The photo (239x320, a face of about 180 px) on a larger gray frame at (300, 100).
cv::Mat frame_with_face() {
  const cv::Mat photo = face_photo();
  cv::Mat frame(600, 800, CV_8UC3, cv::Scalar(90, 90, 90));
  photo.copyTo(frame(cv::Rect(cv::Point(300, 100), photo.size())));
  return frame;
}

dfd::FaceBox box(int x, int y, int size) {
  return {cv::Rect(x, y, size, size), 0.9f, {}};
}

// Waits for the result of `analysis`, which must have submitted faces.
const std::vector<dfd::Prediction> &scores(const dfd::FrameAnalysis &analysis) {
  ck_assert(analysis.result.valid());
  return analysis.result.get();
}

}  // namespace

// ---- tracks from upstream ids -------------------------------------------------------------

START_TEST(test_given_ids_are_track_ids) {
  dfd::Tracker tracker;
  // Two faces with upstream ids 40 and 7, one without: the third is tracked by overlap and
  // numbered above every given id.
  auto ids = tracker.associate({box(0, 0, 100), box(300, 0, 100), box(600, 0, 100)}, {40, 7, 0});
  ck_assert_uint_eq(ids[0], 40);
  ck_assert_uint_eq(ids[1], 7);
  ck_assert_uint_eq(ids[2], 41);
  // The upstream ids win over overlap: the faces swapped places, their ids follow them.
  ids = tracker.associate({box(300, 0, 100), box(0, 0, 100), box(605, 0, 100)}, {40, 7, 0});
  ck_assert_uint_eq(ids[0], 40);
  ck_assert_uint_eq(ids[1], 7);
  ck_assert_uint_eq(ids[2], 41);
  ck_assert_int_eq(tracker.tracks().size(), 3);
  ck_assert_int_eq(tracker.find(40)->box.x, 300);
}
END_TEST

START_TEST(test_given_id_track_ages_out) {
  dfd::TrackerOptions options;
  options.max_missed = 2;
  dfd::Tracker tracker(options);
  tracker.associate({box(0, 0, 100)}, {5});
  for (int round = 0; round < 2; ++round) tracker.associate({}, {});
  ck_assert_ptr_nonnull(tracker.find(5));
  tracker.associate({}, {});
  ck_assert_ptr_null(tracker.find(5));
  // The id comes back: a new track with it, unscored.
  const auto ids = tracker.associate({box(0, 0, 100)}, {5});
  ck_assert_uint_eq(ids[0], 5);
  ck_assert(!tracker.find(5)->scored);
}
END_TEST

// ---- FaceAnalyzer ---------------------------------------------------------------------------

START_TEST(test_analyzer_detects_tracks_and_scores) {
  dfd::DetectorOptions detector;
  dfd::FaceAnalyzer analyzer(dfd::FaceDetector::create(detector), batcher(), {});
  const dfd::BgrFrameView frame(frame_with_face());
  dfd::AnalysisSettings settings;
  const dfd::FrameAnalysis first = analyzer.analyse(frame, 0, settings);
  ck_assert_int_eq(first.faces.size(), 1);
  ck_assert_int_eq(first.frame_size.width, 800);
  const dfd::TrackedFace &face = first.faces[0];
  ck_assert_uint_eq(face.track_id, 1);
  ck_assert_int_eq(face.roi_id, -1);
  ck_assert_msg((face.box & cv::Rect(300, 100, 239, 320)) == face.box, "box off the photo");
  ck_assert_int_eq(first.submitted.size(), 1);
  // The crop is the seed's square around the box (one pixel short when the sides differ by an
  // odd number, as the seed's integer halving makes it).
  ck_assert_int_le(std::abs(first.submitted[0].crop.width - first.submitted[0].crop.height), 1);

  const auto &predictions = scores(first);
  ck_assert_int_eq(predictions.size(), 1);
  ck_assert(analyzer.apply(first, predictions).empty());  // a new track starts real
  const auto reports = analyzer.report(first.faces);
  ck_assert(reports[0].scored);
  ck_assert_int_eq(reports[0].analyses, 1);
  ck_assert_float_eq(reports[0].score, predictions[0].probability);
  ck_assert_float_eq(reports[0].smoothed, predictions[0].probability);
  // The relevancy was mapped onto the face box, keeping its aspect.
  ck_assert_int_gt(reports[0].relevancy.width, 0);
  ck_assert_int_eq(reports[0].relevancy.values.size(),
                   reports[0].relevancy.width * reports[0].relevancy.height);

  // The next frame follows the same face: same track, scored again.
  const dfd::FrameAnalysis second = analyzer.analyse(frame, 1, settings);
  ck_assert_int_eq(second.faces.size(), 1);
  ck_assert_uint_eq(second.faces[0].track_id, 1);
  analyzer.apply(second, scores(second));
  ck_assert_int_eq(analyzer.report(second.faces)[0].analyses, 2);
}
END_TEST

START_TEST(test_analyzer_given_regions) {
  // No detector at all: the regions come from upstream.
  dfd::FaceAnalyzer analyzer(nullptr, batcher(), {});
  const dfd::BgrFrameView frame(frame_with_face());
  dfd::AnalysisSettings settings;
  ck_assert_msg(
      [&] {
        try {
          analyzer.analyse(frame, 0, settings);
        } catch (const std::logic_error &) {
          return true;
        }
        return false;
      }(),
      "analyse() without a detector must throw");
  const std::vector<dfd::GivenRegion> regions = {
      {cv::Rect(320, 150, 200, 200), 0.8f, 12, 3},
      {cv::Rect(700, 500, 200, 200), 0.7f, 0, 4},  // reaches past the frame: clipped
      {cv::Rect(900, 900, 50, 50), 0.6f, 13, 5},   // wholly outside: nothing to classify
  };
  const dfd::FrameAnalysis analysis = analyzer.analyse_regions(frame, 0, settings, regions);
  ck_assert(!analysis.full_detection);
  ck_assert_int_eq(analysis.faces.size(), 2);
  ck_assert_uint_eq(analysis.faces[0].track_id, 12);
  ck_assert_int_eq(analysis.faces[0].roi_id, 3);
  ck_assert_float_eq(analysis.faces[0].detection_confidence, 0.8f);
  ck_assert_uint_eq(analysis.faces[1].track_id, 13);  // above the highest given id
  ck_assert_int_eq(analysis.faces[1].roi_id, 4);
  ck_assert(analysis.faces[1].box == cv::Rect(700, 500, 100, 100));
  ck_assert_int_eq(scores(analysis).size(), 2);

  // The same crop scores the same whether the box came from a detector or from upstream.
  const dfd::FrameAnalysis again = analyzer.analyse_regions(frame, 1, settings, {regions[0]});
  ck_assert_float_eq_tol(scores(again)[0].probability, scores(analysis)[0].probability, 1e-5);
}
END_TEST

START_TEST(test_analyzer_reclassify_never_and_max_faces) {
  dfd::FaceAnalyzer analyzer(nullptr, batcher(), {});
  const dfd::BgrFrameView frame(frame_with_face());
  const std::vector<dfd::GivenRegion> regions = {{cv::Rect(320, 150, 200, 200), 0.8f, 1, 0},
                                                 {cv::Rect(50, 50, 150, 150), 0.8f, 2, 1}};
  dfd::AnalysisSettings settings;
  settings.reclassify_interval = 0;
  settings.max_faces = 1;
  // One face per frame: the one scored longest ago (never) first, in order.
  dfd::FrameAnalysis a = analyzer.analyse_regions(frame, 0, settings, regions);
  ck_assert_int_eq(a.submitted.size(), 1);
  ck_assert_uint_eq(a.submitted[0].track_id, 1);
  a = analyzer.analyse_regions(frame, 1, settings, regions);
  ck_assert_int_eq(a.submitted.size(), 1);
  ck_assert_uint_eq(a.submitted[0].track_id, 2);
  // reclassify-interval 0: each face was scored once and never again.
  for (int64_t index = 2; index < 6; ++index) {
    a = analyzer.analyse_regions(frame, index, settings, regions);
    ck_assert_int_eq(a.submitted.size(), 0);
    ck_assert(!a.result.valid());
    ck_assert_int_eq(a.faces.size(), 2);
  }
}
END_TEST

// The callback comes after the result is ready, so that a waiter woken by it never polls.
START_TEST(test_completion_callback_after_result) {
  dfd::FaceAnalyzer analyzer(nullptr, batcher(), {});
  struct Shared {
    std::mutex lock;
    std::condition_variable changed;
    int calls = 0;
  };
  auto shared = std::make_shared<Shared>();
  analyzer.set_completion_callback([shared] {
    std::lock_guard<std::mutex> lock(shared->lock);
    ++shared->calls;
    shared->changed.notify_all();
  });
  const dfd::BgrFrameView frame(frame_with_face());
  const dfd::FrameAnalysis analysis =
      analyzer.analyse_regions(frame, 0, {}, {{cv::Rect(320, 150, 200, 200), 0.8f, 0, 0}});
  {
    std::unique_lock<std::mutex> lock(shared->lock);
    shared->changed.wait(lock, [&] { return shared->calls > 0; });
  }
  ck_assert(analysis.result.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
  ck_assert_int_eq(shared->calls, 1);
  // Nothing submitted: no callback.
  analyzer.analyse_regions(frame, 1, {}, {});
  ck_assert_int_eq(shared->calls, 1);
}
END_TEST

START_TEST(test_box_relevancy_spans_box) {
  dfd::ModelConfig config;
  config.architecture = dfd::Architecture::Spatial;
  config.image_size = 224;
  // A 7x7 grid hot in its left column only.
  dfd::RelevancyGrid grid{7, 7, std::vector<float>(49, 0.f)};
  for (int y = 0; y < 7; ++y) grid.values[static_cast<size_t>(y) * 7] = 1.f;
  dfd::SubmittedFace face;
  face.box = cv::Rect(100, 100, 200, 100);  // wide box
  face.crop = cv::Rect(100, 50, 200, 200);  // its square crop
  face.content = cv::Rect(0, 0, 224, 224);  // filling the input
  const dfd::RelevancyGrid out = dfd::box_relevancy(grid, config, face, 64);
  ck_assert_int_eq(out.width, 64);
  ck_assert_int_eq(out.height, 32);  // the box's aspect
  const auto at = [&](int x, int y) { return out.values[static_cast<size_t>(y) * out.width + x]; };
  ck_assert_float_gt(at(0, 16), 0.5f);   // hot on the left
  ck_assert_float_lt(at(63, 16), 0.1f);  // cold on the right
  ck_assert(dfd::box_relevancy({}, config, face).values.empty());
}
END_TEST

// ---- YuNet's false faces -----------------------------------------------------------------------

// YuNet 2022 reports frame-high "faces" on noise (what a lost analogue signal shows), scored
// 0.7-0.9; the detector drops them by their five points. Real faces are still found.
START_TEST(test_yunet_no_faces_on_noise) {
  dfd::DetectorOptions options;
  options.kind = dfd::DetectorKind::Yunet;
  std::unique_ptr<dfd::FaceDetector> detector = dfd::FaceDetector::create(options);
  int false_faces = 0;
  for (const cv::Size size : {cv::Size(238, 320), cv::Size(640, 480), cv::Size(1280, 720)}) {
    for (unsigned seed = 0; seed < 40; ++seed) {
      cv::Mat noise(size, CV_8UC3);
      cv::RNG rng(seed);
      rng.fill(noise, cv::RNG::UNIFORM, 0, 256);
      if (seed % 2 == 1) cv::GaussianBlur(noise, noise, cv::Size(9, 9), 3);
      cv::Mat gray;
      cv::cvtColor(noise, gray, cv::COLOR_BGR2GRAY);
      false_faces += static_cast<int>(detector->detect(gray).size());
    }
  }
  ck_assert_int_eq(false_faces, 0);
  const cv::Mat photo = face_photo();
  cv::Mat gray;
  cv::cvtColor(photo, gray, cv::COLOR_BGR2GRAY);
  const std::vector<dfd::FaceBox> faces = detector->detect(gray);
  ck_assert_int_eq(faces.size(), 1);
  ck_assert_int_eq(faces[0].landmarks.size(), 5);
}
END_TEST

// ---- DetectionWorker ------------------------------------------------------------------------

namespace {

class MatSource final : public dfd::FrameSource {
 public:
  explicit MatSource(cv::Mat bgr) : bgr_(std::move(bgr)) {}
  std::unique_ptr<dfd::FrameView> map() override {
    if (bgr_.empty()) return nullptr;
    return std::make_unique<dfd::BgrFrameView>(bgr_);
  }

 private:
  cv::Mat bgr_;
};

}  // namespace

START_TEST(test_worker_runs_jobs_in_order) {
  dfd::FaceAnalyzer analyzer(nullptr, batcher(), {});
  std::mutex lock;
  std::condition_variable changed;
  std::atomic<uint64_t> done{0}, busy_ns{0};
  dfd::DetectionWorker worker(analyzer, lock, changed, done, busy_ns);
  std::vector<std::shared_ptr<dfd::FrameJob>> jobs;
  for (int i = 0; i < 3; ++i) {
    auto job = std::make_shared<dfd::FrameJob>();
    job->frame_index = i;
    job->given_regions = true;
    job->regions = {{cv::Rect(320, 150, 200, 200), 0.8f, 0, 0}};
    // The second frame cannot be read: an error for that job only.
    job->source = std::make_unique<MatSource>(i == 1 ? cv::Mat() : frame_with_face());
    jobs.push_back(job);
  }
  {
    std::lock_guard<std::mutex> guard(lock);
    for (const auto &job : jobs) worker.submit_locked(job);
  }
  {
    std::unique_lock<std::mutex> guard(lock);
    changed.wait(guard, [&] { return jobs.back()->state == dfd::FrameJob::State::Done; });
    // In order: the last one done means all are.
    for (const auto &job : jobs) ck_assert(job->state == dfd::FrameJob::State::Done);
  }
  ck_assert_str_eq(jobs[1]->error.c_str(), "cannot read the video frame");
  ck_assert(jobs[0]->error.empty());
  ck_assert(jobs[2]->error.empty());
  ck_assert_uint_eq(done.load(), 2);
  ck_assert_uint_gt(busy_ns.load(), 0);
  // The frame was released as soon as it was read.
  ck_assert_ptr_null(jobs[0]->source.get());
  // One track across the frames, scored on frames 0 and 2.
  ck_assert_uint_eq(jobs[2]->analysis.faces[0].track_id, jobs[0]->analysis.faces[0].track_id);
  ck_assert_int_eq(scores(jobs[2]->analysis).size(), 1);
}
END_TEST

START_TEST(test_worker_cancel_waiting) {
  dfd::FaceAnalyzer analyzer(nullptr, batcher(), {});
  std::mutex lock;
  std::condition_variable changed;
  std::atomic<uint64_t> done{0}, busy_ns{0};
  auto job = std::make_shared<dfd::FrameJob>();
  job->given_regions = true;
  job->source = std::make_unique<MatSource>(frame_with_face());
  {
    dfd::DetectionWorker worker(analyzer, lock, changed, done, busy_ns);
    std::unique_lock<std::mutex> guard(lock);
    // Submitted and cancelled under one hold of the lock: the worker cannot have taken it.
    worker.submit_locked(job);
    worker.cancel_waiting_locked();
    ck_assert(job->state == dfd::FrameJob::State::Cancelled);
    ck_assert_ptr_null(job->source.get());
    ck_assert_int_eq(worker.busy_locked(), 0);
  }
  ck_assert_uint_eq(done.load(), 0);
}
END_TEST

// ---- LiveScheduler --------------------------------------------------------------------------

namespace {

const Clock::time_point kStart = Clock::time_point() + std::chrono::hours(1);

dfd::FrameFacts live_frame(Clock::time_point at, double budget_ms) {
  dfd::FrameFacts f;
  f.arrival = at;
  f.live = true;
  f.budget_ms = budget_ms;
  return f;
}

// One batch of 4 faces took 40 ms: 10 ms per face.
dfd::SchedulerLoad measured_load() {
  dfd::SchedulerLoad load;
  load.recent_faces = 4;
  load.full_detection_ms = 60;
  load.tracked_detection_ms = 5;
  load.batcher.batches = 1;
  load.batcher.faces = 4;
  load.batcher.last_batch_ms = 40;
  return load;
}

}  // namespace

START_TEST(test_scheduler_files) {
  dfd::LiveScheduler scheduler;
  dfd::FrameFacts f;
  f.arrival = kStart;
  f.full_due = false;
  dfd::Decision d = scheduler.decide(f, {}, {});
  ck_assert(d.analyse);
  ck_assert(d.hold);
  ck_assert(!d.full);
  ck_assert_int_eq(d.max_faces, 0);
  f.due = false;  // between two inference-interval frames: not analysed, not a skip
  d = scheduler.decide(f, {}, {});
  ck_assert(!d.analyse);
  ck_assert(d.skip == dfd::Skip::No);
  f.due = true;
  f.qos_late = true;
  d = scheduler.decide(f, {}, {});
  ck_assert(!d.analyse);
  ck_assert(d.skip == dfd::Skip::Qos);
}
END_TEST

START_TEST(test_scheduler_live_backlog_and_busy) {
  dfd::LiveScheduler scheduler;
  dfd::SchedulerSettings settings;
  settings.max_frames_in_flight = 2;
  dfd::SchedulerLoad load = measured_load();
  load.outstanding_frames = 2;
  ck_assert(scheduler.decide(live_frame(kStart, 200), load, settings).skip == dfd::Skip::Backlog);
  load.outstanding_frames = 1;
  load.detector_busy = 1;
  ck_assert(scheduler.decide(live_frame(kStart, 200), load, settings).skip == dfd::Skip::Busy);
  load.detector_busy = 0;
  const dfd::Decision d = scheduler.decide(live_frame(kStart, 200), load, settings);
  ck_assert(d.analyse);
  ck_assert(d.full);
  ck_assert_int_eq(d.max_faces, 0);  // all 4 fit: 60 + 4 x 10 ms < 200 ms
}
END_TEST

START_TEST(test_scheduler_live_budget) {
  dfd::LiveScheduler scheduler;
  dfd::SchedulerSettings settings;
  dfd::SchedulerLoad load = measured_load();
  // 85 ms: a whole-frame search (60) leaves room for 2 of the 4 faces at 10 ms each.
  dfd::Decision d = scheduler.decide(live_frame(kStart, 85), load, settings);
  ck_assert(d.analyse);
  ck_assert(d.full);
  ck_assert(d.hold);
  ck_assert_int_eq(d.max_faces, 2);
  ck_assert_int_eq(d.estimate.fit, 2);
  ck_assert_int_eq(d.estimate.wanted, 4);

  // 40 ms: no room after a whole-frame search, but following the tracked faces (5 ms) leaves
  // 3 faces' worth, while a whole-frame search was made less than a second ago.
  dfd::FrameFacts f = live_frame(kStart + milliseconds(40), 40);
  f.has_tracks = true;
  d = scheduler.decide(f, load, settings);
  ck_assert(d.analyse);
  ck_assert(!d.full);
  ck_assert_int_eq(d.max_faces, 3);

  // 10 ms with 3 faces still ahead in the model: nothing fits, and an analysis was made less
  // than a second ago: skipped.
  load.outstanding_faces = 3;
  f = live_frame(kStart + milliseconds(80), 10);
  f.has_tracks = true;
  d = scheduler.decide(f, load, settings);
  ck_assert(!d.analyse);
  ck_assert(d.skip == dfd::Skip::Budget);

  // A second after the last analysis: analysed regardless, one face, not held.
  f = live_frame(kStart + milliseconds(40) + dfd::LiveScheduler::kProbeInterval, 10);
  f.has_tracks = true;
  d = scheduler.decide(f, load, settings);
  ck_assert(d.analyse);
  ck_assert(!d.hold);
  ck_assert_int_eq(d.max_faces, 1);
}
END_TEST

START_TEST(test_scheduler_learns_face_time) {
  dfd::LiveScheduler scheduler;
  dfd::SchedulerLoad load = measured_load();
  load.full_detection_ms = 0;
  // First sample: 10 ms per face.
  dfd::Decision d = scheduler.decide(live_frame(kStart, 1000), load, {});
  ck_assert_double_eq_tol(d.estimate.face_ms, 10.0, 1e-9);
  // A second batch of 2 faces in 40 ms: 20 ms per face, blended 0.7 / 0.3.
  load.batcher.batches = 2;
  load.batcher.faces = 6;
  load.batcher.last_batch_ms = 40;
  d = scheduler.decide(live_frame(kStart + milliseconds(40), 1000), load, {});
  ck_assert_double_eq_tol(d.estimate.face_ms, 13.0, 1e-9);
  // The wait for a fuller batch counts when the faces would not fill one.
  dfd::SchedulerSettings settings;
  settings.batch_size = 8;
  settings.batch_timeout_ms = 30;
  d = scheduler.decide(live_frame(kStart + milliseconds(80), 1000), load, settings);
  ck_assert_double_eq_tol(d.estimate.batching_ms, 30.0, 1e-9);
  scheduler.reset();
  load.batcher = {};
  d = scheduler.decide(live_frame(kStart, 1000), load, {});
  ck_assert_double_eq_tol(d.estimate.face_ms, 0.0, 1e-9);
}
END_TEST

int main() {
  Suite *suite = suite_create("analysis-flow");
  TCase *tracks = tcase_create("given-ids");
  tcase_add_test(tracks, test_given_ids_are_track_ids);
  tcase_add_test(tracks, test_given_id_track_ages_out);
  suite_add_tcase(suite, tracks);
  TCase *analyzer = tcase_create("analyzer");
  tcase_set_timeout(analyzer, 300);
  tcase_add_test(analyzer, test_analyzer_detects_tracks_and_scores);
  tcase_add_test(analyzer, test_analyzer_given_regions);
  tcase_add_test(analyzer, test_analyzer_reclassify_never_and_max_faces);
  tcase_add_test(analyzer, test_completion_callback_after_result);
  tcase_add_test(analyzer, test_box_relevancy_spans_box);
  suite_add_tcase(suite, analyzer);
  TCase *yunet = tcase_create("yunet");
  tcase_set_timeout(yunet, 300);
  tcase_add_test(yunet, test_yunet_no_faces_on_noise);
  suite_add_tcase(suite, yunet);
  TCase *worker = tcase_create("worker");
  tcase_set_timeout(worker, 300);
  tcase_add_test(worker, test_worker_runs_jobs_in_order);
  tcase_add_test(worker, test_worker_cancel_waiting);
  suite_add_tcase(suite, worker);
  TCase *scheduler = tcase_create("scheduler");
  tcase_add_test(scheduler, test_scheduler_files);
  tcase_add_test(scheduler, test_scheduler_live_backlog_and_busy);
  tcase_add_test(scheduler, test_scheduler_live_budget);
  tcase_add_test(scheduler, test_scheduler_learns_face_time);
  suite_add_tcase(suite, scheduler);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_VERBOSE);
  const int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  unlink(model_path().c_str());
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
