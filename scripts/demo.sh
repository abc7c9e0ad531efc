#!/usr/bin/env bash
# A full vpcctl scenario, end to end, inside a private sandbox (the host's
# network is never touched). Installs what it needs and builds first.
#
#   sudo scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/scenario.sh
enter_sandbox "$@"

V="$VPCCTL_BIN"
bold=""; off=""
if [[ -t 1 ]]; then bold=$(tput bold 2>/dev/null || true); off=$(tput sgr0 2>/dev/null || true); fi
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$off"; }
run() { printf '$ %s\n' "$*"; "$@"; }
expect_ok() { if "$@" >/dev/null 2>&1; then echo "   ✔ works: $*"; else echo "   ✘ UNEXPECTED: failed: $*"; exit 1; fi; }
# iptables-save without comments, and without tables that hold nothing: under
# the nft backend a table stays listed, empty, once anything used it (NAT
# here), and iptables cannot delete a table; with no rule, no chain of its
# own and ACCEPT policies, it filters nothing, as before.
rules_now() {
    iptables-save | grep -v '^#' | awk '
        /^\*/ { block = $0 "\n"; rules = 0; policy = 0; next }
        /^COMMIT/ { if (rules || policy) printf "%s%s\n", block, $0; next }
        { block = block $0 "\n"; if ($0 ~ /^-A/) rules = 1; if ($0 ~ /^:[^ ]+ (DROP|-)/) policy = 1 }'
}
expect_fail() { if "$@" >/dev/null 2>&1; then echo "   ✘ UNEXPECTED: worked: $*"; exit 1; else echo "   ✔ blocked, as it should be: $*"; fi; }

step "The sandbox host: FORWARD policy DROP, like any Docker host, and a rule of its own"
iptables -w -P FORWARD DROP
iptables -w -A FORWARD -s 192.0.2.99 -j ACCEPT
rules_now > $SANDBOX_TMP/demo-before.rules

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

step "Enable NAT: public subnets reach the internet, the private one still does not"
run "$V" enable-nat --vpc vpc1 --interface uplink0
printf '$ ip netns exec ns-vpc1-public curl -s http://198.51.100.80/\n'
ip netns exec ns-vpc1-public curl -s -m 3 http://198.51.100.80/
expect_fail ip netns exec ns-vpc1-private curl -s -m 2 http://198.51.100.80/

step "Peer the VPCs: now they reach each other"
run "$V" peer --a vpc1 --b vpc2
expect_ok ip netns exec ns-vpc1-public ping -c1 -W1 10.20.1.2
expect_ok ip netns exec ns-vpc2-web ping -c1 -W1 10.10.2.2

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

step "DNS: every subnet is <subnet>.<vpc>.internal, and other names resolve through the host"
run "$V" exec vpc1 public -- getent hosts private.vpc1.internal
run "$V" exec vpc1 private -- getent hosts example.test     # the fake internet's DNS; private needs no NAT for it
run "$V" exec vpc1 public -- getent hosts web.vpc2.internal   # a peered VPC's names too
expect_fail "$V" exec vpc1 public -- getent hosts nothing.vpc1.internal

step "Reach an app from outside: expose a port, or give the subnet an elastic IP"
run "$V" deploy-app --vpc vpc1 --subnet public --port 8080
run "$V" expose --vpc vpc1 --subnet public --port 8080 --host-port 80
printf '$ ip netns exec internet curl -s http://203.0.113.2/     (from the fake internet)\n'
ip netns exec internet curl -s -m 3 http://203.0.113.2/
run "$V" associate-eip --vpc vpc1 --subnet public --ip 203.0.113.10
printf '$ vpcctl exec vpc1 public -- curl -s http://198.51.100.80/   (leaves from its EIP)\n'
"$V" exec vpc1 public -- curl -s -m 3 http://198.51.100.80/

step "Flow logs and a network ACL: stateless, numbered, outside the subnet's reach"
run "$V" flow-logs enable --vpc vpc1
cat > $SANDBOX_TMP/demo-nacl.json <<JSON
{"inbound": [{"rule": 100, "protocol": "icmp", "cidr": "10.10.1.0/24", "action": "allow"}],
 "outbound": [{"rule": 100, "protocol": "icmp", "cidr": "10.10.1.0/24", "action": "allow"}]}
JSON
run "$V" apply-nacl --vpc vpc1 --subnet private --nacl $SANDBOX_TMP/demo-nacl.json
expect_ok ip netns exec ns-vpc1-public ping -c2 -W1 10.10.2.2
run "$V" exec vpc1 private -- iptables -F     # root in the subnet cannot lift a NACL
expect_fail ip netns exec ns-vpc1-public curl -s -m 2 http://10.10.2.2:8080/
run "$V" flow-logs show --vpc vpc1
run "$V" repair                                  # puts back the security group root flushed

step "What exists"
run "$V" list
run "$V" inspect vpc1

step "vpcctl's rules: only in its own chains, each naming its VPC"
iptables-save -t filter | grep -E "VPCCTL" | head -20 || true

step "Health check"
run "$V" doctor

step "Delete everything"
run "$V" delete vpc1
run "$V" teardown-all --auto-approve

step "The host is as we found it"
if diff <(rules_now) $SANDBOX_TMP/demo-before.rules; then
    echo "   ✔ iptables-save identical to before (tables that hold nothing aside)"
else
    echo "   ✘ iptables differ"; exit 1
fi
printf '   links now: %s\n' "$(ip -o link | awk '{print $2}' | tr '\n' ' ')"
printf '   namespaces now: %s\n' "$(ip netns | tr '\n' ' ')"
echo
echo "demo finished: every expectation held"
