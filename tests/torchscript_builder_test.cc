// The TorchScript module built from a Keras graph (torchscript_builder.h)
// agrees with the reference executor: on the shared model, with BatchNorm
// folded, on a generated ResNet of other widths and layer names, and with
// the file's own BatchNorm epsilon.
#include "server/torch/torchscript_builder.h"

#include <gtest/gtest.h>

#include "server/keras/fold_batch_norm.h"
#include "server/torch/model_export.h"
#include "server/torch/module_check.h"
#include "tests/support/keras_fixture.h"
#include "tests/support/test_support.h"
#include "tests/support/torch_helpers.h"

namespace resnet8 {
namespace {

using testing::Float32Tolerance;
using testing::MakeResNetFixture;
using testing::SharedModel;

TEST(TorchModule, SharedModelAgreesWithTheReferenceExecutor) {
  const KerasModel keras = SharedModel();
  ASSERT_OK_AND_ASSIGN(torch::jit::Module module, BuildTorchModule(keras, {}, "shared"));
  ASSERT_OK_AND_ASSIGN(CheckResult check, CheckModuleAgainstReference(keras, module, Float32Tolerance(keras)));
  EXPECT_TRUE(check.passed) << check.detail;
}

TEST(TorchModule, FoldedBatchNormGivesTheSameOutputs) {
  const KerasModel keras = SharedModel();
  const KerasModel folded = FoldBatchNorm(keras);
  int identities = 0;
  for (const KerasLayer& layer : folded.layers) identities += layer.kind == LayerKind::kIdentity;
  EXPECT_EQ(identities, 7);  // every BatchNormalization follows a convolution
  const TorchModuleOptions fold{.fold_batch_norm = true};
  ASSERT_OK_AND_ASSIGN(torch::jit::Module module, BuildTorchModule(keras, fold, "shared"));
  ASSERT_OK_AND_ASSIGN(CheckResult check, CheckModuleAgainstReference(keras, module, Float32Tolerance(keras, fold)));
  EXPECT_TRUE(check.passed) << check.detail;
}

TEST(TorchModule, ConvertsWidth26ModelWithRenamedLayers) {
  KerasH5File file = MakeResNetFixture({.widths = {26, 52, 104}, .name_offset = 9, .seed = 7});
  ASSERT_OK_AND_ASSIGN(KerasModel keras, BuildKerasModel(file, "resnet26.h5"));
  ASSERT_OK_AND_ASSIGN(torch::jit::Module module, BuildTorchModule(keras, {}, "resnet26.h5"));
  ASSERT_OK_AND_ASSIGN(CheckResult check, CheckModuleAgainstReference(keras, module, Float32Tolerance(keras)));
  EXPECT_TRUE(check.passed) << check.detail;
  bool found = false;
  for (const auto& [name, tensor] : StateDictEntries(module)) {
    if (name == "conv2d_9.weight") {
      found = true;
      EXPECT_EQ(tensor.sizes(), (c10::IntArrayRef{26, 3, 3, 3}));
    }
  }
  EXPECT_TRUE(found);
}

TEST(TorchModule, HonoursBatchNormEpsilonFromTheFile) {
  KerasH5File file = MakeResNetFixture({.widths = {8, 16}, .epsilon = 0.1});
  ASSERT_OK_AND_ASSIGN(KerasModel keras, BuildKerasModel(file, "eps.h5"));
  ASSERT_OK_AND_ASSIGN(torch::jit::Module module, BuildTorchModule(keras, {}, "eps.h5"));
  EXPECT_NE(TorchScriptSource(keras, {}).find("0.10000000000000001"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(CheckResult check, CheckModuleAgainstReference(keras, module, Float32Tolerance(keras)));
  EXPECT_TRUE(check.passed) << check.detail;
}

}  // namespace
}  // namespace resnet8
