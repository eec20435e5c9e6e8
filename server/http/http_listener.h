// Binding and serving a cpp-httplib server on HOST:PORT in a background
// thread, as the metrics endpoint and the inference protocol's REST binding
// both do.
//
//   ASSIGN_OR_RETURN(std::string bound, ListenInBackground(*http, "127.0.0.1:0", "metrics", &thread));
#ifndef RESNET8_SERVER_HTTP_HTTP_LISTENER_H_
#define RESNET8_SERVER_HTTP_HTTP_LISTENER_H_

#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace httplib {
class Server;
}

namespace resnet8 {

// Binds `address` (HOST:PORT, [IPv6]:PORT; port 0 picks a free one), starts
// serving on `thread`, and returns the address with the port bound once the
// server is running. `what` names the endpoint in messages. Errors:
// INVALID_ARGUMENT if `address` is not HOST:PORT; UNAVAILABLE if it cannot
// be bound.
absl::StatusOr<std::string> ListenInBackground(httplib::Server& http, const std::string& address,
                                               absl::string_view what, std::thread* thread);

}  // namespace resnet8

#endif  // RESNET8_SERVER_HTTP_HTTP_LISTENER_H_
