// The headless `gigagan` command (subcommands live in training/cli*.cpp).
#include "cli.h"

#ifdef GIGAGAN_WITH_JEMALLOC
// jemalloc reads this at start-up. Freed pages are kept for 10 s before they
// go back to the OS: long enough that the large tensors of the next step or
// frame reuse them instead of faulting pages in again (see README, "Speed and
// memory"), short enough that memory stays bounded. With no decay at all
// (-1), a long training run's resident memory grew without bound (two
// emoji64 ranks reached 7.6 and 10.6 GB in 16 minutes; a tiny run grew
// ~5-40 MB/s, flat at 255 MB with decay).
extern "C" {
const char* malloc_conf = "dirty_decay_ms:10000,muzzy_decay_ms:10000";
}
#endif

int main(int argc, char** argv) { return gg::cli::main(argc, argv); }
