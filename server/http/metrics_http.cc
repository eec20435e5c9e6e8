#include "server/http/metrics_http.h"

#include <httplib.h>

#include "server/http/http_listener.h"

namespace resnet8 {

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(const std::string& address,
                                                                            std::function<std::string()> render,
                                                                            const HttpConnectionLimits& limits) {
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer);
  server->http_ = std::make_unique<httplib::Server>();
  server->http_->Get("/metrics", [render = std::move(render)](const httplib::Request&, httplib::Response& response) {
    response.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  absl::StatusOr<std::string> bound = ListenInBackground(*server->http_, address, "metrics", limits, &server->thread_);
  if (!bound.ok()) return bound.status();
  server->address_ = *bound;
  return server;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (http_ != nullptr) http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace resnet8
