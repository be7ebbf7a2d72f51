#!/usr/bin/env bash
# make e2e: the end-to-end lab. Real keepalived and nginx (Debian's packages) on two "nodes",
# each in its own network namespace, a client namespace, and a "cloud" namespace holding the
# bridge that joins them and tcsim (the simulated Tencent Cloud, seed scenario), which learns
# HAVIP movement from the gratuitous ARP keepalived really sends on that bridge. havip is
# keepalived's notify hook and vrrp_script, exactly as deploy/keepalived/*.conf wire it (only
# the binary's path differs). The lab replays the reference deployment's three scenes and checks
# the cloud's view after each:
#   1. keepalived stopped on the master -> the other node takes the VIP, the HAVIP follows.
#   2. nginx stopped on the (new) master -> havip check fails -> the VIP and the HAVIP move back.
#   3. nginx back -> no preemption: the VIP and the cloud stay where they are.
# and then a planned switch: 4. `havip failover` on the holder -> drain -> the peer takes over.
#
# Needs root (namespaces, keepalived). Installs keepalived and nginx-light with apt-get when
# missing. Touches nothing outside what it creates: four namespaces named hvl<pid>-*, whose
# interfaces are created inside them (never in the host's namespace), the private addresses
# 10.0.4.0/24 only, no route out, and a scratch directory under /run. Everything is removed on
# exit, success or failure. Every wait is bounded (HAVIP_LAB_WAIT seconds, default 30).
#
# Environment: HAVIP_LAB_PROFILE=debug|release (which target/ build to use, default debug),
# HAVIP_LAB_NO_BUILD=1 (use the binaries as they are), HAVIP_LAB_KEEP=1 (on failure, keep the
# namespaces and processes for inspection; prints how to remove them).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LABSRC="$ROOT/deploy/lab"
CARGO=${CARGO:-cargo}
PROFILE=${HAVIP_LAB_PROFILE:-debug}
WAIT=${HAVIP_LAB_WAIT:-30}
PY=/usr/bin/python3

VIP=10.0.4.99
HAVIP_ID=havip-iam00099
EIP=106.52.252.139
EIP_ID=eip-iam00139
CLOUD_IP=10.0.4.2
CLIENT_IP=10.0.4.10
declare -A NODE_IP=([1]=10.0.4.20 [2]=10.0.4.21)
declare -A NODE_MAC=([1]=52:54:00:00:04:20 [2]=52:54:00:00:04:21)
declare -A NODE_INS=([1]=ins-iam00020 [2]=ins-iam00021)
declare -A NODE_ENI=([1]=eni-iam00020 [2]=eni-iam00021)

T0=$(date +%s)
say() { printf '[%4ds] %s\n' "$(($(date +%s) - T0))" "$*"; }
heading() { printf '\n[%4ds] == %s\n' "$(($(date +%s) - T0))" "$*"; }
ok() { say "ok: $*"; }
fail() {
	printf '\n[%4ds] FAILED: %s\n' "$(($(date +%s) - T0))" "$*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || {
	echo "e2e lab: needs root (network namespaces, keepalived); run: sudo make e2e" >&2
	exit 2
}
for c in ip curl "$PY"; do
	command -v "$c" >/dev/null || fail "$c is needed"
done

# --- packages -------------------------------------------------------------------------------
missing=()
command -v keepalived >/dev/null || missing+=(keepalived)
command -v nginx >/dev/null || missing+=(nginx-light)
if [ "${#missing[@]}" -gt 0 ]; then
	heading "Install ${missing[*]} (Debian packages)"
	# Keep the packages' maintainer scripts from starting the daemons in the host namespace.
	made_policy=''
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	rc=0
	timeout 300 apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
	[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
	if [ "$rc" -ne 0 ]; then
		timeout 120 apt-get update -q >/dev/null || true
		timeout 300 apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
			fail "apt-get install ${missing[*]}"
	fi
fi
KEEPALIVED=$(command -v keepalived)
NGINX=$(command -v nginx)

# --- binaries -------------------------------------------------------------------------------
if [ -z "${HAVIP_LAB_NO_BUILD:-}" ]; then
	heading "Build havip and tcsim ($PROFILE)"
	flag=()
	[ "$PROFILE" = release ] && flag=(--release)
	(cd "$ROOT" && $CARGO build --quiet "${flag[@]}" -p havip -p tcsim --bins) || fail "cargo build"
fi
HAVIP="$ROOT/target/$PROFILE/havip"
TCSIM="$ROOT/target/$PROFILE/tcsim"
if [ ! -x "$HAVIP" ] || [ ! -x "$TCSIM" ]; then fail "havip/tcsim not found in target/$PROFILE"; fi
"$TCSIM" --help | grep -q -- '--arp-iface' || fail "this tcsim has no --arp-iface"

# --- lab state and cleanup ------------------------------------------------------------------
TAG="hvl$$"
NS_CLOUD="$TAG-cloud"
NS_CL="$TAG-client"
declare -A NS=([1]="$TAG-node1" [2]="$TAG-node2")
ALL_NS=("$NS_CLOUD" "${NS[1]}" "${NS[2]}" "$NS_CL")
# A root-owned 0700 directory under /run: keepalived's enable_script_security refuses scripts
# in a path that anyone but root can write (so not /tmp).
LAB=$(mktemp -d /run/havip-lab.XXXXXX)
declare -A PID=() # name -> pid of every process the lab started
CREATED_NS=()

kill_pid() { # kill_pid PID: TERM, up to 5 s, then KILL
	local p=$1
	kill -TERM "$p" 2>/dev/null || return 0
	for _ in $(seq 50); do
		kill -0 "$p" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null || true
}

cleanup() {
	local rc=$? n p pids ns
	trap - EXIT INT TERM
	set +e
	if [ "$rc" -ne 0 ]; then
		dump_logs
		if [ -n "${HAVIP_LAB_KEEP:-}" ]; then
			echo "HAVIP_LAB_KEEP: left in place: namespaces ${CREATED_NS[*]}, $LAB." >&2
			echo "  remove with: for n in ${CREATED_NS[*]}; do ip netns pids \$n | xargs -r kill; ip netns del \$n; done; rm -rf $LAB" >&2
			exit "$rc"
		fi
	fi
	for n in "${!PID[@]}"; do
		kill_pid "${PID[$n]}"
	done
	# Anything else still running in our namespaces (keepalived's children, notify hooks,
	# nginx workers) was started by the lab: end it by id, then delete the namespaces.
	for ns in "${CREATED_NS[@]}"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	done
	for ns in "${CREATED_NS[@]}"; do
		for _ in $(seq 30); do
			[ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
			sleep 0.1
		done
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$LAB"
	left=$(ip netns list 2>/dev/null | grep -c "^$TAG-" || true)
	[ "$left" -eq 0 ] || echo "e2e lab: WARNING: $left namespace(s) $TAG-* could not be removed" >&2
	say "cleaned up (namespaces, processes, $LAB)"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

dump_logs() {
	local f
	echo >&2
	echo "---- lab logs (last lines) ----" >&2
	for f in "$LAB"/tcsim.log "$LAB"/node1/keepalived.log "$LAB"/node2/keepalived.log \
		"$LAB"/node1/nginx-error.log "$LAB"/node2/nginx-error.log; do
		[ -s "$f" ] || continue
		echo "--- ${f#"$LAB"/} (without the gratuitous ARP lines) ---" >&2
		grep -v 'gratuitous ARP' "$f" | tail -n 25 >&2
	done
	for n in 1 2; do
		[ -x "$LAB/node$n/havip" ] || continue
		echo "--- havip journal, node$n ---" >&2
		timeout 10 ip netns exec "${NS[$n]}" "$LAB/node$n/havip" journal -n 10 >&2 2>&1
	done
}

# wait_until SECONDS DESCRIPTION CMD...: polls CMD every 0.2 s; fails after SECONDS.
wait_until() {
	local secs=$1 what=$2 deadline
	shift 2
	deadline=$(($(date +%s%N) + secs * 1000000000))
	until "$@"; do
		[ "$(date +%s%N)" -lt "$deadline" ] || fail "after ${secs}s: $what"
		sleep 0.2
	done
}
# nsx NS CMD...: run CMD in a lab namespace. (Background processes are started with
# `ip netns exec` itself, which execs CMD, so that $! is CMD's own pid.)
nsx() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}
alive() { kill -0 "${PID[$1]}" 2>/dev/null || fail "$1 exited (see its log in the dump below)"; }

# --- network ------------------------------------------------------------------------------
heading "Network: namespaces ${ALL_NS[*]} joined by a bridge inside $NS_CLOUD"
for ns in "${ALL_NS[@]}"; do
	ip netns add "$ns" || fail "ip netns add $ns"
	CREATED_NS+=("$ns")
	ip -n "$ns" link set lo up
done
ip -n "$NS_CLOUD" link add br0 type bridge stp_state 0 forward_delay 0
ip -n "$NS_CLOUD" addr add "$CLOUD_IP/24" dev br0
ip -n "$NS_CLOUD" link set br0 up
# port NAME NS MAC IP: a veth whose bridge end (NAME) stays in the cloud namespace and whose
# other end is eth0 in NS; both ends are created directly inside the lab's namespaces.
port() {
	ip -n "$NS_CLOUD" link add "$1" type veth peer name eth0 netns "$2"
	ip -n "$2" link set eth0 address "$3"
	ip -n "$2" addr add "$4/24" dev eth0
	ip -n "$2" link set eth0 up
	ip -n "$NS_CLOUD" link set "$1" master br0 up
}
for n in 1 2; do
	port "p-node$n" "${NS[$n]}" "${NODE_MAC[$n]}" "${NODE_IP[$n]}"
done
port p-client "$NS_CL" 52:54:00:00:04:10 "$CLIENT_IP"
for ns in "${ALL_NS[@]}"; do
	[ -z "$(ip -n "$ns" route show default)" ] || fail "$ns has a default route"
done
ok "node1 ${NODE_IP[1]} ${NODE_MAC[1]}, node2 ${NODE_IP[2]} ${NODE_MAC[2]}, client $CLIENT_IP, cloud $CLOUD_IP (br0); no default route anywhere"

# --- tcsim --------------------------------------------------------------------------------
heading "tcsim (seed scenario) in $NS_CLOUD on $CLOUD_IP, learning ARP on br0"
ip netns exec "$NS_CLOUD" "$TCSIM" --listen "$CLOUD_IP:0" --scenario seed --arp-iface br0 \
	>"$LAB/tcsim.out" 2>"$LAB/tcsim.log" &
PID[tcsim]=$!
wait_until "$WAIT" "tcsim did not print its address" grep -q '^listening on ' "$LAB/tcsim.out"
URL=$(sed -n 's/^listening on \(http:\/\/[0-9.:]*\).*/\1/p' "$LAB/tcsim.out" | head -n1)
PORT=${URL##*:}
[ -n "$PORT" ] || fail "cannot parse tcsim's address: $(cat "$LAB/tcsim.out")"
for ns in "${NS[1]}" "${NS[2]}" "$NS_CL"; do
	wait_until "$WAIT" "$ns cannot reach tcsim at $URL over the bridge" \
		nsx "$ns" curl -sf --max-time 2 -o /dev/null "$URL/_sim/health"
done
ok "tcsim at $URL, reachable from both nodes and the client over the bridge"

sim() { # sim METHOD PATH: tcsim's control API, from the cloud namespace
	nsx "$NS_CLOUD" curl -sS --fail --max-time 5 -X "$1" "$URL$2"
}
# cloud: one line describing the HAVIP and its EIP as the cloud sees them.
cloud() {
	sim GET /_sim/state | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
h = next(h for h in d["havips"] if h["id"] == sys.argv[1])
a = next(a for a in d["addresses"] if a["id"] == sys.argv[2])
b = a.get("binding") or {}
print(h["instance_id"] or "-", h["eni_id"] or "-", h["flushed_time"] or "-",
      a["status"], b.get("havip_id") or "-")
' "$HAVIP_ID" "$EIP_ID"
}
# cloud_is INS ENI: the HAVIP is held by INS/ENI and the EIP is bound to the HAVIP.
cloud_is() {
	local c ins eni flushed status bound
	c=$(cloud) || return 1
	read -r ins eni flushed status bound <<<"$c"
	[ "$ins" = "$1" ] && [ "$eni" = "$2" ] && [ "$status" = BIND ] && [ "$bound" = "$HAVIP_ID" ]
}
write_calls() { # the number of mutating API calls in tcsim's request log
	sim GET /_sim/requests | "$PY" -c '
import json, sys
reads = ("Describe",)
print(sum(1 for r in json.load(sys.stdin) if not r["action"].startswith(reads)))'
}

# --- nodes --------------------------------------------------------------------------------
heading "Nodes: havip configuration, loopback endpoint, nginx"
for n in 1 2; do
	d="$LAB/node$n"
	mkdir -p "$d/state" "$d/nginx"
	# havip's configuration: nothing about the node itself, and no secrets. The instance and
	# ENI are discovered (metadata by source IP, then the ENI by MAC), the region comes from
	# the metadata service, and the credentials from the CVM role, as the deployment prefers.
	cat >"$d/havip.toml" <<-EOF
		# havip on lab node$n (${NODE_IP[$n]}); written by deploy/lab/e2e.sh
		endpoint = "http://127.0.0.1:$PORT"
		state_dir = "$d/state"

		[credentials]
		role = "havip-role"

		[[vip]]
		name = "iam"
		vrrp_instance = "VI_1"
		strategy = "havip"
		havip_id = "$HAVIP_ID"
		eip = "$EIP"
		deadline = "20s"

		[check]
		http = "http://127.0.0.1/healthz"
		expect = 200
		timeout = "2s"
	EOF
	# What keepalived runs: havip as this node (its config, state, metadata service).
	cat >"$d/havip" <<-EOF
		#!/bin/sh
		# havip as lab node$n sees it (keepalived's notify hook and vrrp_script run this).
		unset TENCENTCLOUD_SECRET_ID TENCENTCLOUD_SECRET_KEY TENCENTCLOUD_TOKEN HAVIP_ENDPOINT
		export HAVIP_CONFIG="$d/havip.toml" HAVIP_STATE_DIR="$d/state"
		export HAVIP_METADATA_ENDPOINT="http://$CLOUD_IP:$PORT"
		export RUST_LOG="\${RUST_LOG:-info}"
		exec "$HAVIP" "\$@"
	EOF
	chmod 0755 "$d/havip"
	# The deployment's keepalived.conf, with only havip's path changed.
	src="$ROOT/deploy/keepalived/keepalived-node$n.conf"
	[ -f "$src" ] || fail "$src is missing"
	sed "s#/usr/local/bin/havip#$d/havip#g" "$src" >"$d/keepalived.conf"
	if ! grep -q "$d/havip notify" "$d/keepalived.conf" || ! grep -q "$d/havip check" "$d/keepalived.conf"; then
		fail "$src: no 'havip notify' / 'havip check' to point at the lab's havip"
	fi
	cat >"$d/nginx.conf" <<-EOF
		# nginx on lab node$n; written by deploy/lab/e2e.sh
		worker_processes 1;
		user nobody nogroup;
		pid $d/nginx.pid;
		error_log $d/nginx-error.log;
		events { worker_connections 64; }
		http {
		    access_log off;
		    client_body_temp_path $d/nginx/body;
		    proxy_temp_path $d/nginx/proxy;
		    server {
		        listen 80 default_server;
		        default_type text/plain;
		        location = /healthz { return 200 "ok\n"; }
		        location / { return 200 "node$n ${NODE_IP[$n]}\n"; }
		    }
		}
	EOF
	# The loopback endpoint: 127.0.0.1:PORT in the node forwards to tcsim from the node's IP.
	ip netns exec "${NS[$n]}" "$PY" "$LABSRC/tcpfwd.py" 127.0.0.1 "$PORT" "$CLOUD_IP" "$PORT" "${NODE_IP[$n]}" \
		>"$d/fwd.out" 2>"$d/fwd.log" &
	PID[fwd$n]=$!
done

start_nginx() {
	local n=$1 d="$LAB/node$1"
	ip netns exec "${NS[$n]}" "$NGINX" -p "$d" -c "$d/nginx.conf" -e "$d/nginx-error.log" -g 'daemon off;' \
		>>"$d/nginx.out" 2>&1 &
	PID[nginx$n]=$!
	wait_until "$WAIT" "nginx on node$n does not answer" \
		nsx "${NS[$n]}" curl -sf --max-time 2 -o /dev/null http://127.0.0.1/healthz
}
stop_nginx() {
	local n=$1
	kill_pid "${PID[nginx$n]}"
	unset "PID[nginx$n]"
}
for n in 1 2; do
	wait_until "$WAIT" "the loopback forwarder on node$n did not start" grep -q ready "$LAB/node$n/fwd.out"
	start_nginx "$n"
	out=$(nsx "${NS[$n]}" "$LAB/node$n/havip" check 2>&1) || fail "havip check on node$n: $out"
	nsx "${NS[$n]}" "$LAB/node$n/havip" config check >"$LAB/node$n/config-check.txt" 2>&1 ||
		fail "havip config check on node$n: $(cat "$LAB/node$n/config-check.txt")"
	grep -q "${NODE_INS[$n]}" "$LAB/node$n/config-check.txt" ||
		fail "havip config check on node$n did not discover ${NODE_INS[$n]}: $(cat "$LAB/node$n/config-check.txt")"
	grep -q "${NODE_ENI[$n]}" "$LAB/node$n/config-check.txt" ||
		fail "havip config check on node$n did not discover ${NODE_ENI[$n]}: $(cat "$LAB/node$n/config-check.txt")"
	ok "node$n: nginx answers, havip check passes, havip discovers ${NODE_INS[$n]}/${NODE_ENI[$n]} (metadata by source IP, CAM role)"
done

# --- keepalived ---------------------------------------------------------------------------
start_keepalived() {
	local n=$1 d="$LAB/node$1"
	echo "---- keepalived start $(date -u +%T) ----" >>"$d/keepalived.log"
	ip netns exec "${NS[$n]}" "$KEEPALIVED" --dont-fork --log-console --log-detail --no-syslog --vrrp \
		-f "$d/keepalived.conf" -p "$d/keepalived.pid" -r "$d/vrrp.pid" -c "$d/checkers.pid" \
		-b "$d/bfd.pid" >>"$d/keepalived.log" 2>&1 &
	PID[keepalived$n]=$!
}
stop_keepalived() {
	local n=$1
	kill_pid "${PID[keepalived$n]}"
	unset "PID[keepalived$n]"
}
has_vip() { ip -n "${NS[$1]}" -4 addr show dev eth0 | grep -q "inet $VIP/"; }
no_vip() { ! has_vip "$1"; }
# log_mark N / entered N STATE: keepalived's own log, from the last mark on.
declare -A MARK=()
log_mark() { MARK[$1]=$(wc -l <"$LAB/node$1/keepalived.log"); }
entered() { tail -n +"$((${MARK[$1]:-0} + 1))" "$LAB/node$1/keepalived.log" | grep -q "(VI_1) Entering $2 STATE"; }
# journal_has N STATE VERDICT: node N's havip journal has a notify record for STATE with VERDICT
# newer than the mark set by journal_mark.
declare -A JMARK=()
journal_lines() { [ -f "$LAB/node$1/state/journal.jsonl" ] && wc -l <"$LAB/node$1/state/journal.jsonl" || echo 0; }
journal_mark() { JMARK[$1]=$(journal_lines "$1"); }
journal_verdict() { # prints the verdict of node N's newest notify record for STATE, if any
	[ -f "$LAB/node$1/state/journal.jsonl" ] || return 0
	tail -n +"$((${JMARK[$1]:-0} + 1))" "$LAB/node$1/state/journal.jsonl" | "$PY" -c '
import json, sys
v = ""
for line in sys.stdin:
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("trigger") == "notify" and str(r.get("event", "")).upper() == sys.argv[1]:
        v = str(r.get("verdict", "")).upper() + " " + r.get("message", "")
print(v)' "$2"
}
journal_done() { [ -n "$(journal_verdict "$1" "$2")" ]; }
client_gets() { # client_gets TEXT: the client reaches nginx at the VIP and gets TEXT
	local body
	body=$(nsx "$NS_CL" curl -s --max-time 2 "http://$VIP/" 2>/dev/null) || return 1
	[[ $body == *"$1"* ]]
}
show_cloud() {
	local c ins eni flushed status bound
	c=$(cloud) || fail "cannot read tcsim's state"
	read -r ins eni flushed status bound <<<"$c"
	say "cloud: $HAVIP_ID held by $ins/$eni (FlushedTime $flushed); $EIP_ID $status to $bound"
}
describe() { # the operator's view: DescribeHaVips through havip api, from node N
	# The endpoint is explicit so that this call cannot reach anything but the lab's tcsim.
	nsx "${NS[$1]}" "$LAB/node$1/havip" --endpoint "http://127.0.0.1:$PORT" --timeout 10s \
		api vpc DescribeHaVips "{\"HaVipIds\":[\"$HAVIP_ID\"]}" |
		"$PY" -c '
import json, sys
h = json.load(sys.stdin)["HaVipSet"][0]
print("   DescribeHaVips (havip api, from node%s): InstanceId=%s NetworkInterfaceId=%s State=%s AddressIp=%s FlushedTime=%s"
      % (sys.argv[1], h["InstanceId"], h["NetworkInterfaceId"], h["State"], h["AddressIp"], h["FlushedTime"]))' "$1"
}
# arp_moves MAC: how many times tcsim moved the HAVIP on a gratuitous ARP from MAC that it
# read on br0 (its log, colours stripped).
arp_moves() {
	sed 's/\x1b\[[0-9;]*m//g' "$LAB/tcsim.log" | grep 'HAVIP moved by gratuitous ARP' |
		grep 'source="br0"' | grep -c "mac=\"$1\"" || true
}
declare -A ARPS=()
arp_mark() { ARPS[1]=$(arp_moves "${NODE_MAC[1]}") ARPS[2]=$(arp_moves "${NODE_MAC[2]}"); }
arp_moved() { [ "$(arp_moves "${NODE_MAC[$1]}")" -gt "${ARPS[$1]}" ]; }
# expect_holder N: node N has the VIP, the other not; the cloud and the client agree; node N's
# havip notify confirmed the MASTER event.
expect_holder() {
	local n=$1 o=$((3 - $1)) v
	wait_until "$WAIT" "node$n did not take $VIP" has_vip "$n"
	wait_until "$WAIT" "node$o still has $VIP" no_vip "$o"
	ok "node$n holds $VIP (keepalived MASTER), node$o does not"
	wait_until "$WAIT" "the cloud does not show ${NODE_INS[$n]}/${NODE_ENI[$n]} holding $HAVIP_ID with $EIP_ID bound ($(cloud))" \
		cloud_is "${NODE_INS[$n]}" "${NODE_ENI[$n]}"
	wait_until 5 "tcsim did not log a move by node$n's gratuitous ARP on br0" arp_moved "$n"
	show_cloud
	ok "the HAVIP moved on node$n's gratuitous ARP (${NODE_MAC[$n]}), read by tcsim on the bridge"
	describe "$n" || fail "havip api DescribeHaVips on node$n"
	wait_until "$WAIT" "node$n's havip notify did not record the MASTER event" journal_done "$n" MASTER
	v=$(journal_verdict "$n" MASTER)
	[[ $v == CONFIRMED* ]] || fail "node$n: havip notify MASTER ended: $v"
	ok "node$n: havip notify MASTER: $v"
	wait_until "$WAIT" "the client does not reach node$n's nginx at $VIP" client_gets "node$n"
	ok "client $CLIENT_IP -> http://$VIP/ -> $(nsx "$NS_CL" curl -s --max-time 2 "http://$VIP/")"
}

heading "Start keepalived on node1, then node2 (both BACKUP + nopreempt; node1 goes first)"
for n in 1 2; do
	: >"$LAB/node$n/keepalived.log"
	log_mark "$n"
	journal_mark "$n"
done
start_keepalived 1
wait_until "$WAIT" "keepalived on node1 did not become MASTER" entered 1 MASTER
alive keepalived1
start_keepalived 2
wait_until "$WAIT" "keepalived on node2 did not enter BACKUP" entered 2 BACKUP
wait_until "$WAIT" "node1 did not take $VIP" has_vip 1
ok "node1 MASTER with $VIP, node2 BACKUP"
# The seed scenario already has node1 holding the HAVIP: node1's announcement changes nothing
# in the cloud (FlushedTime stays as it was), and havip must still confirm it.
wait_until "$WAIT" "node1's havip notify did not record the MASTER event" journal_done 1 MASTER
v=$(journal_verdict 1 MASTER)
[[ $v == CONFIRMED* ]] || fail "node1: havip notify MASTER (HAVIP already held) ended: $v"
ok "node1: havip notify MASTER (HAVIP already held): $v"
wait_until "$WAIT" "the client does not reach node1's nginx at $VIP" client_gets node1
cloud_is "${NODE_INS[1]}" "${NODE_ENI[1]}" || fail "the cloud does not show node1 holding $HAVIP_ID: $(cloud)"
show_cloud

# --- scene 1 ------------------------------------------------------------------------------
heading "Scene 1: keepalived stopped on the master (node1)"
journal_mark 2
arp_mark
s=$(date +%s%N)
stop_keepalived 1
expect_holder 2
say "scene 1: cloud followed in $((($(date +%s%N) - s) / 1000000)) ms (stop -> notify confirmed -> client served)"

heading "keepalived back on node1: it stays BACKUP (nopreempt)"
log_mark 1
start_keepalived 1
wait_until "$WAIT" "keepalived on node1 did not enter BACKUP" entered 1 BACKUP
sleep 3
alive keepalived1
entered 1 MASTER && fail "node1 took the VIP back after its restart (preemption)"
if ! has_vip 2 || has_vip 1; then fail "the VIP moved after node1's restart"; fi
cloud_is "${NODE_INS[2]}" "${NODE_ENI[2]}" || fail "the cloud changed after node1's restart: $(cloud)"
ok "node1 BACKUP, node2 still MASTER, cloud unchanged"

# --- scene 2 ------------------------------------------------------------------------------
heading "Scene 2: nginx stopped on the master (node2) -> havip check fails -> the VIP moves back"
journal_mark 1
log_mark 2
arp_mark
s=$(date +%s%N)
stop_nginx 2
wait_until "$WAIT" "keepalived on node2 did not enter FAULT (havip check should fail)" entered 2 FAULT
ok "node2: havip check fails, keepalived FAULT"
expect_holder 1
say "scene 2: cloud followed in $((($(date +%s%N) - s) / 1000000)) ms (nginx stop -> check fails x2 -> notify confirmed -> client served)"

# --- scene 3 ------------------------------------------------------------------------------
heading "Scene 3: nginx back on node2 -> no preemption: the VIP and the cloud stay"
before=$(cloud)
writes=$(write_calls)
log_mark 2
log_mark 1
start_nginx 2
wait_until "$WAIT" "keepalived on node2 did not leave FAULT for BACKUP" entered 2 BACKUP
ok "node2: havip check passes again, keepalived BACKUP"
# Two garp_master_refresh periods: node1 keeps announcing, node2 must not take over.
sleep 10
entered 2 MASTER && fail "node2 took the VIP back (preemption)"
entered 1 BACKUP && fail "node1 left MASTER"
if ! has_vip 1 || has_vip 2; then fail "the VIP moved (node1 should have it, node2 not)"; fi
after=$(cloud)
[ "$before" = "$after" ] || fail "the cloud changed: before '$before', after '$after'"
w=$(write_calls)
[ "$w" -eq "$writes" ] || fail "$((w - writes)) cloud write(s) during scene 3"
client_gets node1 || fail "the client no longer reaches node1 at $VIP"
show_cloud
ok "node1 still MASTER, node2 BACKUP, the cloud unchanged, no cloud writes"

# --- scene 4 ------------------------------------------------------------------------------
heading "Scene 4 (planned switch): havip failover on the holder (node1)"
journal_mark 2
log_mark 1
arp_mark
s=$(date +%s%N)
out=$(nsx "${NS[1]}" timeout 60 "$LAB/node1/havip" failover --vip iam --yes --timeout 40s 2>&1) ||
	fail "havip failover on node1: $out"
printf '%s\n' "$out" | sed 's/^/   /'
expect_holder 2
if [ -e "$LAB/node1/state/iam.drain" ] || [ -e "$LAB/node1/state/drain" ]; then
	fail "havip failover left a drain flag on node1"
fi
wait_until "$WAIT" "keepalived on node1 did not come back to BACKUP after the drain" entered 1 BACKUP
ok "node1 BACKUP again (drain flag cleared), node2 MASTER"
say "scene 4: planned switch took $((($(date +%s%N) - s) / 1000000)) ms"

# --- journals -----------------------------------------------------------------------------
for n in 1 2; do
	heading "node$n: keepalived's transitions, then havip journal"
	grep -E '\(VI_1\) Entering|^---- keepalived start|Stopped Keepalived' "$LAB/node$n/keepalived.log" |
		sed 's/^/   /'
	nsx "${NS[$n]}" "$LAB/node$n/havip" journal -n 50 || fail "havip journal on node$n"
done

heading "All scenes passed in $(($(date +%s) - T0)) s"
