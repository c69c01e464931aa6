// The golden files of tests/golden/ (made by tests/golden/make_goldens.py, which documents the
// format): a model recipe (generated weights plus stored BatchNorm statistics) and the
// independent reference's outputs for the crops in tests/golden/crops/. This expands a recipe
// into an ordinary model file, bit-identical to the weights the reference ran.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/model_config.h"
#include "core/model_layout.h"
#include "core/safetensors.h"

namespace dfd::testing {

struct GoldenOutputs {
  ModelConfig config;
  std::vector<std::string> crops;  // file names in tests/golden/crops/
  std::vector<double> logits;      // one per crop
  int grid_width = 0, grid_height = 0;
  std::vector<std::vector<double>> relevancy;  // per crop, row-major
};

inline std::string golden_dir() {
  const char *root = std::getenv("DFD_SOURCE_ROOT");
  return std::string(root != nullptr ? root : ".") + "/tests/golden";
}

// The generator of make_goldens.py: splitmix64 from seed ^ fnv1a64(name), u in [0, 1) with 24
// bits, offset + scale * (2u - 1) in double rounded once to float.
inline uint64_t fnv1a64(const std::string &text) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (const unsigned char c : text) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

inline std::vector<float> generate_tensor(const std::string &name, size_t count, double offset,
                                          double scale, uint64_t seed) {
  std::vector<float> out(count);
  const uint64_t start = seed ^ fnv1a64(name);
  for (size_t i = 0; i < count; ++i) {
    uint64_t z = start + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const double u = static_cast<double>(z >> 40) / static_cast<double>(1u << 24);
    out[i] = static_cast<float>(offset + scale * (2.0 * u - 1.0));
  }
  return out;
}

inline uint64_t golden_checksum(const std::vector<float> &values) {
  uint64_t sum = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t bits = 0;
    std::memcpy(&bits, &values[i], sizeof bits);
    sum += static_cast<uint64_t>(bits) * (i + 1);
  }
  return sum;
}

inline std::vector<double> f64_values(const SafetensorsFile &file, const std::string &name) {
  const TensorInfo *info = file.find(name);
  if (info == nullptr || info->dtype != DType::F64) {
    throw std::runtime_error(file.label() + ": no float64 tensor " + name);
  }
  std::vector<double> out(static_cast<size_t>(info->numel()));
  std::memcpy(out.data(), file.data(*info), out.size() * sizeof(double));
  return out;
}

// Writes the model file of the golden file `name` ("seed", "lite0") to `model_path` and
// returns the reference's outputs. Throws std::runtime_error when the recipe does not expand to
// exactly the weights make_goldens.py had (a checksum differs) or is incomplete.
inline GoldenOutputs expand_golden_model(const std::string &name, const std::string &model_path) {
  const SafetensorsFile golden =
      SafetensorsFile::read(golden_dir() + "/" + name + ".golden.safetensors");
  const auto &meta = golden.metadata();
  const auto field = [&](const std::string &key) -> const std::string & {
    const auto it = meta.find(key);
    if (it == meta.end()) throw std::runtime_error(golden.label() + ": no metadata " + key);
    return it->second;
  };
  if (field("generator") != "splitmix64-uniform-v1") {
    throw std::runtime_error(golden.label() + ": unknown generator " + field("generator"));
  }
  const uint64_t seed = std::stoull(field("seed"));
  GoldenOutputs out;
  out.config = parse_model_config_text(field("config"), golden.label());

  std::vector<std::vector<float>> generated;  // owns what `tensors` points at
  std::vector<TensorToWrite> tensors;
  for (const ExpectedTensor &t : expected_tensors(out.config)) {
    if (const TensorInfo *stored = golden.find(t.name)) {
      if (stored->shape != t.shape) throw std::runtime_error(golden.label() + ": shape " + t.name);
      tensors.push_back({t.name, stored->dtype, t.shape, golden.data(*stored)});
      continue;
    }
    std::istringstream spec(field("generate:" + t.name));
    double offset = 0, scale = 0;
    uint64_t check = 0;
    if (!(spec >> offset >> scale >> check)) {
      throw std::runtime_error(golden.label() + ": bad generate:" + t.name);
    }
    size_t count = 1;
    for (const int64_t d : t.shape) count *= static_cast<size_t>(d);
    generated.push_back(generate_tensor(t.name, count, offset, scale, seed));
    if (golden_checksum(generated.back()) != check) {
      throw std::runtime_error(golden.label() + ": " + t.name +
                               " expands to other values than make_goldens.py generated");
    }
    tensors.push_back({t.name, DType::F32, t.shape, generated.back().data()});
  }
  write_safetensors(model_path, {{"config", field("config")}}, tensors);

  std::istringstream crops(field("crops"));
  for (std::string crop; std::getline(crops, crop, ',');) out.crops.push_back(crop);
  out.logits = f64_values(golden, "golden.logits");
  const TensorInfo *grid = golden.find("golden.relevancy");
  if (grid == nullptr || grid->shape.size() != 3 ||
      grid->shape[0] != static_cast<int64_t>(out.crops.size()) ||
      out.logits.size() != out.crops.size()) {
    throw std::runtime_error(golden.label() + ": golden outputs do not match its crops");
  }
  out.grid_height = static_cast<int>(grid->shape[1]);
  out.grid_width = static_cast<int>(grid->shape[2]);
  const std::vector<double> all = f64_values(golden, "golden.relevancy");
  const size_t cells = static_cast<size_t>(out.grid_width) * out.grid_height;
  for (size_t i = 0; i < out.crops.size(); ++i) {
    out.relevancy.emplace_back(all.begin() + i * cells, all.begin() + (i + 1) * cells);
  }
  return out;
}

}  // namespace dfd::testing
