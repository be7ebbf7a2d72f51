# Sourced by deploy/lab/e2e.sh: the scenes. Each is one function, listed in SCENES (e2e.sh) in
# the order they run. After the baseline, each acts on whichever node is master (the_master),
# so they run in any order (scene_service_back only after scene_service_fails); each marks the
# logs it reads (mark_all), checks the nodes, the cloud and the client through the EIP, and
# records its switches for the timing table (switch_begin / switch_end).

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
	wait_until "$WAIT" "node$n's switch alert did not reach the receiver" alert_seen "$ALERTS" switch "${NODE_INS[$n]}"
	ok "node$n's switch alert reached the webhook receiver"
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
	doctor_passes 1
	doctor_passes 2
}

# the_master: M = the node holding the VIP, O = the other; fails unless exactly one holds it.
the_master() {
	if has_vip 1 && no_vip 2; then
		M=1
	elif has_vip 2 && no_vip 1; then
		M=2
	else
		fail "expected exactly one node with $VIP"
	fi
	O=$((3 - M))
}

# Scene 1 (any master M): keepalived stopped on M -> O takes over; keepalived back on M ->
# BACKUP (nopreempt).
scene_master_stops() {
	the_master
	heading "Scene 1: keepalived stopped on the master (node$M)"
	mark_all
	switch_begin
	stop_keepalived "$M"
	expect_holder "$O"
	switch_end "1 keepalived stopped" "$O"
	heading "keepalived back on node$M: it stays BACKUP (nopreempt)"
	log_mark "$M"
	start_keepalived "$M"
	wait_until "$WAIT" "keepalived on node$M did not enter BACKUP" entered "$M" BACKUP
	sleep 3
	alive "keepalived$M"
	entered "$M" MASTER && fail "node$M took the VIP back after its restart (preemption)"
	if ! has_vip "$O" || has_vip "$M"; then fail "the VIP moved after node$M's restart"; fi
	cloud_is "${NODE_INS[$O]}" "${NODE_ENI[$O]}" || fail "the cloud changed after node$M's restart: $(cloud)"
	client_gets "node$O" || fail "the client no longer reaches node$O through the EIP"
	ok "node$M BACKUP, node$O still MASTER, cloud unchanged, the client still reaches node$O"
}

# Scene 2 (any master M): nginx stopped on M -> havip check fails -> FAULT -> O takes over.
scene_service_fails() {
	the_master
	heading "Scene 2: nginx stopped on the master (node$M) -> havip check fails -> the VIP moves"
	mark_all
	switch_begin
	stop_nginx "$M"
	wait_until "$WAIT" "keepalived on node$M did not enter FAULT (havip check should fail)" entered "$M" FAULT
	ok "node$M: havip check fails, keepalived FAULT"
	expect_holder "$O"
	switch_end "2 nginx stopped" "$O" "chk_havip: interval 3 s, fall 2"
}

# Scene 3 (after scene 2: master M, nginx stopped on O, which is in FAULT): nginx back on O ->
# BACKUP; nothing moves.
scene_service_back() {
	local before after writes w
	the_master
	[ -z "${PID[nginx$O]:-}" ] || fail "scene_service_back needs scene_service_fails first (nginx runs on node$O)"
	heading "Scene 3: nginx back on node$O -> no preemption: the VIP and the cloud stay"
	before=$(cloud)
	writes=$(write_calls)
	mark_all
	start_nginx "$O"
	wait_until "$WAIT" "keepalived on node$O did not leave FAULT for BACKUP" entered "$O" BACKUP
	ok "node$O: havip check passes again, keepalived BACKUP"
	# Two garp_master_refresh periods: M keeps announcing, O must not take over.
	sleep 10
	entered "$O" MASTER && fail "node$O took the VIP back (preemption)"
	entered "$M" BACKUP && fail "node$M left MASTER"
	if ! has_vip "$M" || has_vip "$O"; then fail "the VIP moved (node$M should have it, node$O not)"; fi
	after=$(cloud)
	[ "$before" = "$after" ] || fail "the cloud changed: before '$before', after '$after'"
	w=$(write_calls)
	[ "$w" -eq "$writes" ] || fail "$((w - writes)) cloud write(s) during scene 3"
	client_gets "node$M" || fail "the client no longer reaches node$M through the EIP"
	show_cloud
	ok "node$M still MASTER, node$O BACKUP, the cloud unchanged, no cloud writes, the client reaches node$M"
}

# Scene 4 (any master M): havip failover on M -> its drain flag -> track_file -> FAULT at once
# -> O after its skew time; the flag is removed and M comes back as BACKUP.
scene_planned() {
	local out took
	the_master
	heading "Scene 4 (planned switch): havip failover on the holder (node$M); track_file drains it"
	mark_all
	switch_begin
	out=$(nsx "${NS[$M]}" timeout 60 "$LAB/node$M/havip" failover --vip iam --yes --timeout 40s 2>&1) ||
		fail "havip failover on node$M: $out"
	took=$((($(now_ns) - SW_T0) / 1000000))
	printf '%s\n' "$out" | sed 's/^/   /'
	expect_holder "$O"
	entered "$M" FAULT || fail "node$M did not go through FAULT (track_file on the drain flag)"
	grep -q "drain_iam" "$LAB/node$M/keepalived.log" ||
		fail "keepalived on node$M did not log the drain_iam track file"
	if [ -e "$LAB/node$M/state/iam.drain" ] || [ -e "$LAB/node$M/state/drain" ]; then
		fail "havip failover left a drain flag on node$M"
	fi
	wait_until "$WAIT" "keepalived on node$M did not come back to BACKUP after the drain" entered "$M" BACKUP
	ok "node$M BACKUP again (drain flag cleared), node$O MASTER"
	PLANNED_MS=$took
	switch_end "4 planned (havip failover)" "$O" "havip failover returned after $took ms"
}

# Split brain (any master M, O BACKUP): VRRP between the nodes dropped on both -> O claims
# MASTER too. Both announce, so the cloud follows whichever announced last; havip must not
# report more than it read, an alert goes out, no cloud writes while it lasts; VRRP back -> one
# MASTER (equal priorities: the higher address, node2, stays), and the cloud follows it.
block_vrrp() {
	nsx "${NS[$1]}" nft -f - <<-EOT || fail "cannot block VRRP on node$1"
		table ip lab_vrrp {
		    chain input { type filter hook input priority 0; policy accept; ip protocol vrrp drop; }
		}
	EOT
}
unblock_vrrp() { nsx "${NS[$1]}" nft delete table ip lab_vrrp || fail "cannot unblock VRRP on node$1"; }
# split_seen: havip status exits 2 (SPLIT) on a node: the one the cloud does not name sees
# that keepalived is MASTER here while the cloud names the other (the named one cannot tell).
split_seen() {
	local n c=("" "$(status_code 1)" "$(status_code 2)")
	for n in 1 2; do
		[ "${c[$n]}" = 2 ] || continue
		ok "havip status during the split: node1 exit ${c[1]}, node2 exit ${c[2]}; node$n: $(head -n 1 "$LAB/node$n/status.out" | cut -d'|' -f1)"
		return 0
	done
	return 1
}
scene_split_brain() {
	local v w0 w m o
	the_master
	heading "Split brain: VRRP between the nodes dropped on both (node$M MASTER)"
	mark_all
	w0=$(write_calls)
	switch_begin
	block_vrrp 1
	block_vrrp 2
	wait_until "$WAIT" "node$O did not claim MASTER without adverts" entered "$O" MASTER
	wait_until "$WAIT" "node$O did not take $VIP" has_vip "$O"
	has_vip "$M" || fail "node$M gave up $VIP although it heard nothing"
	entered "$M" BACKUP && fail "node$M left MASTER"
	ok "both nodes MASTER with $VIP (split brain)"
	wait_until "$WAIT" "node$O's havip notify did not record the MASTER event" journal_done "$O" MASTER
	v=$(journal_verdict "$O" MASTER)
	say "node$O: havip notify MASTER during the split: $v"
	case $v in
	CONFIRMED*)
		no_false_success "$O"
		wait_until "$WAIT" "node$O's switch alert did not reach the receiver" alert_seen "$ALERTS" switch "${NODE_INS[$O]}"
		;;
	*) wait_until "$WAIT" "node$O's failure alert did not reach the receiver" alert_seen "$ALERTS" failure "${NODE_INS[$O]}" ;;
	esac
	ok "node$O's alert reached the webhook receiver"
	switch_end "split brain (both MASTER)" "$O" "VRRP dropped: node$O claims after 3 missed adverts + skew; node$M stays MASTER"
	# More than one garp_master_refresh period: each node's announcements move the HAVIP.
	sleep 6
	entered "$M" BACKUP && fail "node$M left MASTER during the split"
	has_vip 1 && has_vip 2 || fail "a node dropped $VIP during the split"
	[ "$(eip_status)" = BIND ] || fail "the EIP lost its binding during the split: $(cloud)"
	w=$(write_calls)
	[ "$w" -eq "$w0" ] || fail "$((w - w0)) cloud write(s) during the split"
	[ -n "$(client_served_by)" ] || fail "the client gets no answer through the EIP during the split"
	wait_until "$WAIT" "neither node's havip status says SPLIT during the split" split_seen
	show_cloud
	ok "the cloud follows the last announcement (moves to node1: $(($(arp_moves "${NODE_MAC[1]}") - ARPS[1])), to node2: $(($(arp_moves "${NODE_MAC[2]}") - ARPS[2]))); EIP bound; no cloud writes"
	heading "Split brain heals: VRRP back"
	mark_all
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
}

# Cloud trouble during a switch (MASTER M): the EIP is unbound first (the data plane carries
# nothing), then tcsim throttles (the first three reads of each kind get RequestLimitExceeded,
# then 2 reads/s), delays half the calls by 400 ms and fails the first bind and two task polls; keepalived stops on M -> the peer must bind the EIP and confirm within
# its 20 s deadline, or fail with an alert; never CONFIRMED unless the cloud shows it.
scene_cloud_trouble() {
	local m o v note
	the_master
	m=$M o=$O
	heading "Cloud trouble during a switch: EIP unbound, tcsim throttling and delaying; keepalived stopped on node$m"
	# node$m's watcher would bind the EIP again at its next look (its job on a MASTER): the
	# scene is about the switch binding it, so that watcher is stopped until the end.
	stop_watch "$m"
	nsx "${NS[$m]}" "$LAB/node$m/havip" --timeout 10s api vpc HaVipDisassociateAddressIp \
		"{\"HaVipId\":\"$HAVIP_ID\"}" >/dev/null || fail "cannot unbind the EIP"
	wait_until "$WAIT" "the EIP is not UNBIND ($(cloud))" eval '[ "$(eip_status)" = UNBIND ]'
	wait_until 5 "the client still gets answers through the unbound EIP" client_gets_nothing
	ok "EIP unbound: the client gets nothing through it"
	sim POST /_sim/settings '{"rate_limits": {"DescribeHaVips": 2, "DescribeAddresses": 2}}' >/dev/null
	sim POST /_sim/faults '{"action": "DescribeHaVips", "count": 3, "error": "RequestLimitExceeded"}' >/dev/null
	sim POST /_sim/faults '{"action": "DescribeAddresses", "count": 3, "error": "RequestLimitExceeded"}' >/dev/null
	sim POST /_sim/faults '{"action": "HaVipAssociateAddressIp", "count": 1, "error": "InternalError"}' >/dev/null
	sim POST /_sim/faults '{"action": "DescribeVpcTaskResult", "count": 2, "http_status": 502}' >/dev/null
	# Last: the first rule that matches and fires applies, and the ones above must fire.
	sim POST /_sim/faults '{"action": "*", "probability": 0.5, "delay_ms": 400}' >/dev/null
	sim DELETE /_sim/requests >/dev/null
	mark_all
	switch_begin
	stop_keepalived "$m"
	wait_until "$WAIT" "node$o did not take $VIP" has_vip "$o"
	wait_until "$WAIT" "node$o's havip notify did not end" journal_done "$o" MASTER
	v=$(journal_verdict "$o" MASTER)
	note=$(refused_calls)
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
	start_watch "$m"
	ok "node$m back as BACKUP, its watcher running again"
}
refused_calls() { # what tcsim's request log shows of the trouble: refusals by code
	sim GET /_sim/requests | "$PY" -c '
import collections, json, sys
reqs = json.load(sys.stdin)
codes = collections.Counter(r["code"] for r in reqs if r.get("code"))
print("%d calls, refused: %s; half of them delayed 400 ms"
      % (len(reqs), ", ".join("%d %s" % (n, c) for c, n in sorted(codes.items())) or "none"))'
}

# Brief false master (real master node2, node1 BACKUP): the backup's incoming VRRP adverts are
# dropped (nftables, input, on the backup only) until it claims MASTER (three advert intervals
# plus its skew time), then let through. It announces, so the cloud follows it; then it hears the
# real master (equal priorities: the higher address keeps MASTER, so the real master must be
# node2) and falls back. The real master hears the lower address's adverts all along: keepalived
# re-announces and runs notify_master_rx_lower_pri (havip re-asserts), and its watcher would
# repair any drift left at its next look: the cloud is back with it within two watch intervals.
scene_false_master() {
	local v moved t_back took rx wr
	the_master
	if [ "$M" != 2 ]; then
		heading "Brief false master needs node2 as the real master: planned switch from node1 first"
		mark_all
		nsx "${NS[1]}" timeout 60 "$LAB/node1/havip" failover --vip iam --yes --timeout 40s >/dev/null 2>&1 ||
			fail "havip failover on node1 (to make node2 the master)"
		expect_holder 2
		wait_until "$WAIT" "keepalived on node1 did not come back to BACKUP after the drain" entered 1 BACKUP
		the_master
	fi
	heading "Brief false master: node$O's incoming VRRP dropped until it claims MASTER, then restored (node$M the real master)"
	mark_all
	switch_begin
	block_vrrp "$O"
	wait_until "$WAIT" "node$O did not claim MASTER without adverts" entered "$O" MASTER
	unblock_vrrp "$O"
	say "node$O MASTER after $((($(now_ns) - SW_T0) / 1000000)) ms without adverts; VRRP let through again"
	wait_until "$WAIT" "node$O did not fall back to BACKUP on node$M's adverts" entered "$O" BACKUP
	t_back=$(now_ns)
	wait_until "$WAIT" "node$O kept $VIP after falling back" no_vip "$O"
	entered "$M" BACKUP && fail "the real master node$M left MASTER"
	entered "$M" FAULT && fail "the real master node$M went to FAULT"
	has_vip "$M" || fail "the real master node$M lost $VIP"
	ok "node$O: MASTER, then BACKUP; node$M never left MASTER and kept $VIP"
	wait_until "$WAIT" "node$O's havip notify did not record the MASTER event" journal_done "$O" MASTER
	v=$(journal_verdict "$O" MASTER)
	case $v in
	CONFIRMED*)
		no_false_success "$O"
		wait_until "$WAIT" "node$O's switch alert did not reach the receiver" alert_seen "$ALERTS" switch "${NODE_INS[$O]}"
		;;
	esac
	wait_until 5 "the false master's announcement did not move the HAVIP to node$O (tcsim's log)" arp_moved "$O"
	moved=$(($(arp_moves "${NODE_MAC[$O]}") - ${ARPS[$O]}))
	ok "node$O's announcement moved the HAVIP to it ($moved move(s) in tcsim's log); its notify MASTER: $v"
	within "$((2 * WATCH_INTERVAL))" cloud_is "${NODE_INS[$M]}" "${NODE_ENI[$M]}" ||
		fail "the cloud is not back with node$M within two watch intervals: $(cloud)"
	took=$((($(now_ns) - t_back) / 1000000))
	# Who re-asserted: the real master's journal since the mark (rx-lower-pri: keepalived's hook;
	# watch: the watcher's repair), each with its verdict.
	wait_until "$WAIT" "node$M's journal has neither a rx-lower-pri nor a watch run since the fault" \
		eval "journal_done $M MASTER rx-lower-pri || journal_done $M MASTER watch"
	rx=$(journal_verdict "$M" MASTER rx-lower-pri)
	wr=$(journal_verdict "$M" MASTER watch)
	rx=${rx:-none} wr=${wr:-none}
	case "$rx$wr" in *CONFIRMED*) ;; *) fail "node$M re-asserted but did not confirm: rx-lower-pri '$rx', watch '$wr'" ;; esac
	"$PY" "$LABSRC/timing.py" --who-repaired "$LAB" "node$O" "node$M" "${JMARK[$M]}" "$SW_T0" >"$LAB/who.txt" ||
		fail "no timing of the false master's fall-back"
	sed 's/^/   /' "$LAB/who.txt"
	ok "the cloud is back with node$M (seen by the lab ${took} ms after it saw node$O fall back; bound: two watch intervals, $((2 * WATCH_INTERVAL)) s)"
	show_cloud
	wait_until "$WAIT" "the client does not reach node$M through the EIP" client_gets "node$M"
	ok "client $CLIENT_IP -> http://$EIP/ (EIP) -> node$M's nginx"
	switch_end "false master (3 adverts dropped)" "$O" "$(head -n 1 "$LAB/who.txt" | sed 's/ at \([+-]\)/ \1/g'); node$M's rx-lower-pri run: ${rx%% *}, watch repair: ${wr%% *}"
}

# A node whose CVM is stopped (master M): the instance halts at once, as in a forced stop: its
# traffic is dropped both ways (nftables in its namespace), every process in it is killed (no
# priority-0 advert, no notify), its VIP is gone with its memory; tcsim is told the instance is
# stopped (POST /_sim/instances/ID/stop), so the HAVIP loses its holder and the EIP, still bound
# to it, bills for nothing. O takes over after three missed adverts plus its skew. From O, `havip
# audit` runs from the stop until the cloud names O: a run made in the window must report the
# holderless HAVIP and its idle EIP; one after it must not. Then the instance starts again and
# the node comes back as BACKUP.
halt_node() {
	local n=$1 p
	nsx "${NS[$n]}" nft -f - <<-EOT || fail "cannot halt node$n's traffic"
		table inet lab_halt {
		    chain input { type filter hook input priority -10; policy drop; }
		    chain output { type filter hook output priority -10; policy drop; }
		}
	EOT
	for p in $(ip netns pids "${NS[$n]}"); do kill -KILL "$p" 2>/dev/null || true; done
	for p in keepalived nginx service watch; do unset "PID[$p$n]"; done
	wait_until "$WAIT" "processes still run in node$n's namespace" eval "[ -z \"\$(ip netns pids '${NS[$n]}')\" ]"
	ip -n "${NS[$n]}" addr del "$VIP/24" dev eth0 2>/dev/null || true
}
boot_node() { # the instance starts: traffic flows, the service, keepalived, then the watcher
	local n=$1
	nsx "${NS[$n]}" nft delete table inet lab_halt || fail "cannot let node$n's traffic through"
	start_service "$n"
	start_nginx "$n"
	journal_mark "$n"
	log_mark "$n"
	start_keepalived "$n"
	wait_until "$WAIT" "keepalived on node$n did not enter BACKUP" entered "$n" BACKUP
	# The state file still says MASTER (the halt recorded nothing): the watcher starts once
	# keepalived's notify has recorded BACKUP.
	wait_until "$WAIT" "node$n's havip notify did not record BACKUP" journal_done "$n" BACKUP
	start_watch "$n"
}
# audit_kinds N: one `havip audit --format json` on node N; prints the kinds of its findings
# for the lab's HAVIP and EIP, sorted ("-" for none). Exit codes 0-2 are verdicts (clean,
# warnings, critical); 3 (could not complete) fails.
audit_kinds() {
	local rc=0
	nsx "${NS[$1]}" "$LAB/node$1/havip" audit --format json >"$LAB/audit.json" 2>"$LAB/audit.err" || rc=$?
	[ "$rc" -le 2 ] || fail "havip audit on node$1 exited $rc: $(cat "$LAB/audit.err")"
	"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert not d["partial"], "partial audit"
mine = {sys.argv[2], sys.argv[3]}
print(" ".join(sorted(f["kind"] for f in d["findings"] if f["resource_id"] in mine)) or "-")' \
		"$LAB/audit.json" "$HAVIP_ID" "$EIP_ID" || fail "havip audit on node$1: unreadable JSON"
}
# audit_window N FILE: audit_kinds on node N, one run after another, until the cloud names
# node N; one line per run in FILE: "START_NS END_NS KIND...".
audit_window() {
	local n=$1 out=$2 t0 kinds i
	: >"$out"
	for i in $(seq 200); do
		t0=$(now_ns)
		kinds=$(audit_kinds "$n")
		echo "$t0 $(now_ns) $kinds" >>"$out"
		! cloud_is "${NODE_INS[$n]}" "${NODE_ENI[$n]}" || return 0
	done
	fail "the cloud did not name node$n after 200 audit runs"
}
scene_cvm_stopped() {
	local m o r t_stop caught after n_runs
	the_master
	m=$M o=$O
	heading "A stopped CVM: node$m (${NODE_INS[$m]}) halts and tcsim stops the instance; node$o takes over"
	mark_all
	switch_begin
	halt_node "$m"
	r=$(sim POST "/_sim/instances/${NODE_INS[$m]}/stop") || fail "tcsim: cannot stop ${NODE_INS[$m]}"
	t_stop=$(now_ns)
	[[ $r == *"$HAVIP_ID"* ]] || fail "tcsim stopped ${NODE_INS[$m]} but cleared no $HAVIP_ID: $r"
	say "tcsim: $r"
	audit_window "$o" "$LAB/audit-window.txt"
	n_runs=$(wc -l <"$LAB/audit-window.txt")
	caught=$(grep -c ' havip_no_holder idle_eip_holderless_havip$' "$LAB/audit-window.txt" || true)
	awk -v t="$t_stop" '{ printf "   audit run %d-%d ms after the stop: %s\n", ($1 - t) / 1e6, ($2 - t) / 1e6, substr($0, index($0, $3)) }' \
		"$LAB/audit-window.txt"
	[ "$caught" -gt 0 ] || fail "no havip audit run on node$o reported the holderless $HAVIP_ID and its idle EIP $EIP_ID ($n_runs runs)"
	ok "havip audit on node$o during the window ($caught of $n_runs runs): $EIP_ID idle_eip_holderless_havip (critical), $HAVIP_ID havip_no_holder"
	expect_holder "$o"
	switch_end "CVM stopped" "$o" "forced stop: no priority-0 advert; the HAVIP had no holder until node$o's announcement ($caught audit runs saw it)"
	after=$(audit_kinds "$o")
	[ "$after" = - ] || fail "havip audit after the takeover still reports: $after"
	ok "havip audit after the takeover: nothing on $HAVIP_ID or $EIP_ID"
	heading "The instance starts again: node$m comes back as BACKUP"
	r=$(sim POST "/_sim/instances/${NODE_INS[$m]}/start") || fail "tcsim: cannot start ${NODE_INS[$m]}"
	say "tcsim: $r"
	boot_node "$m"
	entered "$m" MASTER && fail "node$m took the VIP back after its start (preemption)"
	if ! has_vip "$o" || has_vip "$m"; then fail "the VIP moved after node$m's start"; fi
	cloud_is "${NODE_INS[$o]}" "${NODE_ENI[$o]}" || fail "the cloud changed after node$m's start: $(cloud)"
	ok "node$m BACKUP, node$o still MASTER, the cloud unchanged"
}
