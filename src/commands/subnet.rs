//! add-subnet, delete-subnet.

use anyhow::{Context, Result};

use super::{Ctx, show};
use crate::cli::req::{At, NewSubnet};
use crate::engine::commit;
use crate::model::State;
use crate::model::validate::{self, Create};
use crate::model::{Name, Status, Subnet, SubnetKind, cidr, kernel_names};

pub fn add(ctx: &Ctx, req: NewSubnet) -> Result<()> {
    let NewSubnet { vpc: vpc_name, name, cidr, kind } = req;
    let store = ctx.open()?;
    let before = store.load()?;
    let mut after = before.clone();
    if before.vpc(vpc_name.as_str()).and_then(|v| v.instance(name.as_str())).is_some() {
        return Err(crate::error::InputError::Conflict(format!(
            "VPC '{vpc_name}' has an instance named '{name}'; a subnet and an instance cannot share a name, choose another"
        ))
        .into());
    }
    let created = validate::add_subnet(&before, vpc_name.as_str(), &name, &cidr, kind)?;
    if created == Create::New {
        validate::clear_of_host("subnet CIDR", &cidr, &super::host_nets(&before))?;
    }
    match created {
        Create::Exists => {
            let s = before.find_subnet(&vpc_name, &name)?;
            ctx.report(format!("subnet '{name}' already exists in VPC '{vpc_name}' ({kind} {cidr}); nothing to do"), show::subnet_json(s));
            return Ok(());
        }
        Create::Resume => {
            ctx.say(format!("subnet '{name}' was left half-created by an interrupted run; cleaning up and creating it again"));
            after.find_subnet_mut(&vpc_name, &name)?.status = Status::Ready;
        }
        Create::New => {
            let subnet = new_subnet(ctx, &before, &vpc_name, &name, cidr, kind)?;
            after.find_vpc_mut(&vpc_name)?.subnets.push(subnet);
        }
    }
    let after = commit(ctx, &store, &before, after).with_context(|| format!("adding subnet '{name}' failed"))?;
    if ctx.dry_run {
        return Ok(());
    }
    let s = after.find_subnet(&vpc_name, &name)?;
    ctx.report(
        format!(
            "added {kind} subnet '{name}' ({cidr}) to VPC '{vpc_name}': namespace {}, address {}, gateway {}",
            s.namespace, s.ip, s.gateway
        ),
        show::subnet_json(s),
    );
    Ok(())
}

/// A subnet record with kernel names that collide with nothing recorded,
/// nor (outside dry runs) with an interface or namespace on the host.
pub fn new_subnet(ctx: &Ctx, state: &State, vpc: &Name, name: &Name, cidr: ipnet::Ipv4Net, kind: SubnetKind) -> Result<Subnet> {
    let taken = state.taken_names();
    let free = |n: &str| taken.contains(n);
    let veth = kernel_names::veth_name(vpc.as_str(), name.as_str(), &free);
    let namespace = kernel_names::netns_name(vpc.as_str(), name.as_str(), &free);
    super::names_free(ctx, state, &[&veth], &[&namespace])?;
    let (gateway, ip) = cidr::gateway_and_host(&cidr);
    Ok(Subnet {
        name: name.clone(),
        cidr,
        kind,
        namespace,
        veth,
        gateway,
        ip,
        status: Status::Ready,
        policy: None,
        apps: vec![],
        nacl: None,
        instances: vec![],
    })
}

/// `state` without subnet `name` of `vpc`.
pub fn without(state: &State, vpc: &str, name: &str) -> State {
    let mut after = state.clone();
    if let Some(v) = after.vpc_mut(vpc) {
        v.subnets.retain(|s| s.name.as_str() != name);
        // A NAT list naming the subnet must not silently cover a later namesake.
        if let Some(list) = v.nat.as_mut().and_then(|n| n.subnets.as_mut()) {
            list.retain(|n| n.as_str() != name);
        }
        // Likewise an association (AWS drops it with the subnet).
        for t in &mut v.route_tables {
            t.subnets.retain(|n| n.as_str() != name);
        }
    }
    after
}

pub fn delete(ctx: &Ctx, req: At) -> Result<()> {
    let At { vpc: vpc_name, subnet: name } = req;
    let store = ctx.open()?;
    let before = store.load()?;
    let shown = show::subnet_json(before.find_subnet(&vpc_name, &name)?);
    if let Some(g) = before.find_vpc(&vpc_name)?.nat_gateways.iter().find(|g| g.subnet == name) {
        return Err(crate::error::InputError::Conflict(format!(
            "NAT gateway '{}' is in subnet '{name}' (DependencyViolation); first: vpcctl delete-nat-gateway --vpc {vpc_name} --name {}",
            g.name, g.name
        ))
        .into());
    }
    if let Some(i) = before.find_subnet(&vpc_name, &name)?.instances.first() {
        return Err(crate::error::InputError::Conflict(format!(
            "instance '{}' runs in subnet '{name}' (DependencyViolation); first: vpcctl terminate-instance --vpc {vpc_name} --instance {}",
            i.name, i.name
        ))
        .into());
    }
    let after = without(&before, vpc_name.as_str(), name.as_str());
    commit(ctx, &store, &before, after).with_context(|| format!("deleting subnet '{name}'"))?;
    ctx.report(format!("deleted subnet '{name}' from VPC '{vpc_name}'"), shown);
    Ok(())
}
