#!/usr/bin/env bash
# Throughput of one evaluation spread over 1, 2 and 3 server replicas on this
# machine (round_robin over a list of loopback addresses), each result checked
# to be 8719/10000. On a 2-core machine no speed-up is expected: the replicas
# share the same cores. Usage: [SERVER_FLAGS=--threads=1] scripts/benchmark_replicas.sh [RUNS] (default 3)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs=${1:-3}
"$root/scripts/build.sh" >/dev/null
bin="$root/build/bin"
shared="${SHARED:-$root/../shared}"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

addresses=()
for i in 1 2 3; do
  "$bin/resnet8_server" --model="$shared/models/pretrainedResnet.h5" --address=127.0.0.1:0 ${SERVER_FLAGS:-} \
    2> "$work/server$i.log" &
  pids+=($!)
  for _ in $(seq 600); do grep -q "listening on" "$work/server$i.log" && break; sleep 0.1; done
  addresses+=("$(sed -n 's/.*listening on \(.*\)$/\1/p' "$work/server$i.log")")
done

echo "replicas  run  images/s  (full test set, batches of 500, one stream per replica)"
for n in 1 2 3; do
  list=$(IFS=,; echo "${addresses[*]:0:$n}")
  for run in $(seq "$runs"); do
    out=$("$bin/resnet8_client" evaluate --server="$list" --data="$shared/data/cifar-10-batches-bin" 2>&1)
    grep -q "top-1 accuracy: 87.19% (8719/10000)" <<< "$out" || { echo "wrong result with $n replicas" >&2; exit 1; }
    printf "%8d  %3d  %8s\n" "$n" "$run" "$(sed -n 's/.*: \([0-9]*\) images\/s$/\1/p' <<< "$out")"
  done
done
