#include "server/keras/config_reader.h"

#include <cmath>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace resnet8 {

using nlohmann::json;

ConfigReader::ConfigReader(const json& config, std::string context, int keras_major)
    : config_(config), context_(std::move(context)), keras_major_(keras_major) {}

absl::Status ConfigReader::Invalid(absl::string_view what) const {
  return absl::InvalidArgumentError(absl::StrCat(context_, ": ", what));
}

bool ConfigReader::Has(const char* key) const { return config_.contains(key) && !config_[key].is_null(); }

const json& ConfigReader::Get(const char* key) const {
  static const json kNull;
  return Has(key) ? config_[key] : kNull;
}

absl::StatusOr<std::string> ConfigReader::String(const char* key) const {
  if (!Has(key) || !config_[key].is_string()) {
    return Invalid(absl::StrCat("config field '", key, "' is missing or not a string"));
  }
  return config_[key].get<std::string>();
}

absl::StatusOr<std::string> ConfigReader::StringOr(const char* key, std::string fallback) const {
  if (!Has(key)) return fallback;
  return String(key);
}

absl::StatusOr<bool> ConfigReader::BoolOr(const char* key, bool fallback) const {
  if (!Has(key)) return fallback;
  if (!config_[key].is_boolean()) return Invalid(absl::StrCat("config field '", key, "' is not a boolean"));
  return config_[key].get<bool>();
}

absl::StatusOr<double> ConfigReader::NumberOr(const char* key, double fallback) const {
  if (!Has(key)) return fallback;
  if (!config_[key].is_number() || !std::isfinite(config_[key].get<double>())) {
    return Invalid(absl::StrCat("config field '", key, "' is not a finite number"));
  }
  return config_[key].get<double>();
}

absl::StatusOr<double> ConfigReader::Number(const char* key) const {
  if (!Has(key)) return Invalid(absl::StrCat("config field '", key, "' is missing"));
  return NumberOr(key, 0);
}

absl::StatusOr<int64_t> ConfigReader::PositiveInt(const char* key) const {
  if (!Has(key) || !config_[key].is_number_integer() || config_[key].get<int64_t>() <= 0 ||
      config_[key].get<int64_t>() > (int64_t{1} << 20)) {
    return Invalid(absl::StrCat("config field '", key, "' is missing or not a positive integer"));
  }
  return config_[key].get<int64_t>();
}

absl::StatusOr<int64_t> ConfigReader::PositiveIntOr(const char* key, int64_t fallback) const {
  if (!Has(key)) return fallback;
  return PositiveInt(key);
}

absl::StatusOr<std::array<int64_t, 2>> ConfigReader::Pair(const char* key) const {
  const json& value = Get(key);
  auto positive = [](const json& v) {
    return v.is_number_integer() && v.get<int64_t>() > 0 && v.get<int64_t>() <= 4096;
  };
  if (positive(value)) return std::array<int64_t, 2>{value.get<int64_t>(), value.get<int64_t>()};
  if (value.is_array() && value.size() == 2 && positive(value[0]) && positive(value[1])) {
    return std::array<int64_t, 2>{value[0].get<int64_t>(), value[1].get<int64_t>()};
  }
  return Invalid(absl::StrCat("config field '", key, "' is missing or not a pair of positive integers"));
}

absl::StatusOr<std::array<int64_t, 2>> ConfigReader::PairOr(const char* key, std::array<int64_t, 2> fallback) const {
  if (!Has(key)) return fallback;
  return Pair(key);
}

absl::StatusOr<std::array<int64_t, 4>> ConfigReader::Margins(const char* key) const {
  const json& value = Get(key);
  auto count = [](const json& v) { return v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= 4096; };
  if (count(value)) {
    const int64_t n = value.get<int64_t>();
    return std::array<int64_t, 4>{n, n, n, n};
  }
  if (value.is_array() && value.size() == 2) {
    if (count(value[0]) && count(value[1])) {
      const int64_t h = value[0].get<int64_t>(), w = value[1].get<int64_t>();
      return std::array<int64_t, 4>{h, h, w, w};
    }
    if (value[0].is_array() && value[1].is_array() && value[0].size() == 2 && value[1].size() == 2 &&
        count(value[0][0]) && count(value[0][1]) && count(value[1][0]) && count(value[1][1])) {
      return std::array<int64_t, 4>{value[0][0].get<int64_t>(), value[0][1].get<int64_t>(), value[1][0].get<int64_t>(),
                                    value[1][1].get<int64_t>()};
    }
  }
  return Invalid(absl::StrCat("config field '", key, "' is not n, [h, w] or [[top, bottom], [left, right]]"));
}

absl::StatusOr<Padding> ConfigReader::PaddingField() const {
  ASSIGN_OR_RETURN(std::string padding, StringOr("padding", "valid"));
  if (padding == "same") return Padding::kSame;
  if (padding == "valid") return Padding::kValid;
  return Invalid(absl::StrCat("unsupported padding '", padding, "' (supported: same, valid)"));
}

absl::Status ConfigReader::RequireChannelsLast() const {
  ASSIGN_OR_RETURN(std::string format, StringOr("data_format", "channels_last"));
  if (format != "channels_last") {
    return Invalid(absl::StrCat("unsupported data_format '", format, "' (supported: channels_last)"));
  }
  return absl::OkStatus();
}

absl::Status ConfigReader::RequireLastAxis(const char* key, size_t rank) const {
  const json& axis = Get(key);
  auto last = [&](const json& v) {
    return v.is_number_integer() && (v.get<int64_t>() == -1 || v.get<int64_t>() == static_cast<int64_t>(rank));
  };
  if (!Has(key) || last(axis) || (axis.is_array() && axis.size() == 1 && last(axis[0]))) {
    return absl::OkStatus();
  }
  return Invalid(absl::StrCat("'", key, "' ", axis.dump(), " is not supported (only the last axis, -1)"));
}

absl::StatusOr<std::vector<float>> ConfigReader::Floats(const char* key, float fallback) const {
  const json& value = Get(key);
  if (!Has(key)) return std::vector<float>{fallback};
  std::vector<float> values;
  for (const json& v : value.is_array() ? value : json::array({value})) {
    if (!v.is_number() || !std::isfinite(v.get<double>())) {
      return Invalid(absl::StrCat("config field '", key, "' is not a number or a list of numbers"));
    }
    values.push_back(v.get<float>());
  }
  if (values.empty()) return Invalid(absl::StrCat("config field '", key, "' is an empty list"));
  return values;
}

absl::StatusOr<Activation> ConfigReader::ActivationField() const {
  const json& value = Get("activation");
  std::string name = "linear";
  if (value.is_string()) {
    name = value.get<std::string>();
  } else if (value.is_object() && value.contains("config") && value["config"].is_string()) {
    name = value["config"].get<std::string>();  // a serialized built-in function
  } else if (!value.is_null()) {
    return Invalid(absl::StrCat("activation ", value.dump().substr(0, 120), " is not a built-in activation name"));
  }
  return NamedActivation(name);
}

absl::StatusOr<Activation> ConfigReader::NamedActivation(const std::string& name) const {
  static const std::map<std::string, ActivationKind> kNamed = {{"linear", ActivationKind::kLinear},
                                                               {"relu", ActivationKind::kRelu},
                                                               {"elu", ActivationKind::kElu},
                                                               {"selu", ActivationKind::kSelu},
                                                               {"sigmoid", ActivationKind::kSigmoid},
                                                               {"tanh", ActivationKind::kTanh},
                                                               {"softmax", ActivationKind::kSoftmax},
                                                               {"swish", ActivationKind::kSilu},
                                                               {"silu", ActivationKind::kSilu},
                                                               {"gelu", ActivationKind::kGelu},
                                                               {"softplus", ActivationKind::kSoftplus},
                                                               {"softsign", ActivationKind::kSoftsign},
                                                               {"exponential", ActivationKind::kExponential},
                                                               {"mish", ActivationKind::kMish},
                                                               {"hard_sigmoid", ActivationKind::kHardSigmoid},
                                                               {"hard_silu", ActivationKind::kHardSilu},
                                                               {"hard_swish", ActivationKind::kHardSilu},
                                                               {"relu6", ActivationKind::kRelu},
                                                               {"leaky_relu", ActivationKind::kRelu}};
  auto it = kNamed.find(name);
  if (it == kNamed.end()) {
    return Invalid(absl::StrCat("unsupported activation '", name,
                                "' (supported: linear, relu, relu6, leaky_relu, elu, selu, sigmoid, hard_sigmoid, "
                                "hard_silu, tanh, softmax, swish, silu, gelu, softplus, softsign, exponential, mish)"));
  }
  Activation a;
  a.kind = it->second;
  if (name == "elu") a.alpha = 1.0;
  if (name == "relu6") a.max_value = 6.0;
  if (name == "leaky_relu") a.alpha = 0.2;  // keras.activations.leaky_relu's default negative_slope
  // Keras 2 defines hard_sigmoid as clip(0.2 x + 0.5); Keras 3 as relu6(x + 3) / 6.
  if (name == "hard_sigmoid") a.alpha = keras_major_ >= 3 ? 1.0 / 6.0 : 0.2;
  if (name == "hard_silu" || name == "hard_swish") a.alpha = 1.0 / 6.0;
  return a;
}

absl::StatusOr<Shape> ConfigReader::DeclaredInputShape() const {
  const json* shape = nullptr;
  bool with_batch = true;
  for (const char* key : {"batch_input_shape", "batch_shape"}) {
    if (Has(key)) shape = &Get(key);
  }
  if (shape == nullptr && Has("input_shape")) {
    shape = &Get("input_shape");
    with_batch = false;
  }
  if (shape == nullptr) return Invalid("declares no input shape (batch_input_shape or batch_shape)");
  if (!shape->is_array() || shape->size() < (with_batch ? 2u : 1u) || shape->size() > (with_batch ? 4u : 3u) ||
      (with_batch && !(*shape)[0].is_null() && !(*shape)[0].is_number_integer())) {
    return Invalid(absl::StrCat("input shape ", shape->dump(), " is not [batch, height, width, channels]"));
  }
  Shape result;
  for (size_t i = with_batch ? 1 : 0; i < shape->size(); ++i) {
    const json& d = (*shape)[i];
    if (!d.is_number_integer() || d.get<int64_t>() <= 0 || d.get<int64_t>() > 4096) {
      return Invalid(absl::StrCat("input shape ", shape->dump(), " must have fixed, positive sizes"));
    }
    result.push_back(d.get<int64_t>());
  }
  return result;
}

}  // namespace resnet8
