// The oneDNN convolution (onednn_convolution.h) computes what aten computes
// for the same arguments: padding that differs before and after, strides,
// dilations, groups, the residual sum and the ReLU, in either memory format;
// a residual of another shape is broadcast; the residual's memory is taken
// only when the spec allows it and the input is not that memory; and the
// serving rewrite (serving_rewrites.h) allows it only when nothing reads the
// residual afterwards.
#include "server/torch/onednn_convolution.h"

#include <gtest/gtest.h>

#include "server/torch/serving_rewrites.h"
#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

// Float32 sums of a few hundred products, in another order than aten's.
constexpr double kBar = 1e-4;

double MaxDifference(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

Conv2dSpec RandomSpec(int64_t out, int64_t in_per_group, int64_t kernel, int64_t groups = 1) {
  Conv2dSpec spec;
  spec.weight = torch::randn({out, in_per_group, kernel, kernel});
  spec.bias = torch::randn({out});
  spec.groups = groups;
  return spec;
}

at::Tensor Reference(const Conv2dSpec& spec, const at::Tensor& input) {
  // aten pads both sides alike; the difference goes in an explicit pad.
  const at::Tensor padded = torch::constant_pad_nd(
      input, {spec.padding_before[1], spec.padding_after[1], spec.padding_before[0], spec.padding_after[0]});
  const std::vector<int64_t> stride(spec.stride.begin(), spec.stride.end());
  const std::vector<int64_t> dilation(spec.dilation.begin(), spec.dilation.end());
  return torch::conv2d(padded, spec.weight, spec.bias.value(), stride, at::IntArrayRef({0, 0}), dilation, spec.groups);
}

TEST(OneDnnConvolution, PaddingStridesDilationsAndGroupsAsAten) {
  torch::InferenceMode inference;
  Conv2dSpec same_stride2 = RandomSpec(16, 8, 3);  // Keras 'same' at stride 2: one more after
  same_stride2.stride = {2, 2};
  same_stride2.padding_after = {1, 1};
  Conv2dSpec uneven = RandomSpec(5, 3, 3);
  uneven.padding_before = {2, 0};
  uneven.padding_after = {1, 3};
  uneven.dilation = {2, 1};
  Conv2dSpec depthwise = RandomSpec(8, 1, 3, /*groups=*/8);
  depthwise.padding_before = depthwise.padding_after = {1, 1};
  for (const Conv2dSpec& spec : {same_stride2, uneven, depthwise}) {
    auto context = c10::make_intrusive<Conv2dContext>(spec);
    const int64_t channels = spec.weight.size(1) * spec.groups;
    for (int64_t images : {1, 3}) {
      for (auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
        const at::Tensor input = torch::randn({images, channels, 9, 11}).contiguous(format);
        const at::Tensor expected = Reference(spec, input);
        const at::Tensor got = context->Run(input, nullptr);
        ASSERT_EQ(got.sizes(), expected.sizes());
        EXPECT_LE(MaxDifference(got, expected), kBar) << images << " images, weights " << spec.weight.sizes();
      }
    }
  }
}

TEST(OneDnnConvolution, SumAndReluAsAtenAndTheResidualKeptUnlessAllowed) {
  torch::InferenceMode inference;
  Conv2dSpec spec = RandomSpec(6, 6, 3);
  spec.padding_before = spec.padding_after = {1, 1};
  spec.relu = true;
  const at::Tensor input = torch::randn({2, 6, 8, 8}).contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor residual = torch::randn({2, 6, 8, 8}).contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor expected = torch::relu(Reference(spec, input) + residual);

  const at::Tensor kept = residual.clone();
  auto copying = c10::make_intrusive<Conv2dContext>(spec);
  EXPECT_LE(MaxDifference(copying->Run(input, &kept), expected), kBar);
  EXPECT_TRUE(torch::equal(kept, residual)) << "the residual was written without leave";

  spec.overwrite_residual = true;
  auto overwriting = c10::make_intrusive<Conv2dContext>(spec);
  const at::Tensor taken = residual.clone();
  const at::Tensor result = overwriting->Run(input, &taken);
  EXPECT_LE(MaxDifference(result, expected), kBar);
  EXPECT_EQ(result.data_ptr(), taken.data_ptr()) << "the residual's memory was allowed and not taken";

  // The input is the residual: its memory is read while the result is
  // written, so it is not taken even when allowed.
  const at::Tensor both = input.clone();
  EXPECT_LE(MaxDifference(overwriting->Run(both, &both), torch::relu(Reference(spec, input) + input)), kBar);
  EXPECT_TRUE(torch::equal(both, input));
}

TEST(OneDnnConvolution, AResidualOfAnotherShapeIsBroadcast) {
  torch::InferenceMode inference;
  Conv2dSpec spec = RandomSpec(4, 2, 1);
  spec.relu = true;
  spec.overwrite_residual = true;
  auto context = c10::make_intrusive<Conv2dContext>(spec);
  const at::Tensor input = torch::randn({3, 2, 5, 5});
  const at::Tensor per_channel = torch::randn({1, 4, 1, 1});
  EXPECT_LE(MaxDifference(context->Run(input, &per_channel), torch::relu(Reference(spec, input) + per_channel)), kBar);
}

TEST(OneDnnConvolution, EveryShapeRunsBeyondTheCompiledOnesKept) {
  torch::InferenceMode inference;
  const Conv2dSpec spec = RandomSpec(4, 3, 3);
  auto context = c10::make_intrusive<Conv2dContext>(spec);
  for (int64_t images = 1; images <= static_cast<int64_t>(Conv2dContext::kMaxCompiledShapes) + 3; ++images) {
    const at::Tensor input = torch::randn({images, 3, 6, 6});
    ASSERT_LE(MaxDifference(context->Run(input, nullptr), Reference(spec, input)), kBar) << images << " images";
  }
  const at::Tensor input = torch::randn({1, 3, 6, 6});
  EXPECT_LE(MaxDifference(context->Run(input, nullptr), Reference(spec, input)), kBar) << "an evicted shape again";
}

TEST(OneDnnConvolution, BadSpecsAndInputsAreErrorsThatSayWhy) {
  Conv2dSpec float64 = RandomSpec(4, 3, 3);
  float64.weight = float64.weight.to(torch::kFloat64);
  EXPECT_THROW(Conv2dContext{float64}, c10::Error);
  Conv2dSpec zero_stride = RandomSpec(4, 3, 3);
  zero_stride.stride = {0, 1};
  EXPECT_THROW(Conv2dContext{zero_stride}, c10::Error);

  torch::InferenceMode inference;
  auto context = c10::make_intrusive<Conv2dContext>(RandomSpec(4, 3, 3));
  try {
    context->Run(torch::randn({1, 5, 6, 6}), nullptr);
    ADD_FAILURE() << "5 input channels for weights of 3";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("[1, 5, 6, 6]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(context->Run(torch::randn({1, 3, 2, 2}), nullptr), c10::Error);  // smaller than the kernel
}

// A module whose residual Add reads a tensor the graph reads again later: the
// rewrite must not let the sum overwrite it.
torch::jit::Module ModuleReading(const std::string& body) {
  torch::jit::Module module("m");
  module.register_parameter("w", torch::randn({4, 4, 3, 3}), false);
  module.register_parameter("b", torch::randn({4}), false);
  module.define("def forward(self, x):\n" + body);
  return module;
}

TEST(ServingRewritesOfSums, AResidualReadAgainLaterOrTheInputItselfIsNotOverwritten) {
  const std::string read_later =
      "    a = torch.relu(torch.conv2d(x, self.w, self.b, [1, 1], [1, 1]))\n"
      "    b = torch.relu(torch.conv2d(a, self.w, self.b, [1, 1], [1, 1]))\n"
      "    y = torch.relu(torch.conv2d(b, self.w, self.b, [1, 1], [1, 1]) + a)\n"
      "    return y + a\n";
  const std::string own_input =
      "    a = torch.relu(torch.conv2d(x, self.w, self.b, [1, 1], [1, 1]))\n"
      "    return torch.relu(torch.conv2d(a, self.w, self.b, [1, 1], [1, 1]) + a)\n";
  for (const std::string& body : {read_later, own_input}) {
    torch::jit::Module module = ModuleReading(body);
    ASSERT_OK_AND_ASSIGN(ServingRewrite rewritten, RewriteForServing(module));
    EXPECT_EQ(rewritten.fused_sums, 1);
    EXPECT_EQ(rewritten.sums_in_place, body == read_later ? 0 : 1);  // the op itself keeps its input
    torch::InferenceMode inference;
    const at::Tensor input = torch::randn({2, 4, 7, 7}).contiguous(at::MemoryFormat::ChannelsLast);
    EXPECT_LE(MaxDifference(rewritten.module.forward({input}).toTensor(), module.forward({input}).toTensor()), kBar)
        << body;
  }
}

}  // namespace
}  // namespace resnet8
