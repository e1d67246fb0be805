// Runs the `gigagan` command in-process (cli/cli.h) for the suites that
// test commands: exit code and both output streams.
#pragma once
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"

namespace gg::test {

struct CliResult {
  int code;
  std::string out, err;
};

inline CliResult run_cli(const std::vector<std::string>& argv) {
  std::ostringstream out, err;
  const int code = gg::cli::run(argv, out, err);
  return {code, out.str(), err.str()};
}

inline bool contains(const std::string& s, const std::string& needle) { return s.find(needle) != std::string::npos; }

}  // namespace gg::test
