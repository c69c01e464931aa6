// A model file opened and fully validated: the config from the header's metadata, and every
// tensor the config calls for, present with the right shape and a float dtype, and no others.
#pragma once

#include <string>
#include <vector>

#include "model_config.h"
#include "safetensors.h"

namespace dfd {

class ModelFile {
 public:
  // Throws ModelError naming `path` and the field or tensor at fault.
  static ModelFile open(const std::string &path);
  static ModelFile from_safetensors(SafetensorsFile file);

  const ModelConfig &config() const { return config_; }
  const SafetensorsFile &file() const { return file_; }
  // The tensor's values converted to float32 (F16 and BF16 are widened). Name must be expected.
  std::vector<float> tensor_as_float(const std::string &name) const;

 private:
  ModelConfig config_;
  SafetensorsFile file_;
};

// Writes a model file: the config into the metadata, float32 tensors in the given order.
struct NamedFloatTensor {
  std::string name;
  std::vector<int64_t> shape;
  const float *data = nullptr;
};
void write_model_file(const std::string &path, const ModelConfig &config,
                      const std::vector<NamedFloatTensor> &tensors);
// `weights`' tensors (as float32) under another config, e.g. a recalibrated threshold.
void write_model_file(const std::string &path, const ModelConfig &config, const ModelFile &weights);

}  // namespace dfd
