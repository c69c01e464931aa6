// Small random spatial models for the tests that need a model file but not a trained one.
#pragma once

#include <cstdint>
#include <string>

#include "core/torch_model.h"

namespace dfd::testing {

// Spatial architecture at 224 px with a two-block, 64-wide transformer: fast to build and run.
inline ModelConfig small_spatial_config(const std::string &name, const std::string &test_file) {
  ModelConfig c;
  c.architecture = Architecture::Spatial;
  c.image_size = 224;
  c.transformer.dim = 64;
  c.transformer.depth = 2;
  c.transformer.heads = 2;
  c.transformer.dim_head = 16;
  c.transformer.mlp_dim = 128;
  c.name = name;
  c.source = "random initialisation (" + test_file + ")";
  return c;
}

// Random weights with the BatchNorm statistics of a 0..255 input, so activations keep a sane
// range (default statistics blow up through 16 blocks), written to `path`.
inline void save_random_model(const ModelConfig &config, const std::string &path, uint64_t seed) {
  torch::manual_seed(seed);
  DeepfakeNet net(config);
  net->train();
  {
    torch::NoGradGuard no_grad;
    for (int i = 0; i < 3; ++i) net->forward(torch::rand({4, 3, 224, 224}) * 255.0);
  }
  save_weights(net, path);
}

}  // namespace dfd::testing
