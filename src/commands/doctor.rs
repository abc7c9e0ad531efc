//! doctor: is this host ready, and does the kernel match recorded state?

use std::collections::HashSet;

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::host;
use crate::iptables::parse_save;
use crate::plan::firewall::{FORWARD_CHAIN, POSTROUTING_CHAIN};
use crate::state::{State, Store};

#[derive(Debug, Serialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Info,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub level: Level,
    pub what: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn check(level: Level, what: impl Into<String>, fix: Option<String>) -> Check {
    Check { level, what: what.into(), fix }
}

/// Returns the exit code: 1 if anything failed.
pub fn run(ctx: &Ctx) -> Result<i32> {
    let mut checks = vec![];
    let root = host::is_root();
    checks.push(if root {
        check(Level::Ok, "running as root", None)
    } else {
        check(Level::Fail, "not running as root", Some("sudo vpcctl doctor".into()))
    });
    for prog in ["ip", "iptables", "iptables-restore", "iptables-save"] {
        checks.push(match which::which(prog) {
            Ok(p) => check(Level::Ok, format!("{prog} found at {}", p.display()), None),
            Err(_) => check(Level::Fail, format!("{prog} not found on PATH"), Some(crate::runner::install_hint(prog).into())),
        });
    }
    checks.extend(backend_checks());
    let fwd = host::read_sysctl("net.ipv4.ip_forward").unwrap_or_else(|_| "?".into());
    checks.push(check(
        Level::Info,
        format!("net.ipv4.ip_forward = {fwd} (vpcctl sets 1 while VPCs exist and restores the old value after)"),
        None,
    ));
    match host::read_sysctl("net.bridge.bridge-nf-call-iptables") {
        Ok(v) => checks.push(check(
            Level::Info,
            format!("br_netfilter loaded (bridge-nf-call-iptables = {v}); fine: vpcctl accepts intra-VPC traffic explicitly"),
            None,
        )),
        Err(_) => checks.push(check(Level::Info, "br_netfilter not loaded; fine either way", None)),
    }
    let state = Store::open_readonly(&ctx.state_dir).load();
    let dump = if root { host::iptables_save().ok() } else { None };
    if let Some(d) = &dump {
        let policy = parse_policy(d, "filter", "FORWARD").unwrap_or_else(|| "?".into());
        checks.push(check(
            Level::Info,
            format!("FORWARD policy is {policy}; fine either way: vpcctl decides its own traffic in its own chains"),
            None,
        ));
    }
    match state {
        Ok(state) => checks.extend(compare(&state, dump.as_deref())),
        Err(e) => checks.push(check(Level::Fail, e.to_string(), None)),
    }
    print_checks(ctx, &checks)?;
    Ok(if checks.iter().any(|c| c.level == Level::Fail) { 1 } else { 0 })
}

fn print_checks(ctx: &Ctx, checks: &[Check]) -> Result<()> {
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(checks)?);
        return Ok(());
    }
    for c in checks {
        let tag = match c.level {
            Level::Ok => "ok  ",
            Level::Info => "info",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        };
        if !ctx.quiet || matches!(c.level, Level::Warn | Level::Fail) {
            println!("[{tag}] {}", c.what);
            if let Some(fix) = &c.fix {
                println!("       fix: {fix}");
            }
        }
    }
    Ok(())
}

fn backend_checks() -> Vec<Check> {
    let Ok(out) = std::process::Command::new("iptables").arg("-V").output() else { return vec![] };
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let ours = if version.contains("nf_tables") { "nft" } else { "legacy" };
    let mut checks = vec![check(Level::Info, format!("iptables backend: {ours} ({version})"), None)];
    let other = if ours == "nft" { "iptables-legacy-save" } else { "iptables-nft-save" };
    if let Ok(out) = std::process::Command::new(other).output() {
        let text = String::from_utf8_lossy(&out.stdout);
        if text.lines().any(|l| l.starts_with("-A ")) {
            let other_name = if ours == "nft" { "legacy" } else { "nft" };
            checks.push(check(
                Level::Warn,
                format!("the host also has rules in the {other_name} backend, which vpcctl (using {ours}) does not see"),
                Some(format!("make 'iptables' the {other_name} one: update-alternatives --set iptables /usr/sbin/iptables-{other_name}")),
            ));
        }
    }
    checks
}

fn parse_policy(dump: &str, table: &str, chain: &str) -> Option<String> {
    let mut in_table = false;
    for line in dump.lines() {
        if let Some(name) = line.strip_prefix('*') {
            in_table = name == table;
        } else if in_table {
            if let Some(rest) = line.strip_prefix(&format!(":{chain} ")) {
                return rest.split_whitespace().next().map(str::to_string);
            }
        }
    }
    None
}

/// Recorded resources missing from the kernel, and vpcctl-looking kernel
/// objects missing from state.
pub fn compare(state: &State, dump: Option<&str>) -> Vec<Check> {
    let mut checks = vec![];
    let links: HashSet<String> = host::link_list().into_iter().collect();
    let namespaces: HashSet<String> = host::netns_list().into_iter().collect();
    let chains: Option<HashSet<String>> =
        dump.map(|d| parse_save(d).iter().flat_map(|t| t.our_chains().into_iter().map(String::from)).collect());
    let mut expected_chains: HashSet<String> = HashSet::new();
    for v in &state.vpcs {
        let redo = format!("vpcctl delete {0} && vpcctl create-vpc {0} {1} (then re-add its subnets)", v.name, v.cidr);
        if !links.contains(&v.bridge) {
            checks.push(check(Level::Fail, format!("VPC '{}': bridge {} is missing", v.name, v.bridge), Some(redo.clone())));
        }
        expected_chains.insert(v.chain.clone());
        if v.nat.is_some() {
            expected_chains.insert(crate::model::naming::vpc_nat_chain(&v.bridge));
        }
        for s in &v.subnets {
            let fix = Some(format!(
                "vpcctl delete-subnet --vpc {0} --name {1} && vpcctl add-subnet {0} {1} {2} --type {3}",
                v.name, s.name, s.cidr, s.kind
            ));
            if !namespaces.contains(&s.namespace) {
                checks.push(check(Level::Fail, format!("subnet '{}/{}': namespace {} is missing", v.name, s.name, s.namespace), fix.clone()));
            }
            if !links.contains(&s.veth) {
                checks.push(check(Level::Fail, format!("subnet '{}/{}': veth {} is missing", v.name, s.name, s.veth), fix));
            }
        }
    }
    if !state.vpcs.is_empty() {
        expected_chains.insert(FORWARD_CHAIN.into());
    }
    if state.vpcs.iter().any(|v| v.nat.is_some()) {
        expected_chains.insert(POSTROUTING_CHAIN.into());
    }
    if let Some(chains) = &chains {
        for c in expected_chains.difference(chains) {
            checks.push(check(
                Level::Fail,
                format!("iptables chain {c} is missing"),
                Some("recreate the VPC it belongs to (vpcctl delete NAME, then create it again)".into()),
            ));
        }
        for c in chains.difference(&expected_chains) {
            checks.push(check(
                Level::Warn,
                format!("iptables chain {c} is not in vpcctl's state (orphaned)"),
                Some("vpcctl teardown-all removes vpcctl chains once no VPC is recorded".into()),
            ));
        }
    }
    let recorded: HashSet<&str> = state
        .vpcs
        .iter()
        .flat_map(|v| std::iter::once(v.bridge.as_str()).chain(v.subnets.iter().flat_map(|s| [s.veth.as_str(), s.namespace.as_str()])))
        .collect();
    for ns in namespaces.iter().filter(|n| n.starts_with("ns-") && !recorded.contains(n.as_str())) {
        checks.push(check(Level::Warn, format!("namespace {ns} looks like vpcctl's but is not recorded (orphaned?)"), Some(format!("ip netns del {ns}"))));
    }
    for l in links.iter().filter(|l| (l.starts_with("br-") || l.starts_with("v-")) && !recorded.contains(l.as_str())) {
        checks.push(check(Level::Warn, format!("link {l} looks like vpcctl's but is not recorded (orphaned?)"), Some(format!("ip link del {l}"))));
    }
    if checks.is_empty() {
        checks.push(check(Level::Ok, format!("state matches the kernel ({} VPC(s))", state.vpcs.len()), None));
    }
    checks
}
