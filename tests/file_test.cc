#include "common/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

TEST(WriteFileAtomically, WritesReplacesAndLeavesNothingBehind) {
  const std::string dir = testing::MakeTempDir();
  const std::string path = dir + "/report.json";
  ASSERT_OK(WriteFileAtomically(path, "first"));
  ASSERT_OK(WriteFileAtomically(path, std::string("second\0with a NUL", 17)));
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFileBytes(path));
  EXPECT_EQ(bytes, std::string("second\0with a NUL", 17));
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644u);
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) files += entry.is_regular_file();
  EXPECT_EQ(files, 1);  // no temporary left
}

TEST(WriteFileAtomically, RefusesAFolderThatCannotTakeItNamingThePath) {
  EXPECT_STATUS(WriteFileAtomically("/nonexistent/dir/out.csv", "x"), absl::StatusCode::kInvalidArgument,
                "/nonexistent/dir/out.csv: cannot create a file there");
  const std::string dir = testing::MakeTempDir();
  // A folder in the way of the rename: the write fails and the temporary goes.
  std::filesystem::create_directory(dir + "/taken");
  std::filesystem::create_directory(dir + "/taken/inside");
  EXPECT_STATUS(WriteFileAtomically(dir + "/taken", "x"), absl::StatusCode::kInvalidArgument,
                "cannot rename into place");
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) files += entry.is_regular_file();
  EXPECT_EQ(files, 0);
}

}  // namespace
}  // namespace resnet8
