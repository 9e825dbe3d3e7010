#!/usr/bin/env bash
# Herald's benchmark harness: runs each scenario against Herald and against the
# peers (the Socket.IO 4 reference server, a minimal Node `ws` Phoenix server),
# one server at a time pinned to CPU 0, with the load generator pinned to
# CPU 1, all on loopback; then writes the side-by-side table to stdout and to
# bench/RESULTS.md.
#
# Usage: bench/run.sh [all|smoke|report|SCENARIO...]
#   all (default)  every scenario below, then the kernel floor
#   report         rebuild RESULTS.md from bench/results/ without running anything
#   smoke          100 connections, 10 messages, every server: checks the
#                  harness works (exits non-zero if it does not); writes
#                  nothing under bench/
#   SCENARIO       one or more of the names listed by `bench/run.sh list`
#
# Environment:
#   BENCH_SERVERS        servers to run (default: herald herald-sio node-ws socketio;
#                        herald-sio is skipped while Herald has no /socket.io/)
#   BENCH_PROFILE        release (default) or debug (default for smoke, which
#                        reuses the test build)
#   BENCH_SIO_JOIN_EVENT / BENCH_SIO_JOIN_ARG / BENCH_SIO_TOPIC_PREFIX
#                        how a Socket.IO client joins a room on Herald (default:
#                        the shipped vocabulary's public rooms,
#                        join-channel-notifications "<id>" -> room
#                        channel-notifications:<id>)
#
# Each scenario's JSON result lines and exact commands are kept in
# bench/results/<scenario>.jsonl and .cmd; RESULTS.md is rebuilt from all of
# them, so running one scenario updates its rows only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

log() { printf '\n==> %s\n' "$*" >&2; }

# --- scenarios ---------------------------------------------------------------
# name -> generator arguments (mode first). Sizes follow ../shared/DESIGN.md §5.
declare -A SCENARIOS=(
  [idle-10k]="idle -n 10000 --hold 10"
  [idle-19k]="idle -n 19000 --hold 10"
  [fanout-10k-2]="fanout -n 10000 -m 40 --rate 2"
  [fanout-10k-20]="fanout -n 10000 -m 200 --rate 20 --drain 120"
  [fanout-10k-flat]="fanout -n 10000 -m 200 --window 4 --drain 120"
  [topics-10k-1k]="topics -n 10000 -k 1000 -m 20000 --window 64"
  [churn]="churn -n 5000 -m 150 --rate 10 --churn-rate 200 --life 2"
)
ORDER=(idle-10k idle-19k fanout-10k-2 fanout-10k-20 fanout-10k-flat topics-10k-1k churn)
SMOKE=("idle -n 100 --hold 1" "fanout -n 100 -m 10 --window 2")

case "${1:-all}" in
  list) printf '%s\n' "${ORDER[@]}" floor; exit 0 ;;
  all) selected=("${ORDER[@]}" floor); mode=full ;;
  report) selected=(); mode=full ;;
  smoke) selected=(smoke); mode=smoke ;;
  *)
    selected=("$@"); mode=full
    for name in "${selected[@]}"; do
      [ "$name" = floor ] || [ -n "${SCENARIOS[$name]:-}" ] || { echo "unknown scenario: $name (bench/run.sh list)" >&2; exit 64; }
    done
    ;;
esac

# --- build -------------------------------------------------------------------
profile=${BENCH_PROFILE:-$([ "$mode" = smoke ] && echo debug || echo release)}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
log "building herald and herald-bench ($profile)"
if [ "$profile" = release ]; then
  cargo build --release --locked -p herald -p herald-bench >&2
else
  # The same build as scripts/test.sh's, so the smoke run in CI rebuilds
  # nothing (other flags would unify features differently and rebuild).
  cargo build --workspace --all-targets --locked >&2
fi
HERALD="$TARGET_DIR/$profile/herald"
BENCH="$TARGET_DIR/$profile/herald-bench"

for peer in socketio node-ws; do
  dir="bench/peers/$peer"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    log "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
done

# --- limits and pinning --------------------------------------------------------
# 19,000 connections need as many descriptors in the server and the generator.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 20000 ]; then ulimit -n 20000; else ulimit -n "$hard"; fi
if [ "$(nproc --all)" -ge 2 ] && command -v taskset >/dev/null; then
  PIN_SERVER=(taskset -c 0)
  PIN_BENCH=(taskset -c 1)
else
  PIN_SERVER=()
  PIN_BENCH=()
fi

# --- servers -------------------------------------------------------------------
SERVERS=(${BENCH_SERVERS:-herald herald-sio node-ws socketio})
# Herald's shipped Socket.IO vocabulary: public rooms channel-notifications:<id>.
SIO_JOIN_EVENT=${BENCH_SIO_JOIN_EVENT:-join-channel-notifications}
SIO_JOIN_ARG=${BENCH_SIO_JOIN_ARG:-'{id}'}
SIO_TOPIC_PREFIX=${BENCH_SIO_TOPIC_PREFIX:-channel-notifications:}
# Server ports sit below the ephemeral range: the generator's many client
# sockets (and anyone else's) take ports from that range, and a server port in
# it can be found taken.
ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
port=$((ephemeral_low > 3000 ? ephemeral_low - 2000 : 30000))
SERVER_PID=""
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/herald-bench.XXXXXX")

server_command() { # name port -> the command line that starts it
  case "$1" in
    herald | herald-sio) echo "env HOST=127.0.0.1 PORT=$2 LOG_LEVEL=warn ${PIN_SERVER[*]} $HERALD serve" ;;
    node-ws) echo "env PORT=$2 ${PIN_SERVER[*]} node bench/peers/node-ws/server.mjs" ;;
    socketio) echo "env PORT=$2 ${PIN_SERVER[*]} node bench/peers/socketio/server.mjs" ;;
    *) echo "unknown server $1" >&2; return 1 ;;
  esac
}

protocol_of() {
  case "$1" in
    herald-sio | socketio) echo socketio ;;
    *) echo phoenix ;;
  esac
}

start_server() { # name port; on a port found taken, moves $port on and retries
  local name=$1 attempt
  port=$2
  for attempt in 1 2 3 4 5 6 7 8; do
    # A port something already listens on would answer /health for the
    # wrong server: skip it.
    if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      port=$((port + 1))
      continue
    fi
    local command
    command=$(server_command "$name" "$port")
    $command >"$LOGDIR/$name-$port.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; then return 0; fi
      sleep 0.1
    done
    stop_server
    # Someone else (another run, a client socket) holds the port: try the next.
    grep -qE 'Address already in use|EADDRINUSE' "$LOGDIR/$name-$port.log" || break
    port=$((port + 1))
  done
  echo "server $name did not start; its log:" >&2
  cat "$LOGDIR/$name-$port.log" >&2
  return 1
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 150); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
trap stop_server EXIT

# Herald's Socket.IO endpoint is on another branch until it lands.
herald_has_socketio() {
  start_server herald "$port" || return 1
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/socket.io/?EIO=4&transport=polling" || true)
  stop_server
  port=$((port + 1))
  [ "$code" = 200 ]
}
if [[ " ${SERVERS[*]} " == *" herald-sio "* ]] && ! herald_has_socketio; then
  log "Herald has no /socket.io/ endpoint yet: skipping herald-sio"
  SERVERS=("${SERVERS[@]/herald-sio/}")
fi

# --- one run -------------------------------------------------------------------
failures=0
run_one() { # scenario server args... ; appends the JSON line to $RESULTS, the command to $COMMANDS
  local scenario=$1 server=$2
  shift 2
  local -a args=("$@")
  local protocol
  protocol=$(protocol_of "$server")
  start_server "$server" "$port" || { failures=$((failures + 1)); return 0; }
  local -a cmd=("${PIN_BENCH[@]}" "$BENCH" "${args[@]}" --server "127.0.0.1:$port"
    --server-pid "$SERVER_PID" --protocol "$protocol" --label "$server" --scenario "$scenario")
  if [ "$server" = herald-sio ]; then
    cmd+=(--sio-join-event "$SIO_JOIN_EVENT" --sio-join-arg "$SIO_JOIN_ARG" --topic-prefix "$SIO_TOPIC_PREFIX")
  fi
  log "$scenario on $server: ${cmd[*]}"
  printf '%s   # server: %s\n' "${cmd[*]}" "$(server_command "$server" "$port")" >>"$COMMANDS"
  local out="$LOGDIR/$scenario-$server.out" status=0
  "${cmd[@]}" >"$out" || status=$?
  cat "$out" >&2
  tail -n 1 "$out" | grep '^{' >>"$RESULTS" || true
  stop_server
  port=$((port + 1))
  if [ "$status" -ne 0 ]; then
    echo "!! $scenario on $server: harness reported a problem (exit $status)" >&2
    failures=$((failures + 1))
  fi
}

machine() {
  local cpu
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
  echo "$(nproc --all) CPUs (${cpu:-unknown}), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(uname -sr), open files limit $(ulimit -n)"
}

if [ "$mode" = smoke ]; then
  RESULTS="$LOGDIR/smoke.jsonl"
  COMMANDS="$LOGDIR/smoke.cmd"
  for server in "${SERVERS[@]}"; do
    [ -n "$server" ] || continue
    for args in "${SMOKE[@]}"; do
      # shellcheck disable=SC2086
      run_one smoke-${args%% *} "$server" $args --sources 2
    done
  done
  "$BENCH" table "$RESULTS"
  if [ "$failures" -ne 0 ]; then
    echo "bench smoke: $failures run(s) failed (logs in $LOGDIR)" >&2
    exit 1
  fi
  echo "bench smoke: ok"
  rm -rf "$LOGDIR"
  exit 0
fi

mkdir -p bench/results
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# Results of earlier runs under bench/ do not make the build dirty.
dirty=$(git status --porcelain --untracked-files=no -- . ':!bench/results' ':!bench/RESULTS.md' 2>/dev/null | grep -q . && echo " (with uncommitted changes)" || true)
for scenario in "${selected[@]}"; do
  if [ "$scenario" = floor ]; then
    # The kernel's share of a delivery: plain loopback writes, no server.
    {
      echo "# floor: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit$dirty, $profile build"
      echo "# machine: $(machine)"
      for batch in 1 4 16; do
        echo "\$ ${PIN_SERVER[*]} herald-bench floor -n 5000 -m 40 --batch $batch"
        "${PIN_SERVER[@]}" "$BENCH" floor -n 5000 -m 40 --batch "$batch" | grep -v '^{'
      done
    } >bench/results/floor.txt
    cat bench/results/floor.txt >&2
    continue
  fi
  RESULTS="bench/results/$scenario.jsonl"
  COMMANDS="bench/results/$scenario.cmd"
  : >"$RESULTS"
  {
    echo "# $scenario: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit$dirty, $profile build"
    echo "# machine: $(machine)"
  } >"$COMMANDS"
  for server in "${SERVERS[@]}"; do
    [ -n "$server" ] || continue
    # shellcheck disable=SC2086
    run_one "$scenario" "$server" ${SCENARIOS[$scenario]}
  done
done

# --- RESULTS.md ------------------------------------------------------------------
{
  echo "# Benchmark results"
  echo
  echo "Written by \`bench/run.sh\` (see README, Benchmarks). Each server runs alone,"
  echo "pinned to CPU 0; the load generator \`herald-bench\` is pinned to CPU 1; all"
  echo "traffic is loopback. Ratios are Herald ÷ peer (below 1: Herald needs less)."
  echo "The machine is shared with other builds, so numbers vary from run to run."
  echo
  echo "Each scenario's latest run; its date, commit and exact commands are under Commands below."
  echo "Table rebuilt $(date -u '+%Y-%m-%d %H:%M UTC') at commit $commit$dirty."
  echo "Machine: $(machine)."
  echo
  for scenario in "${ORDER[@]}"; do
    [ -f "bench/results/$scenario.jsonl" ] && cat "bench/results/$scenario.jsonl"
  done | "$BENCH" table -
  echo
  if [ -f bench/results/floor.txt ]; then
    echo "## Kernel floor"
    echo
    echo "CPU the kernel alone charges per plain loopback write of small frames (\`herald-bench floor\`,"
    echo "no server, pinned like the servers): the least any server can spend per delivery"
    echo "when each delivery is its own write."
    echo
    echo '```'
    cat bench/results/floor.txt
    echo '```'
    echo
  fi
  echo "## Commands"
  echo
  echo '```'
  for scenario in "${ORDER[@]}"; do
    [ -f "bench/results/$scenario.cmd" ] && cat "bench/results/$scenario.cmd"
  done
  echo '```'
  if [ -f bench/NOTES.md ]; then
    echo
    cat bench/NOTES.md
  fi
} >bench/RESULTS.md.new
mv bench/RESULTS.md.new bench/RESULTS.md
cat bench/RESULTS.md
log "logs in $LOGDIR; $failures run(s) reported problems"
