#include "tests/support/zip_writer.h"

#include <zlib.h>

#include <cstdint>

namespace resnet8::testing {
namespace {

void Put16(std::string& out, uint16_t value) {
  out += static_cast<char>(value & 0xFF);
  out += static_cast<char>(value >> 8);
}
void Put32(std::string& out, uint32_t value) {
  Put16(out, static_cast<uint16_t>(value & 0xFFFF));
  Put16(out, static_cast<uint16_t>(value >> 16));
}
void Put64(std::string& out, uint64_t value) {
  Put32(out, static_cast<uint32_t>(value & 0xFFFFFFFF));
  Put32(out, static_cast<uint32_t>(value >> 32));
}

std::string RawDeflate(const std::string& data) {
  z_stream stream{};
  deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, data.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

}  // namespace

std::string ZipBytes(const ZipMembers& members, const ZipOptions& options) {
  std::string archive, directory;
  for (const auto& [name, contents] : members) {
    const std::string stored = options.deflate ? RawDeflate(contents) : contents;
    const uint32_t crc = crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(contents.data()),
                               static_cast<uInt>(contents.size()));
    const uint16_t method = options.deflate ? 8 : 0;
    const uint32_t offset = static_cast<uint32_t>(archive.size());
    Put32(archive, 0x04034b50);
    Put16(archive, 20);  // version needed
    Put16(archive, 0);   // flags
    Put16(archive, method);
    Put32(archive, 0);  // time, date
    Put32(archive, crc);
    Put32(archive, static_cast<uint32_t>(stored.size()));
    Put32(archive, static_cast<uint32_t>(contents.size()));
    Put16(archive, static_cast<uint16_t>(name.size()));
    Put16(archive, 0);
    archive += name;
    archive += stored;

    std::string extra;
    if (options.zip64_fields) {
      Put16(extra, 0x0001);
      Put16(extra, 24);
      Put64(extra, contents.size());
      Put64(extra, stored.size());
      Put64(extra, offset);
    }
    Put32(directory, 0x02014b50);
    Put16(directory, 45);  // version made by
    Put16(directory, 20);
    Put16(directory, 0);
    Put16(directory, method);
    Put32(directory, 0);
    Put32(directory, crc);
    Put32(directory, options.zip64_fields ? 0xFFFFFFFF : static_cast<uint32_t>(stored.size()));
    Put32(directory, options.zip64_fields ? 0xFFFFFFFF : static_cast<uint32_t>(contents.size()));
    Put16(directory, static_cast<uint16_t>(name.size()));
    Put16(directory, static_cast<uint16_t>(extra.size()));
    Put16(directory, 0);  // comment
    Put16(directory, 0);  // disk
    Put16(directory, 0);  // internal attributes
    Put32(directory, 0);  // external attributes
    Put32(directory, options.zip64_fields ? 0xFFFFFFFF : offset);
    directory += name;
    directory += extra;
  }
  const uint32_t directory_offset = static_cast<uint32_t>(archive.size());
  archive += directory;
  Put32(archive, 0x06054b50);
  Put16(archive, 0);
  Put16(archive, 0);
  Put16(archive, static_cast<uint16_t>(members.size()));
  Put16(archive, static_cast<uint16_t>(members.size()));
  Put32(archive, static_cast<uint32_t>(directory.size()));
  Put32(archive, directory_offset);
  Put16(archive, 0);
  return archive;
}

}  // namespace resnet8::testing
