#!/usr/bin/env bash
# Crash harness: runs the release vend-api under load, SIGKILLs it at random moments, restarts
# it, and checks from the client's fsynced log that every acknowledged token is in the ledger
# with the same digits, no (meter, TID) appears twice, idempotent retries after a restart
# answer the original tokens, and the audit chain verifies (see src/bin/vend-crash.rs).
#
#   vend-api/scripts/crash.sh                          # CI size: 20 kills, SQLite
#   vend-api/scripts/crash.sh --kills 100 --meters 10000 --concurrency 16 --max-up 3s
#   vend-api/scripts/crash.sh --backend postgres       # two instances on one database, one killed
#   vend-api/scripts/crash.sh --seed 42                # repeat a run's kill moments
#
# Other arguments go to vend-crash (see `vend-crash --help`). The servers, the database and the
# logs live in a temporary directory, removed on success (KEEP=1 keeps it; it is kept and
# printed on failure). Only the PIDs this script and vend-crash start are ever killed.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
BACKEND=sqlite
ARGS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --backend) BACKEND="$2"; shift 2 ;;
        --backend=*) BACKEND="${1#--backend=}"; shift ;;
        *) ARGS+=("$1"); shift ;;
    esac
done
PORT="${PORT:-$((18300 + RANDOM % 600))}"
DIR="$(mktemp -d "${TMPDIR:-/tmp}/vend-crash.XXXXXX")"
PG_DIR=""
STATUS=1

cleanup() {
    if [[ -n "$PG_DIR" ]]; then
        "$ROOT/scripts/pg-cluster" stop "$PG_DIR" >/dev/null 2>&1 || true
    fi
    if [[ "$STATUS" -eq 0 && -z "${KEEP:-}" ]]; then
        rm -rf "$DIR"
    else
        echo "crash.sh: logs and database kept in $DIR" >&2
    fi
}
trap cleanup EXIT

cargo build --release --quiet -p vend-api --bins
BIN="$ROOT/target/release"
COMMON="VEND_KEYSTORE__BACKEND=memory-sample VEND_LOG__FILTER=warn VEND_AUTH__BURST=1000000 VEND_AUTH__RATE_PER_SEC=1000000"

case "$BACKEND" in
    sqlite)
        TARGET="$DIR/ledger.sqlite3"
        SERVERS=(--server "env $COMMON VEND_DATABASE__BACKEND=sqlite VEND_DATABASE__PATH=$TARGET VEND_SERVER__LISTEN=127.0.0.1:$PORT $BIN/vend-api serve"
                 --url "http://127.0.0.1:$PORT")
        ;;
    postgres)
        chmod 755 "$DIR"   # the cluster's owner (postgres, when run as root) must reach it
        PG_DIR="$DIR/pg"
        TARGET="$("$ROOT/scripts/pg-cluster" start "$PG_DIR")"
        SERVERS=()
        for i in 0 1; do
            SERVERS+=(--server "env $COMMON VEND_DATABASE__BACKEND=postgres VEND_DATABASE__URL=$TARGET VEND_SERVER__LISTEN=127.0.0.1:$((PORT + i)) $BIN/vend-api serve"
                      --url "http://127.0.0.1:$((PORT + i))")
        done
        # Instance 0 is killed; instance 1 keeps serving.
        SERVERS+=(--kill-instance 0)
        ;;
    *) echo "crash.sh: --backend must be sqlite or postgres" >&2; exit 2 ;;
esac

"$BIN/vend-api" migrate --db "$TARGET" >/dev/null
KEY="$("$BIN/vend-api" apikey create --db "$TARGET" --name "crash-$$" \
    --scopes vend,meters,manage,key_change,audit --rate 1000000 2>/dev/null)"

echo "crash.sh: backend $BACKEND, $(nproc) CPUs, directory $DIR"
started=$(date +%s)
set +e
VEND_CRASH_KEY="$KEY" "$BIN/vend-crash" "${SERVERS[@]}" --dir "$DIR" "${ARGS[@]}"
STATUS=$?
set -e
echo "crash.sh: $((  $(date +%s) - started )) s"
exit "$STATUS"
