#!/usr/bin/env bash
# VPCs across three hosts, end to end, inside a private sandbox: three
# simulated hosts (network namespaces on an underlay bridge, each with its
# own state dir) apply one topology file, examples/topologies/multi-host.json,
# and traffic crosses the VXLAN overlay between them. Then the same with
# "encryption": "wireguard". Installs what it needs and builds first.
#
#   sudo scripts/multihost-demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/scenario.sh
enter_sandbox "$@"

VPCCTL="$VPCCTL_BIN"
source scripts/hosts.sh
step() { printf '\n==> %s\n' "$*"; }
works() { if "$@" >/dev/null 2>&1; then echo "   ✔ works: ${*: -1}"; else echo "   ✘ UNEXPECTED: failed: $*"; exit 1; fi; }
blocked() { if "$@" >/dev/null 2>&1; then echo "   ✘ UNEXPECTED: worked: $*"; exit 1; else echo "   ✔ blocked, as it should be: ${*: -1}"; fi; }
get() { ip netns exec "$1" curl -s -m 2 "$2"; }
file=examples/topologies/multi-host.json

step "Three hosts on one underlay (192.0.2.11-13); the fake internet is 192.0.2.1"
add_hosts 3

step "The same file, applied on each host (each builds its own subnets and tunnels)"
for h in host1 host2 host3; do
    echo "\$ vpcctl apply -f $file --host $h"
    vpc_on "$h" apply -f "$file" --host "$h" --auto-approve | sed 's/^/   /'
done

step "host1's overlay: one VXLAN device per VPC, a route per remote subnet, nothing learned"
on host1 ip -d link show vx-shop | grep -o 'vxlan id [0-9]* local [0-9.]* .*dstport [0-9]*.*nolearning' | sed 's/^/   /'
on host1 ip route show dev vx-shop | sed 's/^/   /'

step "One VPC across three hosts"
works get ns-shop-web http://10.1.2.2/
works get ns-shop-app http://10.1.1.2/
step "Peering across hosts; other VPCs stay out"
works get ns-shop-web http://10.2.1.2/
step "A security group on host3 admits web's subnet (host1), not app's (host2)"
works get ns-shop-web http://10.1.3.10/
blocked get ns-shop-app http://10.1.3.10/
step "NAT per host: web leaves by host1's uplink"
echo "   $(get ns-shop-web http://198.51.100.80/)"
step "Names of every host's subnets, from each host's resolver"
echo "   $(ip netns exec ns-shop-web getent hosts db1.shop.internal)"
step "A full-size don't-fragment packet crosses hosts (MTU $(ip netns exec ns-shop-web cat /sys/class/net/eth0/mtu))"
works ip netns exec ns-shop-web ping -c1 -W2 -M do -s 1422 10.1.2.2
step "Each peer host, as host1 sees it"
vpc_on host1 check --peers | sed 's/^/   /'

step "Teardown on each host"
for h in host1 host2 host3; do vpc_on "$h" teardown-all --auto-approve | sed 's/^/   /'; done

step "The same VPCs inside WireGuard (wireguard-go here: this kernel has no WireGuard)"
keys=()
for h in host1 host2 host3; do keys+=("$(vpc_on "$h" host-key)"); done
python3 - "$file" "${keys[@]}" > "$SANDBOX_TMP/wg.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["encryption"] = "wireguard"
for (name, h), key in zip(sorted(f["hosts"].items()), sys.argv[2:]):
    h["wireguard_public_key"] = key
print(json.dumps(f, indent=2))
PY
for h in host1 host2 host3; do on "$h" iptables -w -I OUTPUT -o eth0 -p udp --dport 4789; done
for h in host3 host1 host2; do vpc_on "$h" apply -f "$SANDBOX_TMP/wg.json" --auto-approve >/dev/null; done
works get ns-shop-web http://10.1.2.2/
works get ns-shop-app http://10.1.1.2/
plain=$(for h in host1 host2 host3; do on "$h" iptables -w -L OUTPUT -v -x -n | awk '/dpt:4789/ {print $1}'; done | awk '{s += $1} END {print s + 0}')
echo "   VXLAN packets in the clear on the underlay: $plain"
[[ "$plain" == 0 ]] || { echo "   ✘ UNEXPECTED: plaintext VXLAN"; exit 1; }
vpc_on host1 check --peers | sed 's/^/   /'
for h in host1 host2 host3; do vpc_on "$h" teardown-all --auto-approve >/dev/null; on "$h" iptables -w -D OUTPUT -o eth0 -p udp --dport 4789; done
echo
echo "multi-host demo: every expectation held"
