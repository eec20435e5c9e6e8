#include "server/metrics_http.h"

#include <httplib.h>

#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace resnet8 {

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(const std::string& address,
                                                                            std::function<std::string()> render) {
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("metrics address '", address, "' is not HOST:PORT"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);

  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer);
  server->http_ = std::make_unique<httplib::Server>();
  server->http_->Get("/metrics", [render = std::move(render)](const httplib::Request&, httplib::Response& response) {
    response.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  const int bound =
      port == 0 ? server->http_->bind_to_any_port(host) : (server->http_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for metrics on ", address));
  }
  server->address_ = absl::StrCat(address.substr(0, colon), ":", bound);
  server->thread_ = std::thread([http = server->http_.get()] { http->listen_after_bind(); });
  // stop() only stops a server that is already running: wait for it, so that
  // the destructor never joins a thread that has yet to start listening.
  while (!server->http_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return server;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (http_ != nullptr) http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace resnet8
