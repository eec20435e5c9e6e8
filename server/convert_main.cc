// resnet8_convert: converts a Keras .h5 ResNet8 into a PyTorch state dict.
//
//   resnet8_convert --model=pretrainedResnet.h5 --output=resnet8.pt
//
// Checks the converted model against the Keras reference executor before
// writing, prints a summary, and exits 1 with one message on any error,
// leaving no output file behind.
#include <cstdio>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "server/keras/self_check.h"
#include "server/torch/model_loader.h"
#include "server/torch/state_dict.h"
#include "server/torch/torch_classifier.h"

ABSL_FLAG(std::string, model, "", "Keras .h5 model to convert (required)");
ABSL_FLAG(std::string, output, "", "where to write the PyTorch state dict (.pt) (required)");

namespace resnet8 {
namespace {

absl::Status Convert(const std::string& model_path, const std::string& output_path) {
  ASSIGN_OR_RETURN(ConvertedModel model, ConvertKerasFile(model_path));
  ASSIGN_OR_RETURN(std::unique_ptr<TorchClassifier> classifier, TorchClassifier::Create(model.module, {}));
  ASSIGN_OR_RETURN(SelfCheckResult check, RunSelfCheck(model.keras, *classifier));
  if (!check.passed) {
    return absl::InternalError(
        absl::StrCat(model_path, ": converted model disagrees with the Keras reference: ", check.detail));
  }
  RETURN_IF_ERROR(WriteStateDict(*model.module, output_path));
  std::cout << "model:      " << model_path << "\n"
            << "sha256:     " << model.sha256 << "\n"
            << "keras:      " << (model.keras.keras_version.empty() ? "unknown" : model.keras.keras_version) << "\n"
            << "widths:     " << absl::StrJoin(model.module->spec().Widths(), "/") << " ("
            << model.module->spec().blocks.size() << " residual blocks)\n"
            << "parameters: " << model.keras.ParameterCount() << " stored values\n"
            << "self-check: " << check.detail << "\n"
            << "converted:  " << absl::StrFormat("%.3f s", model.convert_seconds) << "\n"
            << "wrote:      " << output_path << " (" << StateDictEntries(*model.module).size() << " tensors)\n";
  return absl::OkStatus();
}

}  // namespace
}  // namespace resnet8

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Converts a Keras .h5 ResNet8 into a PyTorch state dict.\n"
      "Usage: resnet8_convert --model=IN.h5 --output=OUT.pt");
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    std::cerr << "resnet8_convert: unexpected argument '" << positional[1] << "'\n";
    return 1;
  }
  const std::string model = absl::GetFlag(FLAGS_model), output = absl::GetFlag(FLAGS_output);
  if (model.empty() || output.empty()) {
    std::cerr << "resnet8_convert: both --model and --output are required\n";
    return 1;
  }
  absl::Status status = resnet8::Convert(model, output);
  if (!status.ok()) {
    std::cerr << "resnet8_convert: " << status.message() << "\n";
    return 1;
  }
  return 0;
}
