#include "server/torch/model_export.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "server/torch/model_loader.h"
#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

torch::jit::Module SharedModule() {
  absl::StatusOr<LoadedModel> model = LoadKerasFile(testing::SharedModelPath(), {});
  EXPECT_TRUE(model.ok()) << model.status();
  absl::StatusOr<ConvertedModule> converted = BuildConvertedModule(*model);
  EXPECT_TRUE(converted.ok()) << converted.status();
  return converted->module;
}

TEST(StateDict, WritesKerasNamedTensorsInPyTorchLayouts) {
  torch::jit::Module module = SharedModule();
  const std::string path = testing::MakeTempDir() + "/resnet8.pt";
  ASSERT_OK(WriteStateDict(module, path));
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  c10::Dict<c10::IValue, c10::IValue> dict = torch::jit::pickle_load(bytes).toGenericDict();
  EXPECT_EQ(dict.size(), 48u);  // 9 conv x2 + 7 BN x4 + dense x2
  EXPECT_EQ(dict.at("conv2d_3.weight").toTensor().sizes(), (c10::IntArrayRef{32, 16, 3, 3}));
  EXPECT_EQ(dict.at("dense.weight").toTensor().sizes(), (c10::IntArrayRef{10, 64}));
  EXPECT_TRUE(dict.contains("batch_normalization.running_var"));
  EXPECT_FALSE(dict.contains("batch_normalization.num_batches_tracked"));
  EXPECT_TRUE(
      torch::equal(dict.at("conv2d.weight").toTensor(), module.attr("conv2d").toModule().attr("weight").toTensor()));
}

TEST(TorchScript, SavedModuleLoadsAndGivesTheSameOutputs) {
  torch::jit::Module module = SharedModule();
  const std::string path = testing::MakeTempDir() + "/resnet8.ts";
  ASSERT_OK(WriteTorchScript(module, path));
  torch::jit::Module loaded = torch::jit::load(path);
  torch::manual_seed(3);
  torch::Tensor input = torch::rand({2, 3, 32, 32}) * 255;
  EXPECT_TRUE(torch::equal(loaded.forward({input}).toTensor(), module.forward({input}).toTensor()));
}

TEST(StateDict, FailureLeavesNoFileBehind) {
  torch::jit::Module module = SharedModule();
  const std::string dir = testing::MakeTempDir();
  EXPECT_STATUS(WriteStateDict(module, dir + "/no_such_dir/resnet8.pt"), absl::StatusCode::kInvalidArgument,
                "no_such_dir/resnet8.pt");
  EXPECT_STATUS(WriteTorchScript(module, dir + "/no_such_dir/resnet8.ts"), absl::StatusCode::kInvalidArgument,
                "no_such_dir/resnet8.ts");
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

}  // namespace
}  // namespace resnet8
