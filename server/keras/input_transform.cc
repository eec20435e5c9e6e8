#include "server/keras/input_transform.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace resnet8 {

bool InputTransform::IsIdentity() const {
  return std::all_of(scale.begin(), scale.end(), [](double s) { return s == 1.0; }) &&
         std::all_of(offset.begin(), offset.end(), [](double o) { return o == 0.0; });
}

std::string InputTransform::ToString() const {
  auto text = [](const std::vector<double>& values) {
    return values.size() == 1 ? absl::StrCat(values[0]) : absl::StrCat("[", absl::StrJoin(values, ", "), "]");
  };
  return absl::StrCat("pixel * ", text(scale), " + ", text(offset));
}

absl::StatusOr<std::vector<double>> ParseInputTransformValue(const std::string& text) {
  std::vector<double> values;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    part = absl::StripAsciiWhitespace(part);
    double value = 0;
    const std::vector<absl::string_view> fraction = absl::StrSplit(part, '/');
    double numerator = 0, denominator = 1;
    const bool parsed = fraction.size() == 1   ? absl::SimpleAtod(part, &value)
                        : fraction.size() == 2 ? absl::SimpleAtod(fraction[0], &numerator) &&
                                                     absl::SimpleAtod(fraction[1], &denominator) && denominator != 0
                                               : false;
    if (fraction.size() == 2) value = numerator / denominator;
    if (!parsed || !std::isfinite(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "' is not a number, a fraction such as 1/255, or a comma-separated list of them"));
    }
    values.push_back(value);
  }
  return values;
}

absl::StatusOr<InputTransform> ParseInputTransformFlags(const std::string& scale, const std::string& offset) {
  InputTransform transform;
  absl::StatusOr<std::vector<double>> values = ParseInputTransformValue(scale);
  if (!values.ok()) return absl::InvalidArgumentError(absl::StrCat("--input_scale: ", values.status().message()));
  transform.scale = *std::move(values);
  values = ParseInputTransformValue(offset);
  if (!values.ok()) return absl::InvalidArgumentError(absl::StrCat("--input_offset: ", values.status().message()));
  transform.offset = *std::move(values);
  return transform;
}

}  // namespace resnet8
