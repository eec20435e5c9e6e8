#!/usr/bin/env bash
# Every supported layer kind and option, against an independent Keras
# implementation. tests/fixtures/write_layer_fixtures.py writes one small model
# per case with random weights (h5py, the Keras 2.x layout); resnet8_convert
# turns each into TorchScript, checking it against the C++ reference executor
# on the way; tfjs-layers (Google's JavaScript Keras) runs the same model and
# weights; Python's torch.jit.load runs the converted file on the same input.
# Every output must match tfjs within 1e-5 (relative to the value where it is
# above 1), with the same argmax. The few layers and options tfjs-layers does
# not implement run in tfjs_reference.mjs as tfjs-core ops composed after
# Keras's formula; the summary lists them. Fixtures written in Keras 3's forms
# (NAME_keras3.h5, and NAME_keras.keras and NAME_keras_sequential.keras archives)
# must also convert to exactly the tensors of their Keras 2 twin.
# Usage: layer_fixtures_test.sh BUILD_BIN_DIR SHARED_DIR TFJS_DIR
set -euo pipefail
bin=$1 tfjs=$3
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

[[ -d "$tfjs/node_modules/@tensorflow/tfjs-layers" ]] || fail "tfjs-layers is not installed in $tfjs (scripts/install_deps.sh --test)"
/usr/bin/python3 "$here/../fixtures/write_layer_fixtures.py" "$work" > "$work/names.txt"
echo "$(wc -l < "$work/names.txt") fixtures"
while read -r name; do
  model="$work/$name.h5"
  [[ -f "$model" ]] || model="$work/$name.keras"
  "$bin/resnet8_convert" --model="$model" --output="$work/$name.ts" --format=torchscript \
    > "$work/$name.txt" 2>&1 || fail "$name: $(cat "$work/$name.txt")"
done < "$work/names.txt"
# Node resolves the script's imports from the node_modules beside it.
mkdir "$work/node" && ln -s "$tfjs/node_modules" "$work/node/node_modules"
cp "$here/../fixtures/tfjs_reference.mjs" "$work/node/"
node "$work/node/tfjs_reference.mjs" "$work" > "$work/tfjs.log" 2>&1 || fail "tfjs-layers: $(tail -5 "$work/tfjs.log")"

/usr/bin/python3 - "$work" <<'PY'
import json, sys
import torch
work = sys.argv[1]
names = open(f"{work}/names.txt").read().split()
compared, by_formula, outputs = [], [], {}
for name in names:
    fixture = json.load(open(f"{work}/{name}.json"))
    tfjs = json.load(open(f"{work}/{name}.tfjs.json"))
    assert "error" not in tfjs, f"{name}: tfjs cannot run it: {tfjs['error']}"
    x = torch.tensor(fixture["input"], dtype=torch.float32).reshape(fixture["input_shape"])
    if x.dim() == 4:
        x = x.permute(0, 3, 1, 2)  # the module takes NCHW images
    with torch.no_grad():
        ours = torch.jit.load(f"{work}/{name}.ts")(x).double()
    outputs[name] = ours
    theirs = torch.tensor(tfjs["output"], dtype=torch.float64).reshape(tfjs["shape"])
    assert list(ours.shape) == list(theirs.shape), (name, ours.shape, theirs.shape)
    error = ((ours - theirs).abs() / theirs.abs().clamp(min=1)).max().item()
    same_argmax = bool((ours.argmax(-1) == theirs.argmax(-1)).all())
    formula = f"  (tfjs-core by formula: {', '.join(tfjs['by_formula'])})" if tfjs["by_formula"] else ""
    print(f"{name:42s} max relative difference {error:.1e}{'' if same_argmax else '  ARGMAX DIFFERS'}{formula}")
    assert error <= 1e-5 and same_argmax, name
    compared.append(name)
    if tfjs["by_formula"]:
        by_formula.append(name)
forms = ("_keras3", "_keras", "_keras_sequential", "_keras_nested")
twins = [(name, name[:name.rindex(form)]) for name in names for form in forms if name.endswith(form)
         and name[:name.rindex(form)] in outputs]
for twin, base in twins:
    assert torch.equal(outputs[twin], outputs[base]), f"{twin} converts to other tensors than {base}"
archives = [twin for twin, _ in twins if not twin.endswith("_keras3")]
print(f"{len(compared)} fixtures match tfjs within 1e-5, {len(compared) - len(by_formula)} of them through "
      f"tfjs-layers alone; {len(by_formula)} use tfjs-core ops composed after Keras's formula for a layer "
      f"tfjs-layers lacks: {', '.join(by_formula)}")
print(f"{len(twins)} fixtures in Keras 3's forms convert to exactly the tensors of their Keras 2 twins, "
      f"{len(archives)} of them .keras archives")
assert len(archives) >= 20, archives
PY
echo "layer_fixtures_test: passed"
