#include "client/client_options.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace resnet8 {

absl::StatusOr<ClientCommand> ParseClientCommand(absl::string_view name) {
  if (name == "evaluate") return ClientCommand::kEvaluate;
  if (name == "compare") return ClientCommand::kCompare;
  if (name == "classify") return ClientCommand::kClassify;
  if (name == "health") return ClientCommand::kHealth;
  if (name == "info") return ClientCommand::kInfo;
  return absl::InvalidArgumentError(absl::StrCat("unknown command '", name, "'"));
}

absl::StatusOr<PixelLayout> ParsePixelLayout(absl::string_view name) {
  if (name == "planar") return PixelLayout::kChannelPlanar;
  if (name == "hwc") return PixelLayout::kInterleavedHwc;
  return absl::InvalidArgumentError(absl::StrCat("--layout='", name, "' must be planar or hwc"));
}

absl::Status ClientOptions::Validate() const {
  if (server.empty()) return absl::InvalidArgumentError("--server is empty");
  if (!tls_server_name.empty() && tls_ca_file.empty()) {
    return absl::InvalidArgumentError("--tls_server_name needs --tls_ca_file");
  }
  if (timeout < absl::ZeroDuration()) return absl::InvalidArgumentError("--timeout_seconds must not be negative");
  if (command != ClientCommand::kClassify && !arguments.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("this command takes no arguments, got '", arguments[0], "'"));
  }
  if (command != ClientCommand::kCompare && !compare_models.empty()) {
    return absl::InvalidArgumentError("--model names one model; only compare takes two");
  }
  switch (command) {
    case ClientCommand::kCompare:
      if (compare_models.size() != 2 || compare_models[0] == compare_models[1]) {
        return absl::InvalidArgumentError("compare needs two different models: --model=A --model=B");
      }
      if (!predictions_csv.empty() || !report_json.empty()) {
        return absl::InvalidArgumentError("compare writes --report_html only; evaluate each model for the others");
      }
      [[fallthrough]];
    case ClientCommand::kEvaluate:
      if (data.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(command == ClientCommand::kCompare ? "compare" : "evaluate", " needs --data=DIR_OR_FILE"));
      }
      if (!subset.empty() && subset != "perf200") {
        return absl::InvalidArgumentError(absl::StrCat("--subset='", subset, "' is unknown (known: perf200)"));
      }
      if (limit < 0) return absl::InvalidArgumentError("--limit must not be negative");
      if (batch_size < 1) return absl::InvalidArgumentError(absl::StrCat("--batch_size=", batch_size, " is below 1"));
      if (streams < 0) return absl::InvalidArgumentError(absl::StrCat("--streams=", streams, " is negative"));
      if (batches_per_stream < 0) {
        return absl::InvalidArgumentError(absl::StrCat("--batches_per_stream=", batches_per_stream, " is negative"));
      }
      if (reconnect_budget < absl::ZeroDuration()) {
        return absl::InvalidArgumentError("--reconnect_seconds must not be negative");
      }
      return absl::OkStatus();
    case ClientCommand::kClassify:
      if (arguments.empty() == (data.empty() || index < 0)) {
        return absl::InvalidArgumentError("classify needs IMAGE files, or --data=FILE with --index=N (not both)");
      }
      return absl::OkStatus();
    case ClientCommand::kHealth:
      if (!model.empty()) {
        return absl::InvalidArgumentError("health takes --service, not --model: health is the server's, not a model's");
      }
      return absl::OkStatus();
    case ClientCommand::kInfo:
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace resnet8
