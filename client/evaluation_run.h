// The machinery behind EvaluatorClient::Evaluate(): streams a labelled
// dataset through EvaluateDataset over one or more concurrent streams, and
// survives a server that goes away.
//
// The dataset is cut into batches kept in a BatchQueue (batch_queue.h). Each
// stream takes batches from the queue (at most `window` unanswered at a time,
// and `batches_per_stream` in all before a new stream takes over): a writer
// thread sends them while the stream's reader checks every answer against
// the batch it belongs to (same records, same labels, a predicted class that
// is the argmax of its probabilities) and stores it in the slot of its
// records. When a stream breaks with UNAVAILABLE (the server died, restarts,
// or drains), its unanswered batches go back to the front of the queue and
// the stream is reopened with exponential backoff, for at most
// `reconnect_budget` without progress. Answers are a pure function of the
// image, so the final result equals an uninterrupted run's exactly.
//
// Each stream's final report is checked against the answers that stream
// carried; the reports are summed into EvaluationResult::server_report.
#ifndef RESNET8_CLIENT_EVALUATION_RUN_H_
#define RESNET8_CLIENT_EVALUATION_RUN_H_

#include "absl/status/statusor.h"
#include "client/evaluator_client.h"

namespace resnet8 {

// See EvaluatorClient::Evaluate() for the errors. Blocks until done.
// `auth_token`, when set, goes on every stream as a bearer token.
absl::StatusOr<EvaluationResult> RunEvaluation(v1::Evaluator::StubInterface& stub, const LabeledImages& images,
                                               const EvaluateOptions& options, const std::string& auth_token);

}  // namespace resnet8

#endif  // RESNET8_CLIENT_EVALUATION_RUN_H_
