#!/usr/bin/env bash
# Load benchmark: starts the release vend-api on loopback with a temporary SQLite ledger
# (WAL, synchronous=FULL: every acknowledged token is on disk) and the PUBLIC sample keys,
# creates an API key, and runs the Rust load generator `vend-load` against it.
#
#   vend-api/scripts/load.sh                                  # 64 workers, 10 s, 1000 meters
#   vend-api/scripts/load.sh --concurrency 128 --duration 30s --meters 5000
#
# Arguments are passed to vend-load (see `vend-load --help`). DB_DIR picks the directory of
# the ledger file (default: a temp dir; put it on the disk you want to measure).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PORT="${PORT:-18081}"
DB_DIR="${DB_DIR:-$(mktemp -d)}"
DB="$DB_DIR/load-$$.sqlite3"
SERVER_PID=""

cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -f "$DB" "$DB-wal" "$DB-shm"
}
trap cleanup EXIT

cargo build --release --quiet -p vend-api --bins
BIN="$ROOT/target/release"

"$BIN/vend-api" migrate --db "$DB" >/dev/null
KEY="$("$BIN/vend-api" apikey create --db "$DB" --name load --scopes vend,meters --rate 1000000 2>/dev/null)"

VEND_DATABASE__PATH="$DB" \
VEND_SERVER__LISTEN="127.0.0.1:$PORT" \
VEND_KEYSTORE__BACKEND=memory-sample \
VEND_LOG__FILTER=warn \
VEND_AUTH__BURST=1000000 \
VEND_AUTH__RATE_PER_SEC=1000000 \
    "$BIN/vend-api" serve &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

if [[ $# -eq 0 ]]; then
    set -- --concurrency 64 --duration 10s --meters 1000
fi
VEND_LOAD_KEY="$KEY" "$BIN/vend-load" --url "http://127.0.0.1:$PORT" "$@"
echo "ledger batches (jobs per commit):"
curl -fsS -H "Authorization: Bearer $("$BIN/vend-api" apikey create --db "$DB" --name "metrics-$$" --scopes audit 2>/dev/null)" \
    "http://127.0.0.1:$PORT/metrics" | grep -E '^vend_ledger_batch_(jobs|seconds)_(sum|count)' || true
