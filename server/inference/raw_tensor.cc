#include "server/inference/raw_tensor.h"

#include <cstdint>
#include <cstring>

namespace resnet8 {

void AppendRawBytesElement(absl::string_view element, std::string* raw) {
  const uint32_t size = static_cast<uint32_t>(element.size());
  for (int shift = 0; shift < 32; shift += 8) raw->push_back(static_cast<char>((size >> shift) & 0xff));
  raw->append(element.data(), element.size());
}

std::string RawOfTypedOutput(const inference::ModelInferResponse::InferOutputTensor& output) {
  std::string raw;
  if (output.datatype() == "FP32") {
    const auto& values = output.contents().fp32_contents();
    raw.resize(values.size() * sizeof(float));
    if (!raw.empty()) std::memcpy(raw.data(), values.data(), raw.size());
    return raw;
  }
  for (const std::string& element : output.contents().bytes_contents()) AppendRawBytesElement(element, &raw);
  return raw;
}

std::vector<float> Fp32ElementsOfRaw(absl::string_view raw) {
  std::vector<float> values(raw.size() / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), raw.data(), values.size() * sizeof(float));
  return values;
}

std::vector<std::string> BytesElementsOfRaw(absl::string_view raw) {
  std::vector<std::string> elements;
  for (size_t at = 0; at + 4 <= raw.size();) {
    uint32_t size = 0;
    for (int i = 0; i < 4; ++i) size |= static_cast<uint32_t>(static_cast<unsigned char>(raw[at + i])) << (8 * i);
    if (size > raw.size() - at - 4) break;
    elements.emplace_back(raw.substr(at + 4, size));
    at += 4 + size;
  }
  return elements;
}

}  // namespace resnet8
