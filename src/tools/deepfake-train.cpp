// deepfake-train: trains a detector from folders of real and fake face images and a JSON
// config (models/configs/), with self-blended pseudo-fakes made on the fly from the reals.

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <opencv2/core/utils/logger.hpp>

#include "core/model_error.h"
#include "tools/command_line.h"
#include "training/train_config.h"
#include "training/training_run.h"

namespace {

constexpr const char *kUsage = R"(Usage: deepfake-train --config FILE --real DIR [--real DIR ...]
                      [--fake DIR ...] --output MODEL [OPTIONS]

Trains a deepfake detector. Real faces also feed self-blended pseudo-fakes (made on the fly);
fake faces are mixed in as the config says. Every folder is split by a hash of each file's
name into training and validation files; validation files are never trained on.

Required:
  --config FILE          training config (see models/configs/README.md)
  --real DIR             folder of real face images (repeatable; searched recursively)
  --output MODEL         where the best model (by the config's early-stopping monitor) goes

Options:
  --fake DIR             folder of fake face images (repeatable)
  --checkpoint-dir DIR   checkpoints, landmark cache (default: MODEL.checkpoints)
  --resume               continue the run saved in the checkpoint folder exactly where it
                         stopped (same config and folders)
  --device DEV           cpu, cuda or cuda:N (default: cpu)
  --threads N            LibTorch CPU threads (default: one per core)
  --no-prefetch          build batches on the training thread (default: built ahead on
                         other threads; results are identical either way)
  --data-threads N       batches built ahead at once, each on its own thread (default: 1)
  --channels-last        NHWC activations and convolution weights (faster with oneDNN on
                         CPU; results differ from the default by float rounding only)
  --max-steps N          stop after N training steps in all (validates and checkpoints
                         first; --resume continues later)
  --validate-at-start    score the validation split before the first step
  --profile-steps N      time N steps and print where a step's time goes (making the
                         batch, waiting for it, forward, backward, optimiser), then stop
                         without validating or saving: for choosing --data-threads,
                         --channels-last and --threads on a machine
  --landmark-cache FILE  landmark cache (default: CHECKPOINT_DIR/landmarks.json)
  --init MODEL           start from this model file (overrides the config's init.weights)
  --average MODEL        repeatable: train nothing; write the mean of these models' weights
                         (one model: its own), with BatchNorm statistics recomputed on
                         training batches, validated and calibrated as the config says: for
                         shipping the mean of a run's last epochs, or one checkpoint (which
                         carries neither its validation nor a calibrated threshold)
  -h, --help             show this help

Progress goes to stderr: a live bar on a terminal, one line per logging.every_steps steps
otherwise, and per epoch the training loss and the validation figures, each labelled with
its split. SIGINT or SIGTERM saves a checkpoint before exiting.

Exit status: 0 when the run finished or reached --max-steps, 130 when interrupted (checkpoint
saved), 2 for bad arguments or config, 1 for other failures.
)";

using dfd::tools::UsageError;

}  // namespace

int main(int argc, char **argv) {
  dfd::tools::restart_with_passive_openmp_wait(argv);
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
  dfd::training::RunOptions options;
  std::string config_path, init;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      const std::optional<std::string> inline_value = dfd::tools::split_inline_value(arg);
      const auto value = [&] { return dfd::tools::option_value(arg, inline_value, i, argc, argv); };
      const auto flag = [&] {
        if (inline_value) throw UsageError(arg + " takes no value");
        return true;
      };
      if (arg == "-h" || arg == "--help") {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (arg == "--config") {
        config_path = value();
      } else if (arg == "--real") {
        options.real_dirs.push_back(value());
      } else if (arg == "--fake") {
        options.fake_dirs.push_back(value());
      } else if (arg == "--output") {
        options.output = value();
      } else if (arg == "--checkpoint-dir") {
        options.checkpoint_dir = value();
      } else if (arg == "--resume") {
        options.resume = flag();
      } else if (arg == "--device") {
        options.device = value();
      } else if (arg == "--threads") {
        options.threads = static_cast<int>(dfd::tools::parse_integer(arg, value(), 1));
      } else if (arg == "--no-prefetch") {
        options.prefetch = !flag();
      } else if (arg == "--data-threads") {
        options.data_threads = static_cast<int>(dfd::tools::parse_integer(arg, value(), 1));
      } else if (arg == "--channels-last") {
        options.channels_last = flag();
      } else if (arg == "--max-steps") {
        options.max_steps = dfd::tools::parse_integer(arg, value(), 1);
      } else if (arg == "--profile-steps") {
        options.profile_steps = dfd::tools::parse_integer(arg, value(), 1);
      } else if (arg == "--validate-at-start") {
        options.validate_at_start = flag();
      } else if (arg == "--landmark-cache") {
        options.landmark_cache = value();
      } else if (arg == "--init") {
        init = value();
      } else if (arg == "--average") {
        options.average.push_back(value());
      } else {
        throw UsageError("unknown argument '" + arg + "' (see --help)");
      }
    }
    if (config_path.empty()) throw UsageError("--config is required");
    if (options.real_dirs.empty()) throw UsageError("at least one --real folder is required");
    if (options.output.empty()) throw UsageError("--output is required");
    if (!options.average.empty() &&
        (options.resume || options.max_steps > 0 || options.profile_steps > 0)) {
      throw UsageError(
          "--average trains nothing: it takes no --resume, --max-steps or "
          "--profile-steps");
    }
    if (options.checkpoint_dir.empty()) options.checkpoint_dir = options.output + ".checkpoints";
  } catch (const UsageError &e) {
    std::fprintf(stderr, "deepfake-train: %s\n", e.what());
    return 2;
  }
  options.command_line = dfd::tools::quoted_command_line(argc, argv);

  dfd::training::TrainConfig config;
  try {
    config = dfd::training::load_train_config(config_path);
    if (!init.empty()) config.init_weights = init;
  } catch (const dfd::training::ConfigError &e) {
    std::fprintf(stderr, "deepfake-train: %s\n", e.what());
    return 2;
  }
  try {
    return dfd::training::run_training(config, options);
  } catch (const dfd::training::ConfigError &e) {
    std::fprintf(stderr, "deepfake-train: %s\n", e.what());
    return 2;
  } catch (const dfd::ModelError &e) {
    std::fprintf(stderr, "deepfake-train: %s\n", e.what());
    return 2;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "deepfake-train: %s\n", e.what());
    return 1;
  }
}
