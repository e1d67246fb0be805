// The headless `gigagan` command (subcommands live in training/cli*.cpp).
#include "cli.h"

#ifdef GIGAGAN_WITH_JEMALLOC
// jemalloc reads this at start-up. Keeping freed pages (no decay) avoids the
// page faults that returning large tensors to the OS costs on every step:
// measured with `gigagan bench` (see README, "Memory allocator").
extern "C" {
const char* malloc_conf = "dirty_decay_ms:-1,muzzy_decay_ms:-1";
}
#endif

int main(int argc, char** argv) { return gg::cli::main(argc, argv); }
