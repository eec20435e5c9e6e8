#include "tests/support/keras_fixture.h"

#include <hdf5.h>

#include <algorithm>
#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace resnet8::testing {
namespace {

using nlohmann::json;

class FixtureBuilder {
 public:
  explicit FixtureBuilder(const ResNetFixtureOptions& options) : options_(options), random_(options.seed) {}

  KerasH5File Build() {
    json input = {{"class_name", "InputLayer"},
                  {"name", "input_1"},
                  {"config", {{"batch_input_shape", {nullptr, 32, 32, 3}}, {"dtype", "float32"}, {"name", "input_1"}}},
                  {"inbound_nodes", json::array()}};
    layers_.push_back(input);
    file_.layers.push_back({"input_1", {}});
    std::string x = "input_1";
    int64_t channels = 3, size = 32;
    x = Conv(x, channels, options_.widths[0], 3, 1, /*input_scale=*/1.0 / 255);
    channels = options_.widths[0];
    x = Activation(BatchNorm(x, channels));
    for (size_t s = 0; s < options_.widths.size(); ++s) {
      const int64_t width = options_.widths[s];
      const int stride = s == 0 ? 1 : 2;
      std::string y = Activation(BatchNorm(Conv(x, channels, width, 3, stride), width));
      y = Conv(y, width, width, 3, 1);
      std::string shortcut = x;
      if (stride != 1 || channels != width) shortcut = Conv(x, channels, width, 1, stride);
      y = BatchNorm(y, width);
      x = Activation(Add(shortcut, y));
      channels = width;
      size = (size + stride - 1) / stride;
    }
    const std::string pool = Name("average_pooling2d");
    layers_.push_back({{"class_name", "AveragePooling2D"},
                       {"name", pool},
                       {"config",
                        {{"name", pool},
                         {"pool_size", {size, size}},
                         {"padding", "valid"},
                         {"strides", {size, size}},
                         {"data_format", "channels_last"}}},
                       {"inbound_nodes", Inbound({x})}});
    file_.layers.push_back({pool, {}});
    const std::string flatten = Name("flatten");
    layers_.push_back({{"class_name", "Flatten"},
                       {"name", flatten},
                       {"config", {{"name", flatten}, {"data_format", "channels_last"}}},
                       {"inbound_nodes", Inbound({pool})}});
    file_.layers.push_back({flatten, {}});
    const std::string dense = Name("dense");
    layers_.push_back({{"class_name", "Dense"},
                       {"name", dense},
                       {"config", {{"name", dense}, {"units", 10}, {"activation", "softmax"}, {"use_bias", true}}},
                       {"inbound_nodes", Inbound({flatten})}});
    file_.layers.push_back(
        {dense,
         {Weight(dense, "kernel", {channels, 10}, 1.0 / std::sqrt(channels)), Weight(dense, "bias", {10}, 0.1)}});

    json config = {{"class_name", "Functional"},
                   {"config",
                    {{"name", "model"},
                     {"layers", layers_},
                     {"input_layers", {{"input_1", 0, 0}}},
                     {"output_layers", {{dense, 0, 0}}}}}};
    file_.model_config_json = config.dump();
    file_.keras_version = "2.4.0";
    file_.backend = "tensorflow";
    return file_;
  }

 private:
  // Keras numbers layers per kind: conv2d, conv2d_1, ...; the offset mimics a
  // session that had built other models before.
  std::string Name(const std::string& base) {
    const int n = counters_[base]++ + options_.name_offset;
    return n == 0 ? base : absl::StrCat(base, "_", n);
  }

  static json Inbound(const std::vector<std::string>& inputs) {
    json node = json::array();
    for (const std::string& input : inputs) node.push_back({input, 0, 0, json::object()});
    return json::array({node});
  }

  KerasWeight Weight(const std::string& layer, const std::string& role, std::vector<int64_t> shape, double stddev,
                     double mean = 0.0, bool positive = false) {
    KerasWeight weight{absl::StrCat(layer, "/", role, ":0"), shape, {}};
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::normal_distribution<float> normal(static_cast<float>(mean), static_cast<float>(stddev));
    for (int64_t i = 0; i < n; ++i) {
      float v = normal(random_);
      weight.values.push_back(positive ? std::abs(v) + 0.2f : v);
    }
    return weight;
  }

  std::string Conv(const std::string& x, int64_t in, int64_t out, int kernel, int stride, double input_scale = 1.0) {
    const std::string name = Name("conv2d");
    layers_.push_back({{"class_name", "Conv2D"},
                       {"name", name},
                       {"config",
                        {{"name", name},
                         {"filters", out},
                         {"kernel_size", {kernel, kernel}},
                         {"strides", {stride, stride}},
                         {"padding", "same"},
                         {"data_format", "channels_last"},
                         {"dilation_rate", {1, 1}},
                         {"groups", 1},
                         {"activation", "linear"},
                         {"use_bias", true}}},
                       {"inbound_nodes", Inbound({x})}});
    const double stddev = input_scale * std::sqrt(2.0 / (kernel * kernel * in));
    file_.layers.push_back(
        {name, {Weight(name, "kernel", {kernel, kernel, in, out}, stddev), Weight(name, "bias", {out}, 0.05)}});
    return name;
  }

  std::string BatchNorm(const std::string& x, int64_t channels) {
    const std::string name = Name("batch_normalization");
    layers_.push_back({{"class_name", "BatchNormalization"},
                       {"name", name},
                       {"config",
                        {{"name", name},
                         {"axis", {3}},
                         {"momentum", 0.99},
                         {"epsilon", options_.epsilon},
                         {"center", true},
                         {"scale", true}}},
                       {"inbound_nodes", Inbound({x})}});
    file_.layers.push_back({name,
                            {Weight(name, "gamma", {channels}, 0.2, 1.0), Weight(name, "beta", {channels}, 0.1),
                             Weight(name, "moving_mean", {channels}, 0.1),
                             // Small variances make the epsilon matter, as in trained models.
                             Weight(name, "moving_variance", {channels}, 0.01, 0.0, /*positive=*/true)}});
    return name;
  }

  std::string Activation(const std::string& x) {
    const std::string name = Name("activation");
    layers_.push_back({{"class_name", "Activation"},
                       {"name", name},
                       {"config", {{"name", name}, {"activation", "relu"}}},
                       {"inbound_nodes", Inbound({x})}});
    file_.layers.push_back({name, {}});
    return name;
  }

  std::string Add(const std::string& a, const std::string& b) {
    const std::string name = Name("add");
    layers_.push_back(
        {{"class_name", "Add"}, {"name", name}, {"config", {{"name", name}}}, {"inbound_nodes", Inbound({a, b})}});
    file_.layers.push_back({name, {}});
    return name;
  }

  ResNetFixtureOptions options_;
  std::mt19937 random_;
  std::map<std::string, int> counters_;
  json layers_ = json::array();
  KerasH5File file_;
};

// HDF5 handles closed on scope exit.
struct Id {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Id() {
    if (id >= 0) close(id);
  }
};

bool WriteStringsAttribute(hid_t object, const char* name, const std::vector<std::string>& values) {
  if (values.empty()) {  // as h5py writes an empty list: a zero-length float array
    hsize_t zero = 0;
    Id space{H5Screate_simple(1, &zero, nullptr), H5Sclose};
    Id attribute{H5Acreate2(object, name, H5T_IEEE_F64LE, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
    return attribute.id >= 0;
  }
  size_t width = 1;
  for (const std::string& v : values) width = std::max(width, v.size());
  std::vector<char> buffer(width * values.size(), '\0');
  for (size_t i = 0; i < values.size(); ++i) std::copy(values[i].begin(), values[i].end(), buffer.begin() + i * width);
  Id type{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(type.id, width);
  H5Tset_strpad(type.id, H5T_STR_NULLPAD);
  hsize_t count = values.size();
  Id space{H5Screate_simple(1, &count, nullptr), H5Sclose};
  Id attribute{H5Acreate2(object, name, type.id, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  return attribute.id >= 0 && H5Awrite(attribute.id, type.id, buffer.data()) >= 0;
}

bool WriteStringAttribute(hid_t object, const char* name, const std::string& value) {
  Id type{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(type.id, std::max<size_t>(value.size(), 1));
  Id space{H5Screate(H5S_SCALAR), H5Sclose};
  Id attribute{H5Acreate2(object, name, type.id, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  std::string padded = value.empty() ? std::string(1, '\0') : value;
  return attribute.id >= 0 && H5Awrite(attribute.id, type.id, padded.data()) >= 0;
}

}  // namespace

KerasH5File MakeResNetFixture(const ResNetFixtureOptions& options) { return FixtureBuilder(options).Build(); }

KerasWeight* FindWeight(KerasH5File& file, const std::string& name) {
  for (KerasLayerWeights& layer : file.layers) {
    for (KerasWeight& weight : layer.weights) {
      if (weight.name == name) return &weight;
    }
  }
  return nullptr;
}

absl::Status DeleteH5Object(const std::string& path, const std::string& object) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  Id h5{H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose};
  if (h5.id < 0 || H5Ldelete(h5.id, object.c_str(), H5P_DEFAULT) < 0) {
    return absl::InternalError(absl::StrCat("cannot delete ", object, " from ", path));
  }
  return absl::OkStatus();
}

absl::Status WriteKerasH5File(const KerasH5File& file, const std::string& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  Id h5{H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose};
  if (h5.id < 0) return absl::InternalError(absl::StrCat("cannot create ", path));
  bool ok = true;
  if (!file.model_config_json.empty()) ok &= WriteStringAttribute(h5.id, "model_config", file.model_config_json);
  ok &= WriteStringAttribute(h5.id, "keras_version", file.keras_version);
  ok &= WriteStringAttribute(h5.id, "backend", file.backend);
  Id weights{H5Gcreate2(h5.id, "model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
  std::vector<std::string> layer_names;
  for (const KerasLayerWeights& layer : file.layers) layer_names.push_back(layer.name);
  ok &= WriteStringsAttribute(weights.id, "layer_names", layer_names);
  Id create_parents{H5Pcreate(H5P_LINK_CREATE), H5Pclose};
  H5Pset_create_intermediate_group(create_parents.id, 1);
  for (const KerasLayerWeights& layer : file.layers) {
    Id group{H5Gcreate2(weights.id, layer.name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose};
    std::vector<std::string> names;
    for (const KerasWeight& weight : layer.weights) {
      names.push_back(weight.name);
      std::vector<hsize_t> dims(weight.shape.begin(), weight.shape.end());
      Id space{H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose};
      Id dataset{H5Dcreate2(group.id, weight.name.c_str(), H5T_IEEE_F32LE, space.id, create_parents.id, H5P_DEFAULT,
                            H5P_DEFAULT),
                 H5Dclose};
      ok &= dataset.id >= 0 &&
            H5Dwrite(dataset.id, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, weight.values.data()) >= 0;
    }
    ok &= WriteStringsAttribute(group.id, "weight_names", names);
  }
  return ok ? absl::OkStatus() : absl::InternalError(absl::StrCat("failed writing ", path));
}

}  // namespace resnet8::testing
