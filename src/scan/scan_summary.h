// What a scanned file amounts to: its verdict by the seed's video rule (evaluation/video_score.h,
// each track an identity), each track's figures, and the time ranges in which a face was
// judged fake. Plain arithmetic on the recorded frames, no GStreamer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scan/scan_file.h"

namespace dfd::scan {

struct TrackSummary {
  uint64_t object_id = 0;
  size_t frames = 0;               // analysed frames in which it was scored
  double score = 0.0;              // mean fake probability over them (its identity mean)
  size_t fake_frames = 0;          // of which labelled fake
  double first = 0.0, last = 0.0;  // seconds: its first and last scored frame
};

// Analysed frames in a row in which at least one face was labelled fake. `end` is where the
// next analysed frame starts (the frames in between carry this analysis), or the end of the
// last frame.
struct FakeRange {
  double start = 0.0, end = 0.0;  // seconds
  size_t frames = 0;              // analysed frames in it
  double max_score = 0.0;
  std::vector<uint64_t> object_ids;  // the faces labelled fake in it, ascending
};

enum class Verdict { Fake, Real, NoFace, Error };
const char *verdict_name(Verdict verdict);

struct FileSummary {
  std::string path;
  std::string error;  // the scan's; the figures below cover what was analysed before it
  bool interrupted = false;
  Verdict verdict = Verdict::Error;
  double threshold = 0.0;
  std::optional<double> score;             // the video score, when a face was scored
  std::optional<uint64_t> deciding_track;  // the track whose mean decided, if one did
  std::vector<TrackSummary> tracks;        // in order of first appearance
  std::vector<FakeRange> fake_ranges;
  int width = 0, height = 0;
  std::optional<double> duration;  // seconds, when the container says
  uint64_t frames_decoded = 0, frames_analysed = 0, faces = 0;
  double wall_seconds = 0.0;
  double fps = 0.0;  // frames decoded per wall second
};

// A frame's position in the file in seconds: as FrameClock placed it, else its stream time,
// else its timestamp; nullopt when it has none of them.
std::optional<double> frame_seconds(const AnalysedFrame &frame);

// Verdict: Error when the scan failed or was interrupted, NoFace when no face was scored, else
// Fake when the video score is at or above `threshold` (the element's rule for a face).
FileSummary summarise(const FileScan &scan, double threshold);

}  // namespace dfd::scan
