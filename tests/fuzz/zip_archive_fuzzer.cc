// libFuzzer target: arbitrary bytes as a .keras archive. Opening it and
// reading every member (under a 1 MiB limit each) must return data or a
// Status for anything: never a crash, an overread or an unbounded allocation.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "server/keras/zip_archive.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace resnet8;
  // The reader takes a file, as the server does: one per fuzzing process.
  static const std::string path = [] {
    char name[] = "/tmp/zip_archive_fuzzer_XXXXXX";
    close(mkstemp(name));
    std::atexit([] { unlink(path.c_str()); });
    return std::string(name);
  }();
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ZipArchive> archive = ZipArchive::Open(path);
  if (!archive.ok()) return 0;
  for (const ZipMember& member : archive->members()) (void)archive->Read(member, 1 << 20);
  return 0;
}
