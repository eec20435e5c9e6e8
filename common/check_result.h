// The outcome of comparing a converted model's served path with the
// reference executor: the server's startup self-check, the converter's
// module check, and what GetModelInfo and `info` report of them.
#ifndef RESNET8_COMMON_CHECK_RESULT_H_
#define RESNET8_COMMON_CHECK_RESULT_H_

#include <cstdint>
#include <string>

namespace resnet8 {

struct CheckResult {
  bool passed = false;
  int64_t images = 0;                  // how many inputs were compared
  double max_abs_difference = 0;       // over every output of every input
  double tolerance = 0;                // what it had to be within
  std::string detail = "not run yet";  // one line for logs, GetModelInfo and `info`
};

}  // namespace resnet8

#endif  // RESNET8_COMMON_CHECK_RESULT_H_
