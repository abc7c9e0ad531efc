#!/usr/bin/env bash
# Install what vpcctl's demo and tests need, if missing (Debian/Ubuntu).
set -euo pipefail
# One at a time: the demos' tests run side by side, and apt holds one lock.
exec 9>/run/lock/vpcctl-deps.lock
flock 9
need=()
for pair in ip:iproute2 iptables:iptables iptables-restore:iptables ebtables-restore:iptables ping:iputils-ping curl:curl \
            unshare:util-linux nsenter:util-linux iperf3:iperf3 wg:wireguard-tools wireguard-go:wireguard-go \
            dnsmasq:dnsmasq-base ulogd:ulogd2 getent:libc-bin socat:socat bridge:iproute2 \
            setpriv:util-linux flock:util-linux; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair##*:}")
done
if [[ ${#need[@]} -gt 0 ]]; then
    echo "==> installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The flow-log collector writes JSON: ulogd2's JSON output is its own package.
{ ls /usr/lib/*/ulogd/ulogd_output_JSON.so /usr/lib/ulogd/ulogd_output_JSON.so 2>/dev/null || true; } | grep -q . ||
    { export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq ulogd2-json >/dev/null; }
# The resolvers and the flow-log daemon drop to users of their own.
for u in vpcctl-dns vpcctl-flowlog; do
    id -u "$u" >/dev/null 2>&1 ||
        useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u"
done
