// ModelRepository with a fake loader: names, the default model, swaps that
// never change a held version, failed loads that keep the old one, the
// model limit, draining unloads, and polling a folder.
#include "server/repository/model_repository.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <thread>

#include "common/file.h"
#include "tests/support/fake_classifier.h"
#include "tests/support/test_support.h"

namespace resnet8 {
namespace {

// Loads any source whose file (if it has one) does not hold "bad"; each
// load gets a new sha256 ("load-1", "load-2", ...).
class FakeLoader {
 public:
  ModelLoader loader() {
    return [this](const ModelSource& source) -> absl::StatusOr<LoadedClassifier> {
      loads_.fetch_add(1);
      if (!source.model_path.empty()) {
        absl::StatusOr<std::string> bytes = ReadFileBytes(source.model_path);
        if (!bytes.ok()) return bytes.status();
        if (*bytes == "bad") return absl::InvalidArgumentError(source.model_path + ": not a model");
      }
      LoadedClassifier loaded;
      loaded.classifier = std::make_shared<FirstByteClassifier>();
      loaded.description = FakeServedModel();
      loaded.description.sha256 = "load-" + std::to_string(loads_.load());
      loaded.self_check.passed = true;
      return loaded;
    };
  }
  int loads() const { return loads_.load(); }

 private:
  std::atomic<int> loads_{0};
};

ModelSource Source(const std::string& name, const std::string& path = "") {
  ModelSource source;
  source.name = name;
  source.model_path = path;
  return source;
}

TEST(ModelRepository, FindsModelsByNameAndTheDefaultByAnEmptyName) {
  FakeLoader fake;
  ModelRepository models(fake.loader(), {}, {}, nullptr);
  ASSERT_OK(models.Add(Source("b")));
  ASSERT_OK(models.Add(Source("a")));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const ModelVersion> a, models.Find(""));
  EXPECT_EQ(a->name(), "a");  // the first name, without a default_model
  EXPECT_EQ(a->version(), 1);
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const ModelVersion> b, models.Find("b", "1"));
  EXPECT_EQ(b->name(), "b");
  EXPECT_STATUS(models.Find("c"), absl::StatusCode::kNotFound, "no model named 'c'; this server has a, b");
  EXPECT_STATUS(models.Find("b", "2"), absl::StatusCode::kNotFound,
                "model 'b' has no version '2'; it serves version 1");
  EXPECT_STATUS(models.Add(Source("no/slash")), absl::StatusCode::kInvalidArgument, "model name 'no/slash'");
}

TEST(ModelRepository, ASwapLeavesHeldVersionsAloneAndAFailedLoadKeepsTheOldVersion) {
  const std::string file = testing::MakeTempDir() + "/model.h5";
  ASSERT_OK(WriteFileAtomically(file, "good"));
  FakeLoader fake;
  RepositoryOptions options;
  options.retired_grace = absl::Seconds(60);
  ModelRepository models(fake.loader(), options, {}, nullptr);
  int changes = 0;
  models.set_on_change([&changes] { ++changes; });
  ASSERT_OK(models.Add(Source("m", file)));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const ModelVersion> held, models.Find("m"));

  ASSERT_OK(models.Load("m"));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const ModelVersion> now, models.Find("m"));
  EXPECT_EQ(held->version(), 1);  // unchanged under its holder
  EXPECT_EQ(held->description().sha256, "load-1");
  EXPECT_EQ(now->version(), 2);
  EXPECT_EQ(changes, 2);
  // The replaced version stays findable by number for the grace period.
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const ModelVersion> pinned, models.Find("m", "1"));
  EXPECT_EQ(pinned, held);

  ASSERT_OK(WriteFileAtomically(file, "bad"));
  EXPECT_STATUS(models.Load("m"), absl::StatusCode::kInvalidArgument, "not a model");
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const ModelVersion> still, models.Find("m"));
  EXPECT_EQ(still->version(), 2);
  std::vector<ModelIndexEntry> index = models.Index();
  ASSERT_EQ(index.size(), 1u);
  EXPECT_EQ(index[0].state, ModelState::kReady);
  EXPECT_NE(index[0].reason.find("version 2 keeps serving"), std::string::npos) << index[0].reason;
}

TEST(ModelRepository, RefusesAModelOverTheLimitNamingIt) {
  FakeLoader fake;
  RepositoryOptions options;
  options.max_models = 2;
  ModelRepository models(fake.loader(), options, {}, nullptr);
  ASSERT_OK(models.Add(Source("a")));
  ASSERT_OK(models.Add(Source("b")));
  EXPECT_STATUS(models.Add(Source("c")), absl::StatusCode::kResourceExhausted, "--max_loaded_models");
  EXPECT_EQ(fake.loads(), 2);  // refused before converting anything
}

TEST(ModelRepository, UnloadStopsNewRequestsAndWaitsForHeldOnes) {
  FakeLoader fake;
  ModelRepository models(fake.loader(), {}, {}, nullptr);
  ASSERT_OK(models.Add(Source("m")));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const ModelVersion> held, models.Find("m"));
  std::atomic<bool> released{false};
  std::thread request([&] {
    absl::SleepFor(absl::Milliseconds(200));
    released.store(true);
    held.reset();
  });
  ASSERT_OK(models.Unload("m"));
  EXPECT_TRUE(released.load());  // Unload returned only after the request let go
  request.join();
  EXPECT_STATUS(models.Find("m"), absl::StatusCode::kUnavailable, "model 'm' is not loaded: unloaded");
  EXPECT_STATUS(models.Unload("m"), absl::StatusCode::kNotFound, "model 'm' is not loaded");
}

TEST(ModelRepository, PollLoadsNewAndChangedModelsAndUnloadsRemovedOnes) {
  const std::string folder = testing::MakeTempDir();
  ASSERT_EQ(mkdir((folder + "/a").c_str(), 0755), 0);
  ASSERT_OK(WriteFileAtomically(folder + "/a/model.h5", "good"));
  FakeLoader fake;
  RepositoryOptions options;
  options.folder = folder;
  ModelRepository models(fake.loader(), options, {}, nullptr);
  ASSERT_OK(models.LoadFolder());

  ASSERT_EQ(mkdir((folder + "/b").c_str(), 0755), 0);
  ASSERT_OK(WriteFileAtomically(folder + "/b/model.keras", "good"));
  ASSERT_EQ(mkdir((folder + "/empty").c_str(), 0755), 0);
  ASSERT_OK(models.Poll());
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const ModelVersion> b, models.Find("b"));
  EXPECT_EQ(b->version(), 1);
  EXPECT_STATUS(models.Find("empty"), absl::StatusCode::kUnavailable, "holds no .h5, .hdf5 or .keras file");
  const int loads = fake.loads();
  ASSERT_OK(models.Poll());  // nothing changed: nothing loads
  EXPECT_EQ(fake.loads(), loads);

  // A changed file (another size) loads again; a bad one keeps the old.
  ASSERT_OK(WriteFileAtomically(folder + "/a/model.h5", "better"));
  ASSERT_OK(models.Poll());
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const ModelVersion> a, models.Find("a"));
  EXPECT_EQ(a->version(), 2);
  ASSERT_OK(WriteFileAtomically(folder + "/a/model.h5", "bad"));
  ASSERT_OK(models.Poll());
  ASSERT_OK_AND_ASSIGN(a, models.Find("a"));
  EXPECT_EQ(a->version(), 2);
  a.reset();

  ASSERT_OK(WriteFileAtomically(folder + "/b/.gone", ""));
  ASSERT_EQ(unlink((folder + "/b/model.keras").c_str()), 0);
  ASSERT_EQ(unlink((folder + "/b/.gone").c_str()), 0);
  ASSERT_EQ(rmdir((folder + "/b").c_str()), 0);
  b.reset();
  ASSERT_OK(models.Poll());
  EXPECT_STATUS(models.Find("b"), absl::StatusCode::kUnavailable, "unloaded");
}

TEST(ModelRepository, AStartupFolderWithABrokenModelIsAnErrorNamingIt) {
  const std::string folder = testing::MakeTempDir();
  ASSERT_EQ(mkdir((folder + "/m").c_str(), 0755), 0);
  ASSERT_OK(WriteFileAtomically(folder + "/m/model.h5", "bad"));
  FakeLoader fake;
  RepositoryOptions options;
  options.folder = folder;
  ModelRepository models(fake.loader(), options, {}, nullptr);
  EXPECT_STATUS(models.LoadFolder(), absl::StatusCode::kInvalidArgument, "model 'm': " + folder + "/m/model.h5");
  RepositoryOptions missing;
  missing.folder = folder + "/nowhere";
  ModelRepository none(fake.loader(), missing, {}, nullptr);
  EXPECT_STATUS(none.LoadFolder(), absl::StatusCode::kNotFound, folder + "/nowhere");
}

}  // namespace
}  // namespace resnet8
