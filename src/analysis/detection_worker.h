// The thread that runs face detection (or takes upstream regions), tracking and crop
// submission, so that the thread that receives frames only queues them: a live source is never
// held up by a detector slower than its frame rate, and a file decodes its next frame while
// this one is searched. Jobs run one at a time in submission order (the tracker needs frames
// in order).
//
// The worker shares its owner's mutex and condition variable: whoever waits for a job (the
// element's pushing task) also wakes on its own events (flushes). Methods named *_locked
// expect that mutex held.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "analysis/face_analyzer.h"
#include "analysis/frame_view.h"

namespace dfd {

struct FrameJob {
  enum class State { Waiting, Running, Done, Cancelled };

  int64_t frame_index = 0;
  AnalysisSettings settings;
  // true: classify `regions` (found upstream) instead of running the detector.
  bool given_regions = false;
  std::vector<GivenRegion> regions;
  // Dropped as soon as the analysis has read the frame, so that a downstream element can
  // write the frame in place without a copy.
  std::unique_ptr<FrameSource> source;

  // Under the shared mutex until Done; after that only read.
  State state = State::Waiting;
  FrameAnalysis analysis;
  std::string error;  // non-empty: the analysis failed
};

class DetectionWorker {
 public:
  // `frames_done` counts frames whose analysis finished (the element's frames-analysed),
  // `busy_ns` the time spent on them (its detection-time).
  DetectionWorker(FaceAnalyzer &analyzer, std::mutex &lock, std::condition_variable &changed,
                  std::atomic<uint64_t> &frames_done, std::atomic<uint64_t> &busy_ns);
  ~DetectionWorker();
  DetectionWorker(const DetectionWorker &) = delete;
  DetectionWorker &operator=(const DetectionWorker &) = delete;

  void submit_locked(std::shared_ptr<FrameJob> job);
  // Drops jobs that have not started (flush); the running one completes.
  void cancel_waiting_locked();
  // Waits, on `lock` (held), until no job is running.
  void wait_idle(std::unique_lock<std::mutex> &lock);

  // Jobs waiting or running: nonzero means a new job would queue behind them.
  size_t busy_locked() const { return waiting_.size() + (running_ ? 1 : 0); }
  // Faces submitted to the model whose scores are not back yet.
  size_t outstanding_faces_locked();
  // Frames whose scores are not back yet.
  size_t outstanding_frames_locked();
  // Detection + crops, running estimates for a whole-frame search and for following tracks
  // (a few ms against tens): one mixed average would misjudge both. 0 until measured.
  double cost_ms_locked(bool full_detection) const {
    return full_detection ? full_cost_ms_ : local_cost_ms_;
  }
  size_t recent_faces_locked() const { return recent_faces_; }

 private:
  void run();
  void prune_outstanding_locked();

  struct Outstanding {
    std::shared_future<std::vector<Prediction>> result;
    size_t faces = 0;
  };

  FaceAnalyzer &analyzer_;
  std::mutex &lock_;
  std::condition_variable &changed_;
  std::deque<std::shared_ptr<FrameJob>> waiting_;
  std::deque<Outstanding> outstanding_;
  bool running_ = false;
  bool stopping_ = false;
  double full_cost_ms_ = 0;
  double local_cost_ms_ = 0;
  size_t recent_faces_ = 0;
  std::atomic<uint64_t> &frames_done_;
  std::atomic<uint64_t> &busy_ns_;
  std::thread thread_;  // last: starts once everything above is set up
};

}  // namespace dfd
