// A read-only, bounded view of a zip archive, as Keras 3 writes `.keras`
// files with Python's zipfile: stored or deflated members, optional zip64
// records, no encryption.
//
//   ASSIGN_OR_RETURN(ZipArchive archive, ZipArchive::Open("model.keras"));
//   const ZipMember* config = archive.Find("config.json");
//   ASSIGN_OR_RETURN(std::string json, archive.Read(*config, 64 << 20));
//
// Nothing is ever extracted to disk: members are read into memory, so no
// member name can make a path outside the archive be written. Every number
// the archive declares is checked against the file before it is used, and
// reading a member is bounded by the caller's size limit, by an expansion
// limit against decompression bombs, and by the member's CRC-32.
#ifndef RESNET8_SERVER_KERAS_ZIP_ARCHIVE_H_
#define RESNET8_SERVER_KERAS_ZIP_ARCHIVE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace resnet8 {

// Archives with more members than this are refused: Keras writes three
// (metadata.json, config.json, model.weights.h5) plus a few assets.
inline constexpr int64_t kMaxZipMembers = 1000;
// A deflated member may expand at most this many times (DEFLATE's own limit
// is about 1032:1; real weights files compress far less), once it is larger
// than kZipExpansionFloorBytes. Past that it is treated as a zip bomb.
inline constexpr int64_t kMaxZipExpansion = 100;
inline constexpr int64_t kZipExpansionFloorBytes = int64_t{1} << 20;

struct ZipMember {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflated; others are refused when read
  uint16_t flags = 0;
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;  // uncompressed
  uint64_t local_header_offset = 0;
};

class ZipArchive {
 public:
  // Opens `path` and reads its central directory. Errors: NOT_FOUND when the
  // file does not exist; INVALID_ARGUMENT when it is not a zip archive, is
  // truncated, spans several disks, has more than `max_members` members, two
  // members of one name, or a directory entry that points outside the file.
  // Messages start with `path`.
  static absl::StatusOr<ZipArchive> Open(const std::string& path, int64_t max_members = kMaxZipMembers);

  const std::vector<ZipMember>& members() const { return members_; }
  // The member called `name` exactly, or nullptr.
  const ZipMember* Find(absl::string_view name) const;

  // Reads one member whole. INVALID_ARGUMENT, naming the member, when it is
  // larger than `max_bytes`, expands past kMaxZipExpansion, is encrypted or
  // compressed other than stored/deflated, or its data is truncated, corrupt
  // or fails the CRC-32 check. Thread-safe (pread on a shared descriptor).
  absl::StatusOr<std::string> Read(const ZipMember& member, uint64_t max_bytes) const;

 private:
  class File;
  ZipArchive(std::string path, std::shared_ptr<const File> file, std::vector<ZipMember> members);

  std::string path_;
  std::shared_ptr<const File> file_;
  std::vector<ZipMember> members_;
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_KERAS_ZIP_ARCHIVE_H_
