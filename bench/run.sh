#!/usr/bin/env bash
# make bench: builds what the benchmarks run, then runs them (bench/src/main.rs) and writes
# BENCHMARKS.md, bench/results.json and bench/chart.svg. Minutes, not seconds; not part of
# `make test`.
#
#   bench/run.sh [havip-bench ARGS...]     e.g. --runs 5 --only promotion,signing
#
# 1. release builds of havip, tcsim and the harness;
# 2. a throwaway venv in target/bench-venv (rebuilt when bench/requirements.txt changes) with
#    tccli and the official Python SDK from PyPI, as tests/contract/run.sh does for its own;
# 3. the harness, which starts tcsim (--tls), makes the venv trust its CA, and alternates
#    every comparison's sides. Run as root for the end-to-end lab (HAVIP_BENCH_NO_LAB=1 skips it).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
CARGO=${CARGO:-cargo}
export CARGO
venv="${HAVIP_BENCH_VENV:-$root/target/bench-venv}"
stamp="$venv/.requirements"

log() { echo "bench: $*" >&2; }

log "building release binaries"
"$CARGO" build --release --quiet -p havip -p tcsim -p havip-bench --bins

if [[ ! -x "$venv/bin/tccli" ]] || ! cmp -s bench/requirements.txt "$stamp"; then
	log "creating $venv (tccli and the Python SDK from PyPI; large, a minute or two)"
	rm -rf "$venv"
	mkdir -p "$(dirname "$venv")"
	if ! python3 -m venv "$venv"; then
		log "python3 -m venv failed; on Debian: apt-get install -y python3-venv"
		exit 1
	fi
	"$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/requirements.txt
	cp bench/requirements.txt "$stamp"
fi

for c in curl jq; do
	command -v "$c" >/dev/null || { log "$c is needed (Debian: apt-get install -y $c)"; exit 1; }
done

exec "$root/target/release/havip-bench" --root "$root" --venv "$venv" "$@"
