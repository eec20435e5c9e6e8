// libFuzzer target: arbitrary bytes as the `model_config` JSON of a Keras
// file whose weights are those of a small valid ResNet fixture. Parsing,
// graph validation and shape inference must return a Status for anything;
// a graph they accept must run through the reference executor.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "server/keras/model.h"
#include "server/keras/reference_executor.h"
#include "tests/support/keras_fixture.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace resnet8;
  static const KerasH5File* fixture = [] {
    testing::ResNetFixtureOptions options;
    options.widths = {4, 8};
    return new KerasH5File(testing::MakeResNetFixture(options));
  }();
  KerasH5File file = *fixture;
  file.model_config_json.assign(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<KerasModel> model = BuildKerasModel(file, "fuzz.h5");
  if (!model.ok()) return 0;
  // Run an accepted graph on one image when its input is CIFAR-sized or
  // smaller (a larger declared input is valid Keras, just slow to fuzz).
  int64_t input_values = 1;
  const int input = model->Find(model->input_layer);
  if (input < 0) return 0;
  for (int64_t dim : model->layers[input].output_shape) input_values *= dim;
  if (input_values <= 0 || input_values > 32 * 32 * 3) return 0;
  std::vector<float> pixels(static_cast<size_t>(input_values), 100.0f);
  (void)RunKerasReference(*model, pixels, 1);
  return 0;
}
