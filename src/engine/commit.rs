//! The one change path. Every command that changes something computes the
//! state it wants and hands it here:
//!
//! 1. plan `before -> after` (pure: `plan::diff`), probing only what state
//!    cannot tell (base jumps, policy jumps);
//! 2. record the change as in progress (`diff::in_progress`), so a run
//!    killed at any instant leaves state from which the next run finishes;
//! 3. stop apps that go, run the plan, start apps that come (recorded
//!    before waiting for them to listen);
//! 4. on failure, converge back to `before`; on success, save `after` with
//!    everything ready.
//!
//! Nothing changes, and nothing is written, when `after` equals `before`.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};

use super::{Ctx, collect_errors};
use crate::helpers::apps::{self, Ready};
use crate::helpers::flowlogs;
use crate::helpers::resolver;
use crate::helpers::wireguard;
use crate::kernel::host;
use crate::model::Name;
use crate::model::State;
use crate::plan::diff::{self, Facts};
use crate::plan::firewall::BasePresence;
use crate::plan::policy::{INGRESS_CHAIN, jump_args};
use crate::plan::vpc::IP_FORWARD;
use crate::state::Store;

/// Converge the kernel from `before` (what state records) to `after`.
/// Returns the state now recorded.
pub fn commit(ctx: &Ctx, store: &Store, before: &State, after: State) -> Result<State> {
    commit_inner(ctx, store, before, after, true)
}

fn commit_inner(ctx: &Ctx, store: &Store, before: &State, mut after: State, may_roll_back: bool) -> Result<State> {
    let force_all = before.host.in_progress;
    after.host.in_progress = false;
    if after.vpcs.is_empty() {
        after.host.ip_forward_before = None;
        after.fabric = None;
    }
    // The collector runs while some VPC has flow logs, and only then.
    if !after.vpcs.iter().any(|v| v.flow_logs) {
        after.host.flow_logs = None;
    }
    if !force_all && *before == after {
        return Ok(after);
    }
    let first = !after.vpcs.is_empty() && (before.vpcs.is_empty() || force_all);
    let last = after.vpcs.is_empty() && !before.vpcs.is_empty();
    let ip_forward = if (first || last) && !ctx.dry_run {
        host::read_sysctl(IP_FORWARD).with_context(|| format!("cannot read {IP_FORWARD}"))?
    } else {
        "1".to_string()
    };
    let facts = facts(ctx, before, &after, force_all, ip_forward.clone())?;
    if before.vpcs.is_empty() && !after.vpcs.is_empty() {
        // Another state dir started first: what the host had is what it saw.
        after.host.ip_forward_before = Some(facts.others.ip_forward_before.clone().unwrap_or(ip_forward));
    }
    let started = if ctx.dry_run { None } else { wireguard::start(ctx, &mut after)? };
    let change = diff::change(before, &after, &facts);
    if ctx.dry_run {
        print_change(ctx, &change, &after);
        return Ok(after);
    }
    let progress = crate::out::Progress::new(|| diff::edits(before, &after).len(), ctx.quiet || ctx.json);
    progress.phase(format!("{} kernel step(s)", change.plan.steps.len()));
    store.save(&change.in_progress)?;
    for (pid, start) in &change.stops {
        apps::stop(*pid, *start);
    }
    for log in &change.app_logs {
        apps::end_cgroup(log);
    }
    if let Some(c) = &change.collector_stop {
        // What it has summed so far is written before it goes.
        flowlogs::flush(&c.dir);
        apps::stop(c.process.pid, c.process.start_time);
    }
    let soft = match ctx.apply(&change.plan) {
        Ok(soft) => soft,
        Err(e) => {
            if let Some(h) = &started {
                apps::stop(h.pid, h.start_time);
            }
            return Err(if may_roll_back { roll_back(ctx, store, &change.in_progress, before, e.into()) } else { e.into() });
        }
    };
    wireguard::stop_replaced(before, &change.done);
    // Teardown errors: what failed to go stays recorded (pending), so the
    // same command, run again, finishes the job.
    collect_errors("removing what goes", soft)?;
    progress.phase("starting resolvers, collectors and apps");
    let mut done = change.done;
    match start_helpers(ctx, store, &change.resolvers_to_start, &change.apps_to_start, &mut done) {
        Ok(()) => Ok(done),
        Err(e) if may_roll_back => Err(roll_back(ctx, store, &done, before, e)),
        Err(e) => Err(e),
    }
}

/// A dry run's script: what a real run would stop, run and start.
fn print_change(ctx: &Ctx, change: &diff::Change, after: &State) {
    ctx.print_header();
    for (pid, _) in &change.stops {
        // Gone already is fine: the script goes on (it runs under set -e).
        outln!("kill -TERM -- -{pid} 2>/dev/null || true");
    }
    ctx.print_script(&change.plan);
    for (v, s, port) in &change.apps_to_start {
        let Ok(s) = after.find_host(v, s) else { continue };
        let Some(a) = s.apps.iter().find(|a| a.port == *port) else { continue };
        // Quoted: a user name is the user's input, and the script is run.
        let user = match &a.user {
            Some(u) => crate::plan::shell_words(std::slice::from_ref(u)),
            None => apps::free_app_uid(after, &a.log.display().to_string()).to_string(),
        };
        let drop =
            if user == "'root'" { String::new() } else { format!("setpriv --reuid={user} --regid={user} --clear-groups --no-new-privs ") };
        outln!("ip netns exec {} setsid {drop}{} > {} 2>&1 &", s.namespace, crate::plan::shell_words(&a.command), a.log.display());
    }
    if let Some(c) = after.host.flow_logs.as_ref().filter(|c| c.process.pid == 0) {
        outln!(
            "setsid vpcctl --state-dir {} flow-logs collect > {} 2>&1 &",
            ctx.state_dir.display(),
            c.dir.join("collector.log").display()
        );
    }
    for name in &change.resolvers_to_start {
        if let Some(v) = after.vpc(name.as_str())
            && let Some(r) = &v.dns
        {
            outln!("{}", resolver::script(v, r));
        }
    }
}

/// Start what `state` records and does not run: the resolvers named (and
/// any found dead), the collector, the apps named. Every PID is recorded
/// in one save before waiting for any of them, so a killed run still knows
/// what to stop; then each must serve (resolvers answer, apps listen).
fn start_helpers(ctx: &Ctx, store: &Store, resolvers: &[Name], wanted: &[(Name, Name, u16)], state: &mut State) -> Result<()> {
    let dns = spawn_resolvers(resolvers, state)?;
    start_collector_unsaved(ctx, state)?;
    let apps = spawn_apps(state, wanted)?;
    store.save(state)?;
    wait_resolvers(state, dns)?;
    wait_apps(apps)
}

/// Undo a change that failed half-way: converge from what was recorded back
/// to `before`. Returns the error to report.
fn roll_back(ctx: &Ctx, store: &Store, recorded: &State, before: &State, cause: anyhow::Error) -> anyhow::Error {
    let mut recorded = recorded.clone();
    recorded.host.in_progress = true;
    match commit_inner(ctx, store, &recorded, before.clone(), false) {
        Ok(_) => cause.context("the change failed; what it had created was removed and the previous state restored"),
        Err(again) => anyhow!(
            "{cause:#}\nUndoing it failed too: {again:#}\nState records the unfinished change: fix the cause and run the same command again, or see 'vpcctl doctor'"
        ),
    }
}

fn facts(ctx: &Ctx, before: &State, after: &State, force_all: bool, ip_forward: String) -> Result<Facts> {
    let implied = Facts { base: BasePresence::implied_by(before), ip_forward, force_all, ..Facts::default() };
    // Nothing for the kernel to do (an app change, say): nothing to probe.
    if !diff::touches_kernel(before, after, force_all) {
        return Ok(implied);
    }
    // Nor for netfilter (a route, say): the probes answer only how our
    // rules are written, and the plan writes none.
    let netfilter = |s: &crate::plan::Step| {
        matches!(s, crate::plan::Step::Iptables(_) | crate::plan::Step::Ebtables(_) | crate::plan::Step::Sysctl { .. })
    };
    if !force_all && !diff::plan(before, after, &implied).steps.iter().any(netfilter) {
        return Ok(implied);
    }
    let (base, others, bridge_chains) = ctx.base_presence(before, after)?;
    let mut policy_jumps = std::collections::HashSet::new();
    for ns in diff::policy_probes(before, after, force_all) {
        let present = if ctx.dry_run {
            before.vpcs.iter().flat_map(|v| v.hosts()).any(|b| b.namespace == ns && b.policy.is_some())
        } else {
            host::rule_present(Some(ns), "filter", "INPUT", &jump_args(INGRESS_CHAIN))?
        };
        if present {
            policy_jumps.insert(ns.to_string());
        }
    }
    Ok(Facts { base, others, policy_jumps, bridge_chains, ..implied })
}

/// Spawn the resolvers of `fresh` VPCs, and any recorded one that is not
/// running; record their PIDs in `state`. Returns what to wait for.
fn spawn_resolvers(fresh: &[Name], state: &mut State) -> Result<Vec<(usize, std::process::Child)>> {
    let mut children = vec![];
    for i in 0..state.vpcs.len() {
        let v = &state.vpcs[i];
        let Some(r) = &v.dns else { continue };
        if !fresh.contains(&v.name) && apps::helper_running(&r.process) {
            continue;
        }
        // A stopped one still holds its sockets: end it before its successor.
        apps::stop(r.process.pid, r.process.start_time);
        let (child, helper) = resolver::spawn(v, r)?;
        if let Some(r) = state.vpcs[i].dns.as_mut() {
            r.process = helper;
        }
        children.push((i, child));
    }
    Ok(children)
}

fn wait_resolvers(state: &State, children: Vec<(usize, std::process::Child)>) -> Result<()> {
    for (i, mut child) in children {
        let v = &state.vpcs[i];
        if let Some(r) = &v.dns {
            resolver::wait_ready(&mut child, &r.process, v, r)?;
        }
    }
    Ok(())
}

/// Start the resolvers `state` records that are not running (repair).
pub fn start_resolvers(store: &Store, state: &mut State) -> Result<()> {
    let children = spawn_resolvers(&[], state)?;
    if children.is_empty() {
        return Ok(());
    }
    store.save(state)?;
    wait_resolvers(state, children)
}

fn start_collector_unsaved(ctx: &Ctx, state: &mut State) -> Result<bool> {
    let Some(c) = state.host.flow_logs.as_mut() else { return Ok(false) };
    if c.process.pid != 0 && apps::helper_running(&c.process) {
        return Ok(false);
    }
    apps::stop(c.process.pid, c.process.start_time);
    c.process = flowlogs::start(&ctx.state_dir, c)?;
    Ok(true)
}

/// Start the flow-log collector if `state` has one that is not running.
pub fn start_collector(ctx: &Ctx, store: &Store, state: &mut State) -> Result<()> {
    if start_collector_unsaved(ctx, state)? {
        store.save(state)?;
    }
    Ok(())
}

type Starting = Vec<(String, crate::model::App, std::process::Child)>;

/// Spawn the recorded apps `wanted` (vpc, subnet, port) and record their PIDs.
fn spawn_apps(state: &mut State, wanted: &[(Name, Name, u16)]) -> Result<Starting> {
    let mut children = vec![];
    for (v, s, port) in wanted {
        let sub = state.find_host(v, s)?;
        let ns = sub.namespace.clone();
        let Some(log) = sub.apps.iter().find(|a| a.port == *port).map(|a| a.log.clone()) else { continue };
        // Keyed by the app's log path (state dir, VPC, subnet, port).
        let uid = apps::free_app_uid(state, &log.display().to_string());
        let Some(app) = state.host_apps_mut(v, s)?.iter_mut().find(|a| a.port == *port) else { continue };
        app.uid = app.user.is_none().then_some(uid);
        let child = apps::spawn_in_netns(&ns, &app.command, &app.log, &apps::Who::of(app))?;
        app.pid = child.id();
        app.start_time = apps::start_time(app.pid).unwrap_or(0);
        children.push((format!("{v}/{s}"), app.clone(), child));
    }
    Ok(children)
}

/// Wait until each app listens; the first that does not is the error.
fn wait_apps(children: Starting) -> Result<()> {
    for (at, app, mut child) in children {
        let why = match apps::wait_listening(&mut child, app.port, Duration::from_secs(10)) {
            Ready::Serving => continue,
            Ready::Exited(status) => format!("it exited ({status})"),
            Ready::TimedOut => format!("it did not listen on port {} within 10 s and was stopped", app.port),
        };
        return Err(anyhow!(
            "app {:?} in {at} failed: {why}. Log {}:\n{}",
            app.command.join(" "),
            app.log.display(),
            apps::log_tail(&app.log, 5)
        ));
    }
    Ok(())
}

/// Start the recorded apps `wanted` (repair): PIDs saved before waiting.
pub fn start(store: &Store, state: &mut State, wanted: &[(Name, Name, u16)]) -> Result<()> {
    if wanted.is_empty() {
        return Ok(());
    }
    let children = spawn_apps(state, wanted)?;
    store.save(state)?;
    wait_apps(children)
}
