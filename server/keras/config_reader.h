// Typed, checked reads of one Keras layer's `config` object, with messages
// that name the layer. Every option a LayerSpec (layer_specs.h) parses goes
// through here, so that a bad value is refused the same way everywhere.
//
//   ConfigReader config(layer_json["config"], "model.h5: layer 'conv2d' (Conv2D)", /*keras_major=*/2);
//   ASSIGN_OR_RETURN(std::array<int64_t, 2> kernel, config.Pair("kernel_size"));  // 3 or [3, 3]
//   return config.Invalid("negative epsilon");  // "model.h5: layer 'conv2d' (Conv2D): negative epsilon"
#ifndef RESNET8_SERVER_KERAS_CONFIG_READER_H_
#define RESNET8_SERVER_KERAS_CONFIG_READER_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "server/keras/model.h"

namespace resnet8 {

// object[key] when `object` is an object holding a string there, else "".
// nlohmann's value(key, "") throws for a value of another type, and a model
// file's config is untrusted input.
inline std::string StringField(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return "";
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : "";
}

class ConfigReader {
 public:
  // `config` must outlive the reader. `context` prefixes every message;
  // `keras_major` decides what version-dependent names mean (hard_sigmoid).
  ConfigReader(const nlohmann::json& config, std::string context, int keras_major);

  const std::string& context() const { return context_; }
  int keras_major() const { return keras_major_; }

  // INVALID_ARGUMENT "<context>: <what>".
  absl::Status Invalid(absl::string_view what) const;

  // Present and not null.
  bool Has(const char* key) const;
  // The value, or null when absent.
  const nlohmann::json& Get(const char* key) const;

  absl::StatusOr<std::string> String(const char* key) const;
  absl::StatusOr<std::string> StringOr(const char* key, std::string fallback) const;
  absl::StatusOr<bool> BoolOr(const char* key, bool fallback) const;
  absl::StatusOr<double> Number(const char* key) const;  // finite
  absl::StatusOr<double> NumberOr(const char* key, double fallback) const;
  absl::StatusOr<int64_t> PositiveInt(const char* key) const;  // 1 to 2^20
  absl::StatusOr<int64_t> PositiveIntOr(const char* key, int64_t fallback) const;
  // A pair such as kernel_size [3, 3]; a single integer n means [n, n] as in Keras.
  absl::StatusOr<std::array<int64_t, 2>> Pair(const char* key) const;
  absl::StatusOr<std::array<int64_t, 2>> PairOr(const char* key, std::array<int64_t, 2> fallback) const;
  // ZeroPadding2D's and Cropping2D's n, [h, w] or [[top, bottom], [left, right]],
  // as {top, bottom, left, right}.
  absl::StatusOr<std::array<int64_t, 4>> Margins(const char* key) const;
  absl::StatusOr<Padding> PaddingField() const;  // "same" or "valid" (the default)
  absl::Status RequireChannelsLast() const;      // data_format, if given
  // The last axis, as Keras configs give it: -1, or the rank (which counts the batch).
  absl::Status RequireLastAxis(const char* key, size_t rank) const;
  // A float or a list of floats (Rescaling's scale and offset, Normalization's mean).
  absl::StatusOr<std::vector<float>> Floats(const char* key, float fallback) const;
  // The `activation` option of Activation, Conv2D, Dense...: a built-in name,
  // or a serialized built-in function; absent means linear.
  absl::StatusOr<Activation> ActivationField() const;
  // A built-in activation by name ("relu", "hard_sigmoid", ...).
  absl::StatusOr<Activation> NamedActivation(const std::string& name) const;
  // The input shape an InputLayer, or the first layer of a Sequential model,
  // declares, without the batch: batch_input_shape (Keras 2), batch_shape
  // (Keras 3) or input_shape; fixed sizes, rank 1 to 3.
  absl::StatusOr<Shape> DeclaredInputShape() const;

 private:
  const nlohmann::json& config_;
  std::string context_;
  int keras_major_;
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_CONFIG_READER_H_
