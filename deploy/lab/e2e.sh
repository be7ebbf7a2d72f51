#!/usr/bin/env bash
# make e2e: the end-to-end lab (deploy/lab/README.md). Real keepalived and nginx (Debian's
# packages) on two "nodes", each in its own network namespace; a "cloud" namespace holding the
# VPC's bridge and tcsim (the simulated Tencent Cloud: the API over TLS, the metadata service at
# 169.254.0.23, HAVIP movement learnt from the gratuitous ARP keepalived sends, and the EIP's data
# plane); and a client namespace on the internet side that reaches the service only through the
# EIP 203.0.113.139. havip is keepalived's notify hook, vrrp_script and track_file owner, exactly
# as deploy/keepalived/*.conf wire it, and runs as `havip watch` the way havip-watch.service does;
# `havip status` is checked on both nodes after every scene. When `make deb` built a package
# (target/debian/*.deb), its binary and shipped files are what the nodes run. The scenes are functions in lib/scenes.sh, run in the
# order of SCENES below; every switch becomes a row of the timing table (timing.py), printed at
# the end and written to target/lab/timing.json.
#
# Needs root (namespaces, keepalived). Installs keepalived, nginx-light and nftables with
# apt-get when missing. Touches nothing outside what it creates: four namespaces named hvl<pid>-*
# (interfaces created inside them, never in the host's namespace; IPv6 off; routes only to the
# lab's own bridge and links, checked after every scene), /etc/netns/hvl<pid>-node* (each node's
# /etc/hosts), and a scratch directory under /run. Everything is removed on exit, success or
# failure. Every wait is bounded (HAVIP_LAB_WAIT seconds, default 30).
#
# Environment: HAVIP_LAB_PROFILE=debug|release (which target/ build to use, default debug),
# HAVIP_LAB_DEB=FILE|none (the package to use; default the newest target/debian/havip_*.deb
# unless it is older than src/ or deploy/),
# HAVIP_LAB_NO_BUILD=1 (use the binaries as they are), HAVIP_LAB_KEEP=1 (on failure, keep the
# namespaces and processes for inspection; prints how to remove them), HAVIP_LAB_SCENES="a b"
# (run only these scene functions after the baseline).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LABSRC="$ROOT/deploy/lab"
CARGO=${CARGO:-cargo}
PROFILE=${HAVIP_LAB_PROFILE:-debug}
WAIT=${HAVIP_LAB_WAIT:-30}
PY=/usr/bin/python3

# The scenes after the baseline, in order (each one function in lib/scenes.sh).
SCENES=(scene_master_stops scene_service_fails scene_service_back scene_planned
	scene_split_brain scene_false_master scene_cloud_trouble scene_cvm_stopped)
# havip watch's look interval: its default (havip-watch.service passes no --interval).
WATCH_INTERVAL=5
[ -z "${HAVIP_LAB_SCENES:-}" ] || read -r -a SCENES <<<"$HAVIP_LAB_SCENES"

for f in common net cloud nodes client scenes; do
	# shellcheck source=/dev/null
	. "$LABSRC/lib/$f.sh"
done

[ "$(id -u)" -eq 0 ] || {
	echo "e2e lab: needs root (network namespaces, keepalived); run: sudo make e2e" >&2
	exit 2
}
for c in ip curl unshare "$PY"; do
	command -v "$c" >/dev/null || fail "$c is needed"
done
"$PY" "$LABSRC/timing.py" --self-test || fail "timing.py's outage arithmetic"

# --- packages -------------------------------------------------------------------------------
missing=()
command -v keepalived >/dev/null || missing+=(keepalived)
command -v nginx >/dev/null || missing+=(nginx-light)
command -v nft >/dev/null || missing+=(nftables)
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
	if [ "$rc" -ne 0 ]; then
		timeout 120 apt-get update -q >/dev/null || true
		rc=0
		timeout 300 apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
	fi
	[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
	[ "$rc" -eq 0 ] || fail "apt-get install ${missing[*]}"
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
TCSIM="$ROOT/target/$PROFILE/tcsim"
if [ ! -x "$ROOT/target/$PROFILE/havip" ] || [ ! -x "$TCSIM" ]; then fail "havip/tcsim not found in target/$PROFILE"; fi
"$TCSIM" --help | grep -q -- '--eip-dataplane' || fail "this tcsim has no --eip-dataplane"

# --- lab state and cleanup ------------------------------------------------------------------
TAG="hvl$$"
NS_CLOUD="$TAG-cloud"
NS_CL="$TAG-client"
declare -A NS=([1]="$TAG-node1" [2]="$TAG-node2")
ALL_NS=("$NS_CLOUD" "${NS[1]}" "${NS[2]}" "$NS_CL")
# A root-owned 0700 directory under /run: keepalived's enable_script_security refuses scripts
# in a path that anyone but root can write (so not /tmp).
LAB=$(mktemp -d /run/havip-lab.XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

use_package
setup_network
start_cloud
setup_nodes
scene_baseline
expect_status_ok
audit_routes
for scene in "${SCENES[@]}"; do
	declare -F "$scene" >/dev/null || fail "no scene $scene"
	"$scene"
	expect_status_ok
	audit_routes
done
ok "after every scene: havip status OK on both nodes; no namespace routes anywhere but the lab's bridge and links"

# --- journals and the timing table ------------------------------------------------------------
for n in 1 2; do
	out=$(watch_log_ok "$n") || fail "node$n's watch.log: $out"
	ok "node$n: havip watch ran through every scene; its log (--log-format json): $out"
done
for n in 1 2; do
	heading "node$n: keepalived's transitions, then havip journal"
	grep -E '\(VI_1\) Entering|^---- keepalived start|Stopped Keepalived' "$LAB/node$n/keepalived.log" |
		sed 's/^/   /'
	nsx "${NS[$n]}" "$LAB/node$n/havip" journal -n 50 || fail "havip journal on node$n"
done
mkdir -p "$ROOT/target/lab"
heading "Timing: from the fault, in ms (also target/lab/timing.json)"
HAVIP_LAB_PLANNED_MS="${PLANNED_MS:-}" "$PY" "$LABSRC/timing.py" "$LAB" "$ROOT/target/lab/timing.json" ||
	fail "timing table"
[ -z "${PLANNED_MS:-}" ] || say "planned switch: havip failover returned after $PLANNED_MS ms"

heading "All scenes passed in $(($(date +%s) - T0)) s"
