// A shared inference queue: requests from any number of producers (elements, streams) are
// gathered into one batch, run when the batch is full or when its oldest request has waited
// `timeout`, and completed through futures. Instances are shared by id within a process.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "core/engine.h"

namespace dfd {

struct BatcherOptions {
  int batch_size = 8;
  std::chrono::milliseconds timeout{50};
};

struct BatcherStats {
  uint64_t batches = 0;
  uint64_t faces = 0;
  double last_batch_ms = 0;     // wall time of the newest Engine::infer call
  double mean_ms_per_face = 0;  // running mean, for latency estimates
};

class Batcher {
 public:
  // The instance for `instance_id`, created on first use; an empty id always makes a private
  // one. Throws ModelError / std::runtime_error from Engine::load, or std::invalid_argument
  // when an existing instance was opened with another model or device.
  static std::shared_ptr<Batcher> acquire(const std::string &instance_id,
                                          const std::string &model_path,
                                          const EngineOptions &engine_options,
                                          const BatcherOptions &options);
  virtual ~Batcher() = default;

  virtual const ModelConfig &config() const = 0;
  virtual const std::string &model_path() const = 0;
  // `faces`: count model-input crops packed as Engine::infer wants them. The future holds one
  // Prediction per face, or the exception infer threw. A batch explains every face in it if
  // any request in it asks for explanation. `on_done`, when set, is called on the batcher's
  // thread once the future is ready (with a value or an exception), so that a caller can sleep
  // on its own condition instead of polling the future; it must not block, and must not
  // submit.
  virtual std::future<std::vector<Prediction>> submit(std::vector<uint8_t> faces, size_t count,
                                                      bool explain,
                                                      std::function<void()> on_done = {}) = 0;
  virtual BatcherStats stats() const = 0;
  virtual BatcherOptions options() const = 0;
};

}  // namespace dfd
