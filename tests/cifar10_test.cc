#include "common/cifar10.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

// `count` records; record i has label i % 10 and every pixel byte i.
std::string Records(int count) {
  std::string bytes;
  for (int i = 0; i < count; ++i) {
    bytes.push_back(static_cast<char>(i % 10));
    bytes.append(kImageBytes, static_cast<char>(i));
  }
  return bytes;
}

std::string WriteFile(const std::string& dir, const std::string& name, const std::string& bytes) {
  std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
  return dir + "/" + name;
}

TEST(Cifar10, ReadsRecordsFromAFile) {
  const std::string dir = testing::MakeTempDir();
  ASSERT_OK_AND_ASSIGN(CifarDataset data, ReadCifar10(WriteFile(dir, "data_batch_1.bin", Records(3))));
  ASSERT_EQ(data.images.size(), 3);
  EXPECT_EQ(data.images.labels, (std::vector<uint8_t>{0, 1, 2}));
  EXPECT_EQ(data.images.indices, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(data.images.image(2)[0], 2);
  EXPECT_EQ(data.images.image(2)[kImageBytes - 1], 2);
  EXPECT_EQ(data.class_names, StandardCifar10ClassNames());
}

TEST(Cifar10, DirectoryMeansItsTestBatchAndMetaNames) {
  const std::string dir = testing::MakeTempDir();
  WriteFile(dir, "test_batch.bin", Records(2));
  WriteFile(dir, "batches.meta.txt", "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n");
  ASSERT_OK_AND_ASSIGN(CifarDataset data, ReadCifar10(dir));
  EXPECT_EQ(data.path, dir + "/test_batch.bin");
  EXPECT_EQ(data.images.size(), 2);
  EXPECT_EQ(data.class_names[9], "j");
}

TEST(Cifar10, RejectsDirectoryWithoutTestBatch) {
  EXPECT_STATUS(ReadCifar10(testing::MakeTempDir()), absl::StatusCode::kNotFound, "no test_batch.bin");
}

TEST(Cifar10, RejectsMissingFile) {
  EXPECT_STATUS(ReadCifar10("/nonexistent/test_batch.bin"), absl::StatusCode::kNotFound, "/nonexistent/test_batch.bin");
}

TEST(Cifar10, RejectsEmptyFile) {
  EXPECT_STATUS(ReadCifar10(WriteFile(testing::MakeTempDir(), "e.bin", "")), absl::StatusCode::kInvalidArgument,
                "empty file");
}

TEST(Cifar10, RejectsTruncatedFile) {
  std::string bytes = Records(2);
  bytes.resize(bytes.size() - 5);
  EXPECT_STATUS(ReadCifar10(WriteFile(testing::MakeTempDir(), "t.bin", bytes)), absl::StatusCode::kInvalidArgument,
                "6141 bytes is not a whole number of 3073-byte CIFAR-10 records");
}

TEST(Cifar10, RejectsLabelOutOfRange) {
  std::string bytes = Records(3);
  bytes[2 * kCifarRecordBytes] = 10;
  EXPECT_STATUS(ReadCifar10(WriteFile(testing::MakeTempDir(), "l.bin", bytes)), absl::StatusCode::kInvalidArgument,
                "record 2 has label 10");
}

TEST(Cifar10, RejectsMetaWithWrongNumberOfNames) {
  const std::string dir = testing::MakeTempDir();
  WriteFile(dir, "test_batch.bin", Records(1));
  WriteFile(dir, "batches.meta.txt", "a\nb\n");
  EXPECT_STATUS(ReadCifar10(dir), absl::StatusCode::kInvalidArgument, "expected 10 class names");
}

TEST(Cifar10, SelectsRecordsInTheGivenOrder) {
  const std::string dir = testing::MakeTempDir();
  ASSERT_OK_AND_ASSIGN(CifarDataset data, ReadCifar10(WriteFile(dir, "b.bin", Records(5))));
  const int64_t wanted[] = {4, 1};
  ASSERT_OK_AND_ASSIGN(LabeledImages subset, SelectRecords(data.images, wanted));
  EXPECT_EQ(subset.indices, (std::vector<int64_t>{4, 1}));
  EXPECT_EQ(subset.labels, (std::vector<uint8_t>{4, 1}));
  EXPECT_EQ(subset.image(0)[10], 4);
  const int64_t beyond[] = {5};
  EXPECT_STATUS(SelectRecords(data.images, beyond), absl::StatusCode::kOutOfRange, "record 5");
}

TEST(Cifar10, ReadsTheOfficialTestSet) {
  ASSERT_OK_AND_ASSIGN(CifarDataset data, ReadCifar10(testing::SharedDataDir()));
  ASSERT_EQ(data.images.size(), 10000);
  EXPECT_EQ(std::vector<uint8_t>(data.images.labels.begin(), data.images.labels.begin() + 10),
            (std::vector<uint8_t>{3, 8, 8, 0, 6, 6, 1, 6, 3, 1}));
  std::vector<int> per_class(10);
  for (uint8_t label : data.images.labels) ++per_class[label];
  EXPECT_EQ(per_class, std::vector<int>(10, 1000));
  EXPECT_EQ(data.images.image(0)[0], 158);  // first red byte of record 0
  EXPECT_EQ(data.images.image(0)[kImageBytes - 1], 110);
  EXPECT_EQ(data.class_names[3], "cat");
}

TEST(Cifar10, Perf200IsTwentyPerClass) {
  ASSERT_OK_AND_ASSIGN(CifarDataset data, ReadCifar10(testing::SharedDataDir()));
  ASSERT_EQ(Perf200Indices().size(), 200u);
  ASSERT_OK_AND_ASSIGN(LabeledImages subset, SelectRecords(data.images, Perf200Indices()));
  std::vector<int> per_class(10);
  for (uint8_t label : subset.labels) ++per_class[label];
  EXPECT_EQ(per_class, std::vector<int>(10, 20));
}

}  // namespace
}  // namespace resnet8
