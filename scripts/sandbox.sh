#!/usr/bin/env bash
# Run a command in a private network sandbox, never on the host's network.
#
#   sudo scripts/sandbox.sh CMD [ARGS...]
#
# The sandbox has its own network, mount and PID namespaces; tmpfs on
# /run/netns, /etc/netns, /var/lib/vpcctl, /run/vpcctl (host locks) and
# /run/wireguard (wireguard-go sockets); and a fake internet: a
# namespace "internet" behind the veth uplink0 (sandbox 203.0.113.2, internet
# 203.0.113.1, default route through it) serving HTTP on 198.51.100.80:80.
# In the internet namespace, the raw table counts every packet arriving
# with a private source address (iptables -t raw -L PREROUTING -v -x -n),
# i.e. anything that leaked out without NAT.
#
# The sandbox's /etc/resolv.conf is its own (bind-mounted), naming the fake
# internet's DNS server 198.51.100.53 (dnsmasq): example.test is
# 198.51.100.80, rebind.test is 10.10.1.2 (a private address, as a DNS
# rebinding attack would answer), and every query is logged to
# $SANDBOX_TMP/upstream-dns.log.
# No query ever goes to a real resolver.
#
# Inside, $SANDBOX_TMP (/run/vpcctl-sandbox) is private scratch space.
# Environment: VPCCTL_BIN, the vpcctl binary for the fake internet's HTTP
# server (default: target/debug/vpcctl, then vpcctl on PATH).
# Everything in the sandbox, processes included, ends with CMD.
set -euo pipefail

if [[ "${1:-}" != "__inner" ]]; then
    if [[ $EUID -ne 0 ]]; then
        echo "sandbox.sh: must run as root (sudo $0 ...)" >&2
        exit 1
    fi
    [[ $# -gt 0 ]] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
    exec unshare --net --mount --pid --fork --kill-child --mount-proc "$0" __inner "$@"
fi
shift

mount --make-rprivate /
# sysfs shows the namespace that mounted it; remount so tools see ours.
mount -t sysfs sysfs /sys
# ... which hides the host's cgroup mounts: cgroup v2 again, for the apps'
# cgroups (the same hierarchy as the host's; vpcctl removes what it makes).
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null || true
# /run/vpcctl-sandbox: private scratch space (the host's /tmp is shared, and
# may hold the repository itself, so it cannot be hidden).
for d in /run/netns /etc/netns /var/lib/vpcctl /run/vpcctl /run/vpcctl-sandbox /run/wireguard; do
    mkdir -p "$d"
    mount -t tmpfs -o mode=0755 tmpfs "$d"
done

here=$(cd "$(dirname "$0")/.." && pwd)
vpcctl_bin=${VPCCTL_BIN:-}
if [[ -z "$vpcctl_bin" ]]; then
    if [[ -x "$here/target/debug/vpcctl" ]]; then
        vpcctl_bin="$here/target/debug/vpcctl"
    else
        vpcctl_bin=$(command -v vpcctl || true)
    fi
fi

ip link set lo up
ip netns add internet
ip link add uplink0 type veth peer name eth0 netns internet
ip addr add 203.0.113.2/24 dev uplink0
ip link set uplink0 up
ip -n internet link set lo up
ip -n internet addr add 203.0.113.1/24 dev eth0
ip -n internet addr add 198.51.100.80/32 dev lo
ip -n internet link set eth0 up
ip route add default via 203.0.113.1

# Before anything could resolve a name: the sandbox asks only the fake internet.
echo "nameserver 198.51.100.53" > /run/vpcctl-sandbox/resolv.conf
mount --bind /run/vpcctl-sandbox/resolv.conf /etc/resolv.conf
ip -n internet addr add 198.51.100.53/32 dev lo
if command -v dnsmasq >/dev/null; then
    ip netns exec internet dnsmasq --keep-in-foreground --conf-file=/dev/null --no-hosts --no-resolv \
        --listen-address=198.51.100.53 --bind-interfaces --address=/example.test/198.51.100.80 \
        --address=/rebind.test/10.10.1.2 \
        --pid-file= --user=root --log-queries --log-facility=/run/vpcctl-sandbox/upstream-dns.log &
else
    echo "sandbox.sh: dnsmasq is not installed; the fake internet serves no DNS" >&2
fi

for src in 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16; do
    ip netns exec internet iptables -w -t raw -A PREROUTING -s "$src" \
        -m comment --comment "leaked private source" -j ACCEPT
done

if [[ -n "$vpcctl_bin" ]]; then
    ip netns exec internet "$vpcctl_bin" serve --bind 198.51.100.80 --port 80 \
        --banner "fake internet" >/dev/null 2>&1 &
    for _ in $(seq 50); do
        ip netns exec internet bash -c 'exec 3<>/dev/tcp/198.51.100.80/80' 2>/dev/null && break
        sleep 0.05
    done
else
    echo "sandbox.sh: no vpcctl binary found; the fake internet serves no HTTP" >&2
fi

export SANDBOX_TMP=/run/vpcctl-sandbox
exec "$@"
