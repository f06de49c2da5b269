#!/usr/bin/env bash
# Property-based API test: schemathesis (PyPI) against vend-api's own /openapi.json.
#
# Starts the release binary on loopback with a temporary SQLite ledger and the PUBLIC sample
# keys (memory-sample), registers the sample meter (the OpenAPI examples use its PAN, so some
# generated requests reach real data and vend real tokens), then runs schemathesis with
# every operation and fails on any 5xx (`not_a_server_error`). The other schemathesis checks
# are reported too but only 5xx fail the run (see SCHEMATHESIS_CHECKS).
#
#   vend-api/scripts/schemathesis.sh            # ~100 examples per operation
#   MAX_EXAMPLES=500 vend-api/scripts/schemathesis.sh
#
# Needs python3 (creates a venv with schemathesis under $SCHEMATHESIS_VENV, default
# target/schemathesis-venv, unless `schemathesis` is already on PATH) and curl.
# Also runnable as `cargo test -p vend-api --test schemathesis -- --ignored`.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PORT="${PORT:-18080}"
MAX_EXAMPLES="${MAX_EXAMPLES:-100}"
CHECKS="${SCHEMATHESIS_CHECKS:-not_a_server_error}"
TMP="$(mktemp -d)"
SERVER_PID=""

cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

if command -v schemathesis >/dev/null 2>&1; then
    ST=schemathesis
else
    VENV="${SCHEMATHESIS_VENV:-$ROOT/target/schemathesis-venv}"
    if [[ ! -x "$VENV/bin/schemathesis" ]]; then
        echo "installing schemathesis into $VENV" >&2
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet "schemathesis==4.32.5"
    fi
    ST="$VENV/bin/schemathesis"
fi

cargo build --release --quiet -p vend-api --bin vend-api
BIN="$ROOT/target/release/vend-api"
DB="$TMP/ledger.sqlite3"

"$BIN" migrate --db "$DB" >/dev/null
KEY="$("$BIN" apikey create --db "$DB" --name schemathesis \
    --scopes vend,manage,key_change,meters,audit --rate 1000000 2>/dev/null)"

VEND_DATABASE__PATH="$DB" \
VEND_SERVER__LISTEN="127.0.0.1:$PORT" \
VEND_KEYSTORE__BACKEND=memory-sample \
VEND_LOG__FILTER=warn \
VEND_AUTH__BURST=1000000 \
VEND_AUTH__RATE_PER_SEC=1000000 \
    "$BIN" serve >"$TMP/server.log" 2>&1 &
SERVER_PID=$!

BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "$BASE/healthz" >/dev/null

AUTH="Authorization: Bearer $KEY"
curl -fsS -X POST "$BASE/v1/meters" -H "$AUTH" -H 'Content-Type: application/json' \
    -d '{"pan":"600727000000000009","customer_ref":"ACC-1001","sgc":"201457","ti":"01","krn":1,"kt":2,"ea":"07","dkga":"04","base_date":2014}' \
    >/dev/null
curl -fsS -H "$AUTH" "$BASE/openapi.json" >"$TMP/openapi.json"

START=$(date +%s)
set +e
# Run from the temp dir: schemathesis and hypothesis keep caches in the working directory.
cd "$TMP"
"$ST" run "$TMP/openapi.json" \
    --url "$BASE" \
    --header "$AUTH" \
    --checks "$CHECKS" \
    --max-examples "$MAX_EXAMPLES" \
    --seed "${SEED:-1}" \
    --no-color
STATUS=$?
set -e
END=$(date +%s)

ERRORS=$(grep -c ' ERROR ' "$TMP/server.log" || true)
echo "schemathesis: exit $STATUS in $((END - START)) s; ERROR lines in the server log: $ERRORS"
if [[ $STATUS -ne 0 ]]; then
    echo "--- server log (last 50 lines) ---"
    tail -50 "$TMP/server.log"
fi
exit "$STATUS"
