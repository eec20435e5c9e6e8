# Sourced, not run: start and stop a resnet8_server the one way every script
# and shell test does it.
#
#   source scripts/lib/server.sh
#   start_server build/bin ../shared/models/pretrainedResnet.h5 LOG [FLAGS...]
#   ... "$server_address" ... "$server_pid" ...
#   stop_server   # SIGTERM; returns the exit status (1 if not gone in 30 s)
#
# start_server binds a free loopback port (127.0.0.1:0), waits until the log
# says "listening on HOST:PORT" (the self-check has passed then), and sets
# server_pid and server_address. It returns 1 with the log's tail on stderr if
# the server exits first or is not listening within 60 s.

server_pid=""
server_address=""

start_server() {
  local bin=$1 model=$2 log=$3
  shift 3
  # The log must be new for each start: polling a reused file could read the
  # previous server's address before the shell truncates it.
  rm -f "$log"
  "$bin/resnet8_server" --model="$model" --address=127.0.0.1:0 "$@" 2> "$log" &
  server_pid=$!
  server_address=""
  local _
  for _ in $(seq 600); do
    server_address=$(sed -n 's/.*listening on \(.*:[0-9][0-9]*\)$/\1/p' "$log" 2>/dev/null)
    [[ -n "$server_address" ]] && return 0
    if ! kill -0 "$server_pid" 2>/dev/null; then
      tail -5 "$log" >&2
      echo "start_server: the server exited before listening" >&2
      server_pid=""
      return 1
    fi
    sleep 0.1
  done
  tail -5 "$log" >&2
  echo "start_server: not listening after 60 s" >&2
  return 1
}

stop_server() {
  [[ -n "$server_pid" ]] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  local _
  for _ in $(seq 300); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$server_pid" 2>/dev/null; then
    echo "stop_server: still running 30 s after SIGTERM; killed" >&2
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  local status=0
  wait "$server_pid" || status=$?
  server_pid=""
  return "$status"
}
