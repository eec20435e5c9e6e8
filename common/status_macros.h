// Early-return helpers for absl::Status and absl::StatusOr.
//
// Debian 12's Abseil (20220623) ships neither absl/log nor status macros, so the
// project defines the two it needs, with the names used across Google code:
//
//   absl::Status LoadAll() {
//     RETURN_IF_ERROR(OpenFile());
//     ASSIGN_OR_RETURN(Model model, ParseModel());
//     ...
//   }
#ifndef RESNET8_COMMON_STATUS_MACROS_H_
#define RESNET8_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RESNET8_CONCAT_INNER_(a, b) a##b
#define RESNET8_CONCAT_(a, b) RESNET8_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function
// when it is not OK.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status resnet8_status_ = (expr);           \
    if (!resnet8_status_.ok()) return resnet8_status_; \
  } while (0)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status, else
// moves the value into `lhs` (a declaration such as `auto x` or an lvalue).
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  RESNET8_ASSIGN_OR_RETURN_IMPL_(RESNET8_CONCAT_(resnet8_statusor_, __LINE__), lhs, rexpr)

#define RESNET8_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();   \
  lhs = std::move(statusor).value()

#endif  // RESNET8_COMMON_STATUS_MACROS_H_
