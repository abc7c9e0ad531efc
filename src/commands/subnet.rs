//! add-subnet, delete-subnet.

use anyhow::{Context, Result};
use serde_json::json;

use super::{collect_errors, Ctx};
use crate::host;
use crate::model::validate::{self, Create};
use crate::model::{cidr, naming, Name, Status, Subnet, SubnetKind};
use crate::plan;
use crate::state::{State, Store};

pub fn add(ctx: &Ctx, vpc_name: &str, name: &str, cidr_raw: &str, kind: SubnetKind) -> Result<()> {
    let vpc_name = Name::parse("VPC name", vpc_name)?;
    let name = Name::parse("subnet name", name)?;
    let cidr = cidr::parse("subnet CIDR", cidr_raw)?;
    let store = ctx.open()?;
    let mut state = store.load()?;
    let recorded: Vec<ipnet::Ipv4Net> = state.vpcs.iter().flat_map(|v| v.subnets.iter().map(|s| s.cidr)).collect();
    let host_routes: Vec<_> = host::routes().into_iter().filter(|(_, n)| !recorded.contains(n)).collect();
    match validate::add_subnet(&state, vpc_name.as_str(), &name, &cidr, kind, &host_routes)? {
        Create::Exists => {
            ctx.report(
                format!("subnet '{name}' already exists in VPC '{vpc_name}' ({kind} {cidr}); nothing to do"),
                json!({"vpc": vpc_name, "subnet": name, "status": "exists"}),
            );
            return Ok(());
        }
        Create::Resume => {
            ctx.say(format!("subnet '{name}' was left half-created by an interrupted run; cleaning up and creating it again"));
            state = remove(ctx, &store, state, vpc_name.as_str(), name.as_str())?;
        }
        Create::New => {}
    }
    let subnet = new_subnet(ctx, &state, &vpc_name, &name, cidr, kind)?;
    let before = state.clone();
    let mut after = state;
    after.vpc_mut(vpc_name.as_str()).expect("validated").subnets.push(subnet.clone());
    let vpc = after.vpc(vpc_name.as_str()).expect("validated");
    let base = ctx.base_presence(&before, &after)?;
    let plan = plan::subnet::add(&before, &after, vpc, &subnet, base);
    ctx.save(&store, &after)?;
    if let Err(e) = ctx.apply(&plan) {
        let _ = remove(ctx, &store, after, vpc_name.as_str(), name.as_str());
        return Err(e).context(format!("adding subnet '{name}' failed; what it had created was removed"));
    }
    if ctx.dry_run {
        return Ok(());
    }
    let s = after.vpc_mut(vpc_name.as_str()).and_then(|v| v.subnets.iter_mut().find(|s| s.name == name));
    s.expect("just added").status = Status::Ready;
    ctx.save(&store, &after)?;
    ctx.report(
        format!(
            "added {kind} subnet '{name}' ({cidr}) to VPC '{vpc_name}': namespace {}, address {}, gateway {}",
            subnet.namespace, subnet.ip, subnet.gateway
        ),
        json!({"vpc": vpc_name, "subnet": name, "status": "created", "namespace": subnet.namespace,
               "ip": subnet.ip, "gateway": subnet.gateway}),
    );
    Ok(())
}

fn new_subnet(
    ctx: &Ctx,
    state: &State,
    vpc: &Name,
    name: &Name,
    cidr: ipnet::Ipv4Net,
    kind: SubnetKind,
) -> Result<Subnet> {
    let taken = state.taken_names();
    let free = |n: &str| taken.contains(n);
    let veth = naming::veth_name(vpc.as_str(), name.as_str(), &free);
    let namespace = naming::netns_name(vpc.as_str(), name.as_str(), &free);
    if !ctx.dry_run {
        if host::link_exists(&veth) {
            return Err(super::unrecorded("interface", &veth, &format!("ip link del {veth}")).into());
        }
        if host::netns_exists(&namespace) {
            return Err(super::unrecorded("network namespace", &namespace, &format!("ip netns del {namespace}")).into());
        }
    }
    let (gateway, ip) = cidr::gateway_and_host(&cidr);
    Ok(Subnet { name: name.clone(), cidr, kind, namespace, veth, gateway, ip, status: Status::Pending, policy: None, apps: vec![] })
}

fn remove(ctx: &Ctx, store: &Store, before: State, vpc: &str, name: &str) -> Result<State> {
    let mut after = before.clone();
    let v = after.vpc_mut(vpc).expect("validated");
    v.subnets.retain(|s| s.name.as_str() != name);
    // A NAT list naming the subnet must not silently cover a later namesake.
    if let Some(list) = v.nat.as_mut().and_then(|n| n.subnets.as_mut()) {
        list.retain(|n| n.as_str() != name);
    }
    let old_vpc = before.vpc(vpc).expect("validated");
    let s = old_vpc.subnet(name).expect("validated");
    // A process left in the namespace would keep it (and its veth) alive.
    super::app::stop_apps(ctx, s, None);
    let base = ctx.base_presence(&before, &after)?;
    let plan = plan::subnet::delete(&before, &after, old_vpc, s, base);
    collect_errors(&format!("deleting subnet '{name}'"), ctx.apply_all(&plan))?;
    ctx.save(store, &after)?;
    Ok(after)
}

pub fn delete(ctx: &Ctx, vpc_name: &str, name: &str) -> Result<()> {
    let vpc_name = Name::parse("VPC name", vpc_name)?;
    let name = Name::parse("subnet name", name)?;
    let store = ctx.open()?;
    let state = store.load()?;
    let vpc = validate::find_vpc(&state, vpc_name.as_str())?;
    validate::find_subnet(vpc, name.as_str())?;
    remove(ctx, &store, state, vpc_name.as_str(), name.as_str())?;
    ctx.report(
        format!("deleted subnet '{name}' from VPC '{vpc_name}'"),
        json!({"vpc": vpc_name, "subnet": name, "status": "deleted"}),
    );
    Ok(())
}
