#include "client/image_file.h"

// clang-format off
#include <cstdio>
#include <jpeglib.h>
// clang-format on
#include <gtest/gtest.h>
#include <png.h>

#include <cstring>
#include <fstream>

#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

// A width x height RGB image whose pixel (x, y) is (x, y, 100).
RgbImage Gradient(int64_t width, int64_t height) {
  RgbImage image{width, height, std::vector<uint8_t>(width * height * 3)};
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      uint8_t* p = &image.pixels[(y * width + x) * 3];
      p[0] = static_cast<uint8_t>(x);
      p[1] = static_cast<uint8_t>(y);
      p[2] = 100;
    }
  }
  return image;
}

void WritePng(const std::string& path, const RgbImage& image) {
  png_image png;
  std::memset(&png, 0, sizeof(png));
  png.version = PNG_IMAGE_VERSION;
  png.width = image.width;
  png.height = image.height;
  png.format = PNG_FORMAT_RGB;
  ASSERT_TRUE(png_image_write_to_file(&png, path.c_str(), 0, image.pixels.data(), 0, nullptr)) << png.message;
}

void WriteJpeg(const std::string& path, const RgbImage& image) {
  FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  jpeg_compress_struct info;
  jpeg_error_mgr error;
  info.err = jpeg_std_error(&error);
  jpeg_create_compress(&info);
  jpeg_stdio_dest(&info, file);
  info.image_width = image.width;
  info.image_height = image.height;
  info.input_components = 3;
  info.in_color_space = JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, 100, TRUE);
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(image.pixels.data()) + info.next_scanline * image.width * 3;
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::fclose(file);
}

TEST(ImageFile, Loads32x32PngUnchanged) {
  const RgbImage image = Gradient(32, 32);
  const std::string path = testing::MakeTempDir() + "/g.png";
  WritePng(path, image);
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> pixels, LoadImageFile(path));
  EXPECT_EQ(pixels, image.pixels);
}

TEST(ImageFile, ShrinksByAreaAveraging) {
  // Each 2x2 block of the 64x64 gradient averages to (2x + 0.5, 2y + 0.5, 100).
  const std::string path = testing::MakeTempDir() + "/g64.png";
  WritePng(path, Gradient(64, 64));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> pixels, LoadImageFile(path));
  ASSERT_EQ(pixels.size(), 3072u);
  const uint8_t* p = &pixels[(5 * 32 + 7) * 3];  // x = 7, y = 5
  EXPECT_NEAR(p[0], 14.5, 0.51);
  EXPECT_NEAR(p[1], 10.5, 0.51);
  EXPECT_EQ(p[2], 100);
}

TEST(ImageFile, EnlargesBilinearly) {
  const RgbImage small = Gradient(16, 8);
  const RgbImage big = ResizeTo(small, 32, 32);
  ASSERT_EQ(big.pixels.size(), 3072u);
  // Half-pixel centres: output x = 1 samples input x = 0.25, between 0 and 1.
  EXPECT_EQ(big.pixels[(0 * 32 + 1) * 3], 0);        // round(0.25) = 0
  EXPECT_EQ(big.pixels[(0 * 32 + 3) * 3], 1);        // input x = 1.25
  EXPECT_EQ(big.pixels[(31 * 32 + 31) * 3 + 1], 7);  // clamped to the last row
}

TEST(ImageFile, LoadsJpeg) {
  const std::string path = testing::MakeTempDir() + "/g.jpg";
  WriteJpeg(path, Gradient(40, 40));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> pixels, LoadImageFile(path));
  ASSERT_EQ(pixels.size(), 3072u);
  EXPECT_NEAR(pixels[2], 100, 3);  // blue of the top-left pixel, within JPEG loss
}

TEST(ImageFile, RejectsMissingFile) {
  EXPECT_STATUS(LoadImageFile("/nonexistent/cat.png"), absl::StatusCode::kNotFound, "/nonexistent/cat.png");
}

TEST(ImageFile, RejectsOtherFormats) {
  const std::string path = testing::MakeTempDir() + "/cat.gif";
  std::ofstream(path) << "GIF89a....";
  EXPECT_STATUS(LoadImageFile(path), absl::StatusCode::kInvalidArgument, "neither PNG nor JPEG");
}

TEST(ImageFile, RejectsCorruptPng) {
  const std::string path = testing::MakeTempDir() + "/broken.png";
  WritePng(path, Gradient(32, 32));
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  EXPECT_STATUS(LoadImageFile(path), absl::StatusCode::kInvalidArgument, "broken.png");
}

TEST(ImageFile, RejectsCorruptJpeg) {
  const std::string path = testing::MakeTempDir() + "/broken.jpg";
  std::ofstream(path, std::ios::binary) << std::string("\xFF\xD8\xFF\xE0garbage", 11);
  EXPECT_STATUS(LoadImageFile(path), absl::StatusCode::kInvalidArgument, "corrupt JPEG");
}

}  // namespace
}  // namespace resnet8
