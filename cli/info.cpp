// `gigagan info`: parameter counts of every network of a config (built on the
// meta device: nothing is allocated) and the runtime this build uses.
#include <iomanip>

#include "cli.h"
#include "model_config.h"
#include "model_info.h"
#include "runtime.h"

namespace gg::cli {

Command info_command() {
  Command c;
  c.name = "info";
  c.summary = "Print the parameter count of each network of a config, and the runtime (threads, BLAS, CUDA).";
  c.options = {
      {"config", "FILE|PRESET", "model config: a JSON file or a preset name (tiny, emoji64, paper)", "emoji64"},
      {"json", "", "print JSON instead of a table", ""},
  };
  c.run = [](const Args& args, std::ostream& out) {
    const std::string path = resolve_config_path(args.get("config"));
    const ModelConfig config = ModelConfig::load(path);
    const auto counts = count_network_parameters(config);
    if (args.flag("json")) {
      json j;
      j["config"] = path;
      j["name"] = config.name;
      for (const auto& n : counts) j["parameters"][n.name] = n.parameters;
      out << j.dump(2) << "\n";
      return 0;
    }
    out << "config  " << path << " (" << config.name << ")\n";
    out << "runtime " << runtime_summary() << "\n\n";
    out << std::left << std::setw(40) << "network" << std::right << std::setw(16) << "parameters" << "\n";
    for (const auto& n : counts) {
      std::string name = std::string(n.depth * 2, ' ') + n.name + (n.frozen ? " (frozen)" : "");
      out << std::left << std::setw(40) << name << std::right << std::setw(16) << n.parameters << "  "
          << std::fixed << std::setprecision(2) << std::setw(9) << n.parameters / 1e6 << " M\n";
    }
    return 0;
  };
  return c;
}

}  // namespace gg::cli
