// The checkpoint folder: each checkpoint is a model file plus an optimiser-state file, and a
// small pointer file names the current pair. The pointer is replaced atomically only after
// both files are complete, so an interruption at any moment leaves a consistent checkpoint.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace dfd::training {

struct CheckpointFiles {
  std::string model;  // the project's model format (safetensors + config)
  std::string state;  // optimiser tensors (safetensors) + the run's scalars (JSON metadata)
  int64_t step = 0;
};

class CheckpointStore {
 public:
  // Creates the folder if needed; throws std::runtime_error when it cannot.
  explicit CheckpointStore(const std::string &dir);

  const std::string &dir() const { return dir_; }
  CheckpointFiles files_for(int64_t step) const;
  // Points the folder at `files` (already written) and deletes the pair it replaces.
  void commit(const CheckpointFiles &files);
  // The committed checkpoint, if any; throws std::runtime_error for a damaged pointer file.
  std::optional<CheckpointFiles> latest() const;

 private:
  std::string pointer_path() const;
  std::string dir_;
};

}  // namespace dfd::training
