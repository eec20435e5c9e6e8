// The test DNS server's answers, byte by byte (RFC 1035). The replica e2e
// test then points gRPC's own resolver (c-ares) at it.
#include "tests/support/dns_stub.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

namespace resnet8::testing {
namespace {

// A standard query with recursion desired, as c-ares sends it.
std::vector<uint8_t> Query(const std::string& dotted_name, uint16_t type, uint16_t id = 0x1234) {
  std::vector<uint8_t> packet = {
      static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t start = 0;
  while (start <= dotted_name.size()) {
    size_t dot = dotted_name.find('.', start);
    if (dot == std::string::npos) dot = dotted_name.size();
    packet.push_back(static_cast<uint8_t>(dot - start));
    packet.insert(packet.end(), dotted_name.begin() + start, dotted_name.begin() + dot);
    start = dot + 1;
  }
  packet.push_back(0);
  packet.insert(packet.end(), {static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type), 0, 1});
  return packet;
}

const std::vector<std::array<uint8_t, 4>> kReplicas = {{127, 0, 0, 1}, {127, 0, 0, 2}};

TEST(DnsStub, AnswersAQueriesForItsNameWithEveryAddress) {
  const std::vector<uint8_t> query = Query("Replicas.Test", 1);
  const std::vector<uint8_t> reply = AnswerDnsQuery(query, "replicas.test", kReplicas);
  ASSERT_EQ(reply.size(), query.size() + 2 * 16);
  EXPECT_EQ(reply[0], 0x12);  // the query's id
  EXPECT_EQ(reply[1], 0x34);
  EXPECT_EQ(reply[2], 0x85);  // response, authoritative, recursion desired echoed
  EXPECT_EQ(reply[3], 0x00);  // NOERROR
  EXPECT_EQ(reply[7], 2);     // two answers
  EXPECT_TRUE(std::equal(query.begin() + 12, query.end(), reply.begin() + 12));  // the question echoed
  const size_t first = query.size();
  const std::vector<uint8_t> record(reply.begin() + first, reply.begin() + first + 16);
  EXPECT_EQ(record, (std::vector<uint8_t>{0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 127, 0, 0, 1}));
  EXPECT_EQ(reply.back(), 2);  // the second record ends with 127.0.0.2
}

TEST(DnsStub, OtherTypesGetNoDataAndOtherNamesNxdomain) {
  const std::vector<uint8_t> aaaa = AnswerDnsQuery(Query("replicas.test", 28), "replicas.test", kReplicas);
  ASSERT_FALSE(aaaa.empty());
  EXPECT_EQ(aaaa[3] & 0x0f, 0);  // NOERROR, no records: the name exists, with no IPv6 address
  EXPECT_EQ(aaaa[7], 0);
  const std::vector<uint8_t> other = AnswerDnsQuery(Query("elsewhere.test", 1), "replicas.test", kReplicas);
  ASSERT_FALSE(other.empty());
  EXPECT_EQ(other[3] & 0x0f, 3);  // NXDOMAIN
  EXPECT_EQ(other[7], 0);
}

TEST(DnsStub, IgnoresWhatIsNotAStandardQuery) {
  std::vector<uint8_t> query = Query("replicas.test", 1);
  EXPECT_TRUE(AnswerDnsQuery(absl::MakeConstSpan(query).subspan(0, 11), "replicas.test", kReplicas).empty());
  EXPECT_TRUE(AnswerDnsQuery(absl::MakeConstSpan(query).subspan(0, query.size() - 1), "replicas.test", kReplicas)
                  .empty());  // the class cut short
  std::vector<uint8_t> response = query;
  response[2] |= 0x80;
  EXPECT_TRUE(AnswerDnsQuery(response, "replicas.test", kReplicas).empty());
  std::vector<uint8_t> overlong = query;
  overlong[12] = 200;  // a label longer than the packet
  EXPECT_TRUE(AnswerDnsQuery(overlong, "replicas.test", kReplicas).empty());
}

TEST(DnsStub, RefusesToStartWithoutValidAddresses) {
  DnsStub stub("replicas.test", {"127.0.0.1", "not-an-address"});
  EXPECT_EQ(stub.Start().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace resnet8::testing
