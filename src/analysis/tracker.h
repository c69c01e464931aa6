// Gives each face a stable id across frames (greedy IoU association) and keeps, per track, a
// smoothed fake score and a verdict with hysteresis, so one noisy frame neither raises nor
// clears an alert.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <vector>

#include "analysis/face_detector.h"
#include "core/engine.h"

namespace dfd {

struct TrackerOptions {
  float iou_threshold = 0.3f;  // a detection continues a track when IoU >= this
  int max_missed = 15;         // detection rounds a track may go unmatched before it is dropped
  float smoothing = 0.5f;      // weight of the newest score: s = w * p + (1 - w) * s
  float threshold = 0.55f;     // verdict threshold on the smoothed score
  int verdict_analyses = 3;    // consecutive analyses needed to change the verdict (hysteresis)
};

struct Track {
  uint64_t id = 0;
  cv::Rect box;
  float detection_confidence = 0.f;
  bool scored = false;                // at least one analysis arrived
  float score = 0.f;                  // latest fake probability
  float smoothed = 0.f;               // smoothed fake probability
  bool fake = false;                  // verdict
  int analyses = 0;                   // number of scores received
  int streak = 0;                     // consecutive analyses disagreeing with the verdict
  int missed = 0;                     // detection rounds since last matched
  int64_t last_scored_frame = -1;     // frame index of the newest score
  int64_t last_submitted_frame = -1;  // frame index of the newest crop sent for analysis
  RelevancyGrid relevancy;            // of the newest analysis
};

struct VerdictChange {
  bool changed = false;
  bool fake = false;
};

class Tracker {
 public:
  explicit Tracker(const TrackerOptions &options = {}) : options_(options) {}
  void set_options(const TrackerOptions &options) { options_ = options; }
  const TrackerOptions &options() const { return options_; }

  // One detection round: returns the track id for each face, in the same order. Unmatched
  // tracks age and are dropped after max_missed rounds.
  std::vector<uint64_t> associate(const std::vector<FaceBox> &faces);
  // The same for regions whose tracking id comes from upstream (an object_id given with a
  // region of interest): a face with a non-zero entry in `given_ids` continues the track of
  // that id, or starts one with it; faces with 0 are associated by overlap as above. Ids made
  // here then continue above the highest given one. `given_ids` is as long as `faces`.
  std::vector<uint64_t> associate(const std::vector<FaceBox> &faces,
                                  const std::vector<uint64_t> &given_ids);
  // Applies an analysis result. A track that was dropped meanwhile is ignored.
  VerdictChange add_score(uint64_t id, float probability, RelevancyGrid relevancy,
                          int64_t frame_index);
  // Whether the track should be analysed at `frame_index`: always before its first
  // submission; after it, reclassify_interval frames later (1: every time; 0: never again).
  bool wants_analysis(uint64_t id, int64_t frame_index, int reclassify_interval) const;
  void mark_submitted(uint64_t id, int64_t frame_index);

  const Track *find(uint64_t id) const;
  const std::vector<Track> &tracks() const { return tracks_; }
  void reset();

 private:
  TrackerOptions options_;
  std::vector<Track> tracks_;
  uint64_t next_id_ = 1;
};

float intersection_over_union(const cv::Rect &a, const cv::Rect &b);

}  // namespace dfd
