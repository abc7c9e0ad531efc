//! Issue: convergence. Topology files through plan / apply / export, and
//! doctor / repair after a simulated reboot or drift, each checked with real
//! traffic in its own sandbox.

#[macro_use]
mod common;

use common::{BIN, Sandbox};

/// vpc1: a public web tier (NAT, an app) and a private db tier (a policy
/// that admits only web on 5432, and an app there); vpc2 peered with vpc1
/// between web and api only; vpc3 peered with nobody.
fn topology(extra_vpc1_subnets: &str, allow: &str, with_vpc3: bool) -> String {
    let vpc3 = if with_vpc3 { r#", "vpc3": {"cidr": "10.30.0.0/16", "subnets": {"lab": {"cidr": "10.30.1.0/24"}}}"# } else { "" };
    format!(
        r#"{{
  "vpcs": {{
    "vpc1": {{
      "cidr": "10.10.0.0/16",
      "nat": {{"interface": "uplink0"}},
      "subnets": {{
        "web": {{"cidr": "10.10.1.0/24", "public": true, "apps": [{{"port": 8080}}]}},
        "db":  {{"cidr": "10.10.2.0/24",
                "policy": {{"default_ingress": "deny", "ingress": [
                  {{"port": 5432, "protocol": "tcp", "cidr": "10.10.1.0/24", "action": "allow"}},
                  {{"protocol": "icmp", "action": "allow"}}]}},
                "apps": [{{"port": 5432, "command": ["{BIN}", "serve", "--port", "5432", "--banner", "db"]}}]}},
        "app": {{"cidr": "10.10.3.0/24"}}{extra_vpc1_subnets}
      }}
    }},
    "vpc2": {{"cidr": "10.20.0.0/16", "subnets": {{"api": {{"cidr": "10.20.1.0/24"}}}}}}{vpc3}
  }},
  "peerings": [{{"vpcs": ["vpc1", "vpc2"], "allow_cidrs": [{allow}]}}]
}}"#
    )
}

const NARROW: &str = r#""10.10.1.0/24", "10.20.1.0/24""#;
const WIDE: &str = r#""10.10.1.0/24", "10.10.2.0/24", "10.20.1.0/24""#;
const WEB: &str = "http://198.51.100.80/";

/// Everything the topology promises, checked with packets.
fn assert_topology_works(sb: &Sandbox) {
    let body = sb.curl("ns-vpc1-web", WEB).expect("web reaches the internet through NAT");
    assert!(body.contains("you are 203.0.113.2"), "{body}");
    assert_eq!(sb.curl("ns-vpc1-db", WEB), None, "db is private");
    assert_eq!(sb.leaked(), 0);
    let db = sb.curl("ns-vpc1-web", "http://10.10.2.2:5432/").expect("web -> db:5432 is allowed by db's policy");
    assert!(db.contains("db at 10.10.2.2:5432"), "{db}");
    assert_eq!(sb.curl("ns-vpc1-app", "http://10.10.2.2:5432/"), None, "app -> db is not in db's policy");
    assert!(sb.curl("ns-vpc1-app", "http://10.10.1.2:8080/").is_some_and(|b| b.contains("subnet web")), "web's app answers");
    assert!(sb.ping("ns-vpc2-api", "10.10.1.2"), "peered between api and web");
    assert!(!sb.ping("ns-vpc2-api", "10.10.3.2"), "the peering allows only web and api");
}

fn inode(sb: &Sandbox, ns: &str) -> String {
    sb.ok(&format!("stat -L -c %i /run/netns/{ns}")).trim().to_string()
}

fn app_pid(sb: &Sandbox, vpc: &str, subnet: &str, port: u64) -> u64 {
    let v: serde_json::Value = serde_json::from_str(&sb.v(&["inspect", vpc, "--json"])).unwrap();
    let s = v["subnets"].as_array().unwrap().iter().find(|s| s["name"] == subnet).unwrap();
    let a = s["apps"].as_array().unwrap().iter().find(|a| a["port"] == port).unwrap();
    assert_eq!(a["running"], true, "{a}");
    a["pid"].as_u64().unwrap()
}

#[test]
fn plan_apply_and_a_second_apply_that_changes_nothing() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();
    let file = sb.file("net.json", &topology("", NARROW, true));

    let plan = sb.vpcctl(&["plan", "-f", &file, "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{plan:?}");
    for line in [
        "+ vpc vpc1  10.10.0.0/16",
        "+ subnet vpc1/web  10.10.1.0/24 public",
        "+ policy vpc1/db",
        "+ app vpc1/web:8080",
        "+ nat vpc1  via uplink0 for web",
        "+ peering vpc1<->vpc2  only 10.10.1.0/24, 10.20.1.0/24",
        "plan: 13 to create, 0 to change, 0 to delete",
    ] {
        assert!(plan.stdout.contains(line), "missing {line:?}\n{plan:?}");
    }
    let verbose = sb.v(&["plan", "-f", &file, "-v"]);
    assert!(verbose.contains("ip -n ns-vpc1-web -batch") && verbose.contains("iptables-restore --noflush"), "{verbose}");
    assert_eq!(sb.snapshot(), before, "plan changes nothing");
    assert_eq!(sb.state_json(), "");

    let out = sb.v(&["apply", "-f", &file]);
    assert!(out.contains("applied: 13 to create"), "{out}");
    assert_topology_works(&sb);
    assert!(sb.isolated("ns-vpc3-lab", "10.10.1.2") && sb.isolated("ns-vpc1-web", "10.30.1.2"));

    // Again: nothing to do, no process spawned, the state file not rewritten.
    let stamp = |sb: &Sandbox| sb.ok("stat -c '%i %y' /var/lib/vpcctl/state.json");
    let (state, when, rules) = (sb.state_json(), stamp(&sb), sb.rules());
    let web_ns = inode(&sb, "ns-vpc1-web");
    let pid = app_pid(&sb, "vpc1", "web", 8080);
    assert_eq!(sb.count(&format!("apply -f {file}")), 0, "a no-op apply spawns nothing");
    assert!(sb.v(&["apply", "-f", &file]).contains("no changes"));
    assert_eq!((sb.state_json(), stamp(&sb), sb.rules()), (state, when, rules));
    assert_eq!((inode(&sb, "ns-vpc1-web"), app_pid(&sb, "vpc1", "web", 8080)), (web_ns, pid));
    assert_eq!(sb.vpcctl(&["plan", "-f", &file, "--detailed-exitcode"]).code, 0);
    // From standard input, too.
    assert!(sb.ok(&format!("$VPCCTL apply -f - < {file}")).contains("no changes"));

    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), before, "host not left as found");
}

#[test]
fn an_edit_removes_a_vpc_adds_a_subnet_and_widens_a_peering() {
    let sb = sandbox!();
    sb.docker_like_host();
    let file = sb.file("net.json", &topology("", NARROW, true));
    sb.v(&["apply", "-f", &file]);
    assert!(!sb.ping("ns-vpc2-api", "10.10.2.2"), "db is outside the peering");
    let web_ns = inode(&sb, "ns-vpc1-web");
    let web_pid = app_pid(&sb, "vpc1", "web", 8080);

    let cache = r#", "cache": {"cidr": "10.10.4.0/24"}"#;
    let edited = sb.file("net.json", &topology(cache, WIDE, false));
    let plan = sb.vpcctl(&["plan", "-f", &edited, "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{plan:?}");
    let lines: Vec<&str> = plan.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "- vpc vpc3  10.30.0.0/16 and its 1 subnet(s)",
            "+ subnet vpc1/cache  10.10.4.0/24 private",
            "~ peering vpc1<->vpc2  only 10.10.1.0/24, 10.20.1.0/24 -> only 10.10.1.0/24, 10.10.2.0/24, 10.20.1.0/24",
            "plan: 1 to create, 1 to change, 1 to delete",
        ]
    );
    sb.v(&["apply", "-f", &edited, "--auto-approve"]);

    assert!(sb.ping("ns-vpc2-api", "10.10.2.2"), "the widened peering lets api reach db");
    assert!(sb.ping("ns-vpc1-cache", "10.10.1.2") && sb.ping("ns-vpc1-web", "10.10.4.2"), "the new subnet is in the VPC");
    assert!(!sb.ping("ns-vpc2-api", "10.10.4.2"), "but not in the peering");
    assert!(!sb.sh("ip link show br-vpc3").ok() && !sb.sh("ip netns list | grep -q ns-vpc3").ok(), "vpc3 is gone");
    assert!(!sb.rules().contains("vpc3"), "and so are its rules");
    assert_eq!(inode(&sb, "ns-vpc1-web"), web_ns, "an untouched namespace is not recreated");
    assert_eq!(app_pid(&sb, "vpc1", "web", 8080), web_pid, "an untouched app is not restarted");
    assert_topology_works(&sb);
    assert_eq!(sb.vpcctl(&["plan", "-f", &edited, "--detailed-exitcode"]).code, 0);
}

/// `export` with the process IDs left out, which a rebuild changes.
fn inspect_all(sb: &Sandbox) -> serde_json::Value {
    let mut all: serde_json::Value = serde_json::from_str(&sb.v(&["list", "--json"])).unwrap();
    for v in all.as_array_mut().unwrap() {
        v["dns"].as_object_mut().map(|d| d.remove("pid"));
        for s in v["subnets"].as_array_mut().unwrap() {
            for a in s["apps"].as_array_mut().unwrap() {
                a.as_object_mut().unwrap().remove("pid");
            }
        }
    }
    all
}

#[test]
fn export_then_teardown_then_apply_reproduces_everything() {
    let dir = std::env::temp_dir().join(format!("vpcctl-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exported = dir.join("exported.json");
    let (listed, text) = {
        let sb = sandbox!();
        let file = sb.file("net.json", &topology("", NARROW, true));
        sb.v(&["apply", "-f", &file]);
        let text = sb.v(&["export"]);
        std::fs::write(&exported, &text).unwrap();
        let listed = inspect_all(&sb);
        // Same sandbox: teardown-all, then the export brings it all back.
        sb.v(&["teardown-all", "--auto-approve"]);
        sb.v(&["apply", "-f", exported.to_str().unwrap()]);
        assert_eq!(inspect_all(&sb), listed);
        assert_eq!(sb.v(&["export"]), text);
        assert_topology_works(&sb);
        (listed, text)
    };
    // A clean sandbox: the same names, addresses, rules and apps.
    let sb = sandbox!();
    // (Its own rules first: on a host with no table at all, iptables-nft
    // leaves empty filter and nat tables behind, which is not ours to undo.)
    sb.docker_like_host();
    let before = sb.snapshot();
    sb.v(&["apply", "-f", exported.to_str().unwrap()]);
    assert_eq!(inspect_all(&sb), listed);
    assert_eq!(sb.v(&["export"]), text);
    assert_topology_works(&sb);
    assert!(sb.isolated("ns-vpc3-lab", "10.10.1.2"));
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn each_class_of_bad_file_is_refused_and_changes_nothing() {
    let sb = sandbox!();
    sb.docker_like_host();
    let good = sb.file("good.json", &topology("", NARROW, false));
    sb.v(&["apply", "-f", &good]);
    let (state, snap) = (sb.state_json(), sb.snapshot());
    let vpc = |body: &str| format!(r#"{{"vpcs": {{"vpc9": {{"cidr": "10.90.0.0/16", "subnets": {{{body}}}}}}}}}"#);
    let cases: Vec<(String, &str)> = vec![
        ("{".into(), "not valid JSON"),
        (r#"{"vpcs": {}, "peering": []}"#.into(), r#"(file): unknown key "peering""#),
        (vpc(r#""web": {"cidr": "10.90.1.0/24", "pubic": true}"#), r#"vpcs.vpc9.subnets.web: unknown key "pubic""#),
        (r#"{"vpcs": {"Vpc9": {"cidr": "10.90.0.0/16"}}}"#.into(), "vpcs.Vpc9: invalid VPC name"),
        (r#"{"vpcs": {"vpc9": {"cidr": "10.90.0.1/16"}}}"#.into(), "vpcs.vpc9.cidr: invalid VPC CIDR \"10.90.0.1/16\""),
        (vpc(r#""web": {"cidr": "10.91.1.0/24"}"#), "vpcs.vpc9.subnets.web: subnet CIDR 10.91.1.0/24 is not inside VPC 'vpc9'"),
        (vpc(r#""a": {"cidr": "10.90.1.0/24"}, "b": {"cidr": "10.90.1.0/25"}"#), "overlaps subnet 'a'"),
        (r#"{"vpcs": {"a": {"cidr": "10.0.0.0/8"}, "b": {"cidr": "10.90.0.0/16"}}}"#.into(), "vpcs.b: CIDR 10.90.0.0/16 overlaps VPC 'a'"),
        (
            r#"{"vpcs": {"a": {"cidr": "10.90.0.0/16"}}, "peerings": [{"vpcs": ["a", "ghost"]}]}"#.into(),
            "peerings[0].vpcs: no VPC named 'ghost'",
        ),
        (
            vpc(r#""s": {"cidr": "10.90.1.0/24", "policy": "missing.json"}"#),
            "vpcs.vpc9.subnets.s.policy: cannot read policy file /run/vpcctl-sandbox/missing.json",
        ),
        (
            vpc(r#""s": {"cidr": "10.90.1.0/24", "policy": {"ingress": [{"port": 70000, "action": "allow"}]}}"#),
            "ingress[0].port: 70000 is not a port",
        ),
        (vpc(r#""s": {"cidr": "10.90.1.0/24", "apps": [{"port": 8080, "command": []}]}"#), "vpcs.vpc9.subnets.s.apps[0].command: is empty"),
        (r#"{"vpcs": {"vpc9": {"cidr": "203.0.113.0/25"}}}"#.into(), "overlaps 203.0.113.0/24, which this host already routes via uplink0"),
        (
            r#"{"vpcs": {"vpc9": {"cidr": "10.90.0.0/16", "nat": {"interface": "nope0"}}}}"#.into(),
            "vpcs.vpc9.nat: interface \"nope0\" does not exist",
        ),
    ];
    for (text, needle) in cases {
        let file = sb.file("bad.json", &text);
        for cmd in ["apply", "plan"] {
            let out = sb.refused(&[cmd, "-f", &file], needle);
            assert!(!out.stderr.contains("panicked"), "{out:?}");
        }
        assert_eq!(sb.state_json(), state, "{text} changed state");
    }
    assert!(sb.refused(&["apply", "-f", "/nonexistent.json"], "/nonexistent.json").stderr.contains("cannot read topology file"));
    assert_eq!(sb.snapshot(), snap, "a refused file changed the host");
}

#[test]
fn after_a_simulated_reboot_repair_brings_everything_back() {
    let sb = sandbox!();
    sb.docker_like_host();
    let pristine_firewall = sb.ok("iptables-save > /run/vpcctl-sandbox/pre.rules; ebtables-save > /run/vpcctl-sandbox/pre.eb; echo saved");
    assert!(pristine_firewall.contains("saved"));
    let before = sb.snapshot();
    let file = sb.file("net.json", &topology("", NARROW, true));
    sb.v(&["apply", "-f", &file]);
    assert_topology_works(&sb);
    let state = sb.state_json();

    // The reboot: apps die, namespaces, bridges and routes vanish, the
    // firewall comes back as the host had it, forwarding is off.
    let pids: Vec<u64> = {
        let st: serde_json::Value = serde_json::from_str(&state).unwrap();
        st["vpcs"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|v| v["subnets"].as_array().unwrap().clone())
            .flat_map(|s| s["apps"].as_array().cloned().unwrap_or_default())
            .map(|a| a["pid"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(pids.len(), 2);
    sb.ok(&format!(
        "kill -9 {pids}
         for ns in $(ip netns list | awk '/^ns-/ {{print $1}}'); do ip netns del $ns; done
         for br in br-vpc1 br-vpc2 br-vpc3; do ip link del $br; done
         for net in 10.10.0.0/16 10.20.0.0/16 10.30.0.0/16; do ip route del unreachable $net; done
         iptables-restore < /run/vpcctl-sandbox/pre.rules
         ebtables-restore < /run/vpcctl-sandbox/pre.eb
         echo 0 > /proc/sys/net/ipv4/ip_forward",
        pids = pids.iter().map(u64::to_string).collect::<Vec<_>>().join(" ")
    ));
    assert_eq!(sb.curl("ns-vpc1-web", WEB), None);

    let doctor = sb.vpcctl(&["doctor"]);
    assert_eq!(doctor.code, 1, "{doctor:?}");
    for want in [
        "VPC vpc1: bridge br-vpc1 is missing",
        "VPC vpc1: unreachable route for 10.10.0.0/16 is missing",
        "subnet vpc1/web: namespace ns-vpc1-web is missing",
        "subnet vpc1/db: app on port 5432",
        "host: jump from FORWARD to VPCCTL-FORWARD is missing",
        "host: jump from POSTROUTING to VPCCTL-POSTROUTING is missing",
        "host: ebtables jump '-A FORWARD -j VPCCTL-SPOOF' is missing",
        "VPC vpc1: ebtables chain VPCCTL-AS-vpc1 is missing",
        "VPC vpc2: filter chain VPCCTL-FWD-vpc2 is missing",
        "host: net.ipv4.ip_forward is 0",
    ] {
        assert!(doctor.stdout.contains(want), "doctor does not say {want:?}\n{doctor:?}");
    }
    assert!(doctor.stdout.contains("fix: vpcctl repair"));

    let out = sb.v(&["repair"]);
    assert!(out.contains("repaired"), "{out}");
    assert_topology_works(&sb);
    assert!(sb.isolated("ns-vpc3-lab", "10.10.1.2") && sb.isolated("ns-vpc1-web", "10.30.1.2"), "isolation is back");
    assert_eq!(sb.ok("cat /proc/sys/net/ipv4/ip_forward").trim(), "1");
    assert_eq!(sb.vpcctl(&["doctor", "-q"]).code, 0);

    // A second repair finds nothing and spawns only its two readers.
    let stamp = sb.ok("stat -c '%y' /var/lib/vpcctl/state.json");
    assert!(sb.v(&["repair"]).contains("nothing to repair"));
    assert_eq!(sb.count("repair"), 4, "ip -j addr, iptables-save, ebtables-save, and iptables-save in the one namespace with a policy");
    assert_eq!(sb.ok("stat -c '%y' /var/lib/vpcctl/state.json"), stamp, "a no-op repair writes nothing");

    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), before, "host not left as found");
}

#[test]
fn drift_of_one_route_and_one_chain_is_named_and_repaired_alone() {
    let sb = sandbox!();
    sb.docker_like_host();
    let file = sb.file("net.json", &topology("", NARROW, true));
    sb.v(&["apply", "-f", &file]);
    assert_eq!(sb.vpcctl(&["doctor"]).code, 0, "{:?}", sb.vpcctl(&["doctor"]));
    let rules = sb.rules();
    let (db_ns, db_pid) = (inode(&sb, "ns-vpc1-db"), app_pid(&sb, "vpc1", "db", 5432));

    sb.ok("ip -n ns-vpc1-web route del default; iptables -w -F VPCCTL-FWD-vpc2");
    assert!(!sb.ping("ns-vpc1-web", "10.10.2.2"));
    let doctor = sb.vpcctl(&["doctor", "--json"]);
    assert_eq!(doctor.code, 1);
    let checks: serde_json::Value = serde_json::from_str(&doctor.stdout).unwrap();
    let failed: Vec<&serde_json::Value> = checks.as_array().unwrap().iter().filter(|c| c["level"] == "fail").collect();
    assert_eq!(failed.len(), 2, "{failed:#?}");
    assert_eq!((&failed[0]["vpc"], &failed[0]["subnet"]), (&"vpc1".into(), &"web".into()));
    assert!(failed[0]["what"].as_str().unwrap().contains("default route via 10.10.1.1 is missing in ns-vpc1-web"));
    assert_eq!((&failed[1]["vpc"], failed[1].get("subnet")), (&"vpc2".into(), None));
    assert!(failed[1]["what"].as_str().unwrap().contains("filter chain VPCCTL-FWD-vpc2"));
    assert!(failed.iter().all(|c| c["fix"] == "vpcctl repair"));

    let script = sb.v(&["repair", "--dry-run"]);
    assert!(script.contains("route replace default via 10.10.1.1") && script.contains(":VPCCTL-FWD-vpc2 - [0:0]"), "{script}");
    for untouched in ["netns add", "link add", ":VPCCTL-FWD-vpc1 ", ":VPCCTL-FORWARD ", "ns-vpc1-db", "-I FORWARD"] {
        assert!(!script.contains(untouched), "repair would touch {untouched:?}:\n{script}");
    }
    sb.v(&["repair"]);
    assert_eq!(sb.rules(), rules, "the chain is back exactly, nothing else changed");
    assert!(sb.ping("ns-vpc1-web", "10.10.2.2") && sb.ping("ns-vpc2-api", "10.10.1.2"));
    assert_eq!((inode(&sb, "ns-vpc1-db"), app_pid(&sb, "vpc1", "db", 5432)), (db_ns, db_pid));
    assert_eq!(sb.vpcctl(&["doctor"]).code, 0);
    assert!(sb.v(&["repair"]).contains("nothing to repair"));
}
