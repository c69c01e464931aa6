// The shared batching queue: one worker thread per instance drains requests into
// Engine::infer calls. Instances with an id live in a process-wide registry of weak pointers, so
// an instance lives exactly as long as some element holds it.
#include "core/batcher.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

namespace dfd {
namespace {

using Clock = std::chrono::steady_clock;

// Two spellings of one file or one device must share an instance rather than fail.
std::string canonical_path(const std::string &path) {
  std::error_code ec;
  const std::filesystem::path canonical = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : canonical.string();
}

std::string canonical_device(const std::string &name) {
  const std::string device = torch_device_name(name);
  return device == "cuda" ? "cuda:0" : device;
}

class BatcherImpl final : public Batcher {
 public:
  BatcherImpl(std::unique_ptr<Engine> engine, const std::string &device,
              const BatcherOptions &options)
      : engine_(std::move(engine)),
        canonical_model_(canonical_path(engine_->model_path())),
        canonical_device_(canonical_device(device)),
        options_(options),
        face_bytes_(static_cast<size_t>(engine_->config().image_size) *
                    engine_->config().image_size * 3) {
    options_.batch_size = std::max(1, options_.batch_size);
    options_.timeout = std::max(options_.timeout, std::chrono::milliseconds(0));
    worker_ = std::thread([this] { run(); });
  }

  // Pending requests are run, not dropped: a caller may be blocked on any of those futures,
  // and a broken promise would turn a clean shutdown into an error.
  ~BatcherImpl() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    worker_.join();
  }

  BatcherImpl(const BatcherImpl &) = delete;
  BatcherImpl &operator=(const BatcherImpl &) = delete;

  const ModelConfig &config() const override { return engine_->config(); }
  const std::string &model_path() const override { return engine_->model_path(); }
  const std::string &canonical_model() const { return canonical_model_; }
  const std::string &canonical_device_name() const { return canonical_device_; }

  std::future<std::vector<Prediction>> submit(std::vector<uint8_t> faces, size_t count,
                                              bool explain,
                                              std::function<void()> on_done) override {
    if (faces.size() != count * face_bytes_) {
      throw std::invalid_argument("batcher: " + std::to_string(faces.size()) + " bytes for " +
                                  std::to_string(count) + " faces of " +
                                  std::to_string(face_bytes_) + " bytes");
    }
    Request request;
    std::future<std::vector<Prediction>> future = request.promise.get_future();
    if (count == 0) {
      request.promise.set_value({});
      if (on_done) on_done();
      return future;
    }
    request.on_done = std::move(on_done);
    request.faces = std::move(faces);
    request.count = count;
    request.explain = explain;
    request.enqueued = Clock::now();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queued_faces_ += count;
      queue_.push_back(std::move(request));
    }
    wake_.notify_one();
    return future;
  }

  BatcherStats stats() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

  BatcherOptions options() const override { return options_; }

 private:
  struct Request {
    std::vector<uint8_t> faces;
    size_t count = 0;
    bool explain = false;
    Clock::time_point enqueued;
    std::promise<std::vector<Prediction>> promise;
    std::function<void()> on_done;
  };

  void run() {
    const size_t batch_size = static_cast<size_t>(options_.batch_size);
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (queue_.empty()) {
        if (stopping_) return;
        wake_.wait(lock);
        continue;
      }
      // A partial batch waits for more faces, but never past its oldest request's deadline;
      // when stopping, nothing more will come, so it runs at once.
      const Clock::time_point deadline = queue_.front().enqueued + options_.timeout;
      if (queued_faces_ < batch_size && !stopping_ && Clock::now() < deadline) {
        wake_.wait_until(lock, deadline);
        continue;
      }
      std::vector<Request> batch = take_batch(batch_size);
      lock.unlock();
      Outcome outcome = infer(batch);
      lock.lock();
      // Recorded before the promises are kept, so a caller holding its result also sees the
      // batch that produced it in stats().
      stats_.batches += 1;
      stats_.faces += outcome.faces;
      stats_.last_batch_ms = outcome.ms;
      total_ms_ += outcome.ms;
      stats_.mean_ms_per_face = total_ms_ / static_cast<double>(stats_.faces);
      lock.unlock();
      fulfil(batch, std::move(outcome));
      lock.lock();
    }
  }

  // Whole requests in arrival order, as many as fit in batch_size. Requests are never split: a
  // frame's faces complete together, and a request larger than batch_size runs alone as one
  // infer call (one oversized pass instead of split-and-rejoin bookkeeping; Engine::infer takes
  // any count).
  std::vector<Request> take_batch(size_t batch_size) {
    std::vector<Request> batch;
    size_t faces = 0;
    while (!queue_.empty() && (batch.empty() || faces + queue_.front().count <= batch_size)) {
      faces += queue_.front().count;
      queued_faces_ -= queue_.front().count;
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    return batch;
  }

  struct Outcome {
    std::vector<Prediction> predictions;
    std::exception_ptr error;
    size_t faces = 0;
    double ms = 0;  // wall time of the infer call
  };

  // One Engine::infer call for the whole batch.
  Outcome infer(const std::vector<Request> &batch) {
    Outcome outcome;
    bool explain = false;
    for (const Request &r : batch) {
      outcome.faces += r.count;
      explain = explain || r.explain;
    }
    const auto start = Clock::now();
    try {
      if (batch.size() == 1) {
        outcome.predictions = engine_->infer(batch[0].faces.data(), outcome.faces, explain);
      } else {
        std::vector<uint8_t> packed;
        packed.reserve(outcome.faces * face_bytes_);
        for (const Request &r : batch) packed.insert(packed.end(), r.faces.begin(), r.faces.end());
        outcome.predictions = engine_->infer(packed.data(), outcome.faces, explain);
      }
      if (outcome.predictions.size() != outcome.faces) {
        throw std::runtime_error("batcher: engine returned " +
                                 std::to_string(outcome.predictions.size()) + " predictions for " +
                                 std::to_string(outcome.faces) + " faces");
      }
    } catch (...) {
      // infer is all-or-nothing, so one failure fails every request in the batch.
      outcome.error = std::current_exception();
    }
    outcome.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    return outcome;
  }

  static void fulfil(std::vector<Request> &batch, Outcome outcome) {
    if (outcome.error) {
      for (Request &r : batch) r.promise.set_exception(outcome.error);
    } else {
      auto next = outcome.predictions.begin();
      for (Request &r : batch) {
        const auto end = next + static_cast<std::ptrdiff_t>(r.count);
        r.promise.set_value(
            std::vector<Prediction>(std::make_move_iterator(next), std::make_move_iterator(end)));
        next = end;
      }
    }
    // After every promise of the batch is kept: a woken caller may look at any of them.
    for (Request &r : batch) {
      if (r.on_done) r.on_done();
    }
  }

  const std::unique_ptr<Engine> engine_;
  const std::string canonical_model_;
  const std::string canonical_device_;
  BatcherOptions options_;
  const size_t face_bytes_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Request> queue_;
  size_t queued_faces_ = 0;
  bool stopping_ = false;
  BatcherStats stats_;
  double total_ms_ = 0;
  std::thread worker_;  // last: started once everything it reads is constructed
};

std::mutex registry_mutex;
std::map<std::string, std::weak_ptr<BatcherImpl>> registry;

}  // namespace

std::shared_ptr<Batcher> Batcher::acquire(const std::string &instance_id,
                                          const std::string &model_path,
                                          const EngineOptions &engine_options,
                                          const BatcherOptions &options) {
  if (instance_id.empty()) {
    return std::make_shared<BatcherImpl>(Engine::load(model_path, engine_options),
                                         engine_options.device, options);
  }
  // Held across Engine::load so that two elements starting together with one id load the
  // model once and share it, instead of racing to create two instances.
  std::lock_guard<std::mutex> lock(registry_mutex);
  for (auto it = registry.begin(); it != registry.end();) {
    it = it->second.expired() ? registry.erase(it) : std::next(it);
  }
  if (auto it = registry.find(instance_id); it != registry.end()) {
    std::shared_ptr<BatcherImpl> existing = it->second.lock();
    if (existing) {
      if (existing->canonical_model() != canonical_path(model_path) ||
          existing->canonical_device_name() != canonical_device(engine_options.device)) {
        throw std::invalid_argument(
            "model instance '" + instance_id + "' is open with model '" + existing->model_path() +
            "' on '" + existing->canonical_device_name() + "'; it cannot be shared with model '" +
            model_path + "' on '" + engine_options.device + "'");
      }
      // The first opener's batch size and timeout stay: one queue cannot have two policies.
      return existing;
    }
  }
  auto created = std::make_shared<BatcherImpl>(Engine::load(model_path, engine_options),
                                               engine_options.device, options);
  registry[instance_id] = created;
  return created;
}

}  // namespace dfd
