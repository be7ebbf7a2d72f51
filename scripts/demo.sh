#!/usr/bin/env bash
# make demo: the reference deployment's failover on one machine, as an operator would watch it.
#
# No account, no root, no network beyond loopback: tcsim (the simulator) plays Tencent Cloud
# with the seed scenario (two CVMs .20/.21, HAVIP 10.0.4.99 held by .20, EIP 106.52.252.139
# bound to it); its control API plays keepalived's gratuitous ARP. Every step is verified;
# the script exits non-zero at the first failed verification and leaves no process behind.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CARGO=${CARGO:-cargo}
PROFILE_DIR=${HAVIP_DEMO_TARGET:-$ROOT/target/release}

# The documentation's example credentials, which tcsim's seed scenario accepts.
export TENCENTCLOUD_SECRET_ID=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE
export TENCENTCLOUD_SECRET_KEY=Gu5t9xGARNpq86cd98joQYCN3EXAMPLE

bold='' norm=''
if [ -t 1 ]; then
	bold=$(tput bold 2>/dev/null || true)
	norm=$(tput sgr0 2>/dev/null || true)
fi
step=0
heading() {
	step=$((step + 1))
	printf '\n%s== %d. %s%s\n' "$bold" "$step" "$*" "$norm"
}
say() { printf '   %s\n' "$*"; }
# show CMD...: prints the command as an operator would type it (paths shortened).
show() {
	local out='' a plain='^[-A-Za-z0-9_./:=@$]+$'
	for a in "$@"; do
		a=${a//$WORK/\$DEMO}
		if [[ $a =~ $plain ]]; then
			out+=" $a"
		else
			out+=" '$a'" # the demo's arguments hold no single quote
		fi
	done
	printf '   $%s\n' "$out"
}
ok() { printf '   %sok%s: %s\n' "$bold" "$norm" "$*"; }
fail() {
	printf '\n   FAILED: %s\n' "$*" >&2
	exit 1
}

need() { command -v "$1" >/dev/null 2>&1 || fail "$1 is needed to run the demo"; }
need python3

WORK=$(mktemp -d "${TMPDIR:-/tmp}/havip-demo.XXXXXX")
PIDS=()
cleanup() {
	local rc=$?
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ "$rc" -ne 0 ] && [ -s "$WORK/tcsim.log" ]; then
		echo "--- tcsim log (last lines) ---" >&2
		tail -n 20 "$WORK/tcsim.log" >&2 || true
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# json FILE EXPR: evaluates a Python expression over the JSON document `d` in FILE.
json() {
	python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2], {"d": d})
print(v if not isinstance(v, (dict, list)) else json.dumps(v))
PY
}

# http METHOD URL [BODY]: a plain HTTP call to tcsim's unsigned control API.
http() {
	python3 - "$@" <<'PY'
import sys, urllib.request
method, url = sys.argv[1], sys.argv[2]
data = sys.argv[3].encode() if len(sys.argv) > 3 else None
req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
with urllib.request.urlopen(req, timeout=10) as r:
    sys.stdout.write(r.read().decode())
PY
}

heading "Build havip and tcsim (release)"
if [ -z "${HAVIP_DEMO_NO_BUILD:-}" ]; then
	(cd "$ROOT" && $CARGO build --release --quiet -p havip -p tcsim --bins) || fail "build"
fi
HAVIP=$PROFILE_DIR/havip
TCSIM=$PROFILE_DIR/tcsim
[ -x "$HAVIP" ] && [ -x "$TCSIM" ] || fail "binaries not found in $PROFILE_DIR"
ok "$(basename "$HAVIP") and $(basename "$TCSIM") in ${PROFILE_DIR#"$ROOT"/}"
START=$(date +%s)

heading "Start tcsim, the simulated Tencent Cloud, with the seed scenario"
"$TCSIM" --listen 127.0.0.1:0 --scenario seed >"$WORK/tcsim.out" 2>"$WORK/tcsim.log" &
PIDS+=($!)
for _ in $(seq 100); do
	grep -q '^listening on ' "$WORK/tcsim.out" 2>/dev/null && break
	kill -0 "${PIDS[0]}" 2>/dev/null || fail "tcsim exited: $(cat "$WORK/tcsim.log")"
	sleep 0.1
done
URL=$(sed -n 's/^listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$WORK/tcsim.out" | head -n1)
[ -n "$URL" ] || fail "tcsim did not print its address"
PORT=${URL##*:}
ok "tcsim listening on $URL"

heading "Start a local webhook receiver for the alerts"
python3 -u - "$WORK/alerts.jsonl" >"$WORK/receiver.out" 2>"$WORK/receiver.log" <<'PY' &
import http.server, sys
out = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with open(out, "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
PIDS+=($!)
for _ in $(seq 50); do
	[ -s "$WORK/receiver.out" ] && break
	sleep 0.1
done
HOOK_PORT=$(head -n1 "$WORK/receiver.out")
[ -n "$HOOK_PORT" ] || fail "the webhook receiver did not start: $(cat "$WORK/receiver.log")"
ok "receiver on http://127.0.0.1:$HOOK_PORT/alerts"

# Node .21's configuration: the minimal file from the README, plus the alert target.
sed "s/PORT/$PORT/" "$ROOT/deploy/havip.minimal.toml" >"$WORK/havip.toml"
cat >>"$WORK/havip.toml" <<EOF

[[alert]]
type = "webhook"
url = "http://127.0.0.1:$HOOK_PORT/alerts"
timeout = "2s"
EOF
export HAVIP_STATE_DIR=$WORK/state-21
mkdir -p "$HAVIP_STATE_DIR"
# Node .20's: the same minimal file, as .20, with its own state directory.
sed -e "s/PORT/$PORT/" -e 's/ins-iam00021/ins-iam00020/' "$ROOT/deploy/havip.minimal.toml" >"$WORK/havip-20.toml"
mkdir -p "$WORK/state-20"

# on NODE ARGS...: runs havip as node .NODE (20 or 21): its configuration, state directory and
# metadata service.
on() {
	local node=$1 cfg=$WORK/havip.toml
	shift
	[ "$node" = 20 ] && cfg=$WORK/havip-20.toml
	HAVIP_STATE_DIR=$WORK/state-$node HAVIP_METADATA_ENDPOINT=$URL/_sim/node/ins-iam000$node \
		"$HAVIP" --config "$cfg" "$@"
}

# status_on NODE TEXT: `havip status` on node .NODE must exit 0 (OK) with TEXT in its plugin line.
status_on() {
	local node=$1 text=$2 rc=0 cfg=\$DEMO/havip.toml
	[ "$node" = 20 ] && cfg=\$DEMO/havip-20.toml
	say "on .$node:"
	printf '   $ havip --config %s status\n' "$cfg"
	on "$node" status >"$WORK/status-$node.txt" 2>&1 || rc=$?
	sed 's/^/   /' "$WORK/status-$node.txt"
	[ "$rc" -eq 0 ] || fail "havip status on .$node exited $rc, expected 0 (OK)"
	head -n1 "$WORK/status-$node.txt" | grep -qF "HAVIP OK - iam: $text" ||
		fail "havip status on .$node does not say \"$text\""
	ok "status on .$node: exit 0, $text"
	echo
}

# havip_holder: prints "InstanceId NetworkInterfaceId AddressIp" of the HAVIP, as the cloud says.
havip_holder() {
	"$HAVIP" --endpoint "$URL" --region ap-guangzhou api vpc DescribeHaVips \
		'{"HaVipIds":["havip-iam00099"]}' >"$WORK/havips.json" || fail "havip api DescribeHaVips"
	json "$WORK/havips.json" \
		'" ".join(str(d["HaVipSet"][0].get(k) or "-") for k in ("InstanceId","NetworkInterfaceId","AddressIp"))'
}

heading "The cloud's view before: node .20 (ins-iam00020) holds the HAVIP"
show havip --endpoint "$URL" --region ap-guangzhou api vpc DescribeHaVips '{"HaVipIds":["havip-iam00099"]}'
"$HAVIP" --endpoint "$URL" --region ap-guangzhou api vpc DescribeHaVips \
	'{"HaVipIds":["havip-iam00099"]}' >"$WORK/before.json" || fail "havip api DescribeHaVips"
sed 's/^/   /' "$WORK/before.json"
read -r holder eni eip <<<"$(havip_holder)"
[ "$holder" = ins-iam00020 ] || fail "expected ins-iam00020 to hold the HAVIP, the cloud says $holder"
[ "$eip" = 106.52.252.139 ] || fail "expected EIP 106.52.252.139 on the HAVIP, the cloud says $eip"
ok "holder $holder ($eni), EIP $eip bound to the HAVIP"

heading "keepalived starts: .20 is MASTER, .21 BACKUP; each runs its notify hook"
show havip --config '$DEMO/havip-20.toml' notify INSTANCE VI_1 MASTER 100
on 20 notify INSTANCE VI_1 MASTER 100 >"$WORK/notify-20.out" 2>&1 || fail "havip notify on .20: $(cat "$WORK/notify-20.out")"
sed 's/^/   /' "$WORK/notify-20.out"
show havip --config '$DEMO/havip.toml' notify INSTANCE VI_1 BACKUP 100
on 21 notify INSTANCE VI_1 BACKUP 100 >"$WORK/notify-21.out" 2>&1 || fail "havip notify on .21: $(cat "$WORK/notify-21.out")"
sed 's/^/   /' "$WORK/notify-21.out"
ok "both events recorded"

heading "havip status on both nodes: keepalived, the node and the cloud agree"
status_on 20 "held by ins-iam00020 (this node, MASTER), EIP 106.52.252.139 BIND"
status_on 21 "held by ins-iam00020 (a peer; this node BACKUP), EIP 106.52.252.139 BIND"

heading "keepalived on .20 steps down to BACKUP; keepalived on .21 becomes MASTER and announces 10.0.4.99"
show havip --config '$DEMO/havip-20.toml' notify INSTANCE VI_1 BACKUP 100
on 20 notify INSTANCE VI_1 BACKUP 100 >"$WORK/notify-20.out" 2>&1 || fail "havip notify on .20: $(cat "$WORK/notify-20.out")"
sed 's/^/   /' "$WORK/notify-20.out"
say "(tcsim's control API plays keepalived's gratuitous ARP from .21's MAC 52:54:00:00:04:21)"
http POST "$URL/_sim/arp" '{"ip":"10.0.4.99","mac":"52:54:00:00:04:21"}' >"$WORK/arp.json" ||
	fail "POST /_sim/arp"
sed 's/^/   /' "$WORK/arp.json"
echo
moved=$(json "$WORK/arp.json" 'd.get("moved")')
[ "$moved" = True ] || fail "the announcement did not move the HAVIP: $(cat "$WORK/arp.json")"
ok "the HAVIP followed the announcement"

heading "keepalived on .21 runs its notify hook: havip notify INSTANCE VI_1 MASTER 100"
say "(as node .21: metadata from $URL/_sim/node/ins-iam00021, state in \$DEMO/state-21)"
export HAVIP_METADATA_ENDPOINT=$URL/_sim/node/ins-iam00021
http DELETE "$URL/_sim/requests" >/dev/null || fail "DELETE /_sim/requests"
show havip --config "$WORK/havip.toml" notify INSTANCE VI_1 MASTER 100
t0=$(date +%s%N)
rc=0
"$HAVIP" --config "$WORK/havip.toml" notify INSTANCE VI_1 MASTER 100 >"$WORK/notify.out" 2>&1 || rc=$?
t1=$(date +%s%N)
sed 's/^/   /' "$WORK/notify.out"
[ "$rc" -eq 0 ] || fail "havip notify exited $rc"
http GET "$URL/_sim/requests" >"$WORK/requests.json" || fail "GET /_sim/requests"
ok "havip notify succeeded in $(((t1 - t0) / 1000000)) ms; API calls it made: $(json "$WORK/requests.json" '", ".join(r["action"] for r in d)')"

heading "The cloud's view after: .21 holds the HAVIP and the EIP is still bound"
read -r holder eni eip <<<"$(havip_holder)"
say "holder $holder ($eni), EIP $eip"
[ "$holder" = ins-iam00021 ] || fail "expected ins-iam00021 to hold the HAVIP, the cloud says $holder"
[ "$eni" = eni-iam00021 ] || fail "expected eni-iam00021, the cloud says $eni"
[ "$eip" = 106.52.252.139 ] || fail "expected EIP 106.52.252.139 on the HAVIP, the cloud says $eip"
"$HAVIP" --endpoint "$URL" --region ap-guangzhou api vpc DescribeAddresses \
	'{"AddressIds":["eip-iam00139"]}' >"$WORK/eip.json" || fail "havip api DescribeAddresses"
status=$(json "$WORK/eip.json" 'd["AddressSet"][0]["AddressStatus"]')
[ "$status" = BIND ] || fail "EIP eip-iam00139 is $status, expected BIND"
ok "holder ins-iam00021 (eni-iam00021); eip-iam00139 106.52.252.139 is $status"

heading "havip status after the switch: the roles swapped, still all in agreement"
status_on 21 "held by ins-iam00021 (this node, MASTER), EIP 106.52.252.139 BIND"
status_on 20 "held by ins-iam00021 (a peer; this node BACKUP), EIP 106.52.252.139 BIND"

heading "The journal: every API call havip made, with its RequestId"
show havip --config "$WORK/havip.toml" journal
"$HAVIP" --config "$WORK/havip.toml" journal >"$WORK/journal.txt" 2>&1 || fail "havip journal: $(cat "$WORK/journal.txt")"
sed 's/^/   /' "$WORK/journal.txt"
grep -q DescribeHaVips "$WORK/journal.txt" || fail "the journal does not show DescribeHaVips"
ok "the journal records the calls"

heading "The alert reached the webhook receiver"
for _ in $(seq 30); do
	[ -s "$WORK/alerts.jsonl" ] && break
	sleep 0.1
done
[ -s "$WORK/alerts.jsonl" ] || fail "no alert arrived at the receiver"
python3 - "$WORK/alerts.jsonl" <<'PY' || fail "no switch alert for iam"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for e in events:
    print(f"   [{e['severity']}] {e['vip']} {e['kind']} on {e['node']}: {e['message']}")
sys.exit(0 if any(e.get("vip") == "iam" and e.get("kind") == "switch" for e in events) else 1)
PY
if grep -q -e "$TENCENTCLOUD_SECRET_KEY" -e "$TENCENTCLOUD_SECRET_ID" "$WORK/alerts.jsonl"; then
	fail "an alert contains the credentials"
fi
ok "a switch alert for iam arrived, without credentials"

if "$HAVIP" --help 2>/dev/null | grep -qE '^ +audit '; then
	heading "havip audit: idle EIPs and what they cost"
	# audit exits 1 or 2 when it finds something, which is the point here.
	show havip --endpoint "$URL" --region ap-guangzhou audit
	"$HAVIP" --endpoint "$URL" --region ap-guangzhou audit >"$WORK/audit.txt" 2>&1 || true
	sed 's/^/   /' "$WORK/audit.txt"
	grep -q eip-idle0001 "$WORK/audit.txt" || fail "havip audit does not show the idle EIP eip-idle0001"
	ok "the idle EIP eip-idle0001 is reported"
fi

heading "Done in $(($(date +%s) - START)) s"
say "keepalived moved the VIP; havip made sure the cloud followed, proved it, wrote it down and told you."
