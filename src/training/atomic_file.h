// Whole-file writes that never leave a torn file behind: an interrupted run keeps either the
// previous version or the new one.
#pragma once

#include <string>

namespace dfd::training {

// Writes `contents` to a temporary file beside `path`, flushes it to disk, then renames it over
// `path`. Throws std::runtime_error naming the path and the system error.
void write_file_atomically(const std::string &path, const std::string &contents);

// The whole file; throws std::runtime_error naming the path when it cannot be read.
std::string read_whole_file(const std::string &path);

}  // namespace dfd::training
