// Checks a module from BuildTorchModule() against the Keras reference
// executor on synthetic inputs of the model's own input shape (any size, not
// only 32x32x3): what the converter runs on the module it is about to write.
// The server's self-check (keras/self_check.h) checks the served classifier.
//
//   ASSIGN_OR_RETURN(CheckResult check, CheckModuleAgainstReference(model.keras, model.module));
//   if (!check.passed) ...  // check.detail says by how much it missed
#ifndef RESNET8_SERVER_TORCH_MODULE_CHECK_H_
#define RESNET8_SERVER_TORCH_MODULE_CHECK_H_

#include <torch/script.h>

#include <string>

#include "absl/status/statusor.h"
#include "common/check_result.h"
#include "server/keras/model.h"
#include "server/keras/self_check.h"

namespace resnet8 {

// Runs `images` of SyntheticImages() (keras/self_check.h) through both; every
// output must be within `tolerance` * max(1, largest |output|) of the
// reference's (precision.h's CheckTolerance() derives it). Errors:
// INVALID_ARGUMENT if the model's output is not a vector; INTERNAL if the
// module fails.
absl::StatusOr<CheckResult> CheckModuleAgainstReference(const KerasModel& model, torch::jit::Module module,
                                                        double tolerance, int64_t images = kSelfCheckImages);

}  // namespace resnet8

#endif  // RESNET8_SERVER_TORCH_MODULE_CHECK_H_
