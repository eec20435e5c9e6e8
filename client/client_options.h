// Everything one run of resnet8_client is asked to do, as one value with one
// Validate(). main.cc only maps flags (and the positional arguments) to it;
// RunClientCommand (client_commands.h) carries it out.
//
//   ClientOptions options;
//   options.command = ClientCommand::kEvaluate;
//   options.server = "127.0.0.1:50051";
//   options.data = "../shared/data/cifar-10-batches-bin";
//   RETURN_IF_ERROR(options.Validate());
//   ASSIGN_OR_RETURN(int exit_code, RunClientCommand(options, std::cout));
#ifndef RESNET8_CLIENT_CLIENT_OPTIONS_H_
#define RESNET8_CLIENT_CLIENT_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/image.h"

namespace resnet8 {

enum class ClientCommand { kEvaluate, kCompare, kClassify, kHealth, kInfo };

// "evaluate", "compare", "classify", "health" or "info"; INVALID_ARGUMENT otherwise.
absl::StatusOr<ClientCommand> ParseClientCommand(absl::string_view name);

struct ClientOptions {
  ClientCommand command = ClientCommand::kInfo;
  // classify: the PNG/JPEG files given as arguments. The other commands take
  // no arguments.
  std::vector<std::string> arguments;

  // Where: HOST:PORT, a DNS name with several replicas, or a comma-separated
  // list of IPv4 HOST:PORT replicas (evaluator_client.h).
  std::string server = "127.0.0.1:50051";
  std::string tls_ca_file;                  // trust these PEM certificates: connect over TLS
  std::string tls_server_name;              // the name in the server's certificate, if not the host
  std::string auth_token_file;              // the bearer token the server requires
  std::string model;                        // evaluate, classify, info: the server's model; "" is its default
  std::vector<std::string> compare_models;  // compare: the two models (--model given twice)
  // The deadline of each call; zero means the command's default: none for
  // evaluate, 10 s for classify and info, 5 s for health.
  absl::Duration timeout = absl::ZeroDuration();

  // evaluate, compare and classify --index: a CIFAR-10 batch file or folder,
  // or (evaluate and compare) an MLPerf Tiny folder.
  std::string data;
  std::string subset;  // "" or "perf200"
  int64_t limit = 0;   // the first N records (of the subset); 0 means all
  int64_t batch_size = 500;
  PixelLayout layout = PixelLayout::kChannelPlanar;
  int streams = 0;  // 0: one per server listed in `server`
  int batches_per_stream = 16;
  absl::Duration reconnect_budget = absl::Seconds(60);
  std::string report_json, predictions_csv, report_html;  // "" writes none

  int64_t index = -1;   // classify: the record of `data` to classify
  std::string service;  // health: the service to check; "" is the whole server

  // INVALID_ARGUMENT naming the flag when an option is out of range or does
  // not belong to the command. What only the data or the server can tell
  // (a subset of an MLPerf folder, a batch above the server's limit) is
  // checked when the command runs.
  absl::Status Validate() const;
};

// "planar" or "hwc", as --layout spells them.
absl::StatusOr<PixelLayout> ParsePixelLayout(absl::string_view name);

}  // namespace resnet8

#endif  // RESNET8_CLIENT_CLIENT_OPTIONS_H_
