#!/usr/bin/env bash
# End-to-end test of resnet8_convert: converts the shared model, loads the
# result with Python's torch.load, and checks that bad input exits 1 with a
# message and leaves no output file.
# Usage: convert_cli_test.sh BUILD_BIN_DIR SHARED_DIR
set -euo pipefail
bin=$1 shared=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$bin/resnet8_convert" --model="$shared/models/pretrainedResnet.h5" --output="$work/resnet8.pt" > "$work/summary.txt"
cat "$work/summary.txt"
grep -q "^widths:     16/16/32/64 (3 residual blocks)$" "$work/summary.txt" || fail "widths line"
grep -q "^parameters: 78666 stored values$" "$work/summary.txt" || fail "parameter count"
grep -q "5f938a8eea605438cc7360aa13c987bc6d7bd0c8d931b2917361ae7ae4eeda2f" "$work/summary.txt" || fail "sha256"
grep -q "^self-check: passed" "$work/summary.txt" || fail "self-check"

# Debian's torch is for Debian's python, which may not be first on PATH.
/usr/bin/python3 - "$work/resnet8.pt" <<'PY'
import sys, torch
state = torch.load(sys.argv[1])
assert type(state) is dict, type(state)
assert len(state) == 48, len(state)
expect = {"conv2d.weight": (16, 3, 3, 3), "conv2d_3.weight": (32, 16, 3, 3), "conv2d_5.weight": (32, 16, 1, 1),
          "dense.weight": (10, 64), "dense.bias": (10,), "batch_normalization.running_var": (16,)}
for key, shape in expect.items():
    assert tuple(state[key].shape) == shape, (key, state[key].shape)
    assert state[key].dtype == torch.float32
# The dict loads into a plain PyTorch BatchNorm without complaint.
bn = torch.nn.BatchNorm2d(16)
bn.load_state_dict({k.split(".", 1)[1]: v for k, v in state.items() if k.startswith("batch_normalization.")})
print("python torch.load: dict of", len(state), "tensors")
PY

# Bad input: exit 1, one message naming the file, no output left behind.
printf 'not a model' > "$work/bad.h5"
if "$bin/resnet8_convert" --model="$work/bad.h5" --output="$work/bad.pt" 2> "$work/err.txt"; then
  fail "a bad model was accepted"
fi
grep -q "bad.h5: not an HDF5 file" "$work/err.txt" || fail "message: $(cat "$work/err.txt")"
[[ ! -e "$work/bad.pt" ]] || fail "output left behind"
ls "$work" | grep -q tmp && fail "temporary file left behind"
# A byte that can make libhdf5 segfault (found by the model fuzz loop): the
# converter must still exit 0 or 1 itself, never die from the signal.
cp "$shared/models/pretrainedResnet.h5" "$work/crash.h5"
chmod u+w "$work/crash.h5"
printf '\xce' | dd of="$work/crash.h5" bs=1 seek=901 conv=notrunc 2>/dev/null
status=0
"$bin/resnet8_convert" --model="$work/crash.h5" --output="$work/crash.pt" > /dev/null 2> "$work/err.txt" || status=$?
case $status in
  0) [[ -e "$work/crash.pt" ]] || fail "exit 0 without output" ;;
  1) grep -q "crash.h5: reading the file with HDF5" "$work/err.txt" || fail "crash message: $(cat "$work/err.txt")"
     [[ ! -e "$work/crash.pt" ]] || fail "output left behind after a refusal" ;;
  *) fail "resnet8_convert ended with status $status on the HDF5-crash file" ;;
esac
echo "HDF5-crash regression file: converter exit $status $(cat "$work/err.txt")"
if "$bin/resnet8_convert" --model="$shared/models/pretrainedResnet.h5" 2> "$work/err.txt"; then
  fail "missing --output was accepted"
fi
echo "convert_cli_test: passed"
