#!/usr/bin/env bash
# The whole product in one command: installs what is missing, builds, starts
# resnet8_server on a free loopback port, evaluates the CIFAR-10 test set
# through it with resnet8_client, prints the report, and stops the server.
#
#   scripts/evaluate.sh                                 # the defaults below
#   MODEL=my.h5 DATA=path/to/cifar-10-batches-bin scripts/evaluate.sh
#   scripts/evaluate.sh --subset=perf200 --report_json=report.json   # extra client flags
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-../shared/models/pretrainedResnet.h5}
DATA=${DATA:-../shared/data/cifar-10-batches-bin}

log_dir=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" || true
  fi
  rm -rf "$log_dir"
}
trap cleanup EXIT

echo "building (log: build/build.log) ..." >&2
mkdir -p build
if ! scripts/build.sh > build/build.log 2>&1; then
  tail -30 build/build.log >&2
  echo "evaluate.sh: build failed; full log in build/build.log" >&2
  exit 1
fi

build/bin/resnet8_server --model="$MODEL" --address=127.0.0.1:0 2> "$log_dir/server.log" &
server_pid=$!
address=""
for _ in $(seq 600); do
  address=$(sed -n 's/.*listening on \(.*\)$/\1/p' "$log_dir/server.log")
  [[ -n "$address" ]] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$log_dir/server.log" >&2
    echo "evaluate.sh: the server did not start" >&2
    exit 1
  fi
  sleep 0.1
done
[[ -n "$address" ]] || { cat "$log_dir/server.log" >&2; echo "evaluate.sh: no server after 60 s" >&2; exit 1; }
echo "server listening on $address" >&2

build/bin/resnet8_client evaluate --server="$address" --data="$DATA" "$@"
