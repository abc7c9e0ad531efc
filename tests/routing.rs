//! Issue: the AWS routing model. Route tables, an internet gateway, NAT
//! gateways, peerings without routes and a transit gateway, with real
//! packets in a sandbox with a fake internet (see scripts/sandbox.sh).

#[macro_use]
mod common;

const WEB: &str = "http://198.51.100.80/";

fn explain(sb: &common::Sandbox, from: &str, to: &str) -> String {
    let out = sb.vpcctl(&["test-connectivity", "--from", from, "--to", to, "--explain"]);
    format!("{}{}", out.stdout, out.stderr)
}

/// One subnet made public by a route table, a NAT gateway with an EIP for
/// a private one, a blackhole, a NAT gateway that has no way out, drift
/// that doctor sees and repair mends, and the whole of it exported and
/// applied again.
#[test]
fn route_tables_make_subnets_public_private_or_cut() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();
    sb.v(&["create-vpc", "a", "10.1.0.0/16"]);
    sb.v(&["add-subnet", "a", "pub", "10.1.1.0/24", "--public"]);
    sb.v(&["add-subnet", "a", "priv", "10.1.2.0/24"]);
    sb.v(&["add-subnet", "a", "lonely", "10.1.3.0/24"]);
    sb.v(&["create-internet-gateway", "--vpc", "a"]);
    // An internet gateway alone opens nothing: a route does.
    assert_eq!(sb.curl("ns-a-pub", WEB), None);
    assert!(explain(&sb, "a/pub", "198.51.100.80").contains("NO_ROUTE_TO_DESTINATION"));
    sb.v(&["create-route-table", "--vpc", "a", "--name", "public"]);
    sb.v(&["create-route", "--vpc", "a", "--route-table", "public", "--destination", "0.0.0.0/0", "--gateway", "igw"]);
    sb.v(&["associate-route-table", "--vpc", "a", "--route-table", "public", "--subnet", "pub"]);
    let body = sb.curl("ns-a-pub", WEB).expect("the IGW route makes pub public");
    assert!(body.contains("you are 203.0.113.2"), "{body}");
    assert_eq!(sb.curl("ns-a-priv", WEB), None, "priv has no route");
    // With an elastic IP, it leaves from the EIP.
    sb.v(&["associate-eip", "--vpc", "a", "--subnet", "pub", "--ip", "203.0.113.30"]);
    assert!(sb.curl("ns-a-pub", WEB).unwrap().trim_end().ends_with("you are 203.0.113.30"));
    sb.v(&["disassociate-eip", "--vpc", "a", "--subnet", "pub"]);

    // A NAT gateway with an EIP, in pub; priv routes to it.
    sb.v(&["create-nat-gateway", "--vpc", "a", "--subnet", "pub", "--name", "ngw", "--eip", "203.0.113.20"]);
    sb.v(&["create-route-table", "--vpc", "a", "--name", "private"]);
    sb.v(&["create-route", "--vpc", "a", "--route-table", "private", "--destination", "0.0.0.0/0", "--nat-gateway", "ngw"]);
    sb.v(&["associate-route-table", "--vpc", "a", "--route-table", "private", "--subnet", "priv"]);
    let body = sb.curl("ns-a-priv", WEB).expect("priv goes out through the NAT gateway");
    assert!(body.contains("you are 203.0.113.20"), "the internet sees the NAT gateway's EIP: {body}");
    let ngws: serde_json::Value = serde_json::from_str(&sb.v(&["--json", "describe-nat-gateways"])).unwrap();
    assert_eq!(ngws[0]["private_ip"], "10.1.1.4");
    assert_eq!(ngws[0]["public_ip"], "203.0.113.20");
    assert_eq!(ngws[0]["namespace"], "ngw-a-ngw");
    assert!(sb.ping("ngw-a-ngw", "10.1.1.1"), "it is a real box in pub");
    // Its bridge port passes replies from anywhere, but never a packet
    // that claims another address of the VPC.
    sb.ok("ip -n ngw-a-ngw addr add 10.1.2.99/32 dev eth0");
    sb.ok("ip netns exec ns-a-priv timeout 3 socat -u UDP-RECV:9999 OPEN:/run/vpcctl-sandbox/got,creat,append >/dev/null 2>&1 & sleep 0.3");
    sb.sh("ip netns exec ngw-a-ngw sh -c 'echo spoofed | socat -u - UDP-SENDTO:10.1.2.2:9999,bind=10.1.2.99'");
    sb.sh("ip netns exec ngw-a-ngw sh -c 'echo own | socat -u - UDP-SENDTO:10.1.2.2:9999,bind=10.1.1.4'");
    let got = sb.ok("sleep 0.5; cat /run/vpcctl-sandbox/got");
    assert!(got.contains("own") && !got.contains("spoofed"), "what priv received from the gateway: {got:?}");
    sb.ok("ip -n ngw-a-ngw addr del 10.1.2.99/32 dev eth0; wait");
    // Nothing untranslated leaves, and the internet cannot open a
    // connection inward: not to priv, not through the gateway or its EIP.
    assert_eq!(sb.leaked(), 0);
    sb.serve_by_hand("ns-a-priv", 8080);
    sb.ok("ip -n internet route add 10.1.0.0/16 via 203.0.113.2");
    for target in ["10.1.2.2:8080", "10.1.1.4:8080", "203.0.113.20:8080"] {
        assert!(sb.sh(&format!("ip netns exec internet curl -s -m 2 http://{target}/")).code != 0, "{target} answered from outside");
    }
    sb.ok("ip -n internet route del 10.1.0.0/16 via 203.0.113.2");
    let explained = explain(&sb, "a/priv", "198.51.100.80");
    assert!(
        explained.contains("route table private: 0.0.0.0/0 -> nat-gateway ngw") && explained.contains("open: a natgw=ngw"),
        "{explained}"
    );

    // A blackhole /32 beats 0.0.0.0/0; the rest still goes out.
    sb.v(&["create-route", "--vpc", "a", "--route-table", "private", "--destination", "198.51.100.80/32", "--blackhole"]);
    assert_eq!(sb.curl("ns-a-priv", WEB), None);
    assert!(sb.ping("ns-a-priv", "198.51.100.53"), "only the /32 is cut");
    let explained = explain(&sb, "a/priv", "198.51.100.80");
    assert!(explained.contains("198.51.100.80/32 -> blackhole") && explained.contains("BLACKHOLE_ROUTE"), "{explained}");
    sb.v(&["delete-route", "--vpc", "a", "--route-table", "private", "--destination", "198.51.100.80/32"]);
    assert!(sb.curl("ns-a-priv", WEB).is_some());
    // Where the table also routes to the internet gateway, the blackhole
    // alone stands between the subnet and the address.
    sb.v(&["create-route", "--vpc", "a", "--route-table", "public", "--destination", "198.51.100.80/32", "--blackhole"]);
    assert_eq!(sb.curl("ns-a-pub", WEB), None);
    assert!(sb.ping("ns-a-pub", "198.51.100.53"));
    sb.v(&["delete-route", "--vpc", "a", "--route-table", "public", "--destination", "198.51.100.80/32"]);
    assert!(sb.curl("ns-a-pub", WEB).is_some());

    // What depends on something cannot be deleted from under it.
    sb.refused(&["delete-nat-gateway", "--vpc", "a", "--name", "ngw"], "DependencyViolation");
    sb.refused(&["delete-internet-gateway", "--vpc", "a"], "DependencyViolation");
    sb.refused(&["delete-route-table", "--vpc", "a", "--route-table", "private"], "disassociate-route-table");
    sb.refused(&["enable-nat", "--vpc", "a"], "has an internet gateway");
    sb.refused(&["delete-subnet", "--vpc", "a", "--name", "pub"], "delete-nat-gateway");
    let tree = sb.v(&["inspect", "a"]);
    assert!(tree.contains("igw      via uplink0") && tree.contains("natgw    ngw in pub at 10.1.1.4, EIP 203.0.113.20"), "{tree}");
    assert!(tree.contains("table    private (for priv): 0.0.0.0/0 -> nat-gateway ngw"), "{tree}");
    sb.refused(
        &["create-nat-gateway", "--vpc", "a", "--subnet", "pub", "--name", "x", "--eip", "198.51.100.99"],
        "outside the subnet of uplink",
    );
    sb.refused(
        &["create-nat-gateway", "--vpc", "a", "--subnet", "pub", "--name", "x", "--eip", "203.0.113.2"],
        "already an address of this host",
    );
    sb.refused(&["create-route", "--vpc", "a", "--route-table", "private", "--destination", "10.1.9.0/24", "--blackhole"], "local route");
    sb.refused(
        &["create-route", "--vpc", "a", "--route-table", "private", "--destination", "1.2.3.0/24", "--nat-gateway", "nope"],
        "no NAT gateway 'nope'",
    );

    // Disassociating the table cuts priv.
    sb.v(&["disassociate-route-table", "--vpc", "a", "--subnet", "priv"]);
    assert_eq!(sb.curl("ns-a-priv", WEB), None);
    // A NAT gateway in a subnet with no route to the IGW gives nothing.
    sb.v(&["create-nat-gateway", "--vpc", "a", "--subnet", "lonely", "--name", "stuck"]);
    sb.v(&["create-route-table", "--vpc", "a", "--name", "via-stuck"]);
    sb.v(&["create-route", "--vpc", "a", "--route-table", "via-stuck", "--destination", "0.0.0.0/0", "--nat-gateway", "stuck"]);
    sb.v(&["associate-route-table", "--vpc", "a", "--route-table", "via-stuck", "--subnet", "priv"]);
    assert_eq!(sb.curl("ns-a-priv", WEB), None);
    assert!(explain(&sb, "a/priv", "198.51.100.80").contains("NAT_GATEWAY_NO_INTERNET_ROUTE"));
    assert_eq!(sb.leaked(), 0);
    sb.v(&["disassociate-route-table", "--vpc", "a", "--subnet", "priv"]);
    sb.v(&["associate-route-table", "--vpc", "a", "--route-table", "private", "--subnet", "priv"]);
    assert!(sb.curl("ns-a-priv", WEB).is_some());

    // doctor sees the NAT gateway's translation flushed; repair puts it back.
    sb.ok("ip netns exec ngw-a-ngw iptables -w -t nat -F VPCCTL-NATGW-SNAT");
    assert_eq!(sb.curl("ns-a-priv", WEB), None, "without its translation nothing gets out");
    let doc = sb.vpcctl(&["doctor"]);
    assert!(!doc.ok() && doc.stdout.contains("NAT gateway ngw: its translation"), "{doc:?}");
    sb.v(&["repair"]);
    assert!(sb.vpcctl(&["doctor"]).ok());
    assert!(sb.curl("ns-a-priv", WEB).unwrap().contains("203.0.113.20"));
    // ...and the ip rule that sends priv to its table.
    sb.ok("ip rule del pref 21000");
    assert!(!sb.vpcctl(&["doctor"]).ok());
    sb.v(&["repair"]);
    assert!(sb.curl("ns-a-priv", WEB).unwrap().contains("203.0.113.20"));

    // export, teardown-all, apply: the same connectivity.
    let exported = sb.v(&["export"]);
    let file = sb.file("routes.json", &exported);
    sb.v(&["teardown-all", "--auto-approve"]);
    sb.end_by_hand();
    sb.v(&["apply", "-f", &file, "--auto-approve"]);
    assert!(sb.curl("ns-a-pub", WEB).unwrap().trim_end().ends_with("you are 203.0.113.2"));
    assert!(sb.curl("ns-a-priv", WEB).unwrap().contains("203.0.113.20"));
    assert_eq!(sb.curl("ns-a-lonely", WEB), None);
    assert!(sb.v(&["plan", "-f", &file]).contains("no changes"), "a second apply has nothing to do");
    assert_eq!(sb.v(&["export"]), exported);

    // A file is checked as the commands check: one EIP for two gateways is refused.
    let twice = sb.file(
        "twice.json",
        r#"{"vpcs": {"z": {"cidr": "10.9.0.0/16", "internet_gateway": true, "subnets": {"p": {"cidr": "10.9.1.0/24"}},
            "nat_gateways": {"g1": {"subnet": "p", "eip": "203.0.113.40"}, "g2": {"subnet": "p", "eip": "203.0.113.40"}}}}}"#,
    );
    sb.refused(&["plan", "-f", &twice], "used twice in the file");

    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), before, "host not left as found");
}

/// A peering made with --no-routes carries nothing until both sides route
/// it, then exactly what they route; and it stays non-transitive.
#[test]
fn a_peering_without_routes_carries_only_what_both_sides_route() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();
    sb.v(&["create-vpc", "a", "10.1.0.0/16"]);
    sb.v(&["add-subnet", "a", "x", "10.1.1.0/24"]);
    sb.v(&["add-subnet", "a", "y", "10.1.2.0/24"]);
    sb.v(&["create-vpc", "b", "10.2.0.0/16"]);
    sb.v(&["add-subnet", "b", "z", "10.2.1.0/24"]);
    sb.v(&["create-vpc", "c", "10.3.0.0/16"]);
    sb.v(&["add-subnet", "c", "w", "10.3.1.0/24"]);
    sb.v(&["peer", "--a", "a", "--b", "b", "--name", "ab", "--no-routes"]);
    assert!(!sb.ping("ns-a-x", "10.2.1.2"), "no routes, no traffic");
    assert!(explain(&sb, "a/x", "10.2.1.2").contains("PEERING_NO_ROUTE"));
    sb.v(&["create-route", "--vpc", "a", "--route-table", "main", "--destination", "10.2.1.0/24", "--peering", "ab"]);
    assert!(!sb.ping("ns-a-x", "10.2.1.2"), "one side only");
    sb.v(&["create-route", "--vpc", "b", "--route-table", "main", "--destination", "10.1.1.0/24", "--peering", "ab"]);
    assert!(sb.ping("ns-a-x", "10.2.1.2") && sb.ping("ns-b-z", "10.1.1.2"), "both sides route x <-> z");
    assert!(!sb.ping("ns-a-y", "10.2.1.2"), "b routes only x back");
    let why = explain(&sb, "a/y", "10.2.1.2");
    assert!(why.contains("PEERING_NO_ROUTE") && why.contains("route table main of b"), "{why}");
    // b is peered with c too; a still does not reach c (not transitive).
    sb.v(&["peer", "--a", "b", "--b", "c"]);
    assert!(sb.ping("ns-b-z", "10.3.1.2"));
    assert!(!sb.ping("ns-a-x", "10.3.1.2") && !sb.ping("ns-c-w", "10.1.1.2"));
    sb.refused(
        &["create-route", "--vpc", "a", "--route-table", "main", "--destination", "10.3.0.0/16", "--peering", "b-c"],
        "no peering 'b-c'",
    );

    let exported = sb.v(&["export"]);
    let file = sb.file("peering.json", &exported);
    sb.v(&["teardown-all", "--auto-approve"]);
    sb.v(&["apply", "-f", &file, "--auto-approve"]);
    assert!(sb.ping("ns-a-x", "10.2.1.2") && !sb.ping("ns-a-y", "10.2.1.2") && sb.ping("ns-b-z", "10.3.1.2"));
    sb.v(&["unpeer", "--a", "a", "--b", "b"]);
    assert!(!sb.ping("ns-a-x", "10.2.1.2"));
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), before, "host not left as found");
}

/// The shared-services design: dev and prod reach shared through a transit
/// gateway, not each other; a TGW blackhole cuts one VPC.
#[test]
fn a_transit_gateway_gives_shared_services_and_nothing_between_spokes() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();
    for (vpc, cidr, subnet) in
        [("dev", "10.10.0.0/16", "10.10.1.0/24"), ("prod", "10.20.0.0/16", "10.20.1.0/24"), ("shared", "10.30.0.0/16", "10.30.1.0/24")]
    {
        sb.v(&["create-vpc", vpc, cidr]);
        sb.v(&["add-subnet", vpc, "app", subnet]);
    }
    sb.v(&["create-transit-gateway", "--name", "tgw"]);
    for vpc in ["dev", "prod", "shared"] {
        sb.v(&["attach-transit-gateway", "--transit-gateway", "tgw", "--vpc", vpc]);
        sb.v(&["create-route", "--vpc", vpc, "--route-table", "main", "--destination", "10.0.0.0/8", "--transit-gateway", "tgw"]);
    }
    assert!(!sb.ping("ns-dev-app", "10.30.1.2"), "no TGW route table yet");
    let t = |args: &[&str]| sb.v(&[args, &["--transit-gateway", "tgw"]].concat());
    t(&["create-transit-gateway-route-table", "--name", "spokes"]);
    t(&["create-transit-gateway-route-table", "--name", "hub"]);
    for spoke in ["dev", "prod"] {
        t(&["associate-transit-gateway-route-table", "--route-table", "spokes", "--vpc", spoke]);
        t(&["enable-transit-gateway-route-table-propagation", "--route-table", "hub", "--vpc", spoke]);
    }
    t(&["associate-transit-gateway-route-table", "--route-table", "hub", "--vpc", "shared"]);
    t(&["enable-transit-gateway-route-table-propagation", "--route-table", "spokes", "--vpc", "shared"]);
    assert!(sb.ping("ns-dev-app", "10.30.1.2") && sb.ping("ns-prod-app", "10.30.1.2") && sb.ping("ns-shared-app", "10.10.1.2"));
    assert!(!sb.ping("ns-dev-app", "10.20.1.2") && !sb.ping("ns-prod-app", "10.10.1.2"), "spokes must not reach each other");
    let why = explain(&sb, "dev/app", "10.20.1.2");
    assert!(why.contains("TGW_ROUTE_TABLE_NO_ROUTE") && why.contains("tgw/spokes"), "{why}");
    assert!(explain(&sb, "dev/app", "10.30.1.2").contains("open:"));

    // A TGW blackhole cuts prod (its replies too), and only prod.
    t(&["create-transit-gateway-route", "--route-table", "hub", "--destination", "10.20.0.0/16", "--blackhole"]);
    assert!(!sb.ping("ns-prod-app", "10.30.1.2") && !sb.ping("ns-shared-app", "10.20.1.2"));
    assert!(sb.ping("ns-dev-app", "10.30.1.2"));
    let described: serde_json::Value = serde_json::from_str(&sb.v(&["--json", "describe-transit-gateways"])).unwrap();
    assert_eq!(described[0]["attachments"], serde_json::json!(["dev", "prod", "shared"]));

    let exported = sb.v(&["export"]);
    let file = sb.file("tgw.json", &exported);
    sb.v(&["teardown-all", "--auto-approve"]);
    sb.v(&["apply", "-f", &file, "--auto-approve"]);
    assert!(sb.ping("ns-dev-app", "10.30.1.2") && !sb.ping("ns-dev-app", "10.20.1.2") && !sb.ping("ns-prod-app", "10.30.1.2"));
    sb.refused(&["delete-transit-gateway", "--name", "tgw"], "detach-transit-gateway");
    // Deleting an attached VPC takes its attachment and what named it along.
    sb.v(&["delete", "prod"]);
    let described: serde_json::Value = serde_json::from_str(&sb.v(&["--json", "describe-transit-gateways"])).unwrap();
    assert_eq!(described[0]["attachments"], serde_json::json!(["dev", "shared"]));
    assert!(sb.ping("ns-dev-app", "10.30.1.2"));
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), before, "host not left as found");
}
