#!/usr/bin/env bash
# Keras 3 .keras files, end to end. tests/fixtures/h5_to_keras.py rewrites the
# shared models as Keras 3 would save them (h5py + zipfile, saving_lib's
# layout); then:
# - resnet8_convert writes TorchScript from the .h5 and from the .keras, and
#   Python's torch.jit.load runs both on the whole test set: every output of
#   the .keras equals the .h5's, and 8719/10000 are right; the Keras 3 CNN's
#   .keras matches its golden logits within 1e-5 at --input_scale=1/255;
# - resnet8_server serves each .keras (startup self-check, info) and
#   resnet8_client evaluates the full set: 87.19% (8719/10000), every
#   probability equal to the .h5 server's; the CNN's first 500 within 1e-5;
# - archives that are broken in each way a file can be (not a zip, truncated,
#   a member missing, config.json not JSON, a zip bomb, weights that do not
#   fit the config) are refused by the converter and the server with a message
#   naming the member, layer or variable.
# Usage: keras_archive_test.sh BUILD_BIN_DIR SHARED_DIR
set -euo pipefail
bin=$1 shared=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
source "$here/../../scripts/lib/server.sh"
cleanup() {
  [[ -n "$server_pid" ]] && kill -9 "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
data="$shared/data/cifar-10-batches-bin"
resnet_h5="$shared/models/pretrainedResnet.h5" cnn_h5="$shared/models/keras3_cifar10_cnn.h5"

/usr/bin/python3 "$here/../fixtures/h5_to_keras.py" "$resnet_h5" "$work/resnet8.keras"
/usr/bin/python3 "$here/../fixtures/h5_to_keras.py" "$cnn_h5" "$work/cnn.keras"

# The converter: both formats to TorchScript, compared in Python.
for model in "$resnet_h5:resnet8_h5" "$work/resnet8.keras:resnet8_keras" "$cnn_h5:cnn_h5" "$work/cnn.keras:cnn_keras"; do
  scale=1; [[ $model == *cnn* ]] && scale=1/255
  "$bin/resnet8_convert" --model="${model%%:*}" --output="$work/${model##*:}.ts" --format=torchscript \
    --input_scale="$scale" > "$work/${model##*:}.log" 2>&1 || fail "convert ${model%%:*}: $(cat "$work/${model##*:}.log")"
done
grep -q "^keras: *3.10.0" "$work/resnet8_keras.log" || fail "the converter does not show the .keras file's Keras version"
/usr/bin/python3 - "$work" "$data/test_batch.bin" "$shared/golden/keras3_cnn_scaled_first500.csv" <<'PY'
import csv, sys
import numpy as np, torch
work, batch, golden_csv = sys.argv[1:]
records = np.fromfile(batch, dtype=np.uint8).reshape(10000, 3073)
labels = torch.tensor(records[:, 0].astype(np.int64))
images = torch.tensor(records[:, 1:].reshape(10000, 3, 32, 32).astype(np.float32))
def run(name):
    module = torch.jit.load(f"{work}/{name}.ts")
    with torch.no_grad():
        return torch.cat([module(images[i:i + 500]) for i in range(0, 10000, 500)])
h5, keras = run("resnet8_h5"), run("resnet8_keras")
assert torch.equal(h5, keras), f"resnet8: .keras differs from .h5 by {(h5 - keras).abs().max().item()}"
correct = int((keras.argmax(1) == labels).sum())
assert correct == 8719, correct
cnn_h5, cnn_keras = run("cnn_h5"), run("cnn_keras")
assert torch.equal(cnn_h5, cnn_keras), "cnn: .keras differs from .h5"
golden = list(csv.DictReader(open(golden_csv)))
expected = torch.tensor([[float(row[f"out_{c}"]) for c in range(10)] for row in golden], dtype=torch.float64)
ours = cnn_keras[[int(row["index"]) for row in golden]].double()
error = ((ours - expected).abs() / expected.abs().clamp(min=1)).max().item()
assert error <= 1e-5, error
print(f"converter: resnet8.keras equals the .h5 on all 10000 images, {correct}/10000 right; "
      f"cnn.keras within {error:.1e} of its golden logits")
PY

# The server and the client: the .keras served, and compared with the .h5 served.
evaluate() {  # evaluate MODEL NAME [SERVER FLAGS...]: the full set through a server of MODEL
  local model=$1 name=$2
  shift 2
  start_server "$bin" "$model" "$work/$name.server.log" "$@" || fail "server for $model did not start"
  [[ "$("$bin/resnet8_client" health --server="$server_address")" == "SERVING" ]] || fail "$name health"
  "$bin/resnet8_client" info --server="$server_address" > "$work/$name.info"
  "$bin/resnet8_client" evaluate --server="$server_address" --data="$data" \
    --predictions_csv="$work/$name.csv" > "$work/$name.report" || fail "$name evaluate"
  stop_server || fail "$name server exit $?"
}
evaluate "$work/resnet8.keras" resnet8_keras
grep -q "^self-check: *passed" "$work/resnet8_keras.info" || fail "self-check: $(cat "$work/resnet8_keras.info")"
grep -q "$(sha256sum "$work/resnet8.keras" | cut -d' ' -f1)" "$work/resnet8_keras.info" || fail "info: not the .keras sha256"
grep -q "top-1 accuracy: 87.19% (8719/10000)" "$work/resnet8_keras.report" || fail "report: $(head -3 "$work/resnet8_keras.report")"
evaluate "$resnet_h5" resnet8_h5
cmp -s "$work/resnet8_h5.csv" "$work/resnet8_keras.csv" || fail "the served .keras probabilities differ from the .h5's"
evaluate "$work/cnn.keras" cnn_keras --input_scale=1/255
/usr/bin/python3 - "$work/cnn_keras.csv" "$shared/golden/keras3_cnn_scaled_first500.csv" <<'PY'
import csv, math, sys
served = {row["index"]: row for row in csv.DictReader(open(sys.argv[1]))}
worst = 0.0
for row in csv.DictReader(open(sys.argv[2])):
    logits = [float(row[f"out_{c}"]) for c in range(10)]
    top = max(logits)
    exp = [math.exp(v - top) for v in logits]
    for c in range(10):
        worst = max(worst, abs(float(served[row["index"]][f"prob_{c}"]) - exp[c] / sum(exp)))
assert worst <= 1e-5, worst
print(f"server: cnn.keras probabilities within {worst:.1e} of the golden logits' softmax")
PY
echo "server: resnet8.keras 8719/10000, every probability equal to the .h5 server's"

# Broken archives: refused with the reason, by the converter and the server.
/usr/bin/python3 - "$work" <<'PY'
import io, json, sys, zipfile
import h5py, numpy as np
work = sys.argv[1]
good = open(f"{work}/resnet8.keras", "rb").read()
members = {name: zipfile.ZipFile(io.BytesIO(good)).read(name) for name in
           ["metadata.json", "config.json", "model.weights.h5"]}
def archive(name, changed, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(f"{work}/{name}.keras", "w", compression=compression) as z:
        for member, data in {**members, **changed}.items():
            if data is not None:
                z.writestr(member, data)
open(f"{work}/not_zip.keras", "wb").write(b"PK\x03\x04 but nothing after it")
open(f"{work}/truncated.keras", "wb").write(good[:len(good) // 2])
archive("no_weights", {"model.weights.h5": None})
archive("no_config", {"config.json": None})
archive("config_not_json", {"config.json": b"{\"class_name\": \"Functional\", "})
archive("bomb", {"assets/pad": b"", "model.weights.h5": b"\0" * (64 << 20)}, zipfile.ZIP_DEFLATED)
def weights(edit):
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "r+") as f:
        edit(f)
    return buffer.getvalue()
def wrong_shape(f):
    del f["layers/conv2d_1/vars/0"]
    f["layers/conv2d_1/vars/0"] = np.zeros((3, 3, 16, 15), np.float32)
archive("wrong_shape", {"model.weights.h5": weights(wrong_shape)})
archive("missing_variable", {"model.weights.h5": weights(lambda f: f.__delitem__("layers/dense/vars/1"))})
def extra_layer(f):
    f.create_group("layers/dense_7/vars")["0"] = np.zeros(3, np.float32)
archive("extra_variables", {"model.weights.h5": weights(extra_layer)})
def renamed(f):
    f["layers/conv2d_2/vars"].attrs["name"] = "conv2d_5"
archive("recorded_name", {"model.weights.h5": weights(renamed)})
PY
refused() {  # refused NAME TEXT: converter and server exit non-zero, saying TEXT
  local name=$1 text=$2
  if "$bin/resnet8_convert" --model="$work/$name.keras" --output="$work/$name.pt" 2> "$work/$name.err"; then
    fail "$name.keras converted"
  fi
  grep -qF -- "$text" "$work/$name.err" || fail "$name: the converter says '$(cat "$work/$name.err")', not '$text'"
  if "$bin/resnet8_server" --model="$work/$name.keras" --address=127.0.0.1:0 2> "$work/$name.server.err"; then
    fail "$name.keras served"
  fi
  grep -qF -- "$text" "$work/$name.server.err" || fail "$name: the server says '$(tail -1 "$work/$name.server.err")'"
  echo "refused $name.keras: $(grep -F -- "$text" "$work/$name.err" | head -1)"
}
refused not_zip "not_zip.keras: not a valid zip archive"
refused truncated "truncated.keras: not a valid zip archive"
refused no_weights "the archive has no model.weights.h5"
refused no_config "the archive has no config.json"
refused config_not_json "config.json is not valid JSON"
refused bomb "member 'model.weights.h5' declares 67108864 bytes from"
refused wrong_shape "weight 'layers/conv2d_1/vars/0' has shape [3,3,16,15], expected kernel [3,3,16,16]"
refused missing_variable "layer 'dense' (Dense): stores 1 weights, expected 2"
refused extra_variables "weights stored for layer 'layers/dense_7'"
refused recorded_name "group 'layers/conv2d_2/vars' records layer 'conv2d_5', but config.json's layer at that place is 'conv2d_2'"
echo "keras_archive_test: passed"
