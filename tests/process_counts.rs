//! Issue: performance. Timing is the benchmark's job (scripts/bench.sh);
//! what a test can pin down deterministically is that every command spawns
//! a fixed number of external processes, whatever N is, and that list and
//! inspect spawn none. Counting shims for ip/iptables* sit first on PATH.

#[macro_use]
mod common;

#[test]
fn each_command_spawns_a_fixed_number_of_processes() {
    let sb = sandbox!();
    // Every change that touches the kernel first checks our jumps from
    // FORWARD and INPUT with one `iptables -S` (and lists the nat table
    // while NAT is on). First VPC: that, ebtables-save for the bridge
    // family's jumps, one iptables-restore, one ebtables-restore, one ip
    // batch.
    assert_eq!(sb.count("create-vpc big 10.0.0.0/16"), 5);
    // Later VPCs: no ebtables-save.
    assert_eq!(sb.count("create-vpc small 10.1.0.0/16"), 4);
    // add-subnet: the check, one root batch, one `bridge` batch for its
    // port's static FDB entry, one batch in the namespace, one
    // ebtables-restore for its port; the same for the 1st and the 40th.
    let mut per_subnet = vec![];
    for i in 1..=40 {
        per_subnet.push(sb.count(&format!("add-subnet big s{i} 10.0.{i}.0/24")));
    }
    assert!(per_subnet.iter().all(|&c| c == 5), "{per_subnet:?}");
    assert_eq!(sb.count("add-subnet small s1 10.1.1.0/24"), 5);
    // list and inspect read state only.
    assert_eq!(sb.count("list"), 0);
    assert_eq!(sb.count("inspect big"), 0);
    assert_eq!(sb.count("list --json"), 0);
    // NAT and peering: one iptables-restore each, after the checks (now
    // two: NAT is on).
    assert_eq!(sb.count("enable-nat big --interface uplink0"), 3);
    assert_eq!(sb.count("peer big small"), 3);
    assert_eq!(sb.count("add-subnet big pub 10.0.200.0/24 --public"), 7, "NAT'd subnet: + one iptables-restore");
    // Policies: a probe for our jump in the namespace (`ip netns exec`
    // exec'ing iptables: two shims) and one restore, spawned from a thread
    // inside the namespace (one).
    sb.ok(r#"echo '{"ingress": [{"port": 80, "action": "deny"}]}' > /run/vpcctl-sandbox/p.json"#);
    assert_eq!(sb.count("apply-policy big s1 /run/vpcctl-sandbox/p.json"), 2 + 3);
    // The same policy again is no change: nothing to probe or load.
    assert_eq!(sb.count("apply-policy big s1 /run/vpcctl-sandbox/p.json"), 0);
    // Apps: started straight into the namespace (setns, no ip process); probes: none.
    assert_eq!(sb.count("deploy-app big s2 --port 8080"), 0);
    assert_eq!(sb.count("test-connectivity big s1 10.0.2.2 --port 8080"), 0);
    assert_eq!(sb.count("test-connectivity big s1 10.0.2.2"), 0);
    // VPC services: the checks (two: NAT is on) and one restore; an
    // elastic IP also one root batch for its address; flow logs also start
    // the collector (a vpcctl process, not counted) once.
    assert_eq!(sb.count("expose big pub --port 8080 --host-port 80"), 3);
    assert_eq!(sb.count("associate-eip big pub --ip 203.0.113.10"), 4);
    sb.ok(r#"echo '{"inbound": [{"rule": 1, "protocol": "all", "action": "allow"}]}' > /run/vpcctl-sandbox/n.json"#);
    assert_eq!(sb.count("apply-nacl big s1 --nacl /run/vpcctl-sandbox/n.json"), 3);
    assert_eq!(sb.count("flow-logs enable big"), 3);
    // Deleting a 41-subnet VPC costs what deleting a 1-subnet VPC does:
    // the checks, one ip batch, one restore per family (small, the last
    // VPC: ebtables-save too, for the bridge family's jumps).
    assert_eq!(sb.count("delete big"), 2 + 3);
    assert_eq!(sb.count("delete small"), 1 + 1 + 3);
}

/// A topology of one VPC with `n` subnets.
fn topology(n: usize) -> String {
    let subnets: Vec<String> = (1..=n).map(|i| format!(r#""s{i}": {{"cidr": "10.0.{i}.0/24"}}"#)).collect();
    format!(r#"{{"vpcs": {{"big": {{"cidr": "10.0.0.0/16", "subnets": {{{}}}}}}}}}"#, subnets.join(", "))
}

#[test]
fn topologies_are_applied_read_and_repaired_with_fixed_processes() {
    let sb = sandbox!();
    let one = sb.file("one.json", &topology(1));
    let forty = sb.file("forty.json", &topology(40));
    // The first VPC: checks for our jumps (two, with ebtables-save), one
    // restore per family, one root batch, one `bridge` batch (FDB), and
    // one batch per namespace (as the floor has).
    assert_eq!(sb.count(&format!("apply -f {one}")), 2 + 2 + 3);
    // Reading the kernel costs the same for 1 subnet and for 40: doctor
    // runs `iptables -V`, `ip -j addr`, `iptables-save` and `ebtables-save`;
    // repair the last three.
    let (doctor_1, repair_1) = (sb.count("doctor"), sb.count("repair"));
    assert_eq!((doctor_1, repair_1), (4, 3));
    // 39 more subnets: the check, one root batch, one `bridge`
    // batch, 39 namespace batches, one ebtables-restore.
    assert_eq!(sb.count(&format!("apply -f {forty}")), 1 + 41 + 1);
    assert_eq!(sb.count(&format!("apply -f {forty}")), 0, "nothing to do, nothing spawned");
    assert_eq!((sb.count("doctor"), sb.count("repair")), (doctor_1, repair_1));
    assert_eq!(sb.count(&format!("plan -f {forty}")), 0, "plan reads state only");
    // Back to one: a single tolerant batch removes 39 subnets.
    assert_eq!(sb.count(&format!("apply -f {one} --auto-approve")), 1 + 1 + 1, "the check, the batch, and ebtables-restore for the ports");
}

/// Groups are expanded to their members' addresses, so a membership change
/// rewrites the namespaces whose groups name that group: one restore each,
/// and nothing for any other namespace.
#[test]
fn a_membership_change_restores_only_the_namespaces_that_name_the_group() {
    let sb = sandbox!();
    sb.v(&["create-vpc", "v", "10.0.0.0/16"]);
    sb.v(&["add-subnet", "v", "a", "10.0.1.0/24"]);
    for g in ["web", "app", "other"] {
        sb.v(&["create-security-group", "--vpc", "v", "--group", g]);
    }
    sb.v(&[
        "authorize-security-group-ingress",
        "--vpc",
        "v",
        "--group",
        "app",
        "--protocol",
        "tcp",
        "--port",
        "80",
        "--source-group",
        "web",
    ]);
    for i in 1..=5 {
        sb.v(&["run-instance", "--vpc", "v", "--subnet", "a", "--name", &format!("a{i}"), "--security-groups", "app"]);
    }
    for i in 1..=3 {
        sb.v(&["run-instance", "--vpc", "v", "--subnet", "a", "--name", &format!("o{i}"), "--security-groups", "other"]);
    }
    // A new instance in a group no rule names: the check, one root batch,
    // one FDB batch, one batch in its namespace, its policy's restore, its
    // port's anti-spoofing rules.
    assert_eq!(sb.count("run-instance --vpc v --subnet a --name solo --security-groups other"), 6);
    // A new member of web: the same, and one restore in each of the 5
    // instances whose group names web; none in the others.
    assert_eq!(sb.count("run-instance --vpc v --subnet a --name w1 --security-groups web"), 6 + 5);
    // o1 joins web: its own restore, and the same 5.
    assert_eq!(sb.count("modify-instance-attribute --vpc v --instance o1 --security-groups other,web"), 1 + 1 + 5);
    // A rule that names no one's group changes only its group's members (o1..o3, solo).
    assert_eq!(sb.count("authorize-security-group-ingress --vpc v --group other --protocol icmp --cidr 10.0.0.0/16"), 1 + 4);
    sb.v(&["teardown-all", "--auto-approve"]);
}
