#include "scan/scan_inputs.h"

#include <glob.h>

#include <filesystem>
#include <set>
#include <stdexcept>

#include "evaluation/video_files.h"

namespace dfd::scan {

namespace {

namespace fs = std::filesystem;

struct GlobHolder {
  glob_t result{};
  ~GlobHolder() { globfree(&result); }
};

// A match or a named path: a folder gives its videos, anything else is taken as it is.
void add_path(const std::string &path, std::vector<std::string> &out,
              std::vector<std::string> &errors) {
  std::error_code error;
  if (fs::is_directory(path, error)) {
    try {
      const std::vector<std::string> videos = eval::list_video_files(path);
      out.insert(out.end(), videos.begin(), videos.end());
    } catch (const std::runtime_error &e) {
      errors.push_back(e.what());
    }
  } else {
    out.push_back(path);
  }
}

}  // namespace

InputFiles expand_inputs(const std::vector<std::string> &arguments) {
  InputFiles inputs;
  std::vector<std::string> found;
  for (const std::string &argument : arguments) {
    std::error_code error;
    if (fs::exists(argument, error)) {
      add_path(argument, found, inputs.errors);
      continue;
    }
    if (argument.find_first_of("*?[") == std::string::npos) {
      inputs.errors.push_back(argument + ": no such file or folder");
      continue;
    }
    GlobHolder matches;
    const int status = glob(argument.c_str(), GLOB_TILDE, nullptr, &matches.result);
    if (status == GLOB_NOMATCH) {
      inputs.errors.push_back(argument + ": no file matches");
      continue;
    }
    if (status != 0) {
      inputs.errors.push_back(argument + ": cannot expand the pattern");
      continue;
    }
    for (size_t i = 0; i < matches.result.gl_pathc; ++i) {
      add_path(matches.result.gl_pathv[i], found, inputs.errors);
    }
  }
  std::set<std::string> seen;
  for (std::string &file : found) {
    std::error_code error;
    const fs::path canonical = fs::weakly_canonical(file, error);
    if (seen.insert(error ? file : canonical.string()).second) {
      inputs.files.push_back(std::move(file));
    }
  }
  return inputs;
}

std::vector<std::string> output_paths(const std::vector<std::string> &files,
                                      const std::string &folder, const std::string &suffix) {
  std::vector<std::string> out;
  std::set<std::string> taken;
  for (const std::string &file : files) {
    const std::string stem = fs::path(file).stem().string();
    std::string name = stem + suffix;
    for (int n = 2; !taken.insert(name).second; ++n) {
      name = stem + "-" + std::to_string(n) + suffix;
    }
    out.push_back((fs::path(folder) / name).string());
  }
  return out;
}

}  // namespace dfd::scan
