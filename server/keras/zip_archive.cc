#include "server/keras/zip_archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace resnet8 {

// The open archive file, shared by copies of a ZipArchive and closed with the last.
class ZipArchive::File {
 public:
  File(int fd, uint64_t size) : fd_(fd), size_(size) {}
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File() { close(fd_); }

  uint64_t size() const { return size_; }
  // Reads exactly `count` bytes at `offset`; false when the file is shorter.
  bool ReadAt(uint64_t offset, uint64_t count, char* out) const {
    if (offset > size_ || count > size_ - offset) return false;
    while (count > 0) {
      const ssize_t n = pread(fd_, out, std::min<uint64_t>(count, 1 << 30), static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      out += n;
      offset += static_cast<uint64_t>(n);
      count -= static_cast<uint64_t>(n);
    }
    return true;
  }

 private:
  int fd_;
  uint64_t size_;
};

namespace {

constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr size_t kEndSize = 22, kZip64LocatorSize = 20, kZip64EndSize = 56;
constexpr size_t kCentralHeaderSize = 46, kLocalHeaderSize = 30;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kEncryptedFlag = 0x0001;

// Little-endian fields of zip records, read from a byte buffer whose size the
// caller has checked.
uint16_t U16(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>(b[0] | b[1] << 8);
}
uint32_t U32(const char* p) { return U16(p) | static_cast<uint32_t>(U16(p + 2)) << 16; }
uint64_t U64(const char* p) { return U32(p) | static_cast<uint64_t>(U32(p + 4)) << 32; }

// The zip64 extra field replaces, in this order, exactly those of the
// member's sizes and offset that the fixed header set to all ones.
bool ApplyZip64Extra(absl::string_view extra, bool size_max, bool compressed_max, bool offset_max, ZipMember& member) {
  while (extra.size() >= 4) {
    const uint16_t id = U16(extra.data());
    const uint16_t length = U16(extra.data() + 2);
    if (length > extra.size() - 4) return false;
    absl::string_view data = extra.substr(4, length);
    if (id == kZip64ExtraId) {
      for (auto [wanted, field] :
           {std::pair{size_max, &member.size}, std::pair{compressed_max, &member.compressed_size},
            std::pair{offset_max, &member.local_header_offset}}) {
        if (!wanted) continue;
        if (data.size() < 8) return false;
        *field = U64(data.data());
        data.remove_prefix(8);
      }
      return true;
    }
    extra.remove_prefix(4 + length);
  }
  return !(size_max || compressed_max || offset_max);  // all ones without a zip64 field
}

}  // namespace

ZipArchive::ZipArchive(std::string path, std::shared_ptr<const File> file, std::vector<ZipMember> members)
    : path_(std::move(path)), file_(std::move(file)), members_(std::move(members)) {}

absl::StatusOr<ZipArchive> ZipArchive::Open(const std::string& path, int64_t max_members) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  struct stat info;
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  auto file = std::make_shared<const File>(fd, static_cast<uint64_t>(info.st_size));
  auto corrupt = [&path](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a valid zip archive: ", what));
  };

  // The end record sits in the last 22 bytes, or before a comment of up to 64 KiB.
  const uint64_t tail_size = std::min<uint64_t>(file->size(), kEndSize + 0xFFFF);
  std::string tail(tail_size, '\0');
  if (tail_size < kEndSize || !file->ReadAt(file->size() - tail_size, tail_size, tail.data())) {
    return corrupt("too short for an end-of-central-directory record");
  }
  size_t end = std::string::npos;
  for (size_t i = tail_size - kEndSize + 1; i-- > 0;) {
    if (U32(tail.data() + i) == kEndSignature && i + kEndSize + U16(tail.data() + i + 20) <= tail_size) {
      end = i;
      break;
    }
  }
  if (end == std::string::npos) return corrupt("no end-of-central-directory record (truncated?)");
  const uint64_t end_offset = file->size() - tail_size + end;
  const char* record = tail.data() + end;
  if (U16(record + 4) != 0 || U16(record + 6) != 0)
    return corrupt("archives split over several disks are not supported");
  uint64_t entries = U16(record + 10);
  uint64_t directory_size = U32(record + 12);
  uint64_t directory_offset = U32(record + 16);
  uint64_t directory_end = end_offset;
  if (entries == 0xFFFF || directory_size == 0xFFFFFFFF || directory_offset == 0xFFFFFFFF) {
    char locator[kZip64LocatorSize], zip64_end[kZip64EndSize];
    if (end_offset < kZip64LocatorSize || !file->ReadAt(end_offset - kZip64LocatorSize, kZip64LocatorSize, locator) ||
        U32(locator) != kZip64LocatorSignature) {
      return corrupt("the end record needs a zip64 record, and there is none");
    }
    const uint64_t zip64_offset = U64(locator + 8);
    if (!file->ReadAt(zip64_offset, kZip64EndSize, zip64_end) || U32(zip64_end) != kZip64EndSignature ||
        zip64_offset + kZip64EndSize > end_offset - kZip64LocatorSize) {
      return corrupt("the zip64 end record is missing or outside the file");
    }
    entries = U64(zip64_end + 32);
    directory_size = U64(zip64_end + 40);
    directory_offset = U64(zip64_end + 48);
    directory_end = zip64_offset;
  }
  if (entries > static_cast<uint64_t>(max_members)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the archive has ", entries, " members, more than the limit of ", max_members));
  }
  if (directory_offset > directory_end || directory_size != directory_end - directory_offset) {
    return corrupt("the central directory is not where the end record says (truncated or prefixed?)");
  }
  std::string directory(directory_size, '\0');
  if (!file->ReadAt(directory_offset, directory_size, directory.data()))
    return corrupt("cannot read the central directory");

  std::vector<ZipMember> members;
  std::set<std::string> names;
  size_t at = 0;
  for (uint64_t i = 0; i < entries; ++i) {
    if (directory.size() - at < kCentralHeaderSize || U32(directory.data() + at) != kCentralHeaderSignature) {
      return corrupt(absl::StrCat("central directory entry ", i, " is malformed"));
    }
    const char* header = directory.data() + at;
    const size_t name_length = U16(header + 28), extra_length = U16(header + 30), comment_length = U16(header + 32);
    if (directory.size() - at - kCentralHeaderSize < name_length + extra_length + comment_length) {
      return corrupt(absl::StrCat("central directory entry ", i, " runs past the directory"));
    }
    ZipMember member;
    member.flags = U16(header + 8);
    member.method = U16(header + 10);
    member.crc32 = U32(header + 16);
    member.compressed_size = U32(header + 20);
    member.size = U32(header + 24);
    member.local_header_offset = U32(header + 42);
    member.name.assign(header + kCentralHeaderSize, name_length);
    const absl::string_view extra(header + kCentralHeaderSize + name_length, extra_length);
    if (!ApplyZip64Extra(extra, member.size == 0xFFFFFFFF, member.compressed_size == 0xFFFFFFFF,
                         member.local_header_offset == 0xFFFFFFFF, member)) {
      return corrupt(absl::StrCat("member '", member.name, "' has a malformed zip64 field"));
    }
    if (member.local_header_offset > directory_offset ||
        member.compressed_size > directory_offset - member.local_header_offset) {
      return corrupt(absl::StrCat("member '", member.name, "' points outside the archive's data"));
    }
    if (!names.insert(member.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": two members are called '", member.name, "'"));
    }
    members.push_back(std::move(member));
    at += kCentralHeaderSize + name_length + extra_length + comment_length;
  }
  return ZipArchive(path, std::move(file), std::move(members));
}

const ZipMember* ZipArchive::Find(absl::string_view name) const {
  for (const ZipMember& member : members_) {
    if (member.name == name) return &member;
  }
  return nullptr;
}

absl::StatusOr<std::string> ZipArchive::Read(const ZipMember& member, uint64_t max_bytes) const {
  auto invalid = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": member '", member.name, "' ", what));
  };
  if (member.flags & kEncryptedFlag) return invalid("is encrypted");
  if (member.method != 0 && member.method != Z_DEFLATED) {
    return invalid(absl::StrCat("uses compression method ", member.method, " (supported: stored, deflated)"));
  }
  if (member.size > max_bytes) {
    return invalid(absl::StrCat("declares ", member.size, " bytes, more than the limit of ", max_bytes));
  }
  if (member.size > static_cast<uint64_t>(kZipExpansionFloorBytes) &&
      member.size / kMaxZipExpansion > member.compressed_size) {
    return invalid(absl::StrCat("declares ", member.size, " bytes from ", member.compressed_size,
                                " compressed: more than ", kMaxZipExpansion, ":1, a zip bomb"));
  }
  if (member.method == 0 && member.compressed_size != member.size) {
    return invalid("is stored uncompressed but its two sizes differ");
  }
  // The local header repeats the name, with an extra field of its own length.
  char local[kLocalHeaderSize];
  if (!file_->ReadAt(member.local_header_offset, kLocalHeaderSize, local) || U32(local) != kLocalHeaderSignature) {
    return invalid("has no local header where the directory says (corrupt archive)");
  }
  const uint64_t data_offset = member.local_header_offset + kLocalHeaderSize + U16(local + 26) + U16(local + 28);
  if (data_offset > file_->size() || member.compressed_size > file_->size() - data_offset) {
    return invalid("is truncated: its data runs past the end of the file");
  }

  // One spare byte shows a deflate stream that would run past its declared size.
  std::string data(member.size + 1, '\0');
  uint64_t produced = 0;
  if (member.method == 0) {
    if (!file_->ReadAt(data_offset, member.size, data.data())) return invalid("cannot be read");
    produced = member.size;
  } else {
    z_stream stream{};
    if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) return absl::InternalError("zlib: inflateInit2 failed");
    std::string chunk(std::min<uint64_t>(member.compressed_size, 1 << 20), '\0');
    uint64_t consumed = 0;
    int result = Z_OK;
    while (result != Z_STREAM_END && produced < data.size()) {
      if (stream.avail_in == 0) {
        const uint64_t count = std::min<uint64_t>(chunk.size(), member.compressed_size - consumed);
        if (count == 0 || !file_->ReadAt(data_offset + consumed, count, chunk.data())) break;
        consumed += count;
        stream.next_in = reinterpret_cast<Bytef*>(chunk.data());
        stream.avail_in = static_cast<uInt>(count);
      }
      // zlib counts in 32 bits: at most 1 GiB of room per call.
      stream.next_out = reinterpret_cast<Bytef*>(data.data() + produced);
      stream.avail_out = static_cast<uInt>(std::min<uint64_t>(data.size() - produced, 1 << 30));
      result = inflate(&stream, Z_NO_FLUSH);
      produced = static_cast<uint64_t>(reinterpret_cast<char*>(stream.next_out) - data.data());
      if (result == Z_BUF_ERROR && stream.avail_in == 0) continue;  // wants more input
      if (result != Z_OK && result != Z_STREAM_END) break;
    }
    inflateEnd(&stream);
    if (produced > member.size) {
      return invalid(absl::StrCat("inflates to more than its declared ", member.size, " bytes"));
    }
    if (result != Z_STREAM_END || produced != member.size) {
      return invalid(
          absl::StrCat("is corrupt or truncated: its deflated data gave ", produced, " of ", member.size, " bytes"));
    }
  }
  data.resize(produced);
  uLong crc = crc32(0L, Z_NULL, 0);
  for (uint64_t at = 0; at < data.size(); at += 1 << 30) {
    const uint64_t count = std::min<uint64_t>(data.size() - at, 1 << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data() + at), static_cast<uInt>(count));
  }
  if (crc != member.crc32) return invalid("fails its CRC-32 check (corrupt archive)");
  return data;
}

}  // namespace resnet8
