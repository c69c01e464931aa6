// Video-level figures from video files, through the element's own analysis path
// (src/analysis's FaceAnalyzer on frames decoded as the element gets them): every Nth frame is
// analysed as deepfakedetect with inference-interval=N would, each face keeps its track id,
// and the seed's per-identity rule (video_score.h) is applied to the tracks.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <memory>

#include "analysis/face_analyzer.h"
#include "analysis/face_detector.h"
#include "analysis/tracker.h"
#include "core/batcher.h"
#include "video_score.h"

namespace dfd::eval {

struct VideoFileOptions {
  // Frames analysed per video (0: every step-th frame of the whole file).
  int frames_per_video = 32;
  // Analyse frames 0, N, 2N, ...; 0 spreads frames_per_video frames over the whole video by
  // its reported frame count (kUnknownCountStep when the container does not say).
  int frame_step = 0;
  double crop_margin = 0.0;  // seed_square_box margin, as the model was trained
  DetectorOptions detector = [] {
    DetectorOptions o;
    o.kind = kDefaultDetector;  // the element's
    return o;
  }();
  TrackerOptions tracker;
};

constexpr int kUnknownCountStep = 10;

// The step for a video of `frame_count` frames (<= 0: unknown): spread evenly, so short GIFs
// and long clips both give frames_per_video faces from their whole length.
int analysis_step(const VideoFileOptions &options, double frame_count);

struct VideoFileResult {
  std::string path;
  int frame_step = 0;  // the step used
  size_t frames_read = 0;
  size_t frames_analysed = 0;
  size_t faces_scored = 0;
  std::vector<FaceRecord> faces;  // video = path, identity = "track-<id>"
  std::string error;              // set when the file could not be opened or decoded
};

// Video files (mp4, m4v, mov, avi, mkv, webm, gif; any case) under `dir`, recursively, sorted.
// Throws std::runtime_error for an unreadable folder or one without videos.
std::vector<std::string> list_video_files(const std::string &dir);

// GStreamer decodes (video_reader.h); `batcher` runs the model, with its batch size. Errors
// are reported in the result, not thrown, so one bad file does not end a run; a detector that
// cannot be made (options.detector) throws.
VideoFileResult score_video_file(const std::shared_ptr<Batcher> &batcher, const std::string &path,
                                 const VideoFileOptions &options);

}  // namespace dfd::eval
