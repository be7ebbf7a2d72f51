# Sourced by deploy/lab/e2e.sh: the lab's network. Four namespaces, every interface created
# inside them (never in the host's namespace), IPv6 off, no default route anywhere:
#
#   node1, node2  eth0 on the VPC bridge (10.0.4.0/24); the metadata service (169.254.0.23) and
#                 the "internet" (198.51.100.0/24) through the VPC gateway 10.0.4.2
#   cloud         br0 10.0.4.2 (the VPC's bridge and gateway; tcsim's API, TLS),
#                 lo 169.254.0.23 (tcsim's metadata service, plain http),
#                 wan0 198.51.100.1 (the internet side, where the EIP 203.0.113.139 arrives;
#                 tcsim's data plane DNATs it to the HAVIP's holder)
#   client        eth0 198.51.100.10, only a route to the EIP through wan0
#
# audit_routes checks, after every scene, that each namespace routes only to these.

VPC_CIDR=10.0.4.0/24
CLOUD_IP=10.0.4.2
MD_IP=169.254.0.23
WAN_CIDR=198.51.100.0/24
WAN_CLOUD=198.51.100.1
CLIENT_IP=198.51.100.10
EIP=203.0.113.139

setup_network() {
	local ns n
	heading "Network: namespaces ${ALL_NS[*]}; the VPC bridge and the internet link inside $NS_CLOUD"
	for ns in "${ALL_NS[@]}"; do
		ip netns add "$ns" || fail "ip netns add $ns"
		CREATED_NS+=("$ns")
		nsx "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null
		ip -n "$ns" link set lo up
	done
	ip -n "$NS_CLOUD" link add br0 type bridge stp_state 0 forward_delay 0
	ip -n "$NS_CLOUD" addr add "$CLOUD_IP/24" dev br0
	ip -n "$NS_CLOUD" link set br0 up
	ip -n "$NS_CLOUD" addr add "$MD_IP/32" dev lo
	nsx "$NS_CLOUD" sysctl -q -w net.ipv4.ip_forward=1 >/dev/null
	for n in 1 2; do
		ip -n "$NS_CLOUD" link add "p-node$n" type veth peer name eth0 netns "${NS[$n]}"
		ip -n "${NS[$n]}" link set eth0 address "${NODE_MAC[$n]}"
		ip -n "${NS[$n]}" addr add "${NODE_IP[$n]}/24" dev eth0
		ip -n "${NS[$n]}" link set eth0 up
		ip -n "$NS_CLOUD" link set "p-node$n" master br0 up
		ip -n "${NS[$n]}" route add "$MD_IP/32" via "$CLOUD_IP"
		ip -n "${NS[$n]}" route add "$WAN_CIDR" via "$CLOUD_IP"
		# metadata.tencentyun.com, as a CVM resolves it (ip netns exec bind-mounts this file
		# over /etc/hosts for every process started in the namespace).
		mkdir -p "/etc/netns/${NS[$n]}"
		CREATED_ETC+=("/etc/netns/${NS[$n]}")
		printf '127.0.0.1 localhost\n%s metadata.tencentyun.com\n' "$MD_IP" >"/etc/netns/${NS[$n]}/hosts"
	done
	ip -n "$NS_CLOUD" link add wan0 type veth peer name eth0 netns "$NS_CL"
	ip -n "$NS_CLOUD" addr add "$WAN_CLOUD/24" dev wan0
	ip -n "$NS_CLOUD" link set wan0 up
	ip -n "$NS_CL" link set eth0 address 52:54:00:64:00:0a
	ip -n "$NS_CL" addr add "$CLIENT_IP/24" dev eth0
	ip -n "$NS_CL" link set eth0 up
	ip -n "$NS_CL" route add "$EIP/32" via "$WAN_CLOUD"
	audit_routes
	ok "node1 ${NODE_IP[1]}, node2 ${NODE_IP[2]}, cloud $CLOUD_IP + $MD_IP + $WAN_CLOUD, client $CLIENT_IP -> EIP $EIP"
}

# audit_routes: no namespace routes anywhere but the lab's own bridge and links (IPv4 only:
# IPv6 is off). Local-table entries (the namespace's own addresses) are skipped.
audit_routes() {
	local ns allowed routes bad
	for ns in "${ALL_NS[@]}"; do
		case $ns in
		"$NS_CLOUD") allowed="^($VPC_CIDR dev br0|$WAN_CIDR dev wan0) " ;;
		"$NS_CL") allowed="^($WAN_CIDR dev eth0|$EIP via $WAN_CLOUD dev eth0) " ;;
		*) allowed="^($VPC_CIDR dev eth0|$MD_IP via $CLOUD_IP dev eth0|$WAN_CIDR via $CLOUD_IP dev eth0) " ;;
		esac
		allowed=${allowed//./\\.}
		routes=$(ip -n "$ns" -4 route show table all | grep -v '^\(local\|broadcast\|multicast\) ' | sed 's/$/ /')
		bad=$(printf '%s\n' "$routes" | grep -v '^ *$' | grep -Ev "$allowed" || true)
		[ -z "$bad" ] || fail "$ns has a route outside the lab: $bad"
		[ -z "$(ip -n "$ns" -6 route show table all 2>/dev/null)" ] || fail "$ns has IPv6 routes: $(ip -n "$ns" -6 route show table all)"
	done
}
