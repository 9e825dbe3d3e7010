#!/usr/bin/env bash
# Runs every Herald test on a fresh Debian machine or a developer's one:
# installs what is missing, starts the services the tests need, builds, then
# runs the Rust tests (cargo-nextest when present) and the Node end-to-end
# tests with the real client packages.
#
# Usage: scripts/test.sh            (everything)
#        SKIP_LINT=1 scripts/test.sh (skip fmt/clippy)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

log() { printf '\n==> %s\n' "$*"; }

APT_UPDATED=0
apt_install() {
  # Install Debian packages that are missing; needs root (CI and these machines are).
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ $APT_UPDATED -eq 0 ]; then
    $sudo apt-get update -qq
    APT_UPDATED=1
  fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# --- tools -------------------------------------------------------------------
command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
command -v node >/dev/null || apt_install nodejs npm
command -v curl >/dev/null || apt_install curl
[ -x /usr/bin/chromium ] || apt_install chromium

# --- services ----------------------------------------------------------------
# PostgreSQL: the inbox tests create a fresh database per run on 127.0.0.1:5432.
if ! command -v pg_ctlcluster >/dev/null; then
  apt_install postgresql
fi
pg_version=$(ls /etc/postgresql | sort -V | tail -1)
if ! (echo > /dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start || true
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 1
done
# The tests connect as postgres over loopback without a password (Debian's
# default asks for one): trust loopback for that role on this test machine.
if ! psql -h 127.0.0.1 -U postgres -w -Atc 'select 1' >/dev/null 2>&1; then
  hba="/etc/postgresql/$pg_version/main/pg_hba.conf"
  log "trusting loopback connections of role postgres ($hba)"
  sed -i '1i host all postgres ::1/128 trust' "$hba"
  sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" main reload
  sleep 1
fi
# Redis: the backplane tests spawn their own redis-server on a free port.
command -v redis-server >/dev/null || apt_install redis-server

# --- build -------------------------------------------------------------------
if [ -z "${SKIP_LINT:-}" ]; then
  log "cargo fmt --check"
  cargo fmt --all -- --check
  log "cargo clippy"
  cargo clippy --workspace --all-targets --locked -- -D warnings
fi
log "cargo build"
cargo build --workspace --all-targets --locked

# --- Rust tests --------------------------------------------------------------
log "Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

# --- Node end-to-end tests with the real client packages ---------------------
if [ -f tests/node/package.json ]; then
  log "Node tests (phoenix, socket.io-client, playwright-core)"
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
  HERALD_BIN="$ROOT/target/debug/herald" node --test --test-concurrency=1 tests/node/
fi

# --- benchmark harness smoke run (not a performance judgement) ---------------
if [ -x bench/run.sh ] && [ -z "${SKIP_BENCH_SMOKE:-}" ]; then
  log "bench smoke"
  bench/run.sh smoke
fi

log "all tests passed"
