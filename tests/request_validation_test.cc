// Every field of a request wrong in turn, against the pure validation
// functions (the service test covers the same through gRPC for a sample).
#include "server/request_validation.h"

#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

constexpr int kClasses = 10;

v1::EvaluateRequest ValidRequest(uint32_t count) {
  v1::EvaluateRequest request;
  request.mutable_images()->set_layout(v1::PIXEL_LAYOUT_CHANNEL_PLANAR);
  request.mutable_images()->set_count(count);
  request.mutable_images()->set_pixels(std::string(count * kImageBytes, '\x7f'));
  for (uint32_t i = 0; i < count; ++i) {
    request.add_labels(i % kClasses);
    request.add_indices(100 + i);
  }
  return request;
}

TEST(RequestValidation, AcceptsAValidRequestAndViewsItsPixels) {
  const v1::EvaluateRequest request = ValidRequest(3);
  ASSERT_OK_AND_ASSIGN(ImageBatchView view, ValidateEvaluateRequest(request, kClasses, ServiceLimits{}));
  EXPECT_EQ(view.count, 3);
  EXPECT_EQ(view.layout, PixelLayout::kChannelPlanar);
  EXPECT_EQ(view.pixels.data(), reinterpret_cast<const uint8_t*>(request.images().pixels().data()));
  EXPECT_EQ(view.pixels.size(), 3u * kImageBytes);
}

TEST(RequestValidation, AcceptsInterleavedLayoutAndNoIndices) {
  v1::EvaluateRequest request = ValidRequest(2);
  request.mutable_images()->set_layout(v1::PIXEL_LAYOUT_INTERLEAVED_HWC);
  request.clear_indices();
  ASSERT_OK_AND_ASSIGN(ImageBatchView view, ValidateEvaluateRequest(request, kClasses, ServiceLimits{}));
  EXPECT_EQ(view.layout, PixelLayout::kInterleavedHwc);
}

TEST(RequestValidation, RejectsUnspecifiedAndUnknownLayouts) {
  v1::EvaluateRequest request = ValidRequest(1);
  request.mutable_images()->set_layout(v1::PIXEL_LAYOUT_UNSPECIFIED);
  EXPECT_STATUS(ValidateEvaluateRequest(request, kClasses, {}), absl::StatusCode::kInvalidArgument,
                "images.layout is 0");
  request.mutable_images()->set_layout(static_cast<v1::PixelLayout>(77));
  EXPECT_STATUS(ValidateEvaluateRequest(request, kClasses, {}), absl::StatusCode::kInvalidArgument,
                "images.layout is 77");
}

TEST(RequestValidation, RejectsAnEmptyBatch) {
  v1::EvaluateRequest request = ValidRequest(0);
  EXPECT_STATUS(ValidateEvaluateRequest(request, kClasses, {}), absl::StatusCode::kInvalidArgument,
                "images.count is 0");
}

TEST(RequestValidation, RefusesABatchAboveTheLimitAsResourceExhausted) {
  ServiceLimits limits;
  limits.max_batch_images = 2;
  EXPECT_STATUS(ValidateEvaluateRequest(ValidRequest(3), kClasses, limits), absl::StatusCode::kResourceExhausted,
                "above this server's max_batch_images of 2");
  // A huge count with no pixels is refused by the limit before any size arithmetic.
  v1::EvaluateRequest lying = ValidRequest(1);
  lying.mutable_images()->set_count(4000000000u);
  EXPECT_STATUS(ValidateEvaluateRequest(lying, kClasses, {}), absl::StatusCode::kResourceExhausted,
                "images.count is 4000000000");
}

TEST(RequestValidation, RejectsPixelsThatDoNotMatchTheCount) {
  for (int delta : {-1, 1, -static_cast<int>(kImageBytes)}) {
    v1::EvaluateRequest request = ValidRequest(2);
    request.mutable_images()->mutable_pixels()->resize(2 * kImageBytes + delta);
    EXPECT_STATUS(ValidateEvaluateRequest(request, kClasses, {}), absl::StatusCode::kInvalidArgument,
                  "needs exactly 6144");
  }
}

TEST(RequestValidation, RejectsMissingExtraAndOutOfRangeLabels) {
  v1::EvaluateRequest missing = ValidRequest(2);
  missing.mutable_labels()->RemoveLast();
  EXPECT_STATUS(ValidateEvaluateRequest(missing, kClasses, {}), absl::StatusCode::kInvalidArgument,
                "labels has 1 entries for 2 images");
  v1::EvaluateRequest extra = ValidRequest(2);
  extra.add_labels(0);
  EXPECT_STATUS(ValidateEvaluateRequest(extra, kClasses, {}), absl::StatusCode::kInvalidArgument,
                "labels has 3 entries");
  v1::EvaluateRequest out_of_range = ValidRequest(2);
  out_of_range.set_labels(1, 10);
  EXPECT_STATUS(ValidateEvaluateRequest(out_of_range, kClasses, {}), absl::StatusCode::kInvalidArgument,
                "labels[1] is 10, outside 0..9");
}

TEST(RequestValidation, RejectsIndicesThatDoNotMatchTheCount) {
  v1::EvaluateRequest request = ValidRequest(3);
  request.mutable_indices()->RemoveLast();
  EXPECT_STATUS(ValidateEvaluateRequest(request, kClasses, {}), absl::StatusCode::kInvalidArgument,
                "indices has 2 entries for 3 images");
}

TEST(RequestValidation, MaxRequestBytesFitsTheLargestValidRequest) {
  ServiceLimits limits;
  v1::EvaluateRequest largest = ValidRequest(static_cast<uint32_t>(limits.max_batch_images));
  for (auto& index : *largest.mutable_indices()) index = ~uint64_t{0};  // widest varints
  for (auto& label : *largest.mutable_labels()) label = kClasses - 1;
  EXPECT_LE(static_cast<int64_t>(largest.ByteSizeLong()), MaxRequestBytes(limits));
}

}  // namespace
}  // namespace resnet8
