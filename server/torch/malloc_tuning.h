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

namespace resnet8 {

// Returns false if glibc refused a setting (the program still works, slower).
bool KeepFreedMemoryForReuse();

}  // namespace resnet8

#endif  // RESNET8_SERVER_TORCH_MALLOC_TUNING_H_
