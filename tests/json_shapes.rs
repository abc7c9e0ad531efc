//! Issue: a well-kept CLI. The JSON every command prints under --json,
//! pinned by golden files (tests/golden/), so a change to a shape is
//! deliberate; and the exit codes.

#[macro_use]
mod common;

use common::{Sandbox, golden};
use serde_json::Value;

fn json(sb: &Sandbox, args: &[&str]) -> Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let out = sb.vpcctl(&a);
    assert!(out.ok() || out.code == 1, "{args:?}\n{out:?}");
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e})\n{out:?}"))
}

/// The error object on stderr, and the exit code.
fn error(sb: &Sandbox, args: &[&str]) -> (Value, i32) {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let out = sb.vpcctl(&a);
    assert!(out.stdout.is_empty(), "{out:?}");
    let v: Value = serde_json::from_str(out.stderr.trim()).unwrap_or_else(|e| panic!("{args:?}: stderr not JSON ({e})\n{out:?}"));
    (v, out.code)
}

#[test]
fn every_command_prints_json_in_a_pinned_shape() {
    let sb = sandbox!();
    golden("create-vpc", &json(&sb, &["create-vpc", "vpc1", "10.10.0.0/16"]));
    golden("add-subnet", &json(&sb, &["add-subnet", "vpc1", "web", "10.10.1.0/24", "--public"]));
    json(&sb, &["add-subnet", "vpc1", "db", "10.10.2.0/24"]);
    golden("enable-nat", &json(&sb, &["enable-nat", "vpc1", "--interface", "uplink0"]));
    json(&sb, &["create-vpc", "vpc2", "10.20.0.0/16"]);
    json(&sb, &["add-subnet", "vpc2", "api", "10.20.1.0/24"]);
    golden("peer", &json(&sb, &["peer", "vpc1", "vpc2", "--allow-cidrs", "10.10.1.0/24,10.20.1.0/24"]));
    let policy =
        sb.file("db.json", r#"{"default_ingress": "deny", "ingress": [{"port": 8080, "cidr": "10.10.1.0/24", "action": "allow"}]}"#);
    golden("apply-policy", &json(&sb, &["apply-policy", "vpc1", "db", &policy]));
    golden("deploy-app", &json(&sb, &["deploy-app", "vpc1", "db", "--port", "8080"]));
    golden("inspect", &json(&sb, &["inspect", "vpc1"]));
    golden("list", &json(&sb, &["list"]));
    golden("test-connectivity", &json(&sb, &["test-connectivity", "vpc1", "web", "10.10.2.2", "--port", "8080"]));
    golden("test-connectivity-matrix", &json(&sb, &["test-connectivity", "--matrix"]));
    golden("explain", &json(&sb, &["test-connectivity", "vpc1", "web", "10.10.2.2", "--port", "8080", "--explain"]));
    let expect = sb.file("expect.json", r#"{"expect": [{"from": "vpc2/api", "to": "vpc1/db", "reachable": false}]}"#);
    golden("check", &json(&sb, &["check", "-f", &expect]));
    sb.ok("$VPCCTL export > /run/vpcctl-sandbox/net.json");
    golden("export", &json(&sb, &["export"]));
    golden("plan-unchanged", &json(&sb, &["plan", "-f", "/run/vpcctl-sandbox/net.json"]));
    let smaller = sb.file("smaller.json", r#"{"vpcs": {"vpc3": {"cidr": "10.30.0.0/16"}}}"#);
    golden("plan", &json(&sb, &["plan", "-f", &smaller]));
    sb.ok("ip -n ns-vpc2-api route del default");
    let doctor = json(&sb, &["doctor"]);
    let failed: Vec<&Value> = doctor.as_array().unwrap().iter().filter(|c| c["level"] == "fail").collect();
    golden("doctor-drift", &serde_json::json!(failed));
    golden("repair", &json(&sb, &["repair"]));
    golden("stop-app", &json(&sb, &["stop-app", "vpc1", "db"]));
    golden("unpeer", &json(&sb, &["unpeer", "vpc1", "vpc2"]));
    golden("disable-nat", &json(&sb, &["disable-nat", "vpc1"]));
    golden("delete-subnet", &json(&sb, &["delete-subnet", "vpc1", "db"]));
    golden("delete", &json(&sb, &["delete", "vpc2"]));
    golden("apply", &json(&sb, &["apply", "-f", &smaller, "--auto-approve"]));
    golden("teardown-all", &json(&sb, &["teardown-all", "--auto-approve"]));
}

#[test]
fn errors_are_one_json_object_and_the_exit_code_says_what_kind() {
    let sb = sandbox!();
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "web", "10.10.1.0/24"]);
    let cases: [(&[&str], &str, i32); 6] = [
        (&["create-vpc", "Bad", "10.20.0.0/16"], "error-input", 2),
        (&["inspect", "nope"], "error-not-found", 2),
        (&["create-vpc", "vpc1", "10.11.0.0/16"], "error-conflict", 2),
        (&["create-vpc", "--bogus"], "error-usage", 2),
        (&["test-connectivity", "nope", "web", "10.10.1.2"], "error-unknown-vpc", 2),
        (&["test-connectivity", "vpc1", "web", "10.10.1.2", "--protocol", "tcp"], "error-usage-port", 2),
    ];
    for (args, name, code) in cases {
        let (v, got) = error(&sb, args);
        assert_eq!(got, code, "{args:?}: {v}");
        golden(name, &v);
    }
    // A negative answer is 1, not an error: the same command, reachable or not.
    assert_eq!(sb.vpcctl(&["test-connectivity", "vpc1", "web", "10.10.1.1"]).code, 0);
    assert_eq!(sb.vpcctl(&["test-connectivity", "vpc1", "web", "10.10.9.9"]).code, 1);
    // Not root: 4, and the same words either way.
    let out = sb.sh("setpriv --reuid 65534 --regid 65534 --clear-groups $VPCCTL delete vpc1");
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("must run as root"), "{out:?}");
    // A system failure (iptables-restore is missing) is 3.
    let out = sb.sh("mkdir -p /run/vpcctl-sandbox/noipt; ln -sf $(command -v ip) /run/vpcctl-sandbox/noipt/ip; PATH=/run/vpcctl-sandbox/noipt $VPCCTL create-vpc vpc2 10.20.0.0/16 --no-dns");
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("iptables") && out.stderr.contains("apt-get install"), "{out:?}");
}

#[test]
fn completions_man_page_and_graph() {
    let sb = sandbox!();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = sb.v(&["completions", shell]);
        assert!(out.contains("COMPLETE") && out.contains("vpcctl"), "{shell}: the dynamic registration\n{out}");
    }
    // The registration asks vpcctl at each TAB: commands, flags, and the
    // names of what exists now.
    sb.v(&["create-vpc", "shop", "10.30.0.0/16", "--no-dns"]);
    let ask = |words: &str, index: usize| {
        sb.ok(&format!(
            "COMPLETE=bash _CLAP_COMPLETE_INDEX={index} _CLAP_COMPLETE_COMP_TYPE=9 _CLAP_COMPLETE_SPACE=true $VPCCTL -- vpcctl {words}"
        ))
    };
    let top = ask("''", 1);
    assert!(top.contains("create-vpc") && top.contains("test-connectivity") && !top.contains("serve"), "{top}");
    assert!(ask("inspect ''", 2).lines().any(|l| l == "shop"), "VPC names complete");
    assert!(ask("delete --name ''", 3).lines().any(|l| l == "shop"));
    sb.v(&["delete", "shop"]);
    let man = sb.v(&["man"]);
    assert!(man.starts_with(".ie") || man.contains(".TH vpcctl 1"), "{}", &man[..200.min(man.len())]);
    for sub in ["create-vpc", "add-subnet", "apply", "plan", "repair", "check", "graph", "test-connectivity"] {
        assert!(man.contains(&format!(".SS \"vpcctl {sub}\"")), "man page lacks {sub}");
    }
    // groff reads it without a warning, where groff is installed.
    let rendered = sb.sh("command -v groff >/dev/null || exit 0; $VPCCTL man | groff -man -Tutf8 -ww 2>&1 >/dev/null");
    assert!(rendered.ok() && rendered.stdout.trim().is_empty(), "{rendered:?}");
    let file = sb.file(
        "net.json",
        r#"{"vpcs": {"vpc1": {"cidr": "10.10.0.0/16", "nat": {"interface": "uplink0"}, "subnets": {"web": {"cidr": "10.10.1.0/24", "public": true}}},
            "vpc2": {"cidr": "10.20.0.0/16", "subnets": {"api": {"cidr": "10.20.1.0/24"}}}},
            "peerings": [{"vpcs": ["vpc1", "vpc2"], "allow_cidrs": ["10.10.1.0/24", "10.20.1.0/24"]}]}"#,
    );
    sb.v(&["apply", "-f", &file]);
    let dot = sb.v(&["graph"]);
    assert!(dot.starts_with("digraph vpcctl {") && dot.contains("cluster_vpc1") && dot.contains("cluster_vpc2"), "{dot}");
    assert!(dot.contains("NAT for web") && dot.contains(r"only 10.10.1.0/24, 10.20.1.0/24"), "{dot}");
    // Graphviz accepts it, where it is installed.
    let svg = sb.sh("command -v dot >/dev/null || exit 0; $VPCCTL graph | dot -Tsvg >/dev/null");
    assert!(svg.ok(), "{svg:?}");
    assert_eq!(sb.vpcctl(&["graph", "--vpc", "nope"]).code, 2);
}
