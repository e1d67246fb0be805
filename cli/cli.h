// The headless `gigagan` command: subcommands, their options and --help.
// app/gigagan_main.cpp only calls gg::cli::main(). Qt-free, so every command
// runs on servers and in CI.
#pragma once
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "errors.h"

namespace gg::cli {

// Bad command-line usage: exit code 2, message plus a hint to --help.
struct UsageError : Error {
  using Error::Error;
};

struct Option {
  std::string name;     // without the leading "--"
  std::string metavar;  // empty for a flag
  std::string help;
  std::string default_value;  // shown in --help; returned by Args::get when absent
  bool repeatable = false;
  bool positional = false;  // given as a bare word (`gigagan data emoji`), in declaration order
};

class Args {
 public:
  Args(std::string command, const std::vector<Option>& options, const std::vector<std::string>& argv);
  bool has(const std::string& name) const;
  std::string get(const std::string& name) const;  // the value, or the option's default
  std::vector<std::string> get_all(const std::string& name) const;
  int get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  // "8" or "4,8,16": integers, each at least `min`
  std::vector<int> get_int_list(const std::string& name, int min = 1) const;
  bool flag(const std::string& name) const { return has(name); }
  const std::string& command() const { return command_; }

 private:
  const Option& option(const std::string& name) const;
  std::string command_;
  std::vector<Option> options_;
  std::map<std::string, std::vector<std::string>> values_;
};

struct Command {
  std::string name;
  std::string summary;
  std::vector<Option> options;
  std::function<int(const Args&, std::ostream& out)> run;
};

// Registered subcommands (cli_*.cpp).
Command info_command();
Command bench_command();
Command data_command();
Command train_command();
Command train_clip_command();
Command train_upsampler_command();
Command eval_command();
Command diagnose_command();
Command package_command();
Command generate_command();
Command mix_command();
Command interpolate_command();
Command invert_command();
Command drag_command();
Command upsample_command();
Command render_command();
Command convert_tfjs_command();
// `gigagan bench --train`: times full training steps (cli/train.cpp).
int train_bench(const Args& args, std::ostream& out);

// Entry point: returns the process exit code (0 ok, 1 error, 2 usage).
int main(int argc, char** argv);
int run(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err);

// The arguments of the command being run (without the program name), as given
// to run(): for commands that re-launch themselves (`gigagan train --nproc`).
const std::vector<std::string>& invocation();

// Shared options.
Option device_option();
Option threads_option();
Option adaconv_option();  // the adaptive conv formulation (auto: by device, shape and training)
// Where resources (configs, models) are looked up, in order: $GIGAGAN_RESOURCES,
// <exe>/../share/gigagan/resources (installed), the source tree's resources/.
std::vector<std::string> resource_dirs();
// The first resource_dirs() entry holding `relative` (a file or folder), as a
// path; "" when none does.
std::string find_resource(const std::string& relative);
// Resolves a preset name ("tiny", "emoji64", "paper") or a path to a JSON file.
std::string resolve_config_path(const std::string& name_or_path);

}  // namespace gg::cli
