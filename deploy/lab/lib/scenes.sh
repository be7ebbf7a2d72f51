# Sourced by deploy/lab/e2e.sh: the scenes. Each is one function, listed in SCENES (e2e.sh) in
# the order they run; each starts from the state the previous one left (told in its comment),
# marks the logs it reads (mark_all), checks the nodes, the cloud and the client through the EIP,
# and records its switches for the timing table (switch_begin / switch_end).

# expect_holder N [TRIGGER]: node N has the VIP, the other not; the cloud and the client agree;
# node N's havip TRIGGER (default notify) confirmed the MASTER event, and (notify) only after
# tcsim had moved the HAVIP.
expect_holder() {
	local n=$1 o=$((3 - $1)) t=${2:-notify} v
	wait_until "$WAIT" "node$n did not take $VIP" has_vip "$n"
	wait_until "$WAIT" "node$o still has $VIP" no_vip "$o"
	ok "node$n holds $VIP (keepalived MASTER), node$o does not"
	wait_until "$WAIT" "the cloud does not show ${NODE_INS[$n]}/${NODE_ENI[$n]} holding $HAVIP_ID with $EIP_ID bound ($(cloud))" \
		cloud_is "${NODE_INS[$n]}" "${NODE_ENI[$n]}"
	wait_until 5 "tcsim did not log a move by node$n's gratuitous ARP on br0" arp_moved "$n"
	show_cloud
	describe "$n" || fail "havip api DescribeHaVips on node$n"
	wait_until "$WAIT" "node$n's havip $t did not record the MASTER event" journal_done "$n" MASTER "$t"
	v=$(journal_verdict "$n" MASTER "$t")
	[[ $v == CONFIRMED* ]] || fail "node$n: havip $t MASTER ended: $v"
	[ "$t" != notify ] || no_false_success "$n"
	ok "node$n: havip $t MASTER: $v"
	wait_until "$WAIT" "the client does not reach node$n's nginx through the EIP" client_gets "node$n"
	ok "client $CLIENT_IP -> http://$EIP/ (EIP) -> node$n's nginx"
}

# no_false_success N: every CONFIRMED MASTER record of node N since the mark was written after
# tcsim last moved the HAVIP to node N (a verdict is only as good as what was read for it).
no_false_success() {
	"$PY" "$LABSRC/timing.py" --check-confirmed "$LAB" "node$1" "${JMARK[$1]:-0}" ||
		fail "node$1 reported CONFIRMED while the cloud's last move was not to node$1"
}

# Baseline (from nothing): node1 MASTER, node2 BACKUP, the seed's cloud (node1 holds the HAVIP,
# the EIP is bound); the client through the EIP reaches node1; the load is spread 5/5.
scene_baseline() {
	local v
	heading "Baseline: keepalived on node1, then node2 (both BACKUP + nopreempt; node1 goes first)"
	mark_all
	start_keepalived 1
	wait_until "$WAIT" "keepalived on node1 did not become MASTER" entered 1 MASTER
	alive keepalived1
	start_keepalived 2
	wait_until "$WAIT" "keepalived on node2 did not enter BACKUP" entered 2 BACKUP
	wait_until "$WAIT" "node1 did not take $VIP" has_vip 1
	ok "node1 MASTER with $VIP, node2 BACKUP"
	# The seed already has node1 holding the HAVIP: the announcement changes nothing in the
	# cloud, and havip must still confirm it.
	wait_until "$WAIT" "node1's havip notify did not record the MASTER event" journal_done 1 MASTER
	v=$(journal_verdict 1 MASTER)
	[[ $v == CONFIRMED* ]] || fail "node1: havip notify MASTER (HAVIP already held) ended: $v"
	ok "node1: havip notify MASTER (HAVIP already held): $v"
	cloud_is "${NODE_INS[1]}" "${NODE_ENI[1]}" || fail "the cloud does not show node1 holding $HAVIP_ID: $(cloud)"
	show_cloud
	wait_until "$WAIT" "the client does not reach node1's nginx through the EIP" client_gets node1
	grep -q 'EIP data plane: forwarding' "$LAB/tcsim.log" || fail "tcsim's data plane did not log its forwarding"
	ok "client $CLIENT_IP -> http://$EIP/ (EIP, DNAT in the cloud to $VIP at node1's MAC) -> node1's nginx"
	check_balance
	wait_until "$WAIT" "node1's switch alert did not reach the receiver" alert_seen "$ALERTS" switch "${NODE_INS[1]}"
	ok "node1's alert reached the webhook receiver in the cloud namespace"
	start_probe
}

# Scene 1 (node1 MASTER): keepalived stopped on the master -> node2 takes over; keepalived back
# on node1 -> BACKUP (nopreempt).
scene_master_stops() {
	heading "Scene 1: keepalived stopped on the master (node1)"
	mark_all
	switch_begin
	stop_keepalived 1
	expect_holder 2
	switch_end "1 keepalived stopped" 2
	heading "keepalived back on node1: it stays BACKUP (nopreempt)"
	log_mark 1
	start_keepalived 1
	wait_until "$WAIT" "keepalived on node1 did not enter BACKUP" entered 1 BACKUP
	sleep 3
	alive keepalived1
	entered 1 MASTER && fail "node1 took the VIP back after its restart (preemption)"
	if ! has_vip 2 || has_vip 1; then fail "the VIP moved after node1's restart"; fi
	cloud_is "${NODE_INS[2]}" "${NODE_ENI[2]}" || fail "the cloud changed after node1's restart: $(cloud)"
	client_gets node2 || fail "the client no longer reaches node2 through the EIP"
	ok "node1 BACKUP, node2 still MASTER, cloud unchanged, the client still reaches node2"
}

# Scene 2 (node2 MASTER): nginx stopped on the master -> havip check fails -> FAULT -> node1.
scene_service_fails() {
	heading "Scene 2: nginx stopped on the master (node2) -> havip check fails -> the VIP moves back"
	mark_all
	switch_begin
	stop_nginx 2
	wait_until "$WAIT" "keepalived on node2 did not enter FAULT (havip check should fail)" entered 2 FAULT
	ok "node2: havip check fails, keepalived FAULT"
	expect_holder 1
	switch_end "2 nginx stopped" 1 "chk_havip: interval 3 s, fall 2"
}

# Scene 3 (node1 MASTER, node2 FAULT): nginx back on node2 -> BACKUP; nothing moves.
scene_service_back() {
	local before after writes w
	heading "Scene 3: nginx back on node2 -> no preemption: the VIP and the cloud stay"
	before=$(cloud)
	writes=$(write_calls)
	mark_all
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
	client_gets node1 || fail "the client no longer reaches node1 through the EIP"
	show_cloud
	ok "node1 still MASTER, node2 BACKUP, the cloud unchanged, no cloud writes, the client reaches node1"
}

# Scene 4 (node1 MASTER): havip failover on node1 -> its drain flag -> track_file -> FAULT at
# once -> node2 after its skew time; the flag is removed and node1 comes back as BACKUP.
scene_planned() {
	local out took
	heading "Scene 4 (planned switch): havip failover on the holder (node1); track_file drains it"
	mark_all
	switch_begin
	out=$(nsx "${NS[1]}" timeout 60 "$LAB/node1/havip" failover --vip iam --yes --timeout 40s 2>&1) ||
		fail "havip failover on node1: $out"
	took=$((($(now_ns) - SW_T0) / 1000000))
	printf '%s\n' "$out" | sed 's/^/   /'
	expect_holder 2
	entered 1 FAULT || fail "node1 did not go through FAULT (track_file on the drain flag)"
	grep -q "Track file drain_iam\|drain_iam" "$LAB/node1/keepalived.log" ||
		fail "keepalived on node1 did not log the drain_iam track file"
	if [ -e "$LAB/node1/state/iam.drain" ] || [ -e "$LAB/node1/state/drain" ]; then
		fail "havip failover left a drain flag on node1"
	fi
	wait_until "$WAIT" "keepalived on node1 did not come back to BACKUP after the drain" entered 1 BACKUP
	ok "node1 BACKUP again (drain flag cleared), node2 MASTER"
	PLANNED_MS=$took
	switch_end "4 planned (havip failover)" 2 "havip failover returned after $took ms"
}

# Split brain (node2 MASTER, node1 BACKUP): VRRP between the nodes dropped on both -> node1
# claims MASTER too. Both announce, so the cloud follows whichever announced last; havip must
# not report more than it read, an alert goes out, no cloud writes while it lasts; VRRP back
# -> one MASTER (node2: equal priority, higher address), and the cloud follows it.
block_vrrp() {
	nsx "${NS[$1]}" nft -f - <<-EOT || fail "cannot block VRRP on node$1"
		table ip lab_vrrp {
		    chain input { type filter hook input priority 0; policy accept; ip protocol vrrp drop; }
		}
	EOT
}
unblock_vrrp() { nsx "${NS[$1]}" nft delete table ip lab_vrrp || fail "cannot unblock VRRP on node$1"; }
scene_split_brain() {
	local v w0 w m o
	heading "Split brain: VRRP between the nodes dropped on both (node2 MASTER)"
	mark_all
	w0=$(write_calls)
	block_vrrp 1
	block_vrrp 2
	wait_until "$WAIT" "node1 did not claim MASTER without adverts" entered 1 MASTER
	wait_until "$WAIT" "node1 did not take $VIP" has_vip 1
	has_vip 2 || fail "node2 gave up $VIP although it heard nothing"
	entered 2 BACKUP && fail "node2 left MASTER"
	ok "both nodes MASTER with $VIP (split brain)"
	wait_until "$WAIT" "node1's havip notify did not record the MASTER event" journal_done 1 MASTER
	v=$(journal_verdict 1 MASTER)
	say "node1: havip notify MASTER during the split: $v"
	case $v in
	CONFIRMED*)
		no_false_success 1
		wait_until "$WAIT" "node1's switch alert did not reach the receiver" alert_seen "$ALERTS" switch "${NODE_INS[1]}"
		;;
	*) wait_until "$WAIT" "node1's failure alert did not reach the receiver" alert_seen "$ALERTS" failure "${NODE_INS[1]}" ;;
	esac
	ok "node1's alert reached the webhook receiver"
	# More than one garp_master_refresh period: each node's announcements move the HAVIP.
	sleep 6
	entered 2 BACKUP && fail "node2 left MASTER during the split"
	has_vip 1 && has_vip 2 || fail "a node dropped $VIP during the split"
	[ "$(eip_status)" = BIND ] || fail "the EIP lost its binding during the split: $(cloud)"
	w=$(write_calls)
	[ "$w" -eq "$w0" ] || fail "$((w - w0)) cloud write(s) during the split"
	[ -n "$(client_served_by)" ] || fail "the client gets no answer through the EIP during the split"
	show_cloud
	ok "the cloud follows the last announcement (moves to node1: $(($(arp_moves "${NODE_MAC[1]}") - ARPS[1])), to node2: $(($(arp_moves "${NODE_MAC[2]}") - ARPS[2]))); EIP bound; no cloud writes"
	heading "Split brain heals: VRRP back"
	mark_all
	switch_begin
	unblock_vrrp 1
	unblock_vrrp 2
	wait_until "$WAIT" "neither node went back to BACKUP" eval 'entered 1 BACKUP || entered 2 BACKUP'
	if entered 1 BACKUP; then m=2; else m=1; fi
	o=$((3 - m))
	wait_until "$WAIT" "node$o still has $VIP" no_vip "$o"
	wait_until "$WAIT" "the cloud does not follow node$m after the split ($(cloud))" \
		cloud_is "${NODE_INS[$m]}" "${NODE_ENI[$m]}"
	wait_until "$WAIT" "the client does not reach node$m through the EIP" client_gets "node$m"
	show_cloud
	ok "one MASTER again (node$m), node$o BACKUP; the cloud and the client follow node$m"
	SPLIT_MASTER=$m
}

# Cloud trouble during a switch (MASTER M): the EIP is unbound first (the data plane carries
# nothing), then tcsim throttles (the first three reads of each kind get RequestLimitExceeded,
# then 2 reads/s), delays half the calls by 400 ms and fails the first bind and two task polls; keepalived stops on M -> the peer must bind the EIP and confirm within
# its 20 s deadline, or fail with an alert; never CONFIRMED unless the cloud shows it.
scene_cloud_trouble() {
	local m=${SPLIT_MASTER:-2} o v note
	o=$((3 - m))
	heading "Cloud trouble during a switch: EIP unbound, tcsim throttling and delaying; keepalived stopped on node$m"
	nsx "${NS[$m]}" "$LAB/node$m/havip" --timeout 10s api vpc HaVipDisassociateAddressIp \
		"{\"HaVipId\":\"$HAVIP_ID\"}" >/dev/null || fail "cannot unbind the EIP"
	wait_until "$WAIT" "the EIP is not UNBIND ($(cloud))" eval '[ "$(eip_status)" = UNBIND ]'
	wait_until 5 "the client still gets answers through the unbound EIP" client_gets_nothing
	ok "EIP unbound: the client gets nothing through it"
	sim POST /_sim/settings '{"rate_limits": {"DescribeHaVips": 2, "DescribeAddresses": 2}}' >/dev/null
	sim POST /_sim/faults '{"action": "DescribeHaVips", "count": 3, "error": "RequestLimitExceeded"}' >/dev/null
	sim POST /_sim/faults '{"action": "DescribeAddresses", "count": 3, "error": "RequestLimitExceeded"}' >/dev/null
	sim POST /_sim/faults '{"action": "*", "probability": 0.5, "delay_ms": 400}' >/dev/null
	sim POST /_sim/faults '{"action": "HaVipAssociateAddressIp", "count": 1, "error": "InternalError"}' >/dev/null
	sim POST /_sim/faults '{"action": "DescribeVpcTaskResult", "count": 2, "http_status": 502}' >/dev/null
	sim DELETE /_sim/requests >/dev/null
	mark_all
	switch_begin
	stop_keepalived "$m"
	wait_until "$WAIT" "node$o did not take $VIP" has_vip "$o"
	wait_until "$WAIT" "node$o's havip notify did not end" journal_done "$o" MASTER
	v=$(journal_verdict "$o" MASTER)
	note="$(throttled) throttled, $(sim GET /_sim/faults | "$PY" -c 'import json,sys; print(sum(r["fired"] for r in json.load(sys.stdin)["rules"]))') faults fired"
	sim DELETE /_sim/faults >/dev/null
	sim POST /_sim/settings '{"rate_limits": {"DescribeHaVips": 20, "DescribeAddresses": 20}}' >/dev/null
	say "node$o: havip notify MASTER under cloud trouble ($note): $v"
	case $v in
	CONFIRMED*)
		cloud_is "${NODE_INS[$o]}" "${NODE_ENI[$o]}" || fail "node$o CONFIRMED but the cloud shows: $(cloud)"
		no_false_success "$o"
		wait_until "$WAIT" "node$o's switch alert did not reach the receiver" alert_seen "$ALERTS" switch "${NODE_INS[$o]}"
		;;
	*)
		wait_until "$WAIT" "node$o's failure alert did not reach the receiver" alert_seen "$ALERTS" failure "${NODE_INS[$o]}"
		ok "node$o failed with an alert; the trouble is over: havip takeover repairs it"
		nsx "${NS[$o]}" "$LAB/node$o/havip" takeover --vip iam >/dev/null 2>&1 || fail "havip takeover on node$o"
		note="$note; notify ${v%% *}, then havip takeover"
		;;
	esac
	case $v in CONFIRMED*) expect_holder "$o" ;; *) expect_holder "$o" takeover ;; esac
	switch_end "cloud trouble" "$o" "$note"
	log_mark "$m"
	start_keepalived "$m"
	wait_until "$WAIT" "keepalived on node$m did not enter BACKUP" entered "$m" BACKUP
	ok "node$m back as BACKUP"
}
throttled() {
	sim GET /_sim/requests | "$PY" -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if r.get("code") == "RequestLimitExceeded"))'
}
