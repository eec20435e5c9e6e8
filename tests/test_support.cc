#include "tests/test_support.h"

#include <cstdlib>
#include <filesystem>
#include <random>

namespace resnet8::testing {

std::string SharedDir() {
  if (const char* dir = std::getenv("RESNET8_SHARED_DIR"); dir != nullptr && dir[0] != '\0') return dir;
  return std::string(RESNET8_SOURCE_DIR) + "/../shared";
}

std::string MakeTempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string root = base != nullptr ? base : std::filesystem::temp_directory_path().string();
  std::string pattern = root + "/resnet8_test_XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  return pattern;
}

}  // namespace resnet8::testing
