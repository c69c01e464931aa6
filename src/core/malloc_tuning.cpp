#include "malloc_tuning.h"

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

namespace dfd {

static bool user_set_arena_limit() {
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr) return true;
  const char *tunables = std::getenv("GLIBC_TUNABLES");
  return tunables != nullptr && std::strstr(tunables, "glibc.malloc.arena_max") != nullptr;
}

void tune_malloc_for_inference() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("DFD_KEEP_MALLOC_DEFAULTS") != nullptr) return;
    // glibc hands large freed blocks back to the OS, so every forward pass page-faults its
    // activations in again (a 10x slowdown measured at batch 8). Keep them in the heap.
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    // The trim threshold does not stop a thread arena from unmapping a whole 64 MiB heap once
    // it is empty, which it can be between two passes; the next pass faults it in again. In a
    // 4-stream soak, some runs took 12 million page faults in 2 minutes instead of about 0.1
    // million, and analysed 20% fewer frames. Asking for a heap's worth of headroom keeps the
    // heap mapped.
    mallopt(M_TOP_PAD, 64 << 20);
    // With nothing handed back, every arena keeps its own high-water mark, and glibc makes up
    // to 8 arenas per core for the many streaming threads: a 4-stream soak grew 8% in steps
    // over 10 minutes as threads met new arenas. One arena per core bounds that, and the
    // threads mostly wait on each other, so lock contention stays low.
    if (!user_set_arena_limit()) {
      const unsigned cores = std::max(2u, std::thread::hardware_concurrency());
      mallopt(M_ARENA_MAX, static_cast<int>(cores));
    }
  });
}

}  // namespace dfd
