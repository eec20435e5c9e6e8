// The self-check (self_check.h) and the module check (module_check.h) fail
// when the conversion is wrong, with the classic silent port errors planted,
// and pass for the shared model on both served paths.
#include "server/keras/self_check.h"

#include <gtest/gtest.h>

#include "server/torch/model_loader.h"
#include "server/torch/module_check.h"
#include "server/torch/torch_classifier.h"
#include "server/torch/torchscript_builder.h"
#include "tests/support/test_support.h"
#include "tests/support/torch_helpers.h"

namespace resnet8 {
namespace {

using testing::Float32Tolerance;
using testing::SharedModel;

// The checks must fail when the conversion is wrong: here PyTorch's default
// BatchNorm epsilon replaces the file's, a classic silent port error.
TEST(SelfCheck, FailsWhenBatchNormEpsilonIsWrong) {
  const KerasModel keras = SharedModel();
  KerasModel wrong = keras;
  for (KerasLayer& layer : wrong.layers) layer.epsilon = 1e-5;
  ASSERT_OK_AND_ASSIGN(torch::jit::Module module, BuildTorchModule(wrong, {}, "shared"));
  ASSERT_OK_AND_ASSIGN(CheckResult module_check, CheckModuleAgainstReference(keras, module, Float32Tolerance(wrong)));
  EXPECT_FALSE(module_check.passed) << module_check.detail;
  ASSERT_OK_AND_ASSIGN(auto classifier, TorchClassifier::Create(module, keras.InputShape(), 10, {}));
  ASSERT_OK_AND_ASSIGN(CheckResult check, RunSelfCheck(keras, *classifier, Float32Tolerance(wrong)));
  EXPECT_FALSE(check.passed) << check.detail;
}

// What a naive port does: PyTorch's symmetric padding=1 on the stride-2 3x3
// convolutions, where TF's 'same' pads only the bottom and right.
TEST(SelfCheck, FailsWhenPaddingIsSymmetric) {
  const KerasModel keras = SharedModel();
  std::string code = TorchScriptSource(keras, {});
  const std::string asymmetric = "torch.constant_pad_nd(v";
  ASSERT_NE(code.find(asymmetric), std::string::npos) << code;
  // Rewrite every explicit asymmetric pad + stride-2 conv as padding=1.
  std::string naive;
  for (size_t start = 0; start < code.size();) {
    size_t end = code.find('\n', start);
    std::string line = code.substr(start, end - start);
    const size_t pad = line.find("torch.constant_pad_nd(");
    if (pad != std::string::npos) {
      const size_t arg = pad + std::string("torch.constant_pad_nd(").size();
      const size_t comma = line.find(',', arg);
      const size_t close = line.find("0.0)", comma);
      line = line.substr(0, pad) + line.substr(arg, comma - arg) + line.substr(close + 4);
      line.replace(line.find("[2, 2], [0, 0]"), 14, "[2, 2], [1, 1]");
    }
    naive += line + "\n";
    start = end == std::string::npos ? code.size() : end + 1;
  }
  // The same tensors, with the naive code beside the right one.
  ASSERT_OK_AND_ASSIGN(torch::jit::Module module, BuildTorchModule(keras, {}, "shared"));
  module.define(naive.replace(naive.find("def forward"), 11, "def naive_forward"));
  torch::manual_seed(1);
  torch::Tensor input = torch::rand({3, 3, 32, 32}) * 255;
  torch::Tensor right = module.forward({input}).toTensor();
  torch::Tensor wrong = module.run_method("naive_forward", input).toTensor();
  EXPECT_GT((right - wrong).abs().max().item<double>(), 1e-3) << "symmetric padding went unnoticed";
}

TEST(SelfCheck, PassesForTheSharedModelOnBothServedPaths) {
  ASSERT_OK_AND_ASSIGN(LoadedModel model, LoadKerasFile(testing::SharedModelPath(), {}));
  for (bool optimized : {false, true}) {
    ASSERT_OK_AND_ASSIGN(ServedClassifier served, MakeServedClassifier(model, optimized));
    // The reference model is served in float32, well within the budget.
    EXPECT_EQ(served.precision.precision, Precision::kFloat32) << served.precision.detail;
    ASSERT_OK_AND_ASSIGN(CheckResult check,
                         RunSelfCheck(model.keras, *served.classifier, CheckTolerance(served.precision)));
    EXPECT_TRUE(check.passed) << check.detail;
    EXPECT_LE(check.max_abs_difference, kFaithfulnessBar);
  }
}

}  // namespace
}  // namespace resnet8
