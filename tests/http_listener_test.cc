// The HTTP ports' listener (http_listener.h) over real sockets: a busy port
// is refused, silent and idle connections are closed after their timeouts and
// never hold up a probe, and the limits are validated by flag name.
#include "server/http/http_listener.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

// A server answering GET /ping, stopped and joined on destruction.
class PingServer {
 public:
  explicit PingServer(const HttpConnectionLimits& limits, const std::string& address = "127.0.0.1:0") {
    http_.Get("/ping",
              [](const httplib::Request&, httplib::Response& response) { response.set_content("pong", "text/plain"); });
    bound_ = ListenInBackground(http_, address, "test", limits, &thread_);
  }
  ~PingServer() {
    http_.stop();
    if (thread_.joinable()) thread_.join();
  }
  const absl::StatusOr<std::string>& bound() const { return bound_; }
  int port() const { return std::stoi(bound_->substr(bound_->rfind(':') + 1)); }

 private:
  httplib::Server http_;
  std::thread thread_;
  absl::StatusOr<std::string> bound_;
};

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Whether the peer has closed `fd` (EOF or reset) within `wait`; bytes it
// sends first (a reply) are read and skipped.
bool ClosedByPeer(int fd, absl::Duration wait) {
  const absl::Time deadline = absl::Now() + wait;
  for (;;) {
    pollfd entry{fd, POLLIN, 0};
    const int left = static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
    if (poll(&entry, 1, left) <= 0) return false;
    char buffer[4096];
    const ssize_t got = recv(fd, buffer, sizeof(buffer), 0);
    if (got <= 0) return true;
  }
}

absl::Duration TimedPing(int port) {
  httplib::Client client("127.0.0.1", port);
  const absl::Time start = absl::Now();
  httplib::Result result = client.Get("/ping");
  EXPECT_TRUE(result && result->status == 200 && result->body == "pong");
  return absl::Now() - start;
}

TEST(HttpListener, SilentConnectionsAreClosedAfterTheReadTimeoutAndNeverDelayAProbe) {
  HttpConnectionLimits limits;
  limits.read_timeout = absl::Seconds(2);
  PingServer server(limits);
  ASSERT_OK(server.bound());
  std::vector<int> silent;
  for (int i = 0; i < 300; ++i) {
    const int fd = Connect(server.port());
    ASSERT_GE(fd, 0);
    const char half[] = "GET /pi";  // half a request line, then nothing
    ASSERT_EQ(send(fd, half, sizeof(half) - 1, 0), static_cast<ssize_t>(sizeof(half) - 1));
    silent.push_back(fd);
  }
  // A probe held behind the silent connections would wait out their read
  // timeout; half of it tells that apart from a busy machine (under ASan
  // beside the Docker build a probe took 106 ms; on a 2-vCPU VM where a
  // thread takes 0.4 ms to start, and more under ASan, a probe sent behind
  // the 300 new connections took 538 ms).
  for (int probe = 0; probe < 10; ++probe) EXPECT_LT(TimedPing(server.port()), limits.read_timeout / 2);
  // Open until the timeout, closed after it.
  EXPECT_FALSE(ClosedByPeer(silent[0], absl::Milliseconds(100)));
  absl::SleepFor(limits.read_timeout);
  for (int fd : silent) {
    EXPECT_TRUE(ClosedByPeer(fd, absl::Seconds(3)));
    close(fd);
  }
}

TEST(HttpListener, IdleKeepAliveConnectionsAreClosedAfterTheIdleTimeout) {
  HttpConnectionLimits limits;
  limits.idle_timeout = absl::Seconds(1);
  PingServer server(limits);
  ASSERT_OK(server.bound());
  std::vector<int> idle;
  for (int i = 0; i < 100; ++i) {
    const int fd = Connect(server.port());
    ASSERT_GE(fd, 0);
    const std::string request = "GET /ping HTTP/1.1\r\nHost: test\r\n\r\n";
    ASSERT_EQ(send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
    idle.push_back(fd);
  }
  // As above: a probe held behind the idle connections would wait out their timeout.
  for (int probe = 0; probe < 10; ++probe) EXPECT_LT(TimedPing(server.port()), limits.idle_timeout / 2);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_FALSE(ClosedByPeer(idle[0], absl::Milliseconds(1)));  // answered, kept alive
  for (int fd : idle) {
    EXPECT_TRUE(ClosedByPeer(fd, absl::Seconds(3)));
    close(fd);
  }
}

TEST(HttpListener, ABusyPortIsRefusedNotShared) {
  PingServer first({});
  ASSERT_OK(first.bound());
  PingServer second({}, absl::StrCat("127.0.0.1:", first.port()));
  EXPECT_STATUS(second.bound(), absl::StatusCode::kUnavailable, "cannot listen for test on 127.0.0.1:");
}

TEST(HttpListener, LimitsOutOfRangeAreRefusedByFlagName) {
  HttpConnectionLimits limits;
  limits.max_connections = 0;
  EXPECT_STATUS(ValidateHttpConnectionLimits(limits), absl::StatusCode::kInvalidArgument, "--http_max_connections=0");
  limits = {};
  limits.read_timeout = absl::Milliseconds(1);
  EXPECT_STATUS(ValidateHttpConnectionLimits(limits), absl::StatusCode::kInvalidArgument, "--http_read_timeout_ms=1");
  limits = {};
  limits.idle_timeout = absl::Milliseconds(1500);
  EXPECT_STATUS(ValidateHttpConnectionLimits(limits), absl::StatusCode::kInvalidArgument,
                "--http_idle_timeout_seconds");
  EXPECT_OK(ValidateHttpConnectionLimits({}));
}

}  // namespace
}  // namespace resnet8
