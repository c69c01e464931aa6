// A whole training run: data, landmarks, the epoch loop with validation, early stopping,
// checkpoints and resume, and the best model written to the output path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "train_config.h"

namespace dfd::training {

struct RunOptions {
  std::vector<std::string> real_dirs, fake_dirs;
  std::string output;          // the best model so far (by the early-stopping monitor)
  std::string checkpoint_dir;  // checkpoints, the landmark cache, resume
  bool resume = false;
  std::string device = "cpu";
  int threads = 0;             // torch intra-op threads on CPU; 0: one per core
  bool prefetch = true;        // build upcoming batches on other threads while a step runs
  int data_threads = 1;        // with prefetch: batches built ahead, each on its own thread
  bool channels_last = false;  // see Trainer
  int64_t max_steps = 0;       // stop (with validation and a checkpoint) after this many steps
  // > 0: time this many steps and print where the time goes, then stop without validating
  // or saving anything (for tuning threads and options on a machine)
  int64_t profile_steps = 0;
  bool validate_at_start = false;
  std::string landmark_cache;  // default: <checkpoint_dir>/landmarks.json
  // Non-empty: no training. The model written is the mean of these models' weights (of one:
  // its own), its BatchNorm statistics recomputed on training batches, then validated and
  // calibrated as an epoch's model would be (checkpoint averaging).
  std::vector<std::string> average;
  std::string command_line;  // recorded in the model
};

// Returns the process exit status: 0 when the run finished (all epochs, early stop or
// max_steps), 130 when interrupted by SIGINT/SIGTERM after saving a checkpoint. Throws
// ConfigError, ModelError or std::runtime_error with a message meant for the user.
int run_training(const TrainConfig &config, const RunOptions &options);

}  // namespace dfd::training
