// The preprocessing a model was trained with, which Keras files do not
// record: the model sees float32(pixel * scale + offset), computed exactly
// and rounded once, as `x / 255.0` in NumPy gives it. Set from the
// --input_scale and --input_offset flags of the server and the converter.
//
//   ASSIGN_OR_RETURN(InputTransform t, ParseInputTransformFlags("1/255", "0"));
//   t.ToString();  // "pixel * 0.00392157 + 0"
#ifndef RESNET8_SERVER_KERAS_INPUT_TRANSFORM_H_
#define RESNET8_SERVER_KERAS_INPUT_TRANSFORM_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace resnet8 {

// Each value is one number or one per input channel.
struct InputTransform {
  std::vector<double> scale{1.0};
  std::vector<double> offset{0.0};

  bool IsIdentity() const;
  // "pixel * 0.00392157 + 0" style text for logs and messages.
  std::string ToString() const;
};

// Parses a value as the flags take it: one number, "1/255", or one value per
// channel, "0.5,0.5,0.5".
absl::StatusOr<std::vector<double>> ParseInputTransformValue(const std::string& text);

// Both flags at once; messages name the flag.
absl::StatusOr<InputTransform> ParseInputTransformFlags(const std::string& scale, const std::string& offset);

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_INPUT_TRANSFORM_H_
