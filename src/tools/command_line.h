// What the command-line tools do with their own command line.
#pragma once

#include <climits>
#include <optional>
#include <stdexcept>
#include <string>

namespace dfd::tools {

// A mistake in the command line: each tool prints it with a pointer to --help and exits with 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Every tool takes an option's value as "--name value" or "--name=value". For the second form
// this cuts `arg` down to "--name" and returns the value.
std::optional<std::string> split_inline_value(std::string &arg);
// The value of option `arg` at argv[i]: its inline value when it had one (see
// split_inline_value), else the next argument, moving `i` past it.
std::string option_value(const std::string &arg, const std::optional<std::string> &inline_value,
                         int &i, int argc, char **argv);

// `text` as an integer in [low, high], or a UsageError naming `flag`.
long long parse_integer(const std::string &flag, const std::string &text, long long low,
                        long long high = LLONG_MAX);
// `text` as a finite number, or a UsageError naming `flag`.
double parse_number(const std::string &flag, const std::string &text);

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
