#include "safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <stdexcept>

#include "json_strict.h"
#include "model_error.h"

namespace dfd {

// Tensor data and the header length are little-endian on disk and are used in place.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "only little-endian hosts are supported");

namespace {

constexpr const char *kMetadataKey = "__metadata__";
// 2^53: the largest integer a JSON number (a double) carries exactly.
constexpr double kMaxExactInteger = 9007199254740992.0;
// Model files are tens of MiB; refusing anything past this keeps a hostile path (a huge
// sparse file, a device) from exhausting memory.
constexpr uint64_t kMaxFileBytes = uint64_t{8} << 30;

struct DTypeEntry {
  DType dtype;
  const char *name;
  size_t size;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::F64, "F64", 8},   {DType::F32, "F32", 4}, {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},   {DType::I8, "I8", 1},   {DType::U8, "U8", 1},
    {DType::BOOL, "BOOL", 1},
};

const DTypeEntry &dtype_entry(DType dtype) {
  for (const DTypeEntry &entry : kDTypes) {
    if (entry.dtype == dtype) return entry;
  }
  throw std::invalid_argument("invalid DType value");
}

std::string quoted(const std::string &name) {
  // Names come from the file; escaping keeps control characters out of messages and logs.
  std::string out = "'";
  json::append_escaped(out, name);
  return out + "'";
}

std::string shape_string(const std::vector<int64_t> &shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

std::string value_string(const json::Value &value) {
  std::string text = json::dump(value);
  // Enough to recognise the value; a hostile header must not produce megabyte messages.
  if (text.size() > 64) text = text.substr(0, 61) + "...";
  return text;
}

class HeaderReader {
 public:
  HeaderReader(const std::string &label, const SafetensorsLimits &limits, size_t data_size)
      : label_(label), limits_(limits), data_size_(data_size) {}

  [[noreturn]] void fail(const std::string &what) const { throw ModelError(label_ + ": " + what); }

  TensorInfo read_tensor(const std::string &name, const json::Value &entry) const {
    const std::string where = "tensor " + quoted(name) + ": ";
    if (name.empty()) fail("a tensor has an empty name");
    if (!entry.is_object()) fail(where + "header entry is not a JSON object");
    for (const auto &[key, value] : json::as_object(entry)) {
      (void)value;
      if (key != "dtype" && key != "shape" && key != "data_offsets") {
        fail(where + "unexpected key " + quoted(key) + " in its header entry");
      }
    }
    const json::Value *dtype = json::find(entry, "dtype");
    const json::Value *shape = json::find(entry, "shape");
    const json::Value *offsets = json::find(entry, "data_offsets");
    if (!dtype) fail(where + "missing 'dtype'");
    if (!shape) fail(where + "missing 'shape'");
    if (!offsets) fail(where + "missing 'data_offsets'");

    TensorInfo info;
    info.name = name;
    if (!dtype->is_string()) fail(where + "dtype is not a string: " + value_string(*dtype));
    const DTypeEntry *found = nullptr;
    for (const DTypeEntry &candidate : kDTypes) {
      if (json::as_string(*dtype) == candidate.name) found = &candidate;
    }
    if (!found) fail(where + "unknown dtype " + quoted(json::as_string(*dtype)));
    info.dtype = found->dtype;

    if (!shape->is_array()) fail(where + "shape is not an array: " + value_string(*shape));
    const json::Array &dims = json::as_array(*shape);
    if (dims.size() > limits_.max_rank) {
      fail(where + "shape has rank " + std::to_string(dims.size()) + ", more than the limit of " +
           std::to_string(limits_.max_rank));
    }
    // Checked product: a hostile shape must not wrap around to a small byte count that
    // happens to match the offsets.
    uint64_t bytes = found->size;
    bool overflow = false;
    for (size_t i = 0; i < dims.size(); ++i) {
      if (!is_index(dims[i])) {
        fail(where + "shape entry " + std::to_string(i) +
             " is not a non-negative integer: " + value_string(dims[i]));
      }
      const uint64_t dim = static_cast<uint64_t>(json::as_number(dims[i]));
      info.shape.push_back(static_cast<int64_t>(dim));
      // Capped at INT64_MAX too, so TensorInfo::numel() can never overflow.
      overflow = overflow || __builtin_mul_overflow(bytes, dim, &bytes) ||
                 bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    }
    if (overflow) {
      fail(where + "shape " + shape_string(info.shape) + " of dtype " + found->name +
           " is too large (its byte size overflows)");
    }

    if (!offsets->is_array() || json::as_array(*offsets).size() != 2 ||
        !is_index(json::as_array(*offsets)[0]) || !is_index(json::as_array(*offsets)[1])) {
      fail(where + "data_offsets must be two non-negative integers, got " + value_string(*offsets));
    }
    const uint64_t begin = static_cast<uint64_t>(json::as_number(json::as_array(*offsets)[0]));
    const uint64_t end = static_cast<uint64_t>(json::as_number(json::as_array(*offsets)[1]));
    const std::string offsets_text =
        "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "]";
    if (begin > end) fail(where + offsets_text + ": begin is after end");
    if (end > data_size_) {
      fail(where + offsets_text + " out of range: the data section has " +
           std::to_string(data_size_) + " bytes");
    }
    if (end - begin != bytes) {
      fail(where + offsets_text + " do not match dtype " + found->name + " and shape " +
           shape_string(info.shape) + " (" + std::to_string(bytes) + " bytes)");
    }
    info.data_begin = static_cast<size_t>(begin);
    info.data_end = static_cast<size_t>(end);
    return info;
  }

  std::map<std::string, std::string> read_metadata(const json::Value &value) const {
    if (!value.is_object()) fail("__metadata__ is not a JSON object");
    std::map<std::string, std::string> metadata;
    for (const auto &[key, item] : json::as_object(value)) {
      if (!item.is_string()) {
        fail("__metadata__ entry " + quoted(key) + " is not a string: " + value_string(item));
      }
      metadata.emplace(key, json::as_string(item));
    }
    return metadata;
  }

  // The data section must be covered exactly once: overlaps would let two tensors alias, and
  // uncovered bytes are either a writer bug or room to smuggle data past a checksum of tensors.
  void check_coverage(std::vector<const TensorInfo *> order) const {
    std::sort(order.begin(), order.end(), [](const TensorInfo *a, const TensorInfo *b) {
      return a->data_begin != b->data_begin ? a->data_begin < b->data_begin
                                            : a->data_end < b->data_end;
    });
    size_t covered = 0;
    const TensorInfo *previous = nullptr;
    for (const TensorInfo *tensor : order) {
      if (tensor->data_begin == tensor->data_end) continue;  // empty tensors occupy nothing
      if (tensor->data_begin < covered) {
        fail("tensor " + quoted(tensor->name) + ": data [" + std::to_string(tensor->data_begin) +
             ", " + std::to_string(tensor->data_end) + "] overlaps tensor " +
             quoted(previous->name) + " [" + std::to_string(previous->data_begin) + ", " +
             std::to_string(previous->data_end) + "]");
      }
      if (tensor->data_begin > covered) {
        fail("tensor " + quoted(tensor->name) + ": gap before tensor (data section bytes [" +
             std::to_string(covered) + ", " + std::to_string(tensor->data_begin) +
             ") belong to no tensor)");
      }
      covered = tensor->data_end;
      previous = tensor;
    }
    if (covered != data_size_) {
      fail("data section has " + std::to_string(data_size_ - covered) + " unused bytes" +
           (covered ? " after the last tensor" : ""));
    }
  }

 private:
  static bool is_index(const json::Value &value) {
    if (!value.is_number()) return false;
    const double x = json::as_number(value);
    return x >= 0 && x <= kMaxExactInteger && x == std::floor(x);
  }

  const std::string &label_;
  const SafetensorsLimits &limits_;
  size_t data_size_;
};

// Owns a POSIX file descriptor: write_safetensors needs fsync, which iostreams cannot do.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor &) = delete;
  FileDescriptor &operator=(const FileDescriptor &) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

[[noreturn]] void fail_file(const std::string &label, const std::string &what) {
  throw ModelError(label + ": " + what);
}

[[noreturn]] void throw_io_error(const std::string &path, const std::string &what, int error) {
  throw std::runtime_error(path + ": " + what + ": " + std::strerror(error));
}

void write_all(int fd, const void *data, size_t size, const std::string &path) {
  const char *bytes = static_cast<const char *>(data);
  while (size > 0) {
    const ssize_t written = ::write(fd, bytes, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      throw_io_error(path, "cannot write", errno);
    }
    bytes += written;
    size -= static_cast<size_t>(written);
  }
}

}  // namespace

const char *dtype_name(DType dtype) {
  return dtype_entry(dtype).name;
}

size_t dtype_size(DType dtype) {
  return dtype_entry(dtype).size;
}

int64_t TensorInfo::numel() const {
  int64_t count = 1;
  for (const int64_t dim : shape) count *= dim;
  return count;
}

const TensorInfo *SafetensorsFile::find(const std::string &name) const {
  const auto it = std::lower_bound(
      tensors_.begin(), tensors_.end(), name,
      [](const TensorInfo &tensor, const std::string &key) { return tensor.name < key; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

SafetensorsFile SafetensorsFile::parse(std::vector<uint8_t> bytes, const std::string &label,
                                       const SafetensorsLimits &limits) {
  const auto fail = [&label](const std::string &what) { fail_file(label, what); };
  if (bytes.size() < 8) {
    fail("file is truncated: " + std::to_string(bytes.size()) +
         " bytes, but a safetensors file starts with an 8-byte header length");
  }
  uint64_t header_size;
  std::memcpy(&header_size, bytes.data(), sizeof header_size);
  const uint64_t available = bytes.size() - 8;
  if (header_size == 0) fail("header length is 0");
  if (header_size > limits.max_header_bytes) {
    fail("header length " + std::to_string(header_size) + " exceeds the limit of " +
         std::to_string(limits.max_header_bytes) + " bytes");
  }
  if (header_size > available) {
    fail("header larger than the file: header length " + std::to_string(header_size) +
         " but only " + std::to_string(available) + " bytes follow (truncated file?)");
  }
  const std::string_view header_text(reinterpret_cast<const char *>(bytes.data() + 8),
                                     static_cast<size_t>(header_size));
  json::Value header;
  try {
    // The header's legitimate nesting is three levels; the spec's trailing 0x20 padding is
    // JSON white space, so the parser accepts it as it is.
    json::ParseLimits json_limits;
    json_limits.max_depth = 8;
    json_limits.max_string_bytes = limits.max_header_bytes;
    header = json::parse(header_text, json_limits);
  } catch (const json::ParseError &e) {
    fail(std::string("header is not valid JSON: ") + e.what() + " of the header");
  }
  if (!header.is_object()) fail("header is not a JSON object");

  const size_t data_size = static_cast<size_t>(available - header_size);
  const HeaderReader reader(label, limits, data_size);
  SafetensorsFile file;
  const json::Object &entries = json::as_object(header);
  const size_t tensor_count = entries.size() - (entries.count(kMetadataKey) ? 1 : 0);
  if (tensor_count > limits.max_tensors) {
    fail("header lists " + std::to_string(tensor_count) + " tensors, more than the limit of " +
         std::to_string(limits.max_tensors));
  }
  file.tensors_.reserve(tensor_count);
  // The object is a std::map, so tensors come out sorted by name, as find() requires.
  for (const auto &[name, entry] : entries) {
    if (name == kMetadataKey) {
      file.metadata_ = reader.read_metadata(entry);
    } else {
      file.tensors_.push_back(reader.read_tensor(name, entry));
    }
  }
  std::vector<const TensorInfo *> order;
  order.reserve(file.tensors_.size());
  for (const TensorInfo &tensor : file.tensors_) order.push_back(&tensor);
  reader.check_coverage(std::move(order));

  file.label_ = label;
  file.bytes_ = std::move(bytes);
  file.data_offset_ = 8 + header_size;
  return file;
}

SafetensorsFile SafetensorsFile::read(const std::string &path, const SafetensorsLimits &limits) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error) throw ModelError(path + ": cannot open: " + error.message());
  if (!std::filesystem::is_regular_file(status)) {
    throw ModelError(path + ": cannot open: not a regular file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError(path + ": cannot open: " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw ModelError(path + ": cannot read: " + std::strerror(errno));
  if (static_cast<uint64_t>(size) > kMaxFileBytes) {
    throw ModelError(path + ": file is " + std::to_string(size) +
                     " bytes, more than the limit of " + std::to_string(kMaxFileBytes));
  }
  in.seekg(0, std::ios::beg);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  errno = 0;
  if (!bytes.empty()) {
    in.read(reinterpret_cast<char *>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  if (!in || in.gcount() != static_cast<std::streamsize>(bytes.size())) {
    throw ModelError(path + ": cannot read: " +
                     (errno ? std::string(std::strerror(errno)) : "file changed while reading"));
  }
  return parse(std::move(bytes), path, limits);
}

void write_safetensors(const std::string &path, const std::map<std::string, std::string> &metadata,
                       const std::vector<TensorToWrite> &tensors) {
  json::Value header = json::Object{};
  if (!metadata.empty()) {
    json::Object meta;
    for (const auto &[key, value] : metadata) meta.emplace(key, json::Value(value));
    header[kMetadataKey] = json::Value(std::move(meta));
  }
  std::vector<size_t> sizes;
  sizes.reserve(tensors.size());
  uint64_t offset = 0;
  for (const TensorToWrite &tensor : tensors) {
    // Refuse to write what read() would reject, so a writer bug surfaces here, not at load.
    if (tensor.name.empty() || tensor.name == kMetadataKey) {
      throw std::invalid_argument(path + ": invalid tensor name '" + tensor.name + "'");
    }
    if (json::find(header, tensor.name)) {
      throw std::invalid_argument(path + ": duplicate tensor '" + tensor.name + "'");
    }
    uint64_t bytes = dtype_size(tensor.dtype);
    json::Array shape;
    for (const int64_t dim : tensor.shape) {
      if (dim < 0 || __builtin_mul_overflow(bytes, static_cast<uint64_t>(dim), &bytes)) {
        throw std::invalid_argument(path + ": tensor '" + tensor.name + "' has an invalid shape");
      }
      shape.emplace_back(dim);
    }
    if (bytes > 0 && !tensor.data) {
      throw std::invalid_argument(path + ": tensor '" + tensor.name + "' has no data");
    }
    json::Object entry;
    entry.emplace("dtype", json::Value(dtype_name(tensor.dtype)));
    entry.emplace("shape", json::Value(std::move(shape)));
    entry.emplace("data_offsets",
                  json::Value(json::Array{json::Value(offset), json::Value(offset + bytes)}));
    header[tensor.name] = json::Value(std::move(entry));
    sizes.push_back(static_cast<size_t>(bytes));
    offset += bytes;
  }
  std::string header_text = json::dump(header);
  // The spec pads the header with spaces so the data section starts 8-byte aligned.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  const uint64_t header_size = header_text.size();

  const std::string temporary = path + ".tmp";
  FileDescriptor fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) throw_io_error(temporary, "cannot create", errno);
  try {
    write_all(fd.get(), &header_size, sizeof header_size, temporary);
    write_all(fd.get(), header_text.data(), header_text.size(), temporary);
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (sizes[i]) write_all(fd.get(), tensors[i].data, sizes[i], temporary);
    }
    // Without fsync a crash after the rename can leave the new name pointing at an empty file.
    if (::fsync(fd.get()) != 0) throw_io_error(temporary, "cannot sync", errno);
    if (::close(fd.release()) != 0) throw_io_error(temporary, "cannot close", errno);
    if (std::rename(temporary.c_str(), path.c_str()) != 0) {
      throw_io_error(path, "cannot rename " + temporary + " to it", errno);
    }
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
}

}  // namespace dfd
