#!/usr/bin/env bash
# Contract tests: the official TencentCloud Python SDK (tencentcloud-sdk-python-vpc, from PyPI)
# against tcsim, over plain HTTP and over HTTPS (--tls).
#
#   tests/contract/run.sh [PYTEST ARGS...]
#
# 1. a throwaway venv in target/contract-venv (rebuilt when requirements.txt changes) with the
#    pinned SDK and pytest;
# 2. the tcsim binary (TCSIM_BIN, default target/debug/tcsim, built with `cargo build -p tcsim`);
# 3. two simulators on 127.0.0.1:0, seed scenario: one plain, one --tls (their URLs are read from
#    the first stdout line, `listening on http(s)://HOST:PORT`);
# 4. pytest tests/contract; the simulators are always stopped on exit.
#
# Optional: CONTRACT_TCCLI=1 also installs tccli (large: ~650 MB, ~80 s) in its own venv and runs
# tests/contract/tccli_check.py.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

venv="${CONTRACT_VENV:-$root/target/contract-venv}"
stamp="$venv/.requirements"

log() { echo "contract: $*" >&2; }

# --- 1. the venv ---------------------------------------------------------------------------------
if [[ ! -x "$venv/bin/python" ]] || ! cmp -s "$here/requirements.txt" "$stamp"; then
    log "creating $venv"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    if ! python3 -m venv "$venv"; then
        log "python3 -m venv failed; on Debian: apt-get install -y python3-venv (see .ci/run)"
        exit 1
    fi
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$stamp"
fi

# --- 2. tcsim -------------------------------------------------------------------------------------
if [[ -z "${TCSIM_BIN:-}" ]]; then
    TCSIM_BIN="$root/target/debug/tcsim"
    # Cheap when up to date; makes sure the binary is never stale.
    cargo build --quiet -p tcsim --bin tcsim
fi
[[ -x "$TCSIM_BIN" ]] || { log "no tcsim binary at $TCSIM_BIN"; exit 1; }
export TCSIM_BIN

# --- 3. the simulators ----------------------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/tcsim-contract.XXXXXX")"
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME SCHEME [ARGS...]: starts tcsim in the background, waits for its first stdout line
# and sets $url from it. (Not run in a subshell, so that $pids reaches the cleanup.)
url=""
start() {
    local name="$1" scheme="$2"; shift 2
    local out="$work/$name.out"
    "$TCSIM_BIN" --listen 127.0.0.1:0 --scenario seed "$@" >"$out" 2>"$work/$name.err" &
    local pid="$!"
    pids+=("$pid")
    for _ in $(seq 300); do
        [[ -s "$out" && "$(wc -l <"$out")" -ge 1 ]] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    local line
    line="$(head -n 1 "$out" 2>/dev/null || true)"
    if [[ "$line" != "listening on $scheme://"* ]]; then
        log "tcsim ($name) did not start: first stdout line: ${line:-<none>}; stderr:"
        cat "$work/$name.err" >&2
        exit 1
    fi
    url="${line#listening on }"
}

start http http
TCSIM_HTTP_URL="$url"
TCSIM_CA_CERT="$work/ca.pem"
start https https --tls --tls-cert-out "$TCSIM_CA_CERT"
TCSIM_HTTPS_URL="$url"
[[ -s "$TCSIM_CA_CERT" ]] || { log "tcsim --tls wrote no certificate to $TCSIM_CA_CERT"; exit 1; }
export TCSIM_HTTP_URL TCSIM_HTTPS_URL TCSIM_CA_CERT
log "tcsim at $TCSIM_HTTP_URL and $TCSIM_HTTPS_URL"

# --- 4. the tests -----------------------------------------------------------------------------------
status=0
"$venv/bin/python" -m pytest -p no:cacheprovider -q "$here" "$@" || status=$?

if [[ "${CONTRACT_TCCLI:-0}" == 1 ]]; then
    tvenv="$root/target/contract-venv-tccli"
    if [[ ! -x "$tvenv/bin/tccli" ]]; then
        log "installing tccli into $tvenv (large)"
        rm -rf "$tvenv"
        python3 -m venv "$tvenv"
        "$tvenv/bin/pip" install --quiet --disable-pip-version-check tccli==3.1.189.1
    fi
    "$tvenv/bin/python" "$here/tccli_check.py" "$tvenv" || status=$?
fi
exit "$status"
