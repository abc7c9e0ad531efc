//! Issue: VPCs and subnets from create to delete, safe for the host.
//! Every test runs in its own sandbox (see common/mod.rs).

#[macro_use]
mod common;

#[test]
fn lifecycle_on_a_docker_like_host_leaves_it_as_found() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();

    // The forms the tutorials teach.
    sb.v(&["create-vpc", "--name", "vpc1", "--cidr", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "--vpc", "vpc1", "--name", "public", "--cidr", "10.10.1.0/24", "--public"]);
    sb.v(&["add-subnet", "vpc1", "private", "10.10.2.0/24"]);
    sb.v(&["create", "vpc2", "--cidr", "10.20.0.0/16"]);
    sb.v(&["add-subnet", "vpc2", "web", "--cidr", "10.20.1.0/24", "--type", "public"]);

    // Subnets of one VPC reach each other, both ways, through a DROP policy.
    assert!(sb.ping("ns-vpc1-public", "10.10.2.2"));
    assert!(sb.ping("ns-vpc1-private", "10.10.1.2"));
    assert!(sb.ping("ns-vpc1-public", "10.10.1.1"), "gateway");
    // Different VPCs do not, either way, by ping or TCP.
    assert!(!sb.ping("ns-vpc1-public", "10.20.1.2"));
    assert!(!sb.ping("ns-vpc2-web", "10.10.1.2"));
    sb.serve_by_hand("ns-vpc2-web", 8080);
    sb.serve_by_hand("ns-vpc1-public", 8081);
    assert!(sb.curl("ns-vpc1-private", "http://10.10.1.2:8081/").is_some(), "TCP within a VPC");
    let tcp = sb.sh("ip netns exec ns-vpc1-public curl -s -m 2 http://10.20.1.2:8080/");
    assert!(!tcp.ok(), "TCP crossed VPCs: {tcp:?}");
    // Isolation is our DROP, not the host's policy: it holds with ACCEPT too.
    sb.ok("iptables -w -P FORWARD ACCEPT");
    assert!(!sb.ping("ns-vpc1-public", "10.20.1.2"));
    sb.ok("iptables -w -P FORWARD DROP");
    // An unallocated address inside a VPC fails instead of leaving the host.
    let out = sb.sh("ip netns exec ns-vpc1-public ping -c1 -W1 10.10.99.9");
    assert!(!out.ok() && out.stdout.contains("Unreachable"), "{out:?}");
    // Nothing leaves for the internet without NAT.
    assert!(!sb.sh("ip netns exec ns-vpc1-public curl -s -m 2 http://198.51.100.80/").ok());

    // Every rule we made is in our own chains and names its VPC.
    let rules = sb.ok("iptables-save -t filter");
    for line in rules.lines().filter(|l| l.starts_with("-A VPCCTL")) {
        assert!(line.contains("vpcctl:vpc="), "untagged rule: {line}");
    }
    let top = rules.lines().find(|l| l.starts_with("-A FORWARD")).unwrap();
    assert!(top.contains("-j VPCCTL-FORWARD"), "our jump must be first: {top}");

    // list / inspect.
    let list = sb.v(&["ls"]);
    assert!(list.contains("vpc1") && list.contains("10.10.0.0/16") && list.contains("public"), "{list}");
    let all: serde_json::Value = serde_json::from_str(&sb.v(&["list", "--json"])).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2);
    let v: serde_json::Value = serde_json::from_str(&sb.v(&["inspect", "--name", "vpc1", "--json"])).unwrap();
    assert_eq!(v["name"], "vpc1");
    assert_eq!(v["cidr"], "10.10.0.0/16");
    assert_eq!(v["bridge"], "br-vpc1");
    let s0 = &v["subnets"][0];
    assert_eq!((s0["name"].as_str(), s0["cidr"].as_str(), s0["type"].as_str()), (Some("public"), Some("10.10.1.0/24"), Some("public")));
    assert_eq!(
        (s0["namespace"].as_str(), s0["ip"].as_str(), s0["gateway"].as_str()),
        (Some("ns-vpc1-public"), Some("10.10.1.2"), Some("10.10.1.1"))
    );
    assert_eq!(v["subnets"][1]["type"], "private");
    let tree = sb.v(&["inspect-vpc", "vpc1"]);
    assert!(tree.contains("br-vpc1") && tree.contains("ns-vpc1-private") && tree.contains("10.10.2.1"), "{tree}");

    // exec passes the exit code through.
    assert_eq!(sb.vpcctl(&["exec", "--vpc", "vpc1", "--subnet", "public", "--", "sh", "-c", "exit 7"]).code, 7);
    let out = sb.v(&["exec", "vpc1", "private", "--", "ip", "-4", "-o", "addr", "show", "eth0"]);
    assert!(out.contains("10.10.2.2/24"), "{out}");

    // delete-subnet removes exactly that subnet.
    sb.v(&["delete-subnet", "--vpc", "vpc1", "--name", "private"]);
    assert!(!sb.sh("ip netns list | grep -q ns-vpc1-private").ok());
    assert!(!sb.sh("ip -o addr show br-vpc1 | grep -q 10.10.2.1").ok());
    assert!(sb.ping("ns-vpc1-public", "10.10.1.1"));

    sb.v(&["delete", "vpc1"]);
    assert!(!sb.sh("ip link show br-vpc1").ok());
    sb.v(&["delete-vpc", "--name", "vpc2"]);
    sb.end_by_hand();
    assert_eq!(sb.snapshot(), before, "host not left as found");
}

#[test]
fn teardown_all_removes_everything_and_restores_forwarding() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();
    assert!(before.contains("--- forwarding\n0"), "{before}");
    for (v, c) in [("a", "10.1.0.0/16"), ("b", "10.2.0.0/16"), ("c", "10.3.0.0/16")] {
        sb.v(&["create-vpc", v, c]);
        sb.v(&["add-subnet", v, "s1", &c.replace(".0.0/16", ".1.0/24")]);
    }
    assert_eq!(sb.ok("cat /proc/sys/net/ipv4/ip_forward").trim(), "1");
    let out = sb.v(&["cleanup-all", "--auto-approve"]);
    assert!(out.contains("3 VPC"), "{out}");
    assert_eq!(sb.snapshot(), before);
    // Idempotent: again with nothing recorded.
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), before);
}

#[test]
fn teardown_all_sweeps_chains_left_by_a_lost_state_file() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();
    sb.v(&["create-vpc", "a", "10.1.0.0/16"]);
    sb.ok("rm /var/lib/vpcctl/state.json; ip link del br-a; ip route del unreachable 10.1.0.0/16");
    let doctor = sb.vpcctl(&["doctor"]).stdout;
    assert!(doctor.contains("VPCCTL-FWD-a") && doctor.contains("orphaned"), "{doctor}");
    sb.v(&["teardown-all", "--auto-approve"]);
    let after = sb.snapshot();
    // ip_forward was recorded in the lost state file; everything else is back.
    assert_eq!(after.replace("forwarding\n1", "forwarding\n0"), before);
}

#[test]
fn create_is_idempotent_and_conflicts_are_refused() {
    let sb = sandbox!();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    let again = sb.vpcctl(&["create-vpc", "--name", "vpc1", "--cidr", "10.10.0.0/16"]);
    assert!(again.ok() && again.stdout.contains("already exists"), "{again:?}");
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24"]);
    let again = sb.vpcctl(&["add-subnet", "vpc1", "web", "10.10.1.0/24"]);
    assert!(again.ok() && again.stdout.contains("already exists"), "{again:?}");
    let state = sb.state_json();
    let rules = sb.rules();
    let differ = sb.vpcctl(&["create-vpc", "vpc1", "10.11.0.0/16"]);
    assert!(!differ.ok() && differ.stderr.contains("10.10.0.0/16"), "{differ:?}");
    let differ = sb.vpcctl(&["add-subnet", "vpc1", "web", "10.10.1.0/24", "--public"]);
    assert!(!differ.ok() && differ.stderr.contains("already exists"), "{differ:?}");
    assert_eq!(sb.state_json(), state);
    assert_eq!(sb.rules(), rules);
}

#[test]
fn bad_inputs_change_nothing_and_say_what_was_wrong() {
    let sb = sandbox!();
    sb.docker_like_host();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24"]);
    let state = sb.state_json();
    let snap = sb.snapshot();
    let long = "x".repeat(33);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["create-vpc", "Bad_Name", "10.30.0.0/16"], "Bad_Name"),
        (vec!["create-vpc", "a;rm", "10.30.0.0/16"], "a;rm"),
        (vec!["create-vpc", "../x", "10.30.0.0/16"], "../x"),
        (vec!["create-vpc", "a/b", "10.30.0.0/16"], "a/b"),
        (vec!["create-vpc", "", "10.30.0.0/16"], "empty"),
        (vec!["create-vpc", &long, "10.30.0.0/16"], "33 characters"),
        (vec!["create-vpc", "v3", "10.30.0.0/33"], "10.30.0.0/33"),
        (vec!["create-vpc", "v3", "10.30.1.5/16"], "did you mean 10.30.0.0/16"),
        (vec!["create-vpc", "v3", "fd00::/64"], "IPv4"),
        (vec!["create-vpc", "v3", "banana"], "banana"),
        (vec!["create-vpc", "v3", "10.0.0.0/8"], "overlaps VPC 'vpc1'"),
        (vec!["create-vpc", "v3", "203.0.113.0/24"], "uplink0"),
        (vec!["create-vpc", "v3", "0.0.0.0/0"], "0.0.0.0/0"),
        (vec!["add-subnet", "vpc1", "db", "10.20.1.0/24"], "not inside VPC 'vpc1'"),
        (vec!["add-subnet", "vpc1", "db", "10.10.1.128/25"], "overlaps subnet 'web'"),
        (vec!["add-subnet", "vpc1", "db", "10.10.2.0/31"], "10.10.2.0/31"),
        (vec!["add-subnet", "vpc1", "db", "10.10.2.7/24"], "did you mean 10.10.2.0/24"),
        (vec!["add-subnet", "nope", "db", "10.10.2.0/24"], "no VPC named 'nope'"),
        (vec!["add-subnet", "vpc1", "d$b", "10.10.2.0/24"], "d$b"),
        (vec!["delete-subnet", "--vpc", "vpc1", "--name", "nope"], "no subnet named 'nope'"),
        (vec!["delete", "nope"], "no VPC named 'nope'"),
        (vec!["inspect", "nope"], "no VPC named 'nope'"),
        (vec!["exec", "vpc1", "nope", "--", "true"], "no subnet named 'nope'"),
    ];
    for (args, needle) in cases {
        sb.refused(&args, needle);
        assert_eq!(sb.state_json(), state, "{args:?} changed state");
    }
    assert_eq!(sb.snapshot(), snap, "a refused command changed the host");
}

#[test]
fn an_interface_in_the_way_is_reported_and_nothing_is_left() {
    let sb = sandbox!();
    let before = sb.snapshot();
    sb.ok("ip link add br-vpc1 type bridge");
    let out = sb.vpcctl(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    assert!(!out.ok() && out.stderr.contains("br-vpc1") && out.stderr.contains("ip link del br-vpc1"), "{out:?}");
    sb.ok("ip link del br-vpc1");
    assert_eq!(sb.snapshot(), before);
    assert!(!sb.state_json().contains("vpc1"));
}

#[test]
fn a_failure_half_way_is_rolled_back() {
    let sb = sandbox!();
    sb.docker_like_host();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    let before = sb.snapshot();
    let state = sb.state_json();
    // The root batch succeeds (namespace, veth, gateway), the namespace batch fails.
    sb.ip_shim(2, "fail");
    let out = sb.sh("PATH=/run/vpcctl-sandbox/shim:$PATH $VPCCTL add-subnet vpc1 s 10.10.5.0/24");
    assert!(!out.ok() && out.stderr.contains("removed"), "{out:?}");
    assert_eq!(sb.snapshot(), before);
    assert_eq!(sb.state_json(), state);
}

#[test]
fn a_subnet_over_an_address_the_host_already_has_is_refused() {
    let sb = sandbox!();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.ok("ip addr add 10.10.5.1/24 dev br-vpc1");
    let before = sb.snapshot();
    let out = sb.vpcctl(&["add-subnet", "vpc1", "s", "10.10.5.0/24"]);
    assert!(!out.ok() && out.stderr.contains("10.10.5.0/24") && out.stderr.contains("br-vpc1"), "{out:?}");
    assert_eq!(sb.snapshot(), before, "the host's own address must survive");
}

#[test]
fn long_and_similar_names_get_distinct_short_interfaces() {
    let sb = sandbox!();
    let long = "a-very-long-vpc-name-for-testing"; // 32 characters
    sb.v(&["create-vpc", long, "10.10.0.0/16"]);
    sb.v(&["create-vpc", "a-very-long-vpc-name-for-testin2", "10.20.0.0/16"]);
    sb.v(&["add-subnet", long, "public1", "10.10.1.0/24"]);
    sb.v(&["add-subnet", long, "public2", "10.10.2.0/24"]);
    sb.v(&["add-subnet", "a-very-long-vpc-name-for-testin2", "public1", "10.20.1.0/24"]);
    // (vpc a-b, subnet c) and (vpc a, subnet b-c) read the same.
    sb.v(&["create-vpc", "a-b", "10.30.0.0/16"]);
    sb.v(&["create-vpc", "a", "10.40.0.0/16"]);
    sb.v(&["add-subnet", "a-b", "c", "10.30.1.0/24"]);
    sb.v(&["add-subnet", "a", "b-c", "10.40.1.0/24"]);
    let all: serde_json::Value = serde_json::from_str(&sb.v(&["list", "--json"])).unwrap();
    let mut names = vec![];
    for v in all.as_array().unwrap() {
        names.push(v["bridge"].as_str().unwrap().to_string());
        for s in v["subnets"].as_array().unwrap() {
            names.push(s["veth"].as_str().unwrap().to_string());
            names.push(s["namespace"].as_str().unwrap().to_string());
        }
    }
    for n in &names {
        if !n.starts_with("ns-") {
            assert!(n.len() <= 15, "{n} too long");
        }
    }
    let unique: std::collections::HashSet<_> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "collision in {names:?}");
    let v: serde_json::Value = serde_json::from_str(&sb.v(&["inspect", long, "--json"])).unwrap();
    let ns = v["subnets"][0]["namespace"].as_str().unwrap();
    assert!(sb.ping(ns, "10.10.2.2"));
    sb.v(&["teardown-all", "--auto-approve"]);
}

#[test]
fn dry_run_prints_a_runnable_script_and_changes_nothing() {
    let sb = sandbox!();
    let before = sb.snapshot();
    let out = sb.vpcctl(&["--dry-run", "create-vpc", "vpc1", "10.10.0.0/16"]);
    assert!(out.ok(), "{out:?}");
    assert!(out.stdout.starts_with("#!/bin/sh") && out.stdout.contains("link add br-vpc1 address 02:"), "{out:?}");
    assert!(out.stdout.contains("iptables-restore --noflush"), "{out:?}");
    assert_eq!(sb.snapshot(), before);
    assert_eq!(sb.state_json(), "");
    // The script is what vpcctl runs: executing it builds the bridge.
    sb.ok(&format!("sh <<'SCRIPT'\n{}SCRIPT", out.stdout));
    assert!(sb.sh("ip link show br-vpc1").ok());
}

#[test]
fn verbose_echoes_each_command() {
    let sb = sandbox!();
    let out = sb.vpcctl(&["create-vpc", "vpc1", "10.10.0.0/16", "-v"]);
    assert!(out.ok() && out.stderr.contains("link add br-vpc1 address 02:"), "{out:?}");
    let out = sb.vpcctl(&["-q", "add-subnet", "vpc1", "s", "10.10.1.0/24"]);
    assert!(out.ok() && out.stdout.is_empty(), "{out:?}");
}

#[test]
fn a_corrupt_state_file_is_never_overwritten() {
    let sb = sandbox!();
    sb.ok("mkdir -p /var/lib/vpcctl && echo '{ broken' > /var/lib/vpcctl/state.json");
    let out = sb.vpcctl(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    assert!(!out.ok() && out.stderr.contains("/var/lib/vpcctl/state.json"), "{out:?}");
    assert_eq!(sb.state_json(), "{ broken\n");
    assert!(!sb.sh("ip link show br-vpc1").ok());
}

#[test]
fn state_dir_is_overridable() {
    let sb = sandbox!();
    sb.ok("mkdir -p /var/lib/vpcctl/alt");
    sb.v(&["--state-dir", "/var/lib/vpcctl/alt", "create-vpc", "vpc1", "10.10.0.0/16"]);
    assert!(sb.ok("cat /var/lib/vpcctl/alt/state.json").contains("vpc1"));
    let out = sb.ok("VPCCTL_STATE_DIR=/var/lib/vpcctl/alt $VPCCTL list");
    assert!(out.contains("vpc1"), "{out}");
}

/// A run killed at any instant leaves state from which delete finishes.
#[test]
fn kill_9_during_add_subnet_then_delete_leaves_nothing() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();
    for stop_at in 1..=2 {
        sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
        sb.ip_shim(stop_at, "hang");
        sb.ok("PATH=/run/vpcctl-sandbox/shim:$PATH $VPCCTL add-subnet vpc1 web 10.10.1.0/24 >/dev/null 2>&1 & pid=$!
             for i in $(seq 200); do [ -s /run/vpcctl-sandbox/shim/hung ] && break; sleep 0.05; done
             [ -s /run/vpcctl-sandbox/shim/hung ]
             kill -9 $pid; kill -9 $(cat /run/vpcctl-sandbox/shim/hung); wait $pid || true");
        let list = sb.v(&["list", "-o", "wide"]);
        assert!(list.contains("web"), "the interrupted subnet must be recorded: {list}");
        sb.v(&["delete", "vpc1"]);
        assert_eq!(sb.snapshot(), before, "left behind after kill at ip call {stop_at}");
    }
}

#[test]
fn an_interrupted_create_can_be_repeated() {
    let sb = sandbox!();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    // As if killed right after recording: pending in state, nothing in the kernel.
    sb.ok("sed -i 's/\"ready\"/\"pending\"/' /var/lib/vpcctl/state.json; ip link del br-vpc1");
    let out = sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    assert!(out.contains("interrupted") && out.contains("created"), "{out}");
    assert!(sb.sh("ip link show br-vpc1").ok());
}

#[test]
fn eight_concurrent_add_subnets_are_all_recorded() {
    let sb = sandbox!();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.ok("for i in 1 2 3 4 5 6 7 8; do $VPCCTL -q add-subnet vpc1 s$i 10.10.$i.0/24 & done
         fail=0; for j in $(jobs -p); do wait $j || fail=1; done; exit $fail");
    let v: serde_json::Value = serde_json::from_str(&sb.v(&["inspect", "vpc1", "--json"])).unwrap();
    let subnets = v["subnets"].as_array().unwrap();
    assert_eq!(subnets.len(), 8, "{v}");
    assert!(subnets.iter().all(|s| s["status"] == "ready"));
    for i in 1..=8 {
        assert!(sb.ping("ns-vpc1-s1", &format!("10.10.{i}.2")), "s{i}");
    }
}
