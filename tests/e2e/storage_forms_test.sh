#!/usr/bin/env bash
# Every way Keras files store their strings converts to the same tensors: the
# shared model is rewritten with h5py in each form (tests/fixtures/
# write_storage_forms.py) and each copy must give a state dict equal, tensor
# for tensor and bit for bit, to the original's.
# Usage: storage_forms_test.sh BUILD_BIN_DIR SHARED_DIR
set -euo pipefail
bin=$1 shared=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

/usr/bin/python3 "$here/../fixtures/write_storage_forms.py" "$shared/models/pretrainedResnet.h5" "$work"
"$bin/resnet8_convert" --model="$shared/models/pretrainedResnet.h5" --output="$work/original.pt" > /dev/null
forms=(vlen_utf8 vlen_ascii fixed one_element space_padded chunked)
for form in "${forms[@]}"; do
  "$bin/resnet8_convert" --model="$work/$form.h5" --output="$work/$form.pt" > "$work/$form.txt" \
    || fail "$form.h5 was refused"
done

/usr/bin/python3 - "$work" "${forms[@]}" <<'PY'
import sys, torch
work, forms = sys.argv[1], sys.argv[2:]
original = torch.load(f"{work}/original.pt")
for form in forms:
    state = torch.load(f"{work}/{form}.pt")
    assert list(state) == list(original), (form, "different keys")
    for key, tensor in original.items():
        assert torch.equal(state[key], tensor), (form, key)
    print(f"{form}: {len(state)} tensors identical to the original's")
PY
echo "storage_forms_test: passed"
