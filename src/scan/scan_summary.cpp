#include "scan/scan_summary.h"

#include <algorithm>
#include <set>

#include "evaluation/video_score.h"

namespace dfd::scan {

namespace {

constexpr double kNanosecondsPerSecond = 1e9;

struct TrackState {
  TrackSummary summary;
  std::vector<double> scores;
};

// Where the frame after `frames[i]`'s analysis starts: the next analysed frame, or the end of
// this one.
double analysis_end(const std::vector<AnalysedFrame> &frames, size_t i, double start) {
  for (size_t j = i + 1; j < frames.size(); ++j) {
    if (const std::optional<double> next = frame_seconds(frames[j])) return std::max(start, *next);
  }
  const uint64_t duration = frames[i].duration;
  return duration != kNoTime ? start + static_cast<double>(duration) / kNanosecondsPerSecond
                             : start;
}

}  // namespace

const char *verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::Fake:
      return "fake";
    case Verdict::Real:
      return "real";
    case Verdict::NoFace:
      return "no-face";
    case Verdict::Error:
      break;
  }
  return "error";
}

std::optional<double> frame_seconds(const AnalysedFrame &frame) {
  uint64_t t = frame.position;
  if (t == kNoTime) t = frame.stream_time != kNoTime ? frame.stream_time : frame.pts;
  if (t == kNoTime) return std::nullopt;
  return static_cast<double>(t) / kNanosecondsPerSecond;
}

FileSummary summarise(const FileScan &scan, double threshold) {
  FileSummary out;
  out.path = scan.path;
  out.error = scan.error;
  out.interrupted = scan.interrupted;
  out.threshold = threshold;
  out.width = scan.width;
  out.height = scan.height;
  if (scan.duration != kNoTime)
    out.duration = static_cast<double>(scan.duration) / kNanosecondsPerSecond;
  out.frames_decoded = scan.frames_decoded;
  out.frames_analysed = scan.frames.size();
  out.wall_seconds = scan.wall_seconds;
  out.fps =
      scan.wall_seconds > 0 ? static_cast<double>(scan.frames_decoded) / scan.wall_seconds : 0.0;

  std::vector<TrackState> tracks;
  std::optional<FakeRange> open;
  std::set<uint64_t> open_ids;
  const auto close = [&]() {
    if (!open) return;
    open->object_ids.assign(open_ids.begin(), open_ids.end());
    out.fake_ranges.push_back(*open);
    open.reset();
    open_ids.clear();
  };
  for (size_t i = 0; i < scan.frames.size(); ++i) {
    const AnalysedFrame &frame = scan.frames[i];
    const std::optional<double> seconds = frame_seconds(frame);
    std::vector<uint64_t> fake_ids;
    double max_score = 0.0;
    for (const FaceObservation &face : frame.faces) {
      if (!face.scored) continue;
      ++out.faces;
      auto track = std::find_if(tracks.begin(), tracks.end(), [&](const TrackState &t) {
        return t.summary.object_id == face.object_id;
      });
      if (track == tracks.end()) {
        tracks.push_back({});
        track = std::prev(tracks.end());
        track->summary.object_id = face.object_id;
        track->summary.first = seconds.value_or(0.0);
      }
      track->scores.push_back(face.score);
      track->summary.last = seconds.value_or(track->summary.last);
      if (face.label == "fake") {
        ++track->summary.fake_frames;
        fake_ids.push_back(face.object_id);
        max_score = std::max(max_score, face.score);
      }
    }
    // A frame without a time cannot be placed: it neither extends nor breaks a range.
    if (!seconds) continue;
    if (fake_ids.empty()) {
      close();
      continue;
    }
    if (!open) {
      open = FakeRange{};
      open->start = *seconds;
    }
    open->end = analysis_end(scan.frames, i, *seconds);
    ++open->frames;
    open_ids.insert(fake_ids.begin(), fake_ids.end());
    open->max_score = std::max(open->max_score, max_score);
  }
  close();

  std::vector<eval::IdentityScores> identities;
  for (TrackState &track : tracks) {
    identities.push_back({std::to_string(track.summary.object_id), track.scores});
  }
  if (!identities.empty()) {
    // The seed's rule: the first identity mean above the threshold, else the mean of means.
    const eval::VideoScore video = eval::score_video(identities, threshold);
    for (size_t i = 0; i < tracks.size(); ++i) {
      tracks[i].summary.frames = video.identities[i].frames;
      tracks[i].summary.score = video.identities[i].mean;
      out.tracks.push_back(tracks[i].summary);
    }
    out.score = video.score;
    if (video.deciding_identity >= 0) {
      out.deciding_track = tracks[static_cast<size_t>(video.deciding_identity)].summary.object_id;
    }
  }
  if (!scan.error.empty() || scan.interrupted) {
    out.verdict = Verdict::Error;
  } else if (!out.score) {
    out.verdict = Verdict::NoFace;
  } else {
    out.verdict = *out.score >= threshold ? Verdict::Fake : Verdict::Real;
  }
  return out;
}

}  // namespace dfd::scan
