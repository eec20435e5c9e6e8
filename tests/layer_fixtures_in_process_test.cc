// Every one-layer fixture of tests/fixtures/write_layer_fixtures.py, converted
// in process: read, built as TorchScript (as converted and with BatchNorm
// folded, as served) and checked against the C++ reference executor. The
// shell test LayerFixtures checks the same files against tfjs-layers through
// the converter program; this one exists so that every layer's reading,
// building and reference code also runs under ASan and UBSan
// (scripts/sanitize.sh), where a hundred converter starts would take minutes.
// The .keras archives among them run the zip and archive readers there too.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "server/torch/model_loader.h"
#include "server/torch/module_check.h"
#include "server/torch/precision.h"
#include "server/torch/torchscript_builder.h"
#include "tests/support/program_runner.h"
#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

TEST(LayerFixturesInProcess, EveryFixtureConvertsAndMatchesTheReference) {
  const std::string dir = testing::MakeTempDir();
  const testing::ProgramResult written = testing::RunProgram(
      {"/usr/bin/python3", testing::SourceDir() + "/tests/fixtures/write_layer_fixtures.py", dir}, absl::Seconds(120));
  ASSERT_TRUE(written.ExitedWith(0)) << written.Describe();
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".h5" || entry.path().extension() == ".keras") {
      names.push_back(entry.path().filename().string());
    }
  }
  ASSERT_GE(names.size(), 100u) << written.output;
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    ASSERT_OK_AND_ASSIGN(LoadedModel model, LoadKerasFile(dir + "/" + name, {}));
    for (bool folded : {false, true}) {
      TorchModuleOptions options{.fold_batch_norm = folded};
      ASSERT_OK_AND_ASSIGN(PrecisionChoice precision,
                           ChoosePrecision(model.keras, options, PrecisionPolicy::kAuto, model.path));
      options.float64 = precision.precision == Precision::kFloat64;
      ASSERT_OK_AND_ASSIGN(torch::jit::Module module, BuildTorchModule(model.keras, options, model.path));
      ASSERT_OK_AND_ASSIGN(CheckResult check,
                           CheckModuleAgainstReference(model.keras, module, CheckTolerance(precision)));
      EXPECT_TRUE(check.passed) << (folded ? "folded: " : "") << check.detail << "; " << precision.detail;
    }
  }
  std::cout << names.size() << " fixtures converted, as converted and folded, and checked against the reference\n";
}

}  // namespace
}  // namespace resnet8
