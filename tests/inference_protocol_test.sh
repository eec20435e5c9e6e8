#!/usr/bin/env bash
# The Open Inference Protocol (KServe v2) over gRPC, driven by a client that
# shares no code with the project: Python grpcio with stubs that grpc_tools
# compiles here from the .proto files. The server runs with a bearer token.
# Checked: the live/ready probes answer without the token and everything else
# needs it; server and model metadata and Triton's model config; 1,000 test
# images in one raw UINT8 request give exactly Classify's answers; the 200
# perf-subset images as typed FP32 contents give the Keras golden outputs
# within 1e-5; the classification extension's top-k; every error code of the
# protocol (INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED, UNAUTHENTICATED),
# with the server serving on; and the statistics count what was asked.
# Usage: inference_protocol_test.sh BUILD_BIN_DIR SHARED_DIR
set -euo pipefail
bin=$1 shared=$2
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
source "$root/scripts/lib/server.sh"
trap 'stop_server || true; rm -rf "$work"' EXIT
echo "inference-token-$$" > "$work/token"
start_server "$bin" "$shared/models/pretrainedResnet.h5" "$work/server.log" --auth_token_file="$work/token" || exit 1
/usr/bin/python3 -m grpc_tools.protoc -I "$root/proto" --python_out="$work" --grpc_python_out="$work" \
  "$root/proto/inference/grpc_service.proto" "$root/proto/inference/model_config.proto" \
  "$root/proto/resnet8/v1/evaluator.proto"
PYTHONPATH="$work" /usr/bin/python3 "$root/tests/inference_protocol_client.py" "$server_address" "$work/token" "$shared"
stop_server
echo "inference_protocol_test: passed"
