#!/usr/bin/env bash
# Installs the peer (ONNX Runtime) and builds, then measures the service's
# speed beside it (see BENCHMARKS.md for what each row means). Writes the
# results to build/benchmark.json as well.
#   scripts/benchmark.sh            # the comparison table and ablation
#   scripts/benchmark.sh --sweep    # plus batch size x threads x memory format
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-../shared/models/pretrainedResnet.h5}
DATA=${DATA:-../shared/data/cifar-10-batches-bin}
mkdir -p build
scripts/install_deps.sh --bench > build/install.log 2>&1 || { tail -30 build/install.log >&2; exit 1; }
scripts/build.sh --test > build/build.log 2>&1 || { tail -30 build/build.log >&2; exit 1; }
# The peer: ONNX Runtime on the same model (exported from the converter's
# TorchScript file) and the same images, measured first in this same run.
# Without it (not installable here, or failing), the run says so and goes on.
peer=()
: > build/peer.log  # what the export and the peer say, for the "skipped" line
peer_failed() { echo "benchmark.sh: peer skipped: $1" >&2; }
if [[ ! -d .deps/ort/node_modules/onnxruntime-node ]]; then
  peer_failed "onnxruntime-node is not installed in .deps/ort (see build/install.log)"
elif ! build/bin/resnet8_convert --model="$MODEL" --output=build/peer.ts --format=torchscript > /dev/null \
  || ! /usr/bin/python3 tests/benchmark/export_onnx.py build/peer.ts build/peer.onnx 2> build/peer.log; then
  peer_failed "exporting the model to ONNX failed: $(tail -1 build/peer.log)"
else
  mkdir -p build/peer && ln -sfn "$PWD/.deps/ort/node_modules" build/peer/node_modules
  cp tests/benchmark/ort_peer.mjs build/peer/  # node resolves imports beside the script
  if node build/peer/ort_peer.mjs build/peer.onnx "$DATA/test_batch.bin" 500 "$(nproc)" 3 > build/peer.json \
    2>> build/peer.log; then
    peer=(--peer_json=build/peer.json)
  else
    peer_failed "ONNX Runtime failed: $(tail -1 build/peer.log)"
  fi
fi
build/bin/resnet8_benchmark --model="$MODEL" --data="$DATA" --json=build/benchmark.json "${peer[@]}" "$@"
