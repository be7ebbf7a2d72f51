# Sourced by deploy/lab/e2e.sh: the client on the internet side, which reaches the service only
# through the EIP, and the switch bookkeeping behind the timing table (deploy/lab/timing.py).

# client_served_by: which node's nginx answered one request through the EIP (empty: none).
client_served_by() {
	nsx "$NS_CL" curl -s -o /dev/null -D - --max-time 2 -H "Host: $API_HOST" "http://$EIP/healthz" 2>/dev/null |
		tr -d '\r' | sed -n 's/^[Xx]-[Ss]erved-[Bb]y: //p'
}
client_gets() { [ "$(client_served_by)" = "$1" ]; }
client_gets_nothing() { ! nsx "$NS_CL" curl -s -o /dev/null --max-time 1 "http://$EIP/healthz"; }

# check_balance: the reference's loadbalance.sh: 10 requests through the EIP land 5/5 on the
# two API servers behind the holder's nginx.
check_balance() {
	local i counts
	counts=$(for i in $(seq 10); do
		nsx "$NS_CL" curl -s --max-time 2 -H "Host: $API_HOST" "http://$EIP/healthz" |
			"$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d["status"] == "ok"; print(d["node"])' ||
			echo error
	done | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}')
	[ "$counts" = "node1=5 node2=5 " ] || fail "10 requests through the EIP: $counts(expected node1=5 node2=5)"
	ok "10 requests through the EIP $EIP: ${counts% } (round-robin over both API servers)"
}

start_probe() {
	ip netns exec "$NS_CL" "$PY" "$LABSRC/probe.py" "$EIP" 80 50 >"$LAB/probe.log" 2>"$LAB/probe.err" &
	PID[probe]=$!
	wait_until "$WAIT" "the client probe did not start" grep -q ' ok ' "$LAB/probe.log"
	ok "client probe: one request through the EIP every 50 ms"
}

# switch_begin / switch_end SCENE N [NOTE]: one row of the timing table, from the fault (the
# moment switch_begin ran) to node N's MASTER, its cloud confirmation and the client's outage.
switch_begin() { SW_T0=$(now_ns); }
switch_end() {
	printf '%s\t%s\tnode%s\t%s\t%s\n' "$1" "$SW_T0" "$2" "$(now_ns)" "${3:-}" >>"$LAB/switches.tsv"
	say "$1: node$2 serves through the EIP $((($(now_ns) - SW_T0) / 1000000)) ms after the fault"
}
