#!/usr/bin/env bash
# Regenerates src/hot-symbols.txt: the functions an idle `havip watch` runs at every look, which
# build.rs asks the linker to lay out together (ARCHITECTURE.md, "The idle cost").
#
# It runs the release watcher against tcsim (loopback only) under valgrind's callgrind, skips
# the start-up, records ten looks, and lists every Rust function that ran. Needs valgrind and
# python3. Run it after changing what a look does, or after a toolchain or dependency update:
# functions renamed since are simply not ordered, so a stale list costs speed, never
# correctness.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CARGO=${CARGO:-cargo}
OUT=${1:-$ROOT/src/hot-symbols.txt}
command -v valgrind >/dev/null || {
	echo "hot-symbols: needs valgrind (apt-get install valgrind)" >&2
	exit 1
}

WORK=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

BIN=$ROOT/target/release
(cd "$ROOT" && $CARGO build --release --quiet --workspace --bins)
cp "$BIN/tcsim" "$WORK/tcsim"

"$WORK/tcsim" --listen 127.0.0.1:0 --scenario seed >"$WORK/tcsim.out" 2>"$WORK/tcsim.log" &
PIDS+=($!)
for _ in $(seq 50); do
	grep -q '^listening on ' "$WORK/tcsim.out" && break
	sleep 0.1
done
URL=$(sed -n 's/^listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$WORK/tcsim.out" | head -n1)
[ -n "$URL" ] || {
	echo "hot-symbols: tcsim did not start: $(cat "$WORK/tcsim.log")" >&2
	exit 1
}

# Node .21 holds the HAVIP (keepalived announced it) and keepalived there is MASTER.
export TENCENTCLOUD_SECRET_ID=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE
export TENCENTCLOUD_SECRET_KEY=Gu5t9xGARNpq86cd98joQYCN3EXAMPLE
export HAVIP_STATE_DIR=$WORK/state HAVIP_METADATA_ENDPOINT=$URL/_sim/node/ins-iam00021
export HAVIP_LOG=havip=info,warn
sed -e "s/PORT/${URL##*:}/" "$ROOT/deploy/havip.minimal.toml" >"$WORK/havip.toml"
python3 - "$URL/_sim/arp" <<'PY'
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=b'{"ip":"10.0.4.99","mac":"52:54:00:00:04:21"}',
                             method="POST", headers={"content-type": "application/json"})
urllib.request.urlopen(req, timeout=10).read()
PY
"$BIN/havip" --config "$WORK/havip.toml" notify INSTANCE VI_1 MASTER 100 >/dev/null

# record NAME: ten idle looks of target/release/havip under callgrind, to $WORK/NAME.out.
record() {
	local vg
	cp "$BIN/havip" "$WORK/havip-$1"
	valgrind --tool=callgrind --demangle=no --instr-atstart=no --callgrind-out-file="$WORK/$1.out" \
		"$WORK/havip-$1" --config "$WORK/havip.toml" watch --listen 127.0.0.1:0 --interval 2s \
		>"$WORK/watch-$1.log" 2>&1 &
	vg=$!
	sleep 20 # start-up and the first looks (the strategy is built once, the connection opened)
	callgrind_control -i on "$vg" >/dev/null
	sleep 20 # ten looks
	callgrind_control -d "$vg" >/dev/null
	sleep 1
	kill "$vg"
	wait "$vg" 2>/dev/null || true
	echo "hot-symbols: recorded the $1 build" >&2
}

# Cargo unifies dependency features per build, and symbol names carry a hash of them: each way
# the binary is built has names of its own. Recorded: `make build` (install, deb), `make bench`'s
# build, and the footprint bench's own.
record workspace
(cd "$ROOT" && $CARGO build --release --quiet -p havip -p tcsim -p havip-bench --bins)
record bench-harness
(cd "$ROOT" && $CARGO bench --quiet --bench watch_footprint --no-run 2>/dev/null)
record footprint-bench

python3 - "$OUT" "$WORK"/*.out.* <<'PY'
import re, sys
syms = set()
for dump in sys.argv[2:]:
    names, ran, cur = {}, set(), None
    for line in open(dump):
        m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if m:
            if m.group(3):
                names[m.group(2)] = m.group(3)
            if m.group(1) == "fn":
                cur = m.group(2)
            continue
        if cur and line[:1] in tuple("0123456789+-*"):
            ran.add(cur)
    # callgrind marks recursion depth with 'N; the symbol is the name before it.
    found = {re.sub(r"'\d+$", "", names[i]) for i in ran if i in names}
    found = {s for s in found if s.startswith(("_ZN", "_R"))}
    if len(found) < 100:
        sys.exit(f"hot-symbols: only {len(found)} functions in {dump}; is the watcher looking?")
    syms |= found
with open(sys.argv[1], "w") as f:
    f.write("# The functions an idle `havip watch` runs at every look, for the linker to lay out\n"
            "# together (build.rs). Written by scripts/hot-symbols.sh; do not edit by hand.\n")
    f.write("\n".join(sorted(syms)) + "\n")
print(f"hot-symbols: {len(syms)} functions -> {sys.argv[1]}")
PY
