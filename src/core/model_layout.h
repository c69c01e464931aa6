// The exact list of tensors (names, shapes) a model of a given config must contain. It is
// computed without LibTorch so the file reader can be checked, and fuzzed, on its own; a test
// checks it against the LibTorch module's own parameters and buffers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model_config.h"

namespace dfd {

struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
  bool is_parameter = true;  // false for BatchNorm running statistics
};

std::vector<ExpectedTensor> expected_tensors(const ModelConfig &config);
int64_t parameter_count(const ModelConfig &config);

}  // namespace dfd
