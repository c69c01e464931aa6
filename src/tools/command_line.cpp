#include "tools/command_line.h"

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace dfd::tools {

std::string shell_quote(const std::string &arg) {
  if (!arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789_-./=:,+@%") == std::string::npos) {
    return arg;
  }
  std::string out = "'";
  for (const char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string quoted_command_line(int argc, char **argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) line += (i ? " " : "") + shell_quote(argv[i]);
  return line;
}

std::optional<std::string> split_inline_value(std::string &arg) {
  const size_t equals = arg.find('=');
  if (arg.rfind("--", 0) != 0 || equals == std::string::npos) return std::nullopt;
  std::string value = arg.substr(equals + 1);
  arg.resize(equals);
  return value;
}

std::string option_value(const std::string &arg, const std::optional<std::string> &inline_value,
                         int &i, int argc, char **argv) {
  if (inline_value) return *inline_value;
  if (i + 1 >= argc) throw UsageError(arg + " needs a value (see --help)");
  return argv[++i];
}

long long parse_integer(const std::string &flag, const std::string &text, long long low,
                        long long high) {
  long long value = 0;
  const char *end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || ptr != end || value < low || value > high) {
    const std::string range = high == LLONG_MAX
                                  ? ">= " + std::to_string(low)
                                  : "from " + std::to_string(low) + " to " + std::to_string(high);
    throw UsageError(flag + " needs an integer " + range + ", got '" + text + "'");
  }
  return value;
}

double parse_number(const std::string &flag, const std::string &text) {
  char *end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(value)) {
    throw UsageError(flag + ": not a number: '" + text + "'");
  }
  return value;
}

void restart_with_passive_openmp_wait(char **argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);
}

}  // namespace dfd::tools
