// resnet8_convert: converts a Keras .h5 or .keras image classifier for PyTorch.
//
//   resnet8_convert --model=pretrainedResnet.h5 --output=resnet8.pt
//   resnet8_convert --model=cnn.h5 --output=cnn.ts --format=torchscript --input_scale=1/255
//
// --format=state_dict (the default) writes the weights, keyed by Keras layer
// name in PyTorch layouts (torch.load gives a dict); --format=torchscript
// writes the whole model (torch.jit.load gives a module that runs it). Before
// writing, the module is checked against the Keras reference executor. Prints
// a summary; exits 1 with one message on any error, leaving no output file.
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
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "server/torch/model_export.h"
#include "server/torch/model_loader.h"
#include "server/torch/module_check.h"

ABSL_FLAG(std::string, model, "", "Keras model to convert, .h5 or .keras (recognized by content) (required)");
ABSL_FLAG(std::string, output, "", "where to write the PyTorch file (required)");
ABSL_FLAG(std::string, format, "state_dict",
          "state_dict: the weights, for torch.load; torchscript: the whole model, for torch.jit.load");
ABSL_FLAG(std::string, input_scale, "1",
          "the model sees pixel * input_scale + input_offset: one value, a fraction such as 1/255, or one per "
          "channel (R,G,B); written into the TorchScript module");
ABSL_FLAG(std::string, input_offset, "0", "see --input_scale; one value or one per channel");
ABSL_FLAG(std::string, precision, "auto",
          "arithmetic of a --format=torchscript module: auto (measured: float32 unless it can move a probability "
          "by more than 5e-6, half the 1e-5 faithfulness bar; then float64 inside, float32 in and out), "
          "float32 or float64. A state dict holds the weights as Keras stores them, float32");

namespace resnet8 {
namespace {

absl::Status Convert(const std::string& model_path, const std::string& output_path, const std::string& format) {
  if (format != "state_dict" && format != "torchscript") {
    return absl::InvalidArgumentError(absl::StrCat("--format='", format, "' is not one of state_dict, torchscript"));
  }
  ASSIGN_OR_RETURN(InputTransform transform,
                   ParseInputTransformFlags(absl::GetFlag(FLAGS_input_scale), absl::GetFlag(FLAGS_input_offset)));
  const absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(PrecisionPolicy policy, ParsePrecisionPolicy(absl::GetFlag(FLAGS_precision)));
  if (format == "state_dict") policy = PrecisionPolicy::kFloat32;
  ASSIGN_OR_RETURN(LoadedModel model, LoadKerasFile(model_path, transform));
  ASSIGN_OR_RETURN(ConvertedModule converted_module, BuildConvertedModule(model, policy));
  const torch::jit::Module& module = converted_module.module;
  const absl::Duration converted = absl::Now() - start;
  ASSIGN_OR_RETURN(CheckResult check,
                   CheckModuleAgainstReference(model.keras, module, CheckTolerance(converted_module.precision)));
  if (!check.passed) {
    return absl::InternalError(
        absl::StrCat(model_path, ": converted model disagrees with the Keras reference: ", check.detail));
  }
  std::string wrote;
  if (format == "state_dict") {
    RETURN_IF_ERROR(WriteStateDict(module, output_path));
    wrote = absl::StrCat(StateDictEntries(module).size(), " tensors");
  } else {
    RETURN_IF_ERROR(WriteTorchScript(module, output_path));
    wrote = "TorchScript module";
  }
  const Shape& output = model.keras.OutputShape();
  std::cout << "model:      " << model_path << "\n"
            << "sha256:     " << model.sha256 << "\n"
            << "keras:      " << (model.keras.keras_version.empty() ? "unknown" : model.keras.keras_version) << "\n"
            << "layers:     " << model.keras.Summary() << "\n"
            << "input:      [" << absl::StrJoin(model.keras.InputShape(), ", ") << "], "
            << model.keras.input_transform.ToString() << "\n"
            << "outputs:    [" << absl::StrJoin(output, ", ") << "] "
            << (model.keras.Outputs() == OutputKind::kProbabilities ? "probabilities (softmax)" : "logits") << "\n"
            << "parameters: " << model.keras.ParameterCount() << " stored values\n"
            << "precision:  " << converted_module.precision.detail << "\n"
            << "check:      " << check.detail << "\n"
            << "converted:  " << absl::StrFormat("%.3f s", absl::ToDoubleSeconds(converted)) << "\n"
            << "wrote:      " << output_path << " (" << wrote << ")\n";
  return absl::OkStatus();
}

}  // namespace
}  // namespace resnet8

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Converts a Keras .h5 or .keras image classifier for PyTorch.\n"
      "Usage: resnet8_convert --model=IN.h5|IN.keras --output=OUT [--format=state_dict|torchscript] "
      "[--input_scale=S] [--input_offset=O]");
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
  absl::Status status = resnet8::Convert(model, output, absl::GetFlag(FLAGS_format));
  if (!status.ok()) {
    std::cerr << "resnet8_convert: " << status.message() << "\n";
    return 1;
  }
  return 0;
}
