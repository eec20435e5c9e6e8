#!/usr/bin/env bash
# Runs the compose stack for real and checks the client's report says
# 8719/10000. On this kind of machine no Docker engine runs and no image
# registry is reachable, so the script brings its own: it installs Debian's
# docker.io, starts a private dockerd, and builds the debian:bookworm base
# image with debootstrap from the Debian archive apt already uses. The daemon,
# its containers and its network state are stopped and removed on exit, also
# on failure.
#
# The daemon's image store is kept between runs, as ccache keeps compiled
# files: in ~/.cache/resnet8-docker (RESNET8_DOCKER_CACHE). A second run reuses
# the base image and every layer whose Dockerfile step and inputs are
# unchanged (the apt layers), and still compiles the project from the clone's
# sources in the image. The base image is rebuilt when it is over 7 days old,
# so that the apt layers follow the archive's updates; the store is emptied
# when it grows over 8 GB. Runs on one machine take turns (flock).
#
#   deploy/test_compose.sh
#   RESNET8_DOCKER_CACHE= deploy/test_compose.sh   # a throwaway store: everything from scratch
#   RESNET8_SKIP_DOCKER=1 deploy/test_compose.sh   # says so loudly and exits 0
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [[ "${RESNET8_SKIP_DOCKER:-0}" == "1" ]]; then
  echo "************************************************************************" >&2
  echo "* test_compose.sh: SKIPPED because RESNET8_SKIP_DOCKER=1.               *" >&2
  echo "* The Docker deployment was NOT tested.                                 *" >&2
  echo "************************************************************************" >&2
  exit 0
fi

start=$(date +%s)
# Progress on stderr, with the seconds since the start: where the minutes go.
say() { echo "test_compose.sh [$(( $(date +%s) - start )) s]: $*" >&2; }
deploy/install_docker.sh

work=$(mktemp -d /tmp/resnet8-docker.XXXXXX)
store=${RESNET8_DOCKER_CACHE-${XDG_CACHE_HOME:-$HOME/.cache}/resnet8-docker}
if [[ -n "$store" ]]; then
  mkdir -p "$store"
  exec 9> "$store.lock"
  flock 9  # one daemon per image store
  if [[ $(du -sm "$store" | cut -f1) -gt 8192 ]]; then
    say "the image store $store is over 8 GB: emptying it"
    rm -rf "$store"
    mkdir -p "$store"
  fi
else
  store="$work/root"
fi
export DOCKER_HOST="unix://$work/docker.sock"
compose=(docker-compose -p resnet8ci -f deploy/docker-compose.yml -f deploy/docker-compose.ci.yml)
dockerd_pid=""
cleanup() {
  local status=$?
  set +e
  if [[ -n "$dockerd_pid" ]]; then
    "${compose[@]}" down --volumes --remove-orphans > /dev/null 2>&1
    docker image prune --force > /dev/null 2>&1  # images a rebuild replaced
    kill "$dockerd_pid" 2> /dev/null
    for _ in $(seq 100); do kill -0 "$dockerd_pid" 2> /dev/null || break; sleep 0.2; done
    kill -9 "$dockerd_pid" 2> /dev/null
  fi
  mountpoint -q "$work/exec/netns/default" && umount "$work/exec/netns/default"
  # Overlay mounts of containers that did not go away with the daemon.
  grep -o -e "$work/[^ ]*" -e "$store/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2> /dev/null
  rm -rf "$work" /etc/docker/key.json
  echo "test_compose.sh: cleaned up (exit $status)" >&2
  exit $status
}
trap cleanup EXIT

fail() { echo "test_compose.sh: FAIL: $*" >&2; exit 1; }

dockerd --iptables=false --ip-forward=false --ip-masq=false --bridge=none --storage-driver=overlay2 \
  --data-root "$store" --exec-root "$work/exec" --pidfile "$work/dockerd.pid" -H "$DOCKER_HOST" \
  > "$work/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 150); do
  docker info > /dev/null 2>&1 && break
  kill -0 "$dockerd_pid" 2> /dev/null || { tail -20 "$work/dockerd.log" >&2; fail "dockerd exited: this machine cannot run a Docker engine (set RESNET8_SKIP_DOCKER=1 to skip, knowingly)"; }
  sleep 0.2
done
docker info > /dev/null 2>&1 || { tail -20 "$work/dockerd.log" >&2; fail "dockerd did not answer within 30 s"; }
say "dockerd $(docker version --format '{{.Server.Version}}') running"

# The base image, from the Debian archive apt on this machine already uses
# (read from its sources, never a hard-coded host), unless the store holds one
# made within the last 7 days.
created=$(docker image inspect --format '{{.Created}}' debian:bookworm 2> /dev/null || true)
if [[ -n "$created" ]] && (( $(date +%s) - $(date -d "$created" +%s) < 7 * 24 * 3600 )); then
  say "base image debian:bookworm from the store (made $created)"
else
  mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2> /dev/null | grep -v security | head -1)
  [[ -n "$mirror" ]] || mirror=$(awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2> /dev/null)
  [[ -n "$mirror" ]] || fail "cannot find the Debian mirror in /etc/apt sources"
  say "debootstrap bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }
  # The image's apt gets this machine's sources (updates and security included).
  rm -f "$work/rootfs/etc/apt/sources.list"
  cp /etc/apt/sources.list.d/*.sources "$work/rootfs/etc/apt/sources.list.d/" 2> /dev/null || true
  [[ -f /etc/apt/sources.list ]] && cp /etc/apt/sources.list "$work/rootfs/etc/apt/sources.list"
  tar -C "$work/rootfs" -c . | docker import - debian:bookworm > /dev/null
  rm -rf "$work/rootfs"
fi

# A free loopback port for the server, which runs on the host's network here.
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export RESNET8_PORT=$port RESNET8_BIND_HOST=127.0.0.1 RESNET8_SERVER_HOST=127.0.0.1
export RESNET8_MODEL="$root/../shared/models/pretrainedResnet.h5"
export RESNET8_DATA="$root/../shared/data/cifar-10-batches-bin"
export RESNET8_OUTPUT="$work/output"
mkdir -p "$RESNET8_OUTPUT"
chmod 0777 "$RESNET8_OUTPUT"  # the containers run as uid 10001

say "building the image"
"${compose[@]}" build > "$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; fail "image build failed"; }
say "image built; $(grep -c '^Step ' "$work/build.log") steps, $(grep -c 'Using cache' "$work/build.log") of them from the store"
docker image ls resnet8-service --format 'test_compose.sh: image {{.Repository}}:{{.Tag}} {{.Size}}' >&2

say "docker-compose up (server, then the client job once healthy)"
stack_failed() {  # what `up` said, then each container's own last words (an unhealthy server says why)
  tail -40 "$work/up.log" >&2
  for service in server client; do
    echo "--- $service logs" >&2
    "${compose[@]}" logs --no-color --tail=20 "$service" >&2 || true
  done
  local server_id
  server_id=$("${compose[@]}" ps -q server 2> /dev/null || true)
  if [[ -n "$server_id" ]]; then
    echo "--- server health checks" >&2
    docker inspect --format '{{range .State.Health.Log}}exit {{.ExitCode}}: {{.Output}}{{end}}' "$server_id" \
      | tail -6 >&2 || true
  fi
  fail "the stack failed"
}
"${compose[@]}" up --exit-code-from client > "$work/up.log" 2>&1 || stack_failed
grep "top-1 accuracy" "$work/up.log" || fail "no report line in the client's output"

/usr/bin/python3 - "$RESNET8_OUTPUT/report.json" <<'PY' || fail "report check"
import json, sys
report = json.load(open(sys.argv[1]))
assert (report["images"], report["correct"]) == (10000, 8719), report
print(f"test_compose.sh: report.json says {report['correct']}/{report['images']}")
PY
[[ $(wc -l < "$RESNET8_OUTPUT/predictions.csv") -eq 10001 ]] || fail "predictions.csv should have 10,000 rows"
echo "test_compose.sh: passed in $(( $(date +%s) - start )) s"
