#include "server/http/http_listener.h"

#include <httplib.h>

#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace resnet8 {

absl::StatusOr<std::string> ListenInBackground(httplib::Server& http, const std::string& address,
                                               absl::string_view what, std::thread* thread) {
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(what, " address '", address, "' is not HOST:PORT"));
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const int bound = port == 0 ? http.bind_to_any_port(host) : (http.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) return absl::UnavailableError(absl::StrCat("cannot listen for ", what, " on ", address));
  *thread = std::thread([&http] { http.listen_after_bind(); });
  // stop() only stops a server that is already running: wait for it, so that
  // the owner never joins a thread that has yet to start listening.
  while (!http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return absl::StrCat(address.substr(0, colon), ":", bound);
}

}  // namespace resnet8
