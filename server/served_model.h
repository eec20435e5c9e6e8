// What the server says about the model it serves: a plain description that
// the program fills from the converted file and the service turns into
// GetModelInfo answers and Prometheus labels. Nothing here is a wire type.
//
//   ServedModel model;
//   model.sha256 = converted.sha256;
//   model.class_names = StandardCifar10ClassNames();
//   EvaluatorServer::Start(options, classifier, model);
#ifndef RESNET8_SERVER_SERVED_MODEL_H_
#define RESNET8_SERVER_SERVED_MODEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/check_result.h"

namespace resnet8 {

struct ServedModel {
  std::string file;           // the model file's base name
  std::string sha256;         // of the model file (.h5 or .keras)
  std::string keras_version;  // as the file states it
  std::string architecture;   // layer counts by class, e.g. "30 layers: 9 Conv2D, ..."
  bool outputs_are_logits = false;
  int64_t parameter_count = 0;  // stored weight values
  std::vector<std::string> class_names;
  // The Keras input and output layers' names: the tensor names of the Open
  // Inference Protocol (inference_core.h).
  std::string input_name = "input";
  std::string output_name = "output";
  std::string input_value_range;  // how pixels reach the model, in words
  std::vector<float> input_scale{1.0f}, input_offset{0.0f};
  std::string runtime;    // "LibTorch <version> (CPU, <path>; <precision>)"
  std::string precision;  // of the served module: "float32" or "float64"
  double convert_seconds = 0;
};

// What every API answers while the model is not ready to serve (startup,
// self-check, shutdown): UNAVAILABLE, which clients retry; 503 over HTTP.
inline absl::Status NotReadyError() {
  return absl::UnavailableError("the server is not ready (starting up or shutting down)");
}

}  // namespace resnet8

#endif  // RESNET8_SERVER_SERVED_MODEL_H_
