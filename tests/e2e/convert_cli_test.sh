#!/usr/bin/env bash
# End-to-end test of resnet8_convert: converts the shared models, loads the
# state dict with Python's torch.load and the TorchScript module with
# torch.jit.load, runs the module on the real test images against the Keras
# golden outputs, and checks that bad input exits 1 with a message and leaves
# no output file.
# Usage: convert_cli_test.sh BUILD_BIN_DIR SHARED_DIR
set -euo pipefail
bin=$1 shared=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$bin/resnet8_convert" --model="$shared/models/pretrainedResnet.h5" --output="$work/resnet8.pt" > "$work/summary.txt"
cat "$work/summary.txt"
grep -q "^layers:     30 layers: 1 InputLayer, 9 Conv2D, 7 BatchNormalization, 7 Activation, 3 Add, 1 AveragePooling2D, 1 Flatten, 1 Dense$" "$work/summary.txt" || fail "layers line"
grep -q "^parameters: 78666 stored values$" "$work/summary.txt" || fail "parameter count"
grep -q "5f938a8eea605438cc7360aa13c987bc6d7bd0c8d931b2917361ae7ae4eeda2f" "$work/summary.txt" || fail "sha256"
grep -q "^check:      passed" "$work/summary.txt" || fail "check against the reference"

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

# The whole model for PyTorch: both shared models as TorchScript, run by
# Python's torch.jit.load on raw 0..255 NCHW pixels against the Keras goldens.
"$bin/resnet8_convert" --model="$shared/models/pretrainedResnet.h5" --output="$work/resnet8.ts" \
  --format=torchscript > /dev/null
"$bin/resnet8_convert" --model="$shared/models/keras3_cifar10_cnn.h5" --output="$work/cnn.ts" \
  --format=torchscript --input_scale=1/255 > "$work/cnn.txt"
grep -q "^outputs:    \[10\] logits$" "$work/cnn.txt" || fail "logits line: $(cat "$work/cnn.txt")"
/usr/bin/python3 - "$work" "$shared" <<'PY'
import csv, sys
import numpy as np, torch
work, shared = sys.argv[1], sys.argv[2]
raw = np.fromfile(f"{shared}/data/cifar-10-batches-bin/test_batch.bin", dtype=np.uint8).reshape(10000, 3073)
labels, pixels = raw[:, 0], torch.from_numpy(raw[:, 1:].reshape(10000, 3, 32, 32).astype(np.float32))
for module_file, golden_file, column in [("resnet8.ts", "keras_reference_perf200.csv", "prob_"),
                                         ("cnn.ts", "keras3_cnn_scaled_first500.csv", "out_")]:
    module = torch.jit.load(f"{work}/{module_file}")
    rows = list(csv.DictReader(open(f"{shared}/golden/{golden_file}")))
    index = [int(r["index"]) for r in rows]
    golden = torch.tensor([[float(r[f"{column}{c}"]) for c in range(10)] for r in rows], dtype=torch.float64)
    with torch.no_grad():
        out = module(pixels[index]).double()
    error = ((out - golden).abs() / golden.abs().clamp(min=1)).max().item()
    same = (out.argmax(1) == golden.argmax(1)).sum().item()
    print(f"python torch.jit.load {module_file}: max relative error {error:.2e}, same argmax {same}/{len(rows)}")
    assert error <= 1e-5, error
    assert same == len(rows)
module = torch.jit.load(f"{work}/resnet8.ts")
with torch.no_grad():
    top1 = sum((module(pixels[i:i + 1000]).argmax(1).numpy() == labels[i:i + 1000]).sum() for i in range(0, 10000, 1000))
print("python torch.jit.load resnet8.ts: full test set", top1, "/ 10000")
assert top1 == 8719, top1
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
if "$bin/resnet8_convert" --model="$shared/models/pretrainedResnet.h5" --output="$work/x.ts" --format=onnx \
  2> "$work/err.txt"; then
  fail "--format=onnx was accepted"
fi
grep -q "is not one of state_dict, torchscript" "$work/err.txt" || fail "format message: $(cat "$work/err.txt")"
if "$bin/resnet8_convert" --model="$shared/models/pretrainedResnet.h5" --output="$work/x.ts" --input_scale=1,2 \
  2> "$work/err.txt"; then
  fail "two scale values for three channels were accepted"
fi
grep -q "input_scale has 2 values; the model's input has 3 channels" "$work/err.txt" || fail "$(cat "$work/err.txt")"
[[ ! -e "$work/x.ts" ]] || fail "output left behind"
echo "convert_cli_test: passed"
