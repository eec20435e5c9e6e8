#include "server/admission.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace resnet8 {
namespace {

// The payload that marks a refusal as overload.
constexpr char kOverloadPayload[] = "type.resnet8/overload";

}  // namespace

AdmissionGate::Ticket& AdmissionGate::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    Release();
    gate_ = std::exchange(other.gate_, nullptr);
    images_ = other.images_;
  }
  return *this;
}

void AdmissionGate::Ticket::Release() {
  if (gate_ != nullptr) gate_->in_flight_.fetch_sub(images_, std::memory_order_acq_rel);
  gate_ = nullptr;
}

absl::Status AdmissionGate::Refuse(int64_t held, absl::string_view call) {
  refused_.fetch_add(1, std::memory_order_relaxed);
  absl::Status busy =
      absl::ResourceExhaustedError(absl::StrCat("the server is at its --max_queued_images limit (", held,
                                                " images queued of ", max_images_, call, "): retry later"));
  busy.SetPayload(kOverloadPayload, absl::Cord("1"));
  return busy;
}

absl::Status AdmissionGate::RefuseWhenFull() {
  const int64_t held = in_flight_.load(std::memory_order_relaxed);
  return held >= max_images_ ? Refuse(held, "") : absl::OkStatus();
}

absl::StatusOr<AdmissionGate::Ticket> AdmissionGate::Admit(int64_t images) {
  int64_t held = in_flight_.load(std::memory_order_relaxed);
  do {
    // A call larger than the whole gate is admitted when nothing else is in
    // flight, so that no valid request (within max_batch_images) can never run.
    if (held > 0 && held + images > max_images_) return Refuse(held, absl::StrCat("; this call has ", images));
  } while (!in_flight_.compare_exchange_weak(held, held + images, std::memory_order_acq_rel));
  admitted_.fetch_add(1, std::memory_order_relaxed);
  return Ticket(this, images);
}

AdmissionGate::Ticket AdmissionGate::Hold(int64_t images) {
  in_flight_.fetch_add(images, std::memory_order_acq_rel);
  return Ticket(this, images);
}

bool IsOverload(const absl::Status& status) {
  return status.code() == absl::StatusCode::kResourceExhausted && status.GetPayload(kOverloadPayload).has_value();
}

}  // namespace resnet8
