// Admission of one-shot inference work (Classify, ModelInfer over gRPC and
// REST). The gate counts every image waiting for or in the classifier, from
// every API; a one-shot call is admitted only while that count, with its own
// images, stays within max_queued_images. A call that would go over is
// refused at once with RESOURCE_EXHAUSTED, marked as overload (IsOverload:
// REST answers 429), so that excess load costs the server nothing and the
// client knows to back off, instead of queueing without bound until memory
// or deadlines run out. An admitted call has at most max_queued_images
// images ahead of it, so its wait is bounded too.
//
// EvaluateDataset streams are admitted whole by max_concurrent_streams, and
// each holds at most one batch in the server; their batches are counted
// (Hold) but never refused, so an admitted stream is never cut off halfway.
// While streams fill the classifier, one-shot calls are refused.
//
//   AdmissionGate gate(4096);
//   ASSIGN_OR_RETURN(AdmissionGate::Ticket ticket, gate.Admit(batch.count));
//   ... classify; the ticket gives the images back when it goes ...
#ifndef RESNET8_SERVER_ADMISSION_H_
#define RESNET8_SERVER_ADMISSION_H_

#include <atomic>
#include <cstdint>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace resnet8 {

class AdmissionGate {
 public:
  // Holds `images` of the gate's capacity until destroyed; an empty ticket
  // (default-constructed) holds nothing.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept { *this = std::move(other); }
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket() { Release(); }

   private:
    friend class AdmissionGate;
    Ticket(AdmissionGate* gate, int64_t images) : gate_(gate), images_(images) {}
    void Release();
    AdmissionGate* gate_ = nullptr;
    int64_t images_ = 0;
  };

  explicit AdmissionGate(int64_t max_images) : max_images_(max_images) {}

  // A ticket for `images`, or RESOURCE_EXHAUSTED (IsOverload) naming
  // --max_queued_images when that many more would exceed it. Thread-safe.
  absl::StatusOr<Ticket> Admit(int64_t images);
  // RESOURCE_EXHAUSTED (IsOverload) naming --max_queued_images when the gate
  // is full, so that Admit() would refuse a call of any size; OK otherwise.
  // A service asks this before it reads a request, so that a flood of calls
  // it must refuse costs it neither their bodies nor their parsing. Thread-safe.
  absl::Status RefuseWhenFull();
  // Counts `images` already admitted (a batch of an admitted stream), whatever
  // the count. Thread-safe.
  Ticket Hold(int64_t images);

  int64_t admitted() const { return admitted_.load(std::memory_order_relaxed); }
  int64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  int64_t max_images() const { return max_images_; }

 private:
  // Counts a refusal and says why; `call` describes the refused call.
  absl::Status Refuse(int64_t held, absl::string_view call);

  const int64_t max_images_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> admitted_{0};  // calls, since start
  std::atomic<int64_t> refused_{0};
};

// Whether `status` is the gate's refusal (RESOURCE_EXHAUSTED for overload,
// as opposed to a request over a size limit).
bool IsOverload(const absl::Status& status);

}  // namespace resnet8

#endif  // RESNET8_SERVER_ADMISSION_H_
