// resnet8_client: command-line client of the ResNet8 evaluation service.
//
//   resnet8_client evaluate --server=HOST:PORT --data=DIR_OR_FILE [--batch_size=N] [--limit=N]
//                           [--subset=perf200] [--report_json=F] [--predictions_csv=F] [--report_html=F]
//   resnet8_client classify --server=HOST:PORT IMAGE.png|IMAGE.jpg...
//   resnet8_client classify --server=HOST:PORT --data=FILE --index=N
//   resnet8_client health   --server=HOST:PORT      (exit 0 only when SERVING)
//   resnet8_client info     --server=HOST:PORT
//
// Errors: one line on stderr and exit code 1 (2 for usage errors).
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/evaluator_client.h"
#include "client/html_report.h"
#include "client/image_file.h"
#include "client/report.h"
#include "common/cifar10.h"
#include "common/classification_metrics.h"
#include "common/credential_files.h"
#include "common/mlperf_tiny_folder.h"
#include "common/sha256.h"
#include "common/status_macros.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051",
          "HOST:PORT of resnet8_server; a DNS name resolving to several replicas, or a comma-separated list of "
          "IPv4 HOST:PORT replicas, spreads evaluate's streams over them (round_robin)");
ABSL_FLAG(std::string, data, "",
          "CIFAR-10 binary batch file, a directory holding test_batch.bin, or an MLPerf Tiny dataset folder "
          "(per-image HWC .bin files and y_labels.csv)");
ABSL_FLAG(int64_t, batch_size, 500, "images per request (at most the server's max_batch_images)");
ABSL_FLAG(int64_t, limit, 0, "evaluate only the first N records (of the subset, if any); 0 means all");
ABSL_FLAG(std::string, subset, "", "'perf200': the 200-image MLPerf Tiny performance subset");
ABSL_FLAG(std::string, report_json, "", "write the report as JSON to this file");
ABSL_FLAG(std::string, predictions_csv, "", "write one row per image to this CSV file");
ABSL_FLAG(std::string, report_html, "",
          "write a self-contained HTML report (charts, calibration, the most confidently wrong images)");
ABSL_FLAG(std::string, layout, "planar", "pixel layout sent on the wire: planar (CIFAR's) or hwc");
ABSL_FLAG(int64_t, index, -1, "classify: the record number in --data to classify");
ABSL_FLAG(double, timeout_seconds, 0, "deadline of each call; 0 means none for evaluate, 10 s otherwise");
ABSL_FLAG(std::string, service, "", "health: the service to check; '' is the whole server");
ABSL_FLAG(double, reconnect_seconds, 60,
          "evaluate: if the server goes away mid-run (or, once admitted, refuses a new stream at its limit), keep "
          "reconnecting (backoff 0.1 s to 5 s) and resend the unanswered batches for this long without progress; "
          "0 fails at once");
ABSL_FLAG(int, batches_per_stream, 16,
          "evaluate: batches one stream carries before the next stream takes over, which spreads the work over "
          "replicas and brings a restarted one back; 0 keeps each stream (and its server slot) to the end");
ABSL_FLAG(std::string, tls_ca_file, "", "PEM certificates to trust: connect over TLS");
ABSL_FLAG(std::string, tls_server_name, "",
          "the name the server's certificate carries, if not the host in --server (e.g. localhost)");
ABSL_FLAG(std::string, auth_token_file, "", "file holding the bearer token the server requires");
ABSL_FLAG(int, streams, 0,
          "evaluate: concurrent streams sharing the batches, spread over the replicas; 0 means one per server in "
          "--server's list (give at least the replica count for a DNS name)");

namespace resnet8 {
namespace {

constexpr char kUsage[] =
    "Client of the ResNet8 evaluation service.\n"
    "Usage: resnet8_client <evaluate|classify|health|info> --server=HOST:PORT [flags]\n"
    "  evaluate --data=DIR_OR_FILE [--batch_size=N] [--limit=N] [--subset=perf200]\n"
    "           (a CIFAR-10 batch file or folder, or an MLPerf Tiny folder with y_labels.csv)\n"
    "           [--report_json=FILE] [--predictions_csv=FILE] [--report_html=FILE]\n"
    "  classify IMAGE...   or   classify --data=FILE --index=N\n"
    "  health | info\n"
    "Security: [--tls_ca_file=CA.pem [--tls_server_name=NAME]] [--auth_token_file=FILE]";

absl::Duration Timeout(absl::Duration fallback) {
  const double seconds = absl::GetFlag(FLAGS_timeout_seconds);
  return seconds > 0 ? absl::Seconds(seconds) : fallback;
}

// Prefixes errors from the server with where it is, so that "connection
// refused" says which server.
absl::Status AtServer(const absl::Status& status) {
  if (status.ok()) return status;
  if (status.code() == absl::StatusCode::kUnavailable || status.code() == absl::StatusCode::kDeadlineExceeded) {
    return absl::Status(status.code(), absl::StrCat("server ", absl::GetFlag(FLAGS_server),
                                                    " unreachable or not ready: ", status.message()));
  }
  return absl::Status(status.code(), absl::StrCat("server ", absl::GetFlag(FLAGS_server), ": ", status.message()));
}

// A bar on a terminal, a line per 10% otherwise (logs, CI).
class Progress {
 public:
  Progress() : terminal_(isatty(STDERR_FILENO) != 0) {}
  void Update(int64_t done, int64_t total) {
    if (terminal_) {
      const int width = 40, filled = static_cast<int>(width * done / total);
      std::cerr << "\r[" << std::string(filled, '=') << std::string(width - filled, ' ') << "] " << done << "/" << total
                << " images" << (done == total ? "\n" : "") << std::flush;
    } else if (done * 10 / total > last_decile_ || done == total) {
      last_decile_ = done * 10 / total;
      std::cerr << "evaluated " << done << "/" << total << " images\n";
    }
  }

 private:
  bool terminal_;
  int64_t last_decile_ = 0;
};

// A CIFAR-10 batch file (or a folder with test_batch.bin), or an MLPerf Tiny
// dataset folder (per-image .bin files and y_labels.csv).
absl::StatusOr<CifarDataset> ReadData(const std::string& path) {
  return IsMlperfTinyFolder(path) ? ReadMlperfTinyFolder(path) : ReadCifar10(path);
}

absl::StatusOr<LabeledImages> SelectImages(const CifarDataset& dataset) {
  LabeledImages images = dataset.images;
  const std::string subset = absl::GetFlag(FLAGS_subset);
  if (!subset.empty() && !images.files.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--subset picks CIFAR-10 test records; ", dataset.path,
                                                   " lists its own images: leave --subset out"));
  }
  if (subset == "perf200") {
    ASSIGN_OR_RETURN(images, SelectRecords(dataset.images, Perf200Indices()));
  } else if (!subset.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--subset='", subset, "' is unknown (known: perf200)"));
  }
  const int64_t limit = absl::GetFlag(FLAGS_limit);
  if (limit < 0) return absl::InvalidArgumentError("--limit must not be negative");
  if (limit > 0 && limit < images.size()) {
    std::vector<int64_t> first(limit);
    for (int64_t i = 0; i < limit; ++i) first[i] = i;
    ASSIGN_OR_RETURN(images, SelectRecords(images, first));
  }
  return images;
}

absl::Status Evaluate(const EvaluatorClient& client) {
  const std::string data = absl::GetFlag(FLAGS_data);
  if (data.empty()) return absl::InvalidArgumentError("evaluate needs --data=DIR_OR_FILE");
  ASSIGN_OR_RETURN(CifarDataset dataset, ReadData(data));
  ASSIGN_OR_RETURN(LabeledImages images, SelectImages(dataset));
  EvaluateOptions options;
  options.batch_size = absl::GetFlag(FLAGS_batch_size);
  const std::string layout = absl::GetFlag(FLAGS_layout);
  if (layout != "planar" && layout != "hwc") {
    return absl::InvalidArgumentError(absl::StrCat("--layout='", layout, "' must be planar or hwc"));
  }
  options.layout = layout == "hwc" ? PixelLayout::kInterleavedHwc : PixelLayout::kChannelPlanar;
  options.timeout = Timeout(absl::InfiniteDuration());
  options.reconnect_budget = absl::Seconds(absl::GetFlag(FLAGS_reconnect_seconds));
  options.batches_per_stream = absl::GetFlag(FLAGS_batches_per_stream);
  options.streams =
      absl::GetFlag(FLAGS_streams) > 0 ? absl::GetFlag(FLAGS_streams) : CountListedServers(absl::GetFlag(FLAGS_server));
  Progress progress;
  options.on_progress = [&progress](int64_t done, int64_t total) { progress.Update(done, total); };

  absl::StatusOr<v1::ModelInfo> info = client.GetModelInfo(Timeout(absl::Seconds(10)));
  if (!info.ok()) return AtServer(info.status());
  if (options.batch_size > static_cast<int64_t>(info->limits().max_batch_images())) {
    return absl::InvalidArgumentError(absl::StrCat("--batch_size=", options.batch_size,
                                                   " exceeds the server's max_batch_images of ",
                                                   info->limits().max_batch_images()));
  }
  absl::StatusOr<EvaluationResult> result = client.Evaluate(images, options);
  if (!result.ok()) return AtServer(result.status());
  if (result->reconnects > 0) {
    std::cerr << "resnet8_client: the server was unreachable during the run; reconnected " << result->reconnects
              << " time(s) and resent " << result->resent_batches << " unanswered batch(es)\n";
  }

  ReportContext context;
  context.server = absl::GetFlag(FLAGS_server);
  context.model_sha256 = info->model_sha256();
  context.outputs_are_logits = info->outputs_are_logits();
  context.data_path = dataset.path;
  ASSIGN_OR_RETURN(context.data_sha256, Sha256OfFile(dataset.path));
  context.subset = absl::GetFlag(FLAGS_subset);
  context.class_names = dataset.class_names;
  std::cout << FormatReport(*result, context);
  if (const std::string path = absl::GetFlag(FLAGS_report_json); !path.empty()) {
    RETURN_IF_ERROR(WriteReportJson(path, *result, context));
  }
  if (const std::string path = absl::GetFlag(FLAGS_predictions_csv); !path.empty()) {
    RETURN_IF_ERROR(WritePredictionsCsv(path, *result));
  }
  if (const std::string path = absl::GetFlag(FLAGS_report_html); !path.empty()) {
    RETURN_IF_ERROR(WriteReportHtml(path, *result, context, images));
  }
  return absl::OkStatus();
}

void PrintPrediction(const std::string& what, const v1::Prediction& prediction) {
  std::cout << absl::StrFormat("%s: %d %s (p=%.4f)\n", what, prediction.predicted_class(),
                               prediction.predicted_class_name(),
                               prediction.probabilities(static_cast<int>(prediction.predicted_class())));
}

absl::Status Classify(const EvaluatorClient& client, const std::vector<std::string>& files) {
  std::vector<uint8_t> pixels;
  std::vector<std::string> names;
  PixelLayout layout = PixelLayout::kInterleavedHwc;
  const int64_t index = absl::GetFlag(FLAGS_index);
  if (!files.empty()) {
    for (const std::string& file : files) {
      ASSIGN_OR_RETURN(std::vector<uint8_t> image, LoadImageFile(file));
      pixels.insert(pixels.end(), image.begin(), image.end());
      names.push_back(file);
    }
  } else if (!absl::GetFlag(FLAGS_data).empty() && index >= 0) {
    ASSIGN_OR_RETURN(CifarDataset dataset, ReadCifar10(absl::GetFlag(FLAGS_data)));
    const int64_t wanted[] = {index};
    ASSIGN_OR_RETURN(LabeledImages one, SelectRecords(dataset.images, wanted));
    pixels = one.pixels;
    layout = PixelLayout::kChannelPlanar;
    names.push_back(absl::StrCat(dataset.path, " record ", index, " (label ", one.labels[0], " ",
                                 dataset.class_names[one.labels[0]], ")"));
  } else {
    return absl::InvalidArgumentError("classify needs IMAGE files, or --data=FILE with --index=N");
  }
  const ImageBatchView batch{pixels, static_cast<int64_t>(names.size()), layout};
  absl::StatusOr<v1::ClassifyResponse> response = client.Classify(batch, Timeout(absl::Seconds(10)));
  if (!response.ok()) return AtServer(response.status());
  for (int i = 0; i < response->predictions_size(); ++i) PrintPrediction(names[i], response->predictions(i));
  return absl::OkStatus();
}

absl::StatusOr<int> Health(const EvaluatorClient& client) {
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> status =
      client.CheckHealth(absl::GetFlag(FLAGS_service), Timeout(absl::Seconds(5)));
  if (!status.ok()) return AtServer(status.status());
  std::cout << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(*status) << "\n";
  return *status == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}

absl::Status Info(const EvaluatorClient& client) {
  absl::StatusOr<v1::ModelInfo> info = client.GetModelInfo(Timeout(absl::Seconds(10)));
  if (!info.ok()) return AtServer(info.status());
  std::cout << "model:        " << info->model_file() << " (Keras " << info->keras_version() << ")\n"
            << "sha256:       " << info->model_sha256() << "\n"
            << "layers:       " << info->architecture() << "\n"
            << "outputs:      " << info->class_names_size() << " "
            << (info->outputs_are_logits() ? "logits (probabilities are their softmax)" : "probabilities (softmax)")
            << "\n"
            << "parameters:   " << info->parameter_count() << "\n"
            << "input:        " << info->input().height() << "x" << info->input().width() << "x"
            << info->input().channels() << ", " << info->input().value_range() << "\n"
            << "classes:      " << absl::StrJoin(info->class_names(), ", ") << "\n"
            << "self-check:   " << info->self_check().detail() << "\n"
            << "max batch:    " << info->limits().max_batch_images() << " images\n"
            << "runtime:      " << info->runtime() << "\n"
            << "converted in: " << absl::StrFormat("%.3f s", info->convert_seconds()) << "\n";
  return absl::OkStatus();
}

absl::StatusOr<ConnectOptions> ConnectOptionsFromFlags() {
  ConnectOptions options;
  if (const std::string ca = absl::GetFlag(FLAGS_tls_ca_file); !ca.empty()) {
    ASSIGN_OR_RETURN(options.tls_root_certificates, ReadPemFile(ca));
  }
  options.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  if (!options.tls_server_name.empty() && options.tls_root_certificates.empty()) {
    return absl::InvalidArgumentError("--tls_server_name needs --tls_ca_file");
  }
  if (const std::string token = absl::GetFlag(FLAGS_auth_token_file); !token.empty()) {
    ASSIGN_OR_RETURN(options.auth_token, ReadTokenFile(token));
  }
  return options;
}

int Run(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::cerr << kUsage << "\n";
    return 2;
  }
  const std::string& command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  absl::StatusOr<ConnectOptions> connect = ConnectOptionsFromFlags();
  if (!connect.ok()) {
    std::cerr << "resnet8_client: " << connect.status().message() << "\n";
    return 1;
  }
  if (absl::StatusOr<std::string> target = ChannelTarget(absl::GetFlag(FLAGS_server)); !target.ok()) {
    std::cerr << "resnet8_client: --server: " << target.status().message() << "\n";
    return 1;
  }
  EvaluatorClient client(EvaluatorClient::Connect(absl::GetFlag(FLAGS_server), *connect), connect->auth_token);
  absl::Status status;
  if (command == "evaluate" || command == "health" || command == "info") {
    if (!rest.empty()) {
      std::cerr << "resnet8_client: " << command << " takes no arguments, got '" << rest[0] << "'\n";
      return 2;
    }
  }
  if (command == "evaluate") {
    status = Evaluate(client);
  } else if (command == "classify") {
    status = Classify(client, rest);
  } else if (command == "health") {
    absl::StatusOr<int> code = Health(client);
    if (code.ok()) return *code;
    status = code.status();
  } else if (command == "info") {
    status = Info(client);
  } else {
    std::cerr << "resnet8_client: unknown command '" << command << "'\n" << kUsage << "\n";
    return 2;
  }
  if (!status.ok()) {
    std::cerr << "resnet8_client: " << status.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace resnet8

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(resnet8::kUsage);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  return resnet8::Run(std::vector<std::string>(positional.begin() + 1, positional.end()));
}
