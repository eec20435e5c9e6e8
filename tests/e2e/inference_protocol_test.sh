#!/usr/bin/env bash
# The Open Inference Protocol (KServe v2) over gRPC and HTTP, driven by
# clients that share no code with the project: Python grpcio with stubs that
# grpc_tools compiles here from the .proto files, Python's urllib for the
# REST binding (inference_rest_client.py), and buf curl, which learns the API
# from server reflection. The server runs with a bearer token.
# Checked: the live/ready probes answer without the token and everything else
# needs it; server and model metadata and Triton's model config; 1,000 test
# images in one raw UINT8 request give exactly Classify's answers; the 200
# perf-subset images as typed FP32 contents give the Keras golden outputs
# within 1e-5; the classification extension's top-k; every error code of the
# protocol (INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED, UNAUTHENTICATED),
# with the server serving on; and the statistics count what was asked.
# Usage: inference_protocol_test.sh BUILD_BIN_DIR SHARED_DIR BUF_DIR
set -euo pipefail
bin=$1 shared=$2 buf=$3/node_modules/.bin/buf
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
source "$root/scripts/lib/server.sh"
trap 'stop_server || true; rm -rf "$work"' EXIT
echo "inference-token-$$" > "$work/token"
[[ -x "$buf" ]] || { echo "FAIL: buf is not installed at $buf (scripts/install_deps.sh --test)" >&2; exit 1; }
start_server "$bin" "$shared/models/pretrainedResnet.h5" "$work/server.log" --auth_token_file="$work/token" \
  --http_address=127.0.0.1:0 || exit 1
http_address=$(sed -n 's|.*http on http://||p' "$work/server.log")
/usr/bin/python3 -m grpc_tools.protoc -I "$root/proto" --python_out="$work" --grpc_python_out="$work" \
  "$root/proto/inference/grpc_service.proto" "$root/proto/inference/model_config.proto" \
  "$root/proto/resnet8/v1/evaluator.proto"
PYTHONPATH="$work" /usr/bin/python3 "$root/tests/e2e/inference_protocol_client.py" "$server_address" "$work/token" "$shared"
PYTHONPATH="$work" /usr/bin/python3 "$root/tests/e2e/inference_rest_client.py" "$server_address" "$http_address" \
  "$work/token" "$shared"

# buf curl: the API from reflection, metadata and a protocol error code.
buf_curl() {
  "$buf" curl --protocol grpc --http2-prior-knowledge -H "Authorization: Bearer $(cat "$work/token")" \
    -d "$1" "http://$server_address/inference.GRPCInferenceService/$2"
}
buf_curl '{"name": "resnet8"}' ModelMetadata > "$work/buf.json"
grep -q '"platform": "pytorch_libtorch"' "$work/buf.json" || { cat "$work/buf.json"; echo "FAIL: buf curl metadata" >&2; exit 1; }
status=0
buf_curl '{"model_name": "resnet8", "inputs": [{"name": "input_1", "datatype": "UINT8", "shape": [1, 3, 32, 32]}]}' \
  ModelInfer > "$work/buf_error.json" 2>&1 || status=$?
grep -q '"code": "invalid_argument"' "$work/buf_error.json" || { cat "$work/buf_error.json"; exit 1; }
echo "buf curl (reflection): ModelMetadata answered; a wrong shape is $(grep -o '"message": .*' "$work/buf_error.json")"
stop_server
echo "inference_protocol_test: passed"
