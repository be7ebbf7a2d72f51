#!/usr/bin/env bash
# What an SRE would write instead of `havip notify ... MASTER` (make bench, comparison
# "promotion"): keepalived's notify_master hook with the official CLI, tccli. It makes the
# cloud follow the way havip does (ARCHITECTURE.md, "How a HAVIP really moves"): this node in
# the HAVIP's drift range, the HAVIP held by this node (moved by keepalived's gratuitous ARP,
# read back from DescribeHaVips), the EIP bound to the HAVIP (rebound with
# HaVipAssociateAddressIp and its task when it is not), each read back before it says so.
#
#   TCCLI=/path/to/tccli promote-tccli.sh ENDPOINT REGION INSTANCE_ID HAVIP_ID EIP
#
# Credentials come from TENCENTCLOUD_SECRET_ID/_KEY, as tccli reads them. Prints "confirmed" and
# exits 0, or exits 1 after 20 s.
set -euo pipefail

endpoint=$1 region=$2 instance=$3 havip=$4 eip=$5
tccli=${TCCLI:-tccli}
deadline=$((SECONDS + 20))

tc() { "$tccli" vpc "$@" --endpoint "$endpoint" --region "$region"; }
describe_havip() { tc DescribeHaVips --HaVipIds "[\"$havip\"]"; }

h=$(describe_havip)
# 1. This node in the drift range (AssociateHaVipInstance edits the range; it moves nothing).
in_range=$(jq -r --arg i "$instance" \
	'[.HaVipSet[0].HaVipAssociationSet[]?.InstanceId] | index($i) != null' <<<"$h")
if [ "$in_range" != true ]; then
	tc AssociateHaVipInstance \
		--HaVipAssociationSet "[{\"HaVipId\":\"$havip\",\"InstanceId\":\"$instance\"}]" >/dev/null
	h=$(describe_havip)
fi

# 2. Until the cloud shows this node holding the HAVIP and the EIP bound to it.
pause=0.2
while :; do
	holder=$(jq -r '.HaVipSet[0].InstanceId // ""' <<<"$h")
	havip_eip=$(jq -r '.HaVipSet[0].AddressIp // ""' <<<"$h")
	a=$(tc DescribeAddresses --Filters "[{\"Name\":\"address-ip\",\"Values\":[\"$eip\"]}]")
	status=$(jq -r '.AddressSet[0].AddressStatus // ""' <<<"$a")
	bound_to=$(jq -r '.AddressSet[0].InstanceId // ""' <<<"$a")
	if [ "$holder" = "$instance" ] && [ "$status" = BIND ] && [ "$bound_to" = "$havip" ] &&
		[ "$havip_eip" = "$eip" ]; then
		echo "confirmed: $instance holds $havip, $eip bound"
		exit 0
	fi
	if [ "$status" = UNBIND ]; then
		task=$(tc HaVipAssociateAddressIp --HaVipId "$havip" --AddressIp "$eip" | jq -r .RequestId)
		while :; do
			s=$(tc DescribeVpcTaskResult --TaskId "$task" | jq -r .Status)
			[ "$s" = SUCCESS ] && break
			[ "$s" = FAILED ] && break
			[ "$SECONDS" -lt "$deadline" ] || { echo "timed out waiting for task $task" >&2; exit 1; }
			sleep "$pause"
		done
	else
		[ "$SECONDS" -lt "$deadline" ] || { echo "not confirmed: holder $holder, EIP $status on $bound_to" >&2; exit 1; }
		sleep "$pause"
	fi
	h=$(describe_havip)
done
