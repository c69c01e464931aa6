// The network as the evaluation tools need it beyond Engine's interface (attention maps,
// token-level edits): its own copy, loaded from the same file, in eval mode. Include only from
// .cpp files that already pay for LibTorch.
#pragma once

#include <string>

#include "core/model_config.h"
#include "core/torch_model.h"

namespace dfd::eval {

struct EvalNetwork {
  ModelConfig config;
  torch::Device device{torch::kCPU};
  DeepfakeNet net{nullptr};
};

// Throws ModelError for unusable files and std::runtime_error for device problems.
EvalNetwork load_eval_network(const std::string &model_path, const std::string &device);

}  // namespace dfd::eval
