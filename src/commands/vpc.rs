//! create-vpc, delete, teardown-all: edits of the recorded state, applied
//! by the one change path (`engine::commit`).

use anyhow::{Context, Result};
use serde_json::json;

use super::{Ctx, show};
use crate::cli::req::NewVpc;
use crate::engine::commit;
use crate::model::State;
use crate::model::services::Resolver;
use crate::model::validate::{self, Create};
use crate::model::{Name, Status, Vpc, kernel_names};
use crate::plan;

pub fn create(ctx: &Ctx, req: NewVpc) -> Result<()> {
    let NewVpc { name, cidr, dns, dns_options } = req;
    let store = ctx.open()?;
    let before = store.load()?;
    let mut after = before.clone();
    let created = validate::create_vpc(&before, &name, &cidr)?;
    if dns && !ctx.dry_run {
        crate::helpers::resolver::program()?;
    }
    if created == Create::New {
        validate::clear_of_host("VPC CIDR", &cidr, &super::host_nets(&before))?;
    }
    match created {
        Create::Exists => {
            let v = before.find_vpc(&name)?;
            ctx.report(format!("VPC '{name}' already exists ({cidr}); nothing to do"), show::vpc_json(&before, v));
            return Ok(());
        }
        Create::Resume => {
            ctx.say(format!("VPC '{name}' was left half-created by an interrupted run; cleaning up and creating it again"));
            after.find_vpc_mut(&name)?.status = Status::Ready;
        }
        Create::New => {
            let mut v = new_vpc(ctx, &before, &name, cidr, dns)?;
            if let Some(r) = v.dns.as_mut() {
                r.options = dns_options;
            }
            after.vpcs.push(v);
        }
    }
    let after = commit(ctx, &store, &before, after).with_context(|| format!("creating VPC '{name}' failed"))?;
    if ctx.dry_run {
        return Ok(());
    }
    let v = after.find_vpc(&name)?;
    ctx.report(format!("created VPC '{name}' ({cidr}) on bridge {}", v.bridge), show::vpc_json(&after, v));
    Ok(())
}

/// A VPC record with kernel names that collide with nothing recorded, nor
/// (outside dry runs) with an interface already on the host.
pub fn new_vpc(ctx: &Ctx, state: &State, name: &Name, cidr: ipnet::Ipv4Net, dns: bool) -> Result<Vpc> {
    let taken = state.taken_names();
    let bridge = kernel_names::bridge_name(name.as_str(), &|n| taken.contains(n));
    super::names_free(ctx, state, &[&bridge], &[])?;
    let groups: Vec<u32> = state.vpcs.iter().map(|v| v.link_group).collect();
    Ok(Vpc {
        link_group: kernel_names::link_group(name.as_str(), &|g| groups.contains(&g)),
        chain: kernel_names::vpc_chain(&bridge),
        name: name.clone(),
        cidr,
        bridge,
        status: Status::Ready,
        subnets: vec![],
        nat: None,
        dns: dns.then(|| Resolver::new(&ctx.state_dir, name).with_address(&mut super::resolvers_taken(state))),
        expose: vec![],
        eips: vec![],
        flow_logs: false,
        internet_gateway: None,
        nat_gateways: vec![],
        route_tables: vec![],
        security_groups: vec![],
        remote: vec![],
        mtu: None,
    })
}

/// `state` without VPC `name` and its peerings.
pub fn without(state: &State, name: &str) -> State {
    let mut after = state.clone();
    after.vpcs.retain(|v| v.name.as_str() != name);
    after.peerings.retain(|p| !p.involves(name));
    // Its transit gateway attachments go with it, and what named them.
    for t in &mut after.transit_gateways {
        t.attachments.retain(|a| a.as_str() != name);
        for rt in &mut t.route_tables {
            rt.associations.retain(|a| a.as_str() != name);
            rt.propagations.retain(|a| a.as_str() != name);
            rt.routes.retain(|r| r.vpc.as_ref().is_none_or(|v| v.as_str() != name));
        }
    }
    after
}

/// `delete A [B...]`: every name must exist before any is deleted; they go
/// in one change.
pub fn delete(ctx: &Ctx, names: &[Name]) -> Result<()> {
    let store = ctx.open()?;
    let before = store.load()?;
    let old = names.iter().map(|n| before.find_vpc(n)).collect::<Result<Vec<_>, _>>()?;
    let n: usize = old.iter().map(|v| v.subnets.len()).sum();
    let shown: Vec<serde_json::Value> = old.iter().map(|v| show::vpc_json(&before, v)).collect();
    let mut after = before.clone();
    for name in names {
        after = without(&after, name.as_str());
    }
    let list = names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
    commit(ctx, &store, &before, after).with_context(|| format!("deleting VPC {list}"))?;
    let shown = if let [one] = shown.as_slice() { one.clone() } else { json!(shown) };
    let their = if names.len() == 1 { "its" } else { "their" };
    ctx.report(format!("deleted VPC {list} and {their} {n} subnet(s)"), shown);
    Ok(())
}

pub fn teardown_all(ctx: &Ctx, auto_approve: bool) -> Result<()> {
    let store = ctx.open()?;
    let before = store.load()?;
    let names: Vec<String> = before.vpcs.iter().map(|v| v.name.to_string()).collect();
    let lost: Vec<String> = names.iter().map(|n| format!("vpc {n}")).collect();
    super::approve::confirm(ctx, &lost, auto_approve, false, "vpcctl teardown-all")?;
    let shown: Vec<serde_json::Value> = before.vpcs.iter().map(|v| show::vpc_json(&before, v)).collect();
    let after = State { host: before.host.clone(), ..State::default() };
    let after = commit(ctx, &store, &before, after).context("teardown-all")?;
    if !ctx.dry_run {
        sweep_leftover_chains(ctx, &after)?;
        // Helpers a lost state file no longer names.
        for pid in crate::helpers::apps::orphaned_helpers(&ctx.state_dir) {
            if let Some(start) = crate::helpers::apps::start_time(pid) {
                crate::helpers::apps::stop(pid, start);
            }
        }
    }
    ctx.report(format!("deleted {} VPC(s); vpcctl's chains are gone", names.len()), json!(shown));
    Ok(())
}

/// With no VPC recorded, this dir's top chains and any chain of ours that
/// nothing uses (from a lost state file, say) are leftovers: remove them,
/// in both families. Other state dirs' chains stay.
fn sweep_leftover_chains(ctx: &Ctx, state: &State) -> Result<()> {
    use crate::plan::expose;
    use crate::plan::{firewall, spoof};
    let tops = [
        firewall::forward_chain(state),
        firewall::input_chain(state),
        firewall::postrouting_chain(state),
        expose::prerouting_chain(state),
        expose::output_chain(state),
    ];
    let mut p = plan::Plan::default();
    let tables = crate::plan::iptables::sweep(&crate::kernel::host::iptables_save()?, &tops, crate::plan::iptables::declare);
    p.push(plan::Step::Iptables(plan::Restore { netns: None, tables }));
    let tables = crate::plan::iptables::sweep(&crate::kernel::host::ebtables_save()?, &[spoof::dispatch_chain(state)], spoof::declare);
    p.push(plan::Step::Ebtables(plan::Restore { netns: None, tables: tables.into_iter().filter(|t| t.table == "filter").collect() }));
    ctx.apply(&p).context("removing leftover vpcctl chains")?;
    Ok(())
}
