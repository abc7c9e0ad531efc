#!/usr/bin/env bash
# Install what vpcctl's demo and tests need, if missing (Debian/Ubuntu).
set -euo pipefail
need=()
for pair in ip:iproute2 iptables:iptables iptables-restore:iptables ebtables-restore:iptables ping:iputils-ping curl:curl \
            unshare:util-linux nsenter:util-linux iperf3:iperf3; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair##*:}")
done
if [[ ${#need[@]} -gt 0 ]]; then
    echo "==> installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi
