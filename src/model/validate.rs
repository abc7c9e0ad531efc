//! Checks that run before anything changes. Each returns either what to do
//! or an error that names the bad value and the way out.

use ipnet::Ipv4Net;

use super::cidr::{MAX_SUBNET_PREFIX, overlaps};
use std::net::Ipv4Addr;

use super::services::{Eip, Expose};
use super::{Name, SubnetKind, Vpc};
use crate::error::InputError;
use crate::model::State;

/// Widest VPC accepted: a /8 already shadows a lot of the host's routing.
pub const MIN_VPC_PREFIX: u8 = 8;

/// The result of checking a create request against state.
#[derive(Debug, PartialEq, Eq)]
pub enum Create {
    /// Nothing recorded under this name: create it.
    New,
    /// Recorded with the same spec and fully created: nothing to do.
    Exists,
    /// Recorded with the same spec but a previous run was interrupted:
    /// clean up what it left and create again.
    Resume,
}

pub fn vpc_cidr(cidr: &Ipv4Net) -> Result<(), InputError> {
    if cidr.prefix_len() < MIN_VPC_PREFIX || cidr.prefix_len() > MAX_SUBNET_PREFIX {
        return Err(InputError::Invalid(format!(
            "VPC CIDR {cidr} is /{}; use a prefix between /{MIN_VPC_PREFIX} and /{MAX_SUBNET_PREFIX} (e.g. 10.10.0.0/16)",
            cidr.prefix_len()
        )));
    }
    if let Some((range, why)) = super::cidr::reserved(cidr) {
        return Err(InputError::Invalid(format!(
            "VPC CIDR {cidr} overlaps {range} ({why}); use a private range: 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"
        )));
    }
    Ok(())
}

/// Whether `name` can be created with `cidr` against what state records
/// (the host's own networks are `clear_of_host`'s).
pub fn create_vpc(state: &State, name: &Name, cidr: &Ipv4Net) -> Result<Create, InputError> {
    if let Some(v) = state.vpc(name.as_str()) {
        if v.cidr != *cidr {
            return Err(InputError::Conflict(format!(
                "VPC '{name}' already exists with CIDR {}, not {cidr}; delete it first ('vpcctl delete {name}') or pick another name",
                v.cidr
            )));
        }
        return Ok(if v.status == super::Status::Ready { Create::Exists } else { Create::Resume });
    }
    vpc_cidr(cidr)?;
    if let Some(other) = state.vpcs.iter().find(|v| overlaps(&v.cidr, cidr)) {
        return Err(InputError::Conflict(format!(
            "VPC CIDR {cidr} overlaps VPC '{}' ({}); VPC address spaces must not overlap",
            other.name, other.cidr
        )));
    }
    Ok(Create::New)
}

pub fn find_vpc<'a>(state: &'a State, name: &str) -> Result<&'a Vpc, InputError> {
    state.vpc(name).ok_or_else(|| no_vpc(state, name))
}

pub fn find_subnet<'a>(vpc: &'a Vpc, name: &str) -> Result<&'a super::Subnet, InputError> {
    vpc.subnet(name).ok_or_else(|| no_subnet(vpc, name))
}

/// A subnet or an instance of `vpc`, by name.
pub fn find_host(vpc: &Vpc, name: &str) -> Result<(), InputError> {
    if vpc.subnet(name).is_some() || vpc.instance(name).is_some() { Ok(()) } else { Err(no_host(vpc, name)) }
}

/// "no VPC named X", with the ones there are.
pub fn no_vpc(state: &State, name: &str) -> InputError {
    let known: Vec<&str> = state.vpcs.iter().map(|v| v.name.as_str()).collect();
    let hint = if known.is_empty() {
        "no VPCs exist yet; create one with 'vpcctl create-vpc --name NAME --cidr CIDR'".to_string()
    } else {
        format!("existing VPCs: {}", known.join(", "))
    };
    InputError::NotFound(format!("no VPC named '{name}' ({hint})"))
}

/// "VPC V has no subnet named X", with the ones it has.
pub fn no_subnet(vpc: &Vpc, name: &str) -> InputError {
    let known: Vec<&str> = vpc.subnets.iter().map(|s| s.name.as_str()).collect();
    let hint = if known.is_empty() { "it has no subnets".to_string() } else { format!("its subnets: {}", known.join(", ")) };
    InputError::NotFound(format!("VPC '{}' has no subnet named '{name}' ({hint})", vpc.name))
}

/// "VPC V has no subnet or instance named X", with the ones it has.
pub fn no_host(vpc: &Vpc, name: &str) -> InputError {
    let instances: Vec<&str> = vpc.instances().map(|(_, i)| i.name.as_str()).collect();
    if instances.is_empty() {
        return no_subnet(vpc, name);
    }
    let subnets: Vec<&str> = vpc.subnets.iter().map(|s| s.name.as_str()).collect();
    InputError::NotFound(format!(
        "VPC '{}' has no subnet or instance named '{name}' (its subnets: {}; its instances: {})",
        vpc.name,
        subnets.join(", "),
        instances.join(", ")
    ))
}

/// An address an instance may have in subnet `s`: inside it, not one of
/// the five AWS reserves (.0-.3 and the broadcast; .1 is the gateway and
/// .2 the subnet's own namespace), and held by nothing else. `me` is the
/// instance itself, which may keep its own.
pub fn instance_address(vpc: &Vpc, s: &super::Subnet, ip: std::net::Ipv4Addr, me: Option<&str>) -> Result<(), InputError> {
    if !s.cidr.contains(&ip) {
        return Err(InputError::Invalid(format!(
            "--ip {ip} is not in subnet '{}' ({}); give an address of the subnet, or leave --ip out for the next free one",
            s.name, s.cidr
        )));
    }
    let n = u32::from(ip) - u32::from(s.cidr.network());
    if n < 4 || ip == s.cidr.broadcast() {
        return Err(InputError::Invalid(format!(
            "--ip {ip} is reserved in subnet '{}' ({}): AWS reserves the first four addresses and the last (.1 is the gateway, .2 the subnet's own namespace); use one from {} up",
            s.name,
            s.cidr,
            std::net::Ipv4Addr::from(u32::from(s.cidr.network()) + 4)
        )));
    }
    if let Some((_, i)) = vpc.instances().find(|(_, i)| i.ip == ip && Some(i.name.as_str()) != me) {
        return Err(InputError::Conflict(format!("{ip} is taken by instance '{}' of VPC '{}'; choose another address", i.name, vpc.name)));
    }
    if let Some(g) = vpc.nat_gateways.iter().find(|g| g.ip == ip) {
        return Err(InputError::Conflict(format!(
            "{ip} is taken by NAT gateway '{}' of VPC '{}'; choose another address",
            g.name, vpc.name
        )));
    }
    Ok(())
}

/// Every group in `names` exists in `vpc`.
pub fn security_groups_exist(vpc: &Vpc, names: &[super::Name]) -> Result<(), InputError> {
    if names.is_empty() {
        return Err(InputError::Invalid("an instance needs at least one security group (its VPC's 'default' is one)".into()));
    }
    for n in names {
        if vpc.security_group(n.as_str()).is_none() {
            let have: Vec<String> = vpc.all_security_groups().iter().map(|g| g.name.to_string()).collect();
            return Err(InputError::NotFound(format!(
                "VPC '{}' has no security group '{n}' (its groups: {}); create it with 'vpcctl create-security-group --vpc {} --group {n}'",
                vpc.name,
                have.join(", "),
                vpc.name
            )));
        }
    }
    Ok(())
}

/// A name no subnet nor other instance of `vpc` has.
pub fn instance_name_free(vpc: &Vpc, name: &super::Name) -> Result<(), InputError> {
    if let Some((s, _)) = vpc.instance(name.as_str()) {
        return Err(InputError::Conflict(format!(
            "VPC '{}' already has an instance named '{name}' (in subnet '{}'); instance names are unique in a VPC, choose another",
            vpc.name, s.name
        )));
    }
    if vpc.subnet(name.as_str()).is_some() {
        return Err(InputError::Conflict(format!(
            "VPC '{}' has a subnet named '{name}'; a subnet and an instance cannot share a name, choose another",
            vpc.name
        )));
    }
    Ok(())
}

/// The host's own networks: its routes and addresses that vpcctl did not
/// make (everything on our bridges is left out by `commands::host_nets`).
#[derive(Debug, Default)]
pub struct HostNets {
    pub routes: Vec<(String, Ipv4Net)>,
    pub addrs: Vec<(String, std::net::Ipv4Addr)>,
}

/// A range new to this host (a VPC's, or a subnet's) must leave the host's
/// own routes and addresses alone: over one of them it would cut the host
/// off. `what` names the range for the error. The one check that
/// create-vpc, add-subnet and apply share.
pub fn clear_of_host(what: &str, cidr: &Ipv4Net, host: &HostNets) -> Result<(), InputError> {
    if let Some((dev, net)) = host.routes.iter().find(|(_, n)| n.prefix_len() > 0 && overlaps(n, cidr)) {
        return Err(InputError::Conflict(format!(
            "{what} {cidr} overlaps {net}, which this host already routes via {dev}; pick a range the host does not use"
        )));
    }
    clear_of_host_addresses(what, cidr, &host.addrs)
}

/// A range over an address the host itself holds (on `dev`) would take
/// that address away from the host. `what` names the range for the error.
pub fn clear_of_host_addresses(what: &str, cidr: &Ipv4Net, host_addrs: &[(String, std::net::Ipv4Addr)]) -> Result<(), InputError> {
    match host_addrs.iter().find(|(_, a)| cidr.contains(a)) {
        Some((dev, a)) => Err(InputError::Conflict(format!(
            "{what} {cidr} covers {a}, an address of this host (on {dev}); pick a range the host does not use"
        ))),
        None => Ok(()),
    }
}

/// Whether the subnet can be added against what state records (the host's
/// own networks are `clear_of_host`'s).
pub fn add_subnet(state: &State, vpc_name: &str, name: &Name, cidr: &Ipv4Net, kind: SubnetKind) -> Result<Create, InputError> {
    let vpc = find_vpc(state, vpc_name)?;
    if vpc.status != super::Status::Ready {
        return Err(InputError::Conflict(format!(
            "VPC '{vpc_name}' was left half-created by an interrupted run; finish it with 'vpcctl create-vpc {vpc_name} {}' or remove it with 'vpcctl delete {vpc_name}'",
            vpc.cidr
        )));
    }
    if let Some(s) = vpc.subnet(name.as_str()) {
        if s.cidr != *cidr || s.kind != kind {
            return Err(InputError::Conflict(format!(
                "subnet '{name}' already exists in VPC '{vpc_name}' as {} {}, not {kind} {cidr}; delete it first ('vpcctl delete-subnet --vpc {vpc_name} --name {name}')",
                s.kind, s.cidr
            )));
        }
        return Ok(if s.status == super::Status::Ready { Create::Exists } else { Create::Resume });
    }
    if !vpc.cidr.contains(cidr) {
        return Err(InputError::Invalid(format!(
            "subnet CIDR {cidr} is not inside VPC '{vpc_name}' ({}); pick a range within it, e.g. {}",
            vpc.cidr,
            example_subnet(vpc)
        )));
    }
    if cidr.prefix_len() > MAX_SUBNET_PREFIX {
        return Err(InputError::Invalid(format!(
            "subnet CIDR {cidr} is too small; a subnet needs at least a /{MAX_SUBNET_PREFIX} (gateway .1 and one host .2)"
        )));
    }
    if let Some(other) = vpc.subnets.iter().find(|s| overlaps(&s.cidr, cidr)) {
        return Err(InputError::Conflict(format!(
            "subnet CIDR {cidr} overlaps subnet '{}' ({}) of VPC '{vpc_name}'",
            other.name, other.cidr
        )));
    }
    Ok(Create::New)
}

/// The subnets named for `enable-nat --subnets`, checked against the VPC.
pub fn nat_subnets(vpc: &Vpc, names: &[Name]) -> Result<Vec<Name>, InputError> {
    let mut out = vec![];
    for n in names {
        find_subnet(vpc, n.as_str())?;
        if !out.contains(n) {
            out.push(n.clone());
        }
    }
    Ok(out)
}

/// NAT needs an interface that exists and is not one of ours.
pub fn nat_interface(state: &State, iface: &str, exists: bool) -> Result<(), InputError> {
    let ours = state.vpcs.iter().any(|v| v.bridge == iface || v.subnets.iter().any(|s| s.veth == iface));
    if ours {
        return Err(InputError::Invalid(format!(
            "interface {iface} belongs to a vpcctl VPC; NAT goes out through the host's uplink (e.g. --interface eth0)"
        )));
    }
    if !exists {
        return Err(InputError::NotFound(format!("interface {iface:?} does not exist on this host; list interfaces with 'ip -br link'")));
    }
    Ok(())
}

/// Check a peering request. Returns `Exists` when the same peering is recorded.
pub fn peer(state: &State, wanted: &crate::model::Peering) -> Result<Create, InputError> {
    let (a, b, allow) = (&wanted.a, &wanted.b, wanted.allow_cidrs.as_slice());
    if a == b {
        return Err(InputError::Invalid(format!("cannot peer VPC '{a}' with itself; name two different VPCs")));
    }
    let (va, vb) = (find_vpc(state, a.as_str())?, find_vpc(state, b.as_str())?);
    if overlaps(&va.cidr, &vb.cidr) {
        return Err(InputError::Conflict(format!(
            "VPC '{a}' ({}) and VPC '{b}' ({}) overlap; overlapping VPCs cannot be peered",
            va.cidr, vb.cidr
        )));
    }
    for c in allow {
        if !va.cidr.contains(c) && !vb.cidr.contains(c) {
            return Err(InputError::Invalid(format!(
                "allowed CIDR {c} lies in neither VPC '{a}' ({}) nor VPC '{b}' ({}); each --allow-cidrs entry must be inside one of them",
                va.cidr, vb.cidr
            )));
        }
    }
    for (side, v) in [(a, va), (b, vb)] {
        if !allow.is_empty() && !allow.iter().any(|c| v.cidr.contains(c)) {
            return Err(InputError::Invalid(format!(
                "--allow-cidrs names nothing inside VPC '{side}' ({}), so no traffic could pass; add a CIDR from it",
                v.cidr
            )));
        }
    }
    if let Some(p) = state.peerings.iter().find(|p| p.joins(a.as_str(), b.as_str())) {
        let mut want: Vec<Ipv4Net> = allow.to_vec();
        let mut have = p.allow_cidrs.clone();
        want.sort();
        have.sort();
        if want != have || p.no_routes != wanted.no_routes || (wanted.name.is_some() && p.name() != wanted.name()) {
            return Err(InputError::Conflict(format!(
                "VPCs '{a}' and '{b}' are already peered (as '{}') with other settings; run 'vpcctl unpeer --a {a} --b {b}' first",
                p.name()
            )));
        }
        return Ok(Create::Exists);
    }
    if let Some(p) = state.peerings.iter().find(|p| p.name() == wanted.name()) {
        return Err(InputError::Conflict(format!(
            "a peering named '{}' already joins '{}' and '{}'; give this one another --name",
            p.name(),
            p.a,
            p.b
        )));
    }
    Ok(Create::New)
}

fn example_subnet(vpc: &Vpc) -> String {
    let len = (vpc.cidr.prefix_len() + 8).min(MAX_SUBNET_PREFIX);
    vpc.cidr
        .subnets(len)
        .ok()
        .and_then(|mut it| it.find(|n| !vpc.subnets.iter().any(|s| overlaps(&s.cidr, n))))
        .map(|n| n.to_string())
        .unwrap_or_else(|| vpc.cidr.to_string())
}

/// Check an `expose` request against state: the subnet exists, is public
/// (or the user said otherwise), and no VPC exposes the host port yet.
/// Returns `true` when exactly this forward is already recorded.
pub fn expose(state: &State, vpc: &Name, e: &Expose, allow_private: bool) -> Result<bool, InputError> {
    let v = find_vpc(state, vpc.as_str())?;
    let s = find_subnet(v, e.subnet.as_str())?;
    for o in &state.vpcs {
        if let Some(x) = o.expose.iter().find(|x| x.host_port == e.host_port) {
            if o.name == *vpc && x == e {
                return Ok(true);
            }
            return Err(InputError::Conflict(format!(
                "host port {} is already exposed (to {}/{} port {}); pick another --host-port, or first: vpcctl unexpose --vpc {} --host-port {}",
                e.host_port, o.name, x.subnet, x.port, o.name, e.host_port
            )));
        }
    }
    if s.kind == SubnetKind::Private && !allow_private {
        return Err(InputError::Invalid(format!(
            "subnet '{}' of VPC '{vpc}' is private, and private subnets are not reachable from outside; expose a public subnet, or pass --allow-private if you mean it",
            s.name
        )));
    }
    Ok(false)
}

/// What an elastic IP is checked against, read from the host.
#[derive(Debug, Clone, Default)]
pub struct EipFacts {
    /// The uplink's addresses with their prefixes, as networks.
    pub nets: Vec<Ipv4Net>,
    /// Every address of the host but the EIPs vpcctl put there, with its device.
    pub host_addrs: Vec<(String, Ipv4Addr)>,
    /// Gateways of the host's routes through the uplink.
    pub gateways: Vec<Ipv4Addr>,
}

/// Check an elastic IP: a public subnet without one, an address that is
/// free (on no interface of the host, no other EIP) and inside a subnet of
/// the uplink (`uplink_nets`, the uplink's addresses with their prefixes).
/// Returns `true` when exactly this EIP is already recorded.
pub fn eip(state: &State, vpc: &Name, e: &Eip, uplink: &EipFacts) -> Result<bool, InputError> {
    let v = find_vpc(state, vpc.as_str())?;
    // A subnet's own namespace, or an instance (an EIP association).
    let s = v.host_named(e.subnet.as_str()).ok_or_else(|| no_host(v, e.subnet.as_str()))?;
    for o in &state.vpcs {
        if let Some(x) = o.eips.iter().find(|x| x.ip == e.ip) {
            if o.name == *vpc && x == e {
                return Ok(true);
            }
            return Err(InputError::Conflict(format!(
                "{} is already the elastic IP of {}/{}; choose another address",
                e.ip, o.name, x.subnet
            )));
        }
    }
    if let Some(x) = v.eips.iter().find(|x| x.subnet == e.subnet) {
        return Err(InputError::Conflict(format!(
            "subnet '{}' already has elastic IP {}; first: vpcctl disassociate-eip --vpc {vpc} --ip {}",
            e.subnet, x.ip, x.ip
        )));
    }
    if s.kind == SubnetKind::Private {
        return Err(InputError::Invalid(format!(
            "subnet '{}' of VPC '{vpc}' is private: it has no route to the internet, so an elastic IP would not work; use a public subnet",
            s.name
        )));
    }
    eip_address(e.ip, &e.interface, uplink).map(|()| false)
}

/// An address an elastic IP may take on `interface`: on no interface of
/// the host, not its gateway, a host address of the uplink's subnet.
pub fn eip_address(ip: std::net::Ipv4Addr, interface: &str, uplink: &EipFacts) -> Result<(), InputError> {
    let (uplink_nets, host_addrs) = (&uplink.nets, &uplink.host_addrs);
    if let Some((dev, _)) = host_addrs.iter().find(|(_, a)| *a == ip) {
        return Err(InputError::Conflict(format!(
            "{ip} is already an address of this host (on {dev}); an elastic IP must be a free address"
        )));
    }
    if uplink.gateways.contains(&ip) {
        return Err(InputError::Conflict(format!(
            "{ip} is the gateway of uplink {interface} (the host's way out); an elastic IP must be a free address"
        )));
    }
    let inside = uplink_nets.iter().find(|n| n.contains(&ip));
    match inside {
        None => Err(InputError::Invalid(format!(
            "{} is outside the subnet of uplink {} ({}); an elastic IP must be a free address of the uplink's subnet",
            ip,
            interface,
            if uplink_nets.is_empty() {
                "it has no IPv4 address".to_string()
            } else {
                uplink_nets.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
            }
        ))),
        Some(n) if ip == n.network() || ip == n.broadcast() => {
            Err(InputError::Invalid(format!("{ip} is the network or broadcast address of {n}; choose a host address")))
        }
        Some(_) => Ok(()),
    }
}

/// A route `vpc` may have: a destination the local route does not hold,
/// and a target that exists and is the VPC's to use.
pub fn route(state: &State, vpc: &Name, destination: Ipv4Net, target: &crate::model::routing::Target) -> Result<(), InputError> {
    use crate::model::routing::Target;
    let v = find_vpc(state, vpc.as_str())?;
    if v.cidr.contains(&destination) {
        return Err(InputError::Invalid(format!(
            "{destination} is inside VPC '{vpc}' ({}), where the local route always wins; a route must point outside the VPC",
            v.cidr
        )));
    }
    let missing = match target {
        Target::InternetGateway if v.internet_gateway.is_none() => {
            Some(format!("VPC '{vpc}' has no internet gateway; first: vpcctl create-internet-gateway --vpc {vpc}"))
        }
        Target::NatGateway(n) if v.nat_gateway(n.as_str()).is_none() && v.remote_nat_gateway(n.as_str()).is_none() => {
            Some(format!("VPC '{vpc}' has no NAT gateway '{n}'; first: vpcctl create-nat-gateway --vpc {vpc} --subnet SUBNET --name {n}"))
        }
        Target::Peering(n) if !state.peerings_of(vpc.as_str()).any(|p| p.name() == *n) => {
            let have: Vec<String> = state.peerings_of(vpc.as_str()).map(|p| p.name().to_string()).collect();
            Some(format!(
                "VPC '{vpc}' has no peering '{n}' (its peerings: {})",
                if have.is_empty() { "none".into() } else { have.join(", ") }
            ))
        }
        Target::TransitGateway(n) if !state.transit_gateways.iter().any(|t| t.name == *n && t.attachments.contains(vpc)) => Some(format!(
            "VPC '{vpc}' is not attached to a transit gateway '{n}'; first: vpcctl attach-transit-gateway --transit-gateway {n} --vpc {vpc}"
        )),
        _ => None,
    };
    match missing {
        Some(m) => Err(InputError::NotFound(format!("route {destination} -> {target}: {m}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Status, Subnet};

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }
    fn name(s: &str) -> Name {
        Name::parse("name", s).unwrap()
    }

    fn state_with_vpc() -> State {
        let mut st = State::default();
        st.vpcs.push(Vpc {
            name: name("vpc1"),
            cidr: net("10.10.0.0/16"),
            bridge: "br-vpc1".into(),
            link_group: 0x4000_0001,
            chain: "VPCCTL-FWD-vpc1".into(),
            status: Status::Ready,
            subnets: vec![Subnet {
                name: name("web"),
                cidr: net("10.10.1.0/24"),
                kind: SubnetKind::Public,
                namespace: "ns-vpc1-web".into(),
                veth: "v-vpc1-web".into(),
                gateway: "10.10.1.1".parse().unwrap(),
                ip: "10.10.1.2".parse().unwrap(),
                status: Status::Ready,
                policy: None,
                apps: vec![],
                nacl: None,
                instances: vec![],
            }],
            nat: None,
            dns: None,
            expose: vec![],
            eips: vec![],
            flow_logs: false,
            internet_gateway: None,
            nat_gateways: vec![],
            route_tables: vec![],
            security_groups: vec![],
            remote: vec![],
            mtu: None,
        });
        st
    }

    #[test]
    fn vpc_create_rules() {
        let st = state_with_vpc();
        assert_eq!(create_vpc(&st, &name("vpc1"), &net("10.10.0.0/16")).unwrap(), Create::Exists);
        let e = create_vpc(&st, &name("vpc1"), &net("10.20.0.0/16")).unwrap_err().to_string();
        assert!(e.contains("already exists with CIDR 10.10.0.0/16"), "{e}");
        let e = create_vpc(&st, &name("vpc2"), &net("10.0.0.0/8")).unwrap_err().to_string();
        assert!(e.contains("overlaps VPC 'vpc1'"), "{e}");
        assert_eq!(create_vpc(&st, &name("vpc2"), &net("10.20.0.0/16")).unwrap(), Create::New);
        assert!(create_vpc(&st, &name("big"), &net("0.0.0.0/0")).is_err());
    }

    #[test]
    fn a_new_range_leaves_the_hosts_own_routes_and_addresses_alone() {
        let host = HostNets {
            routes: vec![("uplink0".to_string(), net("203.0.113.0/24")), ("uplink0".to_string(), net("0.0.0.0/0"))],
            addrs: vec![("eth1".to_string(), "192.0.2.7".parse().unwrap())],
        };
        let e = clear_of_host("VPC CIDR", &net("203.0.113.0/25"), &host).unwrap_err().to_string();
        assert!(e.contains("routes via uplink0"), "{e}");
        let e = clear_of_host("subnet CIDR", &net("192.0.2.0/24"), &host).unwrap_err().to_string();
        assert!(e.contains("192.0.2.7") && e.contains("eth1"), "{e}");
        assert!(clear_of_host("VPC CIDR", &net("10.30.0.0/16"), &host).is_ok(), "the default route covers nothing");
    }

    #[test]
    fn subnet_create_rules() {
        let st = state_with_vpc();
        let pubk = SubnetKind::Public;
        assert_eq!(add_subnet(&st, "vpc1", &name("web"), &net("10.10.1.0/24"), pubk).unwrap(), Create::Exists);
        let e = add_subnet(&st, "vpc1", &name("web"), &net("10.10.1.0/24"), SubnetKind::Private).unwrap_err();
        assert!(e.to_string().contains("already exists"));
        let e = add_subnet(&st, "vpc1", &name("db"), &net("10.20.1.0/24"), pubk).unwrap_err().to_string();
        assert!(e.contains("not inside VPC 'vpc1'") && e.contains("10.10.0.0/24"), "{e}");
        let e = add_subnet(&st, "vpc1", &name("db"), &net("10.10.1.128/25"), pubk).unwrap_err().to_string();
        assert!(e.contains("overlaps subnet 'web'"), "{e}");
        let e = add_subnet(&st, "vpc1", &name("db"), &net("10.10.2.0/31"), pubk).unwrap_err().to_string();
        assert!(e.contains("too small"), "{e}");
        let e = add_subnet(&st, "nope", &name("db"), &net("10.10.2.0/24"), pubk).unwrap_err().to_string();
        assert!(e.contains("no VPC named 'nope'") && e.contains("vpc1"), "{e}");
        assert_eq!(add_subnet(&st, "vpc1", &name("db"), &net("10.10.2.0/30"), pubk).unwrap(), Create::New);
        let mut pending = st.clone();
        pending.vpcs[0].status = Status::Pending;
        let e = add_subnet(&pending, "vpc1", &name("db"), &net("10.10.2.0/24"), pubk).unwrap_err().to_string();
        assert!(e.contains("half-created") && e.contains("vpcctl create-vpc vpc1 10.10.0.0/16"), "{e}");
    }

    #[test]
    fn expose_needs_a_public_subnet_and_a_free_host_port() {
        let mut st = state_with_vpc();
        let e = |subnet: &str, host_port| Expose { subnet: name(subnet), port: 8080, host_port, interface: "eth0".into() };
        assert_eq!(expose(&st, &name("vpc1"), &e("web", 80), false).ok(), Some(false));
        st.vpcs[0].expose.push(e("web", 80));
        assert_eq!(expose(&st, &name("vpc1"), &e("web", 80), false).ok(), Some(true), "the same forward again");
        let taken = expose(&st, &name("vpc1"), &Expose { port: 9090, ..e("web", 80) }, false).unwrap_err().to_string();
        assert!(taken.contains("host port 80 is already exposed (to vpc1/web port 8080)"), "{taken}");
        st.vpcs[0].subnets[0].kind = SubnetKind::Private;
        let private = expose(&st, &name("vpc1"), &e("web", 81), false).unwrap_err().to_string();
        assert!(private.contains("is private") && private.contains("--allow-private"), "{private}");
        assert_eq!(expose(&st, &name("vpc1"), &e("web", 81), true).ok(), Some(false));
        assert!(expose(&st, &name("vpc1"), &e("nope", 82), true).is_err());
    }

    #[test]
    fn an_eip_is_a_free_address_of_the_uplinks_subnet() {
        let st = state_with_vpc();
        let facts = EipFacts {
            nets: vec![net("203.0.113.0/24")],
            host_addrs: vec![("eth0".to_string(), "203.0.113.2".parse().unwrap())],
            gateways: vec!["203.0.113.1".parse().unwrap()],
        };
        let e = |ip: &str| Eip { subnet: name("web"), ip: ip.parse().unwrap(), interface: "eth0".into() };
        assert_eq!(eip(&st, &name("vpc1"), &e("203.0.113.10"), &facts).ok(), Some(false));
        let on_host = eip(&st, &name("vpc1"), &e("203.0.113.2"), &facts).unwrap_err().to_string();
        assert!(on_host.contains("already an address of this host (on eth0)"), "{on_host}");
        let outside = eip(&st, &name("vpc1"), &e("198.51.100.7"), &facts).unwrap_err().to_string();
        assert!(outside.contains("outside the subnet of uplink eth0 (203.0.113.0/24)"), "{outside}");
        let broadcast = eip(&st, &name("vpc1"), &e("203.0.113.255"), &facts).unwrap_err().to_string();
        assert!(broadcast.contains("broadcast"), "{broadcast}");
        let gateway = eip(&st, &name("vpc1"), &e("203.0.113.1"), &facts).unwrap_err().to_string();
        assert!(gateway.contains("203.0.113.1 is the gateway of uplink eth0"), "{gateway}");
        let mut with = st.clone();
        with.vpcs[0].eips.push(e("203.0.113.10"));
        assert_eq!(eip(&with, &name("vpc1"), &e("203.0.113.10"), &facts).ok(), Some(true));
        let second = eip(&with, &name("vpc1"), &e("203.0.113.11"), &facts).unwrap_err().to_string();
        assert!(second.contains("already has elastic IP 203.0.113.10"), "{second}");
    }
}
