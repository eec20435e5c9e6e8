// Binding and serving a cpp-httplib server on HOST:PORT in a background
// thread, with the connection limits, as the metrics endpoint and the
// inference protocol's REST binding both do.
//
//   ASSIGN_OR_RETURN(std::string bound, ListenInBackground(*http, "127.0.0.1:0", "metrics", {}, &thread));
#ifndef RESNET8_SERVER_HTTP_HTTP_LISTENER_H_
#define RESNET8_SERVER_HTTP_HTTP_LISTENER_H_

#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace httplib {
class Server;
}

namespace resnet8 {

// What one HTTP port grants a connection (docs/operations.md, "Limits").
struct HttpConnectionLimits {
  // Connections served at once, one thread each. One more waits until one
  // closes; the timeouts below bound how long that can take.
  int max_connections = 1024;
  // A request (line, headers, body) must keep arriving: a read that waits
  // longer than this closes the connection. So does a reply the client does
  // not read for as long.
  absl::Duration read_timeout = absl::Seconds(5);
  // A keep-alive connection idle between requests for longer is closed
  // (whole seconds: cpp-httplib counts them so).
  absl::Duration idle_timeout = absl::Seconds(5);
  // Requests one keep-alive connection may carry before it is closed.
  int max_requests_per_connection = 100;
};

// INVALID_ARGUMENT naming the flag (--http_<field>) if a limit is out of range.
absl::Status ValidateHttpConnectionLimits(const HttpConnectionLimits& limits);

// Binds `address` (HOST:PORT, [IPv6]:PORT; port 0 picks a free one), starts
// serving on `thread`, and returns the address with the port bound once the
// server is running, with `limits` applied. `what` names the endpoint in
// messages. Errors:
// INVALID_ARGUMENT if `address` is not HOST:PORT; UNAVAILABLE if it cannot
// be bound.
absl::StatusOr<std::string> ListenInBackground(httplib::Server& http, const std::string& address,
                                               absl::string_view what, const HttpConnectionLimits& limits,
                                               std::thread* thread);

}  // namespace resnet8

#endif  // RESNET8_SERVER_HTTP_HTTP_LISTENER_H_
