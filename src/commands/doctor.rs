//! doctor: is this host ready, and does the kernel match recorded state?

use std::collections::HashSet;

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::kernel::host;
use crate::kernel::observe::{self, Observed};
use crate::model::Name;
use crate::model::State;
use crate::plan::repair::assess;
use crate::state::Store;

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
    /// The VPC (and subnet) a difference belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc: Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet: Option<Name>,
}

fn check(level: Level, what: impl Into<String>, fix: Option<String>) -> Check {
    Check { level, what: what.into(), fix, vpc: None, subnet: None }
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
            Err(_) => check(Level::Fail, format!("{prog} not found on PATH"), Some(crate::kernel::host::install_hint(prog).into())),
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
    match Store::open_readonly(&ctx.state_dir).load() {
        Err(e) => checks.push(check(Level::Fail, e.to_string(), None)),
        Ok(_) if !root => checks.push(check(Level::Info, "the kernel was not compared with the record (needs root)", None)),
        Ok(state) => match observe::observe(&state) {
            Ok(obs) => {
                checks.extend(service_checks(ctx, &state));
                let policy = obs.tables.iter().find(|t| t.name == "filter").and_then(forward_policy).unwrap_or("?".into());
                checks.push(check(
                    Level::Info,
                    format!("FORWARD policy is {policy}; fine either way: vpcctl decides its own traffic in its own chains"),
                    None,
                ));
                checks.extend(compare(&state, &obs));
            }
            Err(e) => checks.push(check(Level::Fail, format!("cannot read the kernel's state: {e:#}"), None)),
        },
    }
    print_checks(ctx, &checks)?;
    Ok(if checks.iter().any(|c| c.level == Level::Fail) { 1 } else { 0 })
}

fn print_checks(ctx: &Ctx, checks: &[Check]) -> Result<()> {
    if ctx.json {
        ctx.doc(checks)?;
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
            outln!("[{tag}] {}", c.what);
            if let Some(fix) = &c.fix {
                outln!("       fix: {fix}");
            }
        }
    }
    Ok(())
}

/// The helpers' programs, where the record needs them, and helpers of
/// this state dir that no record names (from a lost state file).
fn service_checks(ctx: &Ctx, state: &State) -> Vec<Check> {
    let mut checks = vec![];
    let needs = [
        ("dnsmasq", state.vpcs.iter().any(|v| v.dns.is_some()), "the VPC resolvers"),
        ("ulogd", state.host.flow_logs.is_some(), "the flow-log collector"),
    ];
    for (prog, _, what) in needs.into_iter().filter(|n| n.1) {
        checks.push(match which::which(prog) {
            Ok(p) => check(Level::Ok, format!("{prog} found at {} (for {what})", p.display()), None),
            Err(_) => check(Level::Fail, format!("{prog} not found on PATH; {what} cannot run"), Some(host::install_hint(prog).into())),
        });
    }
    let users = [(crate::helpers::apps::DNS_USER, needs[0].1, "resolvers"), (crate::helpers::apps::FLOWLOG_USER, needs[1].1, "log daemon")];
    for (user, _, what) in users.into_iter().filter(|u| u.1) {
        if crate::helpers::apps::helper_user(user) != user {
            checks.push(check(
                Level::Warn,
                format!("no user {user}: the {what} run as nobody, which other daemons (and apps run with --user nobody) share"),
                Some(format!("useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin {user}")),
            ));
        }
    }
    let recorded: HashSet<u32> = state
        .vpcs
        .iter()
        .filter_map(|v| v.dns.as_ref().map(|r| r.process.pid))
        .chain(state.host.flow_logs.as_ref().map(|c| c.process.pid))
        .collect();
    for pid in crate::helpers::apps::orphaned_helpers(&ctx.state_dir).into_iter().filter(|p| !recorded.contains(p)) {
        checks.push(check(
            Level::Warn,
            format!("process {pid} is a vpcctl helper of this state dir that no record names (a lost state file?)"),
            Some(format!("kill {pid}, or vpcctl teardown-all")),
        ));
    }
    checks
}

fn backend_checks() -> Vec<Check> {
    let Some(b) = host::iptables_backend() else { return vec![] };
    let (ours, other) = if b.nft { ("nft", "legacy") } else { ("legacy", "nft") };
    let mut checks = vec![check(Level::Info, format!("iptables backend: {ours} ({})", b.version), None)];
    if b.other_has_rules {
        checks.push(check(
            Level::Warn,
            format!("the host also has rules in the {other} backend, which vpcctl (using {ours}) does not see"),
            Some(format!("make 'iptables' the {other} one: update-alternatives --set iptables /usr/sbin/iptables-{other}")),
        ));
    }
    checks
}

fn forward_policy(t: &crate::plan::iptables::TableDump) -> Option<String> {
    t.policies.iter().find(|(c, _)| c == "FORWARD").map(|(_, p)| p.clone())
}

/// Every difference between the record and the kernel (see
/// `plan::repair`), and vpcctl-looking kernel objects the record lacks.
pub fn compare(state: &State, obs: &Observed) -> Vec<Check> {
    let mut checks: Vec<Check> = assess(state, obs)
        .drifts
        .into_iter()
        .map(|d| Check { level: Level::Fail, what: d.to_string(), fix: Some("vpcctl repair".into()), vpc: d.vpc, subnet: d.subnet })
        .collect();
    if state.host.in_progress {
        checks.push(check(
            Level::Warn,
            "the last change did not finish (killed or failed half-way)",
            Some("run the same command again, or 'vpcctl repair' to rebuild what is recorded".into()),
        ));
    }
    use crate::plan::{firewall, iptables, spoof};
    let tops = [firewall::forward_chain(state), firewall::input_chain(state), firewall::postrouting_chain(state)];
    let expected = firewall::chains(state);
    let mut orphans: Vec<(&str, &str)> =
        obs.tables.iter().flat_map(|t| iptables::orphans(t, &expected, &tops)).map(|c| ("iptables", c)).collect();
    let bridge = iptables::parse_save(&obs.bridge);
    let expected: HashSet<String> = spoof::chains(state).into_iter().collect();
    orphans.extend(bridge.iter().flat_map(|t| iptables::orphans(t, &expected, &[spoof::dispatch_chain(state)])).map(|c| ("ebtables", c)));
    orphans.sort();
    for (family, c) in orphans {
        checks.push(check(
            Level::Warn,
            format!("{family} chain {c} is not in vpcctl's state (orphaned)"),
            Some("vpcctl teardown-all removes vpcctl chains once no VPC is recorded".into()),
        ));
    }
    let recorded: HashSet<&str> = state
        .vpcs
        .iter()
        .flat_map(|v| std::iter::once(v.bridge.as_str()).chain(v.subnets.iter().flat_map(|s| [s.veth.as_str(), s.namespace.as_str()])))
        .collect();
    // With another state dir active, what this one does not record may be
    // that dir's: say so, and do not call it a problem.
    let forward: Vec<String> = crate::plan::iptables::chain_rules(&obs.tables, "filter", "FORWARD").into_iter().map(String::from).collect();
    let shared = firewall::other_dirs(&forward, &firewall::forward_chain(state)).active;
    let (level, why) = if shared { (Level::Info, "another state dir's, or orphaned") } else { (Level::Warn, "orphaned?") };
    for ns in host::netns_list().iter().filter(|n| n.starts_with("ns-") && !recorded.contains(n.as_str())) {
        checks.push(check(
            level,
            format!("namespace {ns} looks like vpcctl's but is not recorded here ({why})"),
            Some(format!("ip netns del {ns}")),
        ));
    }
    let mut links: Vec<&String> = obs.links.keys().collect();
    links.sort();
    for l in links.into_iter().filter(|l| (l.starts_with("br-") || l.starts_with("v-")) && !recorded.contains(l.as_str())) {
        checks.push(check(
            level,
            format!("link {l} looks like vpcctl's but is not recorded here ({why})"),
            Some(format!("ip link del {l}")),
        ));
    }
    if checks.iter().all(|c| c.level == Level::Info) {
        checks.push(check(Level::Ok, format!("the kernel matches the record ({} VPC(s))", state.vpcs.len()), None));
    }
    checks
}
