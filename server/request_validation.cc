#include "server/request_validation.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/wire.h"

namespace resnet8 {

absl::Status ParseRequest(google::protobuf::io::ZeroCopyInputStream& input, google::protobuf::MessageLite& message,
                          absl::string_view what) {
  message.Clear();
  if (!message.ParseFromZeroCopyStream(&input)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not a valid ", message.GetTypeName(), " (truncated or malformed protobuf)"));
  }
  return absl::OkStatus();
}

int64_t MaxRequestBytes(const ServiceLimits& limits) {
  // Pixels, plus up to 16 bytes per image for a label and an index, plus framing.
  return limits.max_batch_images * (kImageBytes + 16) + 4096;
}

absl::StatusOr<ImageBatchView> ValidateImageBatch(const v1::ImageBatch& batch, const ServiceLimits& limits) {
  ImageBatchView view;
  ASSIGN_OR_RETURN(view.layout, FromWireLayout(batch.layout()));
  if (batch.count() == 0) return absl::InvalidArgumentError("images.count is 0; a batch needs at least one image");
  if (batch.count() > limits.max_batch_images) {
    return absl::ResourceExhaustedError(absl::StrCat("images.count is ", batch.count(),
                                                     ", above this server's max_batch_images of ",
                                                     limits.max_batch_images, "; send smaller batches"));
  }
  const int64_t expected = static_cast<int64_t>(batch.count()) * kImageBytes;
  if (static_cast<int64_t>(batch.pixels().size()) != expected) {
    return absl::InvalidArgumentError(absl::StrCat("images.pixels has ", batch.pixels().size(), " bytes; images.count ",
                                                   batch.count(), " needs exactly ", expected, " (", kImageBytes,
                                                   " per 32x32x3 image)"));
  }
  view.count = batch.count();
  view.pixels = absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(batch.pixels().data()), batch.pixels().size());
  return view;
}

absl::StatusOr<ImageBatchView> ValidateEvaluateRequest(const v1::EvaluateRequest& request, int num_classes,
                                                       const ServiceLimits& limits) {
  ASSIGN_OR_RETURN(ImageBatchView view, ValidateImageBatch(request.images(), limits));
  if (request.labels_size() != view.count) {
    return absl::InvalidArgumentError(absl::StrCat("labels has ", request.labels_size(), " entries for ", view.count,
                                                   " images; give one label per image"));
  }
  for (int i = 0; i < request.labels_size(); ++i) {
    if (request.labels(i) >= static_cast<uint32_t>(num_classes)) {
      return absl::InvalidArgumentError(
          absl::StrCat("labels[", i, "] is ", request.labels(i), ", outside 0..", num_classes - 1));
    }
  }
  if (request.indices_size() != 0 && request.indices_size() != view.count) {
    return absl::InvalidArgumentError(absl::StrCat("indices has ", request.indices_size(), " entries for ", view.count,
                                                   " images; give one per image or none"));
  }
  return view;
}

}  // namespace resnet8
