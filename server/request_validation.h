// Checks of incoming requests, before any work is done, with messages that
// name the offending field. Pure functions of the request: the service calls
// them, and fuzzers and unit tests can too.
//
//   ASSIGN_OR_RETURN(ImageBatchView batch, ValidateImageBatch(request.images(), limits));
#ifndef RESNET8_SERVER_REQUEST_VALIDATION_H_
#define RESNET8_SERVER_REQUEST_VALIDATION_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/image_classifier.h"
#include "google/protobuf/io/zero_copy_stream.h"
#include "google/protobuf/message_lite.h"
#include "resnet8/v1/evaluator.pb.h"

namespace resnet8 {

struct ServiceLimits {
  // Images per ImageBatch. 1,024 images are 3 MiB of pixels, inside gRPC's
  // default 4 MiB message limit.
  int64_t max_batch_images = 1024;
  // EvaluateDataset streams open at once; one more is refused with
  // RESOURCE_EXHAUSTED rather than slowing every stream down. Each stream
  // holds at most one batch in the server, so memory stays bounded too.
  int64_t max_concurrent_streams = 32;
  // Images of Classify and ModelInfer calls (gRPC and REST) admitted and not
  // yet answered; a call that would go over is refused at once
  // (admission.h). About 1 s of work on a 2-core machine.
  int64_t max_queued_images = 4096;
};

// The largest request message the limits allow, with room for labels,
// indices and framing.
int64_t MaxRequestBytes(const ServiceLimits& limits);

// Parses one serialized request from `input` into `message` (cleared first).
// INVALID_ARGUMENT, "<what> is not a valid <type> ...", when the bytes are
// not a complete protobuf message of that type (random bytes, a truncated
// message, a valid one followed by garbage).
absl::Status ParseRequest(google::protobuf::io::ZeroCopyInputStream& input, google::protobuf::MessageLite& message,
                          absl::string_view what);

// Returns a view of the batch's pixels (valid while `batch` lives).
// RESOURCE_EXHAUSTED if count exceeds limits.max_batch_images; INVALID_ARGUMENT
// for a zero count, an unspecified or unknown layout, or a byte count that is
// not count * 3,072.
absl::StatusOr<ImageBatchView> ValidateImageBatch(const v1::ImageBatch& batch, const ServiceLimits& limits);

// Validates the batch as above, then that labels (one per image, each below
// num_classes) and indices (none, or one per image) fit it.
absl::StatusOr<ImageBatchView> ValidateEvaluateRequest(const v1::EvaluateRequest& request, int num_classes,
                                                       const ServiceLimits& limits);

}  // namespace resnet8

#endif  // RESNET8_SERVER_REQUEST_VALIDATION_H_
