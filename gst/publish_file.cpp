#include "publish_file.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace dfd::gst::publish {

FileOutput::FileOutput(const std::string &path, bool array) : array_(array) {
  if (path == "stdout" || path == "-") {
    file_ = stdout;
  } else {
    owned_.reset(std::fopen(path.c_str(), "w"));
    if (!owned_) {
      throw std::runtime_error("cannot open '" + path + "' for writing: " + std::strerror(errno));
    }
    file_ = owned_.get();
  }
  // Opened at once, so that an empty run still leaves a valid document: "[]".
  if (array_ && !open_array()) throw std::runtime_error("cannot write to '" + path + "'");
}

bool FileOutput::open_array() {
  open_ = true;
  first_ = true;
  return std::fputs("[\n", file_) >= 0 && std::fflush(file_) == 0;
}

FileOutput::~FileOutput() {
  finish();
}

bool FileOutput::write(const std::string &message) {
  std::string text;
  if (array_) {
    if (!open_ && !open_array()) return false;
    if (!first_) text += ",\n";
    first_ = false;
    text += message;
  } else {
    text = message;
    text += '\n';
  }
  return std::fwrite(text.data(), 1, text.size(), file_) == text.size() && std::fflush(file_) == 0;
}

bool FileOutput::finish() {
  if (!array_ || !open_) return std::fflush(file_) == 0;
  open_ = false;
  return std::fputs(first_ ? "]\n" : "\n]\n", file_) >= 0 && std::fflush(file_) == 0;
}

}  // namespace dfd::gst::publish
