#include "server/torch/malloc_tuning.h"

#include <malloc.h>

#include <utility>

namespace resnet8 {

bool KeepFreedMemoryForReuse() {
  // Blocks up to 32 MiB (glibc's maximum) come from the arenas instead of
  // fresh mmap()s. An arena gives back the free memory at its top once 32 MiB
  // of it is free: far more than a forward pass frees (a few MiB), so passes
  // reuse their memory, while a burst's goes back. The threshold must stay
  // below an arena's 64 MiB heap: malloc_trim() shrinks only the main
  // arena's top, and with 1 GiB the other arenas never gave back theirs
  // (measured: an overload left 26-42 MiB more each time). Lower is not
  // better: with 4 MiB the RSS came back to within a few MiB of idle after
  // an overload, but refusals under it seemed to slow (the overload test
  // failed its refusal-time bound in 3 of 9 runs, against 0 of 6; BENCHMARKS.md).
  const bool mmap_ok = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1;
  const bool trim_ok = mallopt(M_TRIM_THRESHOLD, 32 << 20) == 1;
  // gRPC runs each call on a pool thread, and glibc would give up to eight
  // arenas per core, each keeping its own freed memory: under many
  // concurrent streams the server's RSS crept up round after round. A few
  // arenas bound that, at no measurable cost in throughput.
  const bool arenas_ok = mallopt(M_ARENA_MAX, 4) == 1;
  return mmap_ok && trim_ok && arenas_ok;
}

IdleMemoryRelease::IdleMemoryRelease(std::function<uint64_t()> activity, absl::Duration quiet)
    : activity_(std::move(activity)), quiet_(quiet), thread_([this] { Watch(); }) {}

IdleMemoryRelease::~IdleMemoryRelease() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_requested_.notify_all();
  thread_.join();
}

int IdleMemoryRelease::trims() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return trims_;
}

void IdleMemoryRelease::Watch() {
  // Memory is also freed a while after the last pass: connections close,
  // their threads linger and exit (10 s on the HTTP ports). So a quiet spell
  // is trimmed on each of its first few ticks, then left alone.
  constexpr int kTrimsPerSpell = 8;
  uint64_t seen = activity_();
  int trims_left = 0;  // nothing to give back before the first work
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_requested_.wait_for(lock, absl::ToChronoMilliseconds(quiet_), [this] { return stopping_; })) {
    const uint64_t now = activity_();
    if (now != seen) {
      seen = now;
      trims_left = kTrimsPerSpell;
    } else if (trims_left > 0) {
      malloc_trim(0);
      --trims_left;
      ++trims_;
    }
  }
}

}  // namespace resnet8
