// Reader and writer for the safetensors format (8-byte little-endian header length, a JSON
// header, then raw little-endian tensor data). The reader trusts nothing in the file: every
// length, offset, dtype and shape is checked before a byte of tensor data is touched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dfd {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

const char *dtype_name(DType dtype);
size_t dtype_size(DType dtype);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  size_t data_begin = 0;  // relative to the start of the data section
  size_t data_end = 0;

  int64_t numel() const;
};

struct SafetensorsLimits {
  // Real headers are a few hundred KiB; anything far larger is hostile or broken.
  size_t max_header_bytes = 16u << 20;
  size_t max_tensors = 100000;
  size_t max_rank = 8;
};

class SafetensorsFile {
 public:
  // Reads and validates a whole file. Throws ModelError naming `path`.
  static SafetensorsFile read(const std::string &path, const SafetensorsLimits &limits = {});
  // Validates bytes already in memory; `label` names them in error messages (fuzzing, tests).
  static SafetensorsFile parse(std::vector<uint8_t> bytes, const std::string &label,
                               const SafetensorsLimits &limits = {});

  const std::string &label() const { return label_; }
  const std::map<std::string, std::string> &metadata() const { return metadata_; }
  const std::vector<TensorInfo> &tensors() const { return tensors_; }  // sorted by name
  const TensorInfo *find(const std::string &name) const;
  const uint8_t *data(const TensorInfo &tensor) const {
    return bytes_.data() + data_offset_ + tensor.data_begin;
  }

 private:
  std::string label_;
  std::vector<uint8_t> bytes_;
  size_t data_offset_ = 0;  // an offset, not a pointer, so copies stay valid
  std::map<std::string, std::string> metadata_;
  std::vector<TensorInfo> tensors_;
};

struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void *data = nullptr;  // numel * dtype_size bytes, little-endian
};

// Writes atomically (temporary file then rename), so an interrupted checkpoint never
// replaces a good one with a torn file.
void write_safetensors(const std::string &path, const std::map<std::string, std::string> &metadata,
                       const std::vector<TensorToWrite> &tensors);

}  // namespace dfd
