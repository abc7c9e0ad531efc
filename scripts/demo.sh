#!/usr/bin/env bash
# A full vpcctl scenario, end to end, inside a private sandbox (the host's
# network is never touched). Installs what it needs and builds first.
#
#   sudo scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" != "__scenario" ]]; then
    [[ $EUID -eq 0 ]] || { echo "scripts/demo.sh: run as root: sudo $0" >&2; exit 1; }
    scripts/deps.sh
    echo "==> building vpcctl"
    cargo build --locked --quiet
    export VPCCTL_BIN="$PWD/target/debug/vpcctl"
    exec scripts/sandbox.sh "$0" __scenario
fi

V="$VPCCTL_BIN"
bold=""; off=""
if [[ -t 1 ]]; then bold=$(tput bold 2>/dev/null || true); off=$(tput sgr0 2>/dev/null || true); fi
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$off"; }
run() { printf '$ %s\n' "$*"; "$@"; }
expect_ok() { if "$@" >/dev/null 2>&1; then echo "   ✔ works: $*"; else echo "   ✘ UNEXPECTED: failed: $*"; exit 1; fi; }
expect_fail() { if "$@" >/dev/null 2>&1; then echo "   ✘ UNEXPECTED: worked: $*"; exit 1; else echo "   ✔ blocked, as it should be: $*"; fi; }

step "The sandbox host: FORWARD policy DROP, like any Docker host, and a rule of its own"
iptables -w -P FORWARD DROP
iptables -w -A FORWARD -s 192.0.2.99 -j ACCEPT
iptables-save | grep -v '^#' > $SANDBOX_TMP/demo-before.rules

step "Create a VPC with a public and a private subnet"
run "$V" create-vpc --name vpc1 --cidr 10.10.0.0/16
run "$V" add-subnet --vpc vpc1 --name public --cidr 10.10.1.0/24 --public
run "$V" add-subnet vpc1 private 10.10.2.0/24

step "Subnets of one VPC reach each other (through the DROP policy)"
expect_ok ip netns exec ns-vpc1-public ping -c1 -W1 10.10.2.2
expect_ok "$V" exec --vpc vpc1 --subnet private -- ping -c1 -W1 10.10.1.2

step "A second VPC is isolated from the first, both ways"
run "$V" create vpc2 --cidr 10.20.0.0/16
run "$V" add-subnet vpc2 web --cidr 10.20.1.0/24 --type public
expect_fail ip netns exec ns-vpc1-public ping -c1 -W1 10.20.1.2
expect_fail ip netns exec ns-vpc2-web ping -c1 -W1 10.10.1.2

step "An unallocated address inside a VPC fails fast instead of leaving the host"
expect_fail ip netns exec ns-vpc1-public ping -c1 -W1 10.10.77.7

step "Without NAT nothing reaches the (fake) internet at 198.51.100.80"
expect_fail ip netns exec ns-vpc1-public curl -s -m 2 http://198.51.100.80/

if "$V" --help | grep -q enable-nat; then
    step "Enable NAT: public subnets reach the internet, the private one still does not"
    run "$V" enable-nat --vpc vpc1 --interface uplink0
    printf '$ ip netns exec ns-vpc1-public curl -s http://198.51.100.80/\n'
    ip netns exec ns-vpc1-public curl -s -m 3 http://198.51.100.80/
    expect_fail ip netns exec ns-vpc1-private curl -s -m 2 http://198.51.100.80/
fi

if "$V" --help | grep -q ' peer '; then
    step "Peer the VPCs: now they reach each other"
    run "$V" peer --a vpc1 --b vpc2
    expect_ok ip netns exec ns-vpc1-public ping -c1 -W1 10.20.1.2
    expect_ok ip netns exec ns-vpc2-web ping -c1 -W1 10.10.2.2
fi

step "Run an app, lock it down with a policy, and check rather than guess"
run "$V" deploy-app --vpc vpc1 --subnet private --port 8080
printf '$ ip netns exec ns-vpc1-public curl -s http://10.10.2.2:8080/\n'
ip netns exec ns-vpc1-public curl -s -m 3 http://10.10.2.2:8080/
cat > $SANDBOX_TMP/demo-policy.json <<JSON
{"subnet": "10.10.2.0/24", "ingress": [{"port": 8080, "protocol": "tcp", "action": "deny", "description": "closed"}]}
JSON
run "$V" apply-policy vpc1 $SANDBOX_TMP/demo-policy.json
run "$V" test-connectivity --vpc vpc1 --from public --to 10.10.2.2 --port 8080 || true
run "$V" test-connectivity --vpc vpc1 --from public --to 10.10.2.2
run "$V" test-connectivity --matrix

step "What exists"
run "$V" list
run "$V" inspect vpc1

step "vpcctl's rules: only in its own chains, each naming its VPC"
iptables-save -t filter | grep -E 'VPCCTL' | head -20

step "Health check"
run "$V" doctor

step "Delete everything"
run "$V" delete vpc1
run "$V" teardown-all

step "The host is as we found it"
if diff <(iptables-save | grep -v '^#') $SANDBOX_TMP/demo-before.rules; then
    echo "   ✔ iptables-save identical to before"
else
    echo "   ✘ iptables differ"; exit 1
fi
printf '   links now: %s\n' "$(ip -o link | awk '{print $2}' | tr '\n' ' ')"
printf '   namespaces now: %s\n' "$(ip netns | tr '\n' ' ')"
echo
echo "demo finished: every expectation held"
