//! Issue: import the AWS network a user already has. `vpcctl import
//! terraform` reads what `terraform show -json` prints (documents written by
//! hand to that format: examples/terraform/show.json, a state, and
//! tests/terraform/, a saved plan and a terraform-aws-modules/vpc layout),
//! and the imported network is applied and checked with real packets.

#[macro_use]
mod common;

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

fn repo(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel).display().to_string()
}

/// `vpcctl import ...` outside a sandbox: it reads a file and prints one.
fn import(args: &[&str]) -> common::Out {
    let out = Command::new(common::BIN).arg("import").args(args).output().expect("run vpcctl");
    common::Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn imported(args: &[&str]) -> (Value, String) {
    let out = import(args);
    assert!(out.ok(), "{args:?}\n{out:?}");
    (serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout)), out.stderr)
}

/// The three-tier state: an internet gateway, a NAT gateway with an EIP,
/// three route tables, groups that name groups, a NACL on the database
/// subnet, instances at fixed addresses.
#[test]
fn an_imported_state_is_applied_and_its_packets_obey_it() {
    let sb = sandbox!();
    sb.docker_like_host();
    let before = sb.snapshot();
    let show = repo("examples/terraform/show.json");
    let out = sb.v(&["import", "terraform", &show, "--out", "/run/vpcctl-sandbox/net.json"]);
    assert!(out.contains("wrote /run/vpcctl-sandbox/net.json"), "{out}");
    let stderr = sb.vpcctl(&["import", "terraform", &show]).stderr;
    assert_eq!(stderr.trim(), "not imported: aws_s3_bucket.logs", "what is not a network resource is listed, not refused");
    sb.v(&["apply", "-f", "/run/vpcctl-sandbox/net.json", "--auto-approve"]);
    // A second import gives the same file, and nothing to do.
    sb.v(&["import", "terraform", &show, "--out", "/run/vpcctl-sandbox/again.json"]);
    assert_eq!(sb.ok("cat /run/vpcctl-sandbox/net.json"), sb.ok("cat /run/vpcctl-sandbox/again.json"));
    let plan = sb.vpcctl(&["plan", "-f", "/run/vpcctl-sandbox/again.json", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{plan:?}");

    // Apps are not in Terraform: deployed by hand on the instances.
    sb.v(&["deploy-app", "--vpc", "shop", "--instance", "web1", "--port", "80"]);
    sb.v(&["deploy-app", "--vpc", "shop", "--instance", "app1", "--port", "8080"]);
    sb.v(&["deploy-app", "--vpc", "shop", "--instance", "db1", "--port", "5432"]);
    let curl = |ns: &str, url: &str| sb.curl(ns, url);
    // The internet sees the NAT gateway's EIP; the public subnet, the uplink's address.
    assert!(curl("i-shop-app1", "http://198.51.100.80/").expect("app1 goes out").contains("you are 203.0.113.20"));
    // web1 has an EIP of its own (aws_eip_association): the internet sees it, and reaches web1 there.
    assert!(curl("i-shop-web1", "http://198.51.100.80/").expect("web1 goes out").contains("you are 203.0.113.21"));
    // The database subnet has no internet.
    assert_eq!(curl("i-shop-db1", "http://198.51.100.80/"), None);
    // The groups admit exactly what they say.
    assert!(curl("i-shop-web1", "http://10.50.2.10:8080/").is_some(), "app admits web");
    assert!(curl("i-shop-app1", "http://10.50.3.10:5432/").is_some(), "db admits app");
    assert_eq!(curl("i-shop-web1", "http://10.50.3.10:5432/"), None, "db does not admit web");
    assert_eq!(curl("ns-shop-public", "http://10.50.2.10:8080/"), None, "app admits no one else");
    assert!(curl("i-shop-app1", "http://10.50.1.10/").is_some(), "web admits port 80 from anywhere");
    assert!(sb.sh("ip netns exec internet curl -s -m 2 -o /dev/null http://203.0.113.21/").ok(), "the internet reaches web1 at its EIP");
    assert!(
        !sb.sh("ip netns exec internet curl -s -m 2 -o /dev/null http://203.0.113.20:8080/").ok(),
        "nothing comes in through the NAT gateway's EIP"
    );
    // No private address leaks.
    assert_eq!(sb.leaked(), 0);
    sb.v(&["teardown-all", "--auto-approve"]);
    assert_eq!(sb.snapshot(), before);
}

#[test]
fn a_saved_plan_links_by_references_and_says_what_it_cannot_know() {
    let (state, _) = imported(&["terraform", &repo("examples/terraform/show.json")]);
    let (plan, stderr) = imported(&["terraform", &repo("tests/terraform/three-tier-plan.json")]);
    // Every link (vpc_id, subnet_id, route targets, group references,
    // associations, the NACL's subnets) came from references: the same
    // network, except the EIP, which a plan does not know yet.
    let mut expected = state.clone();
    expected["vpcs"]["shop"]["nat_gateways"]["ngw"].as_object_mut().unwrap().remove("eip");
    expected["vpcs"]["shop"].as_object_mut().unwrap().remove("eip");
    assert_eq!(plan, expected);
    assert!(stderr.contains("aws_nat_gateway.ngw: its EIP aws_eip.nat has no address yet"), "{stderr}");
    assert!(stderr.contains("aws_eip_association.web: aws_eip.web has no address yet"), "{stderr}");
    assert_eq!(
        state["vpcs"]["shop"]["security_groups"]["db"],
        json!({"ingress": [{"protocol": "tcp", "port": 5432, "source_group": "app"}], "egress": []})
    );
}

#[test]
fn a_count_indexed_module_layout_imports() {
    let (topo, stderr) = imported(&["terraform", &repo("tests/terraform/vpc-module-state.json")]);
    assert!(stderr.contains("not imported: data.aws_availability_zones.available"), "{stderr}");
    let v = &topo["vpcs"]["my-vpc"];
    assert_eq!(v["cidr"], "10.60.0.0/16");
    assert_eq!(v["subnets"]["my-vpc-private-eu-west-1b"]["cidr"], "10.60.2.0/24");
    assert_eq!(v["subnets"]["my-vpc-public-eu-west-1a"]["public"], true);
    // Each zone's private table routes to that zone's NAT gateway, by index.
    assert_eq!(
        v["route_tables"]["my-vpc-private-eu-west-1b"],
        json!({"routes": [{"destination": "0.0.0.0/0", "nat_gateway": "my-vpc-eu-west-1b"}], "subnets": ["my-vpc-private-eu-west-1b"]})
    );
    assert_eq!(v["nat_gateways"]["my-vpc-eu-west-1b"], json!({"subnet": "my-vpc-public-eu-west-1b", "eip": "203.0.113.32"}));
    assert_eq!(v["route_tables"]["my-vpc-public"]["subnets"], json!(["my-vpc-public-eu-west-1a", "my-vpc-public-eu-west-1b"]));
}

#[test]
fn bad_documents_are_refused_with_the_resource_address() {
    let scratch = std::env::temp_dir().join(format!("vpcctl-import-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let show: Value = serde_json::from_str(&std::fs::read_to_string(repo("examples/terraform/show.json")).unwrap()).unwrap();
    let write = |name: &str, doc: &Value| {
        let p = scratch.join(name);
        std::fs::write(&p, doc.to_string()).unwrap();
        p.display().to_string()
    };
    fn db_subnet(doc: &mut Value) -> &mut Value {
        let list = doc["values"]["root_module"]["resources"].as_array_mut().unwrap();
        list.iter_mut().find(|r| r["address"] == "aws_subnet.db").unwrap()
    }
    let mut outside = show.clone();
    db_subnet(&mut outside)["values"]["cidr_block"] = json!("10.99.3.0/24");
    let mut dangling = show.clone();
    db_subnet(&mut dangling)["values"]["vpc_id"] = json!("vpc-gone");
    let cases = [
        (write("outside.json", &outside), "aws_subnet.db: subnet CIDR 10.99.3.0/24 is not inside VPC 'shop'"),
        (write("dangling.json", &dangling), "aws_subnet.db: names no aws_vpc of this document in vpc_id"),
        (write("other.json", &json!({"format_version": "1.0"})), "neither a state"),
    ];
    for (file, needle) in &cases {
        let out = import(&["terraform", file]);
        assert_eq!(out.code, 2, "{file}: {out:?}");
        assert!(out.stderr.contains(needle) && out.stdout.is_empty(), "{file}: {out:?}");
    }
    let strict = import(&["terraform", &repo("examples/terraform/show.json"), "--strict"]);
    assert!(
        strict.code == 2
            && strict.stderr.contains("--strict: 1 resource(s) are not imported")
            && strict.stderr.contains("aws_s3_bucket.logs"),
        "{strict:?}"
    );
    let _ = std::fs::remove_dir_all(&scratch);
}
