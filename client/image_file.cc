#include "client/image_file.h"

// clang-format off
#include <cstdio>
#include <jpeglib.h>
// clang-format on
#include <png.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstring>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace resnet8 {
namespace {

constexpr int64_t kMaxSide = 16384;  // bounds what a hostile file can make us allocate

absl::StatusOr<RgbImage> DecodePng(const std::string& path) {
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str())) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a readable PNG (", image.message, ")"));
  }
  if (image.width > kMaxSide || image.height > kMaxSide) {
    png_image_free(&image);
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", image.width, "x", image.height, " is larger than ", kMaxSide, "x", kMaxSide));
  }
  image.format = PNG_FORMAT_RGB;  // libpng drops alpha (over black) and expands grey
  RgbImage rgb{image.width, image.height, std::vector<uint8_t>(PNG_IMAGE_SIZE(image))};
  if (!png_image_finish_read(&image, nullptr, rgb.pixels.data(), 0, nullptr)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": corrupt PNG (", image.message, ")"));
  }
  return rgb;
}

struct JpegError {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

absl::StatusOr<RgbImage> DecodeJpeg(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  if (file == nullptr) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  jpeg_decompress_struct info;
  JpegError error;
  info.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = [](j_common_ptr common) {
    auto* e = reinterpret_cast<JpegError*>(common->err);
    (*common->err->format_message)(common, e->message);
    std::longjmp(e->jump, 1);
  };
  error.manager.output_message = [](j_common_ptr) {};  // warnings: keep stderr for our one-line errors
  RgbImage rgb;
  if (setjmp(error.jump)) {  // libjpeg reports fatal errors by longjmp
    jpeg_destroy_decompress(&info);
    return absl::InvalidArgumentError(absl::StrCat(path, ": corrupt JPEG (", error.message, ")"));
  }
  jpeg_create_decompress(&info);
  jpeg_stdio_src(&info, file.get());
  jpeg_read_header(&info, TRUE);
  info.out_color_space = JCS_RGB;
  if (info.image_width > kMaxSide || info.image_height > kMaxSide) {
    jpeg_destroy_decompress(&info);
    return absl::InvalidArgumentError(absl::StrCat(path, ": larger than ", kMaxSide, "x", kMaxSide));
  }
  jpeg_start_decompress(&info);
  rgb.width = info.output_width;
  rgb.height = info.output_height;
  rgb.pixels.resize(rgb.width * rgb.height * 3);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = rgb.pixels.data() + static_cast<size_t>(info.output_scanline) * rgb.width * 3;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return rgb;
}

// Resizes one axis of a float image: area averaging to shrink, bilinear to grow.
std::vector<double> ResizeAxis(const std::vector<double>& in, int64_t in_size, int64_t out_size, int64_t stride,
                               int64_t lines, int64_t line_stride, int64_t out_line_stride, int64_t out_stride) {
  std::vector<double> out(lines * out_size * 3);
  const double scale = static_cast<double>(in_size) / out_size;
  for (int64_t line = 0; line < lines; ++line) {
    for (int64_t o = 0; o < out_size; ++o) {
      for (int64_t c = 0; c < 3; ++c) {
        double value = 0;
        if (scale >= 1.0) {
          const double begin = o * scale, end = begin + scale;
          for (int64_t i = static_cast<int64_t>(begin); i < static_cast<int64_t>(std::ceil(end)); ++i) {
            const double weight = std::min<double>(end, i + 1) - std::max<double>(begin, i);
            value += weight * in[line * line_stride + i * stride + c];
          }
          value /= scale;
        } else {
          const double x = std::clamp((o + 0.5) * scale - 0.5, 0.0, static_cast<double>(in_size - 1));
          const int64_t i = static_cast<int64_t>(x);
          const int64_t j = std::min(i + 1, in_size - 1);
          const double t = x - i;
          value = (1 - t) * in[line * line_stride + i * stride + c] + t * in[line * line_stride + j * stride + c];
        }
        out[line * out_line_stride + o * out_stride + c] = value;
      }
    }
  }
  return out;
}

}  // namespace

RgbImage ResizeTo(const RgbImage& image, int64_t width, int64_t height) {
  if (image.width == width && image.height == height) return image;
  std::vector<double> pixels(image.pixels.begin(), image.pixels.end());
  // Horizontal pass: lines are rows.
  pixels = ResizeAxis(pixels, image.width, width, 3, image.height, image.width * 3, width * 3, 3);
  // Vertical pass: lines are columns.
  pixels = ResizeAxis(pixels, image.height, height, width * 3, width, 3, 3, width * 3);
  RgbImage out{width, height, std::vector<uint8_t>(width * height * 3)};
  for (size_t i = 0; i < pixels.size(); ++i) {
    out.pixels[i] = static_cast<uint8_t>(std::clamp(std::lround(pixels[i]), 0L, 255L));
  }
  return out;
}

absl::StatusOr<std::vector<uint8_t>> LoadImageFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open (no such file?)"));
  unsigned char magic[8] = {0};
  in.read(reinterpret_cast<char*>(magic), sizeof(magic));
  RgbImage image;
  if (png_sig_cmp(magic, 0, 8) == 0) {
    ASSIGN_OR_RETURN(image, DecodePng(path));
  } else if (magic[0] == 0xFF && magic[1] == 0xD8) {
    ASSIGN_OR_RETURN(image, DecodeJpeg(path));
  } else {
    return absl::InvalidArgumentError(absl::StrCat(path, ": neither PNG nor JPEG"));
  }
  return ResizeTo(image, 32, 32).pixels;
}

}  // namespace resnet8
