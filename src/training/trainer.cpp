#include "trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "core/engine.h"
#include "core/model_error.h"
#include "core/model_file.h"
#include "core/safetensors.h"
#include "core/torch_model.h"

namespace dfd::training {

namespace {

constexpr const char *kStateKey = "training_state";

bool ends_with(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shape_text(const std::vector<int64_t> &shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// The optimiser keys its per-parameter state by the parameter's TensorImpl address.
std::string state_key(const torch::Tensor &p) {
  return c10::guts::to_string(p.unsafeGetTensorImpl());
}

}  // namespace

struct Trainer::Impl {
  TrainConfig config;
  torch::Device device{torch::kCPU};
  DeepfakeNet net{nullptr};
  std::vector<std::pair<std::string, torch::Tensor>> trainable;  // in optimiser order
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  torch::Tensor pos_weight;
  InitReport init;
  bool channels_last = false;
  StepTimes times;

  torch::Tensor inputs(const std::vector<Example> &batch) const {
    const int64_t size = config.model.image_size;
    torch::Tensor bytes =
        torch::empty({static_cast<int64_t>(batch.size()), size, size, 3}, torch::kUInt8);
    const size_t row = static_cast<size_t>(size) * 3;
    uint8_t *out = bytes.data_ptr<uint8_t>();
    for (size_t i = 0; i < batch.size(); ++i) {
      const cv::Mat &image = batch[i].image;
      if (image.type() != CV_8UC3 || image.rows != size || image.cols != size) {
        throw std::invalid_argument("training example " + std::to_string(i) + " is not " +
                                    std::to_string(size) + "x" + std::to_string(size) +
                                    " 8-bit 3-channel");
      }
      for (int y = 0; y < size; ++y) {
        std::memcpy(out + (i * static_cast<size_t>(size) + static_cast<size_t>(y)) * row,
                    image.ptr<uint8_t>(y), row);
      }
    }
    torch::Tensor input = images_to_input(bytes, config.model, device);
    return channels_last ? input.contiguous(at::MemoryFormat::ChannelsLast) : input;
  }

  torch::Tensor labels(const std::vector<Example> &batch) const {
    std::vector<float> values;
    values.reserve(batch.size());
    for (const Example &e : batch) values.push_back(e.fake ? 1.f : 0.f);
    return torch::tensor(values).to(device);
  }

  // A backbone-only file (src/tools/convert-lite0-backbone.py) supplies pretrained backbone
  // weights; the transformer and head start from their random initialisation.
  bool initialise_backbone_from(const std::string &path) {
    const SafetensorsFile file = SafetensorsFile::read(path);
    const auto format = file.metadata().find("format");
    if (format == file.metadata().end() || format->second != "gst-deepfake-backbone") return false;
    const auto backbone = file.metadata().find("backbone");
    if (backbone == file.metadata().end() || backbone->second != net->config().backbone) {
      throw ModelError(path + ": a backbone file for '" +
                       (backbone == file.metadata().end() ? std::string("?") : backbone->second) +
                       "', but the model config uses '" + net->config().backbone + "'");
    }
    torch::NoGradGuard no_grad;
    init.from = path;
    static const std::string kPrefix = "efficient_net.";
    for (auto &[name, tensor] : named_weights(net)) {
      if (name.compare(0, kPrefix.size(), kPrefix) != 0) {
        ++init.skipped;
        continue;
      }
      const TensorInfo *info = file.find(name);
      if (info == nullptr || info->shape != tensor.sizes().vec() || info->dtype != DType::F32) {
        throw ModelError(path + ": backbone tensor '" + name + "' is " +
                         (info ? "not F32 of shape " + shape_text(tensor.sizes().vec())
                               : std::string("missing")));
      }
      std::vector<float> values(static_cast<size_t>(tensor.numel()));
      std::memcpy(values.data(), file.data(*info), values.size() * sizeof(float));
      tensor.copy_(torch::from_blob(values.data(), tensor.sizes(), torch::kFloat32));
      ++init.loaded;
    }
    return true;
  }

  void initialise_from(const std::string &path, bool partial) {
    if (initialise_backbone_from(path)) return;
    const ModelFile file = ModelFile::open(path);
    torch::NoGradGuard no_grad;
    init.from = path;
    for (auto &[name, tensor] : named_weights(net)) {
      const TensorInfo *info = file.file().find(name);
      const std::vector<int64_t> wanted = tensor.sizes().vec();
      if (info == nullptr || info->shape != wanted) {
        if (partial) {
          ++init.skipped;
          continue;
        }
        throw ModelError(path + ": tensor '" + name + "' " +
                         (info ? "has shape " + shape_text(info->shape) +
                                     " but this config needs " + shape_text(wanted)
                               : std::string("is missing")) +
                         " (set init.partial to load only the tensors that match)");
      }
      std::vector<float> values = file.tensor_as_float(name);
      tensor.copy_(torch::from_blob(values.data(), tensor.sizes(), torch::kFloat32));
      ++init.loaded;
    }
  }

  void make_optimizer() {
    const OptimizerConfig &o = config.optimizer;
    std::vector<torch::Tensor> decay, no_decay;
    for (const auto &item : net->named_parameters()) {
      if (!item.value().requires_grad()) continue;
      trainable.emplace_back(item.key(), item.value());
      // Decaying a bias, a norm's scale or a learned embedding towards zero only fights it.
      const bool exempt = item.value().dim() <= 1 || ends_with(item.key(), "pos_embedding") ||
                          ends_with(item.key(), "cls_token");
      (o.decay_all || !exempt ? decay : no_decay).push_back(item.value());
    }
    if (trainable.empty()) throw std::runtime_error("nothing to train: every parameter is frozen");
    std::vector<torch::optim::OptimizerParamGroup> groups;
    const auto add = [&](std::vector<torch::Tensor> params, double weight_decay) {
      if (params.empty()) return;
      if (o.kind == OptimizerKind::Sgd) {
        groups.emplace_back(
            std::move(params),
            std::make_unique<torch::optim::SGDOptions>(
                torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(weight_decay)));
      } else {
        groups.emplace_back(std::move(params), std::make_unique<torch::optim::AdamWOptions>(
                                                   torch::optim::AdamWOptions(o.lr)
                                                       .betas({o.betas[0], o.betas[1]})
                                                       .eps(o.eps)
                                                       .weight_decay(weight_decay)));
      }
    };
    add(std::move(decay), o.weight_decay);
    add(std::move(no_decay), 0.0);
    // The parameter order the state file uses is the groups' order.
    std::vector<std::pair<std::string, torch::Tensor>> ordered;
    for (const auto &group : groups) {
      for (const torch::Tensor &p : group.params()) {
        for (const auto &[name, t] : trainable) {
          if (t.is_same(p)) ordered.emplace_back(name, t);
        }
      }
    }
    trainable = std::move(ordered);
    if (o.kind == OptimizerKind::Sgd) {
      optimizer =
          std::make_unique<torch::optim::SGD>(std::move(groups), torch::optim::SGDOptions(o.lr));
    } else {
      optimizer = std::make_unique<torch::optim::AdamW>(std::move(groups),
                                                        torch::optim::AdamWOptions(o.lr));
    }
  }
};

Trainer::Trainer(const TrainConfig &config, const std::string &device, double pos_weight,
                 int threads, bool channels_last)
    : impl_(std::make_unique<Impl>()) {
  configure_cpu_runtime();
  check_device(device);
  Impl &d = *impl_;
  d.config = config;
  d.device = torch::Device(device);
  if (d.device.is_cpu()) {
    const unsigned cores = std::thread::hardware_concurrency();
    const int wanted = threads > 0 ? threads : static_cast<int>(cores > 0 ? cores : 1);
    // LibTorch starts with a single intra-op thread here (build notes).
    if (at::get_num_threads() != wanted) at::set_num_threads(wanted);
  }
  // The random start is part of the run's seed, like everything else.
  torch::manual_seed(config.seed);
  d.net = DeepfakeNet(config.model);
  if (!config.init_weights.empty()) d.initialise_from(config.init_weights, config.init_partial);
  d.net->freeze_backbone_blocks(config.freeze_blocks, config.freeze_inference);
  d.net->to(d.device);
  d.channels_last = channels_last;
  if (channels_last) {
    torch::NoGradGuard no_grad;
    // Parameters change layout in place (set_data keeps them the same tensors), so the
    // optimiser made below and any checkpoint see them as usual.
    for (auto &p : d.net->parameters()) {
      if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
    }
  }
  d.make_optimizer();
  d.pos_weight = torch::tensor({static_cast<float>(pos_weight)}).to(d.device);
}

Trainer::~Trainer() = default;

const InitReport &Trainer::init_report() const {
  return impl_->init;
}

int64_t Trainer::parameter_count() const {
  int64_t n = 0;
  for (const auto &p : impl_->net->parameters()) n += p.numel();
  return n;
}

int64_t Trainer::trainable_parameter_count() const {
  int64_t n = 0;
  for (const auto &[name, p] : impl_->trainable) n += p.numel();
  return n;
}

double Trainer::step(const std::vector<Example> &batch, double lr, uint64_t step_seed) {
  Impl &d = *impl_;
  // Reseeding per step ties dropout masks to the step number, so a resumed run draws the
  // same masks as an uninterrupted one without saving the generator.
  torch::manual_seed(step_seed);
  using Clock = std::chrono::steady_clock;
  const auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  d.net->train();
  Clock::time_point start = Clock::now();
  const torch::Tensor x = d.inputs(batch);
  const torch::Tensor y = d.labels(batch);
  d.optimizer->zero_grad();
  const torch::Tensor logits = d.net->forward(x);
  const torch::Tensor loss = torch::nn::functional::binary_cross_entropy_with_logits(
      logits, y,
      torch::nn::functional::BinaryCrossEntropyWithLogitsFuncOptions().pos_weight(d.pos_weight));
  const double loss_value = loss.item<double>();  // waits for the forward pass on a GPU
  d.times.forward += seconds_since(start);
  start = Clock::now();
  loss.backward();
  if (d.config.grad_clip_norm > 0.0) {
    std::vector<torch::Tensor> params;
    for (const auto &[name, p] : d.trainable) params.push_back(p);
    torch::nn::utils::clip_grad_norm_(params, d.config.grad_clip_norm);
  }
  d.times.backward += seconds_since(start);
  start = Clock::now();
  for (auto &group : d.optimizer->param_groups()) group.options().set_lr(lr);
  d.optimizer->step();
  d.times.optimizer += seconds_since(start);
  ++d.times.steps;
  return loss_value;
}

StepTimes Trainer::take_step_times() {
  const StepTimes out = impl_->times;
  impl_->times = StepTimes{};
  return out;
}

void Trainer::recalibrate_batchnorm(int batches,
                                    const std::function<std::vector<Example>(int)> &make_batch) {
  Impl &d = *impl_;
  if (batches <= 0) return;
  d.net->eval();  // dropout and drop-connect off, as at inference
  std::vector<std::pair<torch::nn::BatchNorm2dImpl *, c10::optional<double>>> norms;
  for (const auto &module : d.net->modules(/*include_self=*/false)) {
    if (auto *bn = dynamic_cast<torch::nn::BatchNorm2dImpl *>(module.get())) {
      // Frozen in inference mode: training never changed its statistics or the layers that
      // read them, so they stay as the starting weights had them.
      if (d.config.freeze_inference && bn->weight.defined() && !bn->weight.requires_grad()) {
        continue;
      }
      norms.emplace_back(bn, bn->options.momentum());
      bn->reset_running_stats();
      bn->options.momentum(c10::nullopt);  // a cumulative average over the batches
      bn->train();
    }
  }
  {
    torch::NoGradGuard no_grad;
    for (int i = 0; i < batches; ++i) d.net->forward(d.inputs(make_batch(i)));
  }
  for (auto &[bn, momentum] : norms) {
    bn->options.momentum(momentum);
    bn->eval();
  }
}

std::vector<float> Trainer::predict(const std::vector<Example> &batch) {
  Impl &d = *impl_;
  if (batch.empty()) return {};
  d.net->eval();
  c10::InferenceMode guard;
  const torch::Tensor logits = d.net->forward(d.inputs(batch)).to(torch::kCPU).contiguous();
  const float *data = logits.data_ptr<float>();
  return std::vector<float>(data, data + logits.numel());
}

void Trainer::save_model(const std::string &path, const json::Value &training,
                         std::optional<double> threshold) {
  Impl &d = *impl_;
  ModelConfig config = d.config.model;
  config.training = training;
  if (threshold) config.threshold = *threshold;
  std::vector<torch::Tensor> keep_alive;
  std::vector<NamedFloatTensor> tensors;
  for (auto &[name, tensor] : named_weights(d.net)) {
    torch::Tensor cpu = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    keep_alive.push_back(cpu);
    tensors.push_back({name, cpu.sizes().vec(), cpu.data_ptr<float>()});
  }
  write_model_file(path, config, tensors);
}

void Trainer::load_model(const std::string &path) {
  Impl &d = *impl_;
  const ModelFile file = ModelFile::open(path);
  d.net->to(torch::kCPU);
  load_weights(d.net, file);
  d.net->to(d.device);
}

namespace {

// Tensor shapes alone would let through models with the same sizes but another input
// (normalisation, colour order, resolution) or another split of the attention heads.
void check_same_network(const ModelConfig &mine, const ModelConfig &theirs,
                        const std::string &label) {
  const auto differs = [&](const char *field) {
    throw ModelError(label + ": its " + field +
                     " differs from the training config's, so its weights cannot be averaged "
                     "with this model's");
  };
  if (theirs.architecture != mine.architecture) differs("model.architecture");
  if (theirs.backbone != mine.backbone) differs("model.backbone");
  if (theirs.image_size != mine.image_size) differs("model.input.size");
  if (theirs.color_order != mine.color_order) differs("model.input.color_order");
  if (theirs.mean != mine.mean || theirs.std != mine.std) differs("model.input mean or std");
  const TransformerConfig &a = mine.transformer, &b = theirs.transformer;
  if (a.dim != b.dim || a.depth != b.depth || a.heads != b.heads || a.dim_head != b.dim_head ||
      a.mlp_dim != b.mlp_dim) {
    differs("model.transformer");
  }
}

}  // namespace

std::vector<json::Value> Trainer::load_average(const std::vector<std::string> &paths) {
  Impl &d = *impl_;
  if (paths.empty()) throw std::runtime_error("no models to average");
  torch::NoGradGuard no_grad;
  const auto weights = named_weights(d.net);
  std::vector<torch::Tensor> sums;
  sums.reserve(weights.size());
  for (const auto &[name, tensor] : weights) {
    sums.push_back(torch::zeros(tensor.sizes(), torch::kFloat64));
  }
  std::vector<json::Value> records;
  for (const std::string &path : paths) {
    const ModelFile file = ModelFile::open(path);
    check_same_network(d.config.model, file.config(), file.file().label());
    records.push_back(file.config().training);
    for (size_t i = 0; i < weights.size(); ++i) {
      const std::string &name = weights[i].first;
      std::vector<float> values = file.tensor_as_float(name);
      if (static_cast<int64_t>(values.size()) != sums[i].numel()) {
        throw ModelError(file.file().label() + ": tensor '" + name + "' has the wrong size");
      }
      sums[i] +=
          torch::from_blob(values.data(), sums[i].sizes(), torch::kFloat32).to(torch::kFloat64);
    }
  }
  const double count = static_cast<double>(paths.size());
  for (size_t i = 0; i < weights.size(); ++i) {
    weights[i].second.copy_((sums[i] / count).to(torch::kFloat32));
  }
  return records;
}

void Trainer::save_state(const std::string &path, const json::Value &scalars) {
  Impl &d = *impl_;
  const bool adamw = d.config.optimizer.kind == OptimizerKind::AdamW;
  std::vector<torch::Tensor> keep_alive;
  std::vector<TensorToWrite> tensors;
  json::Value steps = json::Object{};
  const auto add = [&](const std::string &name, const torch::Tensor &t) {
    if (!t.defined()) return;
    torch::Tensor cpu = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    keep_alive.push_back(cpu);
    tensors.push_back({name, DType::F32, cpu.sizes().vec(), cpu.data_ptr<float>()});
  };
  auto &state = d.optimizer->state();
  for (const auto &[name, p] : d.trainable) {
    const auto it = state.find(state_key(p));
    if (it == state.end()) continue;  // not stepped yet, or SGD without momentum
    if (adamw) {
      const auto &s = static_cast<const torch::optim::AdamWParamState &>(*it->second);
      add("adamw.exp_avg/" + name, s.exp_avg());
      add("adamw.exp_avg_sq/" + name, s.exp_avg_sq());
      steps[name] = s.step();
    } else {
      const auto &s = static_cast<const torch::optim::SGDParamState &>(*it->second);
      add("sgd.momentum_buffer/" + name, s.momentum_buffer());
    }
  }
  json::Value meta;
  meta["optimizer"] = adamw ? "adamw" : "sgd";
  meta["adamw_steps"] = std::move(steps);
  meta["run"] = scalars;
  write_safetensors(path, {{kStateKey, json::dump(meta)}}, tensors);
}

json::Value Trainer::load_state(const std::string &path) {
  Impl &d = *impl_;
  const SafetensorsFile file = SafetensorsFile::read(path);
  const auto meta_it = file.metadata().find(kStateKey);
  if (meta_it == file.metadata().end()) {
    throw std::runtime_error(path + ": not a deepfake-train state file (no '" +
                             std::string(kStateKey) + "' metadata)");
  }
  json::Value meta;
  try {
    meta = json::parse(meta_it->second);
  } catch (const json::ParseError &e) {
    throw std::runtime_error(path + ": state metadata is not valid JSON: " + e.what());
  }
  const bool adamw = d.config.optimizer.kind == OptimizerKind::AdamW;
  const json::Value *kind = json::find(meta, "optimizer");
  if (!kind || !kind->is_string() || json::as_string(*kind) != (adamw ? "adamw" : "sgd")) {
    throw std::runtime_error(path + ": the state was saved for another optimiser");
  }
  const auto read = [&](const std::string &name, const torch::Tensor &like) -> torch::Tensor {
    const TensorInfo *info = file.find(name);
    if (!info) return {};
    if (info->dtype != DType::F32 || info->shape != like.sizes().vec()) {
      throw std::runtime_error(path + ": tensor '" + name + "' does not match the model");
    }
    torch::Tensor cpu = torch::empty(like.sizes(), torch::kFloat32);
    std::memcpy(cpu.data_ptr<float>(), file.data(*info), info->data_end - info->data_begin);
    return cpu.to(d.device);
  };
  auto &state = d.optimizer->state();
  state.clear();
  const json::Value *steps = json::find(meta, "adamw_steps");
  for (const auto &[name, p] : d.trainable) {
    if (adamw) {
      const torch::Tensor m = read("adamw.exp_avg/" + name, p);
      const torch::Tensor v = read("adamw.exp_avg_sq/" + name, p);
      if (!m.defined() || !v.defined()) continue;
      const json::Value *step = steps ? json::find(*steps, name) : nullptr;
      if (!step || !step->is_number()) {
        throw std::runtime_error(path + ": no step count for '" + name + "'");
      }
      auto s = std::make_unique<torch::optim::AdamWParamState>();
      s->step(static_cast<int64_t>(json::as_number(*step)));
      s->exp_avg(m);
      s->exp_avg_sq(v);
      state[state_key(p)] = std::move(s);
    } else {
      const torch::Tensor buffer = read("sgd.momentum_buffer/" + name, p);
      if (!buffer.defined()) continue;
      auto s = std::make_unique<torch::optim::SGDParamState>();
      s->momentum_buffer(buffer);
      state[state_key(p)] = std::move(s);
    }
  }
  const json::Value *run = json::find(meta, "run");
  return run ? *run : json::Value();
}

}  // namespace dfd::training
