#include "server/torch/state_dict.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "server/torch/keras_to_torch.h"
#include "tests/test_support.h"

namespace resnet8 {
namespace {

ResNet8 SharedModule() {
  absl::StatusOr<KerasModel> keras = LoadKerasModel(testing::SharedModelPath());
  EXPECT_TRUE(keras.ok()) << keras.status();
  absl::StatusOr<ResNet8> module = ConvertToTorch(*keras, "shared");
  EXPECT_TRUE(module.ok()) << module.status();
  return *module;
}

TEST(StateDict, WritesKerasNamedTensorsInPyTorchLayouts) {
  ResNet8 module = SharedModule();
  const std::string path = testing::MakeTempDir() + "/resnet8.pt";
  ASSERT_OK(WriteStateDict(*module, path));
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  c10::Dict<c10::IValue, c10::IValue> dict = torch::pickle_load(bytes).toGenericDict();
  EXPECT_EQ(dict.size(), 48u);  // 9 conv x2 + 7 BN x4 + dense x2
  EXPECT_EQ(dict.at("conv2d_3.weight").toTensor().sizes(), (c10::IntArrayRef{32, 16, 3, 3}));
  EXPECT_EQ(dict.at("dense.weight").toTensor().sizes(), (c10::IntArrayRef{10, 64}));
  EXPECT_TRUE(dict.contains("batch_normalization.running_var"));
  EXPECT_FALSE(dict.contains("batch_normalization.num_batches_tracked"));
  EXPECT_TRUE(torch::equal(dict.at("conv2d.weight").toTensor(), module->conv("conv2d")->weight));
}

TEST(StateDict, FailureLeavesNoFileBehind) {
  ResNet8 module = SharedModule();
  const std::string dir = testing::MakeTempDir();
  EXPECT_STATUS(WriteStateDict(*module, dir + "/no_such_dir/resnet8.pt"), absl::StatusCode::kInvalidArgument,
                "no_such_dir/resnet8.pt");
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

}  // namespace
}  // namespace resnet8
