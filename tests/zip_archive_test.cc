// The bounded zip reader: what Python's zipfile writes reads back exactly,
// and every way an archive can be broken or hostile gives a clear error.
#include "server/keras/zip_archive.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/test_support.h"
#include "tests/support/zip_writer.h"

namespace resnet8 {
namespace {

using testing::ZipBytes;

std::string WriteFile(const std::string& bytes) {
  static int count = 0;
  const std::string path = testing::MakeTempDir() + "/archive" + std::to_string(count++) + ".zip";
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

const testing::ZipMembers kMembers = {{"metadata.json", R"({"keras_version": "3.10.0"})"},
                                      {"config.json", std::string(5000, '{')},
                                      {"model.weights.h5", std::string("\x89HDF\r\n\x1a\n") + std::string(3000, 'w')}};

void ExpectReadsBack(const std::string& bytes) {
  ASSERT_OK_AND_ASSIGN(ZipArchive archive, ZipArchive::Open(WriteFile(bytes)));
  ASSERT_EQ(archive.members().size(), kMembers.size());
  for (const auto& [name, contents] : kMembers) {
    const ZipMember* member = archive.Find(name);
    ASSERT_NE(member, nullptr) << name;
    ASSERT_OK_AND_ASSIGN(std::string read, archive.Read(*member, 1 << 20));
    EXPECT_EQ(read, contents) << name;
  }
  EXPECT_EQ(archive.Find("assets/none"), nullptr);
}

TEST(ZipArchive, ReadsStoredMembers) { ExpectReadsBack(ZipBytes(kMembers)); }

TEST(ZipArchive, ReadsDeflatedMembers) { ExpectReadsBack(ZipBytes(kMembers, {.deflate = true})); }

TEST(ZipArchive, ReadsZip64SizesAndOffsets) { ExpectReadsBack(ZipBytes(kMembers, {.zip64_fields = true})); }

TEST(ZipArchive, MissingFileIsNotFound) {
  EXPECT_STATUS(ZipArchive::Open("/nonexistent/m.keras"), absl::StatusCode::kNotFound, "/nonexistent/m.keras");
}

TEST(ZipArchive, RefusesWhatIsNotAZip) {
  const std::string path = WriteFile("\x89HDF\r\n\x1a\n and then some bytes that are not a zip archive at all");
  EXPECT_STATUS(ZipArchive::Open(path), absl::StatusCode::kInvalidArgument, "not a valid zip archive");
}

TEST(ZipArchive, RefusesATruncatedArchive) {
  const std::string bytes = ZipBytes(kMembers);
  EXPECT_STATUS(ZipArchive::Open(WriteFile(bytes.substr(0, bytes.size() - 30))), absl::StatusCode::kInvalidArgument,
                "not a valid zip archive");
  // Cut inside the data, with the directory kept: the member's data runs past where the directory starts.
  const std::string cut = bytes.substr(0, 200) + bytes.substr(bytes.size() - 200);
  EXPECT_EQ(ZipArchive::Open(WriteFile(cut)).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ZipArchive, RefusesAMemberThatFailsItsCrc) {
  std::string bytes = ZipBytes(kMembers);
  bytes[bytes.find("{{{{") + 10] = 'x';
  ASSERT_OK_AND_ASSIGN(ZipArchive archive, ZipArchive::Open(WriteFile(bytes)));
  EXPECT_STATUS(archive.Read(*archive.Find("config.json"), 1 << 20), absl::StatusCode::kInvalidArgument,
                "member 'config.json' fails its CRC-32 check");
}

TEST(ZipArchive, RefusesCorruptDeflatedData) {
  std::string bytes = ZipBytes(kMembers, {.deflate = true});
  const size_t data = bytes.find("model.weights.h5") + 16;  // the local header's name, then the data
  for (size_t i = data; i < data + 8; ++i) bytes[i] = static_cast<char>(0xFF);
  ASSERT_OK_AND_ASSIGN(ZipArchive archive, ZipArchive::Open(WriteFile(bytes)));
  EXPECT_STATUS(archive.Read(*archive.Find("model.weights.h5"), 1 << 20), absl::StatusCode::kInvalidArgument,
                "member 'model.weights.h5'");
}

TEST(ZipArchive, RefusesMoreMembersThanTheLimit) {
  testing::ZipMembers many;
  for (int i = 0; i < 11; ++i) many.push_back({"assets/" + std::to_string(i), "x"});
  EXPECT_STATUS(ZipArchive::Open(WriteFile(ZipBytes(many)), 10), absl::StatusCode::kInvalidArgument,
                "11 members, more than the limit of 10");
}

TEST(ZipArchive, RefusesTwoMembersOfOneName) {
  EXPECT_STATUS(ZipArchive::Open(WriteFile(ZipBytes({{"config.json", "{}"}, {"config.json", "[]"}}))),
                absl::StatusCode::kInvalidArgument, "two members are called 'config.json'");
}

TEST(ZipArchive, RefusesAMemberLargerThanTheCallersLimit) {
  ASSERT_OK_AND_ASSIGN(ZipArchive archive, ZipArchive::Open(WriteFile(ZipBytes(kMembers))));
  EXPECT_STATUS(archive.Read(*archive.Find("config.json"), 4999), absl::StatusCode::kInvalidArgument,
                "member 'config.json' declares 5000 bytes, more than the limit of 4999");
}

TEST(ZipArchive, RefusesAZipBomb) {
  // 8 MiB of zeros deflate about 1000:1.
  ASSERT_OK_AND_ASSIGN(
      ZipArchive archive,
      ZipArchive::Open(WriteFile(ZipBytes({{"model.weights.h5", std::string(8 << 20, '\0')}}, {.deflate = true}))));
  EXPECT_STATUS(archive.Read(archive.members()[0], 1 << 30), absl::StatusCode::kInvalidArgument, "a zip bomb");
}

TEST(ZipArchive, RefusesAStreamThatInflatesPastItsDeclaredSize) {
  std::string bytes = ZipBytes({{"config.json", std::string(4000, 'a')}}, {.deflate = true});
  // The central directory's uncompressed size (offset 24 in its entry) says 1000.
  const size_t entry = bytes.find(std::string("PK\x01\x02", 4));
  bytes[entry + 24] = static_cast<char>(1000 & 0xFF);
  bytes[entry + 25] = static_cast<char>(1000 >> 8);
  ASSERT_OK_AND_ASSIGN(ZipArchive archive, ZipArchive::Open(WriteFile(bytes)));
  EXPECT_STATUS(archive.Read(archive.members()[0], 1 << 20), absl::StatusCode::kInvalidArgument,
                "inflates to more than its declared 1000 bytes");
}

TEST(ZipArchive, RefusesEncryptedAndUnknownCompression) {
  for (auto [offset, value, message] :
       {std::tuple{8, 1, "is encrypted"}, std::tuple{10, 12, "compression method 12"}}) {
    std::string bytes = ZipBytes(kMembers);
    bytes[bytes.find(std::string("PK\x01\x02", 4)) + offset] = static_cast<char>(value);
    ASSERT_OK_AND_ASSIGN(ZipArchive archive, ZipArchive::Open(WriteFile(bytes)));
    EXPECT_STATUS(archive.Read(archive.members()[0], 1 << 20), absl::StatusCode::kInvalidArgument, message);
  }
}

TEST(ZipArchive, RefusesADirectoryEntryPointingOutsideTheData) {
  std::string bytes = ZipBytes(kMembers);
  const size_t entry = bytes.find(std::string("PK\x01\x02", 4));
  bytes[entry + 42 + 3] = 0x7F;  // local header offset far past the end
  EXPECT_STATUS(ZipArchive::Open(WriteFile(bytes)), absl::StatusCode::kInvalidArgument,
                "member 'metadata.json' points outside the archive's data");
}

}  // namespace
}  // namespace resnet8
