// deepfake-scan's arithmetic: the summary of a file from its analysed frames (fake ranges:
// merging, breaking, where they end; per-track figures; the seed's video rule; verdicts), the
// clock format, frame positions when the decoder's timestamps stand still, and the progress
// line's figures.
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "scan/frame_clock.h"
#include "scan/scan_progress.h"
#include "scan/scan_summary.h"
#include "scan/scan_text.h"

#include <check.h>

using namespace dfd::scan;

namespace {

constexpr uint64_t kFrame = 100000000;  // 100 ms, in ns

FaceObservation face(uint64_t id, double score, double threshold) {
  FaceObservation f;
  f.object_id = id;
  f.width = f.height = 100;
  f.scored = true;
  f.score = score;
  f.label = score >= threshold ? "fake" : "real";
  return f;
}

AnalysedFrame frame(uint64_t index, std::vector<FaceObservation> faces) {
  AnalysedFrame f;
  f.index = index;
  f.pts = f.stream_time = index * kFrame;
  f.duration = kFrame;
  f.faces = std::move(faces);
  return f;
}

FileScan scan_of(std::vector<AnalysedFrame> frames) {
  FileScan scan;
  scan.path = "clip.mp4";
  scan.frames = std::move(frames);
  scan.frames_decoded = scan.frames.empty() ? 0 : scan.frames.back().index + 1;
  return scan;
}

}  // namespace

START_TEST(test_ranges_merge_adjacent_frames_and_break_on_real) {
  const double t = 0.5;
  // Every second frame analysed (inference-interval 2): 0 2 4 fake, 6 real, 8 fake (last).
  const FileSummary s = summarise(scan_of({frame(0, {face(1, 0.9, t)}), frame(2, {face(1, 0.8, t)}),
                                           frame(4, {face(1, 0.7, t)}), frame(6, {face(1, 0.1, t)}),
                                           frame(8, {face(1, 0.6, t)})}),
                                  t);
  ck_assert_uint_eq(s.fake_ranges.size(), 2);
  // A range ends where the next analysed frame starts: the frames between carry its result.
  ck_assert_double_eq_tol(s.fake_ranges[0].start, 0.0, 1e-12);
  ck_assert_double_eq_tol(s.fake_ranges[0].end, 0.6, 1e-12);
  ck_assert_uint_eq(s.fake_ranges[0].frames, 3);
  ck_assert_double_eq_tol(s.fake_ranges[0].max_score, 0.9, 1e-12);
  // The last analysed frame's range ends with that frame.
  ck_assert_double_eq_tol(s.fake_ranges[1].start, 0.8, 1e-12);
  ck_assert_double_eq_tol(s.fake_ranges[1].end, 0.9, 1e-12);
  ck_assert_uint_eq(s.fake_ranges[1].frames, 1);
}
END_TEST

START_TEST(test_frame_without_faces_breaks_a_range) {
  const double t = 0.5;
  const FileSummary s = summarise(
      scan_of({frame(0, {face(1, 0.9, t)}), frame(1, {}), frame(2, {face(1, 0.9, t)})}), t);
  ck_assert_uint_eq(s.fake_ranges.size(), 2);
  ck_assert_uint_eq(s.frames_analysed, 3);
  ck_assert_uint_eq(s.faces, 2);
}
END_TEST

START_TEST(test_range_lists_the_fake_tracks_only) {
  const double t = 0.5;
  const FileSummary s = summarise(scan_of({frame(0, {face(3, 0.9, t), face(1, 0.2, t)}),
                                           frame(1, {face(2, 0.7, t), face(1, 0.2, t)})}),
                                  t);
  ck_assert_uint_eq(s.fake_ranges.size(), 1);
  ck_assert_uint_eq(s.fake_ranges[0].object_ids.size(), 2);
  ck_assert_uint_eq(s.fake_ranges[0].object_ids[0], 2);
  ck_assert_uint_eq(s.fake_ranges[0].object_ids[1], 3);
}
END_TEST

START_TEST(test_tracks_and_the_seed_video_rule) {
  const double t = 0.55;
  // Track 1 (first seen) mean 0.3, track 2 mean 0.8: the first mean above t decides.
  const FileSummary s =
      summarise(scan_of({frame(0, {face(1, 0.2, t)}), frame(1, {face(1, 0.4, t), face(2, 0.7, t)}),
                         frame(2, {face(2, 0.9, t)})}),
                t);
  ck_assert_uint_eq(s.tracks.size(), 2);
  ck_assert_uint_eq(s.tracks[0].object_id, 1);
  ck_assert_uint_eq(s.tracks[0].frames, 2);
  ck_assert_double_eq_tol(s.tracks[0].score, 0.3, 1e-12);
  ck_assert_double_eq_tol(s.tracks[0].first, 0.0, 1e-12);
  ck_assert_double_eq_tol(s.tracks[0].last, 0.1, 1e-12);
  ck_assert_uint_eq(s.tracks[1].fake_frames, 2);
  ck_assert_double_eq_tol(s.tracks[1].first, 0.1, 1e-12);
  ck_assert(s.score.has_value());
  ck_assert_double_eq_tol(*s.score, 0.8, 1e-12);
  ck_assert(s.deciding_track.has_value());
  ck_assert_uint_eq(*s.deciding_track, 2);
  ck_assert_int_eq(static_cast<int>(s.verdict), static_cast<int>(Verdict::Fake));
}
END_TEST

START_TEST(test_mean_of_means_when_no_track_is_above) {
  const double t = 0.55;
  const FileSummary s = summarise(
      scan_of({frame(0, {face(1, 0.2, t), face(2, 0.5, t)}), frame(1, {face(2, 0.5, t)})}), t);
  ck_assert_double_eq_tol(*s.score, 0.35, 1e-12);
  ck_assert(!s.deciding_track.has_value());
  ck_assert_int_eq(static_cast<int>(s.verdict), static_cast<int>(Verdict::Real));
}
END_TEST

START_TEST(test_verdicts_without_faces_and_on_errors) {
  FileSummary s = summarise(scan_of({frame(0, {}), frame(1, {})}), 0.5);
  ck_assert_int_eq(static_cast<int>(s.verdict), static_cast<int>(Verdict::NoFace));
  ck_assert(!s.score.has_value());
  ck_assert_str_eq(verdict_name(s.verdict), "no-face");

  // A failed file keeps what was analysed before the error, but its verdict is the error.
  FileScan broken = scan_of({frame(0, {face(1, 0.9, 0.5)})});
  broken.error = "decoding stopped";
  s = summarise(broken, 0.5);
  ck_assert_int_eq(static_cast<int>(s.verdict), static_cast<int>(Verdict::Error));
  ck_assert(s.score.has_value());
  ck_assert_uint_eq(s.fake_ranges.size(), 1);
}
END_TEST

START_TEST(test_unscored_faces_do_not_count) {
  FaceObservation pending = face(1, 0.0, 0.5);
  pending.scored = false;
  pending.label = "unknown";
  const FileSummary s = summarise(scan_of({frame(0, {pending})}), 0.5);
  ck_assert_uint_eq(s.faces, 0);
  ck_assert_int_eq(static_cast<int>(s.verdict), static_cast<int>(Verdict::NoFace));
}
END_TEST

START_TEST(test_clock_format) {
  const std::vector<std::pair<double, std::string>> cases = {{0.0, "00:00:00.000"},
                                                             {3723.4567, "01:02:03.457"},
                                                             {59.9996, "00:01:00.000"},
                                                             {-1.0, "--:--:--.---"}};
  for (const auto &[seconds, expected] : cases) {
    const std::string text = format_clock(seconds);
    ck_assert_str_eq(text.c_str(), expected.c_str());
  }
}
END_TEST

START_TEST(test_frame_clock_keeps_good_timestamps) {
  FrameClock clock;
  ck_assert_uint_eq(clock.next(0, kFrame), 0);
  ck_assert_uint_eq(clock.next(kFrame, kFrame), kFrame);
  // A gap in the timestamps is real (a dropped frame) and kept.
  ck_assert_uint_eq(clock.next(5 * kFrame, kFrame), 5 * kFrame);
  ck_assert_uint_eq(clock.end(), 6 * kFrame);
}
END_TEST

START_TEST(test_frame_clock_places_frames_stamped_zero) {
  // As avdec_gif delivers a GIF: every frame at 0, each with its own duration.
  FrameClock clock;
  ck_assert_uint_eq(clock.next(0, 140000000), 0);
  ck_assert_uint_eq(clock.next(0, 140000000), 140000000);
  ck_assert_uint_eq(clock.next(0, 70000000), 280000000);
  ck_assert_uint_eq(clock.end(), 350000000);
  // No duration at all: the caps' frame duration.
  FrameClock untimed;
  untimed.set_frame_duration(kFrame);
  ck_assert_uint_eq(untimed.next(0, kNoTime), 0);
  ck_assert_uint_eq(untimed.next(kNoTime, kNoTime), kFrame);
  FrameClock unknown;
  ck_assert_uint_eq(unknown.next(kNoTime, kNoTime), kNoTime);
}
END_TEST

START_TEST(test_progress_text) {
  ScanProgress p;
  const auto now = std::chrono::steady_clock::now();
  p.started = now - std::chrono::seconds(10);
  ActiveFile file{3, 28, "videos/clip.mp4", &p};
  // ck_assert_str_eq evaluates its arguments more than once: keep the text alive.
  std::string text = progress_text(file, 8, now);
  ck_assert_str_eq(text.c_str(), "[ 3/28] clip.mp4  starting");
  // 4 s of a 15 s, 30 fps video in 10 s: 12 fps, and 11 s of video left at 0.4 s/s.
  p.frames = 120;
  p.position = 4 * 1000000000ull;
  p.duration = 15 * 1000000000ull;
  p.frame_rate = 30.0;
  text = progress_text(file, 8, now);
  ck_assert_str_eq(text.c_str(), "[ 3/28] clip.mp4 [##......]  120/450 frames  12.0 fps  eta 28s");
  // Without a duration: no bar, no total, no ETA.
  p.duration = kNoTime;
  text = progress_text(file, 8, now);
  ck_assert_str_eq(text.c_str(), "[ 3/28] clip.mp4  120 frames  12.0 fps");
}
END_TEST

int main() {
  Suite *suite = suite_create("scan-summary");
  TCase *tc = tcase_create("summary");
  tcase_add_test(tc, test_ranges_merge_adjacent_frames_and_break_on_real);
  tcase_add_test(tc, test_frame_without_faces_breaks_a_range);
  tcase_add_test(tc, test_range_lists_the_fake_tracks_only);
  tcase_add_test(tc, test_tracks_and_the_seed_video_rule);
  tcase_add_test(tc, test_mean_of_means_when_no_track_is_above);
  tcase_add_test(tc, test_verdicts_without_faces_and_on_errors);
  tcase_add_test(tc, test_unscored_faces_do_not_count);
  tcase_add_test(tc, test_clock_format);
  suite_add_tcase(suite, tc);
  TCase *timing = tcase_create("frame clock");
  tcase_add_test(timing, test_frame_clock_keeps_good_timestamps);
  tcase_add_test(timing, test_frame_clock_places_frames_stamped_zero);
  suite_add_tcase(suite, timing);
  TCase *progress = tcase_create("progress");
  tcase_add_test(progress, test_progress_text);
  suite_add_tcase(suite, progress);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  const int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? 0 : 1;
}
