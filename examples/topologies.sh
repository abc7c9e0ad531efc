#!/usr/bin/env bash
# Scenario: the same networks as three-tier.sh and dev-prod-shared.sh,
# described as topology files (examples/topologies/) and converged with
# plan / apply. apply makes the state dir exactly the file, so applying the
# second file replaces the first network. Then export, tear down, rebuild
# from the export, and survive a simulated reboot with repair.
# Runs in a sandbox: sudo examples/topologies.sh
source "$(dirname "$0")/lib.sh"
topo="$repo/examples/topologies"
scratch=${SANDBOX_TMP:-/tmp}

step "What would change? (nothing exists yet)"
run plan -f "$topo/three-tier.json"

step "Build it"
run apply -f "$topo/three-tier.json"
printf '$ vpcctl list\n'; "$V" list

step "Three tiers, each locked down by its policy"
expect yes shop web 10.30.2.2 8080          # web -> app
expect yes shop app 10.30.3.2 5432          # app -> db
expect yes shop web 198.51.100.80 80        # web -> internet, through NAT
expect no shop web 10.30.3.2 5432           # web cannot skip the app tier
expect no shop app 198.51.100.80 80         # private: no NAT, and egress denied

step "Applying a file again changes nothing"
run apply -f "$topo/three-tier.json"

step "Another file: the plan shows the shop going and three VPCs coming"
run plan -f "$topo/dev-prod-shared.json"
# It deletes the shop, so without a terminal to ask, apply refuses...
if "$V" apply -f "$topo/dev-prod-shared.json" 2>/dev/null; then
    echo "expected apply to refuse a plan that deletes, without --auto-approve" >&2; exit 1
fi
echo "(apply refused: the plan deletes the shop and no one was asked)"
# ... until told to go ahead.
run apply -f "$topo/dev-prod-shared.json" --auto-approve

step "Shared services, and no path between dev and prod"
expect yes dev web 10.70.1.2 514
expect yes prod web 10.70.1.2 514
expect no prod db 10.70.1.2 514             # not in the allowed CIDRs
expect no dev web 10.60.1.2                 # peering is not transitive

step "Export everything, tear it all down, and rebuild it from the export"
"$V" export > "$scratch/exported.json"
printf '$ vpcctl export > exported.json   (%s lines)\n' "$(wc -l < "$scratch/exported.json")"
run teardown-all --auto-approve
run apply -f "$scratch/exported.json"
expect yes prod web 10.70.1.2 514
expect no prod db 10.70.1.2 514
expect no dev web 10.60.1.2
run plan -f "$scratch/exported.json"

step "After a 'reboot' (namespaces and bridges gone, firewall reset): doctor, then repair"
for ns in $(ip netns list | awk '/^ns-/ {print $1}'); do ip netns pids "$ns" | xargs -r kill; ip netns del "$ns"; done
for br in $(ip -o link show type bridge | awk -F': ' '{print $2}'); do ip link del "$br"; done
iptables-save | grep -v VPCCTL | iptables-restore        # a firewall reload that knows nothing of vpcctl
echo 0 > /proc/sys/net/ipv4/ip_forward
printf '$ vpcctl doctor -q\n'; "$V" doctor -q || true
run repair
expect yes dev web 10.70.1.2 514
expect yes dev db 10.70.2.2 9090
expect no prod web 10.70.2.2 9090
expect no dev web 10.60.1.2

step "The AWS designs as files (routing, instances and groups), each checked against its own expectations"
for f in nat-gateway-per-az shared-services-tgw three-tier-groups; do
    run apply -f "$topo/$f.json" --auto-approve
    if "$V" check -f "$topo/$f.json"; then echo "   ok   $f: every expectation in the file holds"
    else fail "$f: check -f found an expectation that does not hold"; fi
done

step "Clean up"
run teardown-all --auto-approve
finish
