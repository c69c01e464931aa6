// libFuzzer target for the model-file reader: every byte of a model file comes from a stranger,
// so every input must end in a ModelError or a fully validated model, never in a crash, a
// sanitizer report, another exception type or a model that breaks the reader's promises.
//
// The first input byte picks what the rest is (its value modulo 3):
//   0  a safetensors file, byte for byte;
//   1  a safetensors file abbreviated: a little-endian uint32 N, then the file's first bytes,
//      which the target extends with N zero bytes. A valid model holds megabytes of weights;
//      this way the fuzzer mutates the header and the first tensors of complete, loadable
//      models of every architecture without carrying the weights in each input.
//   2  the JSON config text alone (inside a file it is an escaped string, which mutations
//      rarely keep valid).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "core/json_strict.h"
#include "core/model_config.h"
#include "core/model_error.h"
#include "core/model_file.h"
#include "core/model_layout.h"
#include "core/safetensors.h"

namespace {

const char *const kLabel = "fuzz.safetensors";
// Larger than the biggest seed (the seed architecture, about 34 MB of float32 weights).
constexpr uint32_t kMaxZeroBytes = 64u << 20;

// A broken promise is a bug just like a crash: abort so libFuzzer saves the input.
void require(bool condition, const char *what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz_model_file: invariant violated: %s\n", what);
  std::abort();
}

bool same_layout(const dfd::ModelConfig &a, const dfd::ModelConfig &b) {
  const std::vector<dfd::ExpectedTensor> x = dfd::expected_tensors(a);
  const std::vector<dfd::ExpectedTensor> y = dfd::expected_tensors(b);
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i].name != y[i].name || x[i].shape != y[i].shape) return false;
  }
  return true;
}

bool nearly_equal(double a, double b) {
  return std::fabs(a - b) <= 1e-6 * std::fabs(a);
}

// What the rest of the code relies on once a config is accepted.
void check_config(const dfd::ModelConfig &config) {
  const std::vector<dfd::ExpectedTensor> layout = dfd::expected_tensors(config);
  require(!layout.empty(), "an accepted config has an empty tensor layout");
  std::set<std::string> names;
  for (const dfd::ExpectedTensor &tensor : layout) {
    require(names.insert(tensor.name).second, "the tensor layout names a tensor twice");
    for (const int64_t dim : tensor.shape)
      require(dim > 0, "the tensor layout has a dimension < 1");
  }
  require(dfd::parameter_count(config) > 0, "an accepted config has no parameters");
  require(config.grid_width() > 0 &&
              config.grid_width() * config.grid_height() <= config.token_count() - 1,
          "the relevancy grid does not fit the tokens");
  for (size_t i = 0; i < 3; ++i) {
    require(std::isfinite(config.mean[i]) && config.std[i] > 0.f, "mean or std out of range");
  }

  // The writer's output must be accepted by the reader and describe the same network.
  const std::string text = dfd::json::dump(dfd::model_config_to_json(config));
  dfd::ModelConfig again;
  try {
    again = dfd::parse_model_config_text(text, kLabel);
  } catch (const dfd::ModelError &e) {
    std::fprintf(stderr, "fuzz_model_file: written config rejected: %s\n", e.what());
    require(false, "model_config_to_json wrote a config that the reader rejects");
  }
  require(again.architecture == config.architecture && again.backbone == config.backbone &&
              again.image_size == config.image_size && again.color_order == config.color_order &&
              again.mean == config.mean && again.std == config.std && again.name == config.name &&
              again.source == config.source && same_layout(again, config),
          "the config changed through a write and a read");
  require(nearly_equal(again.threshold, config.threshold),
          "the threshold changed through a round trip");
}

// `zeros_from`: where the zero bytes that mode 1 appended begin. Tensors lying wholly in them
// hold only zeros, so converting them again would test nothing and cost most of the time.
void fuzz_file(std::vector<uint8_t> bytes, size_t zeros_from) {
  const size_t file_size = bytes.size();
  uint64_t header_size = 0;
  if (file_size >= 8) std::memcpy(&header_size, bytes.data(), sizeof header_size);
  dfd::SafetensorsFile file;
  try {
    file = dfd::SafetensorsFile::parse(std::move(bytes), kLabel);
  } catch (const dfd::ModelError &) {
    return;
  }
  std::string previous;
  for (const dfd::TensorInfo &tensor : file.tensors()) {
    require(previous.empty() || previous < tensor.name, "tensors are not sorted by name");
    previous = tensor.name;
    require(tensor.data_begin <= tensor.data_end && 8 + header_size + tensor.data_end <= file_size,
            "tensor data outside the file");
    require(tensor.numel() >= 0 &&
                static_cast<uint64_t>(tensor.numel()) * dfd::dtype_size(tensor.dtype) ==
                    tensor.data_end - tensor.data_begin,
            "tensor byte range does not match its dtype and shape");
    require(file.find(tensor.name) == &tensor, "find() misses a listed tensor");
  }

  dfd::ModelFile model;
  try {
    model = dfd::ModelFile::from_safetensors(std::move(file));
  } catch (const dfd::ModelError &) {
    return;
  }
  check_config(model.config());
  const std::vector<dfd::ExpectedTensor> layout = dfd::expected_tensors(model.config());
  require(layout.size() == model.file().tensors().size(), "the model has extra tensors");
  for (const dfd::ExpectedTensor &want : layout) {
    const dfd::TensorInfo *tensor = model.file().find(want.name);
    require(tensor && tensor->shape == want.shape, "an expected tensor is missing or misshapen");
    if (8 + header_size + tensor->data_begin >= zeros_from) continue;
    const std::vector<float> values = model.tensor_as_float(want.name);
    require(values.size() == static_cast<size_t>(tensor->numel()), "wrong number of values");
    for (const float value : values) require(std::isfinite(value), "a loaded value is not finite");
  }
}

void fuzz_config(const uint8_t *data, size_t size) {
  dfd::ModelConfig config;
  try {
    config = dfd::parse_model_config_text(std::string(reinterpret_cast<const char *>(data), size),
                                          kLabel);
  } catch (const dfd::ModelError &) {
    return;
  }
  check_config(config);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 3;
  ++data;
  --size;
  switch (mode) {
    case 0:
      fuzz_file(std::vector<uint8_t>(data, data + size), size);
      break;
    case 1: {
      if (size < 4) return 0;
      uint32_t zeros;
      std::memcpy(&zeros, data, sizeof zeros);
      if (zeros > kMaxZeroBytes) return 0;
      std::vector<uint8_t> bytes(data + 4, data + size);
      const size_t zeros_from = bytes.size();
      bytes.resize(bytes.size() + zeros, 0);
      fuzz_file(std::move(bytes), zeros_from);
      break;
    }
    default:
      fuzz_config(data, size);
      break;
  }
  return 0;
}
