// The network, its optimiser and one training step, behind a plain C++ interface: LibTorch
// stays in trainer.cpp, so the tool and the data pipeline compile without it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/json_strict.h"
#include "examples.h"
#include "train_config.h"

namespace dfd::training {

struct InitReport {
  std::string from = "random";  // or the weights file
  size_t loaded = 0;            // tensors copied from it
  size_t skipped = 0;           // partial: tensors left at their random start
};

// Wall seconds spent in each part of the training steps since the last take_step_times().
struct StepTimes {
  double forward = 0.0;
  double backward = 0.0;   // includes gradient clipping
  double optimizer = 0.0;  // the parameter update
  int64_t steps = 0;
};

class Trainer {
 public:
  // Builds config.model with torch seeded from config.seed, initialises it (random, or from
  // config.init_weights), freezes config.freeze_blocks backbone blocks and makes the optimiser.
  // `device`: "cpu", "cuda" or "cuda:N"; `threads`: torch's CPU threads, 0 for one per core.
  // Throws ModelError for unusable weight files and std::runtime_error otherwise.
  // `channels_last`: activations and convolution weights in NHWC order, which oneDNN's CPU
  // convolutions run faster (the numbers differ from NCHW only by float rounding).
  Trainer(const TrainConfig &config, const std::string &device, double pos_weight, int threads = 0,
          bool channels_last = false);
  ~Trainer();
  Trainer(const Trainer &) = delete;
  Trainer &operator=(const Trainer &) = delete;

  const InitReport &init_report() const;
  int64_t parameter_count() const;
  int64_t trainable_parameter_count() const;

  // One optimiser step at learning rate `lr` on the batch; dropout and drop-connect masks come
  // from `step_seed`. Returns the batch's loss before the step (BCE with pos_weight).
  double step(const std::vector<Example> &batch, double lr, uint64_t step_seed);
  StepTimes take_step_times();

  // Replaces every BatchNorm's running statistics by exact averages over `batches` batches
  // from `make_batch` ("precise BN"), everything else in inference mode. The running averages
  // kept during training (momentum 0.01, the seed's) trail weights that move quickly, and a
  // model trained from scratch then scores validation at chance while its training loss falls.
  void recalibrate_batchnorm(int batches,
                             const std::function<std::vector<Example>(int)> &make_batch);
  // Logits in eval mode, without gradients.
  std::vector<float> predict(const std::vector<Example> &batch);

  // A model file of the project's format; `training` becomes the config's training record and
  // `threshold`, when given, replaces the config's.
  void save_model(const std::string &path, const json::Value &training,
                  std::optional<double> threshold = std::nullopt);
  void load_model(const std::string &path);
  // Sets every weight to the mean of the files' weights (uniform checkpoint averaging, as in
  // SWA and model soups), summed in double precision. The files must be models of this
  // trainer's network with the same input; BatchNorm statistics are averaged too and should
  // be replaced by recalibrate_batchnorm, since the mean of statistics is not the statistics
  // of the mean weights. Throws ModelError naming the file that does not fit. Returns each
  // file's training record (null where it has none), so that the result keeps its lineage.
  std::vector<json::Value> load_average(const std::vector<std::string> &paths);
  // Optimiser state (tensors) plus `scalars` (the run's bookkeeping) in one safetensors file,
  // written atomically. load_state restores the optimiser and returns the scalars.
  void save_state(const std::string &path, const json::Value &scalars);
  json::Value load_state(const std::string &path);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dfd::training
