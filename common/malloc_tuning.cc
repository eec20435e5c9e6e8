#include "common/malloc_tuning.h"

#include <malloc.h>

namespace resnet8 {

bool KeepFreedMemoryForReuse() {
  // Blocks up to 32 MiB (glibc's maximum) come from the arenas instead of
  // fresh mmap()s, and arenas are not trimmed until 1 GiB is free at the top.
  const bool mmap_ok = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1;
  const bool trim_ok = mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
  return mmap_ok && trim_ok;
}

}  // namespace resnet8
