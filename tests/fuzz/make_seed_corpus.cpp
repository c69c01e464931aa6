// Writes the seed corpus for fuzz_model_file: valid model files of every architecture and
// backbone, written by the project's own writer, and corrupted variants of each kind the reader
// must refuse, so the fuzzer starts from inputs that reach every check instead of having to
// discover the format. The input encoding (first byte: 0 file, 1 abbreviated file, 2 config
// text) is described in fuzz_model_file.cpp.
//
// Usage: make-seed-corpus OUTPUT_DIR
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "core/json_strict.h"
#include "core/model_config.h"
#include "core/model_file.h"
#include "core/model_layout.h"
#include "core/safetensors.h"

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

class Corpus {
 public:
  explicit Corpus(fs::path dir) : dir_(std::move(dir)) { fs::create_directories(dir_); }

  void add(const std::string &name, uint8_t mode, const Bytes &body) {
    std::ofstream out(dir_ / name, std::ios::binary);
    out.put(static_cast<char>(mode));
    out.write(reinterpret_cast<const char *>(body.data()),
              static_cast<std::streamsize>(body.size()));
    if (!out) throw std::runtime_error("cannot write " + (dir_ / name).string());
    ++count_;
  }
  void add_file(const std::string &name, const Bytes &file) { add(name, 0, file); }
  void add_text(const std::string &name, const std::string &text) {
    add(name, 2, Bytes(text.begin(), text.end()));
  }
  // Mode 1: the file up to `keep` bytes past the header, the rest implied as zeros. Data
  // bytes past the header are all zero in these files, so the fuzz target rebuilds them exactly.
  void add_abbreviated(const std::string &name, const Bytes &file, size_t keep = 16) {
    uint64_t header;
    std::memcpy(&header, file.data(), sizeof header);
    const size_t prefix = std::min(file.size(), static_cast<size_t>(8 + header + keep));
    const uint32_t zeros = static_cast<uint32_t>(file.size() - prefix);
    Bytes body(sizeof zeros + prefix);
    std::memcpy(body.data(), &zeros, sizeof zeros);
    std::memcpy(body.data() + sizeof zeros, file.data(), prefix);
    add(name, 1, body);
  }
  const fs::path &dir() const { return dir_; }
  int count() const { return count_; }

 private:
  fs::path dir_;
  int count_ = 0;
};

Bytes read_bytes(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

size_t data_offset(const Bytes &file) {
  uint64_t header;
  std::memcpy(&header, file.data(), sizeof header);
  return static_cast<size_t>(8 + header);
}

// A complete model file with all-zero weights (zero is finite, so it loads), written by the
// project's writer in `dtype`, and read back into memory. `edit` may change the tensor list.
template <typename Edit>
Bytes model_file(const Corpus &corpus, const dfd::ModelConfig &config, dfd::DType dtype,
                 Edit &&edit) {
  std::vector<dfd::ExpectedTensor> layout = dfd::expected_tensors(config);
  edit(layout);
  size_t largest = 0;
  for (const dfd::ExpectedTensor &tensor : layout) {
    size_t numel = 1;
    for (const int64_t dim : tensor.shape) numel *= static_cast<size_t>(dim);
    largest = std::max(largest, numel);
  }
  const std::vector<float> zeros(largest, 0.f);
  std::vector<dfd::TensorToWrite> tensors;
  for (const dfd::ExpectedTensor &tensor : layout) {
    tensors.push_back({tensor.name, dtype, tensor.shape, zeros.data()});
  }
  const fs::path path = corpus.dir() / "tmp-model.safetensors";
  dfd::write_safetensors(
      path.string(),
      {{dfd::ModelConfig::kMetadataKey, dfd::json::dump(dfd::model_config_to_json(config))}},
      tensors);
  Bytes bytes = read_bytes(path);
  fs::remove(path);
  return bytes;
}

Bytes model_file(const Corpus &corpus, const dfd::ModelConfig &config,
                 dfd::DType dtype = dfd::DType::F32) {
  return model_file(corpus, config, dtype, [](std::vector<dfd::ExpectedTensor> &) {});
}

// A hand-made safetensors file: header length, header text, `data` bytes of data.
Bytes raw_file(const std::string &header, size_t data, uint64_t header_length = UINT64_MAX) {
  // Sized up front and filled with memcpy: GCC 12 at -O3 misreads vector::insert after a
  // small allocation as out of bounds (-Warray-bounds).
  Bytes out(8 + header.size() + data, 0);
  const uint64_t length = header_length == UINT64_MAX ? header.size() : header_length;
  std::memcpy(out.data(), &length, sizeof length);
  if (!header.empty()) std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

dfd::ModelConfig small_spatial(const std::string &backbone) {
  dfd::ModelConfig config;
  config.architecture = dfd::Architecture::Spatial;
  config.backbone = backbone;
  config.image_size = 64;
  config.color_order = dfd::ColorOrder::RGB;
  config.mean = {123.675f, 116.28f, 103.53f};
  config.std = {58.395f, 57.12f, 57.375f};
  config.transformer.dim = 8;
  config.transformer.depth = 1;
  config.transformer.heads = 2;
  config.transformer.dim_head = 4;
  config.transformer.mlp_dim = 16;
  config.transformer.dropout = 0.1;
  config.transformer.emb_dropout = 0.0;
  config.threshold = 0.5;
  config.name = "fuzz-spatial-" + backbone;
  config.source = "make-seed-corpus";
  config.training =
      dfd::json::Object{{"epochs", dfd::json::Value(3)}, {"note", dfd::json::Value("zeros")}};
  return config;
}

void write_corpus(Corpus &corpus) {
  using dfd::DType;
  const dfd::ModelConfig seed = dfd::ModelConfig::seed_defaults();
  const dfd::ModelConfig spatial = small_spatial("efficientnet-b0");
  const dfd::ModelConfig lite = small_spatial("efficientnet-lite0");
  dfd::ModelConfig spatial224 = spatial;
  spatial224.image_size = 224;
  spatial224.transformer.depth = 2;
  spatial224.name = "fuzz-spatial-224";

  // Valid models of each architecture, backbone and float dtype.
  corpus.add_abbreviated("valid-seed", model_file(corpus, seed));
  corpus.add_abbreviated("valid-spatial-b0", model_file(corpus, spatial));
  corpus.add_abbreviated("valid-spatial-lite0", model_file(corpus, lite));
  corpus.add_abbreviated("valid-spatial-224", model_file(corpus, spatial224));
  corpus.add_abbreviated("valid-spatial-f16", model_file(corpus, spatial, DType::F16));
  corpus.add_abbreviated("valid-lite0-bf16", model_file(corpus, lite, DType::BF16));

  // Non-finite weights in the first tensor of the data section.
  {
    Bytes file = model_file(corpus, spatial);
    const uint32_t nan = 0x7FC00000u;
    std::memcpy(file.data() + data_offset(file) + 4, &nan, sizeof nan);
    corpus.add_abbreviated("nan-f32", file);
    const uint16_t infinity = 0x7C00;
    Bytes half = model_file(corpus, lite, DType::F16);
    std::memcpy(half.data() + data_offset(half) + 2, &infinity, sizeof infinity);
    corpus.add_abbreviated("inf-f16", half);
  }
  // A tensor with the right size but the wrong shape, one missing, one too many, an integer
  // dtype, a config that disagrees with the weights, and a data section one byte short.
  corpus.add_abbreviated("wrong-shape", model_file(corpus, spatial, DType::F32, [](auto &layout) {
                           std::swap(layout.front().shape[0], layout.front().shape[1]);
                         }));
  corpus.add_abbreviated("missing-tensor", model_file(corpus, spatial, DType::F32,
                                                      [](auto &layout) { layout.pop_back(); }));
  corpus.add_abbreviated("unexpected-tensor",
                         model_file(corpus, lite, DType::F32, [](auto &layout) {
                           layout.push_back({"extra.weight", {2, 2}, true});
                         }));
  corpus.add_abbreviated("integer-dtype", model_file(corpus, spatial, DType::I32));
  {
    dfd::ModelConfig deeper = spatial;
    deeper.transformer.depth = 2;
    corpus.add_abbreviated("config-mismatch",
                           model_file(corpus, deeper, DType::F32, [&](auto &layout) {
                             layout = dfd::expected_tensors(spatial);
                           }));
    Bytes file = model_file(corpus, spatial);
    file.pop_back();
    corpus.add_abbreviated("truncated-data", file);
  }

  // Small hand-made containers for the safetensors layer on its own.
  const std::string tensors = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"I64","shape":[1,1],"data_offsets":[8,16]},)"
                              R"("c":{"dtype":"BOOL","shape":[],"data_offsets":[16,17]},)"
                              R"("d":{"dtype":"BF16","shape":[0,3],"data_offsets":[17,17]})";
  corpus.add_file("container", raw_file(R"({"__metadata__":{"k":"v"},)" + tensors + "}", 17));
  corpus.add_file("container-padded", raw_file("{" + tensors + "}   ", 17));
  corpus.add_file("container-config-only",
                  raw_file(R"({"__metadata__":{"config":)" +
                               [&] {
                                 std::string quoted = "\"";
                                 dfd::json::append_escaped(
                                     quoted, dfd::json::dump(dfd::model_config_to_json(spatial)));
                                 return quoted + "\"";
                               }() +
                               "}}",
                           0));
  corpus.add_file("container-gap",
                  raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8));
  corpus.add_file("container-overlap",
                  raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                           8));
  corpus.add_file("container-duplicate-key",
                  raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                           R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                           4));
  corpus.add_file("container-huge-shape",
                  raw_file(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],)"
                           R"("data_offsets":[0,0]}})",
                           0));
  corpus.add_file("container-header-too-long", raw_file("{}", 0, 1000));
  corpus.add_file(
      "container-unicode",
      raw_file(R"({"\u00e9\ud83d\ude00":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1));

  // Config texts alone.
  for (const auto &[name, config] : std::map<std::string, dfd::ModelConfig>{
           {"config-seed", seed}, {"config-spatial", spatial}, {"config-lite0", lite}}) {
    corpus.add_text(name, dfd::json::dump(dfd::model_config_to_json(config)));
  }
  {
    dfd::json::Value bad = dfd::model_config_to_json(seed);
    bad["transformer"]["dim"] = 50;
    corpus.add_text("config-seed-bad-dim", dfd::json::dump(bad));
    bad = dfd::model_config_to_json(seed);
    bad["transformer"]["tokens"] = 1000;
    corpus.add_text("config-seed-tokens-not-square", dfd::json::dump(bad));
    bad = dfd::model_config_to_json(lite);
    bad["architecture"] = "seed";
    corpus.add_text("config-lite0-seed", dfd::json::dump(bad));
    bad = dfd::model_config_to_json(spatial);
    bad["input"]["std"] =
        dfd::json::Array{dfd::json::Value(1.0), dfd::json::Value(1e-46), dfd::json::Value(1.0)};
    corpus.add_text("config-std-underflow", dfd::json::dump(bad));
  }
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  try {
    Corpus corpus(argv[1]);
    write_corpus(corpus);
    std::printf("wrote %d seed inputs to %s\n", corpus.count(), argv[1]);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "make-seed-corpus: %s\n", e.what());
    return 1;
  }
  return 0;
}
