# Sourced by deploy/lab/e2e.sh: output, bounded waits, namespaces, process bookkeeping and the
# cleanup trap. Everything the lab starts is recorded in PID[] or runs inside a namespace it
# created; the trap ends those (by id) and deletes the namespaces, whatever happened.

T0=$(date +%s)
say() { printf '[%4ds] %s\n' "$(($(date +%s) - T0))" "$*"; }
heading() { printf '\n[%4ds] == %s\n' "$(($(date +%s) - T0))" "$*"; }
ok() { say "ok: $*"; }
fail() {
	printf '\n[%4ds] FAILED: %s\n' "$(($(date +%s) - T0))" "$*" >&2
	exit 1
}
now_ns() { date +%s%N; }

declare -A PID=() # name -> pid of every process the lab started
CREATED_NS=()
CREATED_ETC=() # /etc/netns/<ns> directories (the namespace's /etc/hosts), removed on exit

kill_pid() { # kill_pid PID: TERM, up to 5 s, then KILL
	local p=$1
	kill -TERM "$p" 2>/dev/null || return 0
	for _ in $(seq 50); do
		kill -0 "$p" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null || true
}

# within SECONDS CMD...: polls CMD every 0.1 s until it succeeds; returns 1 after SECONDS.
within() {
	local secs=$1 deadline
	shift
	deadline=$(($(now_ns) + secs * 1000000000))
	until "$@"; do
		[ "$(now_ns)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}
# wait_until SECONDS DESCRIPTION CMD...: within SECONDS CMD, or fail.
wait_until() {
	local secs=$1 what=$2
	shift 2
	within "$secs" "$@" || fail "after ${secs}s: $what"
}
# nsx NS CMD...: run CMD in a lab namespace. (Background processes are started with
# `ip netns exec` itself, which execs CMD, so that $! is CMD's own pid.)
nsx() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}
alive() { kill -0 "${PID[$1]}" 2>/dev/null || fail "$1 exited (see its log in the dump below)"; }

dump_logs() {
	local f n
	echo >&2
	echo "---- lab logs (last lines) ----" >&2
	for f in "$LAB"/tcsim.log "$LAB"/node1/keepalived.log "$LAB"/node2/keepalived.log \
		"$LAB"/node1/nginx-error.log "$LAB"/node2/nginx-error.log "$LAB"/alerts.jsonl; do
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

cleanup() {
	local rc=$? n p pids ns left
	trap - EXIT INT TERM
	set +e
	if [ "$rc" -ne 0 ]; then
		dump_logs
		if [ -n "${HAVIP_LAB_KEEP:-}" ]; then
			echo "HAVIP_LAB_KEEP: left in place: namespaces ${CREATED_NS[*]}, $LAB." >&2
			echo "  remove with: for n in ${CREATED_NS[*]}; do ip netns pids \$n | xargs -r kill; ip netns del \$n; rm -rf /etc/netns/\$n; done; rm -rf $LAB" >&2
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
	for d in "${CREATED_ETC[@]}"; do rm -rf "$d"; done
	wait 2>/dev/null
	rm -rf "$LAB"
	left=$(ip netns list 2>/dev/null | grep -c "^$TAG-" || true)
	[ "$left" -eq 0 ] || echo "e2e lab: WARNING: $left namespace(s) $TAG-* could not be removed" >&2
	say "cleaned up (namespaces, processes, $LAB)"
	exit "$rc"
}
