// deepfakepublish's file output: one JSON document per line, or one JSON array over the whole
// run, to a file or stdout.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

namespace dfd::gst::publish {

class FileOutput {
 public:
  // `path` "stdout" or "-" writes to standard output. With `array`, the output is "[", the
  // messages separated by commas, and "]" once finish() runs (or at destruction). Throws
  // std::runtime_error naming the path when it cannot be opened.
  FileOutput(const std::string &path, bool array);
  ~FileOutput();
  FileOutput(const FileOutput &) = delete;
  FileOutput &operator=(const FileOutput &) = delete;

  // Writes one message and flushes it, so a reader (tail -f, a pipe) sees whole messages as
  // they happen. False on a write error (disk full, closed pipe).
  bool write(const std::string &message);
  // Closes the JSON array, so that the file parses. A message written after this starts a new
  // array (only possible after a flushing seek past EOS). False on a write error.
  bool finish();

 private:
  bool open_array();

  struct Closer {
    void operator()(std::FILE *file) const { std::fclose(file); }
  };
  std::unique_ptr<std::FILE, Closer> owned_;
  std::FILE *file_ = nullptr;
  bool array_ = false;
  bool open_ = false;  // inside "[ ... ]"
  bool first_ = true;  // no message in the open array yet
};

}  // namespace dfd::gst::publish
