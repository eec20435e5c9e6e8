// Test fixtures in the Keras 2.x .h5 layout, made at test time: a writer over
// the HDF5 API, and a generator of ResNet-v1 graphs of any widths and layer
// names with random weights (not trained: for exactness tests, not accuracy).
//
//   KerasH5File file = MakeResNetFixture({.widths = {26, 52, 104}, .name_offset = 9});
//   ASSERT_OK(WriteKerasH5File(file, dir + "/resnet26.h5"));
#ifndef RESNET8_TESTS_SUPPORT_KERAS_FIXTURE_H_
#define RESNET8_TESTS_SUPPORT_KERAS_FIXTURE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "server/keras/h5_file.h"

namespace resnet8::testing {

struct ResNetFixtureOptions {
  // Base width of each stack; the MLPerf Tiny reference is {16, 32, 64}.
  std::vector<int64_t> widths = {16, 32, 64};
  // Added to every layer-name number, to mimic a later Keras session
  // (offset 9: "conv2d_9", "batch_normalization_9", ...).
  int name_offset = 0;
  unsigned seed = 1;
  double epsilon = 1e-3;
};

KerasH5File MakeResNetFixture(const ResNetFixtureOptions& options);

// Writes `file` as Keras does: root attributes model_config, keras_version
// and backend; model_weights/layer_names; each layer's weight_names and
// datasets at model_weights/<layer>/<weight name>.
absl::Status WriteKerasH5File(const KerasH5File& file, const std::string& path);

// Unlinks one object (group or dataset) from an existing file, to make files
// whose metadata promises what is not there.
absl::Status DeleteH5Object(const std::string& path, const std::string& object);

// Finds a stored weight by its full name ("conv2d/kernel:0"), or nullptr.
KerasWeight* FindWeight(KerasH5File& file, const std::string& name);

}  // namespace resnet8::testing

#endif  // RESNET8_TESTS_SUPPORT_KERAS_FIXTURE_H_
