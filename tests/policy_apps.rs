//! Issue: security groups from JSON policies, test apps, reachability
//! checks. Each test runs in its own sandbox.

#[macro_use]
mod common;

use common::Sandbox;

/// vpc1: web 10.10.1.0/24 (apps on 80 and 8080), db 10.10.2.0/24 (app on 5432).
fn three_tier(sb: &Sandbox) {
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24", "--public"]);
    sb.v(&["add-subnet", "vpc1", "db", "10.10.2.0/24"]);
    sb.v(&["deploy-app", "--vpc", "vpc1", "--subnet", "web", "--port", "80"]);
    sb.v(&["deploy-app", "vpc1", "web", "--port", "8080"]);
    sb.v(&["deploy-app", "vpc1", "db", "--port", "5432"]);
}

fn policy(sb: &Sandbox, name: &str, json: &str) -> String {
    let path = format!("/run/vpcctl-sandbox/{name}.json");
    sb.ok(&format!("cat > {path} <<'JSON'\n{json}\nJSON"));
    path
}

/// test-connectivity from a subnet of vpc1; true when reachable.
fn reach(sb: &Sandbox, from: &str, to: &str, port: Option<u16>) -> bool {
    let mut args = vec!["test-connectivity", "--vpc", "vpc1", "--from", from, "--to", to];
    let p;
    if let Some(port) = port {
        p = port.to_string();
        args.extend(["--port", &p]);
    }
    let out = sb.vpcctl(&args);
    assert!(out.code == 0 || out.code == 1, "{out:?}");
    out.code == 0
}

fn ns_rules(sb: &Sandbox, ns: &str) -> String {
    sb.ok(&format!("ip netns exec {ns} iptables-save | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'"))
}

#[test]
fn apps_answer_from_other_subnets_and_the_host() {
    let sb = sandbox!();
    three_tier(&sb);
    let body = sb.ok("ip netns exec ns-vpc1-db curl -s -m 2 http://10.10.1.2/");
    assert!(body.contains("vpc vpc1 subnet web") && body.contains("10.10.1.2:80") && body.contains("you are 10.10.2.2"), "{body}");
    let body = sb.ok("curl -s -m 2 http://10.10.1.2:8080/");
    assert!(body.contains("subnet web"), "from the host: {body}");
    let v: serde_json::Value = serde_json::from_str(&sb.v(&["inspect", "vpc1", "--json"])).unwrap();
    let apps = v["subnets"][0]["apps"].as_array().unwrap();
    assert_eq!(apps.len(), 2);
    assert_eq!(apps[0]["running"], true);
    assert!(apps[0]["log"].as_str().unwrap().starts_with("/var/lib/vpcctl/"));
    assert!(sb.v(&["inspect", "vpc1"]).contains("app: port 80"));
    // A port already used by a recorded app is refused.
    let out = sb.vpcctl(&["deploy-app", "vpc1", "web", "--port", "80"]);
    assert!(!out.ok() && out.stderr.contains("already used by app"), "{out:?}");
    // A custom command runs instead of the default server.
    let custom = format!("{} serve --port 9000 --banner custom-app", common::BIN);
    let out = sb.sh(&format!("$VPCCTL deploy-app vpc1 db --port 9000 -- {custom}"));
    assert!(out.ok(), "{out:?}");
    assert!(sb.ok("curl -s -m 2 http://10.10.2.2:9000/").contains("custom-app"));
    // A command that dies is reported with its log, and not recorded.
    let out = sb.vpcctl(&["deploy-app", "vpc1", "db", "--port", "9001", "--", "sh", "-c", "echo boom-from-app; exit 3"]);
    assert!(!out.ok() && out.stderr.contains("boom-from-app") && out.stderr.contains("exited"), "{out:?}");
    assert!(!sb.v(&["inspect", "vpc1"]).contains("port 9001"));
}

#[test]
fn stop_app_closes_the_port_and_delete_leaves_no_process() {
    let sb = sandbox!();
    three_tier(&sb);
    assert!(reach(&sb, "db", "10.10.1.2", Some(8080)));
    sb.v(&["stop-app", "--vpc", "vpc1", "--subnet", "web", "--port", "8080"]);
    let out = sb.vpcctl(&["test-connectivity", "vpc1", "db", "10.10.1.2", "--port", "8080"]);
    assert!(out.code == 1 && out.stdout.contains("refused"), "{out:?}");
    assert!(reach(&sb, "db", "10.10.1.2", Some(80)), "the other app keeps running");
    let pids: Vec<String> = {
        let v: serde_json::Value = serde_json::from_str(&sb.v(&["list", "--json"])).unwrap();
        v[0]["subnets"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["apps"].as_array().unwrap().iter().map(|a| a["pid"].to_string()).collect::<Vec<_>>())
            .collect()
    };
    assert_eq!(pids.len(), 2);
    sb.v(&["delete", "vpc1"]);
    for pid in pids {
        let state = sb.sh(&format!("awk '{{print $3}}' /proc/{pid}/stat 2>/dev/null")).stdout;
        assert!(state.trim().is_empty() || state.trim() == "Z", "app {pid} still running ({state})");
    }
}

#[test]
fn a_recycled_pid_is_never_killed() {
    let sb = sandbox!();
    three_tier(&sb);
    // The recorded web app on port 80 dies, and a stranger (started by
    // hand, outside the app's cgroup) gets its PID: pretend so by pointing
    // the record at the stranger, with a start time that is not its own.
    let old = sb.ok(r#"grep -B1 -A2 '"port": 80,' /var/lib/vpcctl/state.json | grep '"pid"' | grep -o '[0-9]*'"#);
    sb.ok(&format!("kill {}; sleep 0.2", old.trim()));
    sb.serve_by_hand("ns-vpc1-web", 80);
    let stranger = sb.ok("tail -1 /run/vpcctl-sandbox/by-hand.pids");
    sb.ok(&format!(r#"sed -z -E -i 's/"port": 80,\s*"pid": [0-9]+,\s*"start_time": [0-9]+/"port": 80, "pid": {}, "start_time": 1/' /var/lib/vpcctl/state.json"#, stranger.trim()));
    assert!(sb.state_json().contains(&format!("\"pid\": {}", stranger.trim())), "the record points at the stranger");
    sb.v(&["stop-app", "vpc1", "web"]);
    assert!(reach(&sb, "db", "10.10.1.2", Some(80)), "a process that is not provably ours was killed");
    sb.end_by_hand();
    let tree = sb.v(&["inspect", "vpc1"]);
    assert!(!tree.contains("app: port 80"), "{tree}");
}

#[test]
fn policies_block_replace_and_survive_bad_files() {
    let sb = sandbox!();
    three_tier(&sb);
    let deny80 = policy(
        &sb,
        "deny80",
        r#"{"subnet": "10.10.1.0/24", "ingress": [
        {"port": 80, "protocol": "tcp", "action": "deny", "description": "no plain http"}]}"#,
    );
    sb.v(&["apply-policy", "vpc1", &deny80]);
    assert!(!reach(&sb, "db", "10.10.1.2", Some(80)));
    assert!(reach(&sb, "db", "10.10.1.2", Some(8080)), "unmatched port");
    assert!(reach(&sb, "db", "10.10.1.2", None), "ping");
    assert!(sb.v(&["inspect", "vpc1"]).contains("ingress[0] deny tcp port 80 (no plain http)"));

    // The same file twice adds nothing.
    let rules = ns_rules(&sb, "ns-vpc1-web");
    let out = sb.v(&["apply-firewall", "vpc1", "web", &deny80]);
    assert!(out.contains("unchanged"), "{out}");
    assert_eq!(ns_rules(&sb, "ns-vpc1-web"), rules);

    // A second policy replaces the first.
    let deny8080 = policy(&sb, "deny8080", r#"{"ingress": [{"port": 8080, "protocol": "tcp", "action": "deny"}]}"#);
    sb.v(&["apply-policy", "--vpc", "vpc1", "--subnet", "web", "--policy", &deny8080]);
    assert!(reach(&sb, "db", "10.10.1.2", Some(80)));
    assert!(!reach(&sb, "db", "10.10.1.2", Some(8080)));
    let rules = ns_rules(&sb, "ns-vpc1-web");
    assert!(!rules.contains("--dport 80 "), "old rule left: {rules}");
    assert_eq!(rules.matches("-A INPUT").count(), 1, "{rules}");

    // A bad file changes nothing, and says where it is wrong.
    let state = sb.state_json();
    let bad = policy(&sb, "bad", r#"{"subnet": "10.10.1.0/24", "ingress": [{"port": 70000, "protocol": "tcp", "action": "allow"}]}"#);
    let out = sb.vpcctl(&["apply-policy", "vpc1", &bad]);
    assert!(!out.ok() && out.stderr.contains("ingress[0].port: 70000 is not a port (1-65535)"), "{out:?}");
    let bad = policy(&sb, "bad2", r#"{"subnet": "10.10.1.0/24", "ingres": []}"#);
    let out = sb.vpcctl(&["apply-policy", "vpc1", &bad]);
    assert!(!out.ok() && out.stderr.contains("\"ingres\""), "{out:?}");
    let elsewhere = policy(&sb, "elsewhere", r#"{"subnet": "10.10.9.0/24", "ingress": []}"#);
    let out = sb.vpcctl(&["apply-policy", "vpc1", &elsewhere]);
    assert!(!out.ok() && out.stderr.contains("10.10.9.0/24"), "{out:?}");
    assert_eq!(ns_rules(&sb, "ns-vpc1-web"), rules);
    assert_eq!(sb.state_json(), state);
    assert!(!reach(&sb, "db", "10.10.1.2", Some(8080)), "previous policy still in force");

    // Dry run prints the rules and loads nothing.
    let out = sb.vpcctl(&["--dry-run", "apply-policy", "vpc1", &deny80]);
    assert!(out.ok() && out.stdout.contains("ip netns exec ns-vpc1-web iptables-restore") && out.stdout.contains("--dport 80"), "{out:?}");
    assert_eq!(ns_rules(&sb, "ns-vpc1-web"), rules);
}

#[test]
fn default_deny_is_stateful_and_egress_rules_block_outbound() {
    let sb = sandbox!();
    three_tier(&sb);
    let closed = policy(&sb, "closed", r#"{"subnet": "10.10.1.0/24", "default_ingress": "deny"}"#);
    sb.v(&["apply-policy", "vpc1", &closed]);
    assert!(!reach(&sb, "db", "10.10.1.2", Some(80)), "new connections in are blocked");
    assert!(!reach(&sb, "db", "10.10.1.2", None));
    assert!(reach(&sb, "web", "10.10.2.2", Some(5432)), "web's own connections get their replies");
    let body = sb.ok("ip netns exec ns-vpc1-web curl -s -m 2 http://10.10.2.2:5432/");
    assert!(body.contains("subnet db"), "{body}");

    let egress = policy(
        &sb,
        "egress",
        r#"{"subnet": "10.10.1.0/24", "egress": [
        {"port": 5432, "protocol": "tcp", "action": "deny", "cidr": "10.10.2.0/24"}]}"#,
    );
    sb.v(&["apply-policy", "vpc1", &egress]);
    assert!(!reach(&sb, "web", "10.10.2.2", Some(5432)), "egress deny");
    assert!(reach(&sb, "web", "10.10.2.2", None), "egress ping still allowed");
    assert!(reach(&sb, "db", "10.10.1.2", Some(80)), "ingress open again");
}

#[test]
fn the_matrix_shows_peering_and_isolation() {
    let sb = sandbox!();
    for (v, n) in [("a", 1), ("b", 2), ("c", 3)] {
        sb.v(&["create-vpc", v, &format!("10.{n}.0.0/16")]);
        sb.v(&["add-subnet", v, "s1", &format!("10.{n}.1.0/24")]);
        sb.v(&["add-subnet", v, "s2", &format!("10.{n}.2.0/24")]);
    }
    sb.v(&["peer", "a", "b"]);
    let m: serde_json::Value = serde_json::from_str(&sb.v(&["test-connectivity", "--matrix", "--json"])).unwrap();
    let rows = m.as_array().unwrap();
    assert_eq!(rows.len(), 6 * 5);
    for r in rows {
        let (from, to) = (r["from"].as_str().unwrap(), r["to"].as_str().unwrap());
        let vpc = |s: &str| s.split('/').next().unwrap().to_string();
        let (fa, ta) = (vpc(from), vpc(to));
        let expected = fa == ta || (fa != "c" && ta != "c");
        assert_eq!(r["reachable"].as_bool().unwrap(), expected, "{from} -> {to}: {}", r["how"]);
    }
    let table = sb.v(&["test-connectivity", "--matrix"]);
    assert!(table.contains("a/s1") && table.contains("yes") && table.contains("--"), "{table}");
}
