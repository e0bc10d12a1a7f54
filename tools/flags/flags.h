// The command line of the test tools (crashtest, loadtest): "--name value"
// pairs and whole numbers in a range, read once for both.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tool_flags {

struct CommandLine {
  std::vector<std::pair<std::string, std::string>> flags;  // in order
  bool help = false;                                       // --help or -h
  std::string error;                                       // a flag without a value
};

// Reads argv[1..] as "--name value" pairs; stops at --help / -h.
inline CommandLine Parse(int argc, char** argv) {
  CommandLine out;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      out.help = true;
      return out;
    }
    if (i + 1 >= argc) {
      out.error = arg + " needs a value";
      return out;
    }
    out.flags.emplace_back(arg, argv[++i]);
  }
  return out;
}

// `value` as a whole number (decimal digits only, at most 9) in [lo, hi].
inline std::optional<int> WholeNumber(std::string_view value, int lo, int hi) {
  if (value.empty() || value.size() > 9 ||
      value.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  const int v = std::stoi(std::string(value));
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

}  // namespace tool_flags
