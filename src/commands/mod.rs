//! Command orchestration: lock state, validate, plan, record, apply, save.
//! Everything that decides *what* to do lives in `model` and `plan`.

pub mod app;
pub mod approve;
pub mod check;
pub mod connectivity;
pub mod doctor;
pub mod expose;
pub mod fabric;
pub mod flow_logs;
pub mod graph;
pub mod import;
pub mod instances;
pub mod nacl;
pub mod nat;
pub mod peering;
pub mod policy;
pub mod repair;
pub mod routing;
pub mod show;
pub mod subnet;
pub mod topology;
pub mod vpc;

use anyhow::Result;

pub use crate::engine::{Ctx, collect_errors, require_root};
use crate::kernel::host;
use crate::model::State;
use crate::state::Store;

/// The uplink named, or the default route's interface (then `true`);
/// never one of ours. `purpose` ends the no-default-route error's "there
/// is no uplink" (" to NAT through").
pub fn uplink(ctx: &Ctx, state: &State, given: Option<String>, purpose: &str) -> Result<(String, bool)> {
    let (iface, chosen) = match given {
        Some(i) => (i, false),
        None => (
            host::default_route_interface().ok_or_else(|| {
                crate::error::InputError::Invalid(format!(
                    "this host has no default route, so there is no uplink{purpose}; name one with --interface IF (see 'ip -br link')"
                ))
            })?,
            true,
        ),
    };
    crate::model::validate::nat_interface(state, &iface, ctx.dry_run || host::link_exists(&iface))?;
    Ok((iface, chosen))
}

/// The host's routes and addresses that vpcctl did not make (a recorded
/// subnet's route and gateway, on its VPC's bridge): what a new range must
/// stay clear of. Anything else, on our bridges too, is the host's.
pub fn host_nets(state: &State) -> crate::model::validate::HostNets {
    use std::collections::HashSet;
    let subnets = state.vpcs.iter().flat_map(|v| v.subnets.iter().map(move |s| (v.bridge.as_str(), s)));
    let routes: HashSet<(&str, ipnet::Ipv4Net)> = subnets.clone().map(|(b, s)| (b, s.cidr)).collect();
    let gateways: HashSet<(&str, std::net::Ipv4Addr)> = subnets.map(|(b, s)| (b, s.gateway)).collect();
    crate::model::validate::HostNets {
        routes: host::routes().into_iter().filter(|(dev, n)| !routes.contains(&(dev.as_str(), *n))).collect(),
        addrs: host::local_addresses().into_iter().filter(|(dev, a)| !gateways.contains(&(dev.as_str(), *a))).collect(),
    }
}

/// Resolver addresses a new VPC must not take: this state's, and any
/// address the host has (another state dir's resolvers, say).
pub fn resolvers_taken(state: &State) -> Vec<std::net::Ipv4Addr> {
    let mut taken = crate::model::Vpc::resolver_addresses(&state.vpcs);
    taken.extend(host::local_addresses().into_iter().map(|(_, a)| a));
    taken
}

/// One edit of the recorded state (an `aws ec2`-style command): made on a
/// copy, committed unless it changed nothing, and reported with `shown`.
pub fn edit_and_commit(
    ctx: &Ctx,
    edit: impl FnOnce(&mut State) -> Result<String>,
    shown: impl Fn(&State) -> serde_json::Value,
) -> Result<()> {
    let store = ctx.open()?;
    let before = store.load()?;
    let mut after = before.clone();
    let msg = edit(&mut after)?;
    // After a run killed half-way, the same command again finishes it.
    let unchanged = after == before && !before.host.in_progress;
    let after = if unchanged { after } else { crate::engine::commit(ctx, &store, &before, after)? };
    ctx.report(format!("{msg}{}", if unchanged { " (unchanged)" } else { "" }), shown(&after));
    Ok(())
}

/// Kernel names that state does not record must not exist on the host:
/// a link or namespace in the way is someone else's. Dry runs skip it.
pub fn names_free(ctx: &Ctx, state: &State, links: &[&str], namespaces: &[&str]) -> Result<()> {
    if ctx.dry_run {
        return Ok(());
    }
    let recorded = state.taken_names();
    for l in links.iter().filter(|l| !recorded.contains(**l)) {
        if host::link_exists(l) {
            return Err(unrecorded("interface", l, &format!("ip link del {l}")).into());
        }
    }
    for n in namespaces.iter().filter(|n| !recorded.contains(**n)) {
        if host::netns_exists(n) {
            return Err(unrecorded("network namespace", n, &format!("ip netns del {n}")).into());
        }
    }
    Ok(())
}

/// A kernel object is in the way that state does not know about.
pub fn unrecorded(what: &str, name: &str, fix: &str) -> crate::error::InputError {
    crate::error::InputError::Conflict(format!(
        "{what} {name} already exists on this host but vpcctl has no record of it; \
         remove it if it is left over ('{fix}') or choose another name"
    ))
}

/// Why `exec` could not run the command: docker run's exit codes.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("{0:?} was not found (looked on PATH: {1}); install it or give its full path")]
    NotFound(String, String),
    #[error("{0:?} cannot be run: {1}")]
    CannotRun(String, String),
}

impl ExecError {
    pub fn code(&self) -> i32 {
        match self {
            ExecError::NotFound(..) => 127,
            ExecError::CannotRun(..) => 126,
        }
    }
}

pub fn run_exec(ctx: &Ctx, req: crate::cli::req::Exec) -> Result<i32> {
    use std::os::unix::process::CommandExt;
    let command = &req.command;
    let state = Store::open_readonly(&ctx.state_dir).load()?;
    let s = state.find_host(&req.at.vpc, &req.at.subnet)?;
    if ctx.dry_run {
        ctx.print_header();
        outln!("ip netns exec {} {}", s.namespace, crate::plan::shell_words(command));
        return Ok(0);
    }
    require_root()?;
    // Found here, so "not found" is 127 and not ip's own 255. The namespace
    // shares this filesystem, so the lookup is the one it would make.
    let prog = &command[0];
    let path = std::env::var("PATH").unwrap_or_default();
    which::which(prog).map_err(|_| ExecError::NotFound(prog.clone(), path))?;
    let ip = crate::kernel::host::resolve("ip")?;
    let err = std::process::Command::new(ip).args(["netns", "exec", &s.namespace]).args(command).exec();
    Err(ExecError::CannotRun(prog.clone(), err.to_string()).into())
}
