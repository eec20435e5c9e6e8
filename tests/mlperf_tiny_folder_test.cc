// The MLPerf Tiny dataset folder: images in the CSV's order, converted from
// HWC, named by file; and each kind of bad folder refused with its line.
#include "common/mlperf_tiny_folder.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// An HWC image whose pixel p has R = p % 256, G = 1, B = 2.
std::string HwcImage() {
  std::string bytes;
  for (int p = 0; p < kImagePlaneBytes; ++p) bytes += {static_cast<char>(p % 256), 1, 2};
  return bytes;
}

class MlperfTinyFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = testing::MakeTempDir();
    WriteFile(folder_ + "/emu_s_002009.bin", HwcImage());
    WriteFile(folder_ + "/cat_1.bin", HwcImage());
  }
  std::string folder_;
};

TEST_F(MlperfTinyFolderTest, ReadsTheImagesInTheCsvOrderAsPlanarNamedByFile) {
  WriteFile(folder_ + "/y_labels.csv", "emu_s_002009.bin, 10, 2\r\n\ncat_1.bin,10,3\n");
  ASSERT_TRUE(IsMlperfTinyFolder(folder_));
  ASSERT_OK_AND_ASSIGN(CifarDataset data, ReadMlperfTinyFolder(folder_));
  ASSERT_EQ(data.images.size(), 2);
  EXPECT_EQ(data.images.files, (std::vector<std::string>{"emu_s_002009.bin", "cat_1.bin"}));
  EXPECT_EQ(data.images.labels, (std::vector<uint8_t>{2, 3}));
  EXPECT_EQ(data.images.indices, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(data.path, folder_ + "/y_labels.csv");
  absl::Span<const uint8_t> image = data.images.image(1);
  EXPECT_EQ(image[5], 5);                         // red plane, pixel 5
  EXPECT_EQ(image[kImagePlaneBytes + 5], 1);      // green plane
  EXPECT_EQ(image[2 * kImagePlaneBytes + 5], 2);  // blue plane
}

TEST_F(MlperfTinyFolderTest, AFolderWithoutTheCsvIsNotOne) { EXPECT_FALSE(IsMlperfTinyFolder(folder_)); }

TEST_F(MlperfTinyFolderTest, RejectsAListedFileThatIsMissing) {
  WriteFile(folder_ + "/y_labels.csv", "cat_1.bin,10,3\nnone.bin,10,1\n");
  EXPECT_STATUS(ReadMlperfTinyFolder(folder_), absl::StatusCode::kNotFound,
                "none.bin: cannot open the image listed on");
  EXPECT_STATUS(ReadMlperfTinyFolder(folder_), absl::StatusCode::kNotFound, "y_labels.csv line 2");
}

TEST_F(MlperfTinyFolderTest, RejectsAnImageOfTheWrongSize) {
  WriteFile(folder_ + "/short.bin", std::string(3071, '\0'));
  WriteFile(folder_ + "/y_labels.csv", "short.bin,10,3\n");
  EXPECT_STATUS(ReadMlperfTinyFolder(folder_), absl::StatusCode::kInvalidArgument, "3071 bytes; an ic01 image is 3072");
}

TEST_F(MlperfTinyFolderTest, RejectsAClassOutOfRange) {
  WriteFile(folder_ + "/y_labels.csv", "cat_1.bin,10,10\n");
  EXPECT_STATUS(ReadMlperfTinyFolder(folder_), absl::StatusCode::kInvalidArgument, "line 1: class 10 is outside 0..9");
}

TEST_F(MlperfTinyFolderTest, RejectsAClassCountOtherThanTen) {
  WriteFile(folder_ + "/y_labels.csv", "cat_1.bin,12,3\n");
  EXPECT_STATUS(ReadMlperfTinyFolder(folder_), absl::StatusCode::kInvalidArgument, "12 classes");
}

TEST_F(MlperfTinyFolderTest, RejectsAFileListedTwice) {
  WriteFile(folder_ + "/y_labels.csv", "cat_1.bin,10,3\nemu_s_002009.bin,10,2\ncat_1.bin,10,3\n");
  EXPECT_STATUS(ReadMlperfTinyFolder(folder_), absl::StatusCode::kInvalidArgument,
                "line 3: 'cat_1.bin' is listed again (first on line 1)");
}

TEST_F(MlperfTinyFolderTest, RejectsMalformedRowsAndNamesOutsideTheFolder) {
  WriteFile(folder_ + "/y_labels.csv", "cat_1.bin;10;3\n");
  EXPECT_STATUS(ReadMlperfTinyFolder(folder_), absl::StatusCode::kInvalidArgument, "is not 'input file name");
  WriteFile(folder_ + "/y_labels.csv", "cat_1.bin,10,three\n");
  EXPECT_STATUS(ReadMlperfTinyFolder(folder_), absl::StatusCode::kInvalidArgument, "line 1");
  WriteFile(folder_ + "/y_labels.csv", "../cat_1.bin,10,3\n");
  EXPECT_STATUS(ReadMlperfTinyFolder(folder_), absl::StatusCode::kInvalidArgument, "is not a file name in the folder");
  WriteFile(folder_ + "/y_labels.csv", "\n\n");
  EXPECT_STATUS(ReadMlperfTinyFolder(folder_), absl::StatusCode::kInvalidArgument, "no rows");
}

}  // namespace
}  // namespace resnet8
