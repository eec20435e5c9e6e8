// Export of a converted ResNet8 as a PyTorch state dict file.
//
// The file is written with torch::pickle_save, the format of Python's
// torch.save, so `torch.load("resnet8.pt")` returns a plain dict of tensors:
//   {"conv2d.weight": [16, 3, 3, 3], ..., "batch_normalization.running_var": [16],
//    ..., "dense.weight": [10, 64], "dense.bias": [10]}
// keyed by Keras layer name, in PyTorch layouts. BatchNorm's
// num_batches_tracked is left out: it is training state Keras does not have,
// and PyTorch's BatchNorm accepts a state dict without it.
#ifndef RESNET8_SERVER_TORCH_STATE_DICT_H_
#define RESNET8_SERVER_TORCH_STATE_DICT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "server/torch/resnet8_module.h"

namespace resnet8 {

// The entries written by WriteStateDict, in module registration order.
std::vector<std::pair<std::string, torch::Tensor>> StateDictEntries(ResNet8Impl& module);

// Writes the state dict to `path` atomically: to a temporary file in the same
// directory first, renamed into place only when complete, so a failure leaves
// no partial output behind. Errors: INVALID_ARGUMENT if the directory cannot be
// written, INTERNAL for a LibTorch or I/O failure; messages name `path`.
absl::Status WriteStateDict(ResNet8Impl& module, const std::string& path);

}  // namespace resnet8

#endif  // RESNET8_SERVER_TORCH_STATE_DICT_H_
