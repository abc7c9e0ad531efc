//! Issue: performance. Timing is the benchmark's job (scripts/bench.sh);
//! what a test can pin down deterministically is that every command spawns
//! a fixed number of external processes, whatever N is, and that list and
//! inspect spawn none. Counting shims for ip/iptables* sit first on PATH.

#[macro_use]
mod common;

use common::Sandbox;

const SHIMS: &str = r#"
mkdir -p /run/vpcctl-sandbox/count
for p in ip iptables iptables-restore iptables-save; do
  real=$(command -v $p)
  printf '#!/bin/sh\necho %s >> /run/vpcctl-sandbox/count/log\nexec %s "$@"\n' "$p" "$real" > /run/vpcctl-sandbox/count/$p
  chmod +x /run/vpcctl-sandbox/count/$p
done
"#;

/// Processes spawned by one vpcctl call.
fn count(sb: &Sandbox, args: &str) -> usize {
    let out = sb.ok(&format!(": > /run/vpcctl-sandbox/count/log; PATH=/run/vpcctl-sandbox/count:$PATH $VPCCTL -q {args} >/dev/null; wc -l < /run/vpcctl-sandbox/count/log"));
    out.trim().parse().unwrap()
}

#[test]
fn each_command_spawns_a_fixed_number_of_processes() {
    let sb = sandbox!();
    sb.ok(SHIMS);
    // First VPC: probe for our jump, one iptables-restore, one ip batch.
    assert_eq!(count(&sb, "create-vpc big 10.0.0.0/16"), 3);
    // Later VPCs: no probe.
    assert_eq!(count(&sb, "create-vpc small 10.1.0.0/16"), 2);
    // add-subnet: one root batch, one batch in the namespace; the same for
    // the 1st and the 40th subnet.
    let mut per_subnet = vec![];
    for i in 1..=40 {
        per_subnet.push(count(&sb, &format!("add-subnet big s{i} 10.0.{i}.0/24")));
    }
    assert!(per_subnet.iter().all(|&c| c == 2), "{per_subnet:?}");
    assert_eq!(count(&sb, "add-subnet small s1 10.1.1.0/24"), 2);
    // list and inspect read state only.
    assert_eq!(count(&sb, "list"), 0);
    assert_eq!(count(&sb, "inspect big"), 0);
    assert_eq!(count(&sb, "list --json"), 0);
    // NAT and peering: one iptables-restore each.
    assert_eq!(count(&sb, "enable-nat big --interface uplink0"), 2, "probe for the nat jump + restore");
    assert_eq!(count(&sb, "peer big small"), 1);
    assert_eq!(count(&sb, "add-subnet big pub 10.0.200.0/24 --public"), 3, "NAT'd subnet: + one restore");
    // Policies: a probe for our jump in the namespace and one restore; each
    // is `ip netns exec` exec'ing iptables, so each passes two shims.
    sb.ok(r#"echo '{"ingress": [{"port": 80, "action": "deny"}]}' > /run/vpcctl-sandbox/p.json"#);
    assert_eq!(count(&sb, "apply-policy big s1 /run/vpcctl-sandbox/p.json"), 4);
    // The same policy again is no change: nothing to probe or load.
    assert_eq!(count(&sb, "apply-policy big s1 /run/vpcctl-sandbox/p.json"), 0);
    // Apps: the app itself (started through ip netns exec); probes: none.
    assert_eq!(count(&sb, "deploy-app big s2 --port 8080"), 1);
    assert_eq!(count(&sb, "test-connectivity big s1 10.0.2.2 --port 8080"), 0);
    assert_eq!(count(&sb, "test-connectivity big s1 10.0.2.2"), 0);
    // Deleting a 41-subnet VPC and a 1-subnet VPC costs the same: one ip
    // batch, one restore, and one probe (big: the last NAT goes; small: the
    // last VPC goes).
    assert_eq!(count(&sb, "delete big"), 3);
    assert_eq!(count(&sb, "delete small"), 3);
}
