// A tiny authoritative DNS server on loopback UDP for tests: it answers A
// queries for one name with a fixed list of IPv4 addresses, and nothing else.
// gRPC's c-ares resolver can be pointed at it with a target authority, so a
// test can make one DNS name resolve to several replicas without touching
// /etc/hosts or a real DNS server:
//
//   DnsStub dns("replicas.resnet8.test", {"127.0.0.1", "127.0.0.2"});
//   ASSERT_OK(dns.Start());
//   Connect(absl::StrCat("dns://", dns.address(), "/replicas.resnet8.test:", port));
#ifndef RESNET8_TESTS_SUPPORT_DNS_STUB_H_
#define RESNET8_TESTS_SUPPORT_DNS_STUB_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace resnet8::testing {

// Builds the reply to one DNS query `packet` (RFC 1035): for `name`
// (case-insensitive), an A query gets one record per address and any other
// type an empty NOERROR answer; any other name gets NXDOMAIN. Returns an
// empty vector for a packet that is not a parseable standard query.
std::vector<uint8_t> AnswerDnsQuery(absl::Span<const uint8_t> packet, const std::string& name,
                                    const std::vector<std::array<uint8_t, 4>>& addresses);

class DnsStub {
 public:
  DnsStub(std::string name, const std::vector<std::string>& ipv4_addresses);
  ~DnsStub();  // stops the server thread
  DnsStub(const DnsStub&) = delete;
  DnsStub& operator=(const DnsStub&) = delete;

  // Binds 127.0.0.1 on a free UDP port and starts answering.
  absl::Status Start();
  // "127.0.0.1:PORT", once started.
  std::string address() const;
  // A queries answered for `name` so far.
  int address_queries() const { return address_queries_.load(); }

 private:
  void Serve();

  const std::string name_;
  std::vector<std::array<uint8_t, 4>> addresses_;
  int socket_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> address_queries_{0};
  std::thread thread_;
};

}  // namespace resnet8::testing

#endif  // RESNET8_TESTS_SUPPORT_DNS_STUB_H_
