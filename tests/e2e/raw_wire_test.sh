#!/usr/bin/env bash
# Bytes that are not a request, sent by a client that shares no code with the
# project (Python grpcio with pass-through serializers, no stubs): random
# bytes, a truncated message, and a valid message followed by garbage, on
# Classify and on EvaluateDataset after good batches. Each must end in
# INVALID_ARGUMENT naming the message, with no report; the server keeps
# serving, and a clean evaluation right after is exact.
# Usage: raw_wire_test.sh BUILD_BIN_DIR SHARED_DIR
set -euo pipefail
bin=$1 shared=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
source "$root/scripts/lib/server.sh"
trap 'stop_server || true; rm -rf "$work"' EXIT
start_server "$bin" "$shared/models/pretrainedResnet.h5" "$work/server.log" || exit 1
# Only the .proto is shared: grpc_tools compiles it here to read the answers.
/usr/bin/python3 -m grpc_tools.protoc -I "$root/proto" --python_out="$work" "$root/proto/resnet8/v1/evaluator.proto"
PYTHONPATH="$work" /usr/bin/python3 - "$server_address" "$shared/data/cifar-10-batches-bin/test_batch.bin" <<'PY'
import random, sys
import grpc
from resnet8.v1 import evaluator_pb2

address, data = sys.argv[1], sys.argv[2]
records = open(data, "rb").read()
channel = grpc.insecure_channel(address)
raw = dict(request_serializer=lambda b: b, response_deserializer=lambda b: b)
classify = channel.unary_unary("/resnet8.v1.Evaluator/Classify", **raw)
evaluate = channel.stream_stream("/resnet8.v1.Evaluator/EvaluateDataset", **raw)

def varint(n):
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out

def field(number, wire_type, payload):
    return varint(number << 3 | wire_type) + payload

def image_batch(first, count):  # planar records, as ImageBatch {layout, count, pixels}
    pixels = b"".join(records[i * 3073 + 1:(i + 1) * 3073] for i in range(first, first + count))
    return field(1, 0, varint(1)) + field(2, 0, varint(count)) + field(3, 2, varint(len(pixels)) + pixels)

def evaluate_request(first, count):  # EvaluateRequest {images, labels (packed), indices (packed)}
    batch = image_batch(first, count)
    labels = b"".join(varint(records[i * 3073]) for i in range(first, first + count))
    indices = b"".join(varint(i) for i in range(first, first + count))
    return field(1, 2, varint(len(batch)) + batch) + field(2, 2, varint(len(labels)) + labels) + \
        field(3, 2, varint(len(indices)) + indices)

classify_ok = field(1, 2, varint(len(image_batch(0, 2))) + image_batch(0, 2))
good = evaluate_request(0, 50)
rng = random.Random(20261130)
garbled = {
    "random bytes": bytes(rng.randrange(256) for _ in range(500)),
    "a truncated message": good[:len(good) // 2],
    "a valid message followed by garbage": good + b"\xff\xff\xff\xff",
}

for what, bytes_ in garbled.items():
    try:
        classify(classify_ok[:len(classify_ok) // 2] if what == "a truncated message" else
                 (classify_ok + b"\xff\xff\xff\xff" if "garbage" in what else bytes_), timeout=30)
        raise SystemExit(f"Classify with {what} answered OK")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (what, error.code(), error.details())
        assert "is not a valid resnet8.v1.ClassifyRequest" in error.details(), error.details()

    responses, details = [], ""
    try:
        for response in evaluate(iter([evaluate_request(0, 50), evaluate_request(50, 50), bytes_]), timeout=60):
            responses.append(response)
        raise SystemExit(f"EvaluateDataset with {what} as message 3 ended OK after {len(responses)} responses")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (what, error.code(), error.details())
        details = error.details()
        assert "message 3 of the stream is not a valid resnet8.v1.EvaluateRequest" in details, details
    answers = [evaluator_pb2.EvaluateResponse.FromString(r) for r in responses]
    assert len(answers) == 2 and not any(a.HasField("report") for a in answers), (what, answers[-1:])
    print(f"{what}: INVALID_ARGUMENT on both methods ({details!r}), no report")

# Still serving, and exact: a clean two-batch stream ends with a report of 100 images.
answers = [evaluator_pb2.EvaluateResponse.FromString(r)
           for r in evaluate(iter([evaluate_request(0, 50), evaluate_request(50, 50)]), timeout=60)]
assert len(answers) == 3 and answers[-1].report.images == 100, answers[-1].report
correct = sum(p.predicted_class == p.label for a in answers[:2] for p in a.predictions)
assert answers[-1].report.correct == correct, (answers[-1].report.correct, correct)
print(f"after the garbled streams: a clean evaluation of 100 images, report {correct}/100 equals the answers")
PY
echo "raw_wire_test: passed"
