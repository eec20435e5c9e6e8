#!/usr/bin/env bash
# Builds, then measures the service's speed (see BENCHMARKS.md for what each
# row means). Writes the results to build/benchmark.json as well.
#   scripts/benchmark.sh            # the comparison table and ablation
#   scripts/benchmark.sh --sweep    # plus batch size x threads x memory format
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-../shared/models/pretrainedResnet.h5}
DATA=${DATA:-../shared/data/cifar-10-batches-bin}
mkdir -p build
scripts/build.sh --test > build/build.log 2>&1 || { tail -30 build/build.log >&2; exit 1; }
build/bin/resnet8_benchmark --model="$MODEL" --data="$DATA" --json=build/benchmark.json "$@"
