# Sourced by deploy/lab/e2e.sh: the two nodes as the deployment sets them up. Each runs the
# reference service (nginx with deploy/nginx/iam.conf in front of stand-ins for iam-apiserver
# :8080 and iam-authz-server :9090), keepalived with deploy/keepalived/keepalived-nodeN.conf, and
# havip as keepalived's notify hook, vrrp_script and track_file owner. Only two paths differ from
# an installed node: /usr/local/bin/havip is the node's wrapper, /var/lib/havip its state dir.

VIP=10.0.4.99
declare -A NODE_IP=([1]=10.0.4.20 [2]=10.0.4.21)
declare -A NODE_MAC=([1]=52:54:00:00:04:20 [2]=52:54:00:00:04:21)
declare -A NODE_INS=([1]=ins-iam00020 [2]=ins-iam00021)
declare -A NODE_ENI=([1]=eni-iam00020 [2]=eni-iam00021)
API_HOST=iam.api.marmotedu.com

# What the nodes install: the Debian package `make deb` built (target/debian/havip_*.deb, the
# newest; HAVIP_LAB_DEB=FILE names one, HAVIP_LAB_DEB=none skips it), extracted with dpkg-deb
# into $LAB/pkg: its /usr/bin/havip, keepalived configs, nginx config and havip-watch.service.
# Without one, or when the newest is older than src/ or deploy/ (a stale build), target/<profile>/havip
# and the files in deploy/. Sets HAVIP (the binary),
# SHIPPED_BIN (the path the shipped files name), SHIPPED_DIR (the deploy/ tree as shipped),
# WATCH_EXEC (havip-watch.service's ExecStart).
# stale_package DEB: some file in src/ or deploy/ (the lab's own aside) is newer than DEB.
stale_package() {
	[ -n "$(find "$ROOT/src" "$ROOT/deploy" -path "$LABSRC" -prune -o -newer "$1" -type f -print -quit)" ]
}
use_package() {
	local deb=${HAVIP_LAB_DEB:-} unit why='no package in target/debian; `make deb` builds one'
	if [ -z "$deb" ] && [ -d "$ROOT/target/debian" ]; then
		deb=$(find "$ROOT/target/debian" -maxdepth 1 -name 'havip_*.deb' -printf '%T@ %p\n' |
			sort -rn | head -n 1 | cut -d' ' -f2-)
		# A package older than the sources is not what this checkout would install: the lab
		# would test yesterday's havip. Named with HAVIP_LAB_DEB, it is used all the same.
		if [ -n "$deb" ] && stale_package "$deb"; then
			why="${deb#"$ROOT"/} is older than files in src/ or deploy/: \`make deb\` again to use it"
			deb=''
		fi
	fi
	[ "$deb" != none ] || deb='' why='HAVIP_LAB_DEB=none'
	if [ -n "$deb" ]; then
		[ -f "$deb" ] || fail "HAVIP_LAB_DEB: no file $deb"
		command -v dpkg-deb >/dev/null || fail "dpkg-deb is needed to use $deb"
		dpkg-deb -x "$deb" "$LAB/pkg" || fail "dpkg-deb -x $deb"
		HAVIP="$LAB/pkg/usr/bin/havip" SHIPPED_BIN=/usr/bin/havip
		SHIPPED_DIR="$LAB/pkg/usr/share/doc/havip/examples"
		unit="$LAB/pkg/usr/lib/systemd/system/havip-watch.service"
		[ -x "$HAVIP" ] || fail "$deb has no usr/bin/havip"
		! stale_package "$deb" ||
			say "WARNING: ${deb#"$ROOT"/} is older than files in src/ or deploy/"
		say "havip from the package ${deb#"$ROOT"/} ($(dpkg-deb -f "$deb" Version), built $(date -u -r "$deb" '+%F %T UTC')): $("$HAVIP" --version)"
	else
		HAVIP="$ROOT/target/$PROFILE/havip" SHIPPED_BIN=/usr/local/bin/havip SHIPPED_DIR="$ROOT/deploy"
		unit="$ROOT/deploy/systemd/havip-watch.service"
		say "havip from target/$PROFILE ($why): $("$HAVIP" --version)"
	fi
	[ -f "$unit" ] || fail "$unit is missing"
	WATCH_EXEC=$(sed -n 's/^ExecStart=//p' "$unit")
	[ -n "$WATCH_EXEC" ] || fail "$unit has no ExecStart"
}

write_node() { # write_node N: havip.toml, the wrapper, keepalived.conf, nginx.conf
	local n=$1 d="$LAB/node$1" src
	mkdir -p "$d/state" "$d/nginx"
	# No [node] section and no secrets: the instance and ENI are discovered (metadata by source
	# IP, then the ENI by MAC), the region comes from metadata, the credentials from the CVM
	# role; the API's certificate is checked against tcsim's CA.
	cat >"$d/havip.toml" <<-EOT
		# havip on lab node$n (${NODE_IP[$n]}); written by deploy/lab/e2e.sh
		endpoint = "$API_URL"
		ca_file = "$LAB/ca.pem"
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
		http = "http://127.0.0.1/nginx-healthz"
		expect = 200
		timeout = "2s"

		[[alert]]
		type = "webhook"
		url = "http://$CLOUD_IP:$WEBHOOK_PORT/havip"
		timeout = "3s"
		min_severity = "info"
	EOT
	chmod 0600 "$d/havip.toml"
	# What keepalived runs: havip as this node. Each notify is stamped (ns) for the timing table.
	cat >"$d/havip" <<-EOT
		#!/bin/sh
		# havip as lab node$n sees it (keepalived's notify hook and vrrp_script run this).
		[ "\$1" = notify ] && echo "\$(date +%s%N) \$*" >>"$d/notify.log"
		unset TENCENTCLOUD_SECRET_ID TENCENTCLOUD_SECRET_KEY TENCENTCLOUD_TOKEN HAVIP_ENDPOINT HAVIP_METADATA_ENDPOINT
		export HAVIP_CONFIG="$d/havip.toml" HAVIP_STATE_DIR="$d/state"
		export RUST_LOG="\${RUST_LOG:-info}"
		exec "$HAVIP" "\$@"
	EOT
	chmod 0755 "$d/havip"
	src="$SHIPPED_DIR/keepalived/keepalived-node$n.conf"
	[ -f "$src" ] || fail "$src is missing"
	sed -e "s#$SHIPPED_BIN#$d/havip#g" -e "s#/var/lib/havip#$d/state#g" "$src" >"$d/keepalived.conf"
	for want in "$d/havip notify" "$d/havip check" "file $d/state/iam.drain"; do
		grep -q "$want" "$d/keepalived.conf" || fail "$src: no '$want' after pointing it at the lab's node"
	done
	[ -f "$SHIPPED_DIR/nginx/iam.conf" ] || fail "$SHIPPED_DIR/nginx/iam.conf is missing"
	cat >"$d/nginx.conf" <<-EOT
		# nginx on lab node$n: the deployment's iam.conf inside a minimal main file.
		worker_processes 2;
		user nobody nogroup;
		pid $d/nginx.pid;
		error_log $d/nginx-error.log;
		events { worker_connections 256; }
		http {
		    access_log off;
		    client_body_temp_path $d/nginx/body;
		    proxy_temp_path $d/nginx/proxy;
		    fastcgi_temp_path $d/nginx/fastcgi;
		    uwsgi_temp_path $d/nginx/uwsgi;
		    scgi_temp_path $d/nginx/scgi;
		    include $SHIPPED_DIR/nginx/iam.conf;
		}
	EOT
}

start_service() { # the IAM stand-ins (:8080, :9090)
	local n=$1 d="$LAB/node$1"
	: >"$d/standin.out"
	ip netns exec "${NS[$n]}" "$PY" "$LABSRC/standin.py" service "node$n" >"$d/standin.out" 2>"$d/standin.log" &
	PID[service$n]=$!
	wait_until "$WAIT" "the IAM stand-ins on node$n did not start" grep -q ready "$d/standin.out"
}
start_nginx() { # nginx, in its own UTS namespace named nodeN (X-Served-By is its host name)
	local n=$1 d="$LAB/node$1"
	ip netns exec "${NS[$n]}" unshare --uts sh -c "hostname node$n && exec '$NGINX' -p '$d' -c '$d/nginx.conf' -e '$d/nginx-error.log' -g 'daemon off;'" \
		>>"$d/nginx.out" 2>&1 &
	PID[nginx$n]=$!
	wait_until "$WAIT" "nginx on node$n does not answer" \
		nsx "${NS[$n]}" curl -sf --max-time 2 -o /dev/null http://127.0.0.1/nginx-healthz
}
stop_nginx() {
	kill_pid "${PID[nginx$1]}"
	unset "PID[nginx$1]"
}
start_keepalived() {
	local n=$1 d="$LAB/node$1"
	echo "---- keepalived start $(date -u +%T) ----" >>"$d/keepalived.log"
	ip netns exec "${NS[$n]}" "$KEEPALIVED" --dont-fork --log-console --log-detail --no-syslog --vrrp \
		-f "$d/keepalived.conf" -p "$d/keepalived.pid" -r "$d/vrrp.pid" -c "$d/checkers.pid" \
		-b "$d/bfd.pid" >>"$d/keepalived.log" 2>&1 &
	PID[keepalived$n]=$!
}
stop_keepalived() {
	kill_pid "${PID[keepalived$1]}"
	unset "PID[keepalived$1]"
}
# start_watch N: havip watch as havip-watch.service runs it (its ExecStart, with the node's
# wrapper for the installed binary), in node N's namespace; its log in watch.log. Ready when
# /healthz answers on 127.0.0.1:9797.
start_watch() {
	local n=$1 d="$LAB/node$1" cmd
	read -r -a cmd <<<"$WATCH_EXEC"
	[ "${cmd[0]}" = "$SHIPPED_BIN" ] || fail "havip-watch.service's ExecStart does not run $SHIPPED_BIN: $WATCH_EXEC"
	cmd[0]="$d/havip"
	echo "---- havip watch start $(date -u +%T) ----" >>"$d/watch.log"
	ip netns exec "${NS[$n]}" "${cmd[@]}" >>"$d/watch.log" 2>&1 &
	PID[watch$n]=$!
	wait_until "$WAIT" "havip watch on node$n did not serve /healthz (see watch.log)" \
		nsx "${NS[$n]}" curl -s --max-time 2 -o /dev/null http://127.0.0.1:9797/healthz
	alive "watch$n"
}
# watch_log_ok N: node N's watch.log holds only JSON lines (--log-format json) besides the
# lab's start markers; prints how many, per level.
watch_log_ok() {
	"$PY" -c '
import json, sys
n = 0
levels = {}
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    if not line.strip() or line.startswith("---- havip watch start"):
        continue
    try:
        d = json.loads(line)
    except ValueError:
        print("not JSON: " + line.strip()[:200])
        sys.exit(1)
    n += 1
    lv = d.get("level", "?")
    levels[lv] = levels.get(lv, 0) + 1
print("%d JSON lines (%s)" % (n, ", ".join("%s %d" % kv for kv in sorted(levels.items()))))' "$LAB/node$1/watch.log"
}
stop_watch() {
	kill_pid "${PID[watch$1]}"
	unset "PID[watch$1]"
}

setup_nodes() {
	local n out
	heading "Nodes: havip configuration (TLS to the API, metadata at $MD_IP, webhook alerts), IAM stand-ins, nginx"
	for n in 1 2; do write_node "$n"; done
	for n in 1 2; do
		start_service "$n"
		start_nginx "$n"
	done
	for n in 1 2; do
		out=$(nsx "${NS[$n]}" "$LAB/node$n/havip" check 2>&1) || fail "havip check on node$n: $out"
		nsx "${NS[$n]}" "$LAB/node$n/havip" config check >"$LAB/node$n/config-check.txt" 2>&1 ||
			fail "havip config check on node$n: $(cat "$LAB/node$n/config-check.txt")"
		for want in "${NODE_INS[$n]}" "${NODE_ENI[$n]}"; do
			grep -q "$want" "$LAB/node$n/config-check.txt" ||
				fail "havip config check on node$n did not discover $want: $(cat "$LAB/node$n/config-check.txt")"
		done
		ok "node$n: stand-ins and nginx answer, havip check passes, havip discovers ${NODE_INS[$n]}/${NODE_ENI[$n]} (metadata.tencentyun.com, CAM role, TLS)"
	done
	for n in 1 2; do start_watch "$n"; done
	ok "havip watch on both nodes, as havip-watch.service runs it: ${WATCH_EXEC#"${SHIPPED_BIN%havip}"}"
}

# status_code N: the exit code of `havip status` on node N (its output in status.out).
status_code() {
	local rc=0
	nsx "${NS[$1]}" "$LAB/node$1/havip" status --events 0 >"$LAB/node$1/status.out" 2>&1 || rc=$?
	echo "$rc"
}
status_is() { [ "$(status_code "$1")" = "$2" ]; }
# expect_status_ok: havip status exits 0 (OK) on both nodes, within the bounded wait (a notify
# or a watcher's look may still be settling when a scene ends).
expect_status_ok() {
	local n
	for n in 1 2; do
		[ -z "${PID[watch$n]:-}" ] || alive "watch$n"
		within "$WAIT" status_is "$n" 0 ||
			fail "after ${WAIT}s: havip status on node$n exits $(status_code "$n"), not 0: $(head -n 12 "$LAB/node$n/status.out")"
	done
	ok "havip status: node1 $(head -n 1 "$LAB/node1/status.out" | cut -d'|' -f1)"
	ok "havip status: node2 $(head -n 1 "$LAB/node2/status.out" | cut -d'|' -f1)"
}
# doctor_passes N: havip doctor (against the node's keepalived.conf) exits 0.
doctor_passes() {
	nsx "${NS[$1]}" "$LAB/node$1/havip" doctor --keepalived-conf "$LAB/node$1/keepalived.conf" \
		>"$LAB/node$1/doctor.out" 2>&1 || fail "havip doctor on node$1: $(grep -E 'FAIL|WARN|rror' "$LAB/node$1/doctor.out" | head -n 20)"
	ok "havip doctor on node$1: $(tail -n 1 "$LAB/node$1/doctor.out")"
}

has_vip() { ip -n "${NS[$1]}" -4 addr show dev eth0 | grep -q "inet $VIP/"; }
no_vip() { ! has_vip "$1"; }
# log_mark N / entered N STATE: keepalived's own log, from the last mark on.
declare -A MARK=()
log_mark() { MARK[$1]=$(if [ -f "$LAB/node$1/keepalived.log" ]; then wc -l <"$LAB/node$1/keepalived.log"; else echo 0; fi); }
entered() { tail -n +"$((${MARK[$1]:-0} + 1))" "$LAB/node$1/keepalived.log" 2>/dev/null | grep -q "(VI_1) Entering $2 STATE"; }
# journal_mark N / journal_verdict N STATE [TRIGGER]: node N's newest record of TRIGGER (default
# notify) for STATE since the mark.
declare -A JMARK=()
journal_lines() { [ -f "$LAB/node$1/state/journal.jsonl" ] && wc -l <"$LAB/node$1/state/journal.jsonl" || echo 0; }
journal_mark() { JMARK[$1]=$(journal_lines "$1"); }
journal_verdict() {
	[ -f "$LAB/node$1/state/journal.jsonl" ] || return 0
	tail -n +"$((${JMARK[$1]:-0} + 1))" "$LAB/node$1/state/journal.jsonl" | "$PY" -c '
import json, sys
v = ""
for line in sys.stdin:
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("trigger") == sys.argv[2] and str(r.get("event", "")).upper() == sys.argv[1]:
        v = str(r.get("verdict", "")).upper() + " " + r.get("message", "")
print(v)' "$2" "${3:-notify}"
}
journal_done() { [ -n "$(journal_verdict "$@")" ]; }
mark_all() { # marks every log a scene's checks read
	local n
	for n in 1 2; do
		log_mark "$n"
		journal_mark "$n"
	done
	arp_mark
	ALERTS=$(alerts_mark)
}
