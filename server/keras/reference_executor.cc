#include "server/keras/reference_executor.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace resnet8 {
namespace {

// One image's activations in Keras's layout: row-major over `shape`, so
// images are height x width x channels.
struct Tensor {
  Shape shape;
  std::vector<double> data;
};

int64_t Elements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// TF 'same' padding: enough zeros for ceil(in / stride) outputs, the odd one
// after (bottom/right).
int64_t PadBefore(const KerasLayer& layer, int64_t in, int64_t out, int d) {
  if (layer.padding == Padding::kValid) return 0;
  const int64_t window = (layer.kernel_size[d] - 1) * layer.dilation[d] + 1;
  return std::max<int64_t>((out - 1) * layer.strides[d] + window - in, 0) / 2;
}

// Visits the input pixels under output pixel (oy, ox)'s window, skipping
// padding: visit(ky, kx, iy, ix).
template <typename Visit>
void ForWindow(const KerasLayer& layer, const Shape& in, int64_t top, int64_t left, int64_t oy, int64_t ox,
               Visit visit) {
  for (int64_t ky = 0; ky < layer.kernel_size[0]; ++ky) {
    const int64_t iy = oy * layer.strides[0] - top + ky * layer.dilation[0];
    if (iy < 0 || iy >= in[0]) continue;
    for (int64_t kx = 0; kx < layer.kernel_size[1]; ++kx) {
      const int64_t ix = ox * layer.strides[1] - left + kx * layer.dilation[1];
      if (ix < 0 || ix >= in[1]) continue;
      visit(ky, kx, iy, ix);
    }
  }
}

// Conv2D with groups: output channel o reads the input channels of its group.
Tensor Conv2D(const KerasLayer& layer, const Tensor& x) {
  const Shape& out = layer.output_shape;
  const int64_t ci = x.shape[2], co = out[2], kw = layer.kernel_size[1];
  const int64_t group_in = ci / layer.groups, group_out = co / layer.groups;
  const int64_t top = PadBefore(layer, x.shape[0], out[0], 0), left = PadBefore(layer, x.shape[1], out[1], 1);
  const std::vector<float>& kernel = layer.weights.kernel.values;  // [kh][kw][group_in][co]
  Tensor y{out, std::vector<double>(Elements(out))};
  for (int64_t oy = 0; oy < out[0]; ++oy) {
    for (int64_t ox = 0; ox < out[1]; ++ox) {
      double* acc = &y.data[(oy * out[1] + ox) * co];
      for (int64_t o = 0; o < co; ++o) acc[o] = layer.use_bias ? layer.weights.bias.values[o] : 0.0;
      ForWindow(layer, x.shape, top, left, oy, ox, [&](int64_t ky, int64_t kx, int64_t iy, int64_t ix) {
        const double* in = &x.data[(iy * x.shape[1] + ix) * ci];
        const float* w = &kernel[(ky * kw + kx) * group_in * co];
        for (int64_t o = 0; o < co; ++o) {
          const int64_t first = (o / group_out) * group_in;
          for (int64_t c = 0; c < group_in; ++c) acc[o] += in[first + c] * w[c * co + o];
        }
      });
    }
  }
  return y;
}

// Depthwise: output channel c * multiplier + m filters input channel c alone.
Tensor Depthwise(const KerasLayer& layer, const Tensor& x, const Shape& out, bool bias) {
  const int64_t ci = x.shape[2], m = layer.depth_multiplier, kw = layer.kernel_size[1];
  const int64_t top = PadBefore(layer, x.shape[0], out[0], 0), left = PadBefore(layer, x.shape[1], out[1], 1);
  const std::vector<float>& kernel = layer.weights.kernel.values;  // [kh][kw][ci][m]
  Tensor y{{out[0], out[1], ci * m}, std::vector<double>(out[0] * out[1] * ci * m)};
  for (int64_t oy = 0; oy < out[0]; ++oy) {
    for (int64_t ox = 0; ox < out[1]; ++ox) {
      double* acc = &y.data[(oy * out[1] + ox) * ci * m];
      for (int64_t o = 0; o < ci * m; ++o) acc[o] = bias ? layer.weights.bias.values[o] : 0.0;
      ForWindow(layer, x.shape, top, left, oy, ox, [&](int64_t ky, int64_t kx, int64_t iy, int64_t ix) {
        const double* in = &x.data[(iy * x.shape[1] + ix) * ci];
        const float* w = &kernel[(ky * kw + kx) * ci * m];
        for (int64_t o = 0; o < ci * m; ++o) acc[o] += in[o / m] * w[o];
      });
    }
  }
  return y;
}

// SeparableConv2D: the depthwise step (no bias), then a 1x1 convolution.
Tensor Separable(const KerasLayer& layer, const Tensor& x) {
  const Shape& out = layer.output_shape;
  Tensor depthwise = Depthwise(layer, x, out, /*bias=*/false);
  const int64_t mid = depthwise.shape[2], co = out[2];
  const std::vector<float>& w = layer.weights.pointwise_kernel.values;  // [1][1][mid][co]
  Tensor y{out, std::vector<double>(Elements(out))};
  for (int64_t p = 0; p < out[0] * out[1]; ++p) {
    for (int64_t o = 0; o < co; ++o) {
      double acc = layer.use_bias ? layer.weights.bias.values[o] : 0.0;
      for (int64_t c = 0; c < mid; ++c) acc += depthwise.data[p * mid + c] * w[c * co + o];
      y.data[p * co + o] = acc;
    }
  }
  return y;
}

// Max pooling ignores the padding; average pooling divides by the number of
// real (unpadded) pixels under the window, as Keras does.
Tensor Pool(const KerasLayer& layer, const Tensor& x) {
  const Shape& out = layer.output_shape;
  const int64_t c = x.shape[2];
  const int64_t top = PadBefore(layer, x.shape[0], out[0], 0), left = PadBefore(layer, x.shape[1], out[1], 1);
  Tensor y{out, std::vector<double>(Elements(out))};
  for (int64_t oy = 0; oy < out[0]; ++oy) {
    for (int64_t ox = 0; ox < out[1]; ++ox) {
      double* result = &y.data[(oy * out[1] + ox) * c];
      const double start = layer.pool == PoolOp::kMax ? -std::numeric_limits<double>::infinity() : 0.0;
      std::fill(result, result + c, start);
      int64_t count = 0;
      ForWindow(layer, x.shape, top, left, oy, ox, [&](int64_t, int64_t, int64_t iy, int64_t ix) {
        const double* in = &x.data[(iy * x.shape[1] + ix) * c];
        ++count;
        for (int64_t k = 0; k < c; ++k)
          result[k] = layer.pool == PoolOp::kMax ? std::max(result[k], in[k]) : result[k] + in[k];
      });
      if (layer.pool == PoolOp::kAverage) {
        for (int64_t k = 0; k < c; ++k) result[k] /= static_cast<double>(count);
      }
    }
  }
  return y;
}

Tensor GlobalPool(const KerasLayer& layer, const Tensor& x) {
  const int64_t pixels = x.shape[0] * x.shape[1], c = x.shape[2];
  Tensor y{layer.output_shape, std::vector<double>(c)};
  for (int64_t k = 0; k < c; ++k) {
    double result = layer.pool == PoolOp::kMax ? -std::numeric_limits<double>::infinity() : 0.0;
    for (int64_t p = 0; p < pixels; ++p) {
      const double v = x.data[p * c + k];
      result = layer.pool == PoolOp::kMax ? std::max(result, v) : result + v;
    }
    y.data[k] = layer.pool == PoolOp::kMax ? result : result / static_cast<double>(pixels);
  }
  return y;
}

// ZeroPadding2D (grow) and Cropping2D (shrink) by margins {top, bottom, left, right}.
Tensor Margins(const KerasLayer& layer, const Tensor& x) {
  const Shape& out = layer.output_shape;
  const int64_t sign = layer.kind == LayerKind::kZeroPadding2D ? 1 : -1, c = x.shape[2];
  const int64_t top = sign * layer.margins[0], left = sign * layer.margins[2];
  Tensor y{out, std::vector<double>(Elements(out), 0.0)};
  for (int64_t oy = 0; oy < out[0]; ++oy) {
    for (int64_t ox = 0; ox < out[1]; ++ox) {
      const int64_t iy = oy - top, ix = ox - left;
      if (iy < 0 || iy >= x.shape[0] || ix < 0 || ix >= x.shape[1]) continue;
      std::copy_n(&x.data[(iy * x.shape[1] + ix) * c], c, &y.data[(oy * out[1] + ox) * c]);
    }
  }
  return y;
}

// UpSampling2D, nearest: output pixel (oy, ox) is input pixel (oy / sy, ox / sx).
Tensor UpSampling(const KerasLayer& layer, const Tensor& x) {
  const Shape& out = layer.output_shape;
  const int64_t c = x.shape[2];
  Tensor y{out, std::vector<double>(Elements(out))};
  for (int64_t oy = 0; oy < out[0]; ++oy) {
    for (int64_t ox = 0; ox < out[1]; ++ox) {
      const int64_t iy = oy / layer.upsampling[0], ix = ox / layer.upsampling[1];
      std::copy_n(&x.data[(iy * x.shape[1] + ix) * c], c, &y.data[(oy * out[1] + ox) * c]);
    }
  }
  return y;
}

// Dense over the last axis (Keras applies it to every position of a longer shape).
Tensor Dense(const KerasLayer& layer, const Tensor& x) {
  const int64_t in = x.shape.back(), units = layer.filters, rows = Elements(x.shape) / in;
  Tensor y{layer.output_shape, std::vector<double>(rows * units)};
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t u = 0; u < units; ++u) {
      double acc = layer.use_bias ? layer.weights.bias.values[u] : 0.0;
      for (int64_t i = 0; i < in; ++i) acc += x.data[r * in + i] * layer.weights.kernel.values[i * units + u];
      y.data[r * units + u] = acc;
    }
  }
  return y;
}

// Per-channel affine maps over the last axis: BatchNormalization,
// Normalization and Rescaling.
template <typename Map>
Tensor PerChannel(const Tensor& x, Map map) {
  const int64_t c = x.shape.back();
  Tensor y = x;
  for (size_t i = 0; i < y.data.size(); ++i) y.data[i] = map(y.data[i], static_cast<int64_t>(i) % c);
  return y;
}

template <typename T>
double At(const std::vector<T>& values, int64_t channel) {
  return values.size() == 1 ? values[0] : values[channel];
}

Tensor BatchNorm(const KerasLayer& layer, const Tensor& x) {
  const BoundWeights& w = layer.weights;
  return PerChannel(x, [&](double v, int64_t k) {
    const double gamma = layer.scale ? w.gamma.values[k] : 1.0;
    const double beta = layer.center ? w.beta.values[k] : 0.0;
    return (v - w.moving_mean.values[k]) / std::sqrt(w.moving_variance.values[k] + layer.epsilon) * gamma + beta;
  });
}

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double Softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

double Activate(const Activation& a, double x) {
  switch (a.kind) {
    case ActivationKind::kLinear:
      return x;
    case ActivationKind::kRelu: {
      // Keras's relu(x, negative_slope, max_value, threshold).
      double positive = x > a.threshold ? x : 0.0;
      if (std::isfinite(a.max_value)) positive = std::clamp(positive, 0.0, a.max_value);
      return positive - a.alpha * std::max(a.threshold - x, 0.0);
    }
    case ActivationKind::kThresholdedRelu:
      return x > a.alpha ? x : 0.0;
    case ActivationKind::kElu:
      return x > 0 ? x : a.alpha * std::expm1(x);
    case ActivationKind::kSelu: {
      constexpr double kScale = 1.0507009873554804934193349852946, kAlpha = 1.6732632423543772848170429916717;
      return x > 0 ? kScale * x : kScale * kAlpha * std::expm1(x);
    }
    case ActivationKind::kSigmoid:
      return Sigmoid(x);
    case ActivationKind::kHardSigmoid:
      return std::clamp(a.alpha * x + 0.5, 0.0, 1.0);
    case ActivationKind::kHardSilu:
      return x * std::clamp(a.alpha * x + 0.5, 0.0, 1.0);
    case ActivationKind::kTanh:
      return std::tanh(x);
    case ActivationKind::kSilu:
      return x * Sigmoid(x);
    case ActivationKind::kGelu:
      return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case ActivationKind::kSoftplus:
      return Softplus(x);
    case ActivationKind::kSoftsign:
      return x / (1.0 + std::abs(x));
    case ActivationKind::kExponential:
      return std::exp(x);
    case ActivationKind::kMish:
      return x * std::tanh(Softplus(x));
    case ActivationKind::kSoftmax:
      break;  // not elementwise: see Apply
  }
  return x;
}

Tensor Apply(const Activation& a, Tensor x) {
  if (a.kind == ActivationKind::kSoftmax) {
    x.data = SoftmaxRows(std::move(x.data), x.shape.back());
  } else if (a.kind != ActivationKind::kLinear) {
    for (double& v : x.data) v = Activate(a, v);
  }
  return x;
}

Tensor PRelu(const KerasLayer& layer, const Tensor& x) {
  // alpha has x's shape with shared axes of size 1: broadcast by index arithmetic.
  const Shape& alpha_shape = layer.weights.alpha.shape;
  Tensor y = x;
  for (int64_t i = 0; i < static_cast<int64_t>(y.data.size()); ++i) {
    int64_t rest = i, alpha_index = 0, alpha_stride = 1;
    for (int64_t d = static_cast<int64_t>(x.shape.size()) - 1; d >= 0; --d) {
      const int64_t coordinate = rest % x.shape[d];
      rest /= x.shape[d];
      if (alpha_shape[d] != 1) alpha_index += coordinate * alpha_stride;
      alpha_stride *= alpha_shape[d];
    }
    if (y.data[i] < 0) y.data[i] *= layer.weights.alpha.values[alpha_index];
  }
  return y;
}

Tensor Merge(const KerasLayer& layer, const std::vector<const Tensor*>& in) {
  if (layer.merge == MergeOp::kConcatenate) {
    // Row-major: concatenating on axis a joins blocks of (size of axes >= a).
    Tensor y{layer.output_shape, {}};
    int64_t outer = 1;
    for (int64_t d = 0; d < layer.axis; ++d) outer *= layer.output_shape[d];
    for (int64_t o = 0; o < outer; ++o) {
      for (const Tensor* t : in) {
        const int64_t block = Elements(t->shape) / outer;
        y.data.insert(y.data.end(), t->data.begin() + o * block, t->data.begin() + (o + 1) * block);
      }
    }
    return y;
  }
  Tensor y = *in[0];
  for (size_t k = 1; k < in.size(); ++k) {
    for (size_t i = 0; i < y.data.size(); ++i) {
      const double v = in[k]->data[i];
      switch (layer.merge) {
        case MergeOp::kAdd:
        case MergeOp::kAverage:
          y.data[i] += v;
          break;
        case MergeOp::kSubtract:
          y.data[i] -= v;
          break;
        case MergeOp::kMultiply:
          y.data[i] *= v;
          break;
        case MergeOp::kMaximum:
          y.data[i] = std::max(y.data[i], v);
          break;
        case MergeOp::kMinimum:
          y.data[i] = std::min(y.data[i], v);
          break;
        case MergeOp::kConcatenate:
          break;
      }
    }
  }
  if (layer.merge == MergeOp::kAverage) {
    for (double& v : y.data) v /= static_cast<double>(in.size());
  }
  return y;
}

Tensor Run(const KerasLayer& layer, const std::vector<const Tensor*>& in) {
  const Tensor& x = *in[0];
  switch (layer.kind) {
    case LayerKind::kConv2D:
      return Apply(layer.activation, Conv2D(layer, x));
    case LayerKind::kDepthwiseConv2D:
      return Apply(layer.activation, Depthwise(layer, x, layer.output_shape, layer.use_bias));
    case LayerKind::kSeparableConv2D:
      return Apply(layer.activation, Separable(layer, x));
    case LayerKind::kDense:
      return Apply(layer.activation, Dense(layer, x));
    case LayerKind::kBatchNorm:
      return BatchNorm(layer, x);
    case LayerKind::kActivation:
      return Apply(layer.activation, x);
    case LayerKind::kPReLU:
      return PRelu(layer, x);
    case LayerKind::kMerge:
      return Merge(layer, in);
    case LayerKind::kPool2D:
      return Pool(layer, x);
    case LayerKind::kGlobalPool2D:
      return GlobalPool(layer, x);
    case LayerKind::kZeroPadding2D:
    case LayerKind::kCropping2D:
      return Margins(layer, x);
    case LayerKind::kUpSampling2D:
      return UpSampling(layer, x);
    case LayerKind::kFlatten:  // channels-last storage is already Keras's flatten order
    case LayerKind::kReshape:
      return Tensor{layer.output_shape, x.data};
    case LayerKind::kRescaling:
      return PerChannel(
          x, [&](double v, int64_t k) { return v * At(layer.rescale_scale, k) + At(layer.rescale_offset, k); });
    case LayerKind::kNormalization:
      return PerChannel(x, [&](double v, int64_t k) {
        // Keras: (x - mean) / max(sqrt(variance), epsilon), epsilon = 1e-7.
        return (v - At(layer.weights.mean, k)) / std::max(std::sqrt(At(layer.weights.variance, k)), 1e-7);
      });
    case LayerKind::kInput:
    case LayerKind::kIdentity:
      return x;
  }
  return x;
}

}  // namespace

std::vector<double> SoftmaxRows(std::vector<double> values, int64_t width) {
  for (size_t row = 0; row + width <= values.size(); row += width) {
    double* v = &values[row];
    const double max = *std::max_element(v, v + width);
    double sum = 0;
    for (int64_t i = 0; i < width; ++i) sum += (v[i] = std::exp(v[i] - max));
    for (int64_t i = 0; i < width; ++i) v[i] /= sum;
  }
  return values;
}

absl::StatusOr<ReferenceOutput> RunKerasReference(const KerasModel& model, absl::Span<const float> pixels,
                                                  int64_t images) {
  const Shape& input_shape = model.InputShape();
  const int64_t per_image = Elements(input_shape);
  if (images < 0 || static_cast<int64_t>(pixels.size()) != images * per_image) {
    return absl::InvalidArgumentError(
        absl::StrCat("reference: got ", pixels.size(), " values for ", images, " images of ", per_image, " values"));
  }
  if (model.OutputShape().size() != 1) {
    return absl::InvalidArgumentError("reference: the model output is not a flat vector");
  }
  const int output = model.Find(model.output_layer);
  const InputTransform& transform = model.input_transform;
  ReferenceOutput result;
  result.classes = model.OutputShape()[0];
  for (int64_t image = 0; image < images; ++image) {
    std::vector<Tensor> values(model.layers.size());
    for (size_t i = 0; i < model.layers.size(); ++i) {
      const KerasLayer& layer = model.layers[i];
      if (layer.kind == LayerKind::kInput) {
        Tensor x{input_shape, {pixels.begin() + image * per_image, pixels.begin() + (image + 1) * per_image}};
        values[i] = PerChannel(x, [&](double v, int64_t k) {
          // Exact, then rounded once to float, as the pixels reach the model.
          return static_cast<double>(static_cast<float>(v * At(transform.scale, k) + At(transform.offset, k)));
        });
        continue;
      }
      std::vector<const Tensor*> in;
      for (const std::string& name : layer.inputs) in.push_back(&values[model.Find(name)]);
      values[i] = Run(layer, in);
    }
    result.outputs.insert(result.outputs.end(), values[output].data.begin(), values[output].data.end());
  }
  result.probabilities =
      model.Outputs() == OutputKind::kProbabilities ? result.outputs : SoftmaxRows(result.outputs, result.classes);
  return result;
}

}  // namespace resnet8
