// Process-wide allocator setting for serving the model.
//
// Inference runs on a thread of its own (see torch_classifier.h), and glibc
// gives non-main threads arenas that hand freed memory back to the kernel
// eagerly. Each forward pass frees and reallocates megabytes of activations,
// so without this every pass page-faults them in again: measured on the
// benchmark machine, a third of the server's CPU went to the kernel and
// throughput halved. Keeping freed memory for reuse costs a few tens of MB of
// RSS (see BENCHMARKS.md).
//
// Call once at the start of main(), before threads start. It changes glibc's
// malloc for the whole process, which is why only programs call it, never a
// library.
#ifndef RESNET8_SERVER_TORCH_MALLOC_TUNING_H_
#define RESNET8_SERVER_TORCH_MALLOC_TUNING_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/time/time.h"

namespace resnet8 {

// Returns false if glibc refused a setting (the program still works, slower).
bool KeepFreedMemoryForReuse();

// The other half of that policy: memory kept for reuse is returned to the
// kernel (malloc_trim) once the work stops, so that after a burst of load the
// server's RSS comes back down instead of staying at its peak. `activity`
// counts work done so far (e.g. forward passes); when it has stood still for
// `quiet` after changing, the freed memory is trimmed, and again on each of
// the spell's next few quiet periods (memory freed late: closed connections,
// exiting threads).
class IdleMemoryRelease {
 public:
  IdleMemoryRelease(std::function<uint64_t()> activity, absl::Duration quiet = absl::Seconds(2));
  ~IdleMemoryRelease();  // stops the watching thread

  int trims() const;

 private:
  void Watch();

  const std::function<uint64_t()> activity_;
  const absl::Duration quiet_;
  mutable std::mutex mutex_;
  std::condition_variable stop_requested_;
  bool stopping_ = false;
  int trims_ = 0;
  std::thread thread_;
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_TORCH_MALLOC_TUNING_H_
