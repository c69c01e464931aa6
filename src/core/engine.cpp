#include "engine.h"

#include <ATen/autocast_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>
#ifdef DFD_CUDA_MEMORY_STATS
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "malloc_tuning.h"
#include "model_error.h"
#include "model_file.h"
#include "torch_model.h"

namespace dfd {

void configure_cpu_runtime() {
  tune_malloc_for_inference();
  static std::once_flag once;
  std::call_once(once, [] {
    // Untrained or calibrated weights can drive activations into denormals, which are ~50x
    // slower on x86; they carry no information for a classifier.
    at::globalContext().setFlushDenormal(true);
  });
}

bool cuda_available() {
  return torch::cuda::is_available();
}

std::string torch_device_name(const std::string &device) {
  std::string lower = device;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "cpu" || lower == "cuda" || lower.rfind("cuda:", 0) == 0) return lower;
  if (lower == "gpu") return "cuda";
  if (lower.rfind("gpu.", 0) == 0) return "cuda:" + lower.substr(4);
  return device;
}

static torch::Device parse_device(const std::string &name) {
  const std::string device = torch_device_name(name);
  if (device == "cpu") return torch::Device(torch::kCPU);
  if (device == "cuda") return torch::Device(torch::kCUDA, 0);
  if (device.rfind("cuda:", 0) == 0) {
    const std::string index = device.substr(5);
    char *end = nullptr;
    const long value = std::strtol(index.c_str(), &end, 10);
    if (!index.empty() && *end == '\0' && value >= 0 && value < 64) {
      return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(value));
    }
  }
  throw std::invalid_argument("device '" + name +
                              "' is not one of cpu, cuda, cuda:N (or CPU, GPU, GPU.N)");
}

void check_device(const std::string &device) {
  const torch::Device parsed = parse_device(device);
  if (parsed.is_cpu()) return;
  // hasCUDART says whether this LibTorch was built with CUDA (the CUDA hooks are linked in);
  // hasCUDA would also be false on a CUDA build that merely sees no GPU.
  if (!at::detail::getCUDAHooks().hasCUDART()) {
    throw std::runtime_error("device '" + device +
                             "' requested, but this build's LibTorch has no CUDA support "
                             "(rebuild with -Dlibtorch_dir=<a CUDA LibTorch>)");
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (parsed.index() >= count) {
    throw std::runtime_error("device '" + device + "' requested, but " + std::to_string(count) +
                             " CUDA device(s) are visible");
  }
}

Precision parse_precision(const std::string &name) {
  if (name == "fp32") return Precision::Float32;
  if (name == "bf16") return Precision::BFloat16;
  if (name == "fp16") return Precision::Float16;
  throw std::invalid_argument("precision '" + name + "' is not one of fp32, bf16, fp16");
}

const char *precision_name(Precision precision) {
  switch (precision) {
    case Precision::BFloat16:
      return "bf16";
    case Precision::Float16:
      return "fp16";
    case Precision::Float32:
      break;
  }
  return "fp32";
}

namespace {

// Autocast for one device type for the lifetime of the object, restoring what was there (the
// state is per thread; the batcher's thread runs every pass). LibTorch 2.4 replaced the
// per-device functions of 1.x with ones that take the device type.
class AutocastScope {
 public:
  AutocastScope(c10::DeviceType type, at::ScalarType dtype) : type_(type) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    was_enabled_ = at::autocast::is_autocast_enabled(type);
    was_dtype_ = at::autocast::get_autocast_dtype(type);
    at::autocast::set_autocast_enabled(type, true);
    at::autocast::set_autocast_dtype(type, dtype);
#else
    if (type == c10::DeviceType::CUDA) {
      was_enabled_ = at::autocast::is_enabled();
      was_dtype_ = at::autocast::get_autocast_gpu_dtype();
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(dtype);
    } else {
      was_enabled_ = at::autocast::is_cpu_enabled();
      was_dtype_ = at::autocast::get_autocast_cpu_dtype();
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(dtype);
    }
#endif
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    // Casts of the weights are cached while autocast is nested; the outermost exit frees them.
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(type_, was_enabled_);
    at::autocast::set_autocast_dtype(type_, was_dtype_);
#else
    if (type_ == c10::DeviceType::CUDA) {
      at::autocast::set_enabled(was_enabled_);
      at::autocast::set_autocast_gpu_dtype(was_dtype_);
    } else {
      at::autocast::set_cpu_enabled(was_enabled_);
      at::autocast::set_autocast_cpu_dtype(was_dtype_);
    }
#endif
  }
  AutocastScope(const AutocastScope &) = delete;
  AutocastScope &operator=(const AutocastScope &) = delete;

 private:
  c10::DeviceType type_;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kFloat;
};

}  // namespace

struct Engine::Impl {
  std::string model_path;
  std::string device_name;
  ModelConfig config;
  torch::Device device{torch::kCPU};
  DeepfakeNet net{nullptr};
  size_t explain_chunk = 0;  // faces per explained pass that fit the memory budget
  Precision precision = Precision::Float32;
  bool pinned_memory = true;
  std::mutex mutex;

  void run(const torch::Tensor &bytes, bool explain, Prediction *out);
  torch::Tensor input(const torch::Tensor &bytes) const;
};

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

const ModelConfig &Engine::config() const {
  return impl_->config;
}
const std::string &Engine::device() const {
  return impl_->device_name;
}
const std::string &Engine::model_path() const {
  return impl_->model_path;
}

std::unique_ptr<Engine> Engine::load(const std::string &model_path, const EngineOptions &options) {
  configure_cpu_runtime();
  check_device(options.device);
  const ModelFile file = ModelFile::open(model_path);

  auto impl = std::make_unique<Impl>();
  impl->model_path = model_path;
  impl->device_name = torch_device_name(options.device);
  impl->config = file.config();
  impl->device = parse_device(options.device);
  impl->precision = options.precision;
  impl->pinned_memory = options.pinned_memory;
  if (options.precision == Precision::Float16 && impl->device.is_cpu()) {
    throw std::invalid_argument("precision fp16 needs a CUDA device (on CPU use bf16 or fp32)");
  }
  if (impl->device.is_cpu()) {
    const unsigned cores = std::thread::hardware_concurrency();
    const int threads = options.threads > 0 ? options.threads : static_cast<int>(cores ? cores : 1);
    // LibTorch starts with one intra-op thread here; the machine's cores are what we have.
    if (at::get_num_threads() != threads) at::set_num_threads(threads);
  }
  impl->net = DeepfakeNet(impl->config);
  load_weights(impl->net, file);
  impl->net->eval();
  // Inference never updates weights; without this, explaining would also build gradient
  // graphs for every parameter of the transformer.
  for (auto &p : impl->net->parameters()) p.requires_grad_(false);
  impl->net->to(impl->device);
  // Attention map and gradient per block, plus one temporary for their product.
  const double tokens = impl->config.token_count();
  const double bytes_per_face = 3.0 * impl->config.transformer.depth *
                                impl->config.transformer.heads * tokens * tokens * sizeof(float);
  const double budget = static_cast<double>(options.explain_memory_budget_mb) * 1024.0 * 1024.0;
  impl->explain_chunk = std::max<size_t>(1, static_cast<size_t>(budget / bytes_per_face));
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

std::vector<Prediction> Engine::infer(const uint8_t *images, size_t count, bool explain) {
  std::vector<Prediction> out(count);
  if (count == 0) return out;
  Impl &d = *impl_;
  std::lock_guard<std::mutex> lock(d.mutex);
  const int64_t size = d.config.image_size;
  const size_t face_bytes = static_cast<size_t>(size) * size * 3;
  const size_t chunk = explain ? d.explain_chunk : count;
  for (size_t first = 0; first < count; first += chunk) {
    const size_t n = std::min(chunk, count - first);
    // from_blob does not copy: the caller's buffer is read while this call runs.
    const torch::Tensor bytes =
        torch::from_blob(const_cast<uint8_t *>(images + first * face_bytes),
                         {static_cast<int64_t>(n), size, size, 3}, torch::kUInt8);
    d.run(bytes, explain, out.data() + first);
  }
  return out;
}

torch::Tensor Engine::Impl::input(const torch::Tensor &bytes) const {
  if (device.is_cuda() && pinned_memory) {
    // The caller's buffer is pageable: staged through page-locked memory, the copy to the GPU
    // (non_blocking in images_to_input) is a DMA that overlaps the host's work. LibTorch
    // caches page-locked blocks, so this does not allocate each pass.
    return images_to_input(bytes.pin_memory(), config, device);
  }
  return images_to_input(bytes, config, device);
}

void Engine::Impl::run(const torch::Tensor &bytes, bool explain, Prediction *out) {
  torch::Tensor logits;
  torch::Tensor relevancy;
  std::optional<AutocastScope> autocast;
  if (precision != Precision::Float32) {
    autocast.emplace(device.type(), precision == Precision::BFloat16 ? at::kBFloat16 : at::kHalf);
  }
  if (!explain) {
    c10::InferenceMode guard;
    logits = net->forward(input(bytes));
  } else {
    torch::Tensor tokens;
    {
      // The backbone is frozen for explanation: relevancy needs gradients with respect to the
      // attention maps only, and those depend on the transformer alone.
      torch::NoGradGuard no_grad;
      tokens = net->embed(net->features(input(bytes)));
    }
    tokens.requires_grad_(true);
    std::vector<torch::Tensor> maps;
    maps.reserve(static_cast<size_t>(config.transformer.depth));
    logits = net->classify_tokens(tokens, &maps);
    // Samples are independent, so one backward pass from the sum gives each face the gradient
    // of its own raw logit.
    const std::vector<torch::Tensor> grads = torch::autograd::grad({logits.sum()}, maps);
    autocast.reset();
    torch::NoGradGuard no_grad;
    // The rollout sums products over the blocks: in 32 bits whatever the forward used.
    std::vector<torch::Tensor> maps32, grads32;
    for (size_t k = 0; k < maps.size(); ++k) {
      maps32.push_back(maps[k].to(torch::kFloat32));
      grads32.push_back(grads[k].to(torch::kFloat32));
    }
    relevancy = relevancy_row0(maps32, grads32).to(torch::kCPU).contiguous();
    logits = logits.detach();
  }
  const torch::Tensor logits_cpu = logits.to(torch::kCPU, torch::kFloat32).contiguous();
  const torch::Tensor probs_cpu = torch::sigmoid(logits_cpu);
  const float *logit_values = logits_cpu.data_ptr<float>();
  const float *prob_values = probs_cpu.data_ptr<float>();
  const int grid_w = config.grid_width(), grid_h = config.grid_height();
  const int64_t count = logits_cpu.size(0);
  for (int64_t i = 0; i < count; ++i) {
    out[i].logit = logit_values[i];
    out[i].probability = prob_values[i];
    if (explain) {
      const float *row = relevancy.data_ptr<float>() + i * relevancy.size(1);
      out[i].relevancy.width = grid_w;
      out[i].relevancy.height = grid_h;
      out[i].relevancy.values.assign(row, row + static_cast<size_t>(grid_w) * grid_h);
    }
  }
}

int64_t Engine::peak_device_memory() const {
#ifdef DFD_CUDA_MEMORY_STATS
  if (impl_->device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(impl_->device.index());
    return stats.allocated_bytes[0].peak;  // index 0: StatType::AGGREGATE, all pools
  }
#endif
  return -1;
}

void Engine::reset_peak_device_memory() {
#ifdef DFD_CUDA_MEMORY_STATS
  if (impl_->device.is_cuda()) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(impl_->device.index());
  }
#endif
}

static bool file_exists(const std::string &path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string default_model_path() {
  static const char *kFileName = "deepfake-spatial.safetensors";
  if (const char *env = std::getenv("DEEPFAKE_MODEL"); env != nullptr && *env != '\0') return env;
  const std::string installed = std::string(DFD_INSTALLED_MODEL_DIR) + "/" + kFileName;
  if (file_exists(installed)) return installed;
  return std::string(DFD_SOURCE_MODEL_DIR) + "/" + kFileName;
}

}  // namespace dfd
