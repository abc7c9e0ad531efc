//! create-vpc, delete, teardown-all.

use anyhow::{Context, Result};
use serde_json::json;

use super::{collect_errors, Ctx};
use crate::host;
use crate::model::validate::{self, Create};
use crate::model::{cidr, naming, Name, Status, Vpc};
use crate::plan;
use crate::plan::vpc::IP_FORWARD;
use crate::state::State;

pub fn create(ctx: &Ctx, name: &str, cidr_raw: &str) -> Result<()> {
    let name = Name::parse("VPC name", name)?;
    let cidr = cidr::parse("VPC CIDR", cidr_raw)?;
    let store = ctx.open()?;
    let mut state = store.load()?;
    let ours: Vec<String> = state.vpcs.iter().map(|v| v.bridge.clone()).collect();
    let host_routes: Vec<_> = host::routes().into_iter().filter(|(dev, _)| !ours.contains(dev)).collect();
    match validate::create_vpc(&state, &name, &cidr, &host_routes)? {
        Create::Exists => {
            ctx.report(
                format!("VPC '{name}' already exists ({cidr}); nothing to do"),
                json!({"vpc": name, "status": "exists"}),
            );
            return Ok(());
        }
        Create::Resume => {
            ctx.say(format!("VPC '{name}' was left half-created by an interrupted run; cleaning up and creating it again"));
            state = remove(ctx, &store, state, name.as_str())?;
        }
        Create::New => {}
    }
    let taken = state.taken_names();
    let bridge = naming::bridge_name(name.as_str(), &|n| taken.contains(n));
    if !ctx.dry_run && host::link_exists(&bridge) {
        return Err(super::unrecorded("interface", &bridge, &format!("ip link del {bridge}")).into());
    }
    let groups: Vec<u32> = state.vpcs.iter().map(|v| v.link_group).collect();
    let vpc = Vpc {
        link_group: naming::link_group(name.as_str(), &|g| groups.contains(&g)),
        chain: naming::vpc_chain(&bridge),
        name: name.clone(),
        cidr,
        bridge,
        status: Status::Pending,
        subnets: vec![],
        nat: None,
    };
    let before = state.clone();
    let mut after = state;
    after.vpcs.push(vpc);
    let ip_forward = host::read_sysctl(IP_FORWARD).with_context(|| format!("cannot read {IP_FORWARD}"))?;
    if before.vpcs.is_empty() {
        after.host.ip_forward_before = Some(ip_forward.clone());
    }
    let base = ctx.base_presence(&before, &after)?;
    let plan = plan::vpc::create(&before, &after, name.as_str(), base, &ip_forward);
    // Record first: a run killed from here on leaves state that delete can finish.
    ctx.save(&store, &after)?;
    if let Err(e) = ctx.apply(&plan) {
        let _ = remove(ctx, &store, after, name.as_str());
        return Err(e).context(format!("creating VPC '{name}' failed; what it had created was removed"));
    }
    if ctx.dry_run {
        return Ok(());
    }
    after.vpc_mut(name.as_str()).expect("just added").status = Status::Ready;
    ctx.save(&store, &after)?;
    let v = after.vpc(name.as_str()).expect("just added");
    ctx.report(
        format!("created VPC '{name}' ({cidr}) on bridge {}", v.bridge),
        json!({"vpc": name, "status": "created", "cidr": cidr, "bridge": v.bridge}),
    );
    Ok(())
}

/// Tear down `name` and drop it from state; returns the new state.
/// Errors are collected, and the VPC stays recorded if any remain.
fn remove(ctx: &Ctx, store: &crate::state::Store, before: State, name: &str) -> Result<State> {
    let mut after = before.clone();
    after.vpcs.retain(|v| v.name.as_str() != name);
    after.peerings.retain(|p| !p.involves(name));
    if after.vpcs.is_empty() {
        after.host.ip_forward_before = None;
    }
    if let Some(v) = before.vpc(name) {
        for s in &v.subnets {
            super::app::stop_apps(ctx, s, None);
        }
    }
    let base = ctx.base_presence(&before, &after)?;
    let plan = plan::vpc::delete(&before, &after, name, base);
    let errors = ctx.apply_all(&plan);
    collect_errors(&format!("deleting VPC '{name}'"), errors)?;
    ctx.save(store, &after)?;
    Ok(after)
}

pub fn delete(ctx: &Ctx, name: &str) -> Result<()> {
    let name = Name::parse("VPC name", name)?;
    let store = ctx.open()?;
    let state = store.load()?;
    let vpc = validate::find_vpc(&state, name.as_str())?;
    let n = vpc.subnets.len();
    remove(ctx, &store, state, name.as_str())?;
    ctx.report(
        format!("deleted VPC '{name}' and its {n} subnet(s)"),
        json!({"vpc": name, "status": "deleted", "subnets": n}),
    );
    Ok(())
}

pub fn teardown_all(ctx: &Ctx) -> Result<()> {
    let store = ctx.open()?;
    let mut state = store.load()?;
    let names: Vec<String> = state.vpcs.iter().map(|v| v.name.to_string()).collect();
    let mut failures = vec![];
    for name in &names {
        match remove(ctx, &store, state.clone(), name) {
            Ok(after) => state = after,
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    if state.vpcs.is_empty() && !ctx.dry_run {
        if let Err(e) = sweep_leftover_chains(ctx) {
            failures.push(format!("{e:#}"));
        }
    }
    if !failures.is_empty() {
        anyhow::bail!("teardown-all left {} problem(s):\n{}", failures.len(), failures.join("\n"));
    }
    ctx.report(
        format!("deleted {} VPC(s); vpcctl's chains are gone", names.len()),
        json!({"status": "deleted", "vpcs": names}),
    );
    Ok(())
}

/// With no VPC recorded, any VPCCTL-* chain or jump to one is a leftover
/// (from a lost state file, say): remove them.
fn sweep_leftover_chains(ctx: &Ctx) -> Result<()> {
    let dump = crate::host::iptables_save()?;
    let restore = crate::iptables::sweep(&dump);
    if restore.tables.iter().all(|t| t.lines.is_empty()) {
        return Ok(());
    }
    let mut p = plan::Plan::default();
    p.push(plan::Step::Iptables(restore));
    ctx.apply(&p).context("removing leftover vpcctl chains")?;
    Ok(())
}
