// The JSON config that travels inside a model file (safetensors __metadata__["config"]).
// It says everything needed to rebuild the network and feed it: architecture and sizes,
// input geometry, colour order and normalisation, threshold, name and provenance.
#pragma once

#include <array>
#include <string>

#include "json_strict.h"

namespace dfd {

enum class Architecture {
  Seed,     // evit_model10: 1024 channel-projection tokens of width 49 (spec section 1)
  Spatial,  // one token per backbone feature cell, so relevancy lands on the face
};

enum class ColorOrder { BGR, RGB };

struct TransformerConfig {
  int dim = 49;  // token width (seed: emb-dim 49)
  int depth = 6;
  int heads = 8;
  int dim_head = 64;
  int mlp_dim = 2048;
  int head_hidden = 2048;  // seed only: mlp_head Linear(dim, head_hidden) -> ReLU -> Linear(., 1)
  double dropout = 0.15;
  double emb_dropout = 0.15;
};

struct ModelConfig {
  static constexpr const char *kMetadataKey = "config";
  static constexpr int kFormatVersion = 1;

  Architecture architecture = Architecture::Spatial;
  std::string backbone = "efficientnet-b0";
  int image_size = 224;
  ColorOrder color_order = ColorOrder::BGR;
  // Applied to 0..255 pixel values: x = (v - mean) / std. The seed uses mean 0, std 1.
  std::array<float, 3> mean{0.f, 0.f, 0.f};
  std::array<float, 3> std{1.f, 1.f, 1.f};
  int seed_tokens = 1024;  // seed only: Conv1d output channels
  TransformerConfig transformer;
  double threshold = 0.55;
  std::string name;
  std::string source;              // provenance: where the weights came from
  json::Value training = nullptr;  // free-form record of how the weights were made

  int feature_size() const { return image_size / 32; }  // EfficientNet downsamples by 32
  int token_count() const;                              // including the cls token
  // Width and height of the relevancy grid (R[0, 1:] reshaped).
  int grid_width() const;
  int grid_height() const;

  static ModelConfig seed_defaults();
};

// Both throw ModelError; `label` (usually the file path) and the field name are in the message.
ModelConfig parse_model_config(const json::Value &value, const std::string &label);
ModelConfig parse_model_config_text(const std::string &text, const std::string &label);
json::Value model_config_to_json(const ModelConfig &config);

const char *architecture_name(Architecture architecture);

}  // namespace dfd
