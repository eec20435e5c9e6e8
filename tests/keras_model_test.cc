#include <gtest/gtest.h>

#include <algorithm>

#include "nlohmann/json.hpp"
#include "server/keras/model.h"
#include "tests/keras_fixture.h"
#include "tests/test_support.h"

namespace resnet8 {
namespace {

using nlohmann::json;
using testing::MakeResNetFixture;

// Applies `edit` to the fixture's model_config JSON.
template <typename Edit>
KerasH5File EditConfig(KerasH5File file, Edit edit) {
  json config = json::parse(file.model_config_json);
  edit(config["config"]["layers"]);
  file.model_config_json = config.dump();
  return file;
}

json& LayerNamed(json& layers, const std::string& name) {
  for (json& layer : layers) {
    if (layer["name"] == name) return layer;
  }
  throw std::runtime_error("no layer " + name);
}

TEST(KerasModel, BuildsTheSharedModelWithShapes) {
  ASSERT_OK_AND_ASSIGN(KerasModel model, LoadKerasModel(testing::SharedModelPath()));
  EXPECT_EQ(model.layers.size(), 30u);
  EXPECT_EQ(model.input_layer, "input_1");
  EXPECT_EQ(model.output_layer, "dense");
  EXPECT_EQ(model.ParameterCount(), 78666);
  const KerasLayer& strided = model.layers[model.Find("conv2d_3")];
  EXPECT_EQ(strided.output_shape, (Shape{16, 16, 32}));
  EXPECT_EQ(strided.strides, (std::array<int64_t, 2>{2, 2}));
  EXPECT_EQ(strided.padding, Padding::kSame);
  EXPECT_EQ(model.layers[model.Find("batch_normalization")].epsilon, 0.001);
  EXPECT_EQ(model.layers[model.Find("average_pooling2d")].output_shape, (Shape{1, 1, 64}));
  EXPECT_EQ(model.layers[model.Find("dense")].activation, ActivationKind::kSoftmax);
  EXPECT_EQ(model.Consumers("activation_2").size(), 2u);  // block 2's main path and shortcut
}

TEST(KerasModel, RejectsMalformedJson) {
  KerasH5File file = MakeResNetFixture({.widths = {4}});
  file.model_config_json = file.model_config_json.substr(0, 100);
  EXPECT_STATUS(BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument,
                "m.h5: model_config is not valid JSON");
}

TEST(KerasModel, RejectsUnsupportedLayerClass) {
  KerasH5File file = EditConfig(MakeResNetFixture({.widths = {4}}), [](json& layers) {
    LayerNamed(layers, "flatten")["class_name"] = "GlobalMaxPooling2D";
  });
  EXPECT_STATUS(BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument,
                "layer 'flatten' (GlobalMaxPooling2D): unsupported layer class");
}

TEST(KerasModel, RejectsUnsupportedPadding) {
  KerasH5File file = EditConfig(MakeResNetFixture({.widths = {4}}),
                                [](json& layers) { LayerNamed(layers, "conv2d")["config"]["padding"] = "causal"; });
  EXPECT_STATUS(BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument, "unsupported padding 'causal'");
}

TEST(KerasModel, RejectsDanglingInput) {
  KerasH5File file = EditConfig(MakeResNetFixture({.widths = {4}}), [](json& layers) {
    LayerNamed(layers, "add")["inbound_nodes"][0][0][0] = "no_such_layer";
  });
  EXPECT_STATUS(BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument,
                "layer 'add' (Add): input 'no_such_layer' is not a layer defined before it");
}

TEST(KerasModel, RejectsMissingWeights) {
  KerasH5File file = MakeResNetFixture({.widths = {4}});
  for (KerasLayerWeights& layer : file.layers) {
    if (layer.name == "batch_normalization_1") layer.weights.pop_back();  // moving_variance
  }
  EXPECT_STATUS(BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument,
                "layer 'batch_normalization_1' (BatchNormalization): missing weight 'moving_variance'");
}

TEST(KerasModel, RejectsLayerWithoutStoredWeights) {
  KerasH5File file = MakeResNetFixture({.widths = {4}});
  file.layers.erase(std::remove_if(file.layers.begin(), file.layers.end(),
                                   [](const KerasLayerWeights& layer) { return layer.name == "dense"; }),
                    file.layers.end());
  EXPECT_STATUS(BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument,
                "layer 'dense' (Dense) has no stored weights");
}

TEST(KerasModel, RejectsExtraWeights) {
  KerasH5File file = MakeResNetFixture({.widths = {4}});
  for (KerasLayerWeights& layer : file.layers) {
    if (layer.name == "add") layer.weights.push_back({"add/kernel:0", {4}, {1, 2, 3, 4}});
  }
  EXPECT_STATUS(BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument,
                "layer 'add' (Add): unexpected weight 'add/kernel:0'");
}

TEST(KerasModel, RejectsWeightsOfUnknownLayer) {
  KerasH5File file = MakeResNetFixture({.widths = {4}});
  file.layers.push_back({"conv2d_99", {{"conv2d_99/kernel:0", {1}, {1}}}});
  EXPECT_STATUS(BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument,
                "weights stored for layer 'conv2d_99', which model_config does not have");
}

TEST(KerasModel, RejectsWrongWeightShape) {
  KerasH5File file = MakeResNetFixture({.widths = {4}});
  KerasWeight* kernel = testing::FindWeight(file, "conv2d_1/kernel:0");
  kernel->shape = {3, 3, 2, 8};  // same number of values, wrong layout
  EXPECT_STATUS(BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument,
                "layer 'conv2d_1' (Conv2D): weight 'conv2d_1/kernel:0' has shape [3,3,2,8], expected [3,3,4,4]");
}

TEST(KerasModel, RejectsSequentialConfig) {
  KerasH5File file = MakeResNetFixture({.widths = {4}});
  json config = json::parse(file.model_config_json);
  config["class_name"] = "Sequential";
  file.model_config_json = config.dump();
  EXPECT_STATUS(BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument,
                "model_config class 'Sequential' is not supported");
}

}  // namespace
}  // namespace resnet8
