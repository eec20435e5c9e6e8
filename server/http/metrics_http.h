// A small HTTP endpoint for Prometheus: GET /metrics answers the text that a
// callback renders (ServiceMetrics::RenderPrometheus). Built on cpp-httplib
// from Debian; it serves nothing else (404) and reads no files.
//
//   ASSIGN_OR_RETURN(auto http, MetricsHttpServer::Start("127.0.0.1:9090", [&] { return m.RenderPrometheus(); }));
//   http->address();  // "127.0.0.1:9090"; port 0 picks a free one
#ifndef RESNET8_SERVER_HTTP_METRICS_HTTP_H_
#define RESNET8_SERVER_HTTP_METRICS_HTTP_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "server/http/http_listener.h"

namespace resnet8 {

class MetricsHttpServer {
 public:
  // Listens on `address` (HOST:PORT). Errors: INVALID_ARGUMENT if it is not
  // HOST:PORT; UNAVAILABLE if it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& address,
                                                                  std::function<std::string()> render,
                                                                  const HttpConnectionLimits& limits = {});
  // Stops listening and joins the serving thread.
  ~MetricsHttpServer();

  const std::string& address() const { return address_; }

 private:
  MetricsHttpServer() = default;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::string address_;
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_HTTP_METRICS_HTTP_H_
