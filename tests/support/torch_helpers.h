// What the LibTorch tests share: the shared model, loaded, and the tolerance
// the converter and the server derive for a float32 module.
#ifndef RESNET8_TESTS_SUPPORT_TORCH_HELPERS_H_
#define RESNET8_TESTS_SUPPORT_TORCH_HELPERS_H_

#include <gtest/gtest.h>

#include "server/keras/model.h"
#include "server/torch/precision.h"
#include "tests/support/test_support.h"

namespace resnet8::testing {

inline KerasModel SharedModel() {
  absl::StatusOr<KerasModel> model = LoadKerasModel(SharedModelPath());
  EXPECT_TRUE(model.ok()) << model.status();
  return *model;
}

// The tolerance the converter and the server derive for a float32 module
// built from `built`: from that module's own measured rounding noise.
inline double Float32Tolerance(const KerasModel& built, TorchModuleOptions options = {}) {
  absl::StatusOr<PrecisionChoice> choice = ChoosePrecision(built, options, PrecisionPolicy::kFloat32, "test");
  EXPECT_TRUE(choice.ok()) << choice.status();
  return choice.ok() ? CheckTolerance(*choice) : 0;
}

}  // namespace resnet8::testing

#endif  // RESNET8_TESTS_SUPPORT_TORCH_HELPERS_H_
