// The converter's two output files, both written atomically (to a temporary
// file in the same directory, renamed into place only when complete, so a
// failure leaves nothing behind).
//
// A state dict, written with torch::pickle_save (the format of Python's
// torch.save): `torch.load("model.pt")` returns a plain dict of the Keras
// weights in PyTorch layouts, keyed by Keras layer name:
//   {"conv2d.weight": [16, 3, 3, 3], ..., "batch_normalization.running_var": [16],
//    ..., "dense.weight": [10, 64], "dense.bias": [10]}
// (the names are listed in torchscript_builder.h).
//
// A TorchScript module, the whole model: `torch.jit.load("model.ts")(x)` with
// x float NCHW pixels gives the Keras model's outputs.
#ifndef RESNET8_SERVER_TORCH_MODEL_EXPORT_H_
#define RESNET8_SERVER_TORCH_MODEL_EXPORT_H_

#include <torch/script.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace resnet8 {

// The layers' tensors of a module from BuildTorchModule(): parameters, then
// buffers, in registration order. The input transform, not a Keras weight,
// is left out.
std::vector<std::pair<std::string, torch::Tensor>> StateDictEntries(const torch::jit::Module& module);

// Errors: INVALID_ARGUMENT if the directory cannot be written, INTERNAL for a
// LibTorch or I/O failure; messages name `path`.
absl::Status WriteStateDict(const torch::jit::Module& module, const std::string& path);
absl::Status WriteTorchScript(const torch::jit::Module& module, const std::string& path);

}  // namespace resnet8

#endif  // RESNET8_SERVER_TORCH_MODEL_EXPORT_H_
