#!/usr/bin/env bash
# The whole product in one command: installs what running needs (not the
# test tooling), builds the programs, starts
# resnet8_server on a free loopback port, evaluates the CIFAR-10 test set
# through it with resnet8_client, prints the report, and stops the server.
#
#   scripts/evaluate.sh                                 # the defaults below
#   MODEL=my.keras DATA=path/to/cifar-10-batches-bin scripts/evaluate.sh   (.keras or .h5)
#   scripts/evaluate.sh --subset=perf200 --report_json=report.json   # extra client flags
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-../shared/models/pretrainedResnet.h5}
DATA=${DATA:-../shared/data/cifar-10-batches-bin}

source scripts/lib/server.sh
log_dir=$(mktemp -d)
trap 'stop_server || true; rm -rf "$log_dir"' EXIT

echo "building (log: build/build.log) ..." >&2
mkdir -p build
if ! scripts/build.sh > build/build.log 2>&1; then
  tail -30 build/build.log >&2
  echo "evaluate.sh: build failed; full log in build/build.log" >&2
  exit 1
fi

start_server build/bin "$MODEL" "$log_dir/server.log" || { echo "evaluate.sh: the server did not start" >&2; exit 1; }
echo "server listening on $server_address" >&2
build/bin/resnet8_client evaluate --server="$server_address" --data="$DATA" "$@"
