// The headless `gigagan` command (subcommands live in training/cli*.cpp).
#include "cli.h"

#ifdef GIGAGAN_WITH_JEMALLOC
// jemalloc reads this at start-up. Freed pages are never handed back by
// decay: the large tensors of the next training step or frame reuse them
// instead of faulting pages in again (README, "Speed and memory": an emoji64
// upsampler step spent 62% of its time in the kernel with a 10 s decay, 8%
// with none). Left alone, resident memory then creeps up over a long run (two
// emoji64 ranks reached 7.6 and 10.6 GB in 16 minutes), so the training loop
// and the studio's render worker purge the cached pages every few minutes
// (gg::MemoryReleaseTimer).
extern "C" {
const char* malloc_conf = "dirty_decay_ms:-1,muzzy_decay_ms:-1";
}
#endif

int main(int argc, char** argv) { return gg::cli::main(argc, argv); }
