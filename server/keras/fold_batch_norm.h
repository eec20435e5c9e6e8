// Folds each BatchNormalization into the convolution or Dense layer before
// it, as a rewrite of the Keras graph: for output channel o,
//   w'[..., o] = w[..., o] * g[o],  b'[o] = (b[o] - mean[o]) * g[o] + beta[o],
//   g = gamma / sqrt(moving_variance + epsilon),
// computed in double precision; the BatchNormalization becomes an identity.
// Inference gives the same results up to float rounding with one pass fewer
// over the activations per folded layer.
//
// A BatchNormalization is folded only where that is exact: its input is a
// Conv2D, DepthwiseConv2D, SeparableConv2D or Dense layer with a linear
// activation whose only consumer it is, and it normalizes the last axis.
//
//   KerasModel served = FoldBatchNorm(model);  // the server's fast path
#ifndef RESNET8_SERVER_KERAS_FOLD_BATCH_NORM_H_
#define RESNET8_SERVER_KERAS_FOLD_BATCH_NORM_H_

#include "server/keras/model.h"

namespace resnet8 {

// Returns the folded copy; `model` is unchanged. Folded layers keep their
// names, with kind kIdentity and class_name "BatchNormalization (folded)".
KerasModel FoldBatchNorm(KerasModel model);

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_FOLD_BATCH_NORM_H_
