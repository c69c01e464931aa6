// Video-level figures from video files: decode, find faces every Nth frame with the element's
// detector, crop them as the element does, score them, and keep each face's identity across
// frames by box overlap, so the seed's per-identity rule (video_score.h) can be applied.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "analysis/face_detector.h"
#include "analysis/tracker.h"
#include "core/engine.h"
#include "video_score.h"

namespace dfd::eval {

struct VideoFileOptions {
  // Frames analysed per video (0: every step-th frame of the whole file).
  int frames_per_video = 32;
  // Analyse frames 0, N, 2N, ...; 0 spreads frames_per_video frames over the whole video by
  // its reported frame count (kUnknownCountStep when the container does not say).
  int frame_step = 0;
  double crop_margin = 0.0;  // seed_square_box margin, as the model was trained
  int batch_size = 16;       // faces per forward pass
  DetectorOptions detector;
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

// OpenCV's FFmpeg backend decodes both the mp4 clips and the animated GIFs; GStreamer is the
// fallback. Errors are reported in the result, not thrown, so one bad file does not end a run.
VideoFileResult score_video_file(Engine &engine, FaceDetector &detector, const std::string &path,
                                 const VideoFileOptions &options);

}  // namespace dfd::eval
