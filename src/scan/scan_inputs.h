// The command line's FILE|DIR|GLOB arguments as a list of files: a file as given, a folder's
// video files (recursively, by extension, as evaluation/video_files.h lists them), and a glob
// expanded here (quoted globs reach the program unexpanded).
#pragma once

#include <string>
#include <vector>

namespace dfd::scan {

struct InputFiles {
  std::vector<std::string> files;   // in argument order, each once
  std::vector<std::string> errors;  // "ARG: reason" for arguments that gave nothing
};

InputFiles expand_inputs(const std::vector<std::string> &arguments);

// Where each file's output goes inside `folder`: its name without the extension plus
// `suffix`, with -2, -3, ... added where two inputs would share a name.
std::vector<std::string> output_paths(const std::vector<std::string> &files,
                                      const std::string &folder, const std::string &suffix);

}  // namespace dfd::scan
