// The Open Inference Protocol's view of the model repository, one home for
// both bindings: Triton's repository index and the statistics of one model
// or of every model.
#ifndef RESNET8_SERVER_INFERENCE_INFERENCE_REPOSITORY_H_
#define RESNET8_SERVER_INFERENCE_INFERENCE_REPOSITORY_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "inference/grpc_service.pb.h"
#include "server/repository/model_repository.h"
#include "server/service_metrics.h"

namespace resnet8 {

// Every model the repository knows (only the ready ones with `ready_only`),
// by name: version, state (READY, UNAVAILABLE, LOADING) and reason.
inference::RepositoryIndexResponse RepositoryIndexOf(const ModelRepository& models, bool ready_only);

// Triton's cumulative statistics of model `name` (its `version`, if given),
// or of every ready model for an empty name. Errors: ModelRepository::Find's.
absl::StatusOr<inference::ModelStatisticsResponse> RepositoryStatistics(const ModelRepository& models,
                                                                        const ServiceMetrics& metrics,
                                                                        absl::string_view name,
                                                                        absl::string_view version);

}  // namespace resnet8

#endif  // RESNET8_SERVER_INFERENCE_INFERENCE_REPOSITORY_H_
