#include "server/repository/model_repository.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace resnet8 {

absl::Status ValidateRepositoryOptions(const RepositoryOptions& options) {
  if (options.max_models < 1 || options.max_models > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("--max_loaded_models=", options.max_models, " is outside 1..1024"));
  }
  if (options.drain_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the unload drain timeout is negative");
  }
  if (!options.default_model.empty()) return CheckModelName(options.default_model);
  return absl::OkStatus();
}

absl::string_view ModelStateName(ModelState state) {
  switch (state) {
    case ModelState::kReady:
      return "READY";
    case ModelState::kUnavailable:
      return "UNAVAILABLE";
    case ModelState::kLoading:
      return "LOADING";
  }
  return "UNKNOWN";
}

ModelRepository::ModelRepository(ModelLoader loader, RepositoryOptions options, ServiceLimits limits,
                                 AdmissionGate* admission)
    : loader_(std::move(loader)), options_(std::move(options)), limits_(limits), admission_(admission) {}

absl::Status ModelRepository::LoadFolder() {
  absl::StatusOr<std::vector<ScannedModel>> scanned = ScanRepositoryFolder(options_.folder);
  if (!scanned.ok()) return scanned.status();
  if (scanned->empty()) {
    return absl::NotFoundError(absl::StrCat("model repository '", options_.folder,
                                            "' holds no model folders (one subfolder per model, each with a Keras "
                                            "file)"));
  }
  for (const ScannedModel& model : *scanned) {
    if (!model.problem.ok()) return model.problem;
    if (absl::Status loaded = LoadSource(model.source); !loaded.ok()) {
      return absl::Status(loaded.code(), absl::StrCat("model '", model.source.name, "': ", loaded.message()));
    }
  }
  if (!options_.default_model.empty()) {
    if (absl::Status found = Find(options_.default_model).status(); !found.ok()) {
      return absl::NotFoundError(absl::StrCat("--default_model=", options_.default_model, ": ", found.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status ModelRepository::Add(const ModelSource& source) { return LoadSource(source); }

absl::Status ModelRepository::AddLoaded(const std::string& name, LoadedClassifier loaded) {
  if (absl::Status bad = CheckModelName(name); !bad.ok()) return bad;
  ModelSource source;
  source.name = name;
  absl::MutexLock load(&load_mutex_);
  return Install(source, std::move(loaded));
}

absl::Status ModelRepository::LoadSource(const ModelSource& source) {
  if (absl::Status bad = CheckModelName(source.name); !bad.ok()) return bad;
  absl::MutexLock load(&load_mutex_);
  {
    absl::MutexLock lock(&mutex_);
    int loaded = 0;
    for (const auto& [name, slot] : slots_) loaded += slot.ready != nullptr && name != source.name;
    if (loaded >= options_.max_models) {
      return absl::ResourceExhaustedError(absl::StrCat("cannot load model '", source.name, "': ", loaded,
                                                       " models are loaded, the limit (--max_loaded_models)"));
    }
    Slot& slot = slots_[source.name];
    slot.source = source;
    if (slot.ready == nullptr) slot.state = ModelState::kLoading;
  }
  absl::StatusOr<LoadedClassifier> loaded = loader_(source);
  if (!loaded.ok()) {
    absl::MutexLock lock(&mutex_);
    Slot& slot = slots_[source.name];
    if (slot.ready == nullptr) {
      slot.state = ModelState::kUnavailable;
      slot.reason = std::string(loaded.status().message());
    } else {
      slot.reason = absl::StrCat("version ", slot.ready->version(), " keeps serving; loading '", source.model_path,
                                 "' failed: ", loaded.status().message());
    }
    return loaded.status();
  }
  return Install(source, *std::move(loaded));
}

absl::Status ModelRepository::Install(const ModelSource& source, LoadedClassifier loaded) {
  if (loaded.classifier == nullptr) return absl::InternalError("the model loader returned no classifier");
  std::shared_ptr<const ModelVersion> previous;
  {
    absl::MutexLock lock(&mutex_);
    Slot& slot = slots_[source.name];
    auto version = std::make_shared<const ModelVersion>(source.name, slot.last_version + 1, std::move(loaded), limits_,
                                                        admission_);
    previous = std::move(slot.ready);
    const absl::Time now = absl::Now();
    std::vector<Slot::Retired> kept;
    for (Slot::Retired& retired : slot.retired) {
      if (retired.until > now) kept.push_back(std::move(retired));
    }
    if (previous != nullptr && options_.retired_grace > absl::ZeroDuration()) {
      kept.push_back({previous, now + options_.retired_grace});
    }
    slot.retired = std::move(kept);
    slot.ready = std::move(version);
    slot.last_version = slot.ready->version();
    slot.source = source;
    slot.state = ModelState::kReady;
    slot.reason.clear();
  }
  Changed();
  // `previous` is released here; requests that hold it finish on it.
  return absl::OkStatus();
}

void ModelRepository::Changed() const {
  if (on_change_) on_change_();
}

absl::StatusOr<std::shared_ptr<const ModelVersion>> ModelRepository::Find(absl::string_view name,
                                                                          absl::string_view version) const {
  absl::MutexLock lock(&mutex_);
  std::string wanted(name);
  if (wanted.empty()) {
    wanted = options_.default_model;
    if (wanted.empty() && !slots_.empty()) wanted = slots_.begin()->first;
  }
  auto slot = slots_.find(wanted);
  if (slot == slots_.end()) {
    std::vector<std::string> names;
    for (const auto& [known, unused] : slots_) names.push_back(known);
    return absl::NotFoundError(absl::StrCat("no model named '", wanted, "'; this server has ",
                                            names.empty() ? "none" : absl::StrJoin(names, ", ")));
  }
  const Slot& found = slot->second;
  if (!version.empty()) {
    const absl::Time now = absl::Now();
    for (const Slot::Retired& retired : found.retired) {
      if (retired.until > now && version == absl::StrCat(retired.version->version())) return retired.version;
    }
  }
  if (found.ready == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("model '", wanted, "' is not loaded", found.reason.empty() ? "" : ": ", found.reason));
  }
  if (!version.empty() && version != absl::StrCat(found.ready->version())) {
    return absl::NotFoundError(absl::StrCat("model '", wanted, "' has no version '", version, "'; it serves version ",
                                            found.ready->version()));
  }
  return found.ready;
}

std::vector<ModelIndexEntry> ModelRepository::Index() const {
  std::map<std::string, ModelIndexEntry> rows;
  if (!options_.folder.empty()) {
    // The folder's models that were never tried (added since the last poll,
    // or unloadable), so that an operator sees them and why.
    absl::StatusOr<std::vector<ScannedModel>> scanned = ScanRepositoryFolder(options_.folder);
    if (scanned.ok()) {
      for (const ScannedModel& model : *scanned) {
        ModelIndexEntry& row = rows[model.source.name];
        row.name = model.source.name;
        row.reason = model.problem.ok() ? "not loaded" : std::string(model.problem.message());
      }
    }
  }
  absl::MutexLock lock(&mutex_);
  for (const auto& [name, slot] : slots_) {
    ModelIndexEntry& row = rows[name];
    row.name = name;
    row.version = slot.ready != nullptr ? slot.ready->version() : slot.last_version;
    row.state = slot.state;
    row.reason = slot.reason;
  }
  std::vector<ModelIndexEntry> index;
  for (auto& [name, row] : rows) index.push_back(std::move(row));
  return index;
}

std::vector<std::shared_ptr<const ModelVersion>> ModelRepository::Ready() const {
  absl::MutexLock lock(&mutex_);
  std::vector<std::shared_ptr<const ModelVersion>> ready;
  for (const auto& [name, slot] : slots_) {
    if (slot.ready != nullptr) ready.push_back(slot.ready);
  }
  return ready;
}

std::string ModelRepository::default_model() const {
  absl::MutexLock lock(&mutex_);
  if (!options_.default_model.empty() || slots_.empty()) return options_.default_model;
  return slots_.begin()->first;
}

absl::Status ModelRepository::Load(const std::string& name) {
  if (absl::Status bad = CheckModelName(name); !bad.ok()) return bad;
  ModelSource source;
  if (!options_.folder.empty()) {
    absl::StatusOr<std::vector<ScannedModel>> scanned = ScanRepositoryFolder(options_.folder);
    if (!scanned.ok()) return scanned.status();
    bool found = false;
    for (const ScannedModel& model : *scanned) {
      if (model.source.name != name) continue;
      if (!model.problem.ok()) return model.problem;
      source = model.source;
      found = true;
    }
    if (!found) {
      return absl::NotFoundError(
          absl::StrCat("the model repository '", options_.folder, "' has no folder '", name, "'"));
    }
  } else {
    absl::MutexLock lock(&mutex_);
    auto slot = slots_.find(name);
    if (slot == slots_.end() || slot->second.source.model_path.empty()) {
      return absl::NotFoundError(absl::StrCat("no model named '", name,
                                              "' to load; without --model_repository only the served "
                                              "models can be loaded again"));
    }
    source = slot->second.source;
  }
  return LoadSource(source);
}

absl::Status ModelRepository::Unload(const std::string& name) {
  std::weak_ptr<const ModelVersion> draining;
  {
    absl::MutexLock lock(&mutex_);
    auto slot = slots_.find(name);
    if (slot == slots_.end() || slot->second.ready == nullptr) {
      return absl::NotFoundError(absl::StrCat("model '", name, "' is not loaded"));
    }
    draining = slot->second.ready;
    slot->second.ready.reset();
    slot->second.retired.clear();
    slot->second.state = ModelState::kUnavailable;
    slot->second.reason = "unloaded";
  }
  Changed();
  // The requests that hold the version finish on it; wait for them.
  const absl::Time deadline = absl::Now() + options_.drain_timeout;
  while (!draining.expired() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  if (!draining.expired()) {
    return absl::DeadlineExceededError(absl::StrCat("model '", name, "' is unloaded, but requests that started on it ",
                                                    "were still running after ",
                                                    absl::FormatDuration(options_.drain_timeout)));
  }
  return absl::OkStatus();
}

absl::Status ModelRepository::Poll() {
  absl::StatusOr<std::vector<ScannedModel>> scanned = ScanRepositoryFolder(options_.folder);
  if (!scanned.ok()) return scanned.status();
  std::set<std::string> present;
  for (const ScannedModel& model : *scanned) {
    present.insert(model.source.name);
    bool changed = false;
    {
      absl::MutexLock lock(&mutex_);
      auto slot = slots_.find(model.source.name);
      // A failed source is not retried until its files change.
      changed = slot == slots_.end() || slot->second.source.signature != model.source.signature;
      if (changed && !model.problem.ok()) {
        Slot& recorded = slots_[model.source.name];
        recorded.source = model.source;
        if (recorded.ready == nullptr) recorded.state = ModelState::kUnavailable;
        recorded.reason = std::string(model.problem.message());
        changed = false;
      }
    }
    if (changed) LoadSource(model.source).IgnoreError();  // the outcome is in the index
  }
  std::vector<std::string> removed;
  {
    absl::MutexLock lock(&mutex_);
    for (const auto& [name, slot] : slots_) {
      if (present.count(name) == 0 && slot.ready != nullptr) removed.push_back(name);
    }
  }
  for (const std::string& name : removed) Unload(name).IgnoreError();
  return absl::OkStatus();
}

}  // namespace resnet8
