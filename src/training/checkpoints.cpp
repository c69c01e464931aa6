#include "checkpoints.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "atomic_file.h"
#include "core/json_strict.h"

namespace dfd::training {

namespace fs = std::filesystem;

CheckpointStore::CheckpointStore(const std::string &dir) : dir_(dir) {
  std::error_code error;
  fs::create_directories(dir_, error);
  if (error || !fs::is_directory(dir_)) {
    throw std::runtime_error(dir_ + ": cannot create the checkpoint folder: " + error.message());
  }
}

std::string CheckpointStore::pointer_path() const {
  return (fs::path(dir_) / "latest.json").string();
}

CheckpointFiles CheckpointStore::files_for(int64_t step) const {
  char name[64];
  std::snprintf(name, sizeof name, "step-%09lld", static_cast<long long>(step));
  CheckpointFiles files;
  files.model = (fs::path(dir_) / (std::string(name) + ".safetensors")).string();
  files.state = (fs::path(dir_) / (std::string(name) + ".state.safetensors")).string();
  files.step = step;
  return files;
}

void CheckpointStore::commit(const CheckpointFiles &files) {
  const std::optional<CheckpointFiles> previous = latest();
  json::Value pointer;
  pointer["version"] = 1;
  pointer["step"] = files.step;
  // Names relative to the folder, so the folder can be moved as a whole.
  pointer["model"] = fs::path(files.model).filename().string();
  pointer["state"] = fs::path(files.state).filename().string();
  write_file_atomically(pointer_path(), json::dump(pointer) + "\n");
  if (previous && previous->model != files.model) {
    std::error_code ignored;  // a leftover file wastes space but breaks nothing
    fs::remove(previous->model, ignored);
    fs::remove(previous->state, ignored);
  }
}

std::optional<CheckpointFiles> CheckpointStore::latest() const {
  const std::string path = pointer_path();
  std::error_code error;
  if (!fs::exists(path, error)) return std::nullopt;
  const auto bad = [&](const std::string &what) { return std::runtime_error(path + ": " + what); };
  json::Value pointer;
  try {
    pointer = json::parse(read_whole_file(path));
  } catch (const json::ParseError &e) {
    throw bad(std::string("not valid JSON: ") + e.what());
  }
  const json::Value *step = json::find(pointer, "step");
  const json::Value *model = json::find(pointer, "model");
  const json::Value *state = json::find(pointer, "state");
  if (!step || !step->is_number() || !model || !model->is_string() || !state ||
      !state->is_string()) {
    throw bad("needs step, model and state");
  }
  CheckpointFiles files;
  files.step = static_cast<int64_t>(std::llround(json::as_number(*step)));
  files.model = (fs::path(dir_) / json::as_string(*model)).string();
  files.state = (fs::path(dir_) / json::as_string(*state)).string();
  return files;
}

}  // namespace dfd::training
