// The one exception type for unusable model files: its message always names the file and, where
// there is one, the tensor or config field at fault, so a user can act on it.
#pragma once

#include <stdexcept>
#include <string>

namespace dfd {

class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace dfd
