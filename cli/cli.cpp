#include "cli.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "runtime.h"

#ifndef GIGAGAN_RESOURCE_DIR
#define GIGAGAN_RESOURCE_DIR "resources"
#endif

namespace gg::cli {

namespace fs = std::filesystem;

Args::Args(std::string command, const std::vector<Option>& options, const std::vector<std::string>& argv)
    : command_(std::move(command)), options_(options) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.rfind("--", 0) != 0) {
      auto pos = std::find_if(options_.begin(), options_.end(),
                              [&](const Option& o) { return o.positional && values_.count(o.name) == 0; });
      if (pos == options_.end()) throw UsageError("gigagan " + command_ + ": unexpected argument '" + a + "'");
      values_[pos->name].push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    const auto eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const Option& opt = option(name);
    if (opt.metavar.empty()) {
      if (inline_value) throw UsageError("gigagan " + command_ + ": --" + name + " takes no value");
    } else if (!inline_value) {
      if (i + 1 >= argv.size())
        throw UsageError("gigagan " + command_ + ": --" + name + " needs a value (" + opt.metavar + ")");
      value = argv[++i];
    }
    auto& v = values_[name];
    if (!v.empty() && !opt.repeatable)
      throw UsageError("gigagan " + command_ + ": --" + name + " given twice");
    v.push_back(value);
  }
}

const Option& Args::option(const std::string& name) const {
  for (const auto& o : options_)
    if (o.name == name) return o;
  throw UsageError("gigagan " + command_ + ": unknown option --" + name);
}

bool Args::has(const std::string& name) const {
  (void)option(name);
  return values_.count(name) > 0;
}

std::string Args::get(const std::string& name) const {
  const Option& o = option(name);
  auto it = values_.find(name);
  return it == values_.end() ? o.default_value : it->second.back();
}

std::vector<std::string> Args::get_all(const std::string& name) const {
  const Option& o = option(name);
  auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  return o.default_value.empty() ? std::vector<std::string>{} : std::vector<std::string>{o.default_value};
}

int Args::get_int(const std::string& name) const {
  const std::string v = get(name);
  try {
    size_t used = 0;
    const int r = std::stoi(v, &used);
    if (used == v.size()) return r;
  } catch (const std::exception&) {
  }
  throw UsageError("gigagan " + command_ + ": --" + name + " expects an integer, got '" + v + "'");
}

std::vector<int> Args::get_int_list(const std::string& name, int min) const {
  const std::string v = get(name);
  std::vector<int> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    int x = 0;
    try {
      x = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || x < min)
      throw UsageError("gigagan " + command_ + ": --" + name + " expects comma-separated integers >= " +
                       std::to_string(min) + ", got '" + v + "'");
    out.push_back(x);
  }
  if (out.empty()) throw UsageError("gigagan " + command_ + ": --" + name + " is empty");
  return out;
}

double Args::get_double(const std::string& name) const {
  const std::string v = get(name);
  try {
    size_t used = 0;
    const double r = std::stod(v, &used);
    if (used == v.size() && std::isfinite(r)) return r;  // "nan" and "inf" would pass std::stod
  } catch (const std::exception&) {
  }
  throw UsageError("gigagan " + command_ + ": --" + name + " expects a finite number, got '" + v + "'");
}

Option device_option() { return {"device", "NAME", "cpu, cuda, cuda:N or auto", "auto"}; }
Option threads_option() { return {"threads", "N", "CPU threads (0 = all cores)", "0"}; }
Option adaconv_option() {
  return {"adaconv", "IMPL", "adaptive conv implementation: auto, naive, per_sample, grouped, bank", "auto"};
}

std::vector<std::string> resource_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("GIGAGAN_RESOURCES")) dirs.push_back(env);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back((exe.parent_path().parent_path() / "share/gigagan/resources").string());  // installed
  dirs.push_back(GIGAGAN_RESOURCE_DIR);  // the source tree this binary was built from
  return dirs;
}

std::string find_resource(const std::string& relative) {
  for (const auto& dir : resource_dirs()) {
    const fs::path p = fs::path(dir) / relative;
    if (fs::exists(p)) return p.string();
  }
  return {};
}

std::string resolve_config_path(const std::string& s) {
  if (fs::exists(s)) return s;
  if (std::string p = find_resource("configs/" + s + ".json"); !p.empty()) return p;
  throw ConfigError("no config file or preset named '" + s + "' (presets: tiny, emoji64, paper)");
}

namespace {

std::vector<Command> commands() {
  return {info_command(),        bench_command(),  data_command(),          train_command(),
          train_clip_command(),  train_upsampler_command(), eval_command(),  diagnose_command(), package_command(),
          generate_command(),    mix_command(),    interpolate_command(),   invert_command(),   drag_command(),
          upsample_command(),    render_command(), convert_tfjs_command()};
}

void print_usage(std::ostream& out) {
  out << "usage: gigagan <command> [options]   (gigagan <command> --help for its options)\n\ncommands:\n";
  size_t width = 0;
  for (const auto& c : commands()) width = std::max(width, c.name.size() + 2);
  for (const auto& c : commands()) out << "  " << std::left << std::setw(static_cast<int>(width)) << c.name << c.summary << "\n";
}

void print_help(const Command& c, std::ostream& out) {
  out << "usage: gigagan " << c.name << " [options]\n\n" << c.summary << "\n\noptions:\n";
  for (const auto& o : c.options) {
    std::string lhs = o.positional ? o.metavar : "--" + o.name + (o.metavar.empty() ? "" : " " + o.metavar);
    out << "  " << std::left << std::setw(26) << lhs << o.help;
    if (!o.default_value.empty()) out << " (default: " << o.default_value << ")";
    if (o.repeatable) out << " [repeatable]";
    out << "\n";
  }
}

}  // namespace

namespace {
std::vector<std::string> g_invocation;
}  // namespace

const std::vector<std::string>& invocation() { return g_invocation; }

int run(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  g_invocation = argv;
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
    print_usage(argv.empty() ? err : out);
    return argv.empty() ? 2 : 0;
  }
  const auto all = commands();
  auto it = std::find_if(all.begin(), all.end(), [&](const Command& c) { return c.name == argv[0]; });
  if (it == all.end()) {
    err << "gigagan: unknown command '" << argv[0] << "'\n";
    print_usage(err);
    return 2;
  }
  const std::vector<std::string> rest(argv.begin() + 1, argv.end());
  if (std::find(rest.begin(), rest.end(), "--help") != rest.end() ||
      std::find(rest.begin(), rest.end(), "-h") != rest.end()) {
    print_help(*it, out);
    return 0;
  }
  try {
    Args args(it->name, it->options, rest);
    return it->run(args, out);
  } catch (const UsageError& e) {
    err << e.what() << " (see gigagan " << it->name << " --help)\n";
    return 2;
  } catch (const Error& e) {
    err << "gigagan " << it->name << ": " << e.what() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    err << "gigagan " << it->name << ": LibTorch error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    err << "gigagan " << it->name << ": " << e.what() << "\n";
    return 1;
  }
}

int main(int argc, char** argv) {
  try {
    init_runtime();  // GIGAGAN_THREADS out of range is an error, not an abort
  } catch (const std::exception& e) {
    std::cerr << "gigagan: " << e.what() << "\n";
    return 2;
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  return run(args, std::cout, std::cerr);
}

}  // namespace gg::cli
