//! repair: make the kernel match the recorded state again, after a reboot
//! or drift, fixing only what differs.

use anyhow::{Context, Result};
use serde_json::json;

use super::{Ctx, collect_errors};
use crate::helpers::apps;
use crate::kernel::observe;
use crate::plan::diff;
use crate::plan::repair::assess;

pub fn run(ctx: &Ctx) -> Result<()> {
    super::require_root()?;
    let store = ctx.open()?;
    let state = store.load()?;
    let obs = observe::observe(&state)?;
    let found = assess(&state, &obs);
    let unfinished = state.host.in_progress;
    if found.drifts.is_empty() && !unfinished {
        ctx.report(
            format!("nothing to repair: the kernel matches the record ({} VPC(s))", state.vpcs.len()),
            json!({"status": "unchanged", "fixed": []}),
        );
        return Ok(());
    }
    for d in &found.drifts {
        ctx.say(format!("fixing {d}"));
    }
    if ctx.dry_run {
        ctx.print_script(&found.plan);
        for (v, s, port) in &found.restart {
            outln!("# restart app {v}/{s}:{port}");
        }
        return Ok(());
    }
    for (pid, start) in &found.stop {
        apps::stop(*pid, *start);
    }
    // An app it restarts goes first (a stopped one still holds its
    // port), and so does what it left behind (its cgroup).
    for (v, s, port) in &found.restart {
        if let Some(a) = state.find_host(v, s).ok().and_then(|s| s.apps.iter().find(|a| a.port == *port).cloned()) {
            apps::stop(a.pid, a.start_time);
            apps::end_cgroup(&a.log);
        }
    }
    // A wireguard-go that died is started again before the plan sets it up.
    let mut state = state;
    crate::helpers::wireguard::start(ctx, &mut state)?;
    let soft = ctx.apply(&found.plan).context("repair failed; run 'vpcctl doctor' to see what still differs")?;
    collect_errors("repair", soft)?;
    // Everything recorded now exists: an unfinished change is finished.
    let mut state = diff::done(state);
    crate::engine::start_resolvers(&store, &mut state)?;
    crate::engine::start_collector(ctx, &store, &mut state)?;
    crate::engine::start(&store, &mut state, &found.restart)?;
    store.save(&state)?;
    ctx.report(
        format!("repaired {} difference(s); the kernel matches the record again", found.drifts.len()),
        json!({"status": "repaired", "fixed": found.drifts}),
    );
    Ok(())
}
