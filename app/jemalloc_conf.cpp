// jemalloc's start-up settings, compiled into every executable that links
// jemalloc (app/CMakeLists.txt, gigagan_link_allocator).
//
// Freed pages are never handed back by decay: the large tensors of the next
// training step or frame reuse them instead of faulting pages in again
// (README, "Speed and memory"). Left alone, resident memory then creeps up
// over a long run, so the training loop and the studio's render worker
// purge the cached pages every few minutes
// (gg::MemoryReleaseTimer, model/runtime.h).
extern "C" {
const char* malloc_conf = "dirty_decay_ms:-1,muzzy_decay_ms:-1";
}
