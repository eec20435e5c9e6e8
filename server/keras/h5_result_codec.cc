#include "server/keras/h5_result_codec.h"

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace resnet8 {
namespace {

class Encoder {
 public:
  void U64(uint64_t value) { bytes_.append(reinterpret_cast<const char*>(&value), sizeof(value)); }
  void String(const std::string& value) {
    U64(value.size());
    bytes_.append(value);
  }
  void Floats(const std::vector<float>& values) {
    U64(values.size());
    bytes_.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  }
  std::string Take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

class Decoder {
 public:
  explicit Decoder(const std::string& bytes) : bytes_(bytes) {}
  bool U64(uint64_t* value) { return Take(value, sizeof(*value)); }
  bool String(std::string* value) {
    uint64_t size;
    if (!U64(&size) || size > Remaining()) return false;
    value->assign(bytes_.data() + offset_, size);
    offset_ += size;
    return true;
  }
  bool Floats(std::vector<float>* values) {
    uint64_t count;
    if (!U64(&count) || count > Remaining() / sizeof(float)) return false;
    values->resize(count);
    return Take(values->data(), count * sizeof(float));
  }
  bool AtEnd() const { return offset_ == bytes_.size(); }

 private:
  size_t Remaining() const { return bytes_.size() - offset_; }
  bool Take(void* out, size_t size) {
    if (size > Remaining()) return false;
    std::memcpy(out, bytes_.data() + offset_, size);
    offset_ += size;
    return true;
  }

  const std::string& bytes_;
  size_t offset_ = 0;
};

}  // namespace

std::string EncodeKerasH5Result(const absl::StatusOr<KerasH5File>& result) {
  Encoder out;
  out.U64(static_cast<uint64_t>(result.status().code()));
  out.String(std::string(result.status().message()));
  if (!result.ok()) return out.Take();
  out.String(result->model_config_json);
  out.String(result->keras_version);
  out.String(result->backend);
  out.U64(result->layers.size());
  for (const KerasLayerWeights& layer : result->layers) {
    out.String(layer.name);
    out.String(layer.recorded_name);
    out.U64(layer.weights.size());
    for (const KerasWeight& weight : layer.weights) {
      out.String(weight.name);
      out.U64(weight.shape.size());
      for (int64_t dim : weight.shape) out.U64(static_cast<uint64_t>(dim));
      out.Floats(weight.values);
    }
  }
  return out.Take();
}

absl::StatusOr<KerasH5File> DecodeKerasH5Result(const std::string& bytes, const std::string& source) {
  const absl::Status garbled =
      absl::InternalError(absl::StrCat(source, ": the HDF5 reader program returned a garbled result"));
  Decoder in(bytes);
  uint64_t code;
  std::string message;
  if (!in.U64(&code) || !in.String(&message) || code > 16) return garbled;
  if (code != 0) return absl::Status(static_cast<absl::StatusCode>(code), message);
  KerasH5File file;
  uint64_t layer_count;
  if (!in.String(&file.model_config_json) || !in.String(&file.keras_version) || !in.String(&file.backend) ||
      !in.U64(&layer_count) || layer_count > bytes.size()) {
    return garbled;
  }
  file.layers.resize(layer_count);
  for (KerasLayerWeights& layer : file.layers) {
    uint64_t weight_count;
    if (!in.String(&layer.name) || !in.String(&layer.recorded_name) || !in.U64(&weight_count) ||
        weight_count > bytes.size()) {
      return garbled;
    }
    layer.weights.resize(weight_count);
    for (KerasWeight& weight : layer.weights) {
      uint64_t rank;
      if (!in.String(&weight.name) || !in.U64(&rank) || rank > 8) return garbled;
      weight.shape.resize(rank);
      for (int64_t& dim : weight.shape) {
        uint64_t value;
        if (!in.U64(&value)) return garbled;
        dim = static_cast<int64_t>(value);
      }
      if (!in.Floats(&weight.values)) return garbled;
    }
  }
  if (!in.AtEnd()) return garbled;
  return file;
}

}  // namespace resnet8
