// The admission gate (admission.h): what it admits, what it refuses and
// with which message, and that tickets give their images back.
#include "server/admission.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

TEST(AdmissionGate, AdmitsUpToTheLimitAndRefusesBeyondNamingIt) {
  AdmissionGate gate(10);
  ASSERT_OK_AND_ASSIGN(AdmissionGate::Ticket six, gate.Admit(6));
  ASSERT_OK_AND_ASSIGN(AdmissionGate::Ticket four, gate.Admit(4));
  const absl::Status busy = gate.Admit(1).status();
  EXPECT_STATUS(busy, absl::StatusCode::kResourceExhausted,
                "at its --max_queued_images limit (10 images queued of 10; this call has 1)");
  EXPECT_TRUE(IsOverload(busy));
  EXPECT_FALSE(IsOverload(absl::ResourceExhaustedError("above max_batch_images")));
  EXPECT_EQ(gate.admitted(), 2);
  EXPECT_EQ(gate.refused(), 1);
  {
    AdmissionGate::Ticket gone = std::move(four);  // moved, released once
  }
  ASSERT_OK_AND_ASSIGN(AdmissionGate::Ticket again, gate.Admit(4));
  EXPECT_STATUS(gate.Admit(1), absl::StatusCode::kResourceExhausted, "--max_queued_images");
}

TEST(AdmissionGate, HeldImagesAreNeverRefusedButCountAgainstCalls) {
  AdmissionGate gate(10);
  AdmissionGate::Ticket stream = gate.Hold(25);  // an admitted stream's batch, over the whole gate
  EXPECT_STATUS(gate.Admit(1), absl::StatusCode::kResourceExhausted, "25 images queued of 10");
  AdmissionGate::Ticket another = gate.Hold(3);
  stream = AdmissionGate::Ticket();  // the batch answered
  ASSERT_OK_AND_ASSIGN(AdmissionGate::Ticket call, gate.Admit(7));
  EXPECT_STATUS(gate.Admit(1), absl::StatusCode::kResourceExhausted, "10 images queued of 10");
}

TEST(AdmissionGate, ACallLargerThanTheGateRunsAlone) {
  AdmissionGate gate(8);
  {
    ASSERT_OK_AND_ASSIGN(AdmissionGate::Ticket big, gate.Admit(20));  // nothing else in flight
    EXPECT_STATUS(gate.Admit(1), absl::StatusCode::kResourceExhausted, "20 images queued of 8");
  }
  EXPECT_OK(gate.Admit(1));
}

// Asked before a request is read: refuses exactly when Admit() would refuse
// a call of any size.
TEST(AdmissionGate, AFullGateRefusesBeforeTheCallIsRead) {
  AdmissionGate gate(10);
  EXPECT_OK(gate.RefuseWhenFull());
  ASSERT_OK_AND_ASSIGN(AdmissionGate::Ticket nine, gate.Admit(9));
  EXPECT_OK(gate.RefuseWhenFull());  // one image would still fit
  ASSERT_OK_AND_ASSIGN(AdmissionGate::Ticket one, gate.Admit(1));
  const absl::Status full = gate.RefuseWhenFull();
  EXPECT_STATUS(full, absl::StatusCode::kResourceExhausted,
                "at its --max_queued_images limit (10 images queued of 10)");
  EXPECT_TRUE(IsOverload(full));
  EXPECT_EQ(gate.refused(), 1);
  one = AdmissionGate::Ticket();
  EXPECT_OK(gate.RefuseWhenFull());
}

TEST(AdmissionGate, ConcurrentCallsNeverHoldMoreThanTheLimit) {
  AdmissionGate gate(16);
  std::atomic<int64_t> held{0}, most{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        absl::StatusOr<AdmissionGate::Ticket> ticket = gate.Admit(3);
        if (!ticket.ok()) continue;
        const int64_t now = held.fetch_add(3) + 3;
        int64_t seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        held.fetch_sub(3);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_LE(most.load(), 15);  // five tickets of 3 fit in 16; a sixth never
  EXPECT_GT(gate.admitted(), 0);
  EXPECT_OK(gate.Admit(16));  // every ticket gave its images back
}

}  // namespace
}  // namespace resnet8
