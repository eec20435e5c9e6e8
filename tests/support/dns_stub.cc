#include "tests/support/dns_stub.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace resnet8::testing {
namespace {

constexpr size_t kHeaderBytes = 12;
constexpr uint16_t kTypeA = 1;
constexpr uint16_t kClassIn = 1;
constexpr uint16_t kFlagResponse = 0x8000, kFlagAuthoritative = 0x0400, kFlagRecursionDesired = 0x0100;
constexpr uint16_t kOpcodeMask = 0x7800;
constexpr uint16_t kRcodeNameError = 3;  // NXDOMAIN

uint16_t Read16(absl::Span<const uint8_t> bytes, size_t at) {
  return static_cast<uint16_t>(bytes[at] << 8 | bytes[at + 1]);
}
void Append16(std::vector<uint8_t>& out, uint16_t value) {
  out.push_back(static_cast<uint8_t>(value >> 8));
  out.push_back(static_cast<uint8_t>(value & 0xff));
}

}  // namespace

std::vector<uint8_t> AnswerDnsQuery(absl::Span<const uint8_t> packet, const std::string& name,
                                    const std::vector<std::array<uint8_t, 4>>& addresses) {
  if (packet.size() < kHeaderBytes) return {};
  const uint16_t flags = Read16(packet, 2);
  if ((flags & kFlagResponse) != 0 || (flags & kOpcodeMask) != 0 || Read16(packet, 4) != 1) return {};

  // The question: length-prefixed labels up to a zero byte, then type and class.
  std::string asked;
  size_t at = kHeaderBytes;
  while (true) {
    if (at >= packet.size()) return {};
    const uint8_t length = packet[at++];
    if (length == 0) break;
    if (length > 63 || at + length > packet.size()) return {};  // no compression in a question
    if (!asked.empty()) asked += '.';
    asked.append(reinterpret_cast<const char*>(&packet[at]), length);
    at += length;
  }
  if (at + 4 > packet.size()) return {};
  const uint16_t type = Read16(packet, at), klass = Read16(packet, at + 2);
  const size_t question_end = at + 4;

  const bool ours = absl::AsciiStrToLower(asked) == absl::AsciiStrToLower(name);
  const bool answered = ours && type == kTypeA && klass == kClassIn;
  std::vector<uint8_t> reply(packet.begin(), packet.begin() + 2);  // the query's id
  Append16(reply, kFlagResponse | kFlagAuthoritative | (flags & kFlagRecursionDesired) | (ours ? 0 : kRcodeNameError));
  Append16(reply, 1);                                                       // questions
  Append16(reply, answered ? static_cast<uint16_t>(addresses.size()) : 0);  // answers
  Append16(reply, 0);                                                       // authority
  Append16(reply, 0);                                                       // additional
  reply.insert(reply.end(), packet.begin() + kHeaderBytes, packet.begin() + question_end);
  if (answered) {
    for (const std::array<uint8_t, 4>& address : addresses) {
      Append16(reply, 0xc000 | kHeaderBytes);  // the name: a pointer to the question's
      Append16(reply, kTypeA);
      Append16(reply, kClassIn);
      Append16(reply, 0);  // TTL, high half
      Append16(reply, 1);  // TTL: 1 s, so a re-resolution asks again
      Append16(reply, 4);
      reply.insert(reply.end(), address.begin(), address.end());
    }
  }
  return reply;
}

DnsStub::DnsStub(std::string name, const std::vector<std::string>& ipv4_addresses) : name_(std::move(name)) {
  for (const std::string& text : ipv4_addresses) {
    in_addr parsed{};
    if (inet_pton(AF_INET, text.c_str(), &parsed) != 1) continue;  // Start() reports it
    std::array<uint8_t, 4> bytes;
    std::memcpy(bytes.data(), &parsed.s_addr, 4);  // already in network order
    addresses_.push_back(bytes);
  }
  if (addresses_.size() != ipv4_addresses.size()) addresses_.clear();
}

DnsStub::~DnsStub() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  if (socket_ >= 0) close(socket_);
}

absl::Status DnsStub::Start() {
  if (addresses_.empty()) return absl::InvalidArgumentError("DnsStub: give at least one valid IPv4 address");
  socket_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (socket_ < 0) return absl::InternalError(absl::StrCat("DnsStub: socket: ", std::strerror(errno)));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(local);
  if (bind(socket_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
      getsockname(socket_, reinterpret_cast<sockaddr*>(&local), &length) != 0) {
    return absl::InternalError(absl::StrCat("DnsStub: bind: ", std::strerror(errno)));
  }
  port_ = ntohs(local.sin_port);
  thread_ = std::thread([this] { Serve(); });
  return absl::OkStatus();
}

std::string DnsStub::address() const { return absl::StrCat("127.0.0.1:", port_); }

void DnsStub::Serve() {
  uint8_t packet[512];  // the classic UDP limit; c-ares' queries are far smaller
  while (!stopping_) {
    pollfd ready{socket_, POLLIN, 0};
    if (poll(&ready, 1, 50) <= 0) continue;  // wake up now and then to see `stopping_`
    sockaddr_in from{};
    socklen_t from_length = sizeof(from);
    const ssize_t got = recvfrom(socket_, packet, sizeof(packet), 0, reinterpret_cast<sockaddr*>(&from), &from_length);
    if (got <= 0) continue;
    const std::vector<uint8_t> reply = AnswerDnsQuery(absl::MakeConstSpan(packet, got), name_, addresses_);
    if (reply.empty()) continue;
    if (Read16(reply, 6) > 0) ++address_queries_;
    sendto(socket_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), from_length);
  }
}

}  // namespace resnet8::testing
