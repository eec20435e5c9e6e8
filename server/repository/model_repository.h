// The models one server serves, by name, and how they change while it
// serves: TensorFlow Serving's model manager and Triton's model repository
// are the models.
//
// Each name maps to at most one ready ModelVersion. A request looks its model
// up once and holds that version (a shared_ptr) until it is answered; an
// EvaluateDataset stream holds it for the whole stream. So a swap or an
// unload never changes the model under a request: what started on version 1
// finishes on version 1, and version 1's memory is freed when its last
// request is done.
//
// Changes: Load(name) converts and self-checks the name's file off the
// serving path (the loader runs on the caller's thread, one load at a time)
// and swaps the new version in only when that succeeded; on failure the old
// version keeps serving and the failure is the name's reason in Index().
// A replaced version stays findable by its number for `retired_grace`, so
// that a client's evaluation of many streams, pinned to the version it
// started on, finishes on it (the client pins it: evaluator_client.h).
// Unload(name) stops new requests at once and waits for the version's
// requests to finish (up to a bound). Poll() compares a repository folder
// with what is loaded: new and changed model folders are loaded, removed
// ones unloaded.
//
//   ModelRepository repository(loader, options, limits, &admission);
//   RETURN_IF_ERROR(repository.LoadFolder());               // startup: every model, or an error
//   ASSIGN_OR_RETURN(auto model, repository.Find("resnet8"));  // "" is the default model
//   model->evaluator().Classify(request, &response);
//
// Thread-safe throughout.
#ifndef RESNET8_SERVER_REPOSITORY_MODEL_REPOSITORY_H_
#define RESNET8_SERVER_REPOSITORY_MODEL_REPOSITORY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/admission.h"
#include "server/repository/model_version.h"
#include "server/repository/repository_folder.h"
#include "server/request_validation.h"

namespace resnet8 {

// Converts and self-checks one model file. An error (the file does not read,
// convert, or pass its self-check) names the file.
using ModelLoader = std::function<absl::StatusOr<LoadedClassifier>(const ModelSource& source)>;

struct RepositoryOptions {
  // A folder with one model per subfolder (repository_folder.h); "" when the
  // models are given one by one (Add).
  std::string folder;
  // The model an empty name asks for; "" means the first name in the
  // repository's order (the only one, for --model).
  std::string default_model;
  // Most models loaded at once; a load beyond it is refused.
  int max_models = 8;
  // How long Unload() waits for the requests of the version it removes.
  absl::Duration drain_timeout = absl::Seconds(60);
  // How long a replaced version stays findable by its number (its memory
  // stays that long too).
  absl::Duration retired_grace = absl::Seconds(60);
};

// INVALID_ARGUMENT naming the flag for an option out of range.
absl::Status ValidateRepositoryOptions(const RepositoryOptions& options);

enum class ModelState { kReady, kUnavailable, kLoading };
absl::string_view ModelStateName(ModelState state);  // READY, UNAVAILABLE, LOADING, as Triton

// One row of the repository index.
struct ModelIndexEntry {
  std::string name;
  int64_t version = 0;  // the ready version, or the last one that was
  ModelState state = ModelState::kUnavailable;
  std::string reason;  // why not ready, or what happened last (a failed swap)
};

class ModelRepository {
 public:
  // `admission`, if not null, must outlive the repository; every version's
  // cores share it.
  ModelRepository(ModelLoader loader, RepositoryOptions options, ServiceLimits limits, AdmissionGate* admission);

  // Startup: loads every model of the folder. Any failure is an error naming
  // the model, and nothing is served from the folder then (a deployment
  // with a broken model fails where it can be seen, as Triton does by
  // default). NOT_FOUND for a folder without models.
  absl::Status LoadFolder();
  // Loads `source` under its name, outside any folder (the --model shorthand,
  // tests). Errors: the loader's; RESOURCE_EXHAUSTED over max_models.
  absl::Status Add(const ModelSource& source);
  // Serves an already loaded classifier under `name` (tests and embedders).
  absl::Status AddLoaded(const std::string& name, LoadedClassifier loaded);

  // The ready version of `name` ("" means the default model); `version`, if
  // not empty, asks that version: the ready one, or one replaced less than
  // retired_grace ago. NOT_FOUND naming the models served for an unknown
  // name or version; UNAVAILABLE with the reason for a known model that is
  // not ready.
  absl::StatusOr<std::shared_ptr<const ModelVersion>> Find(absl::string_view name,
                                                           absl::string_view version = "") const;
  // Every model the repository knows, by name; with `folder` set, also the
  // folder's models that are not loaded.
  std::vector<ModelIndexEntry> Index() const;
  // The ready versions, by name.
  std::vector<std::shared_ptr<const ModelVersion>> Ready() const;
  std::string default_model() const;
  // The gate every version's one-shot calls pass; may be null.
  AdmissionGate* admission() const { return admission_; }

  // (Re)loads `name` from its source: the folder's subfolder when there is a
  // folder, else what Add() was given. On success the new version serves
  // from the next request on. Errors: NOT_FOUND for a name with no source;
  // RESOURCE_EXHAUSTED over max_models; the loader's error otherwise, and
  // the old version, if any, keeps serving.
  absl::Status Load(const std::string& name);
  // Stops serving `name`, then waits up to drain_timeout for its requests.
  // NOT_FOUND when it is not loaded.
  absl::Status Unload(const std::string& name);
  // Compares the folder with what is loaded: loads new and changed models,
  // unloads models whose subfolder is gone. Errors only if the folder cannot
  // be read; a model that fails is recorded in the index.
  absl::Status Poll();

  // Called after every change of the ready set (load, swap, unload), outside
  // the repository's lock. Set before serving.
  void set_on_change(std::function<void()> on_change) { on_change_ = std::move(on_change); }

 private:
  struct Slot {
    std::shared_ptr<const ModelVersion> ready;
    struct Retired {
      std::shared_ptr<const ModelVersion> version;
      absl::Time until;
    };
    std::vector<Retired> retired;  // replaced versions, findable until `until`
    ModelSource source;            // what was loaded (or last tried)
    int64_t last_version = 0;
    ModelState state = ModelState::kUnavailable;
    std::string reason;
  };

  // Loads `source`, holding load_mutex_; swaps it in on success.
  absl::Status LoadSource(const ModelSource& source);
  absl::Status Install(const ModelSource& source, LoadedClassifier loaded);
  void Changed() const;

  const ModelLoader loader_;
  const RepositoryOptions options_;
  const ServiceLimits limits_;
  AdmissionGate* const admission_;
  std::function<void()> on_change_;

  absl::Mutex load_mutex_;  // one load at a time: bounded memory, no racing swaps
  mutable absl::Mutex mutex_;
  std::map<std::string, Slot> slots_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace resnet8

#endif  // RESNET8_SERVER_REPOSITORY_MODEL_REPOSITORY_H_
