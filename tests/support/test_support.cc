#include "tests/support/test_support.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <system_error>

namespace resnet8::testing {
namespace {

// Every directory MakeTempDir hands out lives under one folder per test
// process, removed when that process exits normally. Forked children that
// exit through exit() must not remove their parent's folder, hence the pid.
struct ProcessTempRoot {
  std::string path;
  pid_t owner = 0;
};

ProcessTempRoot& TempRoot() {
  static ProcessTempRoot* root = [] {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string pattern = (base != nullptr ? std::string(base) : std::filesystem::temp_directory_path().string()) +
                          "/resnet8_test_XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    auto* made = new ProcessTempRoot{pattern, getpid()};
    std::atexit([] {
      if (getpid() != TempRoot().owner) return;
      std::error_code ignored;
      std::filesystem::remove_all(TempRoot().path, ignored);
    });
    return made;
  }();
  return *root;
}

}  // namespace

std::string SourceDir() { return RESNET8_SOURCE_DIR; }

std::string SharedDir() {
  if (const char* dir = std::getenv("RESNET8_SHARED_DIR"); dir != nullptr && dir[0] != '\0') return dir;
  return SourceDir() + "/../shared";
}

std::string MakeTempDir() {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  std::string pattern = TempRoot().path + "/XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  return pattern;
}

}  // namespace resnet8::testing
