#include "server/http/http_listener.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/http/connection_threads.h"

namespace resnet8 {

namespace {

// cpp-httplib takes whole seconds and microseconds.
std::pair<time_t, time_t> SecondsAndMicros(absl::Duration duration) {
  const int64_t micros = absl::ToInt64Microseconds(duration);
  return {static_cast<time_t>(micros / 1000000), static_cast<time_t>(micros % 1000000)};
}

}  // namespace

absl::Status ValidateHttpConnectionLimits(const HttpConnectionLimits& limits) {
  if (limits.max_connections < 1 || limits.max_connections > 65536) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http_max_connections=", limits.max_connections, " is outside 1..65536"));
  }
  if (limits.read_timeout < absl::Milliseconds(10) || limits.read_timeout > absl::Hours(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http_read_timeout_ms=", absl::ToInt64Milliseconds(limits.read_timeout), " is outside 10..3600000"));
  }
  // cpp-httplib counts keep-alive time in whole seconds.
  if (limits.idle_timeout < absl::Seconds(1) || limits.idle_timeout > absl::Hours(1) ||
      limits.idle_timeout != absl::Seconds(absl::ToInt64Seconds(limits.idle_timeout))) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http_idle_timeout_seconds=", absl::FormatDuration(limits.idle_timeout),
                     " is not a whole number of seconds in 1..3600"));
  }
  if (limits.max_requests_per_connection < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http_max_requests_per_connection=", limits.max_requests_per_connection, " is below 1"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ListenInBackground(httplib::Server& http, const std::string& address,
                                               absl::string_view what, const HttpConnectionLimits& limits,
                                               std::thread* thread) {
  RETURN_IF_ERROR(ValidateHttpConnectionLimits(limits));
  const int max_connections = limits.max_connections;
  http.new_task_queue = [max_connections] { return new ConnectionThreads(max_connections); };
  const auto [read_seconds, read_micros] = SecondsAndMicros(limits.read_timeout);
  http.set_read_timeout(read_seconds, read_micros);
  http.set_write_timeout(read_seconds, read_micros);
  http.set_keep_alive_timeout(static_cast<time_t>(absl::ToInt64Seconds(limits.idle_timeout)));
  http.set_keep_alive_max_count(static_cast<size_t>(limits.max_requests_per_connection));
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(what, " address '", address, "' is not HOST:PORT"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  // cpp-httplib's default sets SO_REUSEPORT, with which a second server binds
  // a busy port and silently takes part of its traffic; SO_REUSEADDR alone
  // only allows rebinding over TIME_WAIT. The socket is kept to widen its
  // backlog below.
  auto listening = std::make_shared<int>(-1);
  http.set_socket_options([listening](int socket) {
    const int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    *listening = socket;
  });
  const int bound = port == 0 ? http.bind_to_any_port(host) : (http.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) return absl::UnavailableError(absl::StrCat("cannot listen for ", what, " on ", address));
  // The library listens with a backlog of 5, so a burst of connections
  // (probes among them) waits for SYN retries of a second or more; listen()
  // again on the same socket widens the queue to the system's maximum.
  if (*listening >= 0 && ::listen(*listening, SOMAXCONN) != 0) {
    return absl::InternalError(absl::StrCat("cannot widen the backlog for ", what, " on ", address));
  }
  *thread = std::thread([&http] { http.listen_after_bind(); });
  // stop() only stops a server that is already running: wait for it, so that
  // the owner never joins a thread that has yet to start listening.
  while (!http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return absl::StrCat(address.substr(0, colon), ":", bound);
}

}  // namespace resnet8
