# Sourced by deploy/lab/e2e.sh: tcsim as Tencent Cloud inside the cloud namespace, and how the
# lab reads it. The API is served over TLS on the VPC gateway (https://10.0.4.2, the nodes trust
# its CA through ca_file), the metadata service over plain http at 169.254.0.23:80, and the
# EIP's data plane on br0. The scenario is tcsim's seed with the EIPs moved into TEST-NET-3.

HAVIP_ID=havip-iam00099
EIP_ID=eip-iam00139
API_URL="https://$CLOUD_IP"
WEBHOOK_PORT=8099

start_cloud() {
	heading "tcsim in $NS_CLOUD: API https://$CLOUD_IP, metadata http://$MD_IP, ARP and the EIP's data plane on br0"
	sed -e 's/106\.52\.252\.139/203.0.113.139/' -e 's/106\.52\.252\.140/203.0.113.140/' \
		"$ROOT/tcsim/scenarios/seed.toml" >"$LAB/scenario.toml"
	grep -q "$EIP" "$LAB/scenario.toml" || fail "the seed scenario no longer has the EIP 106.52.252.139"
	ip netns exec "$NS_CLOUD" "$TCSIM" --listen "$CLOUD_IP:443" --tls --tls-san "$CLOUD_IP" \
		--tls-cert-out "$LAB/ca.pem" --metadata-listen "$MD_IP:80" --scenario "$LAB/scenario.toml" \
		--arp-iface br0 --eip-dataplane br0 >"$LAB/tcsim.out" 2>"$LAB/tcsim.log" &
	PID[tcsim]=$!
	wait_until "$WAIT" "tcsim did not start (see tcsim.log)" grep -q '^metadata on ' "$LAB/tcsim.out"
	alive tcsim
	: >"$LAB/webhook.out"
	ip netns exec "$NS_CLOUD" "$PY" "$LABSRC/standin.py" webhook "$WEBHOOK_PORT" "$LAB/alerts.jsonl" \
		>"$LAB/webhook.out" 2>"$LAB/webhook.log" &
	PID[webhook]=$!
	: >"$LAB/alerts.jsonl"
	wait_until "$WAIT" "the alert receiver did not start" grep -q ready "$LAB/webhook.out"
	for n in 1 2; do
		wait_until "$WAIT" "node$n cannot reach tcsim's API over TLS" \
			nsx "${NS[$n]}" curl -sf --max-time 2 --cacert "$LAB/ca.pem" -o /dev/null "$API_URL/_sim/health"
		wait_until "$WAIT" "node$n cannot reach the metadata service at metadata.tencentyun.com" \
			nsx "${NS[$n]}" curl -sf --max-time 2 -o /dev/null http://metadata.tencentyun.com/latest/meta-data/instance-id
		[ "$(nsx "${NS[$n]}" curl -s --max-time 2 http://metadata.tencentyun.com/latest/meta-data/instance-id)" = "${NODE_INS[$n]}" ] ||
			fail "the metadata service does not answer as ${NODE_INS[$n]} for node$n"
	done
	ok "both nodes reach the API (TLS, tcsim's CA) and the metadata service, which knows each by its address"
}

sim() { # sim METHOD PATH [JSON]: tcsim's control API, from the cloud namespace
	local body=()
	[ $# -lt 3 ] || body=(-H 'Content-Type: application/json' --data "$3")
	nsx "$NS_CLOUD" curl -sS --fail --max-time 5 --cacert "$LAB/ca.pem" -X "$1" "${body[@]}" "$API_URL$2"
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
eip_status() { local c; c=$(cloud) && set -- $c && echo "$4"; }
show_cloud() {
	local c ins eni flushed status bound
	c=$(cloud) || fail "cannot read tcsim's state"
	read -r ins eni flushed status bound <<<"$c"
	say "cloud: $HAVIP_ID held by $ins/$eni (FlushedTime $flushed); $EIP_ID $status to $bound"
}
write_calls() { # the number of mutating API calls in tcsim's request log
	sim GET /_sim/requests | "$PY" -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if not r["action"].startswith("Describe")))'
}
describe() { # the operator's view: DescribeHaVips through havip api, from node N
	nsx "${NS[$1]}" "$LAB/node$1/havip" --timeout 10s \
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

# alerts_since MARK KIND NODE: the alert receiver got an alert of KIND from NODE's instance
# after line MARK of its log.
alerts_mark() { wc -l <"$LAB/alerts.jsonl"; }
alert_seen() {
	tail -n +"$(($1 + 1))" "$LAB/alerts.jsonl" | "$PY" -c '
import json, sys
for line in sys.stdin:
    ev = json.loads(json.loads(line)["body"])
    if ev.get("kind") == sys.argv[1] and ev.get("node") == sys.argv[2]:
        sys.exit(0)
sys.exit(1)' "$2" "$3"
}
