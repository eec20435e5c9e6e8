#include "server/torch/malloc_tuning.h"

#include <malloc.h>

namespace resnet8 {

bool KeepFreedMemoryForReuse() {
  // Blocks up to 32 MiB (glibc's maximum) come from the arenas instead of
  // fresh mmap()s, and arenas are not trimmed until 1 GiB is free at the top.
  const bool mmap_ok = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1;
  const bool trim_ok = mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
  // gRPC runs each call on a pool thread, and glibc would give up to eight
  // arenas per core, each keeping its own freed memory: under many
  // concurrent streams the server's RSS crept up round after round. A few
  // arenas bound that, at no measurable cost in throughput.
  const bool arenas_ok = mallopt(M_ARENA_MAX, 4) == 1;
  return mmap_ok && trim_ok && arenas_ok;
}

}  // namespace resnet8
