// resnet8_server: converts Keras .h5 or .keras image classifiers at startup, checks them, and
// serves the resnet8.v1.Evaluator gRPC API and the Open Inference Protocol with standard health checking.
//
//   resnet8_server --model=pretrainedResnet.h5 [--address=127.0.0.1:50051]
//   resnet8_server --model_repository=models/   # one model per subfolder, polled for changes
//
// Exit codes: 0 after a clean shutdown (SIGTERM or SIGINT); 1 if the model
// cannot be loaded, fails its self-check, or the address cannot be bound.
#include <glog/logging.h>
#include <signal.h>

#include <iostream>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "common/credential_files.h"
#include "common/status_macros.h"
#include "server/model_server.h"
#include "server/torch/malloc_tuning.h"

ABSL_FLAG(std::string, model, "",
          "Keras model to serve, .h5 or .keras (recognized by content), named --model_name; or --model_repository");
ABSL_FLAG(std::string, model_repository, "",
          "folder of models to serve, one per subfolder named after the model (a Keras file and an optional "
          "settings.txt); or --model");
ABSL_FLAG(std::string, default_model, "",
          "with --model_repository: the model a request without a model name asks; empty means the first name");
ABSL_FLAG(double, repository_poll_seconds, 5,
          "with --model_repository: how often the folder is compared with what is loaded (new and changed models "
          "load, removed ones unload); 0 turns polling off");
ABSL_FLAG(int, max_loaded_models, 8, "most models loaded at once; loading one more is refused");
ABSL_FLAG(std::string, address, "127.0.0.1:50051",
          "HOST:PORT to listen on; port 0 picks a free one. Loopback unless you choose otherwise");
ABSL_FLAG(int64_t, max_batch_images, 1024, "most images per request batch (1,024 fit gRPC's default 4 MiB)");
ABSL_FLAG(int64_t, max_concurrent_streams, 32,
          "EvaluateDataset streams open at once; more are refused with RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, max_queued_images, 4096,
          "images of Classify and ModelInfer calls (gRPC and REST) admitted and not yet answered; a call that would "
          "go over is refused at once with RESOURCE_EXHAUSTED (REST: 429)");
ABSL_FLAG(int, http_max_connections, 1024,
          "connections each HTTP port (REST, metrics) serves at once, one thread each; more wait for one to close");
ABSL_FLAG(int64_t, http_read_timeout_ms, 5000,
          "HTTP ports: a connection whose request (or reply) stalls this long is closed");
ABSL_FLAG(int, http_idle_timeout_seconds, 5, "HTTP ports: a keep-alive connection idle this long is closed");
ABSL_FLAG(int, http_max_requests_per_connection, 100, "HTTP ports: requests one keep-alive connection may carry");
ABSL_FLAG(double, shutdown_grace_seconds, 10, "on SIGTERM/SIGINT, how long in-flight calls may finish");
ABSL_FLAG(int, compute_threads, 0,
          "inference threads, each running whole forward passes (optimized path); 0 means one per core");
ABSL_FLAG(int, threads, 0,
          "OpenMP threads of each inference thread; 0 means the cores divided among the inference threads, "
          "and every core for a pass with nothing else queued or running");
ABSL_FLAG(int64_t, batching_delay_us, 0,
          "dynamic batching: how long the inference thread may wait for more small requests to fill a "
          "forward pass; 0 merges only requests already waiting (no added latency)");
ABSL_FLAG(std::string, tls_cert_file, "", "PEM certificate chain: serve over TLS (needs --tls_key_file)");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file");
ABSL_FLAG(std::string, auth_token_file, "",
          "file holding a bearer token that every call must send ('authorization: Bearer <token>'); "
          "health checks and the inference protocol's live/ready probes stay open");
ABSL_FLAG(std::string, metrics_address, "",
          "HOST:PORT for Prometheus metrics over HTTP (GET /metrics); off when empty; port 0 picks a free one");
ABSL_FLAG(std::string, http_address, "",
          "HOST:PORT for the Open Inference Protocol's HTTP/REST binding (/v2/...); off when empty; over TLS "
          "with the TLS flags; port 0 picks a free one");
ABSL_FLAG(std::string, model_name, "resnet8",
          "with --model: the model's name in every API (the Open Inference Protocol's model name)");
ABSL_FLAG(std::string, input_scale, "1",
          "the model sees pixel * input_scale + input_offset (pixel 0..255): one value, a fraction such as 1/255, "
          "or one per channel (R,G,B). For models trained on x/255: --input_scale=1/255");
ABSL_FLAG(std::string, input_offset, "0", "see --input_scale; one value or one per channel, e.g. -0.5,-0.5,-0.5");
ABSL_FLAG(std::string, precision, "auto",
          "arithmetic of the served module: auto (measured at startup: float32 unless it can move a probability "
          "by more than 5e-6, half the 1e-5 faithfulness bar; then float64, about 10x slower), float32 or "
          "float64");
ABSL_FLAG(bool, optimize, true,
          "serve the fast path: BatchNorm folded into the convolutions, channels-last, cache-sized passes "
          "(same results within float rounding; the self-check verifies it). false serves the module exactly "
          "as converted, run the straightforward way");

namespace resnet8 {
namespace {

// The flags as options; errors name the flag.
absl::StatusOr<ModelServerOptions> OptionsFromFlags() {
  ModelServerOptions options;
  options.model_path = absl::GetFlag(FLAGS_model);
  options.repository.folder = absl::GetFlag(FLAGS_model_repository);
  options.repository.default_model = absl::GetFlag(FLAGS_default_model);
  options.repository.max_models = absl::GetFlag(FLAGS_max_loaded_models);
  options.poll_period = absl::Seconds(absl::GetFlag(FLAGS_repository_poll_seconds));
  ASSIGN_OR_RETURN(options.input_transform,
                   ParseInputTransformFlags(absl::GetFlag(FLAGS_input_scale), absl::GetFlag(FLAGS_input_offset)));
  ASSIGN_OR_RETURN(options.precision, ParsePrecisionPolicy(absl::GetFlag(FLAGS_precision)));
  options.optimize = absl::GetFlag(FLAGS_optimize);
  options.inference.compute_threads = absl::GetFlag(FLAGS_compute_threads);
  options.inference.threads = absl::GetFlag(FLAGS_threads);
  options.inference.batching_delay = absl::Microseconds(absl::GetFlag(FLAGS_batching_delay_us));
  ServerOptions& server = options.server;
  server.address = absl::GetFlag(FLAGS_address);
  server.limits.max_batch_images = absl::GetFlag(FLAGS_max_batch_images);
  server.limits.max_concurrent_streams = absl::GetFlag(FLAGS_max_concurrent_streams);
  server.limits.max_queued_images = absl::GetFlag(FLAGS_max_queued_images);
  server.http_connections.max_connections = absl::GetFlag(FLAGS_http_max_connections);
  server.http_connections.read_timeout = absl::Milliseconds(absl::GetFlag(FLAGS_http_read_timeout_ms));
  server.http_connections.idle_timeout = absl::Seconds(absl::GetFlag(FLAGS_http_idle_timeout_seconds));
  server.http_connections.max_requests_per_connection = absl::GetFlag(FLAGS_http_max_requests_per_connection);
  server.shutdown_grace = absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds));
  server.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  server.model_name = absl::GetFlag(FLAGS_model_name);
  server.http_address = absl::GetFlag(FLAGS_http_address);
  const std::string cert = absl::GetFlag(FLAGS_tls_cert_file), key = absl::GetFlag(FLAGS_tls_key_file);
  if (cert.empty() != key.empty()) {
    return absl::InvalidArgumentError("--tls_cert_file and --tls_key_file go together");
  }
  if (!cert.empty()) {
    ASSIGN_OR_RETURN(server.tls_certificate_chain, ReadPemFile(cert));
    ASSIGN_OR_RETURN(server.tls_private_key, ReadPemFile(key));
  }
  if (const std::string token = absl::GetFlag(FLAGS_auth_token_file); !token.empty()) {
    ASSIGN_OR_RETURN(server.auth_token, ReadTokenFile(token));
  }
  RETURN_IF_ERROR(options.Validate());
  return options;
}

absl::Status Serve(const sigset_t& stop_signals) {
  ASSIGN_OR_RETURN(ModelServerOptions options, OptionsFromFlags());
  ASSIGN_OR_RETURN(std::unique_ptr<ModelServer> server, ModelServer::Start(options));
  if (!server->metrics_address().empty()) LOG(INFO) << "metrics on http://" << server->metrics_address() << "/metrics";
  if (!server->http_address().empty()) {
    LOG(INFO) << "http on " << (options.server.tls_certificate_chain.empty() ? "http://" : "https://")
              << server->http_address();
  }
  LOG(INFO) << "listening on " << server->address();
  const IdleMemoryRelease release([&server] { return server->inferences().calls; });
  int signal = 0;
  sigwait(&stop_signals, &signal);
  LOG(INFO) << "received " << strsignal(signal) << ": draining (grace "
            << absl::FormatDuration(options.server.shutdown_grace) << ")";
  server->Shutdown();
  LOG(INFO) << "stopped";
  return absl::OkStatus();
}

}  // namespace
}  // namespace resnet8

int main(int argc, char** argv) {
  const bool malloc_tuned = resnet8::KeepFreedMemoryForReuse();
  // Block the stop signals before any thread starts, so that every thread
  // inherits the mask and only sigwait() sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::SetProgramUsageMessage(
      "Serves a Keras image classifier converted to LibTorch over gRPC.\n"
      "Usage: resnet8_server --model=PATH.h5|PATH.keras | --model_repository=DIR [--address=HOST:PORT]");
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  if (!malloc_tuned) LOG(WARNING) << "glibc refused the malloc settings; inference will be slower";
  if (positional.size() > 1) {
    std::cerr << "resnet8_server: unexpected argument '" << positional[1] << "'\n";
    return 1;
  }
  if (absl::Status status = resnet8::Serve(stop_signals); !status.ok()) {
    std::cerr << "resnet8_server: " << status.message() << "\n";
    return 1;
  }
  return 0;
}
