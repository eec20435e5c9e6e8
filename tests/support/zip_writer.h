// Writes zip archives in memory for tests: stored or deflated members, with
// the fields a test wants to get wrong left open to editing.
//
//   std::string bytes = ZipBytes({{"config.json", "{}"}, {"model.weights.h5", h5}});
//   std::string deflated = ZipBytes(members, {.deflate = true});
#ifndef RESNET8_TESTS_SUPPORT_ZIP_WRITER_H_
#define RESNET8_TESTS_SUPPORT_ZIP_WRITER_H_

#include <string>
#include <utility>
#include <vector>

namespace resnet8::testing {

struct ZipOptions {
  bool deflate = false;
  // Written in every member's central-directory entry as ZIP64 would: sizes
  // and offset set to all ones, the real ones in a zip64 extra field.
  bool zip64_fields = false;
};

using ZipMembers = std::vector<std::pair<std::string, std::string>>;  // name, contents

std::string ZipBytes(const ZipMembers& members, const ZipOptions& options = {});

}  // namespace resnet8::testing

#endif  // RESNET8_TESTS_SUPPORT_ZIP_WRITER_H_
