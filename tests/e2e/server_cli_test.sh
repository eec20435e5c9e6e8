#!/usr/bin/env bash
# End-to-end test of the shipped programs: resnet8_server on a free port and
# resnet8_client against it (health, info, evaluate with the golden subset,
# classify of a record and of a PNG file, the HTML report rendered in headless
# Chromium, a Prometheus scrape, error exits), then SIGTERM; then a
# server with TLS and a bearer token (certificates made here by openssl).
# Usage: server_cli_test.sh BUILD_BIN_DIR SHARED_DIR
set -euo pipefail
bin=$1 shared=$2
work=$(mktemp -d)
source "$(dirname "$0")/../../scripts/lib/server.sh"
server_log="" starts=0
cleanup() {
  [[ -n "$server_pid" ]] && kill -9 "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f "$server_log" ]] && tail -5 "$server_log" >&2; exit 1; }
data="$shared/data/cifar-10-batches-bin"

# A bad model: exit 1 with a message, never listening.
printf 'junk' > "$work/bad.h5"
if "$bin/resnet8_server" --model="$work/bad.h5" --address=127.0.0.1:0 2> "$work/bad.log"; then fail "bad model served"; fi
grep -q "bad.h5: not an HDF5 file" "$work/bad.log" || fail "bad model message: $(cat "$work/bad.log")"
grep -q "listening on" "$work/bad.log" && fail "listened with a bad model"

model="$shared/models/pretrainedResnet.h5"
serve() {  # serve [FLAGS...]: $model on a free port; sets server_log and address
  server_log="$work/server$((++starts)).log"
  start_server "$bin" "$model" "$server_log" "$@" || fail "server did not start"
  address=$server_address
  echo "server at $address"
}
stop() {  # SIGTERM: a clean exit 0
  stop_server || fail "server exit code $? after SIGTERM"
  grep -q "stopped" "$server_log" || fail "no clean stop"
}
serve --metrics_address=127.0.0.1:0
metrics=$(sed -n 's|.*metrics on http://\(.*\)/metrics$|\1|p' "$server_log")
[[ -n "$metrics" ]] || fail "no 'metrics on' line"
client() { "$bin/resnet8_client" "$@" --server="$address"; }

[[ "$(client health)" == "SERVING" ]] || fail "health"
client info > "$work/info.txt"
grep -q "5f938a8eea605438cc7360aa13c987bc6d7bd0c8d931b2917361ae7ae4eeda2f" "$work/info.txt" || fail "info sha256"
grep -q "^self-check:   passed" "$work/info.txt" || fail "info self-check"

client evaluate --data="$data" --subset=perf200 --batch_size=64 --report_json="$work/report.json" \
  --predictions_csv="$work/predictions.csv" --report_html="$work/report.html" > "$work/report.txt"
grep -q "top-1 accuracy: 87.00% (174/200)" "$work/report.txt" || fail "perf200 report: $(head -5 "$work/report.txt")"
"$(dirname "$0")/../support/check_html_report.sh" "$work/report.html" "top-1 accuracy: 87.00% (174/200)" || fail "HTML report"
/usr/bin/python3 - "$work/report.json" "$work/predictions.csv" "$shared/golden/keras_reference_perf200.csv" <<'PY'
import csv, json, sys
report = json.load(open(sys.argv[1]))
assert report["images"] == 200 and report["correct"] == 174, report
ours = {row["index"]: row for row in csv.DictReader(open(sys.argv[2]))}
golden = list(csv.DictReader(open(sys.argv[3])))
assert len(ours) == 200
worst = max(abs(float(ours[g["index"]][f"prob_{c}"]) - float(g[f"prob_{c}"])) for g in golden for c in range(10))
assert worst <= 1e-5, worst
print(f"predictions CSV vs Keras golden: max |difference| = {worst:.3g} over 2000 probabilities")
PY

# Prometheus scrape: the 200 images are counted, with queue and compute times.
/usr/bin/python3 - "http://$metrics/metrics" <<'PY' || fail "metrics scrape"
import re, sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
def value(pattern):
    found = re.search("^" + re.escape(pattern) + r" (\S+)$", text, re.M)
    assert found, f"no '{pattern}' in the scrape"
    return float(found.group(1))
assert value('resnet8_images_classified_total{method="EvaluateDataset",model="resnet8"}') == 200
assert value('resnet8_requests_total{method="EvaluateDataset",code="OK"}') >= 1  # streams turn over
assert value('resnet8_inference_compute_seconds_count{model="resnet8"}') >= 4  # 200 images in batches of 64, plus the self-check
assert value("resnet8_serving") == 1
assert re.search(r'^resnet8_model_info\{model="resnet8",version="1",sha256="5f938a8e[0-9a-f]+",file="pretrainedResnet.h5",.*\} 1$', text, re.M)
print("metrics scrape: ok")
PY

client classify --data="$data/test_batch.bin" --index=0 | grep -q "record 0 (label 3 cat): 3 cat (p=0.9986)" \
  || fail "classify record"
# Record 0 as a 64x64 PNG (each pixel doubled): area averaging gives the record back exactly.
/usr/bin/python3 - "$data/test_batch.bin" "$work/cat64.png" <<'PY'
import struct, sys, zlib
record = open(sys.argv[1], "rb").read(3073)[1:]
rows = []
for y in range(64):
    row = bytearray([0])
    for x in range(64):
        p = (y // 2) * 32 + x // 2
        row += bytes([record[p], record[1024 + p], record[2048 + p]])
    rows.append(bytes(row))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")
open(sys.argv[2], "wb").write(png)
PY
client classify "$work/cat64.png" | grep -q "cat64.png: 3 cat (p=0.9986)" || fail "classify PNG: $(client classify "$work/cat64.png")"

# Errors: one line, exit 1; the server keeps serving.
expect_error() {  # expect_error SUBSTRING COMMAND...
  local want=$1; shift
  if "$@" > /dev/null 2> "$work/err.txt"; then fail "accepted: $*"; fi
  [[ $(wc -l < "$work/err.txt") -eq 1 ]] || fail "not one line: $(cat "$work/err.txt")"
  grep -q "$want" "$work/err.txt" || fail "expected '$want', got: $(cat "$work/err.txt")"
}
expect_error "exceeds the server's max_batch_images of 1024" client evaluate --data="$data" --limit=2000 --batch_size=2000
head -c 10000 "$data/test_batch.bin" > "$work/truncated.bin"
expect_error "not a whole number of 3073-byte CIFAR-10 records" client evaluate --data="$work/truncated.bin"
expect_error "unknown (known: perf200)" client evaluate --data="$data" --subset=perf300
expect_error "unreachable or not ready" "$bin/resnet8_client" health --server=127.0.0.1:1
[[ "$(client health)" == "SERVING" ]] || fail "health after errors"

stop

# TLS and a token: probes need neither the token nor more than the CA; calls need both.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$work/server.key" -out "$work/server.crt" 2>/dev/null
echo "cli-test-token" > "$work/token"
serve --tls_cert_file="$work/server.crt" --tls_key_file="$work/server.key" --auth_token_file="$work/token" \
  --http_address=127.0.0.1:0
tls=(--tls_ca_file="$work/server.crt")
# The inference protocol's REST binding is HTTPS with the same certificate and token.
https=$(sed -n 's|.*http on https://||p' "$server_log")
[[ -n "$https" ]] || fail "no 'http on https://' line"
rest=(curl -s --cacert "$work/server.crt" -o "$work/rest.json" -w "%{http_code}")
[[ "$("${rest[@]}" "https://$https/v2/health/ready")" == 200 ]] || fail "REST ready over TLS without a token"
[[ "$("${rest[@]}" "https://$https/v2/models/resnet8")" == 401 ]] || fail "REST metadata without the token"
[[ "$("${rest[@]}" -H "Authorization: Bearer $(cat "$work/token")" "https://$https/v2/models/resnet8")" == 200 ]] \
  || fail "REST metadata over TLS with the token: $(cat "$work/rest.json")"
grep -q '"platform":"pytorch_libtorch"' "$work/rest.json" || fail "REST metadata: $(cat "$work/rest.json")"
curl -s "http://$https/v2/health/ready" > /dev/null && fail "plain HTTP answered on the TLS port"
[[ "$(client health "${tls[@]}")" == "SERVING" ]] || fail "health over TLS without a token"
expect_error "requires a token" client info "${tls[@]}"
echo "wrong-token" > "$work/wrong"
expect_error "not valid" client info "${tls[@]}" --auth_token_file="$work/wrong"
expect_error "unreachable or not ready" client info --auth_token_file="$work/token"  # plaintext to a TLS port
client evaluate --data="$data" --subset=perf200 "${tls[@]}" --auth_token_file="$work/token" > "$work/tls.txt"
grep -q "top-1 accuracy: 87.00% (174/200)" "$work/tls.txt" || fail "evaluate over TLS: $(head -3 "$work/tls.txt")"
stop

# Another Keras model, saved by Keras 3 and trained on x/255, outputting logits:
# served with its preprocessing, it scores what Keras scores (66.8% on the
# first 500 images, ../shared/golden), and info and the report say "logits".
model="$shared/models/keras3_cifar10_cnn.h5"
serve --input_scale=1/255
client info > "$work/cnn_info.txt"
grep -q "^outputs:      10 logits" "$work/cnn_info.txt" || fail "info outputs: $(cat "$work/cnn_info.txt")"
grep -q "pixel \* 0.00392157 + 0" "$work/cnn_info.txt" || fail "info input scale: $(cat "$work/cnn_info.txt")"
client evaluate --data="$data" --limit=500 > "$work/cnn.txt"
grep -q "top-1 accuracy: 66.80% (334/500)" "$work/cnn.txt" || fail "keras 3 cnn: $(head -4 "$work/cnn.txt")"
grep -q "^model outputs logits" "$work/cnn.txt" || fail "report does not say logits"
stop
echo "server_cli_test: passed"
