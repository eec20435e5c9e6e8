#include <gtest/gtest.h>

#include <algorithm>

#include "nlohmann/json.hpp"
#include "server/keras/model.h"
#include "tests/support/keras_fixture.h"
#include "tests/support/test_support.h"

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
  EXPECT_EQ(model.layers[model.Find("dense")].activation.kind, ActivationKind::kSoftmax);
  EXPECT_EQ(model.Outputs(), OutputKind::kProbabilities);
  EXPECT_EQ(model.Consumers("activation_2").size(), 2u);  // block 2's main path and shortcut
}

TEST(KerasModel, RejectsMalformedJson) {
  KerasH5File file = MakeResNetFixture({.widths = {4}});
  file.model_config_json = file.model_config_json.substr(0, 100);
  EXPECT_STATUS(BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument,
                "m.h5: model_config is not valid JSON");
}

TEST(KerasModel, RejectsUnsupportedLayerClass) {
  KerasH5File file = EditConfig(MakeResNetFixture({.widths = {4}}),
                                [](json& layers) { LayerNamed(layers, "flatten")["class_name"] = "Lambda"; });
  EXPECT_STATUS(BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument,
                "layer 'flatten' (Lambda): unsupported layer class 'Lambda' (supported: InputLayer, Conv2D");
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
  EXPECT_STATUS(
      BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument,
      "layer 'batch_normalization_1' (BatchNormalization): stores 3 weights, expected 4 (gamma [4], beta [4], "
      "moving_mean [4], moving_variance [4])");
}

TEST(KerasModel, RejectsLayerWithoutStoredWeights) {
  KerasH5File file = MakeResNetFixture({.widths = {4}});
  file.layers.erase(std::remove_if(file.layers.begin(), file.layers.end(),
                                   [](const KerasLayerWeights& layer) { return layer.name == "dense"; }),
                    file.layers.end());
  EXPECT_STATUS(BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument,
                "layer 'dense' (Dense): stores 0 weights, expected 2 (kernel [4,10], bias [10])");
}

TEST(KerasModel, RejectsExtraWeights) {
  KerasH5File file = MakeResNetFixture({.widths = {4}});
  for (KerasLayerWeights& layer : file.layers) {
    if (layer.name == "add") layer.weights.push_back({"add/kernel:0", {4}, {1, 2, 3, 4}});
  }
  EXPECT_STATUS(BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument,
                "layer 'add' (Add): stores 1 weights, expected 0 (none)");
}

TEST(KerasModel, RejectsWeightsOfUnknownLayer) {
  KerasH5File file = MakeResNetFixture({.widths = {4}});
  file.layers.push_back({"conv2d_99", {{"conv2d_99/kernel:0", {1}, {1}}}});
  EXPECT_STATUS(BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument,
                "weights stored for layer 'conv2d_99', which the model's config does not have");
}

TEST(KerasModel, RejectsWrongWeightShape) {
  KerasH5File file = MakeResNetFixture({.widths = {4}});
  KerasWeight* kernel = testing::FindWeight(file, "conv2d_1/kernel:0");
  kernel->shape = {3, 3, 2, 8};  // same number of values, wrong layout
  EXPECT_STATUS(BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument,
                "layer 'conv2d_1' (Conv2D): weight 'conv2d_1/kernel:0' has shape [3,3,2,8], expected kernel [3,3,4,4]");
}

TEST(KerasModel, RejectsUnknownModelClass) {
  KerasH5File file = MakeResNetFixture({.widths = {4}});
  json config = json::parse(file.model_config_json);
  config["class_name"] = "MyModel";
  file.model_config_json = config.dump();
  EXPECT_STATUS(BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument,
                "model_config class 'MyModel' is not supported (supported: Functional, Model, Sequential)");
}

// Found by the model_config fuzzer: a class_name of another type was an
// uncaught nlohmann type_error (a crash), not an error.
TEST(KerasModel, RejectsAClassNameThatIsNotAString) {
  KerasH5File file = MakeResNetFixture({.widths = {4}});
  json config = json::parse(file.model_config_json);
  config["class_name"] = json{{"name", "Functional"}};
  file.model_config_json = config.dump();
  EXPECT_STATUS(BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument,
                "model_config class '' is not supported");
}

TEST(KerasModel, RejectsSharedLayers) {
  KerasH5File file = EditConfig(MakeResNetFixture({.widths = {4}}), [](json& layers) {
    json& nodes = LayerNamed(layers, "conv2d")["inbound_nodes"];
    nodes.push_back(nodes[0]);
  });
  EXPECT_STATUS(BuildKerasModel(file, "m.h5"), absl::StatusCode::kInvalidArgument,
                "layer 'conv2d' (Conv2D): the layer is called more than once (shared layers are not supported)");
}

// Keras 3 writes the same graph with {"args": [__keras_tensor__ ...]} inbound
// nodes, batch_shape, dtype-policy dicts and a flat output_layers entry.
TEST(KerasModel, ReadsKeras3FunctionalConfig) {
  KerasH5File file = MakeResNetFixture({.widths = {4}});
  json config = json::parse(file.model_config_json);
  for (json& layer : config["config"]["layers"]) {
    json& layer_config = layer["config"];
    layer_config["dtype"] = {{"module", "keras"}, {"class_name", "DTypePolicy"}, {"config", {{"name", "float32"}}}};
    if (layer_config.contains("batch_input_shape")) {
      layer_config["batch_shape"] = layer_config["batch_input_shape"];
      layer_config.erase("batch_input_shape");
    }
    json args = json::array();
    for (const json& edge : layer["inbound_nodes"].empty() ? json::array() : layer["inbound_nodes"][0]) {
      json tensor = json::object();
      tensor["class_name"] = "__keras_tensor__";
      tensor["config"]["keras_history"] = json::array({edge[0], 0, 0});
      args.push_back(tensor);
    }
    if (layer["inbound_nodes"].empty()) continue;
    json node = json::object();
    node["args"] = args.size() > 1 ? json::array({args}) : args;  // a merge takes one list of tensors
    node["kwargs"] = json::object();
    layer["inbound_nodes"] = json::array({node});
  }
  config["config"]["output_layers"] = config["config"]["output_layers"][0];
  KerasH5File keras3 = file;
  keras3.model_config_json = config.dump();
  ASSERT_OK_AND_ASSIGN(KerasModel keras2_model, BuildKerasModel(file, "k2.h5"));
  ASSERT_OK_AND_ASSIGN(KerasModel keras3_model, BuildKerasModel(keras3, "k3.h5"));
  ASSERT_EQ(keras3_model.layers.size(), keras2_model.layers.size());
  for (size_t i = 0; i < keras2_model.layers.size(); ++i) {
    EXPECT_EQ(keras3_model.layers[i].inputs, keras2_model.layers[i].inputs) << keras2_model.layers[i].name;
    EXPECT_EQ(keras3_model.layers[i].output_shape, keras2_model.layers[i].output_shape);
  }
}

TEST(KerasModel, ReadsTheSharedKeras3SequentialModel) {
  ASSERT_OK_AND_ASSIGN(KerasModel model, LoadKerasModel(testing::SharedDir() + "/models/keras3_cifar10_cnn.h5"));
  EXPECT_EQ(model.keras_version, "3.4.1");
  EXPECT_EQ(model.Summary(), "9 layers: 1 InputLayer, 3 Conv2D, 2 MaxPooling2D, 1 Flatten, 2 Dense");
  EXPECT_EQ(model.Layer("flatten").output_shape, (Shape{1024}));
  EXPECT_EQ(model.Outputs(), OutputKind::kLogits);
  EXPECT_EQ(model.ParameterCount(), 122570);
}

// Older Sequential models have no InputLayer: the first layer declares the shape.
TEST(KerasModel, SequentialWithoutInputLayerTakesTheFirstLayersShape) {
  KerasH5File file;
  file.keras_version = "2.2.4";
  file.model_config_json = R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "Flatten", "config": {"name": "flatten", "batch_input_shape": [null, 2, 2, 3]}},
      {"class_name": "Dense", "config": {"name": "dense", "units": 2, "activation": "softmax",
                                         "batch_input_shape": [null, 2, 2, 3]}}]}})";
  file.layers = {
      {"flatten", {}},
      {"dense", {{"dense/kernel:0", {12, 2}, std::vector<float>(24, 0.5f)}, {"dense/bias:0", {2}, {0.0f, 1.0f}}}}};
  ASSERT_OK_AND_ASSIGN(KerasModel model, BuildKerasModel(file, "old.h5"));
  EXPECT_EQ(model.layers.size(), 3u);
  EXPECT_EQ(model.input_layer, "input");
  EXPECT_EQ(model.InputShape(), (Shape{2, 2, 3}));
  EXPECT_EQ(model.Layer("dense").inputs, std::vector<std::string>{"flatten"});
}

// A Sequential model of `layers` (JSON objects, the first declaring a 4x4x3
// input) with no weights, as a .h5 of Keras 2.
KerasH5File SequentialOf(const std::string& layers) {
  KerasH5File file;
  file.keras_version = "2.13.1";
  file.model_config_json = R"({"class_name": "Sequential", "config": {"name": "s", "layers": [)" + layers + "]}}";
  return file;
}

TEST(KerasModel, UpSampling2DRepeatsRowsAndColumnsAndRefusesBilinear) {
  ASSERT_OK_AND_ASSIGN(KerasModel model, BuildKerasModel(SequentialOf(R"(
      {"class_name": "UpSampling2D", "config": {"name": "up", "size": [2, 3], "batch_input_shape": [null, 4, 4, 3]}},
      {"class_name": "Flatten", "config": {"name": "flatten"}})"),
                                                         "up.h5"));
  EXPECT_EQ(model.Layer("up").output_shape, (Shape{8, 12, 3}));
  EXPECT_STATUS(BuildKerasModel(SequentialOf(R"(
      {"class_name": "UpSampling2D", "config": {"name": "up", "interpolation": "bilinear",
                                                 "batch_input_shape": [null, 4, 4, 3]}})"),
                                "up.h5"),
                absl::StatusCode::kInvalidArgument,
                "layer 'up' (UpSampling2D): interpolation 'bilinear' is not supported (supported: nearest)");
}

TEST(KerasModel, MaskingIsAnIdentityOnlyWhereItChangesNothing) {
  const std::string masking = R"({"class_name": "Masking", "config": {"name": "mask", "mask_value": %s,
                                                                     "batch_input_shape": [null, 4, 4, 3]}})";
  auto with_value = [&](const std::string& value) {
    std::string layer = masking;
    layer.replace(layer.find("%s"), 2, value);
    return layer;
  };
  ASSERT_OK_AND_ASSIGN(KerasModel model, BuildKerasModel(SequentialOf(with_value("0.0")), "m.h5"));
  EXPECT_EQ(model.Layer("mask").kind, LayerKind::kIdentity);
  EXPECT_STATUS(BuildKerasModel(SequentialOf(with_value("-1.0")), "m.h5"), absl::StatusCode::kInvalidArgument,
                "layer 'mask' (Masking): mask_value -1 is not supported (only 0, which changes no value)");
  // Keras's Softmax layer would read the mask.
  EXPECT_STATUS(BuildKerasModel(SequentialOf(with_value("0.0") + R"(,
      {"class_name": "Softmax", "config": {"name": "softmax"}})"),
                                "m.h5"),
                absl::StatusCode::kInvalidArgument,
                "layer 'softmax' (Softmax): a Softmax layer in a model with a Masking");
}

TEST(InputTransform, ParsesOneValueFractionsAndPerChannelLists) {
  // Kept in double: the model sees float32(pixel * (1/255)), which is x / 255 rounded once.
  ASSERT_OK_AND_ASSIGN(std::vector<double> scale, ParseInputTransformValue("1/255"));
  EXPECT_EQ(scale, std::vector<double>{1.0 / 255});
  ASSERT_OK_AND_ASSIGN(std::vector<double> offset, ParseInputTransformValue("-0.5, -0.25,0"));
  EXPECT_EQ(offset, (std::vector<double>{-0.5, -0.25, 0.0}));
  EXPECT_STATUS(ParseInputTransformValue("1/0"), absl::StatusCode::kInvalidArgument, "'1/0' is not a number");
  EXPECT_STATUS(ParseInputTransformValue("x"), absl::StatusCode::kInvalidArgument, "'x' is not a number");
}

// A Keras 3 Functional model holding a nested Sequential of weightless layers,
// with the softmax inside the nested model.
KerasH5File NestedSoftmaxModel(KerasFileFormat format) {
  const json input = {{"class_name", "InputLayer"},
                      {"name", "pixels"},
                      {"config", {{"name", "pixels"}, {"batch_shape", {nullptr, 4, 4, 3}}}},
                      {"inbound_nodes", json::array()}};
  const json nested = {
      {"class_name", "Sequential"},
      {"name", "head"},
      {"config",
       {{"name", "head"},
        {"layers",
         {{{"class_name", "InputLayer"}, {"config", {{"name", "head_input"}, {"batch_shape", {nullptr, 4, 4, 3}}}}},
          {{"class_name", "Flatten"}, {"config", {{"name", "flatten"}}}},
          {{"class_name", "Activation"}, {"config", {{"name", "softmax"}, {"activation", "softmax"}}}}}}}},
      {"inbound_nodes",
       {{{"args", {{{"class_name", "__keras_tensor__"}, {"config", {{"keras_history", {"pixels", 0, 0}}}}}}},
         {"kwargs", json::object()}}}}};
  const json root = {{"class_name", "Functional"},
                     {"config",
                      {{"name", "outer"},
                       {"layers", {input, nested}},
                       {"input_layers", {"pixels", 0, 0}},
                       {"output_layers", {"head", 0, 0}}}}};
  KerasH5File file;
  file.format = format;
  file.keras_version = "3.10.0";
  file.model_config_json = root.dump();
  return file;
}

TEST(NestedModels, InlinesANestedModelOfAKerasFile) {
  ASSERT_OK_AND_ASSIGN(KerasModel model, BuildKerasModel(NestedSoftmaxModel(KerasFileFormat::kKeras), "m.keras"));
  std::vector<std::string> names;
  for (const KerasLayer& layer : model.layers) names.push_back(layer.name);
  // The nested model's layers under its name, then the nested model itself passing their output on.
  EXPECT_EQ(names, (std::vector<std::string>{"pixels", "head/flatten", "head/softmax", "head"}));
  EXPECT_EQ(model.Layer("head/flatten").inputs, std::vector<std::string>{"pixels"});
  EXPECT_EQ(model.Layer("head").kind, LayerKind::kIdentity);
  EXPECT_EQ(model.output_layer, "head");
  EXPECT_EQ(model.OutputShape(), Shape{48});
  // The softmax inside the nested model makes the outputs probabilities.
  EXPECT_EQ(model.Outputs(), OutputKind::kProbabilities);
}

TEST(NestedModels, RefusesANestedModelOfAnH5File) {
  EXPECT_STATUS(BuildKerasModel(NestedSoftmaxModel(KerasFileFormat::kH5), "m.h5"), absl::StatusCode::kInvalidArgument,
                "layer 'head' (Sequential): nested models are supported in .keras files only");
}

}  // namespace
}  // namespace resnet8
