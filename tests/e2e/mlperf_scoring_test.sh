#!/usr/bin/env bash
# MLPerf Tiny's own scoring, end to end with the shipped programs: the AUC that
# resnet8_client reports (text, JSON, HTML) equals scikit-learn's
# roc_auc_score(labels, probabilities, multi_class="ovr") on the full test set
# and on perf200, to 1e-6, per class too; and an MLPerf Tiny dataset folder
# (per-image HWC .bin files and y_labels.csv, written here from the test set
# with the perf200 indices of the Keras golden file) evaluates to the same
# 174/200 and AUC as --subset=perf200. Bad folders exit 1 naming the problem.
# Usage: mlperf_scoring_test.sh BUILD_BIN_DIR SHARED_DIR
set -euo pipefail
bin=$1 shared=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
source "$root/scripts/lib/server.sh"
trap 'stop_server || true; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
data="$shared/data/cifar-10-batches-bin"

start_server "$bin" "$shared/models/pretrainedResnet.h5" "$work/server.log" || fail "server did not start"
client() { "$bin/resnet8_client" "$@" --server="$server_address"; }

# Checks a run's report.json and report.txt against sklearn over its predictions CSV.
check_against_sklearn() {  # RUN_NAME
  /usr/bin/python3 - "$work/$1.json" "$work/$1.csv" "$work/$1.txt" <<'PY'
import csv, json, sys
import numpy as np
from sklearn.metrics import roc_auc_score
report = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
labels = np.array([int(r["label"]) for r in rows])
probabilities = np.array([[float(r[f"prob_{c}"]) for c in range(10)] for r in rows])
expected = roc_auc_score(labels, probabilities, multi_class="ovr")
assert abs(report["auc"] - expected) <= 1e-6, (report["auc"], expected)
for c in range(10):
    ours = report["per_class"][c]["auc"]
    theirs = roc_auc_score(labels == c, probabilities[:, c])
    assert abs(ours - theirs) <= 1e-6, (c, ours, theirs)
line = f"AUC {expected:.5f}"
assert line in open(sys.argv[3]).read(), f"'{line}' not in the text report"
print(f"{len(rows)} images: AUC {report['auc']:.9f}, sklearn {expected:.9f}, "
      f"|difference| {abs(report['auc'] - expected):.2g}; 10 per-class AUCs agree")
PY
}

client evaluate --data="$data" --report_json="$work/full.json" --predictions_csv="$work/full.csv" \
  > "$work/full.txt"
grep -q "top-1 accuracy: 87.19% (8719/10000), AUC 0\.9" "$work/full.txt" || fail "full set: $(head -4 "$work/full.txt")"
check_against_sklearn full || fail "full-set AUC differs from sklearn"

client evaluate --data="$data" --subset=perf200 --report_json="$work/perf200.json" \
  --predictions_csv="$work/perf200.csv" --report_html="$work/perf200.html" > "$work/perf200.txt"
check_against_sklearn perf200 || fail "perf200 AUC differs from sklearn"
perf200_line=$(grep "^top-1 accuracy:" "$work/perf200.txt")
[[ "$perf200_line" == "top-1 accuracy: 87.00% (174/200), AUC "* ]] || fail "perf200 line: $perf200_line"
grep -qF "<h1 id=\"headline\">$perf200_line</h1>" "$work/perf200.html" || fail "HTML headline lacks '$perf200_line'"
grep -q '<svg role="img" aria-label="ROC curves"' "$work/perf200.html" || fail "HTML report has no ROC curves"

# The benchmark's own folder layout, made from the test set: perf200's records
# (from the Keras golden file, not from our code) as HWC files named as the
# runner's are, in the golden file's order.
folder="$work/ic01"
mkdir "$folder"
/usr/bin/python3 - "$data/test_batch.bin" "$shared/golden/keras_reference_perf200.csv" "$folder" <<'PY'
import csv, os, sys
records = open(sys.argv[1], "rb").read()
golden = list(csv.DictReader(open(sys.argv[2])))
with open(os.path.join(sys.argv[3], "y_labels.csv"), "w") as labels:
    for row in golden:
        index = int(row["index"])
        record = records[index * 3073:(index + 1) * 3073]
        assert record[0] == int(row["label"])
        planar = record[1:]
        hwc = bytes(planar[c * 1024 + p] for p in range(1024) for c in range(3))
        name = f"test_{index:05d}.bin"
        open(os.path.join(sys.argv[3], name), "wb").write(hwc)
        labels.write(f"{name}, 10, {row['label']}\n")
PY
client evaluate --data="$folder" --report_json="$work/folder.json" --predictions_csv="$work/folder.csv" \
  > "$work/folder.txt"
folder_line=$(grep "^top-1 accuracy:" "$work/folder.txt")
[[ "$folder_line" == "$perf200_line" ]] || fail "folder: '$folder_line', perf200: '$perf200_line'"
/usr/bin/python3 - "$work/folder.csv" "$work/perf200.csv" "$work/folder.json" "$work/perf200.json" <<'PY' \
  || fail "folder and perf200 answers differ"
import csv, json, sys
folder = list(csv.DictReader(open(sys.argv[1])))
subset = {r["index"]: r for r in csv.DictReader(open(sys.argv[2]))}
assert len(folder) == 200
for row in folder:
    record = str(int(row["file"][5:10]))
    same = subset[record]
    assert row["label"] == same["label"] and row["predicted"] == same["predicted"], row["file"]
    assert all(row[f"prob_{c}"] == same[f"prob_{c}"] for c in range(10)), row["file"]
a, b = json.load(open(sys.argv[3])), json.load(open(sys.argv[4]))
assert a["auc"] == b["auc"] and a["correct"] == b["correct"] == 174, (a["auc"], b["auc"])
print(f"MLPerf Tiny folder: 174/200, AUC {a['auc']:.9f}, every probability identical to --subset=perf200")
PY

# Bad folders: exit 1, one message naming the file or line.
expect_refusal() {  # MESSAGE_PART
  if client evaluate --data="$folder" > /dev/null 2> "$work/err.txt"; then fail "accepted a bad folder ($1)"; fi
  grep -qF "$1" "$work/err.txt" || fail "message lacks '$1': $(cat "$work/err.txt")"
}
cp "$folder/y_labels.csv" "$work/y_labels.good"
echo "missing.bin, 10, 1" >> "$folder/y_labels.csv"
expect_refusal "missing.bin: cannot open"
cp "$work/y_labels.good" "$folder/y_labels.csv"
first=$(head -1 "$folder/y_labels.csv" | cut -d, -f1)
head -c 100 "$folder/$first" > "$work/short" && cp "$work/short" "$folder/$first"
expect_refusal "$first (${folder}/y_labels.csv line 1): 100 bytes"
echo "mlperf_scoring_test: passed"
