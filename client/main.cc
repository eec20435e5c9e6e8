// resnet8_client: command-line client of the ResNet8 evaluation service.
//
//   resnet8_client evaluate --server=HOST:PORT --data=DIR_OR_FILE [--batch_size=N] [--limit=N]
//                           [--subset=perf200] [--report_json=F] [--predictions_csv=F] [--report_html=F]
//   resnet8_client classify --server=HOST:PORT IMAGE.png|IMAGE.jpg...
//   resnet8_client classify --server=HOST:PORT --data=FILE --index=N
//   resnet8_client health   --server=HOST:PORT      (exit 0 only when SERVING)
//   resnet8_client info     --server=HOST:PORT
//
// Errors: one line on stderr and exit code 1 (2 for usage errors: an unknown
// command, a flag out of range). The work is client_commands.h's.
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "client/client_commands.h"
#include "client/client_options.h"
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
ABSL_FLAG(std::string, model, "",
          "evaluate, classify, info: the server's model, by name (see the server's repository index); empty asks "
          "its default model");
ABSL_FLAG(std::string, auth_token_file, "", "file holding the bearer token the server requires");
ABSL_FLAG(int, streams, 0,
          "evaluate: concurrent streams sharing the batches, spread over the replicas; 0 means one per server in "
          "--server's list (give at least the replica count for a DNS name)");

namespace resnet8 {
namespace {

constexpr char kUsage[] =
    "Client of the ResNet8 evaluation service.\n"
    "Usage: resnet8_client <evaluate|compare|classify|health|info> --server=HOST:PORT [flags]\n"
    "  evaluate --data=DIR_OR_FILE [--model=NAME] [--batch_size=N] [--limit=N] [--subset=perf200]\n"
    "           (a CIFAR-10 batch file or folder, or an MLPerf Tiny folder with y_labels.csv)\n"
    "           [--report_json=FILE] [--predictions_csv=FILE] [--report_html=FILE]\n"
    "  compare --model=A --model=B --data=DIR_OR_FILE [--limit=N] [--report_html=FILE]\n"
    "  classify IMAGE...   or   classify --data=FILE --index=N\n"
    "  health | info\n"
    "Security: [--tls_ca_file=CA.pem [--tls_server_name=NAME]] [--auth_token_file=FILE]";

// Each flag maps to one field; Validate() judges them.
absl::StatusOr<ClientOptions> OptionsFromFlags(const std::vector<std::string>& args,
                                               const std::vector<std::string>& models) {
  ClientOptions options;
  ASSIGN_OR_RETURN(options.command, ParseClientCommand(args[0]));
  options.arguments.assign(args.begin() + 1, args.end());
  options.server = absl::GetFlag(FLAGS_server);
  options.tls_ca_file = absl::GetFlag(FLAGS_tls_ca_file);
  options.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  options.auth_token_file = absl::GetFlag(FLAGS_auth_token_file);
  // absl keeps the last of a repeated flag; compare takes --model twice.
  if (models.size() > 1) {
    options.compare_models = models;
  } else {
    options.model = absl::GetFlag(FLAGS_model);
  }
  options.timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_seconds));
  options.data = absl::GetFlag(FLAGS_data);
  options.subset = absl::GetFlag(FLAGS_subset);
  options.limit = absl::GetFlag(FLAGS_limit);
  options.batch_size = absl::GetFlag(FLAGS_batch_size);
  ASSIGN_OR_RETURN(options.layout, ParsePixelLayout(absl::GetFlag(FLAGS_layout)));
  options.streams = absl::GetFlag(FLAGS_streams);
  options.batches_per_stream = absl::GetFlag(FLAGS_batches_per_stream);
  options.reconnect_budget = absl::Seconds(absl::GetFlag(FLAGS_reconnect_seconds));
  options.report_json = absl::GetFlag(FLAGS_report_json);
  options.predictions_csv = absl::GetFlag(FLAGS_predictions_csv);
  options.report_html = absl::GetFlag(FLAGS_report_html);
  options.index = absl::GetFlag(FLAGS_index);
  options.service = absl::GetFlag(FLAGS_service);
  RETURN_IF_ERROR(options.Validate());
  return options;
}

int Run(const std::vector<std::string>& args, const std::vector<std::string>& models) {
  if (args.empty()) {
    std::cerr << kUsage << "\n";
    return 2;
  }
  if (!ParseClientCommand(args[0]).ok()) {
    std::cerr << "resnet8_client: unknown command '" << args[0] << "'\n" << kUsage << "\n";
    return 2;
  }
  absl::StatusOr<ClientOptions> options = OptionsFromFlags(args, models);
  if (!options.ok()) {  // a usage error
    std::cerr << "resnet8_client: " << options.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<int> exit_code = RunClientCommand(*options, std::cout);
  if (!exit_code.ok()) {
    std::cerr << "resnet8_client: " << exit_code.status().message() << "\n";
    return 1;
  }
  return *exit_code;
}

}  // namespace
}  // namespace resnet8

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(resnet8::kUsage);
  // Every --model=NAME, in order (compare takes two).
  std::vector<std::string> models;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;
    for (const char* prefix : {"--model=", "-model="}) {
      if (arg.rfind(prefix, 0) == 0) models.push_back(arg.substr(std::string(prefix).size()));
    }
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  return resnet8::Run(std::vector<std::string>(positional.begin() + 1, positional.end()), models);
}
