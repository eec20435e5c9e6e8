// The one fake model of the unit tests and the request fuzzer: it answers
// from the first byte of each image, so a test chooses the answer by choosing
// the pixels, and it can fail or be slow on demand.
//
//   FirstByteClassifier classifier;             // first byte b -> class b % 10
//   classifier.set_delay(absl::Milliseconds(20));
//   EvaluatorServer::Start(options, classifier, FakeServedModel());
#ifndef RESNET8_TESTS_SUPPORT_FAKE_CLASSIFIER_H_
#define RESNET8_TESTS_SUPPORT_FAKE_CLASSIFIER_H_

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/image.h"
#include "common/image_classifier.h"
#include "server/served_model.h"

namespace resnet8 {

// Predicts class (first byte % 10) with probability 0.91 and 0.01 for each
// other class. A first byte of 255 makes the call fail with INTERNAL.
// Aborts if the service hands it a batch whose sizes disagree: that would be
// a bug in the service, and the fuzzer must see it as a crash.
class FirstByteClassifier final : public ImageClassifier {
 public:
  static constexpr int kClasses = 10;
  static constexpr float kHot = 0.91f, kCold = 0.01f;

  int num_classes() const override { return kClasses; }
  absl::Status Classify(const ImageBatchView& batch, absl::Span<float> probabilities) const override {
    const bool floats = !batch.values.empty();
    const size_t values = floats ? batch.values.size() : batch.pixels.size();
    if (values != static_cast<size_t>(batch.count * kImageBytes) || (floats && !batch.pixels.empty()) ||
        probabilities.size() != static_cast<size_t>(batch.count * kClasses)) {
      std::abort();
    }
    calls_.fetch_add(1);
    if (const absl::Duration pause = delay(); pause > absl::ZeroDuration()) absl::SleepFor(pause);
    for (int64_t i = 0; i < batch.count; ++i) {
      const uint8_t first = floats ? static_cast<uint8_t>(std::clamp(batch.values[i * kImageBytes], 0.0f, 255.0f))
                                   : batch.pixels[i * kImageBytes];
      if (first == 255) return absl::InternalError("fake classifier failure");
      for (int c = 0; c < kClasses; ++c) probabilities[i * kClasses + c] = c == first % kClasses ? kHot : kCold;
    }
    return absl::OkStatus();
  }

  int calls() const { return calls_.load(); }
  void set_delay(absl::Duration delay) {
    absl::MutexLock lock(&mutex_);
    delay_ = delay;
  }

 private:
  absl::Duration delay() const {
    absl::MutexLock lock(&mutex_);
    return delay_;
  }

  mutable std::atomic<int> calls_{0};
  mutable absl::Mutex mutex_;
  absl::Duration delay_ = absl::ZeroDuration();
};

// What the fake serves: sha256 "fake", classes "class0".."class9".
inline ServedModel FakeServedModel() {
  ServedModel model;
  model.file = "fake.h5";
  model.sha256 = "fake";
  for (int c = 0; c < FirstByteClassifier::kClasses; ++c) model.class_names.push_back(absl::StrCat("class", c));
  return model;
}

}  // namespace resnet8

#endif  // RESNET8_TESTS_SUPPORT_FAKE_CLASSIFIER_H_
