//! Issue: instances and security groups as AWS has them. Several instances
//! per subnet, each a namespace of its own; groups attached to instances,
//! with rules that name other groups; real packets in a sandbox (see
//! scripts/sandbox.sh).

#[macro_use]
mod common;

fn tcp(sb: &common::Sandbox, ns: &str, to: &str, port: u16) -> bool {
    sb.sh(&format!("ip netns exec {ns} curl -s -m 2 -o /dev/null http://{to}:{port}/")).ok()
}

fn explain(sb: &common::Sandbox, from: &str, to: &str, port: &str) -> String {
    let out = sb.vpcctl(&["test-connectivity", "--from", from, "--to", to, "--port", port, "--explain"]);
    format!("{}{}", out.stdout, out.stderr)
}

/// web, app and db groups; app admits 8080 from web's members only, db
/// admits 5432 from app's; the same target answers one instance of a
/// subnet and not its neighbour; membership changes follow at once; the
/// default group admits its own; names resolve; export, teardown-all and
/// apply give it all back; the host is left as found.
#[test]
fn groups_decide_per_instance_and_follow_their_members() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();
    sb.v(&["create-vpc", "shop", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "shop", "front", "10.10.1.0/24"]);
    sb.v(&["add-subnet", "shop", "back", "10.10.2.0/24"]);
    for g in ["web", "app", "db"] {
        sb.v(&["create-security-group", "--vpc", "shop", "--group", g]);
    }
    let allow = |g: &str, port: &str, src: &str| {
        sb.v(&[
            "authorize-security-group-ingress",
            "--vpc",
            "shop",
            "--group",
            g,
            "--protocol",
            "tcp",
            "--port",
            port,
            "--source-group",
            src,
        ]);
    };
    allow("app", "8080", "web");
    allow("db", "5432", "app");
    sb.v(&["run-instance", "--vpc", "shop", "--subnet", "front", "--name", "web1", "--security-groups", "web"]);
    sb.v(&["run-instance", "--vpc", "shop", "--subnet", "front", "--name", "web2", "--security-groups", "web"]);
    sb.v(&["run-instance", "--vpc", "shop", "--subnet", "front", "--name", "misc"]);
    sb.v(&["run-instance", "--vpc", "shop", "--subnet", "back", "--name", "app1", "--security-groups", "app"]);
    sb.v(&["run-instance", "--vpc", "shop", "--subnet", "back", "--name", "db1", "--security-groups", "db", "--ip", "10.10.2.50"]);
    sb.v(&["deploy-app", "--vpc", "shop", "--instance", "app1", "--port", "8080"]);
    sb.v(&["deploy-app", "shop", "db1", "--port", "5432"]);
    let described: serde_json::Value = serde_json::from_str(&sb.v(&["--json", "describe-instances", "--vpc", "shop"])).unwrap();
    let ip = |name: &str| {
        described.as_array().unwrap().iter().find(|i| i["name"] == name).unwrap_or_else(|| panic!("{name} in {described}"))["ip"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!((ip("web1"), ip("web2"), ip("misc")), ("10.10.1.4".into(), "10.10.1.5".into(), "10.10.1.6".into()));
    assert_eq!(ip("db1"), "10.10.2.50");
    let web1 = &described.as_array().unwrap()[0];
    assert_eq!((web1["subnet"].as_str(), web1["namespace"].as_str()), (Some("front"), Some("i-shop-web1")));
    assert_eq!(web1["security_groups"], serde_json::json!(["web"]));

    // One subnet, two answers from app1: web1 is in web, misc is not.
    assert!(tcp(&sb, "i-shop-web1", "10.10.2.4", 8080), "app admits web's members");
    assert!(!tcp(&sb, "i-shop-misc", "10.10.2.4", 8080), "misc is in default only");
    assert!(!tcp(&sb, "ns-shop-front", "10.10.2.4", 8080), "the subnet's own namespace is no member either");
    let why = explain(&sb, "shop/misc", "10.10.2.4", "8080");
    assert!(why.contains("SECURITY_GROUP_REFERENCE_NOT_MEMBER") && why.contains("group app ingress[0]"), "{why}");
    assert!(explain(&sb, "shop/web1", "10.10.2.4", "8080").contains("open: shop/app1 group app ingress[0] admits tcp 8080 group web"));
    // db admits app's members, and web's are not app's.
    assert!(tcp(&sb, "i-shop-app1", "10.10.2.50", 5432));
    assert!(!tcp(&sb, "i-shop-web1", "10.10.2.50", 5432));

    // A non-member cannot borrow a member's address: its bridge port passes
    // only its own.
    // (UDP: one packet needs no handshake, whose replies would go to web1.)
    sb.v(&[
        "authorize-security-group-ingress",
        "--vpc",
        "shop",
        "--group",
        "app",
        "--protocol",
        "udp",
        "--port",
        "9999",
        "--source-group",
        "web",
    ]);
    sb.ok("ip -n i-shop-misc addr add 10.10.1.4/32 dev eth0");
    sb.ok(
        "ip netns exec i-shop-app1 timeout 3 socat -u UDP-RECV:9999 OPEN:/run/vpcctl-sandbox/got,creat,append >/dev/null 2>&1 & sleep 0.3",
    );
    sb.sh("ip netns exec i-shop-misc sh -c 'echo spoofed | socat -u - UDP-SENDTO:10.10.2.4:9999,bind=10.10.1.4'");
    sb.sh("ip netns exec i-shop-web1 sh -c 'echo own | socat -u - UDP-SENDTO:10.10.2.4:9999'");
    let got = sb.ok("sleep 0.5; cat /run/vpcctl-sandbox/got; wait");
    assert!(got.contains("own") && !got.contains("spoofed"), "what app1 received: {got:?}");
    sb.ok("ip -n i-shop-misc addr del 10.10.1.4/32 dev eth0");

    // Membership follows at once: modify, a new instance, terminate.
    sb.v(&["modify-instance-attribute", "--vpc", "shop", "--instance", "misc", "--security-groups", "web,default"]);
    assert!(tcp(&sb, "i-shop-misc", "10.10.2.4", 8080), "misc joined web");
    sb.v(&["modify-instance-attribute", "--vpc", "shop", "--instance", "misc", "--security-groups", "default"]);
    assert!(!tcp(&sb, "i-shop-misc", "10.10.2.4", 8080), "misc left web");
    sb.v(&["run-instance", "--vpc", "shop", "--subnet", "front", "--name", "web3", "--security-groups", "web"]);
    assert!(tcp(&sb, "i-shop-web3", "10.10.2.4", 8080), "a new member is admitted at once");
    // Its address, reused by a non-member after it goes, is not admitted.
    sb.v(&["terminate-instance", "--vpc", "shop", "--instance", "web3"]);
    sb.v(&["run-instance", "--vpc", "shop", "--subnet", "front", "--name", "other", "--ip", "10.10.1.7"]);
    assert!(!tcp(&sb, "i-shop-other", "10.10.2.4", 8080), "web3's address no longer counts as web");
    assert!(sb.sh("ip netns pids i-shop-web3").code != 0, "web3's namespace is gone");

    // The default group admits its own members, and no one else.
    assert!(sb.ping("i-shop-misc", "10.10.1.7"), "misc and other are both in default");
    assert!(!sb.ping("i-shop-web1", "10.10.1.7"), "web1 is not in default");
    assert!(!sb.ping("ns-shop-front", "10.10.1.6"), "nor is the subnet's own namespace");
    assert!(explain(&sb, "shop/web1", "10.10.1.7", "80").contains("SECURITY_GROUP_REFERENCE_NOT_MEMBER"));

    // Names resolve, with and without the VPC's domain; exec takes an instance.
    let got = sb.v(&["exec", "shop", "web1", "--", "getent", "hosts", "app1.shop.internal", "db1"]);
    assert!(got.contains("10.10.2.4") && got.contains("app1.shop.internal") && got.contains("10.10.2.50"), "{got}");
    assert!(sb.v(&["exec", "--vpc", "shop", "--instance", "web2", "--", "cat", "/etc/resolv.conf"]).contains("search shop.internal"));

    // Drift: doctor sees an instance's flushed rules and its lost namespace; repair mends both.
    sb.ok("ip netns exec i-shop-app1 iptables -F VPCCTL-INGRESS; ip netns del i-shop-misc");
    sb.ok("echo 0 > /proc/sys/net/ipv4/conf/br-shop/proxy_arp_pvlan");
    let doctor = sb.vpcctl(&["doctor"]);
    assert!(!doctor.ok() && doctor.stdout.contains("i-shop-app1") && doctor.stdout.contains("i-shop-misc"), "{doctor:?}");
    assert!(doctor.stdout.contains("proxy_arp_pvlan is off"), "{doctor:?}");
    sb.v(&["repair"]);
    assert!(sb.v(&["doctor"]).contains("the kernel matches the record"));
    assert!(tcp(&sb, "i-shop-web1", "10.10.2.4", 8080) && !tcp(&sb, "i-shop-misc", "10.10.2.4", 8080), "rules and namespace are back");
    assert!(sb.ping("i-shop-misc", "10.10.1.7"), "and neighbours in one subnet reach each other again");
    sb.v(&["stop-app", "--vpc", "shop", "--instance", "db1"]);
    assert!(!tcp(&sb, "i-shop-app1", "10.10.2.50", 5432), "db1's app stopped");
    sb.v(&["deploy-app", "shop/db1", "--port", "5432"]);

    // graph draws instances, their groups, and a group's rule naming another.
    let dot = sb.v(&["graph", "--vpc", "shop"]);
    assert!(dot.contains(r#""shop/front" -> "shop/i/web1""#) && dot.contains(r#""shop/i/web1" -> "shop/sg/web""#), "{dot}");
    assert!(dot.contains(r##""shop/sg/web" -> "shop/sg/app" [color="#7a4fb0", label="tcp 8080"]"##), "{dot}");

    // Export, teardown-all, apply: the same answers.
    let exported = sb.v(&["export"]);
    let file = sb.file("shop.json", &exported);
    sb.v(&["teardown-all", "--auto-approve"]);
    assert!(!tcp(&sb, "i-shop-web1", "10.10.2.4", 8080) && sb.sh("ip netns pids i-shop-web1").code != 0);
    sb.v(&["apply", "-f", &file, "--auto-approve"]);
    assert!(sb.vpcctl(&["plan", "-f", &file, "--detailed-exitcode"]).ok(), "applied: nothing left to do");
    assert!(tcp(&sb, "i-shop-web1", "10.10.2.4", 8080) && tcp(&sb, "i-shop-web2", "10.10.2.4", 8080));
    assert!(!tcp(&sb, "i-shop-misc", "10.10.2.4", 8080));
    assert!(tcp(&sb, "i-shop-app1", "10.10.2.50", 5432) && !tcp(&sb, "i-shop-web1", "10.10.2.50", 5432));
    assert!(sb.ping("i-shop-misc", "10.10.1.7") && !sb.ping("i-shop-web1", "10.10.1.7"));
    assert!(sb.ok("ip netns exec i-shop-web2 getent hosts db1").contains("10.10.2.50"));
    assert!(sb.v(&["doctor"]).contains("the kernel matches the record"));
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), before, "the host is left as found");
}

/// Rules are stateful: revoking all egress stops new connections out,
/// not the replies to what comes in. A NACL at the subnet's edge denies
/// what a group allows; within the subnet there is no edge.
#[test]
fn egress_revoked_keeps_replies_and_a_nacl_overrules_a_group() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();
    sb.v(&["create-vpc", "v", "10.1.0.0/16"]);
    sb.v(&["add-subnet", "v", "a", "10.1.1.0/24"]);
    sb.v(&["add-subnet", "v", "b", "10.1.2.0/24"]);
    sb.v(&["create-security-group", "--vpc", "v", "--group", "srv"]);
    sb.v(&[
        "authorize-security-group-ingress",
        "--vpc",
        "v",
        "--group",
        "srv",
        "--protocol",
        "tcp",
        "--port",
        "80",
        "--cidr",
        "10.1.0.0/16",
    ]);
    sb.v(&["run-instance", "--vpc", "v", "--subnet", "a", "--name", "srv", "--security-groups", "srv"]);
    sb.v(&["run-instance", "--vpc", "v", "--subnet", "a", "--name", "peer", "--security-groups", "srv"]);
    sb.v(&["run-instance", "--vpc", "v", "--subnet", "b", "--name", "far", "--security-groups", "srv"]);
    sb.v(&["deploy-app", "--vpc", "v", "--instance", "srv", "--port", "80"]);
    sb.v(&["deploy-app", "--vpc", "v", "--instance", "far", "--port", "80"]);
    sb.v(&["flow-logs", "enable", "--vpc", "v", "--window", "60"]);
    assert!(tcp(&sb, "i-v-srv", "10.1.2.4", 80), "srv may open connections while its group allows all egress");
    sb.v(&["revoke-security-group-egress", "--vpc", "v", "--group", "srv", "--protocol", "all", "--cidr", "0.0.0.0/0"]);
    assert!(!tcp(&sb, "i-v-srv", "10.1.2.4", 80), "no egress rule: no new connection out");
    assert!(tcp(&sb, "ns-v-b", "10.1.1.4", 80), "the replies of a connection in pass: groups are stateful");
    let why = explain(&sb, "v/srv", "10.1.2.4", "80");
    assert!(why.contains("SECURITY_GROUP_NO_EGRESS_RULE"), "{why}");
    // Flow logs name the instance's own interface.
    let out = sb.v(&["flow-logs", "show", "--vpc", "v", "--json"]);
    let recs: Vec<serde_json::Value> = serde_json::from_str(out.trim()).unwrap();
    assert!(
        recs.iter().any(|r| r["dstaddr"] == "10.1.1.4" && r["dstport"] == 80 && r["interface-id"] == "i-v-srv" && r["action"] == "ACCEPT"),
        "{recs:#?}"
    );
    assert!(recs.iter().any(|r| r["srcaddr"] == "10.1.1.4" && r["interface-id"] == "i-v-srv" && r["action"] == "ACCEPT"), "{recs:#?}");

    // A NACL on a denies what srv's group allows, at the subnet's edge only.
    let nacl = sb.file(
        "a.json",
        r#"{"inbound": [{"rule": 100, "protocol": "tcp", "ports": 80, "cidr": "10.1.0.0/16", "action": "deny"},
                        {"rule": 200, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}],
            "outbound": [{"rule": 100, "protocol": "all", "cidr": "0.0.0.0/0", "action": "allow"}]}"#,
    );
    sb.v(&["apply-nacl", "--vpc", "v", "--subnet", "a", "--nacl", &nacl]);
    assert!(!tcp(&sb, "ns-v-b", "10.1.1.4", 80), "the NACL denies what the group allows");
    assert!(explain(&sb, "v/b", "10.1.1.4", "80").contains("NACL_RULES_MISMATCH"));
    sb.v(&[
        "authorize-security-group-egress",
        "--vpc",
        "v",
        "--group",
        "srv",
        "--protocol",
        "tcp",
        "--port",
        "80",
        "--cidr",
        "10.1.1.0/24",
    ]);
    assert!(tcp(&sb, "i-v-peer", "10.1.1.4", 80), "within a subnet there is no NACL; the groups decide");
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), before);
}

/// What is refused changes nothing, and says what to do.
#[test]
fn bad_instance_and_group_requests_are_refused_whole() {
    let sb = sandbox!();
    sb.v(&["create-vpc", "v", "10.1.0.0/16"]);
    sb.v(&["add-subnet", "v", "a", "10.1.1.0/24"]);
    sb.v(&["create-security-group", "--vpc", "v", "--group", "web"]);
    sb.v(&["run-instance", "--vpc", "v", "--subnet", "a", "--name", "w1", "--security-groups", "web"]);
    let state = sb.state_json();
    let rules = sb.rules();
    let cases: &[(&[&str], &str)] = &[
        (
            &["run-instance", "--vpc", "v", "--subnet", "a", "--name", "w1", "--security-groups", "default"],
            "already has an instance named 'w1'",
        ),
        (&["run-instance", "--vpc", "v", "--subnet", "a", "--name", "a"], "a subnet and an instance cannot share a name"),
        (&["run-instance", "--vpc", "v", "--subnet", "a", "--name", "x", "--ip", "10.1.9.9"], "--ip 10.1.9.9 is not in subnet 'a'"),
        (&["run-instance", "--vpc", "v", "--subnet", "a", "--name", "x", "--ip", "10.1.1.4"], "10.1.1.4 is taken by instance 'w1'"),
        (&["run-instance", "--vpc", "v", "--subnet", "a", "--name", "x", "--ip", "10.1.1.2"], "is reserved in subnet 'a'"),
        (&["run-instance", "--vpc", "v", "--subnet", "a", "--name", "x", "--security-groups", "nope"], "no security group 'nope'"),
        (
            &[
                "authorize-security-group-ingress",
                "--vpc",
                "v",
                "--group",
                "web",
                "--protocol",
                "tcp",
                "--port",
                "80",
                "--source-group",
                "nope",
            ],
            "no security group 'nope'",
        ),
        (&["delete-security-group", "--vpc", "v", "--group", "web"], "in use by instance 'w1'"),
        (&["delete-security-group", "--vpc", "v", "--group", "default"], "cannot be deleted"),
        (&["delete-subnet", "v", "a"], "instance 'w1' runs in subnet 'a'"),
        (&["terminate-instance", "--vpc", "v", "--instance", "nope"], "no instance 'nope'"),
        (&["authorize-security-group-ingress", "--vpc", "v", "--group", "web", "--protocol", "tcp", "--cidr", "0.0.0.0/0"], "needs --port"),
    ];
    for (args, needle) in cases {
        sb.refused(args, needle);
        assert_eq!(sb.state_json(), state, "{args:?} changed the record");
        assert_eq!(sb.rules(), rules, "{args:?} changed the firewall");
    }
    // A group another group's rule names is refused too.
    sb.v(&["create-security-group", "--vpc", "v", "--group", "app"]);
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
    sb.v(&["terminate-instance", "--vpc", "v", "--instance", "w1"]);
    sb.refused(&["delete-security-group", "--vpc", "v", "--group", "web"], "security group 'app' has a rule that names 'web'");
    sb.v(&["teardown-all", "--auto-approve"]);
}

/// A run-instance that fails half-way leaves nothing behind; one killed
/// half-way is recorded, and the same command run again finishes it.
#[test]
fn a_run_instance_that_fails_or_is_killed_half_way_is_finished_or_undone() {
    let sb = sandbox!();
    sb.docker_like_host();
    sb.v(&["create-vpc", "v", "10.1.0.0/16"]);
    sb.v(&["add-subnet", "v", "a", "10.1.1.0/24"]);
    sb.v(&["run-instance", "--vpc", "v", "--subnet", "a", "--name", "ref"]);
    let (before, state) = (sb.snapshot(), sb.state_json());
    // Its namespace's batch (the second ip call) fails: everything is undone.
    sb.ip_shim(2, "fail");
    let out = sb.sh("PATH=/run/vpcctl-sandbox/shim:$PATH $VPCCTL run-instance --vpc v --subnet a --name x");
    assert!(!out.ok() && out.stderr.contains("removed"), "{out:?}");
    assert_eq!((sb.snapshot(), sb.state_json()), (before.clone(), state), "a failed run-instance left something behind");
    // Killed while its namespace's batch runs: recorded, and run again, done.
    sb.ip_shim(2, "hang");
    sb.ok("PATH=/run/vpcctl-sandbox/shim:$PATH $VPCCTL run-instance --vpc v --subnet a --name x >/dev/null 2>&1 & pid=$!
         for i in $(seq 200); do [ -s /run/vpcctl-sandbox/shim/hung ] && break; sleep 0.05; done
         [ -s /run/vpcctl-sandbox/shim/hung ]
         kill -9 $pid; kill -9 $(cat /run/vpcctl-sandbox/shim/hung); wait $pid || true");
    assert!(sb.v(&["describe-instances"]).contains("v/x"), "the interrupted instance must be recorded");
    sb.v(&["run-instance", "--vpc", "v", "--subnet", "a", "--name", "x"]);
    assert!(sb.ping("i-v-x", "10.1.1.4"), "x and ref, both in default, reach each other");
    assert!(sb.v(&["doctor"]).contains("the kernel matches the record"));
    sb.v(&["terminate-instance", "--vpc", "v", "--instance", "x"]);
    assert_eq!(sb.snapshot(), before);
    sb.v(&["teardown-all", "--auto-approve"]);
}
