//! Issue: NAT gateway, strict VPC isolation and peering. Each test runs in
//! its own sandbox with a fake internet (see scripts/sandbox.sh).

#[macro_use]
mod common;

const WEB: &str = "http://198.51.100.80/";

#[test]
fn nat_translates_public_subnets_and_nothing_leaks() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "public", "10.10.1.0/24", "--public"]);
    sb.v(&["add-subnet", "vpc1", "private", "10.10.2.0/24"]);
    sb.v(&["create-vpc", "vpc2", "10.20.0.0/16"]);
    sb.v(&["add-subnet", "vpc2", "web", "10.20.1.0/24", "--public"]);
    // Before NAT: nothing leaves, and nothing leaked.
    assert_eq!(sb.curl("ns-vpc1-public", WEB), None);
    let rules_without_nat = sb.rules();

    let out = sb.v(&["enable-nat", "--vpc", "vpc1"]);
    assert!(out.contains("uplink0") && out.contains("default route"), "{out}");
    let body = sb.curl("ns-vpc1-public", WEB).expect("public subnet reaches the internet");
    assert!(body.contains("you are 203.0.113.2"), "server must see the translated source: {body}");
    assert!(sb.ping("ns-vpc1-public", "198.51.100.80"));
    // A private subnet and a VPC without NAT do not get out, by TCP or ping.
    assert_eq!(sb.curl("ns-vpc1-private", WEB), None);
    assert!(!sb.ping("ns-vpc1-private", "198.51.100.80"));
    assert_eq!(sb.curl("ns-vpc2-web", WEB), None);
    assert!(!sb.ping("ns-vpc2-web", "198.51.100.80"));
    // ...and not one packet of theirs arrived untranslated.
    assert_eq!(sb.leaked(), 0);
    // That is our DROP, not the host's policy: it holds under ACCEPT too.
    sb.ok("iptables -w -P FORWARD ACCEPT");
    assert_eq!(sb.curl("ns-vpc1-private", WEB), None);
    assert!(!sb.ping("ns-vpc2-web", "198.51.100.80"));
    assert_eq!(sb.leaked(), 0);
    sb.ok("iptables -w -P FORWARD DROP");
    // New connections from outside into a VPC are dropped.
    sb.serve_by_hand("ns-vpc1-public", 8080);
    sb.ok("ip -n internet route add 10.10.0.0/16 via 203.0.113.2");
    assert!(sb.sh("ip netns exec internet curl -s -m 2 http://10.10.1.2:8080/").code != 0);
    assert!(!sb.ping("internet", "10.10.1.2"));

    // Twice adds nothing.
    let rules = sb.rules();
    let again = sb.v(&["enable-nat", "vpc1", "--interface", "uplink0"]);
    assert!(again.contains("unchanged"), "{again}");
    assert_eq!(sb.rules(), rules);

    // A public subnet added later gets NAT without another command.
    sb.v(&["add-subnet", "vpc1", "public2", "10.10.3.0/24", "--type", "public"]);
    let body = sb.curl("ns-vpc1-public2", WEB).expect("later public subnet is translated");
    assert!(body.contains("you are 203.0.113.2"), "{body}");
    sb.v(&["delete-subnet", "--vpc", "vpc1", "--name", "public2"]);
    assert_eq!(sb.rules(), rules);

    // disable-nat removes exactly what enable-nat added.
    sb.v(&["disable-nat", "--vpc", "vpc1"]);
    assert_eq!(sb.rules(), rules_without_nat);
    assert_eq!(sb.curl("ns-vpc1-public", WEB), None);
    assert_eq!(sb.leaked(), 0);

    sb.v(&["enable-nat", "vpc1"]);
    sb.v(&["delete", "vpc1"]);
    sb.v(&["teardown-all", "--auto-approve"]);
    sb.end_by_hand();
    assert_eq!(sb.snapshot(), before, "host not left as found");
}

#[test]
fn nat_for_named_subnets_includes_private_ones() {
    let sb = sandbox!();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "public", "10.10.1.0/24", "--public"]);
    sb.v(&["add-subnet", "vpc1", "private", "10.10.2.0/24"]);
    sb.v(&["enable-nat", "--vpc", "vpc1", "--interface", "uplink0", "--subnet-filter", "private"]);
    assert!(sb.curl("ns-vpc1-private", WEB).unwrap().contains("you are 203.0.113.2"));
    assert_eq!(sb.curl("ns-vpc1-public", WEB), None, "only the named subnets are translated");
    assert_eq!(sb.leaked(), 0);
    let v: serde_json::Value = serde_json::from_str(&sb.v(&["inspect", "vpc1", "--json"])).unwrap();
    assert_eq!(v["nat"]["interface"], "uplink0");
    assert_eq!(v["nat"]["subnets"], serde_json::json!(["private"]));
    assert!(sb.v(&["list"]).contains("via uplink0"));
}

#[test]
fn nat_errors_are_clear_and_change_nothing() {
    let sb = sandbox!();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "public", "10.10.1.0/24", "--public"]);
    let state = sb.state_json();
    let rules = sb.rules();
    for (args, needle) in [
        (vec!["enable-nat", "vpc1", "--interface", "nosuch0"], "nosuch0"),
        (vec!["enable-nat", "vpc1", "--interface", "br-vpc1"], "br-vpc1"),
        (vec!["enable-nat", "vpc1", "--subnets", "nope"], "nope"),
        (vec!["enable-nat", "nope"], "no VPC named 'nope'"),
    ] {
        sb.refused(&args, needle);
        assert_eq!(sb.state_json(), state);
        assert_eq!(sb.rules(), rules);
    }
    sb.ok("ip route del default");
    let out = sb.refused(&["enable-nat", "vpc1"], "no default route");
    assert!(out.stderr.contains("--interface"), "{out:?}");
    assert_eq!(sb.rules(), rules);
}

#[test]
fn peering_is_both_ways_restrictable_and_not_transitive() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();
    for (v, n) in [("a", 1), ("b", 2), ("c", 3)] {
        sb.v(&["create-vpc", v, &format!("10.{n}.0.0/16")]);
        sb.v(&["add-subnet", v, "s1", &format!("10.{n}.1.0/24"), "--public"]);
        sb.v(&["add-subnet", v, "s2", &format!("10.{n}.2.0/24")]);
        sb.serve_by_hand(&format!("ns-{v}-s1"), 8080);
    }
    // Isolated by default, both ways, by ping and TCP.
    assert!(sb.isolated("ns-a-s1", "10.2.1.2") && sb.isolated("ns-b-s1", "10.1.1.2"));
    assert_eq!(sb.curl("ns-a-s1", "http://10.2.1.2:8080/"), None);

    sb.v(&["peer", "--a", "a", "--b", "b"]);
    assert!(sb.ping("ns-a-s1", "10.2.1.2") && sb.ping("ns-b-s2", "10.1.1.2"));
    assert!(sb.ping("ns-a-s2", "10.2.2.2"));
    // Peer traffic keeps its own source address, even with NAT on.
    sb.v(&["enable-nat", "a", "--interface", "uplink0"]);
    let body = sb.curl("ns-a-s1", "http://10.2.1.2:8080/").expect("peered TCP");
    assert!(body.contains("you are 10.1.1.2"), "{body}");
    let body = sb.curl("ns-b-s1", "http://10.1.1.2:8080/").expect("peered TCP, other way");
    assert!(body.contains("you are 10.2.1.2"), "{body}");

    // Not transitive: a-b and b-c give no path from a to c.
    sb.v(&["peer-vpcs", "b", "c"]);
    assert!(sb.ping("ns-b-s1", "10.3.1.2"));
    assert!(sb.isolated("ns-a-s1", "10.3.1.2") && sb.isolated("ns-c-s1", "10.1.1.2"));

    // Shown on both sides.
    let list = sb.v(&["list"]);
    assert!(list.lines().any(|l| l.starts_with("b ") && l.contains("a, c")), "{list}");
    let va: serde_json::Value = serde_json::from_str(&sb.v(&["inspect", "a", "--json"])).unwrap();
    assert_eq!(va["peers"][0]["vpc"], "b");

    // Unpeer restores isolation.
    sb.v(&["unpeer", "--a", "b", "--b", "a"]);
    assert!(sb.isolated("ns-a-s1", "10.2.1.2") && sb.isolated("ns-b-s1", "10.1.1.2"));

    // allow-cidrs: only a.s1 <-> b.s1 passes, both ways.
    sb.v(&["peer", "a", "b", "--allow-cidrs", "10.1.1.0/24,10.2.1.0/24"]);
    assert!(sb.ping("ns-a-s1", "10.2.1.2") && sb.ping("ns-b-s1", "10.1.1.2"));
    assert!(sb.isolated("ns-a-s2", "10.2.1.2") && sb.isolated("ns-a-s1", "10.2.2.2"));
    assert!(sb.isolated("ns-b-s2", "10.1.1.2"));
    let same = sb.vpcctl(&["peer", "a", "b", "--allow-cidrs", "10.2.1.0/24,10.1.1.0/24"]);
    assert!(same.ok() && same.stdout.contains("unchanged"), "{same:?}");

    // Deleting one VPC removes its peerings and leaves the others working.
    sb.v(&["delete", "a"]);
    assert!(sb.ping("ns-b-s1", "10.3.1.2") && sb.ping("ns-c-s2", "10.2.1.2"));
    let vb: serde_json::Value = serde_json::from_str(&sb.v(&["inspect", "b", "--json"])).unwrap();
    assert_eq!(vb["peers"].as_array().unwrap().len(), 1);
    sb.v(&["teardown-all", "--auto-approve"]);
    sb.end_by_hand();
    assert_eq!(sb.snapshot(), before, "host not left as found");
}

#[test]
fn peering_errors_are_clear_and_change_nothing() {
    let sb = sandbox!();
    sb.v(&["create-vpc", "a", "10.1.0.0/16"]);
    sb.v(&["create-vpc", "b", "10.2.0.0/16"]);
    sb.v(&["peer", "a", "b", "--allow-cidrs", "10.1.1.0/24,10.2.1.0/24"]);
    let state = sb.state_json();
    let rules = sb.rules();
    for (args, needle) in [
        (vec!["peer", "a", "a"], "itself"),
        (vec!["peer", "a", "nope"], "no VPC named 'nope'"),
        (vec!["peer", "--a", "a", "--b", "b", "--allow-cidrs", "10.9.0.0/24"], "10.9.0.0/24"),
        (vec!["peer", "a", "b"], "already peered"),
        (vec!["peer", "a", "b", "--allow-cidrs", "10.1.1.0/24"], "nothing inside VPC 'b'"),
        (vec!["peer", "a", "b", "--allow-cidrs", "10.1.1.9/24"], "did you mean 10.1.1.0/24"),
        (vec!["unpeer", "a", "nope"], "no VPC named 'nope'"),
    ] {
        sb.refused(&args, needle);
        assert_eq!(sb.state_json(), state);
        assert_eq!(sb.rules(), rules);
    }
    sb.v(&["unpeer", "a", "b"]);
    let out = sb.vpcctl(&["unpeer", "a", "b"]);
    assert!(!out.ok() && out.stderr.contains("not peered"), "{out:?}");
}
