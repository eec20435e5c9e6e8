// A fixed-seed fuzz loop over the real model: copies of pretrainedResnet.h5
// with random bytes overwritten must either load into a model that passes the
// startup self-check or be refused with a message naming the file. Never a
// crash, a hang, or a partial output file. Every case goes through the
// loading code in process; a sample also goes through the shipped converter
// and server programs, which must exit 0 or 1 (never a signal or a hang).
// The same for the model as a Keras 3 .keras archive (written by
// tests/fixtures/h5_to_keras.py): corrupted archive bytes, and corrupted
// config.json and model.weights.h5 members packed into a valid archive, so
// that the damage reaches the JSON and HDF5 readers past the zip's CRC-32.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/keras/keras_file.h"
#include "server/keras/model.h"
#include "server/keras/self_check.h"
#include "server/keras/zip_archive.h"
#include "server/torch/model_loader.h"
#include "tests/support/program_runner.h"
#include "tests/support/test_support.h"
#include "tests/support/zip_writer.h"

namespace resnet8 {
namespace {

constexpr uint64_t kSeed = 20261129;
constexpr int kCases = 1000;
constexpr int kProgramSampleEvery = 50;  // every 50th case of a shard also runs the converter and the server
// HDF5 keeps its metadata (superblock, object headers, attributes, the
// model_config JSON) at the front of the file and the weights after it; half
// the cases aim there, where corruption reaches the parser rather than a weight.
constexpr size_t kMetadataBytes = 64 << 10;

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteBytes(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

// Overwrites 1 to 16 random bytes of [begin, end); the same seed gives the
// same cases on every machine.
std::string CorruptSpan(const std::string& original, size_t begin, size_t end, std::mt19937_64& random,
                        std::string* what) {
  std::string bytes = original;
  const int count = 1 + static_cast<int>(random() % 16);
  for (int i = 0; i < count; ++i) {
    const size_t offset = begin + random() % (end - begin);
    const char value = static_cast<char>(random() % 256);
    absl::StrAppend(what, i == 0 ? "" : ",", offset, "=", absl::StrFormat("%02x", static_cast<uint8_t>(value)));
    bytes[offset] = value;
  }
  return bytes;
}

// A case of the .h5: half aimed at the HDF5 metadata, half anywhere.
std::string Corrupt(const std::string& original, int case_index, std::mt19937_64& random, std::string* what) {
  const size_t span = case_index % 2 == 0 ? std::min(kMetadataBytes, original.size()) : original.size();
  return CorruptSpan(original, 0, span, random, what);
}

enum class Outcome { kLoadedAndChecked, kRefused };

// The server's and the converter's loading road, in process.
absl::StatusOr<Outcome> Load(const std::string& path) {
  absl::StatusOr<KerasH5File> file = ReadKerasFile(path);
  if (!file.ok()) return file.status();
  absl::StatusOr<KerasModel> model = BuildKerasModel(*file, path);
  if (!model.ok()) return model.status();
  LoadedModel converted;
  converted.path = path;
  converted.keras = *model;
  absl::StatusOr<ServedClassifier> served = MakeServedClassifier(converted, true);
  if (!served.ok()) return served.status();
  absl::StatusOr<CheckResult> check = RunSelfCheck(*model, *served->classifier, CheckTolerance(served->precision));
  if (!check.ok()) return check.status();
  return check->passed ? Outcome::kLoadedAndChecked : Outcome::kRefused;
}

// Two shards, so that ctest runs the halves side by side on two cores. Each
// shard draws every case from the one seeded sequence and runs its own half:
// together they are the same 1,000 cases as one loop. Cases go to the shards
// in pairs (0,1 to shard 0; 2,3 to shard 1; ...), so that each gets as many
// cases aimed at the metadata (even) as at the whole file (odd).
constexpr int kShards = 2;
using CaseMaker = std::function<std::string(int case_index, std::mt19937_64& random, std::string* what)>;

// Runs this shard's cases of `make`, each written as case<i>.<extension>.
void RunShard(int shard, const std::string& extension, const CaseMaker& make) {
  const std::string dir = testing::MakeTempDir();
  std::mt19937_64 random(kSeed);
  int loaded = 0, refused = 0, hdf5_stopped = 0, self_check_failed = 0, programs_run = 0, cases = 0;
  for (int i = 0; i < kCases; ++i) {
    std::string what;
    const std::string bytes = make(i, random, &what);
    if ((i / 2) % kShards != shard) continue;
    ++cases;
    const std::string path = absl::StrCat(dir, "/case", i, ".", extension);
    WriteBytes(path, bytes);
    SCOPED_TRACE(absl::StrCat("case ", i, " (offset=byte: ", what, ")"));

    absl::StatusOr<Outcome> outcome = Load(path);
    if (outcome.ok() && *outcome == Outcome::kLoadedAndChecked) {
      ++loaded;
    } else if (outcome.ok()) {
      ++refused;  // the server refuses to serve a model that fails its self-check
      ++self_check_failed;
    } else {
      ++refused;
      EXPECT_NE(outcome.status().message().find(path), std::string::npos) << outcome.status();
      if (absl::StrContains(outcome.status().message(), "reading the file with HDF5")) {
        ++hdf5_stopped;  // a crash or a loop inside libhdf5, contained by the child process
        std::cout << "case " << i << " (" << what << "): " << outcome.status().message() << "\n";
      }
    }

    if ((cases - 1) % kProgramSampleEvery != 0) continue;
    ++programs_run;
    const std::string output = path + ".pt";
    testing::ProgramResult convert = testing::RunProgram(
        {testing::ProgramPath("resnet8_convert"), "--model=" + path, "--output=" + output}, absl::Seconds(120));
    if (convert.ExitedWith(0)) {
      EXPECT_TRUE(std::filesystem::exists(output)) << convert.Describe();
    } else {
      EXPECT_TRUE(convert.ExitedWith(1)) << convert.Describe();
      EXPECT_NE(convert.output.find(path), std::string::npos) << convert.Describe();
      EXPECT_FALSE(std::filesystem::exists(output)) << "a refused conversion left " << output;
    }
    std::error_code ignored;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << "partial file " << entry.path();
    }
    std::filesystem::remove(output, ignored);

    auto server = testing::ServerProcess::Start(
        {testing::ProgramPath("resnet8_server"), "--model=" + path, "--address=127.0.0.1:0"});
    absl::StatusOr<std::string> address = server->WaitUntilListening(absl::Seconds(120));
    if (address.ok()) {
      EXPECT_TRUE(convert.ExitedWith(0)) << "the server serves a model the converter refused";
      server->Signal(SIGTERM);
      testing::ProgramResult stopped = server->Wait(absl::Seconds(60));
      EXPECT_TRUE(stopped.ExitedWith(0)) << stopped.Describe();
    } else {
      testing::ProgramResult failed = server->Wait(absl::Seconds(1));
      EXPECT_TRUE(failed.ExitedWith(1)) << failed.Describe();
      EXPECT_NE(failed.output.find(path), std::string::npos) << failed.Describe();
    }
    std::filesystem::remove(path, ignored);
  }
  const std::string summary = absl::StrCat(
      cases, " of ", kCases, " corrupted .", extension, " models (seed ", kSeed, ", shard ", shard, "): ", loaded,
      " loaded and passed the self-check, ", refused, " refused with a message naming the file (", hdf5_stopped,
      " stopped in the HDF5 reader process, ", self_check_failed, " failed the self-check); ", programs_run,
      " also run through resnet8_convert and resnet8_server");
  std::cout << summary << "\n";
  ::testing::Test::RecordProperty("summary", summary);
  EXPECT_GT(refused, 0) << "no case was refused: the corruption did not reach the readers";
}

class ModelFuzz : public ::testing::TestWithParam<int> {};

TEST_P(ModelFuzz, CorruptedModelsLoadCheckedOrAreRefusedWithAMessage) {
  const std::string original = ReadBytes(testing::SharedModelPath());
  ASSERT_GT(original.size(), kMetadataBytes);
  RunShard(GetParam(), "h5",
           [&](int i, std::mt19937_64& random, std::string* what) { return Corrupt(original, i, random, what); });
}

// The .keras form of the same model, in four kinds of case: archive bytes
// anywhere; the zip's own records (the local headers at the front, the
// directory at the end); config.json; and the HDF5 metadata at the front of
// model.weights.h5. The member cases are packed into a valid archive.
TEST_P(ModelFuzz, CorruptedKerasArchivesLoadCheckedOrAreRefusedWithAMessage) {
  const std::string keras_path = testing::MakeTempDir() + "/resnet8.keras";
  const testing::ProgramResult written =
      testing::RunProgram({"/usr/bin/python3", testing::SourceDir() + "/tests/fixtures/h5_to_keras.py",
                           testing::SharedModelPath(), keras_path},
                          absl::Seconds(60));
  ASSERT_TRUE(written.ExitedWith(0)) << written.Describe();
  const std::string original = ReadBytes(keras_path);
  ASSERT_OK_AND_ASSIGN(ZipArchive archive, ZipArchive::Open(keras_path));
  testing::ZipMembers members;
  for (const ZipMember& member : archive.members()) {
    ASSERT_OK_AND_ASSIGN(std::string contents, archive.Read(member, uint64_t{1} << 30));
    members.emplace_back(member.name, std::move(contents));
  }
  ASSERT_EQ(members.size(), 3u);
  ASSERT_EQ(members[1].first, "config.json");
  ASSERT_EQ(members[2].first, "model.weights.h5");
  RunShard(GetParam(), "keras", [&](int i, std::mt19937_64& random, std::string* what) -> std::string {
    // In fours, so that both shards (which take the cases in pairs) get every kind.
    const int kind = (i / 4) % 4;
    switch (kind) {
      case 0:
        return CorruptSpan(original, 0, original.size(), random, what);
      case 1: {
        const bool front = random() % 2 == 0;
        return front ? CorruptSpan(original, 0, 512, random, what)
                     : CorruptSpan(original, original.size() - 512, original.size(), random, what);
      }
      default: {
        testing::ZipMembers corrupted = members;
        std::string& contents = corrupted[kind == 2 ? 1 : 2].second;
        absl::StrAppend(what, kind == 2 ? "config.json " : "model.weights.h5 ");
        contents = CorruptSpan(contents, 0, std::min(contents.size(), kMetadataBytes), random, what);
        return testing::ZipBytes(corrupted);
      }
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Shards, ModelFuzz, ::testing::Range(0, kShards));

}  // namespace
}  // namespace resnet8
