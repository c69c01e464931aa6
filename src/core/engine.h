// Batched inference with optional relevancy, behind a plain C++ interface so that callers
// (tools, the GStreamer element) never include LibTorch headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model_config.h"

namespace dfd {

// Row 0 of the rolled-out relevancy matrix without its cls entry, reshaped row-major.
// seed: 32x32 (one value per channel-projection token); spatial: one value per feature cell.
struct RelevancyGrid {
  int width = 0;
  int height = 0;
  std::vector<float> values;
};

struct Prediction {
  float logit = 0.f;
  float probability = 0.f;
  RelevancyGrid relevancy;  // empty unless explain was requested
};

// Arithmetic of the forward pass. The reduced ones run it under LibTorch's autocast (matrix
// products and convolutions in 16 bits, reductions and the relevancy rollout in 32), which
// is what makes tensor cores pay on a GPU; the scores move slightly (bench_engine prints how
// much against fp32).
enum class Precision { Float32, BFloat16, Float16 };

// "fp32", "bf16", "fp16"; std::invalid_argument otherwise.
Precision parse_precision(const std::string &name);
const char *precision_name(Precision precision);

struct EngineOptions {
  std::string device = "cpu";  // "cpu", "cuda" or "cuda:N"
  int threads = 0;             // intra-op threads on CPU; 0 = one per core
  // fp16 needs CUDA (LibTorch's CPU autocast is bf16 only): load throws otherwise.
  Precision precision = Precision::Float32;
  // CUDA: input bytes go through page-locked host memory, so that the copy to the GPU is an
  // asynchronous DMA rather than a staged synchronous one.
  bool pinned_memory = true;
  // Explaining keeps every block's attention map and its gradient alive at once: heads x T^2
  // floats each, 67 MB per block and face for the seed's 1025 tokens. Batches whose maps would
  // exceed this budget are explained in chunks that fit (spatial models never need to).
  size_t explain_memory_budget_mb = 3072;
};

// Process-wide CPU settings that decide speed on small machines: tune_malloc_for_inference
// (malloc_tuning.h), and flushing denormals. Idempotent; Engine::load calls it, but processes
// that start threads before loading a model should call tune_malloc_for_inference first.
void configure_cpu_runtime();

bool cuda_available();
// The LibTorch name of a device given as LibTorch ("cpu", "cuda", "cuda:N") or DL Streamer
// ("CPU", "GPU", "GPU.N": a CUDA GPU here) names it, in any case; other text is returned as it
// is (check_device then says what is accepted).
std::string torch_device_name(const std::string &device);
// Throws std::invalid_argument for malformed device strings, and std::runtime_error when the
// LibTorch build or the machine cannot provide the device.
void check_device(const std::string &device);

class Engine {
 public:
  // Throws ModelError for unusable model files, std::runtime_error for device problems.
  static std::unique_ptr<Engine> load(const std::string &model_path, const EngineOptions &options);
  ~Engine();
  Engine(const Engine &) = delete;
  Engine &operator=(const Engine &) = delete;

  const ModelConfig &config() const;
  const std::string &device() const;
  const std::string &model_path() const;

  // `images`: `count` tightly packed uint8 HWC images, image_size x image_size x 3, in the
  // config's colour order (see imaging/preprocess.h). One forward pass for the batch, and
  // with `explain` one backward pass through the transformer only (in memory-budget chunks,
  // see EngineOptions). Thread-safe: calls from several threads are serialised.
  std::vector<Prediction> infer(const uint8_t *images, size_t count, bool explain);

  // CUDA: the most memory LibTorch's allocator held for tensors on this engine's device since
  // the last reset, in bytes; -1 on CPU or where this build cannot tell (only builds against
  // a CUDA LibTorch through benchmarks/gpu/CMakeLists.txt read the allocator's statistics).
  int64_t peak_device_memory() const;
  void reset_peak_device_memory();

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The default model shipped in models/: the installed copy, or the source tree's when run
// from a build directory. DEEPFAKE_MODEL in the environment overrides both.
std::string default_model_path();

}  // namespace dfd
