// Helpers shared by the tests: status assertions (Debian's Abseil has no
// status matchers) and where the read-only inputs in ../shared are.
#ifndef RESNET8_TESTS_SUPPORT_TEST_SUPPORT_H_
#define RESNET8_TESTS_SUPPORT_TEST_SUPPORT_H_

#include <gtest/gtest.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace resnet8::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// The project's source tree.
std::string SourceDir();
// The shared/ folder beside the project (RESNET8_SHARED_DIR overrides).
std::string SharedDir();
inline std::string SharedModelPath() { return SharedDir() + "/models/pretrainedResnet.h5"; }
inline std::string SharedDataDir() { return SharedDir() + "/data/cifar-10-batches-bin"; }
inline std::string SharedGoldenPath() { return SharedDir() + "/golden/keras_reference_perf200.csv"; }

// A fresh directory under the test's temporary directory ($TEST_TMPDIR or
// /tmp), inside one folder per test process that is removed at its exit.
std::string MakeTempDir();

}  // namespace resnet8::testing

// Each evaluates `expr` once, failure or not (a call with effects, such as a
// Classify, is not repeated to print its status). The switch keeps an `else`
// after the macro from binding to its `if`, as gtest's own macros do.
#define RESNET8_EXPECT_OK_IMPL_(expr, fail)                                                         \
  switch (0)                                                                                        \
  case 0:                                                                                           \
  default:                                                                                          \
    if (const ::absl::Status resnet8_ok_ = ::resnet8::testing::GetStatus(expr); resnet8_ok_.ok()) { \
    } else                                                                                          \
      fail() << #expr << ": " << resnet8_ok_
#define EXPECT_OK(expr) RESNET8_EXPECT_OK_IMPL_(expr, ADD_FAILURE)
#define ASSERT_OK(expr) RESNET8_EXPECT_OK_IMPL_(expr, GTEST_FAIL)

#define RESNET8_TEST_CONCAT_INNER_(a, b) a##b
#define RESNET8_TEST_CONCAT_(a, b) RESNET8_TEST_CONCAT_INNER_(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr)                                                                             \
  auto RESNET8_TEST_CONCAT_(statusor_, __LINE__) = (rexpr);                                                          \
  ASSERT_TRUE(RESNET8_TEST_CONCAT_(statusor_, __LINE__).ok()) << RESNET8_TEST_CONCAT_(statusor_, __LINE__).status(); \
  lhs = std::move(RESNET8_TEST_CONCAT_(statusor_, __LINE__)).value()

// Expects `expr` to fail with `code` and a message containing `substring`.
#define EXPECT_STATUS(expr, expected_code, substring)                               \
  do {                                                                              \
    const absl::Status resnet8_s_ = ::resnet8::testing::GetStatus(expr);            \
    EXPECT_EQ(resnet8_s_.code(), expected_code) << resnet8_s_;                      \
    EXPECT_NE(std::string(resnet8_s_.message()).find(substring), std::string::npos) \
        << "message '" << resnet8_s_.message() << "' lacks '" << substring << "'";  \
  } while (0)

#endif  // RESNET8_TESTS_SUPPORT_TEST_SUPPORT_H_
