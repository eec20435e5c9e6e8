#!/usr/bin/env bash
# Renders an HTML report in headless Chromium (Debian's `chromium`) and checks
# that it loaded completely and offline: the page's own script marks the body
# data-rendered="ok" once every thumbnail has decoded, the headline starts as
# expected, no script error was logged, and the screenshot is a real PNG.
# Usage: check_html_report.sh REPORT.html "EXPECTED HEADLINE" [SCREENSHOT.png]
set -euo pipefail
report=$(readlink -f "$1") headline=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
screenshot=${3:-$work/screenshot.png}
fail() { echo "FAIL: $*" >&2; exit 1; }

# No network for the page: a report that tried to fetch anything would show broken parts.
browser=(chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$work/profile"
         --proxy-server=127.0.0.1:9 --enable-logging=stderr --v=0)
timeout 120 "${browser[@]}" --dump-dom "file://$report" > "$work/dom.html" 2> "$work/dom.log" \
  || fail "chromium --dump-dom failed: $(tail -3 "$work/dom.log")"
grep -q '<body[^>]*data-rendered="ok"' "$work/dom.html" \
  || fail "page not fully rendered: $(grep -o '<body[^>]*>' "$work/dom.html")"
grep -qF "<h1 id=\"headline\">$headline" "$work/dom.html" || fail "headline does not start '$headline'"
if grep -E "Uncaught|CONSOLE.*(Error|error)" "$work/dom.log"; then fail "script errors in the page"; fi

timeout 120 "${browser[@]}" --window-size=1200,2600 --screenshot="$screenshot" "file://$report" \
  > /dev/null 2> "$work/shot.log" || fail "chromium --screenshot failed: $(tail -3 "$work/shot.log")"
/usr/bin/python3 - "$screenshot" <<'PY' || fail "screenshot"
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
width, height = struct.unpack(">II", data[16:24])
assert (width, height) == (1200, 2600), (width, height)
assert len(data) > 50000, f"only {len(data)} bytes: a blank page?"
PY
echo "check_html_report: $(grep -o 'data-images-decoded="[0-9]*"' "$work/dom.html") thumbnails decoded, headline '$headline', screenshot ok"
