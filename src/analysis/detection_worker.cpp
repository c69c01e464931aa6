#include "analysis/detection_worker.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <utility>

namespace dfd {

DetectionWorker::DetectionWorker(FaceAnalyzer &analyzer, std::mutex &lock,
                                 std::condition_variable &changed,
                                 std::atomic<uint64_t> &frames_done, std::atomic<uint64_t> &busy_ns)
    : analyzer_(analyzer),
      lock_(lock),
      changed_(changed),
      frames_done_(frames_done),
      busy_ns_(busy_ns),
      thread_([this] { run(); }) {}

DetectionWorker::~DetectionWorker() {
  {
    std::lock_guard<std::mutex> guard(lock_);
    stopping_ = true;
    cancel_waiting_locked();
  }
  changed_.notify_all();
  thread_.join();
}

void DetectionWorker::submit_locked(std::shared_ptr<FrameJob> job) {
  waiting_.push_back(std::move(job));
  changed_.notify_all();
}

void DetectionWorker::cancel_waiting_locked() {
  for (const std::shared_ptr<FrameJob> &job : waiting_) {
    job->state = FrameJob::State::Cancelled;
    job->source.reset();
  }
  waiting_.clear();
  changed_.notify_all();
}

void DetectionWorker::wait_idle(std::unique_lock<std::mutex> &lock) {
  changed_.wait(lock, [this] { return !running_; });
}

void DetectionWorker::prune_outstanding_locked() {
  const auto ready = [](const Outstanding &o) {
    return o.result.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  };
  outstanding_.erase(std::remove_if(outstanding_.begin(), outstanding_.end(), ready),
                     outstanding_.end());
}

size_t DetectionWorker::outstanding_faces_locked() {
  prune_outstanding_locked();
  size_t faces = 0;
  for (const Outstanding &o : outstanding_) faces += o.faces;
  return faces;
}

size_t DetectionWorker::outstanding_frames_locked() {
  prune_outstanding_locked();
  return outstanding_.size();
}

void DetectionWorker::run() {
  std::unique_lock<std::mutex> lock(lock_);
  for (;;) {
    changed_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
    if (stopping_) return;
    std::shared_ptr<FrameJob> job = std::move(waiting_.front());
    waiting_.pop_front();
    job->state = FrameJob::State::Running;
    running_ = true;
    std::unique_ptr<FrameSource> source = std::move(job->source);
    lock.unlock();

    const auto start = std::chrono::steady_clock::now();
    FrameAnalysis analysis;
    std::string error;
    {
      const std::unique_ptr<FrameView> frame = source ? source->map() : nullptr;
      if (!frame) {
        error = "cannot read the video frame";
      } else {
        try {
          analysis =
              job->given_regions
                  ? analyzer_.analyse_regions(*frame, job->frame_index, job->settings, job->regions)
                  : analyzer_.analyse(*frame, job->frame_index, job->settings);
        } catch (const std::exception &e) {
          error = e.what();
        }
      }
    }
    source.reset();
    const auto elapsed = std::chrono::steady_clock::now() - start;
    const double cost = std::chrono::duration<double, std::milli>(elapsed).count();
    busy_ns_ += static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());

    lock.lock();
    double &estimate = analysis.full_detection ? full_cost_ms_ : local_cost_ms_;
    estimate = estimate == 0 ? cost : 0.8 * estimate + 0.2 * cost;
    recent_faces_ = analysis.faces.size();
    // Pruned here too: only live sources ask for the backlog, and without this the finished
    // futures (each holding its frame's predictions) piled up for as long as a file played.
    prune_outstanding_locked();
    if (analysis.result.valid()) {
      outstanding_.push_back({analysis.result, analysis.submitted.size()});
    }
    if (error.empty()) ++frames_done_;
    job->analysis = std::move(analysis);
    job->error = std::move(error);
    job->state = FrameJob::State::Done;
    running_ = false;
    changed_.notify_all();
  }
}

}  // namespace dfd
