//! Issue: reachability as code. `check` with real probes and a JUnit
//! report, and `test-connectivity --explain`, each in its own sandbox.

#[macro_use]
mod common;

use common::Sandbox;

/// shop: web (public, NAT, app on 80), app, db (a policy that admits only
/// web on 5432, app on 5432); partner peered with shop between web and api
/// only; lab peered with nobody.
const NETWORK: &str = r#"{
  "vpcs": {
    "shop": {
      "cidr": "10.40.0.0/16",
      "nat": {"interface": "uplink0"},
      "subnets": {
        "web": {"cidr": "10.40.1.0/24", "public": true, "apps": [{"port": 80}]},
        "app": {"cidr": "10.40.3.0/24"},
        "db":  {"cidr": "10.40.2.0/24", "apps": [{"port": 5432}],
                "policy": {"default_ingress": "deny",
                           "ingress": [{"port": 5432, "protocol": "tcp", "cidr": "10.40.1.0/24", "action": "allow", "description": "web only"}]}}
      }
    },
    "partner": {"cidr": "10.41.0.0/16", "subnets": {"api": {"cidr": "10.41.1.0/24"}, "batch": {"cidr": "10.41.2.0/24"}}},
    "lab": {"cidr": "10.42.0.0/16", "subnets": {"sandbox": {"cidr": "10.42.1.0/24"}}}
  },
  "peerings": [{"vpcs": ["shop", "partner"], "allow_cidrs": ["10.40.1.0/24", "10.41.1.0/24"]}]
}"#;

/// Intra-VPC, peering allow-list, isolation, NAT, private egress, security group.
fn six(isolation_reachable: bool) -> String {
    format!(
        r#"{{"expect": [
  {{"from": "shop/web", "to": "shop/db", "protocol": "tcp", "port": 5432, "reachable": true}},
  {{"from": "partner/batch", "to": "shop/web", "protocol": "icmp", "reachable": false}},
  {{"from": "lab/sandbox", "to": "shop/web", "protocol": "icmp", "reachable": {isolation_reachable}}},
  {{"from": "shop/web", "to": "198.51.100.80", "protocol": "tcp", "port": 80, "reachable": true}},
  {{"from": "shop/db", "to": "198.51.100.80", "protocol": "tcp", "port": 80, "reachable": false}},
  {{"from": "shop/app", "to": "shop/db", "protocol": "tcp", "port": 5432, "reachable": false}}
]}}"#
    )
}

fn network(sb: &Sandbox) {
    sb.docker_like_host();
    let file = sb.file("net.json", NETWORK);
    sb.v(&["apply", "-f", &file]);
}

fn report(sb: &Sandbox) -> String {
    sb.ok("cat /run/vpcctl-sandbox/report.xml")
}

#[test]
fn six_expectations_met_and_a_junit_report_with_six_cases() {
    let sb = sandbox!();
    network(&sb);
    let file = sb.file("expect.json", &six(false));
    let out = sb.vpcctl(&["check", "-f", &file, "--junit", "/run/vpcctl-sandbox/report.xml"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.lines().last() == Some("6 passed, 0 failed"), "{out:?}");
    assert_eq!(out.stdout.lines().filter(|l| l.starts_with("ok ")).count(), 6, "{out:?}");
    let xml = report(&sb);
    assert!(xml.starts_with("<?xml") && xml.contains("tests=\"6\" failures=\"0\""), "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), 6, "{xml}");
    assert_eq!(xml.matches("<failure").count(), 0, "{xml}");
    assert!(xml.contains("name=\"shop/web -&gt; shop/db tcp 5432 is reachable\""), "{xml}");
    // The same list inside the topology file works too.
    let both = sb.file(
        "both.json",
        &NETWORK.replacen('{', &format!("{{\"expect\": {},", six(false).trim_start_matches("{\"expect\": ").trim_end_matches('}')), 1),
    );
    assert!(sb.v(&["apply", "-f", &both]).contains("no changes"), "apply ignores the expectations");
    let out = sb.vpcctl(&["check", "-f", &both, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let j: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!((j["passed"].as_u64(), j["failed"].as_u64()), (Some(6), Some(0)));
}

#[test]
fn a_wrong_expectation_fails_by_name_with_one_failure_in_the_report() {
    let sb = sandbox!();
    network(&sb);
    let file = sb.file("expect.json", &six(true));
    let out = sb.vpcctl(&["check", "-f", &file, "--junit", "/run/vpcctl-sandbox/report.xml"]);
    assert_eq!(out.code, 1, "{out:?}");
    let fail: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(fail.len(), 1, "{out:?}");
    assert!(fail[0].contains("lab/sandbox -> shop/web icmp") && fail[0].contains("expected reachable, but blocked"), "{out:?}");
    assert!(out.stdout.contains("analyzer: blocked: lab and shop are not peered (VPC isolation) [VPC_NOT_PEERED]"), "{out:?}");
    assert!(!out.stdout.contains("MODEL_KERNEL_MISMATCH"), "the kernel agrees with the model: {out:?}");
    assert!(out.stdout.contains("5 passed, 1 failed"), "{out:?}");
    let xml = report(&sb);
    assert_eq!(xml.matches("<testcase ").count(), 6);
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert!(xml.contains("tests=\"6\" failures=\"1\""), "{xml}");
}

#[test]
fn a_bad_file_exits_2_and_says_where() {
    let sb = sandbox!();
    network(&sb);
    let cases = [
        (
            r#"{"expect": [{"from": "shop/nope", "to": "shop/db", "reachable": true}]}"#,
            "expect[0].from: VPC 'shop' has no subnet named 'nope'",
        ),
        (r#"{"expect": [{"from": "shop/web", "to": "ghost/db", "reachable": true}]}"#, "expect[0].to: no VPC named 'ghost'"),
        (
            r#"{"expect": [{"from": "shop/web", "to": "shop/db", "protocol": "tcp", "reachable": true}]}"#,
            "expect[0].port: is required for tcp",
        ),
        (r#"{"expect": [{"from": "shop/web", "to": "shop/db", "reachable": true, "reach": 1}]}"#, "expect[0]: unknown key \"reach\""),
    ];
    for (text, needle) in cases {
        let file = sb.file("bad.json", text);
        let out = sb.vpcctl(&["check", "-f", &file, "--junit", "/run/vpcctl-sandbox/bad.xml"]);
        assert_eq!(out.code, 2, "{text}\n{out:?}");
        assert!(out.stderr.contains(needle) && out.stderr.contains("bad.json"), "{text}\n{out:?}");
        assert!(!sb.sh("test -e /run/vpcctl-sandbox/bad.xml").ok(), "no report for a bad file");
    }
}

/// IPv4 packets that left any subnet or reached the fake internet.
fn packets(sb: &Sandbox) -> u64 {
    let count = |ns: &str| -> u64 {
        let out = sb.ok(&format!("ip netns exec {ns} iptables -w -t raw -L PREROUTING -v -x -n | awk '/count-all/ {{print $1}}'"));
        out.trim().parse().unwrap()
    };
    count("internet") + sb.ok("iptables -w -t raw -L PREROUTING -v -x -n | awk '/count-all/ {print $1}'").trim().parse::<u64>().unwrap()
}

#[test]
fn explain_names_the_deciding_rule_and_sends_nothing() {
    let sb = sandbox!();
    network(&sb);
    sb.ok("ip netns exec internet iptables -w -t raw -A PREROUTING -m comment --comment count-all
           iptables -w -t raw -A PREROUTING -i br-+ -m comment --comment count-all");
    let before = packets(&sb);
    let cases: [(&[&str], i32, &str, &str); 4] = [
        (&["lab", "sandbox", "10.40.1.2"], 1, "blocked: lab and shop are not peered (VPC isolation)", "VPC_NOT_PEERED"),
        (
            &["partner", "batch", "10.40.1.2"],
            1,
            "blocked: peering shop<->partner allows only 10.40.1.0/24, 10.41.1.0/24",
            "PEERING_CIDR_RESTRICTION",
        ),
        (
            &["shop", "web", "10.40.2.2", "--port", "5432"],
            0,
            "open: shop/db ingress[0] allows tcp 5432 from 10.40.1.0/24 (web only)",
            "PATH_FOUND",
        ),
        (
            &["shop", "db", "198.51.100.80", "--port", "80"],
            1,
            "blocked: shop/db is private and shop's NAT translates only public subnets",
            "NO_NAT_FOR_PRIVATE_SUBNET",
        ),
    ];
    for (args, code, verdict, json_code) in cases {
        let mut a = vec!["test-connectivity"];
        a.extend_from_slice(args);
        a.push("--explain");
        let out = sb.vpcctl(&a);
        assert_eq!(out.code, code, "{out:?}");
        assert!(out.stdout.lines().any(|l| l == verdict), "want {verdict:?}\n{out:?}");
        a.push("--json");
        let j: serde_json::Value = serde_json::from_str(&sb.vpcctl(&a).stdout).unwrap();
        assert_eq!(j["code"], json_code, "{j}");
        assert!(j["hops"].as_array().unwrap().len() >= 3, "{j}");
    }
    assert_eq!(packets(&sb), before, "--explain sent packets");
    // The real probe, for contrast, does send.
    sb.v(&["test-connectivity", "shop", "web", "198.51.100.80", "--port", "80"]);
    assert!(packets(&sb) > before);
}

#[test]
fn a_rule_inserted_behind_vpcctls_back_is_reported_as_drift() {
    let sb = sandbox!();
    network(&sb);
    let file = sb.file("expect.json", &six(false));
    assert_eq!(sb.vpcctl(&["check", "-f", &file]).code, 0);
    sb.ok("iptables -w -I VPCCTL-FWD-shop 1 -s 10.40.1.0/24 -d 10.40.2.0/24 -j DROP");
    let out = sb.vpcctl(&["check", "-f", &file]);
    assert_eq!(out.code, 1, "{out:?}");
    let fail: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(fail.len(), 1, "{out:?}");
    assert!(fail[0].contains("shop/web -> shop/db tcp 5432"), "{out:?}");
    assert!(out.stdout.contains("MODEL_KERNEL_MISMATCH: the kernel no longer matches the model (drift); run 'vpcctl doctor'"), "{out:?}");
    // doctor sees the same rule, and repair takes it out.
    assert_eq!(sb.vpcctl(&["doctor"]).code, 1);
    sb.v(&["repair"]);
    assert_eq!(sb.vpcctl(&["check", "-f", &file]).code, 0);
}
