#!/usr/bin/env bash
# HSM-fault harness: the release vend-api on a real SoftHSM2 token (key store backend
# `pkcs11`) under load; the token's directory is moved away and back several times, and the
# harness checks that issuing requests get 201 or a clean 503 with Retry-After during the
# fault, that nothing is written for a refused request, that the ledger matches the client's
# fsynced log exactly, and that vends succeed again once the token is back
# (see src/bin/vend-hsm-fault.rs).
#
#   vend-api/scripts/hsm-fault.sh                       # CI size: 3 faults
#   vend-api/scripts/hsm-fault.sh --faults 10 --fault-for 3s --meters 2000 --concurrency 16
#
# Other arguments go to `vend-hsm-fault run`. Needs softhsm2 (apt-get install -y softhsm2);
# STS_PKCS11_MODULE overrides the module path. Everything lives in a temporary directory,
# removed on success (KEEP=1 keeps it; it is kept and printed on failure).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
MODULE="${STS_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}"
if [[ ! -e "$MODULE" ]] || ! command -v softhsm2-util >/dev/null; then
    echo "hsm-fault.sh: SoftHSM2 is missing ($MODULE): apt-get install -y softhsm2, or set STS_PKCS11_MODULE" >&2
    exit 2
fi
PORT="${PORT:-$((18900 + RANDOM % 500))}"
DIR="$(mktemp -d "${TMPDIR:-/tmp}/vend-hsm-fault.XXXXXX")"
STATUS=1
cleanup() {
    if [[ "$STATUS" -eq 0 && -z "${KEEP:-}" ]]; then
        rm -rf "$DIR"
    else
        echo "hsm-fault.sh: logs, token and database kept in $DIR" >&2
    fi
}
trap cleanup EXIT

cargo build --release --quiet -p vend-api --bins
BIN="$ROOT/target/release"

# A throwaway token holding only the public sample key (TEST ONLY PINs).
mkdir -p "$DIR/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$DIR/tokens" > "$DIR/softhsm2.conf"
export SOFTHSM2_CONF="$DIR/softhsm2.conf"
export STS_PKCS11_PIN=fault-test-pin
LABEL=vend-fault
softhsm2-util --init-token --free --label "$LABEL" --so-pin fault-test-so --pin "$STS_PKCS11_PIN" >/dev/null
"$BIN/vend-hsm-fault" setup --module "$MODULE" --label "$LABEL"
TOKEN_DIR="$(find "$DIR/tokens" -mindepth 1 -maxdepth 1 -type d | head -n 1)"

DB="$DIR/ledger.sqlite3"
"$BIN/vend-api" migrate --db "$DB" >/dev/null
KEY="$("$BIN/vend-api" apikey create --db "$DB" --name "hsm-fault-$$" \
    --scopes vend,meters,manage,key_change,audit --rate 1000000 2>/dev/null)"

SERVER="env VEND_DATABASE__BACKEND=sqlite VEND_DATABASE__PATH=$DB VEND_SERVER__LISTEN=127.0.0.1:$PORT"
SERVER+=" VEND_KEYSTORE__BACKEND=pkcs11 VEND_KEYSTORE__MODULE=$MODULE VEND_KEYSTORE__TOKEN_LABEL=$LABEL"
SERVER+=" VEND_KEYSTORE__PIN_ENV=STS_PKCS11_PIN VEND_KEYSTORE__SESSIONS=4"
SERVER+=" VEND_LOG__FILTER=warn VEND_AUTH__BURST=1000000 VEND_AUTH__RATE_PER_SEC=1000000 $BIN/vend-api serve"

echo "hsm-fault.sh: SoftHSM2 token $LABEL in $TOKEN_DIR, $(nproc) CPUs"
started=$(date +%s)
set +e
VEND_HSM_FAULT_KEY="$KEY" "$BIN/vend-hsm-fault" run --server "$SERVER" --url "http://127.0.0.1:$PORT" \
    --token-dir "$TOKEN_DIR" --dir "$DIR" "$@"
STATUS=$?
set -e
echo "hsm-fault.sh: $(( $(date +%s) - started )) s"
exit "$STATUS"
