// Which frames deepfakedetect analyses, and how: every due frame of a file, but on a live
// source only what can come back within the latency budget. The policy (measured from the
// detector's and the model's own timings, never from constants) is plain arithmetic over a
// snapshot of the work in flight, kept apart from the element so that it can be tested alone.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "core/batcher.h"

namespace dfd {

enum class Skip { No, Backlog, Qos, Busy, Budget };

// Why a frame was not analysed, for logs.
const char *skip_reason(Skip skip);

// What is in flight when a frame arrives.
struct SchedulerLoad {
  size_t outstanding_frames = 0;    // analysed frames whose scores are not back
  size_t outstanding_faces = 0;     // faces submitted to the model, scores not back
  size_t detector_busy = 0;         // frames waiting for or in detection
  size_t recent_faces = 0;          // faces on the newest analysed frame
  double full_detection_ms = 0;     // measured cost of a whole-frame search (0: not yet)
  double tracked_detection_ms = 0;  // of following the tracked faces only
  BatcherStats batcher;
};

struct SchedulerSettings {
  int batch_size = 8;
  double batch_timeout_ms = 0;
  size_t max_frames_in_flight = 16;
};

struct FrameFacts {
  std::chrono::steady_clock::time_point arrival;
  bool live = false;
  bool due = true;        // by inference-interval
  bool qos_late = false;  // downstream QoS says this frame will be late anyway
  bool full_due = true;   // a whole-frame search is due (detection-interval)
  bool has_tracks = false;
  double budget_ms = 0;  // live: time left for this frame's analysis
};

// The arithmetic behind a live decision, for logs.
struct BudgetEstimate {
  double budget_ms = 0, detection_ms = 0, batching_ms = 0, face_ms = 0;
  double faces_ahead = 0;
  int fit = 0, wanted = 0;
  bool full = true;
};

struct Decision {
  bool analyse = false;
  Skip skip = Skip::No;  // why a due frame is not analysed
  bool full = false;     // a whole-frame search, not just around the tracks
  // Whether the frame waits (up to its deadline) for its scores, or leaves at once and its
  // analysis updates the tracks when done.
  bool hold = true;
  int max_faces = 0;  // 0: every face that is due
  BudgetEstimate estimate;
};

class LiveScheduler {
 public:
  // Live sources: analysis stops while it could not finish within the budget, but one frame a
  // second is analysed regardless, which keeps the estimates current and the faces scored.
  static constexpr std::chrono::seconds kProbeInterval{1};

  // Decides for one frame, and records it when it is analysed.
  Decision decide(const FrameFacts &frame, const SchedulerLoad &load,
                  const SchedulerSettings &settings);
  // Forgets the timings of earlier frames (a new stream).
  void reset();

 private:
  BudgetEstimate faces_within_budget(const SchedulerLoad &load, const SchedulerSettings &settings,
                                     double budget_ms, bool full, int wanted);

  double face_ms_ = 0;  // running estimate of the model's time per face in a batch
  uint64_t seen_batches_ = 0;
  uint64_t seen_faces_ = 0;
  std::chrono::steady_clock::time_point last_analysis_{};
  std::chrono::steady_clock::time_point last_full_{};  // the newest whole-frame search
};

}  // namespace dfd
