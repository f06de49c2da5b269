#!/usr/bin/env bash
# Load benchmark: starts the release vend-api on loopback with a temporary ledger and the
# PUBLIC sample keys, creates an API key, and runs the Rust load generator `vend-load`
# against it. Every acknowledged token is durable: SQLite in WAL with synchronous=FULL, or
# PostgreSQL with fsync=on and synchronous_commit=on.
#
#   vend-api/scripts/load.sh                                  # 64 workers, 10 s, 1000 meters
#   vend-api/scripts/load.sh --concurrency 128 --duration 30s --meters 5000
#   BACKEND=postgres vend-api/scripts/load.sh                 # a throwaway PostgreSQL cluster
#   BACKEND=postgres INSTANCES=2 vend-api/scripts/load.sh     # two servers on one database,
#                                                             # vend-load round-robins over both
#
# Arguments are passed to vend-load (see `vend-load --help`). DB_DIR picks the directory of
# the SQLite file or the PostgreSQL cluster (default: a temp dir; put it on the disk you want
# to measure). PG_URL uses an existing PostgreSQL database instead of a throwaway cluster.
# VEND_DATABASE__* variables (e.g. VEND_DATABASE__BATCH_MAX, VEND_DATABASE__WRITERS) reach
# the servers.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PORT="${PORT:-18081}"
BACKEND="${BACKEND:-sqlite}"
INSTANCES="${INSTANCES:-1}"
DB_DIR="${DB_DIR:-$(mktemp -d)}"
DB="$DB_DIR/load-$$.sqlite3"
PG_DIR=""
SERVER_PIDS=()

cleanup() {
    for pid in "${SERVER_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -f "$DB" "$DB-wal" "$DB-shm"
    if [[ -n "$PG_DIR" ]]; then
        "$ROOT/scripts/pg-cluster" stop "$PG_DIR" || true
    fi
}
trap cleanup EXIT

case "$BACKEND" in
    sqlite)
        [[ "$INSTANCES" -eq 1 ]] || { echo "load.sh: INSTANCES > 1 needs BACKEND=postgres" >&2; exit 2; }
        TARGET="$DB"
        export VEND_DATABASE__BACKEND=sqlite VEND_DATABASE__PATH="$DB"
        ;;
    postgres)
        if [[ -z "${PG_URL:-}" ]]; then
            chmod 755 "$DB_DIR"   # the cluster's owner (postgres, when run as root) must reach it
            PG_DIR="$DB_DIR/pg-$$"
            PG_URL="$("$ROOT/scripts/pg-cluster" start "$PG_DIR")"
        fi
        TARGET="$PG_URL"
        export VEND_DATABASE__BACKEND=postgres VEND_DATABASE__URL="$PG_URL"
        ;;
    *) echo "load.sh: BACKEND must be sqlite or postgres" >&2; exit 2 ;;
esac

cargo build --release --quiet -p vend-api --bins
BIN="$ROOT/target/release"

"$BIN/vend-api" migrate --db "$TARGET" >/dev/null
KEY="$("$BIN/vend-api" apikey create --db "$TARGET" --name "load-$$" --scopes vend,meters,manage,key_change --rate 1000000 2>/dev/null)"

URLS=()
for i in $(seq 0 $((INSTANCES - 1))); do
    port=$((PORT + i))
    VEND_SERVER__LISTEN="127.0.0.1:$port" \
    VEND_KEYSTORE__BACKEND=memory-sample \
    VEND_LOG__FILTER=warn \
    VEND_AUTH__BURST=1000000 \
    VEND_AUTH__RATE_PER_SEC=1000000 \
        "$BIN/vend-api" serve &
    SERVER_PIDS+=($!)
    URLS+=(--url "http://127.0.0.1:$port")
    for _ in $(seq 1 100); do
        curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
done

if [[ $# -eq 0 ]]; then
    set -- --concurrency 64 --duration 10s --meters 1000
fi
echo "backend $BACKEND, $INSTANCES instance(s), $(nproc) CPUs shared by servers, database and load generator"
VEND_LOAD_KEY="$KEY" "$BIN/vend-load" "${URLS[@]}" "$@"
echo "ledger batches (jobs per commit):"
METRICS_KEY="$("$BIN/vend-api" apikey create --db "$TARGET" --name "metrics-$$" --scopes audit 2>/dev/null)"
for i in $(seq 0 $((INSTANCES - 1))); do
    curl -fsS -H "Authorization: Bearer $METRICS_KEY" "http://127.0.0.1:$((PORT + i))/metrics" \
        | grep -E '^vend_ledger_batch_(jobs|seconds)_(sum|count)' | sed "s/^/  instance $i: /" || true
done
