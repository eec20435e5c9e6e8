#include "client/client_commands.h"

#include <unistd.h>

#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/comparison_report.h"
#include "client/evaluator_client.h"
#include "client/html_report.h"
#include "client/image_file.h"
#include "client/report.h"
#include "common/cifar10.h"
#include "common/credential_files.h"
#include "common/mlperf_tiny_folder.h"
#include "common/sha256.h"
#include "common/status_macros.h"

namespace resnet8 {
namespace {

// One command's view of the options: its connection, its deadline.
class Command {
 public:
  Command(const ClientOptions& options, const ConnectOptions& connect, std::ostream& out)
      : options_(options), client_(EvaluatorClient::Connect(options.server, connect), connect.auth_token), out_(out) {}

  absl::Status Evaluate();
  absl::Status Compare();
  absl::Status Classify();
  absl::StatusOr<int> Health();
  absl::Status Info();

 private:
  absl::Duration Timeout(absl::Duration fallback) const {
    return options_.timeout > absl::ZeroDuration() ? options_.timeout : fallback;
  }
  // Prefixes errors from the server with where it is, so that "connection
  // refused" says which server.
  absl::Status AtServer(const absl::Status& status) const;
  absl::StatusOr<LabeledImages> SelectImages(const CifarDataset& dataset) const;

  const ClientOptions& options_;
  EvaluatorClient client_;
  std::ostream& out_;
};

absl::Status Command::AtServer(const absl::Status& status) const {
  if (status.ok()) return status;
  if (status.code() == absl::StatusCode::kUnavailable || status.code() == absl::StatusCode::kDeadlineExceeded) {
    return absl::Status(status.code(),
                        absl::StrCat("server ", options_.server, " unreachable or not ready: ", status.message()));
  }
  return absl::Status(status.code(), absl::StrCat("server ", options_.server, ": ", status.message()));
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

absl::StatusOr<LabeledImages> Command::SelectImages(const CifarDataset& dataset) const {
  LabeledImages images = dataset.images;
  if (!options_.subset.empty() && !images.files.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--subset picks CIFAR-10 test records; ", dataset.path,
                                                   " lists its own images: leave --subset out"));
  }
  if (options_.subset == "perf200") {
    ASSIGN_OR_RETURN(images, SelectRecords(dataset.images, Perf200Indices()));
  }
  if (options_.limit > 0 && options_.limit < images.size()) {
    std::vector<int64_t> first(options_.limit);
    for (int64_t i = 0; i < options_.limit; ++i) first[i] = i;
    ASSIGN_OR_RETURN(images, SelectRecords(images, first));
  }
  return images;
}

absl::Status Command::Evaluate() {
  ASSIGN_OR_RETURN(CifarDataset dataset, ReadData(options_.data));
  ASSIGN_OR_RETURN(LabeledImages images, SelectImages(dataset));
  EvaluateOptions evaluate;
  evaluate.batch_size = options_.batch_size;
  evaluate.model_name = options_.model;
  evaluate.layout = options_.layout;
  evaluate.timeout = Timeout(absl::InfiniteDuration());
  evaluate.reconnect_budget = options_.reconnect_budget;
  evaluate.batches_per_stream = options_.batches_per_stream;
  evaluate.streams = options_.streams > 0 ? options_.streams : CountListedServers(options_.server);
  Progress progress;
  evaluate.on_progress = [&progress](int64_t done, int64_t total) { progress.Update(done, total); };

  absl::StatusOr<v1::ModelInfo> info = client_.GetModelInfo(Timeout(absl::Seconds(10)), options_.model);
  if (!info.ok()) return AtServer(info.status());
  if (evaluate.batch_size > static_cast<int64_t>(info->limits().max_batch_images())) {
    return absl::InvalidArgumentError(absl::StrCat("--batch_size=", evaluate.batch_size,
                                                   " exceeds the server's max_batch_images of ",
                                                   info->limits().max_batch_images()));
  }
  evaluate.model_version = info->model_version();  // the whole run on the version serving now
  absl::StatusOr<EvaluationResult> result = client_.Evaluate(images, evaluate);
  if (!result.ok()) return AtServer(result.status());
  if (result->reconnects > 0) {
    std::cerr << "resnet8_client: the server was unreachable during the run; reconnected " << result->reconnects
              << " time(s) and resent " << result->resent_batches << " unanswered batch(es)\n";
  }

  ReportContext context;
  context.server = options_.server;
  context.model_sha256 = info->model_sha256();
  context.outputs_are_logits = info->outputs_are_logits();
  context.data_path = dataset.path;
  ASSIGN_OR_RETURN(context.data_sha256, Sha256OfFile(dataset.path));
  context.subset = options_.subset;
  context.class_names = dataset.class_names;
  out_ << FormatReport(*result, context);
  if (!options_.report_json.empty()) RETURN_IF_ERROR(WriteReportJson(options_.report_json, *result, context));
  if (!options_.predictions_csv.empty()) RETURN_IF_ERROR(WritePredictionsCsv(options_.predictions_csv, *result));
  if (!options_.report_html.empty()) {
    RETURN_IF_ERROR(WriteReportHtml(options_.report_html, *result, context, images));
  }
  return absl::OkStatus();
}

absl::Status Command::Compare() {
  ASSIGN_OR_RETURN(CifarDataset dataset, ReadData(options_.data));
  ASSIGN_OR_RETURN(LabeledImages images, SelectImages(dataset));
  std::vector<ComparedModel> models(2);
  std::vector<absl::Status> failures(2);
  std::vector<std::thread> runs;
  // Both at once, on the same images: the server interleaves their streams.
  for (int m = 0; m < 2; ++m) {
    runs.emplace_back([&, m] {
      ComparedModel& model = models[m];
      model.name = options_.compare_models[m];
      absl::StatusOr<v1::ModelInfo> info = client_.GetModelInfo(Timeout(absl::Seconds(10)), model.name);
      if (!info.ok()) {
        failures[m] = AtServer(info.status());
        return;
      }
      if (options_.batch_size > static_cast<int64_t>(info->limits().max_batch_images())) {
        failures[m] = absl::InvalidArgumentError(absl::StrCat("--batch_size=", options_.batch_size,
                                                              " exceeds the server's max_batch_images of ",
                                                              info->limits().max_batch_images()));
        return;
      }
      model.version = absl::StrCat(info->model_version());
      EvaluateOptions evaluate;
      evaluate.batch_size = options_.batch_size;
      evaluate.model_name = model.name;
      evaluate.model_version = info->model_version();
      evaluate.layout = options_.layout;
      evaluate.timeout = Timeout(absl::InfiniteDuration());
      evaluate.reconnect_budget = options_.reconnect_budget;
      evaluate.batches_per_stream = options_.batches_per_stream;
      evaluate.streams = options_.streams > 0 ? options_.streams : CountListedServers(options_.server);
      absl::StatusOr<EvaluationResult> result = client_.Evaluate(images, evaluate);
      if (!result.ok()) {
        failures[m] = AtServer(absl::Status(result.status().code(),
                                            absl::StrCat("model '", model.name, "': ", result.status().message())));
        return;
      }
      model.result = *std::move(result);
    });
  }
  for (std::thread& run : runs) run.join();
  for (const absl::Status& failure : failures) RETURN_IF_ERROR(failure);
  ASSIGN_OR_RETURN(ModelComparison comparison, CompareEvaluations(std::move(models[0]), std::move(models[1])));
  out_ << FormatComparison(comparison, dataset.class_names, 20);
  if (!options_.report_html.empty()) {
    RETURN_IF_ERROR(WriteComparisonHtml(options_.report_html, comparison, dataset.class_names, images));
  }
  return absl::OkStatus();
}

absl::Status Command::Classify() {
  std::vector<uint8_t> pixels;
  std::vector<std::string> names;
  PixelLayout layout = PixelLayout::kInterleavedHwc;
  if (!options_.arguments.empty()) {
    for (const std::string& file : options_.arguments) {
      ASSIGN_OR_RETURN(std::vector<uint8_t> image, LoadImageFile(file));
      pixels.insert(pixels.end(), image.begin(), image.end());
      names.push_back(file);
    }
  } else {
    ASSIGN_OR_RETURN(CifarDataset dataset, ReadCifar10(options_.data));
    const int64_t wanted[] = {options_.index};
    ASSIGN_OR_RETURN(LabeledImages one, SelectRecords(dataset.images, wanted));
    pixels = one.pixels;
    layout = PixelLayout::kChannelPlanar;
    names.push_back(absl::StrCat(dataset.path, " record ", options_.index, " (label ", one.labels[0], " ",
                                 dataset.class_names[one.labels[0]], ")"));
  }
  const ImageBatchView batch{pixels, static_cast<int64_t>(names.size()), layout};
  absl::StatusOr<v1::ClassifyResponse> response = client_.Classify(batch, Timeout(absl::Seconds(10)), options_.model);
  if (!response.ok()) return AtServer(response.status());
  for (int i = 0; i < response->predictions_size(); ++i) {
    const v1::Prediction& prediction = response->predictions(i);
    out_ << absl::StrFormat("%s: %d %s (p=%.4f)\n", names[i], prediction.predicted_class(),
                            prediction.predicted_class_name(),
                            prediction.probabilities(static_cast<int>(prediction.predicted_class())));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Command::Health() {
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> status =
      client_.CheckHealth(options_.service, Timeout(absl::Seconds(5)));
  if (!status.ok()) return AtServer(status.status());
  out_ << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(*status) << "\n";
  return *status == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}

absl::Status Command::Info() {
  absl::StatusOr<v1::ModelInfo> info = client_.GetModelInfo(Timeout(absl::Seconds(10)), options_.model);
  if (!info.ok()) return AtServer(info.status());
  out_ << "model:        " << info->model_name() << " version " << info->model_version() << ": " << info->model_file()
       << " (Keras " << info->keras_version() << ")\n"
       << "sha256:       " << info->model_sha256() << "\n"
       << "layers:       " << info->architecture() << "\n"
       << "outputs:      " << info->class_names_size() << " "
       << (info->outputs_are_logits() ? "logits (probabilities are their softmax)" : "probabilities (softmax)") << "\n"
       << "parameters:   " << info->parameter_count() << "\n"
       << "input:        " << info->input().height() << "x" << info->input().width() << "x" << info->input().channels()
       << ", " << info->input().value_range() << "\n"
       << "classes:      " << absl::StrJoin(info->class_names(), ", ") << "\n"
       << "self-check:   " << info->self_check().detail() << "\n"
       << "max batch:    " << info->limits().max_batch_images() << " images\n"
       << "runtime:      " << info->runtime() << "\n"
       << "converted in: " << absl::StrFormat("%.3f s", info->convert_seconds()) << "\n";
  return absl::OkStatus();
}

absl::StatusOr<ConnectOptions> ReadConnectOptions(const ClientOptions& options) {
  ConnectOptions connect;
  if (!options.tls_ca_file.empty()) {
    ASSIGN_OR_RETURN(connect.tls_root_certificates, ReadPemFile(options.tls_ca_file));
  }
  connect.tls_server_name = options.tls_server_name;
  if (!options.auth_token_file.empty()) {
    ASSIGN_OR_RETURN(connect.auth_token, ReadTokenFile(options.auth_token_file));
  }
  return connect;
}

}  // namespace

absl::StatusOr<int> RunClientCommand(const ClientOptions& options, std::ostream& out) {
  RETURN_IF_ERROR(options.Validate());
  ASSIGN_OR_RETURN(ConnectOptions connect, ReadConnectOptions(options));
  if (absl::StatusOr<std::string> target = ChannelTarget(options.server); !target.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--server: ", target.status().message()));
  }
  Command command(options, connect, out);
  switch (options.command) {
    case ClientCommand::kEvaluate:
      RETURN_IF_ERROR(command.Evaluate());
      return 0;
    case ClientCommand::kCompare:
      RETURN_IF_ERROR(command.Compare());
      return 0;
    case ClientCommand::kClassify:
      RETURN_IF_ERROR(command.Classify());
      return 0;
    case ClientCommand::kHealth:
      return command.Health();
    case ClientCommand::kInfo:
      RETURN_IF_ERROR(command.Info());
      return 0;
  }
  return absl::InternalError("unknown client command");
}

}  // namespace resnet8
