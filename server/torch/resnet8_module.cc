#include "server/torch/resnet8_module.h"

#include <utility>

namespace resnet8 {
namespace {

namespace F = torch::nn::functional;

bool IsSymmetric(const std::array<int64_t, 4>& p) { return p[0] == p[1] && p[2] == p[3]; }

}  // namespace

std::vector<int64_t> ResNetSpec::Widths() const {
  std::vector<int64_t> widths{stem_conv.out_channels};
  for (const ResidualBlockSpec& block : blocks) widths.push_back(block.conv2.out_channels);
  return widths;
}

ResNet8Impl::ResNet8Impl(ResNetSpec spec, bool batch_norm_folded)
    : spec_(std::move(spec)), batch_norm_folded_(batch_norm_folded) {
  auto add_conv = [this](const Conv2dSpec& s) {
    auto options = torch::nn::Conv2dOptions(s.in_channels, s.out_channels, {s.kernel[0], s.kernel[1]})
                       .stride({s.stride[0], s.stride[1]})
                       .bias(s.bias);
    if (IsSymmetric(s.padding)) options.padding(torch::ExpandingArray<2>({s.padding[0], s.padding[2]}));
    convs_.emplace(s.name, register_module(s.name, torch::nn::Conv2d(options)));
  };
  auto add_bn = [this](const BatchNormSpec& s) {
    if (batch_norm_folded_) return;
    batch_norms_.emplace(
        s.name,
        register_module(s.name, torch::nn::BatchNorm2d(torch::nn::BatchNormOptions(s.channels).eps(s.epsilon))));
  };
  add_conv(spec_.stem_conv);
  add_bn(spec_.stem_bn);
  for (const ResidualBlockSpec& block : spec_.blocks) {
    add_conv(block.conv1);
    add_bn(block.bn1);
    add_conv(block.conv2);
    add_bn(block.bn2);
    if (block.shortcut_conv) add_conv(*block.shortcut_conv);
    if (block.shortcut_bn) add_bn(*block.shortcut_bn);
  }
  dense_ = register_module(
      spec_.dense.name,
      torch::nn::Linear(
          torch::nn::LinearOptions(spec_.dense.in_features, spec_.dense.out_features).bias(spec_.dense.bias)));
}

torch::Tensor ResNet8Impl::Conv(const Conv2dSpec& s, const torch::Tensor& x) {
  torch::nn::Conv2d& conv = convs_.at(s.name);
  if (IsSymmetric(s.padding)) return conv(x);
  // F::pad takes {left, right, top, bottom}.
  return conv(F::pad(x, F::PadFuncOptions({s.padding[2], s.padding[3], s.padding[0], s.padding[1]})));
}

torch::Tensor ResNet8Impl::BatchNorm(const BatchNormSpec& s, const torch::Tensor& x) {
  if (batch_norm_folded_) return x;
  return batch_norms_.at(s.name)(x);
}

torch::Tensor ResNet8Impl::Logits(torch::Tensor x) {
  x = torch::relu(BatchNorm(spec_.stem_bn, Conv(spec_.stem_conv, x)));
  for (const ResidualBlockSpec& block : spec_.blocks) {
    torch::Tensor y = torch::relu(BatchNorm(block.bn1, Conv(block.conv1, x)));
    y = BatchNorm(block.bn2, Conv(block.conv2, y));
    torch::Tensor shortcut = x;
    if (block.shortcut_conv) shortcut = Conv(*block.shortcut_conv, x);
    if (block.shortcut_bn) shortcut = BatchNorm(*block.shortcut_bn, shortcut);
    x = torch::relu(shortcut + y);
  }
  // The Keras pool covers the whole feature map (checked when converting), so
  // it is a global mean, and flattening a 1x1 map needs no channel reordering.
  x = x.mean({2, 3});
  return dense_(x);
}

namespace {

void FoldInto(const Conv2dSpec& conv_spec, const BatchNormSpec* bn_spec, ResNet8Impl& from, ResNet8Impl& to) {
  torch::nn::Conv2d& source = from.conv(conv_spec.name);
  torch::nn::Conv2d& target = to.conv(conv_spec.name);
  torch::Tensor weight = source->weight.to(torch::kFloat64);
  torch::Tensor bias =
      conv_spec.bias ? source->bias.to(torch::kFloat64) : torch::zeros({conv_spec.out_channels}, torch::kFloat64);
  if (bn_spec != nullptr) {
    torch::nn::BatchNorm2d& bn = from.batch_norm(bn_spec->name);
    torch::Tensor scale =
        bn->weight.to(torch::kFloat64) / torch::sqrt(bn->running_var.to(torch::kFloat64) + bn->options.eps());
    weight = weight * scale.view({-1, 1, 1, 1});
    bias = (bias - bn->running_mean.to(torch::kFloat64)) * scale + bn->bias.to(torch::kFloat64);
  }
  target->weight.copy_(weight);
  target->bias.copy_(bias);
}

}  // namespace

ResNet8 FoldBatchNorm(ResNet8 holder) {
  ResNet8Impl& model = *holder;
  // Every convolution gets a bias in the folded model: it carries BN's shift.
  ResNetSpec spec = model.spec();
  spec.stem_conv.bias = true;
  for (ResidualBlockSpec& block : spec.blocks) {
    block.conv1.bias = block.conv2.bias = true;
    if (block.shortcut_conv) block.shortcut_conv->bias = true;
  }
  ResNet8 folded(spec, /*batch_norm_folded=*/true);
  torch::NoGradGuard no_grad;
  const ResNetSpec& original = model.spec();
  FoldInto(original.stem_conv, &original.stem_bn, model, *folded);
  for (const ResidualBlockSpec& block : original.blocks) {
    FoldInto(block.conv1, &block.bn1, model, *folded);
    FoldInto(block.conv2, &block.bn2, model, *folded);
    if (block.shortcut_conv) {
      FoldInto(*block.shortcut_conv, block.shortcut_bn ? &*block.shortcut_bn : nullptr, model, *folded);
    }
  }
  folded->dense()->weight.copy_(model.dense()->weight);
  if (original.dense.bias) folded->dense()->bias.copy_(model.dense()->bias);
  folded->eval();
  return folded;
}

torch::Tensor ResNet8Impl::forward(torch::Tensor x) { return torch::softmax(Logits(std::move(x)), 1); }

}  // namespace resnet8
