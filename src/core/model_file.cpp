#include "model_file.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "model_error.h"
#include "model_layout.h"

namespace dfd {

namespace {

std::string shape_string(const std::vector<int64_t> &shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

std::string quoted_name(const std::string &name) {
  std::string out = "'";
  json::append_escaped(out, name);
  return out + "'";
}

bool is_float_dtype(DType dtype) {
  return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16;
}

float half_to_float(uint16_t half) {
  const bool negative = half & 0x8000;
  const int exponent = (half >> 10) & 0x1F;
  const int mantissa = half & 0x3FF;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);  // zero or subnormal
  } else if (exponent == 31) {
    magnitude =
        mantissa ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    magnitude = std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);
  }
  return negative ? -magnitude : magnitude;
}

float bfloat16_to_float(uint16_t bits) {
  // bfloat16 is the top half of a float32, so widening is exact, NaN payloads included.
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, sizeof value);
  return value;
}

// Checks bit patterns rather than converting: a file of tens of MiB is scanned at every load.
bool all_finite(const TensorInfo &tensor, const uint8_t *data) {
  const size_t count = static_cast<size_t>(tensor.numel());
  if (tensor.dtype == DType::F32) {
    for (size_t i = 0; i < count; ++i) {
      uint32_t bits;
      std::memcpy(&bits, data + 4 * i, sizeof bits);
      if ((bits & 0x7F800000u) == 0x7F800000u) return false;
    }
    return true;
  }
  // F16 has a 5-bit exponent field, BF16 an 8-bit one; all ones means NaN or infinity.
  const uint16_t mask = tensor.dtype == DType::F16 ? 0x7C00 : 0x7F80;
  for (size_t i = 0; i < count; ++i) {
    uint16_t bits;
    std::memcpy(&bits, data + 2 * i, sizeof bits);
    if ((bits & mask) == mask) return false;
  }
  return true;
}

}  // namespace

ModelFile ModelFile::open(const std::string &path) {
  return from_safetensors(SafetensorsFile::read(path));
}

ModelFile ModelFile::from_safetensors(SafetensorsFile file) {
  const std::string label = file.label();
  const auto fail = [&label](const std::string &what) { throw ModelError(label + ": " + what); };
  const auto entry = file.metadata().find(ModelConfig::kMetadataKey);
  if (entry == file.metadata().end()) {
    fail("no '" + std::string(ModelConfig::kMetadataKey) + "' entry in the safetensors metadata");
  }
  ModelFile model;
  model.config_ = parse_model_config_text(entry->second, label);

  const std::vector<ExpectedTensor> expected = expected_tensors(model.config_);
  std::set<std::string> expected_names;
  std::vector<std::string> missing;
  for (const ExpectedTensor &want : expected) {
    expected_names.insert(want.name);
    if (!file.find(want.name)) missing.push_back(want.name);
  }
  std::vector<std::string> unexpected;
  for (const TensorInfo &tensor : file.tensors()) {
    if (!expected_names.count(tensor.name)) unexpected.push_back(tensor.name);
  }
  // Both lists at once: a config that disagrees with the weights (say, the wrong depth) shows
  // up as missing and unexpected tensors together, and the pair points at the cause.
  if (!missing.empty()) {
    std::string message = "missing tensor " + quoted_name(missing.front());
    if (missing.size() > 1) message += " (and " + std::to_string(missing.size() - 1) + " more)";
    if (!unexpected.empty()) {
      message += "; the file has " + std::to_string(unexpected.size()) +
                 " tensor(s) the config does not use, e.g. " + quoted_name(unexpected.front()) +
                 ": does the config match the weights?";
    }
    fail(message);
  }
  if (!unexpected.empty()) {
    std::string message = "unexpected tensor " + quoted_name(unexpected.front());
    if (unexpected.size() > 1) {
      message += " (and " + std::to_string(unexpected.size() - 1) + " more)";
    }
    fail(message + ": the config does not use it");
  }

  for (const ExpectedTensor &want : expected) {
    const TensorInfo &tensor = *file.find(want.name);
    const std::string where = "tensor " + quoted_name(want.name) + ": ";
    if (tensor.shape != want.shape) {
      fail(where + "shape " + shape_string(tensor.shape) + " but the config needs " +
           shape_string(want.shape));
    }
    if (!is_float_dtype(tensor.dtype)) {
      fail(where + "dtype " + dtype_name(tensor.dtype) + " is not a floating-point type");
    }
    // Checked here rather than at conversion so a damaged file fails when it is loaded, not
    // as NaN scores some time later.
    if (!all_finite(tensor, file.data(tensor))) fail(where + "contains NaN or infinity");
  }
  model.file_ = std::move(file);
  return model;
}

std::vector<float> ModelFile::tensor_as_float(const std::string &name) const {
  const TensorInfo *tensor = file_.find(name);
  if (!tensor) throw ModelError(file_.label() + ": no tensor " + quoted_name(name));
  const size_t count = static_cast<size_t>(tensor->numel());
  const uint8_t *data = file_.data(*tensor);
  std::vector<float> out(count);
  switch (tensor->dtype) {
    case DType::F32:
      if (count) std::memcpy(out.data(), data, count * sizeof(float));
      break;
    case DType::F16:
    case DType::BF16: {
      const bool half = tensor->dtype == DType::F16;
      for (size_t i = 0; i < count; ++i) {
        uint16_t bits;
        std::memcpy(&bits, data + 2 * i, sizeof bits);
        out[i] = half ? half_to_float(bits) : bfloat16_to_float(bits);
      }
      break;
    }
    default:
      // from_safetensors admits only float dtypes; anything else is a caller bug.
      throw ModelError(file_.label() + ": tensor " + quoted_name(name) + ": dtype " +
                       dtype_name(tensor->dtype) + " is not a floating-point type");
  }
  return out;
}

void write_model_file(const std::string &path, const ModelConfig &config,
                      const std::vector<NamedFloatTensor> &tensors) {
  std::vector<TensorToWrite> out;
  out.reserve(tensors.size());
  for (const NamedFloatTensor &tensor : tensors) {
    out.push_back({tensor.name, DType::F32, tensor.shape, tensor.data});
  }
  const std::map<std::string, std::string> metadata{
      {ModelConfig::kMetadataKey, json::dump(model_config_to_json(config))}};
  write_safetensors(path, metadata, out);
}

void write_model_file(const std::string &path, const ModelConfig &config,
                      const ModelFile &weights) {
  std::vector<std::vector<float>> values;
  values.reserve(weights.file().tensors().size());
  std::vector<NamedFloatTensor> tensors;
  for (const TensorInfo &tensor : weights.file().tensors()) {
    values.push_back(weights.tensor_as_float(tensor.name));
    tensors.push_back({tensor.name, tensor.shape, values.back().data()});
  }
  write_model_file(path, config, tensors);
}

}  // namespace dfd
