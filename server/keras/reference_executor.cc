#include "server/keras/reference_executor.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace resnet8 {
namespace {

using Tensor = std::vector<double>;  // one image's activations, channels-last

int64_t Elements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// TF 'same' padding puts the odd extra row/column after (bottom/right).
int64_t PadBefore(const KerasLayer& layer, int64_t in, int64_t out, int d) {
  if (layer.padding == Padding::kValid) return 0;
  const int64_t total = std::max<int64_t>((out - 1) * layer.strides[d] + layer.kernel_size[d] - in, 0);
  return total / 2;
}

Tensor Conv2D(const KerasLayer& layer, const Shape& in_shape, const Tensor& x) {
  const int64_t ih = in_shape[0], iw = in_shape[1], ci = in_shape[2];
  const int64_t oh = layer.output_shape[0], ow = layer.output_shape[1], co = layer.filters;
  const int64_t kh = layer.kernel_size[0], kw = layer.kernel_size[1];
  const int64_t top = PadBefore(layer, ih, oh, 0), left = PadBefore(layer, iw, ow, 1);
  const std::vector<float>& kernel = layer.weights.kernel.values;  // [kh][kw][ci][co]
  Tensor y(oh * ow * co);
  std::vector<double> acc(co);
  for (int64_t oy = 0; oy < oh; ++oy) {
    for (int64_t ox = 0; ox < ow; ++ox) {
      for (int64_t o = 0; o < co; ++o) acc[o] = layer.use_bias ? layer.weights.bias.values[o] : 0.0;
      for (int64_t ky = 0; ky < kh; ++ky) {
        const int64_t iy = oy * layer.strides[0] - top + ky;
        if (iy < 0 || iy >= ih) continue;  // zero padding
        for (int64_t kx = 0; kx < kw; ++kx) {
          const int64_t ix = ox * layer.strides[1] - left + kx;
          if (ix < 0 || ix >= iw) continue;
          const double* in = &x[(iy * iw + ix) * ci];
          const float* w = &kernel[(ky * kw + kx) * ci * co];
          for (int64_t c = 0; c < ci; ++c) {
            const double v = in[c];
            const float* wc = w + c * co;
            for (int64_t o = 0; o < co; ++o) acc[o] += v * wc[o];
          }
        }
      }
      std::copy(acc.begin(), acc.end(), y.begin() + (oy * ow + ox) * co);
    }
  }
  return y;
}

Tensor AveragePooling2D(const KerasLayer& layer, const Shape& in_shape, const Tensor& x) {
  const int64_t ih = in_shape[0], iw = in_shape[1], c = in_shape[2];
  const int64_t oh = layer.output_shape[0], ow = layer.output_shape[1];
  const int64_t top = PadBefore(layer, ih, oh, 0), left = PadBefore(layer, iw, ow, 1);
  Tensor y(oh * ow * c, 0.0);
  for (int64_t oy = 0; oy < oh; ++oy) {
    for (int64_t ox = 0; ox < ow; ++ox) {
      int64_t count = 0;  // Keras averages over the valid (unpadded) positions only
      for (int64_t ky = 0; ky < layer.kernel_size[0]; ++ky) {
        const int64_t iy = oy * layer.strides[0] - top + ky;
        if (iy < 0 || iy >= ih) continue;
        for (int64_t kx = 0; kx < layer.kernel_size[1]; ++kx) {
          const int64_t ix = ox * layer.strides[1] - left + kx;
          if (ix < 0 || ix >= iw) continue;
          ++count;
          for (int64_t k = 0; k < c; ++k) y[(oy * ow + ox) * c + k] += x[(iy * iw + ix) * c + k];
        }
      }
      for (int64_t k = 0; k < c; ++k) y[(oy * ow + ox) * c + k] /= static_cast<double>(count);
    }
  }
  return y;
}

Tensor BatchNorm(const KerasLayer& layer, const Tensor& x) {
  const BoundWeights& w = layer.weights;
  const int64_t c = layer.output_shape.back();
  Tensor y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const int64_t k = static_cast<int64_t>(i) % c;
    const double gamma = layer.scale ? w.gamma.values[k] : 1.0;
    const double beta = layer.center ? w.beta.values[k] : 0.0;
    y[i] = (x[i] - w.moving_mean.values[k]) / std::sqrt(w.moving_variance.values[k] + layer.epsilon) * gamma + beta;
  }
  return y;
}

Tensor Dense(const KerasLayer& layer, const Tensor& x) {
  const int64_t in = static_cast<int64_t>(x.size()), units = layer.filters;
  Tensor y(units);
  for (int64_t u = 0; u < units; ++u) y[u] = layer.use_bias ? layer.weights.bias.values[u] : 0.0;
  for (int64_t i = 0; i < in; ++i) {
    for (int64_t u = 0; u < units; ++u) y[u] += x[i] * layer.weights.kernel.values[i * units + u];
  }
  return y;
}

Tensor Activate(ActivationKind kind, Tensor x) {
  if (kind == ActivationKind::kRelu) {
    for (double& v : x) v = std::max(v, 0.0);
  } else if (kind == ActivationKind::kSoftmax) {  // over the last (only) axis
    const double max = *std::max_element(x.begin(), x.end());
    double sum = 0;
    for (double& v : x) sum += (v = std::exp(v - max));
    for (double& v : x) v /= sum;
  }
  return x;
}

}  // namespace

absl::StatusOr<ReferenceOutput> RunKerasReference(const KerasModel& model, absl::Span<const float> pixels,
                                                  int64_t images) {
  const int input = model.Find(model.input_layer);
  const int output = model.Find(model.output_layer);
  const int64_t per_image = Elements(model.layers[input].output_shape);
  if (images < 0 || static_cast<int64_t>(pixels.size()) != images * per_image) {
    return absl::InvalidArgumentError(
        absl::StrCat("reference: got ", pixels.size(), " values for ", images, " images of ", per_image, " values"));
  }
  if (model.layers[output].output_shape.size() != 1) {
    return absl::InvalidArgumentError("reference: the model output is not a flat vector");
  }
  ReferenceOutput result;
  result.classes = model.layers[output].output_shape[0];
  for (int64_t image = 0; image < images; ++image) {
    std::vector<Tensor> values(model.layers.size());
    Tensor logits;
    for (size_t i = 0; i < model.layers.size(); ++i) {
      const KerasLayer& layer = model.layers[i];
      auto input_of = [&](size_t k) -> const Tensor& { return values[model.Find(layer.inputs[k])]; };
      auto input_shape = [&]() -> const Shape& { return model.layers[model.Find(layer.inputs[0])].output_shape; };
      Tensor pre;  // before the layer's own activation
      switch (layer.kind) {
        case LayerKind::kInput:
          pre.assign(pixels.begin() + image * per_image, pixels.begin() + (image + 1) * per_image);
          break;
        case LayerKind::kConv2D:
          pre = Conv2D(layer, input_shape(), input_of(0));
          break;
        case LayerKind::kAveragePooling2D:
          pre = AveragePooling2D(layer, input_shape(), input_of(0));
          break;
        case LayerKind::kBatchNorm:
          pre = BatchNorm(layer, input_of(0));
          break;
        case LayerKind::kActivation:
        case LayerKind::kFlatten:  // channels-last storage is already Keras's flatten order
          pre = input_of(0);
          break;
        case LayerKind::kAdd:
          pre = input_of(0);
          for (size_t k = 1; k < layer.inputs.size(); ++k) {
            for (size_t j = 0; j < pre.size(); ++j) pre[j] += input_of(k)[j];
          }
          break;
        case LayerKind::kDense:
          pre = Dense(layer, input_of(0));
          break;
      }
      if (static_cast<int>(i) == output) logits = pre;
      const bool activates =
          layer.kind == LayerKind::kConv2D || layer.kind == LayerKind::kDense || layer.kind == LayerKind::kActivation;
      values[i] = activates ? Activate(layer.activation, std::move(pre)) : std::move(pre);
    }
    result.logits.insert(result.logits.end(), logits.begin(), logits.end());
    result.probabilities.insert(result.probabilities.end(), values[output].begin(), values[output].end());
  }
  return result;
}

}  // namespace resnet8
