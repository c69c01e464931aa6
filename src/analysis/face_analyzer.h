// The per-frame work of deepfakedetect, deepfake-eval --videos and deepfake-scan (which runs
// the element), without any GStreamer: find faces (or take the regions an upstream element
// found), keep their tracks, send the crops that need a score to the shared batcher, and later
// fold the batcher's answers back into the tracks. One thread calls analyse(); another may
// call apply() and report(). The tracker is shared between them behind a mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <vector>

#include "analysis/face_detector.h"
#include "analysis/frame_view.h"
#include "analysis/tracker.h"
#include "core/batcher.h"

namespace dfd {

// The detector of the analysis path (deepfakedetect's default, and deepfake-eval --videos'):
// best recall and fewest false detections at a fraction of HOG's cost (benchmarks/README.md,
// "Face detectors").
inline constexpr DetectorKind kDefaultDetector = DetectorKind::Yunet;

struct AnalysisSettings {
  double margin = 0.0;          // added around the seed's square crop
  bool explain = true;          // ask for relevancy
  int reclassify_interval = 1;  // frames between two scores of one track (0: scored once)
  // false: only search around the tracked faces (FaceDetector::detect_near), which finds no
  // new face; used when there are tracks to follow.
  bool full_detection = true;
  // At most this many faces are scored (0: all that are due), those scored longest ago first;
  // live sources use it to keep an analysis of many faces within the latency budget.
  int max_faces = 0;
};

// A face found upstream (a region of interest already on the frame): analysed instead of
// running the detector.
struct GivenRegion {
  cv::Rect box;            // frame pixels; clipped to the frame
  float confidence = 0.f;  // the upstream detector's
  uint64_t object_id = 0;  // upstream tracking id, 0 when none: then tracked by overlap
  int roi_id = -1;         // the region's id on the frame, handed back in TrackedFace
};

// A face as it appears on one frame.
struct TrackedFace {
  uint64_t track_id = 0;
  cv::Rect box;  // frame pixels
  float detection_confidence = 0.f;
  int roi_id = -1;  // the GivenRegion it came from; -1 when the detector found it
  // The detector's facial points in frame pixels (YuNet: right eye, left eye, nose tip, right
  // and left mouth corners); empty for HOG, Haar and given regions.
  std::vector<cv::Point2f> landmarks;
};

// A face that was sent to the model, and where its crop came from, so that the relevancy can
// be put back on the face box.
struct SubmittedFace {
  uint64_t track_id = 0;
  cv::Rect box;      // detection box, frame pixels
  cv::Rect crop;     // the square crop the model saw, frame pixels
  cv::Rect content;  // where the resized crop lies in the model input
};

struct FrameAnalysis {
  int64_t frame_index = 0;
  cv::Size frame_size;
  bool full_detection = true;  // the whole frame was searched, not just around the tracks
  std::vector<TrackedFace> faces;
  std::vector<SubmittedFace> submitted;
  // valid() exactly when something was submitted. Shared: one thread watches it to know the
  // backlog while another waits for it.
  std::shared_future<std::vector<Prediction>> result;
};

// What the outgoing metadata says about one face: where it is and its track's state.
struct FaceReport {
  TrackedFace face;
  bool scored = false;
  float score = 0.f;        // newest fake probability
  bool label_fake = false;  // the newest score alone is at or above the threshold
  float smoothed = 0.f;     // smoothed fake probability
  bool fake = false;        // verdict
  int analyses = 0;
  RelevancyGrid relevancy;  // spans `face.box` exactly; empty until explained
};

struct VerdictEvent {
  uint64_t track_id = 0;
  bool fake = false;
  float smoothed = 0.f;
};

// Faces for the regions of a frame that was not analysed, so that they still carry their
// track's results: a region with an upstream object id is that track; another takes the track
// of the face in `last` (the newest analysed frame's) that it overlaps most, at least
// `min_iou`; a region matching none is left out.
std::vector<TrackedFace> carry_regions(const std::vector<GivenRegion> &regions,
                                       const std::vector<TrackedFace> &last, float min_iou);

class FaceAnalyzer {
 public:
  // `detector` may be null when every frame comes with its regions (analyse_regions()).
  FaceAnalyzer(std::unique_ptr<FaceDetector> detector, std::shared_ptr<Batcher> batcher,
               const TrackerOptions &tracker_options);

  // Called on the batcher's thread when a batch with this analyzer's faces has its results
  // (after the result future is ready), so that a waiter can sleep instead of polling. Set it
  // before the first analyse(); it must stay callable after this analyzer is gone (a shared
  // batcher may finish a batch later), so it should own what it touches.
  void set_completion_callback(std::function<void()> callback);

  // Detects faces on the frame, associates them with tracks and submits the crops of tracks
  // that are due for a score. Throws what the detector, imaging or batcher throw, and
  // std::logic_error without a detector.
  FrameAnalysis analyse(const FrameView &frame, int64_t frame_index,
                        const AnalysisSettings &settings);
  // The same for faces found upstream: no detection; settings.full_detection is ignored.
  FrameAnalysis analyse_regions(const FrameView &frame, int64_t frame_index,
                                const AnalysisSettings &settings,
                                const std::vector<GivenRegion> &regions);

  // Folds the predictions for `analysis.submitted` into the tracks (relevancy mapped onto
  // each face box); returns the verdicts that changed.
  std::vector<VerdictEvent> apply(const FrameAnalysis &analysis,
                                  const std::vector<Prediction> &predictions);

  // The current state of the tracks behind `faces`. A face whose track is gone keeps the
  // state it had when `previous` was made (from an earlier report of the same faces).
  std::vector<FaceReport> report(const std::vector<TrackedFace> &faces,
                                 const std::vector<FaceReport> &previous = {}) const;

  // Whether frame `frame_index` is due for a whole-frame search, with one every `interval`
  // frames and the tracked faces followed in between (always, while nothing is tracked).
  bool full_detection_due(int64_t frame_index, int interval) const;
  // The thread that submits frames tells when it asks for a whole-frame search.
  void full_detection_submitted(int64_t frame_index);
  bool has_tracks() const;

  void set_tracker_options(const TrackerOptions &options);
  // Forgets all tracks (flush, or a change of frame size that makes boxes meaningless).
  void reset();

  const ModelConfig &config() const { return batcher_->config(); }
  const std::shared_ptr<Batcher> &batcher() const { return batcher_; }

 private:
  FrameAnalysis score_faces(const FrameView &frame, FrameAnalysis out,
                            const std::vector<FaceBox> &found, const std::vector<uint64_t> &given,
                            const std::vector<int> &roi_ids, const AnalysisSettings &settings);

  std::unique_ptr<FaceDetector> detector_;  // analysing thread only
  std::shared_ptr<Batcher> batcher_;
  std::function<void()> on_complete_;
  mutable std::mutex tracker_lock_;
  Tracker tracker_;
  int64_t last_full_detection_ = -1;  // under tracker_lock_; -1: none since the last reset
};

}  // namespace dfd
