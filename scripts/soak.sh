#!/usr/bin/env bash
# The soak (not in CI): the server under mixed traffic for MINUTES (default
# 30): gRPC and REST ModelInfer, full evaluations, probes and churn of silent
# HTTP connections at once (tests/benchmark/soak_traffic.py). It samples the
# server's RSS and open descriptors every 10 s into build/soak.csv and fails
# if a call fails or either grows between the first and last quarter.
#   scripts/soak.sh [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
shared=../shared
scripts/install_deps.sh --test > build/install.log 2>&1 || { tail -30 build/install.log >&2; exit 1; }
scripts/build.sh --test > build/build.log 2>&1 || { tail -30 build/build.log >&2; exit 1; }
source scripts/lib/server.sh
work=$(mktemp -d)
trap 'stop_server || true; rm -rf "$work"' EXIT
/usr/bin/python3 -m grpc_tools.protoc -I proto --python_out="$work" --grpc_python_out="$work" \
  proto/inference/grpc_service.proto proto/inference/model_config.proto
start_server build/bin "$shared/models/pretrainedResnet.h5" build/soak_server.log \
  --http_address=127.0.0.1:0 --metrics_address=127.0.0.1:0
http=$(sed -n 's|.*http on http://\(.*\)$|\1|p' build/soak_server.log)
metrics=$(sed -n 's|.*metrics on http://\(.*\)/metrics$|\1|p' build/soak_server.log)
PYTHONPATH="$work" /usr/bin/python3 tests/benchmark/soak_traffic.py "$server_address" "$http" "$metrics" \
  "$server_pid" build/bin "$shared" "$minutes" build/soak.csv
