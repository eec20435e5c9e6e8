// The .keras reader's naming of weight groups, which must be Keras's own:
// saving_lib finds a layer's variables by its class name in snake_case.
// (Archives themselves are read in keras_archive_test.sh, the layer fixtures'
// tests and the model fuzz test, from files written with Python's zipfile and
// h5py as Keras writes them.)
#include "server/keras/keras_archive.h"

#include <gtest/gtest.h>

namespace resnet8 {
namespace {

TEST(KerasSnakeCase, GivesWhatKerasToSnakeCaseGives) {
  // The right-hand sides were printed by keras.src.utils.naming.to_snake_case's
  // three regular expressions, run in Python (tests/fixtures/keras_archive.py).
  const std::pair<const char*, const char*> kCases[] = {
      {"Conv2D", "conv2d"},
      {"BatchNormalization", "batch_normalization"},
      {"PReLU", "p_re_lu"},
      {"ReLU", "re_lu"},
      {"ELU", "elu"},
      {"LeakyReLU", "leaky_re_lu"},
      {"ThresholdedReLU", "thresholded_re_lu"},
      {"GlobalAveragePooling2D", "global_average_pooling2d"},
      {"DepthwiseConv2D", "depthwise_conv2d"},
      {"SeparableConv2D", "separable_conv2d"},
      {"InputLayer", "input_layer"},
      {"MaxPooling2D", "max_pooling2d"},
      {"AvgPool2D", "avg_pool2d"},
      {"ZeroPadding2D", "zero_padding2d"},
      {"SpatialDropout2D", "spatial_dropout2d"},
      {"Conv2DTranspose", "conv2d_transpose"},
      {"UpSampling2D", "up_sampling2d"},
      {"ABCDef", "abc_def"},
      {"HTTPServerError", "http_server_error"},
      {"my-Layer.V2", "my_layer_v2"},
  };
  for (const auto& [class_name, snake] : kCases) EXPECT_EQ(KerasSnakeCase(class_name), snake) << class_name;
}

}  // namespace
}  // namespace resnet8
