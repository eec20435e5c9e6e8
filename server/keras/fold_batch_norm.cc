#include "server/keras/fold_batch_norm.h"

#include <cmath>
#include <vector>

namespace resnet8 {

KerasModel FoldBatchNorm(KerasModel model) {
  for (KerasLayer& bn : model.layers) {
    if (bn.kind != LayerKind::kBatchNorm) continue;
    const int producer_index = model.Find(bn.inputs[0]);
    KerasLayer& producer = model.layers[producer_index];
    const bool foldable = (producer.kind == LayerKind::kConv2D || producer.kind == LayerKind::kDepthwiseConv2D ||
                           producer.kind == LayerKind::kSeparableConv2D || producer.kind == LayerKind::kDense) &&
                          producer.activation.kind == ActivationKind::kLinear &&
                          model.Consumers(producer.name).size() == 1 && producer.name != model.output_layer;
    if (!foldable) continue;

    const BoundWeights& w = bn.weights;
    const int64_t channels = bn.output_shape.back();
    std::vector<double> gain(channels), shift(channels);
    for (int64_t o = 0; o < channels; ++o) {
      const double gamma = bn.scale ? w.gamma.values[o] : 1.0;
      const double beta = bn.center ? w.beta.values[o] : 0.0;
      gain[o] = gamma / std::sqrt(static_cast<double>(w.moving_variance.values[o]) + bn.epsilon);
      const double bias = producer.use_bias ? producer.weights.bias.values[o] : 0.0;
      shift[o] = (bias - w.moving_mean.values[o]) * gain[o] + beta;
    }
    // Every kernel layout keeps the output channel last: HWIO, Dense [in, units],
    // depthwise [kh, kw, in, multiplier] (channel c * multiplier + m is its
    // flat index mod in * multiplier), pointwise [1, 1, in, filters].
    KerasWeight& kernel =
        producer.kind == LayerKind::kSeparableConv2D ? producer.weights.pointwise_kernel : producer.weights.kernel;
    for (size_t i = 0; i < kernel.values.size(); ++i) {
      kernel.values[i] = static_cast<float>(kernel.values[i] * gain[i % channels]);
    }
    producer.weights.bias.name = producer.name + "/bias (folded)";
    producer.weights.bias.shape = {channels};
    producer.weights.bias.values.assign(channels, 0.0f);
    for (int64_t o = 0; o < channels; ++o) producer.weights.bias.values[o] = static_cast<float>(shift[o]);
    producer.use_bias = true;

    bn.kind = LayerKind::kIdentity;
    bn.class_name = "BatchNormalization (folded)";
    bn.weights = BoundWeights{};
  }
  return model;
}

}  // namespace resnet8
