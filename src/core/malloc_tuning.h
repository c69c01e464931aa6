#pragma once

namespace dfd {

// Tunes glibc's malloc for repeated forward passes, once per process. Call it before the
// process starts its streaming threads: each thread is tied to a malloc arena on its first
// allocation, so an arena limit set later only applies to threads that come after it.
// DFD_KEEP_MALLOC_DEFAULTS=1 leaves malloc alone; MALLOC_ARENA_MAX or a glibc.malloc.arena_max
// tunable set by the user wins over the arena limit chosen here.
void tune_malloc_for_inference();

}  // namespace dfd
