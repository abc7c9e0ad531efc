//! expose, unexpose, associate-eip, disassociate-eip: edits of a VPC's
//! inbound NAT (see `plan::expose`), applied by the one change path.

use anyhow::Result;

use super::Ctx;
use crate::cli::req::At;
use crate::engine::commit;
use crate::error::InputError;
use crate::kernel::host;
use crate::model::services::{Eip, Expose};
use crate::model::{Name, State, validate};

/// What an elastic IP is checked against: the networks of `uplink`, and
/// the host's addresses other than the EIPs `state` records (those are on
/// the uplink too, and the record speaks for them).
pub fn eip_facts(state: &State, uplink: &str) -> validate::EipFacts {
    let links = host::ifaddrs().unwrap_or_default();
    let nets = links
        .get(uplink)
        .map(|l| l.addrs.iter().filter_map(|(a, p)| ipnet::Ipv4Net::new(*a, *p).ok().map(|n| n.trunc())).collect())
        .unwrap_or_default();
    let ours: Vec<std::net::Ipv4Addr> = state.vpcs.iter().flat_map(|v| v.eips.iter().map(|e| e.ip)).collect();
    let addrs =
        links.iter().flat_map(|(dev, l)| l.addrs.iter().map(move |(a, _)| (dev.clone(), *a))).filter(|(_, a)| !ours.contains(a)).collect();
    let gateways = host::route_table().into_iter().filter(|r| r.dev == uplink && !r.gateway.is_unspecified()).map(|r| r.gateway).collect();
    validate::EipFacts { nets, host_addrs: addrs, gateways }
}

/// A host port that a service of the host listens on (on any address but
/// loopback, which the DNAT does not take) cannot be exposed: the service
/// would go dark on the uplink without a word.
pub fn check_host_port_free(e: &Expose) -> Result<(), InputError> {
    match host::tcp_listeners().into_iter().find(|(a, p)| *p == e.host_port && !a.is_loopback()) {
        Some((addr, port)) => Err(InputError::Conflict(format!(
            "host port {port} is already in use by a service of this host (listening on {addr}:{port}); pick another --host-port"
        ))),
        None => Ok(()),
    }
}

pub fn expose(ctx: &Ctx, req: crate::cli::ExposeArgs) -> Result<()> {
    let At { vpc, subnet } = req.at.resolve()?;
    let store = ctx.open()?;
    let before = store.load()?;
    before.find_subnet(&vpc, &subnet)?;
    let (interface, _) = super::uplink(ctx, &before, req.interface, "")?;
    let e = Expose { subnet: subnet.clone(), port: req.port, host_port: req.host_port, interface };
    let same = validate::expose(&before, &vpc, &e, req.allow_private)?;
    if !same {
        check_host_port_free(&e)?;
    }
    let mut after = before.clone();
    if !same {
        after.find_vpc_mut(&vpc)?.expose.push(e.clone());
    }
    let after = commit(ctx, &store, &before, after)?;
    let ip = after.find_subnet(&vpc, &subnet)?.ip;
    ctx.report(
        format!(
            "TCP port {} on {} (and on this host) now reaches {vpc}/{subnet} at {ip}:{}{}",
            e.host_port,
            e.interface,
            e.port,
            if same { " (unchanged)" } else { "" }
        ),
        super::show::vpc_json(&after, after.find_vpc(&vpc)?),
    );
    Ok(())
}

pub fn unexpose(ctx: &Ctx, vpc: &Name, host_port: u16) -> Result<()> {
    let store = ctx.open()?;
    let before = store.load()?;
    let v = before.find_vpc(vpc)?;
    if !v.expose.iter().any(|e| e.host_port == host_port) {
        let ports: Vec<String> = v.expose.iter().map(|e| e.host_port.to_string()).collect();
        return Err(InputError::NotFound(format!(
            "VPC '{vpc}' does not expose host port {host_port} (it exposes: {})",
            if ports.is_empty() { "none".into() } else { ports.join(", ") }
        ))
        .into());
    }
    let mut after = before.clone();
    after.find_vpc_mut(vpc)?.expose.retain(|e| e.host_port != host_port);
    let after = commit(ctx, &store, &before, after)?;
    ctx.report(format!("host port {host_port} is no longer forwarded to VPC '{vpc}'"), super::show::vpc_json(&after, after.find_vpc(vpc)?));
    Ok(())
}

pub fn associate(ctx: &Ctx, req: crate::cli::AssociateEip) -> Result<()> {
    let At { vpc, subnet } = req.at.resolve()?;
    let store = ctx.open()?;
    let before = store.load()?;
    before.find_subnet(&vpc, &subnet)?;
    let (interface, _) = super::uplink(ctx, &before, req.interface, "")?;
    let facts = eip_facts(&before, &interface);
    let e = Eip { subnet: subnet.clone(), ip: req.ip, interface };
    let same = validate::eip(&before, &vpc, &e, &facts)?;
    let mut after = before.clone();
    if !same {
        after.find_vpc_mut(&vpc)?.eips.push(e.clone());
    }
    let after = commit(ctx, &store, &before, after)?;
    let ip = after.find_subnet(&vpc, &subnet)?.ip;
    ctx.report(
        format!(
            "elastic IP {} on {} is {vpc}/{subnet} ({ip}): inbound on every port, and its own traffic leaves from it{}",
            e.ip,
            e.interface,
            if same { " (unchanged)" } else { "" }
        ),
        super::show::vpc_json(&after, after.find_vpc(&vpc)?),
    );
    Ok(())
}

pub fn disassociate(ctx: &Ctx, req: crate::cli::DisassociateEip) -> Result<()> {
    let vpc = req.vpc.resolve()?;
    let subnet = req.subnet.as_deref().map(crate::cli::subnet_name).transpose()?;
    let store = ctx.open()?;
    let before = store.load()?;
    let v = before.find_vpc(&vpc)?;
    let Some(e) = v.eips.iter().find(|e| Some(e.ip) == req.ip || Some(&e.subnet) == subnet.as_ref()).cloned() else {
        let have: Vec<String> = v.eips.iter().map(|e| format!("{} ({})", e.ip, e.subnet)).collect();
        let what = req.ip.map(|i| i.to_string()).or(subnet.map(|s| format!("for subnet '{s}'"))).unwrap_or_default();
        return Err(InputError::NotFound(format!(
            "VPC '{vpc}' has no elastic IP {what} (it has: {})",
            if have.is_empty() { "none".into() } else { have.join(", ") }
        ))
        .into());
    };
    let mut after = before.clone();
    after.find_vpc_mut(&vpc)?.eips.retain(|x| x.ip != e.ip);
    let after = commit(ctx, &store, &before, after)?;
    ctx.report(
        format!("elastic IP {} removed from {vpc}/{} and from {}", e.ip, e.subnet, e.interface),
        super::show::vpc_json(&after, after.find_vpc(&vpc)?),
    );
    Ok(())
}
