#include "server/inference/inference_repository.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace resnet8 {
namespace {

void AppendStatistics(const ModelVersion& model, const ServiceMetrics& metrics,
                      inference::ModelStatisticsResponse* response) {
  // The classifier's queue and compute times cover every API's calls.
  const ServiceMetrics::InferenceTotals totals = metrics.Inferences(model.name());
  inference::ModelStatisticsResponse one = model.inference().Statistics(totals.calls, totals.queue, totals.compute);
  for (inference::ModelStatistics& stats : *one.mutable_model_stats()) {
    *response->add_model_stats() = std::move(stats);
  }
}

}  // namespace

inference::RepositoryIndexResponse RepositoryIndexOf(const ModelRepository& models, bool ready_only) {
  inference::RepositoryIndexResponse response;
  for (const ModelIndexEntry& entry : models.Index()) {
    if (ready_only && entry.state != ModelState::kReady) continue;
    inference::RepositoryIndexResponse::ModelIndex* row = response.add_models();
    row->set_name(entry.name);
    if (entry.version > 0) row->set_version(absl::StrCat(entry.version));
    row->set_state(std::string(ModelStateName(entry.state)));
    row->set_reason(entry.reason);
  }
  return response;
}

absl::StatusOr<inference::ModelStatisticsResponse> RepositoryStatistics(const ModelRepository& models,
                                                                        const ServiceMetrics& metrics,
                                                                        absl::string_view name,
                                                                        absl::string_view version) {
  inference::ModelStatisticsResponse response;
  if (name.empty()) {
    for (const std::shared_ptr<const ModelVersion>& model : models.Ready())
      AppendStatistics(*model, metrics, &response);
    return response;
  }
  absl::StatusOr<std::shared_ptr<const ModelVersion>> model = models.Find(name, version);
  if (!model.ok()) return model.status();
  AppendStatistics(**model, metrics, &response);
  return response;
}

}  // namespace resnet8
