// The HTTP/REST binding of the Open Inference Protocol (KServe v2), on its
// own address (--http_address), over TLS when the server has a certificate.
// Requests become the gRPC binding's messages (binary data as raw contents)
// and go through the same InferenceCore, so both bindings give the same
// answers and errors.
//
//   GET  /v2/health/live, /v2/health/ready           probes, open without a token
//   GET  /v2/models/{name}[/versions/{v}]/ready       probe, open
//   GET  /v2                                          server metadata
//   GET  /v2/models/{name}[/versions/{v}]             model metadata
//   GET  /v2/models/{name}[/versions/{v}]/config      Triton's model configuration
//   GET  /v2/models/{name}[/versions/{v}]/stats       Triton's statistics
//   GET  /v2/models/stats                             Triton's statistics of every model
//   POST /v2/models/{name}[/versions/{v}]/infer       JSON tensors; the binary-data extension
//   POST /v2/repository/index                         Triton's repository index ({"ready": true} optional)
//   POST /v2/repository/models/{name}/load            (re)load a model from the repository
//   POST /v2/repository/models/{name}/unload          unload it, after its requests finish
//
// Errors answer {"error": "..."} with 400 (bad JSON, name, datatype, shape or
// size), 401 (token), 404 (model, version or route), 413 (over the limits:
// max_batch_images, or the body size), 429 (overload), 503 (server or model
// not ready), 500 (the model failed). The body is bounded before it is
// parsed.
//
//   ASSIGN_OR_RETURN(auto http, InferenceHttpServer::Start(options, models, ready, metrics));
#ifndef RESNET8_SERVER_INFERENCE_INFERENCE_HTTP_H_
#define RESNET8_SERVER_INFERENCE_INFERENCE_HTTP_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "server/http/http_listener.h"
#include "server/repository/model_repository.h"
#include "server/service_metrics.h"

namespace httplib {
class Server;
}

namespace resnet8 {

struct InferenceHttpOptions {
  std::string address;  // HOST:PORT; port 0 picks a free one
  // PEM contents; both set means HTTPS.
  std::string tls_certificate_chain;
  std::string tls_private_key;
  std::string auth_token;  // "" means none; otherwise "Authorization: Bearer <token>"
  // The largest request body accepted (413 above it).
  int64_t max_body_bytes = 64 << 20;
  HttpConnectionLimits connections;
};

class InferenceHttpServer {
 public:
  // `models` and `metrics` must outlive the server; `ready` says whether the
  // server may be asked (its startup models are loaded, no shutdown yet).
  // Errors: INVALID_ARGUMENT for an address that is not HOST:PORT or TLS
  // material that does not load; UNAVAILABLE if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<InferenceHttpServer>> Start(const InferenceHttpOptions& options,
                                                                    ModelRepository& models,
                                                                    std::function<bool()> ready,
                                                                    ServiceMetrics* metrics);
  // Stops listening, lets requests in progress finish, joins the thread.
  ~InferenceHttpServer();

  const std::string& address() const { return address_; }
  bool tls() const { return tls_; }

 private:
  InferenceHttpServer() = default;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::string address_;
  bool tls_ = false;
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_INFERENCE_INFERENCE_HTTP_H_
