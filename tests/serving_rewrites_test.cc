// The module rewritten for serving (serving_rewrites.h) computes what the
// module as built computes: every convolution of the shared model becomes a
// oneDNN one, with the padding before it, the residual Add and the ReLU
// after it fused in; the result agrees with the reference executor,
// and with the module as built at every pass size and in both memory
// formats; a float64 module's convolutions are left to aten.
#include "server/torch/serving_rewrites.h"

#include <gtest/gtest.h>

#include "server/torch/module_check.h"
#include "server/torch/torchscript_builder.h"
#include "tests/support/test_support.h"
#include "tests/support/torch_helpers.h"

namespace resnet8 {
namespace {

using testing::Float32Tolerance;
using testing::SharedModel;

TEST(ServingRewrites, RewriteEveryConvolutionAndReluOfTheSharedModelAndAgree) {
  const KerasModel keras = SharedModel();
  const TorchModuleOptions fold{.softmax_logits = true, .fold_batch_norm = true};
  ASSERT_OK_AND_ASSIGN(torch::jit::Module module, BuildTorchModule(keras, fold, "shared"));
  ASSERT_OK_AND_ASSIGN(ServingRewrite prepacked, RewriteForServing(module));
  // 9 convolutions; a ReLU follows the first and the first of each block,
  // the second of each block feeds the residual Add (whose ReLU follows it),
  // and the first of blocks 2 and 3 pads one pixel more after than before.
  EXPECT_EQ(prepacked.convolutions, 9);
  EXPECT_EQ(prepacked.fused_paddings, 2);
  EXPECT_EQ(prepacked.fused_sums, 3);
  EXPECT_EQ(prepacked.sums_in_place, 3);  // no residual is read after its block's sum
  EXPECT_EQ(prepacked.fused_relus, 7);
  EXPECT_EQ(prepacked.fused_add_relus, 0);
  const std::string graph = prepacked.module.get_method("forward").graph()->toString();
  for (const char* gone : {"aten::conv2d", "aten::relu", "aten::add", "aten::_add_relu", "aten::constant_pad_nd"}) {
    EXPECT_EQ(graph.find(gone), std::string::npos) << gone << " in " << graph;
  }

  ASSERT_OK_AND_ASSIGN(CheckResult check,
                       CheckModuleAgainstReference(keras, prepacked.module, Float32Tolerance(keras, fold)));
  EXPECT_TRUE(check.passed) << check.detail;

  // Both are float32 computations of one function, summing in different
  // orders (aten sends one image past oneDNN): on these random images they
  // differ by up to 2.3e-6, within the project's 1e-5 bar for agreement with
  // Keras (the self-check above holds the served module to its tighter
  // float32 budget on its own images).
  constexpr double kBar = 1e-5;
  torch::InferenceMode inference;
  const torch::Tensor pixels = torch::rand({16, 3, 32, 32}, torch::kFloat32) * 255;
  for (int64_t count : {1, 3, 16}) {
    for (auto format : {torch::MemoryFormat::Contiguous, torch::MemoryFormat::ChannelsLast}) {
      const torch::Tensor input = pixels.slice(0, 0, count).contiguous(format);
      const torch::Tensor built = module.forward({input}).toTensor();
      const torch::Tensor served = prepacked.module.forward({input}).toTensor();
      EXPECT_LE((built - served).abs().max().item<double>(), kBar) << count << " images, format " << format;
    }
  }
}

TEST(ServingRewrites, LeaveAFloat64ModulesConvolutionsToAten) {
  const KerasModel keras = SharedModel();
  ASSERT_OK_AND_ASSIGN(torch::jit::Module module, BuildTorchModule(keras, {.float64 = true}, "shared"));
  ASSERT_OK_AND_ASSIGN(ServingRewrite prepacked, RewriteForServing(module));
  EXPECT_EQ(prepacked.convolutions, 0);
  torch::InferenceMode inference;
  const torch::Tensor input = torch::rand({2, 3, 32, 32}, torch::kFloat32) * 255;
  // Add + ReLU in one op rounds as the two did: float64 stays exact.
  EXPECT_TRUE(torch::equal(module.forward({input}).toTensor(), prepacked.module.forward({input}).toTensor()));
}

}  // namespace
}  // namespace resnet8
