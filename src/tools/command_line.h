// What the command-line tools do with their own command line.
#pragma once

#include <string>

namespace dfd::tools {

// `arg` quoted for a POSIX shell, unchanged when it needs no quoting.
std::string shell_quote(const std::string &arg);
// argv as one shell-pasteable line, for the records a run writes (model `training`, reports).
std::string quoted_command_line(int argc, char **argv);

// libgomp spins between parallel regions by default; on a small or loaded machine the spinning
// threads starve the working ones (deepfake-train measured 1.6 faces/s instead of 28 at 64 px).
// The policy is read when libgomp loads, before main, so the only way to choose it from inside
// is to start again with OMP_WAIT_POLICY=PASSIVE set. Does nothing when the variable is set;
// if the exec fails the tool still runs, only slower under load.
void restart_with_passive_openmp_wait(char **argv);

}  // namespace dfd::tools
