//! The reachability analyzer: why a path is open or blocked, from the
//! recorded model alone. It sends no packet. It walks the path as the kernel
//! does with the rules vpcctl's planners write:
//!
//! source subnet -> its egress security group -> its route table (the
//! table and route that decided; a NAT gateway, a transit gateway's
//! tables) -> the network ACLs at both edges, both ways (stateless) -> the
//! VPC chain (intra-VPC, peering with its allowed CIDRs, NAT, default deny)
//! -> the destination's ingress security group -> an app vpcctl deployed
//! there.
//!
//! Each hop names the rule that decided it in the words of that rule's
//! iptables comment. `check` compares the verdict with a real probe, and a
//! disagreement means the kernel no longer matches the model. The
//! property test at the bottom holds the analyzer to the rules, kernel
//! tables and `ip rule`s the planners emit, evaluated packet by packet.

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::kernel::probe::Proto;
use crate::model::State;
use crate::model::policy::{Action, Policy};
use crate::model::{Subnet, Vpc};
use crate::plan::peering::pairs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Let through.
    Allow,
    /// Dropped or refused here: the path ends.
    Block,
    /// Nothing decided here (no policy, the internet beyond the uplink).
    Info,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    pub component: String,
    pub outcome: Outcome,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub reachable: bool,
    /// False where the model cannot know: a listener vpcctl did not start,
    /// or a host beyond the uplink.
    pub certain: bool,
    /// Packets get through every firewall on the way (whatever answers).
    pub network_open: bool,
    /// `open: ...` or `blocked: ...`, naming the deciding rule.
    pub verdict: String,
    pub code: &'static str,
    pub hops: Vec<Hop>,
}

fn hop(component: impl Into<String>, outcome: Outcome, detail: impl Into<String>, code: Option<&'static str>) -> Hop {
    Hop { component: component.into(), outcome, detail: detail.into(), code }
}

/// A certain "blocked" verdict, after `hops`.
fn blocked(hops: Vec<Hop>, why: String, code: &'static str) -> Analysis {
    Analysis { reachable: false, certain: true, network_open: false, verdict: format!("blocked: {why}"), code, hops }
}

/// The same, with a last hop at `component` that says why.
fn blocked_at(mut hops: Vec<Hop>, component: &str, why: String, code: &'static str) -> Analysis {
    hops.push(hop(component, Outcome::Block, why.clone(), Some(code)));
    blocked(hops, why, code)
}

fn proto_word(p: Proto) -> &'static str {
    match p {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
        Proto::Icmp => "icmp",
    }
}

fn what(p: Proto, port: Option<u16>) -> String {
    match port {
        Some(n) => format!("{} {n}", proto_word(p)),
        None => proto_word(p).to_string(),
    }
}

/// Which of a policy's rules decides a new connection, and how. `peer` is
/// the other end: the source for ingress, the destination for egress.
/// Whether a rule's protocol covers a probe's.
fn security_group(policy: &Policy, ingress: bool, peer: Ipv4Addr, p: Proto, port: Option<u16>) -> (Action, String) {
    let (dir, rules, default) =
        if ingress { ("ingress", &policy.ingress, policy.default_ingress) } else { ("egress", &policy.egress, policy.default_egress) };
    for (i, r) in rules.iter().enumerate() {
        let proto_ok = r.protocol.carries(p);
        let port_ok = r.ports.is_none_or(|range| port.is_some_and(|n| range.first <= n && n <= range.last));
        let peer_ok = r.cidr.is_none_or(|c| c.contains(&peer));
        if proto_ok && port_ok && peer_ok {
            let verb = if r.action == Action::Allow { "allows" } else { "denies" };
            let port = r.ports.map(|x| format!(" {}", x.to_string().replace(':', "-"))).unwrap_or_default();
            let proto = serde_json::to_value(r.protocol).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
            let peer = r.cidr.map(|c| format!(" {} {c}", if ingress { "from" } else { "to" })).unwrap_or_default();
            let desc = r.description.as_ref().filter(|d| !d.is_empty()).map(|d| format!(" ({d})")).unwrap_or_default();
            return (r.action, format!("{dir}[{i}] {verb} {proto}{port}{peer}{desc}"));
        }
    }
    let verb = if default == Action::Allow { "allows" } else { "denies" };
    (default, format!("default_{dir} {verb} everything else"))
}

/// An instance's groups on one packet: the group and rule that admit it,
/// or why none does, with its code. `peer` is the other end.
fn groups_decide(
    vpc: &Vpc,
    inst: &crate::model::instance::Instance,
    ingress: bool,
    peer: Ipv4Addr,
    p: Proto,
    port: Option<u16>,
) -> Result<String, (String, &'static str)> {
    let dir = if ingress { "ingress" } else { "egress" };
    let (from_to, verb) = if ingress { ("from", "admits") } else { ("to", "allows") };
    let mut any_rule = false;
    let mut not_member: Option<String> = None;
    for g in inst.security_groups.iter().filter_map(|g| vpc.security_group(g.as_str())) {
        let rules = if ingress { &g.ingress } else { &g.egress };
        any_rule |= !rules.is_empty();
        for (i, r) in rules.iter().enumerate().filter(|(_, r)| r.carries(p, port)) {
            let peer_ok = match (&r.cidr, &r.source_group) {
                (Some(c), _) => c.contains(&peer),
                (None, Some(src)) => {
                    let ok = vpc.members(src.as_str()).contains(&peer);
                    if !ok && not_member.is_none() {
                        not_member = Some(format!(
                            "group {} {dir}[{i}] {verb} {} {from_to} members of group {src}, and {peer} is not one",
                            g.name,
                            what(p, port)
                        ));
                    }
                    ok
                }
                (None, None) => true,
            };
            if peer_ok {
                return Ok(format!("group {} {dir}[{i}] {verb} {r}", g.name));
            }
        }
    }
    let groups: Vec<String> = inst.security_groups.iter().map(|g| g.to_string()).collect();
    if let Some(why) = not_member {
        return Err((why, "SECURITY_GROUP_REFERENCE_NOT_MEMBER"));
    }
    if !any_rule {
        let code = if ingress { "SECURITY_GROUP_NO_INGRESS_RULE" } else { "SECURITY_GROUP_NO_EGRESS_RULE" };
        return Err((
            format!("group(s) {} have no {dir} rule, so nothing {}", groups.join(", "), if ingress { "comes in" } else { "goes out" }),
            code,
        ));
    }
    Err((format!("no {dir} rule of group(s) {} {verb} {} {from_to} {peer}", groups.join(", "), what(p, port)), "ENI_SG_RULES_MISMATCH"))
}

/// The first rule of a NACL direction that matches, or its implicit deny.
/// `peer` is the other end; `port` the destination port of the packet.
fn nacl_rule(rules: &[crate::model::nacl::NaclRule], dir: &str, peer: Ipv4Addr, p: Proto, port: Option<u16>) -> (Action, String) {
    for r in rules {
        let proto_ok = r.protocol.carries(p);
        let port_ok = r.ports.is_none_or(|range| port.is_some_and(|n| range.first <= n && n <= range.last));
        if proto_ok && port_ok && r.cidr.contains(&peer) {
            let verb = if r.action == Action::Allow { "allows" } else { "denies" };
            return (r.action, format!("nacl {dir} rule {} {verb} it", r.rule));
        }
    }
    (Action::Deny, format!("nacl {dir}: no rule matches, so it is denied"))
}

/// A port the kernel picks for the client end of a connection (the middle
/// of Linux's default ephemeral range): where a stateless NACL must let
/// the replies through.
const EPHEMERAL_PORT: u16 = 40000;

/// One crossing of a subnet's edge: whose NACL, which way, the other end
/// and the destination port of the packet.
struct Leg<'a> {
    subnet: &'a Subnet,
    name: &'a str,
    inbound: bool,
    peer: Ipv4Addr,
    port: Option<u16>,
    reply: bool,
}

/// The NACLs on the way, both directions (they are stateless): the
/// source's outbound and the destination's inbound for the request, then
/// the destination's outbound and the source's inbound for the reply.
/// `None` when every one lets it through.
fn nacls(
    from: (&Subnet, &str),
    to: Option<(&Subnet, &str)>,
    dst: Ipv4Addr,
    proto: Proto,
    port: Option<u16>,
    hops: &mut Vec<Hop>,
) -> Option<String> {
    let reply_port = port.map(|_| EPHEMERAL_PORT);
    let (src, src_name) = from;
    let mut legs = vec![Leg { subnet: src, name: src_name, inbound: false, peer: dst, port, reply: false }];
    if let Some((subnet, name)) = to {
        legs.push(Leg { subnet, name, inbound: true, peer: src.ip, port, reply: false });
        legs.push(Leg { subnet, name, inbound: false, peer: src.ip, port: reply_port, reply: true });
    }
    legs.push(Leg { subnet: src, name: src_name, inbound: true, peer: dst, port: reply_port, reply: true });
    for leg in legs {
        let Some(n) = &leg.subnet.nacl else { continue };
        let (rules, dir) = if leg.inbound { (&n.inbound, "inbound") } else { (&n.outbound, "outbound") };
        let (action, rule) = nacl_rule(rules, dir, leg.peer, proto, leg.port);
        let rule = format!("{} {rule}{}", leg.name, if leg.reply { " (the reply)" } else { "" });
        if action == Action::Deny {
            hops.push(hop("network ACL", Outcome::Block, rule.clone(), Some("NACL_RULES_MISMATCH")));
            return Some(rule);
        }
        hops.push(hop("network ACL", Outcome::Allow, rule, None));
    }
    None
}

/// Analyze `proto`/`port` from subnet `from` of `vpc` to `dst`. A
/// destination on another host is followed as far as this host decides
/// (its firewall, peering, the tunnel); its own NACL and security groups
/// are that host's, so the answer is then not certain (a probe decides).
pub fn analyze(state: &State, vpc: &Vpc, from: &Subnet, dst: Ipv4Addr, proto: Proto, port: Option<u16>) -> Analysis {
    let mut a = analyze_here(state, vpc, from, dst, proto, port);
    let remote = state.vpcs.iter().find_map(|v| v.remote_subnet_of(dst).map(|r| (v, r)));
    if let Some((v, r)) = remote.filter(|_| a.reachable) {
        let why = format!(
            "{dst} is in {}/{} on host {}: through the tunnel, and that host's NACL and security groups decide the rest",
            v.name, r.name, r.host
        );
        a.hops.push(hop("overlay", Outcome::Info, why, None));
        a.certain = false;
        a.verdict = format!("{} (host {} decides the rest)", a.verdict, r.host);
    }
    a
}

fn analyze_here(state: &State, vpc: &Vpc, from: &Subnet, dst: Ipv4Addr, proto: Proto, port: Option<u16>) -> Analysis {
    let mut hops = vec![];
    let src = vpc.label(from);
    let from_instance = vpc.instances().find(|(_, i)| i.namespace == from.namespace).map(|(_, i)| i);
    // The host itself, as a VPC sees it: what VPCCTL-INPUT lets in, or "not a service".
    let host_open = |mut hops: Vec<Hop>, what: String, rule: String| {
        hops.push(hop("host", Outcome::Allow, format!("{what}: {rule}"), None));
        Analysis { reachable: true, certain: true, network_open: true, verdict: format!("open: {rule}"), code: "PATH_FOUND", hops }
    };
    let host_closed = |mut hops: Vec<Hop>, why: String| {
        hops.push(hop("host", Outcome::Block, format!("{} host is not a service: {why}", vpc.name), Some("HOST_NOT_A_SERVICE")));
        blocked(hops, why, "HOST_NOT_A_SERVICE")
    };
    if from.status != crate::model::Status::Ready {
        hops.push(hop("source", Outcome::Block, format!("{src} was left half-created"), Some("SUBNET_NOT_READY")));
        return blocked(hops, format!("{src} is not fully created (run the command that made it again)"), "SUBNET_NOT_READY");
    }
    hops.push(hop("source", Outcome::Info, format!("{src} {}", from.ip), None));

    // DNS to the VPC's resolver, at its own address (or, a record from
    // before, its gateways): see plan::firewall's input rules and
    // plan::policy's egress rules.
    let to_resolver = vpc.dns.is_some() && matches!(proto, Proto::Tcp | Proto::Udp) && port == Some(53);
    if to_resolver && vpc.resolver_for(from) == Some(dst) && from.policy.is_some() {
        let rule = format!("{src} dns to the vpc resolver (security groups never filter it)");
        hops.push(hop("egress security group", Outcome::Allow, rule, None));
    } else if let Some(inst) = from_instance {
        match groups_decide(vpc, inst, false, dst, proto, port) {
            Ok(rule) => hops.push(hop("egress security group", Outcome::Allow, format!("{src} {rule}"), None)),
            Err((rule, code)) => {
                let rule = format!("{src} {rule}");
                hops.push(hop("egress security group", Outcome::Block, rule.clone(), Some(code)));
                return blocked(hops, rule, code);
            }
        }
    } else if let Some(p) = &from.policy {
        let (action, rule) = security_group(p, false, dst, proto, port);
        let rule = format!("{src} {rule}");
        if action == Action::Deny {
            hops.push(hop("egress security group", Outcome::Block, rule.clone(), Some("ENI_SG_RULES_MISMATCH")));
            return blocked(hops, rule, "ENI_SG_RULES_MISMATCH");
        }
        hops.push(hop("egress security group", Outcome::Allow, rule, None));
    } else {
        hops.push(hop("egress security group", Outcome::Info, format!("{src} has no policy: everything leaves"), None));
    }

    // An elastic IP is an address of the host: DNAT'd only when it comes
    // in on the uplink, and from a VPC the host is not a service.
    if let Some((ev, e)) = state.vpcs.iter().find_map(|v| v.eips.iter().find(|e| e.ip == dst).map(|e| (v, e))) {
        let why = format!(
            "{dst} is the elastic IP of {}/{}, an address of the host: it lets in only what comes from {}",
            ev.name, e.subnet, e.interface
        );
        return host_closed(hops, why);
    }
    // A VPC's resolver address is the host's, outside every VPC: only its
    // own VPC may ask it, and only for names.
    if let Some(rv) = state.vpcs.iter().find(|v| v.resolver_address() == Some(dst)) {
        if rv.name == vpc.name && to_resolver {
            return host_open(hops, format!("{dst} is the resolver of {}", rv.name), format!("{} dns to own resolver", vpc.name));
        }
        let why = format!("{dst} is the resolver of {} (an address of the host), which answers only its own VPC, and only DNS", rv.name);
        return host_closed(hops, why);
    }
    // Where the destination is.
    let holder = state.vpcs.iter().find(|v| v.cidr.contains(&dst));
    let Some(dvpc) = holder else { return outside(state, vpc, from, &src, dst, proto, port, hops) };
    if let Some(s) = dvpc.subnets.iter().find(|s| s.gateway == dst) {
        // The host itself: VPCCTL-INPUT lets a VPC ping its own gateways
        // and ask them for names (its resolver), nothing else.
        let legacy_resolver = dvpc.dns.as_ref().is_some_and(|r| r.address.is_none());
        let offered = match proto {
            Proto::Icmp => Some("ping own gateway"),
            _ if to_resolver && legacy_resolver => Some("dns to own resolver"),
            _ => None,
        };
        if let Some(what) = offered.filter(|_| dvpc.name == vpc.name) {
            return host_open(hops, format!("{dst} is the gateway of {}/{}", dvpc.name, s.name), format!("{} {what}", vpc.name));
        }
        let why = format!("{dst} is the host (gateway of {}/{}), and the host is not a service of the VPC", dvpc.name, s.name);
        return host_closed(hops, why);
    }
    let mut dhosts = dvpc.hosts();
    // On another host: seen from here, a subnet without a NACL or a policy.
    if let Some(r) = dvpc.remote_subnet_of(dst) {
        dhosts.push(r.view(dst));
    }
    let Some(dsub) = dhosts.iter().find(|s| s.ip == dst) else {
        let why = format!("no subnet of {} holds {dst} (the VPC's unreachable route answers)", dvpc.name);
        hops.push(hop("VPC router", Outcome::Block, why.clone(), Some("CANNOT_ROUTE")));
        return blocked(hops, why, "CANNOT_ROUTE");
    };
    let dst_name = dvpc.label(dsub);
    let itself = dsub.namespace == from.namespace;
    // Within a subnet the bridge hands it back: no subnet edge, no NACL.
    let same_subnet = dvpc.name == vpc.name && dsub.cidr == from.cidr;
    if !same_subnet && let Some(rule) = nacls((from, &src), Some((dsub, &dst_name)), dst, proto, port, &mut hops) {
        return blocked(hops, rule, "NACL_RULES_MISMATCH");
    }
    if itself {
        hops.push(hop("VPC router", Outcome::Info, format!("{dst} is {src} itself"), None));
    } else if same_subnet {
        let why = format!("{} intra-vpc: {dst} is in {src}'s own subnet, so no network ACL is crossed", vpc.name);
        hops.push(hop("VPC chain", Outcome::Allow, why, None));
    } else if dvpc.name == vpc.name {
        hops.push(hop("VPC chain", Outcome::Allow, format!("{} intra-vpc", vpc.name), None));
    } else if let Some(routed) = route_to_vpc(state, vpc, from, dvpc, dsub, dst, &mut hops) {
        if let Ok(blocked_here) = routed {
            return blocked_here;
        }
    } else {
        let peering = state.peerings.iter().find(|p| p.joins(vpc.name.as_str(), dvpc.name.as_str()));
        match peering {
            None => {
                let why = format!("{} and {} are not peered (VPC isolation)", vpc.name, dvpc.name);
                hops.push(hop("VPC chain", Outcome::Block, format!("{} default-deny: {why}", vpc.name), Some("VPC_NOT_PEERED")));
                return blocked(hops, why, "VPC_NOT_PEERED");
            }
            Some(p) if !crate::plan::routes::peering_is_plain(state, p) => {
                let carried =
                    crate::plan::routes::peering_pairs(state, p, vpc, dvpc).iter().any(|(a, b)| a.contains(&from.ip) && b.contains(&dst));
                if !carried {
                    let (why, code) = peering_gap(state, p, vpc, from, dvpc, dsub);
                    hops.push(hop("VPC router", Outcome::Block, why.clone(), Some(code)));
                    return blocked(hops, why, code);
                }
                hops.push(hop(
                    "VPC chain",
                    Outcome::Allow,
                    format!("{} peer={}: both route tables send it to peering {}", vpc.name, dvpc.name, p.name()),
                    None,
                ));
            }
            Some(p) => {
                let allowed = pairs(p, vpc, dvpc).iter().any(|(a, b)| a.contains(&from.ip) && b.contains(&dst));
                if !allowed {
                    let only: Vec<String> = p.allow_cidrs.iter().map(|c| c.to_string()).collect();
                    let why = format!("peering {}<->{} allows only {}", p.a, p.b, only.join(", "));
                    hops.push(hop("VPC chain", Outcome::Block, why.clone(), Some("PEERING_CIDR_RESTRICTION")));
                    return blocked(hops, why, "PEERING_CIDR_RESTRICTION");
                }
                let scope = if p.allow_cidrs.is_empty() { "both VPCs whole".to_string() } else { "this pair of CIDRs".to_string() };
                hops.push(hop("VPC chain", Outcome::Allow, format!("{} peer={}: {scope}", vpc.name, dvpc.name), None));
            }
        }
    }

    let mut decided_by = hops.last().map(|h| h.detail.clone()).unwrap_or_default();
    if let Some((_, inst)) = dvpc.instances().find(|(_, i)| i.namespace == dsub.namespace) {
        match groups_decide(dvpc, inst, true, from.ip, proto, port) {
            Ok(rule) => {
                let rule = format!("{dst_name} {rule}");
                hops.push(hop("ingress security group", Outcome::Allow, rule.clone(), None));
                decided_by = rule;
            }
            Err((rule, code)) => {
                let rule = format!("{dst_name} {rule}");
                hops.push(hop("ingress security group", Outcome::Block, rule.clone(), Some(code)));
                return blocked(hops, rule, code);
            }
        }
    } else if let Some(p) = &dsub.policy {
        let (action, rule) = security_group(p, true, from.ip, proto, port);
        let rule = format!("{dst_name} {rule}");
        if action == Action::Deny {
            hops.push(hop("ingress security group", Outcome::Block, rule.clone(), Some("ENI_SG_RULES_MISMATCH")));
            return blocked(hops, rule, "ENI_SG_RULES_MISMATCH");
        }
        hops.push(hop("ingress security group", Outcome::Allow, rule.clone(), None));
        decided_by = rule;
    } else {
        hops.push(hop("ingress security group", Outcome::Info, format!("{dst_name} has no policy: everything enters"), None));
    }
    listener(dsub, &dst_name, proto, port, decided_by, hops)
}

/// The last hop: does something answer?
fn listener(dsub: &Subnet, dst_name: &str, proto: Proto, port: Option<u16>, decided_by: String, mut hops: Vec<Hop>) -> Analysis {
    let open = |hops, certain| Analysis {
        reachable: true,
        certain,
        network_open: true,
        verdict: format!("open: {decided_by}"),
        code: "PATH_FOUND",
        hops,
    };
    let Some(port) = port else {
        hops.push(hop("destination", Outcome::Allow, format!("{dst_name} answers {} itself", proto_word(proto)), None));
        return open(hops, true);
    };
    match dsub.apps.iter().find(|a| a.port == port) {
        Some(a) if crate::helpers::apps::is_ours(a.pid, a.start_time) => {
            hops.push(hop("app", Outcome::Allow, format!("{dst_name} app on port {port} is running (pid {})", a.pid), None));
            open(hops, true)
        }
        Some(a) => {
            let why = format!("{dst_name} app on port {port} (pid {}) is not running", a.pid);
            hops.push(hop("app", Outcome::Block, why.clone(), Some("NO_LISTENER")));
            Analysis { reachable: false, certain: false, network_open: true, verdict: format!("blocked: {why}"), code: "NO_LISTENER", hops }
        }
        None if dsub.apps.is_empty() => {
            hops.push(hop(
                "app",
                Outcome::Info,
                format!("no app deployed in {dst_name}: whether anything listens on {port} is not in the model"),
                None,
            ));
            open(hops, false)
        }
        None => {
            let why = format!("no app vpcctl deployed in {dst_name} listens on {} {port}", proto_word(proto));
            hops.push(hop("app", Outcome::Block, why.clone(), Some("NO_LISTENER")));
            Analysis { reachable: false, certain: false, network_open: true, verdict: format!("blocked: {why}"), code: "NO_LISTENER", hops }
        }
    }
}

/// A destination outside every VPC: only NAT, or the subnet's elastic IP,
/// lets anything out.
#[allow(clippy::too_many_arguments)]
fn outside(
    state: &State,
    vpc: &Vpc,
    from: &Subnet,
    src: &str,
    dst: Ipv4Addr,
    proto: Proto,
    port: Option<u16>,
    mut hops: Vec<Hop>,
) -> Analysis {
    if dst.is_link_local() {
        let why = format!("{dst} is link-local (169.254.0.0/16, where metadata services answer), never NAT'd out");
        hops.push(hop("VPC chain", Outcome::Block, format!("{} nat never link-local: {why}", vpc.name), Some("NO_ROUTE_TO_DESTINATION")));
        return blocked(hops, why, "NO_ROUTE_TO_DESTINATION");
    }
    if let Some(verdict) = routed_out(state, vpc, from, src, dst, proto, port, &mut hops) {
        return verdict;
    }
    let translated = vpc.nat.is_some() && vpc.translated_subnets().iter().any(|s| s.name == from.name);
    // The way out: the VPC's NAT, or else the subnet's own elastic IP
    // (see plan::nat and plan::expose::forward_rules).
    // An elastic IP is the subnet's own namespace's, not its instances'.
    let eip = vpc.eip_of(from);
    let (rule, uplink) = match (&vpc.nat, eip) {
        (Some(nat), _) if translated => (format!("{} nat subnet={} via {}", vpc.name, from.name, nat.interface), &nat.interface),
        (_, Some(e)) => (format!("{} eip {} subnet={}", vpc.name, e.ip, from.name), &e.interface),
        (None, None) => {
            return blocked_at(
                hops,
                "VPC chain",
                format!("{} has no NAT gateway, so nothing leaves it for {dst} (default-deny)", vpc.name),
                "NO_NAT_GATEWAY",
            );
        }
        (Some(nat), None) => {
            let why = match &nat.subnets {
                None => format!("{src} is private and {}'s NAT translates only public subnets", vpc.name),
                Some(names) => {
                    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
                    format!(
                        "{src} is not translated by {}'s NAT (only {})",
                        vpc.name,
                        if names.is_empty() { "-".into() } else { names.join(", ") }
                    )
                }
            };
            return blocked_at(hops, "VPC chain", why, "NO_NAT_FOR_PRIVATE_SUBNET");
        }
    };
    if let Some(rule) = nacls((from, src), None, dst, proto, port, &mut hops) {
        return blocked(hops, rule, "NACL_RULES_MISMATCH");
    }
    hops.push(hop("VPC chain", Outcome::Allow, rule.clone(), None));
    hops.push(hop(
        "internet",
        Outcome::Info,
        format!("{dst} {} is beyond {uplink}: whether it answers is not in the model", what(proto, port)),
        None,
    ));
    Analysis { reachable: true, certain: false, network_open: true, verdict: format!("open: {rule}"), code: "PATH_FOUND", hops }
}

/// The route tables' say on a destination outside every VPC, where the
/// routes decide (`Vpc::routed`: an internet gateway or a route table);
/// `None` leaves it to enable-nat and elastic IPs.
#[allow(clippy::too_many_arguments)]
fn routed_out(
    state: &State,
    vpc: &Vpc,
    from: &Subnet,
    src: &str,
    dst: Ipv4Addr,
    proto: Proto,
    port: Option<u16>,
    hops: &mut Vec<Hop>,
) -> Option<Analysis> {
    use crate::model::routing::{Decision, Origin, Target, host, lookup};
    let uses_model = vpc.routed();
    let decision = lookup(state, vpc, from, host(dst));
    let stop = |hops: &mut Vec<Hop>, component: &str, why: String, code: &'static str| {
        Some(blocked_at(std::mem::take(hops), component, why, code))
    };
    let out = |hops: &mut Vec<Hop>, rule: String, uplink: &str| {
        if let Some(rule) = nacls((from, src), None, dst, proto, port, hops) {
            return Some(blocked(std::mem::take(hops), rule, "NACL_RULES_MISMATCH"));
        }
        hops.push(hop("VPC chain", Outcome::Allow, rule.clone(), None));
        hops.push(hop(
            "internet",
            Outcome::Info,
            format!("{dst} {} is beyond {uplink}: whether it answers is not in the model", what(proto, port)),
            None,
        ));
        Some(Analysis {
            reachable: true,
            certain: false,
            network_open: true,
            verdict: format!("open: {rule}"),
            code: "PATH_FOUND",
            hops: std::mem::take(hops),
        })
    };
    let r = match decision {
        Decision::Route(r) if r.origin == Origin::EnableNat => return None,
        Decision::Route(r) => r,
        Decision::NoRoute { table } if uses_model => {
            let why = format!("route table {table} of {} has no route to {dst} ({src} uses it)", vpc.name);
            return stop(hops, "route table", why, "NO_ROUTE_TO_DESTINATION");
        }
        Decision::NoRoute { .. } | Decision::Local { .. } => return None,
    };
    hops.push(hop("route table", Outcome::Info, format!("{r} (longest prefix for {dst})"), None));
    match &r.target {
        Target::Blackhole => stop(hops, "route table", format!("{r}: a blackhole drops it"), "BLACKHOLE_ROUTE"),
        Target::InternetGateway => match &vpc.internet_gateway {
            None => stop(hops, "internet gateway", format!("{r}, but {} has no internet gateway", vpc.name), "IGW_NOT_ATTACHED"),
            Some(igw) => out(hops, format!("{} igw subnet={} via {}", vpc.name, from.name, igw.interface), &igw.interface),
        },
        Target::NatGateway(n) => {
            let Some(g) = vpc.nat_gateway(n.as_str()) else {
                // On another host: through the tunnel; it translates there.
                if let Some((ip, h)) = vpc.remote_nat_gateway(n.as_str()) {
                    let rule = format!("{} natgw across hosts table={} ({n} at {ip})", vpc.name, vpc.table_name_of(from.name.as_str()));
                    return out(hops, rule, &format!("NAT gateway {n} on host {h}"));
                }
                return stop(hops, "route table", format!("{r}, but the NAT gateway is gone (a blackhole route)"), "BLACKHOLE_ROUTE");
            };
            let gs = vpc.subnet(g.subnet.as_str())?;
            let public = g.eip.map(|e| e.to_string()).unwrap_or_else(|| "the uplink's address".into());
            hops.push(hop(
                "NAT gateway",
                Outcome::Allow,
                format!("{}/{n} at {} translates {src} to its own address, then {public}", vpc.name, g.ip),
                None,
            ));
            // Its own traffic follows its subnet's route table.
            let theirs = lookup(state, vpc, gs, host(dst));
            // Its way out: the internet gateway, or enable-nat's uplink.
            let uplink = match &theirs {
                Decision::Route(t) if t.target == Target::InternetGateway => match t.origin {
                    Origin::EnableNat => vpc.nat.as_ref().map(|n| n.interface.as_str()),
                    _ => vpc.internet_gateway.as_ref().map(|i| i.interface.as_str()),
                },
                _ => None,
            };
            match (&theirs, uplink) {
                (Decision::Route(t), Some(up)) => {
                    hops.push(hop("route table", Outcome::Info, format!("{t} (the NAT gateway's subnet {})", gs.name), None));
                    // Translated, it leaves its own subnet's edge: that NACL too.
                    let gw = nat_gateway_as_source(g, gs);
                    let name = format!("{}/{n}", vpc.name);
                    if let Some(rule) = nacls((&gw, &name), None, dst, proto, port, hops) {
                        return Some(blocked(std::mem::take(hops), rule, "NACL_RULES_MISMATCH"));
                    }
                    out(hops, format!("{} natgw={n} in {} via {up}", vpc.name, gs.name), up)
                }
                _ => {
                    let why = match theirs {
                        Decision::Route(t) => {
                            format!("NAT gateway {n} is in subnet {}, whose {t} does not reach the internet gateway", gs.name)
                        }
                        _ => format!(
                            "NAT gateway {n} is in subnet {}, whose route table {} has no route to the internet gateway",
                            gs.name,
                            vpc.table_name_of(gs.name.as_str())
                        ),
                    };
                    stop(hops, "NAT gateway", why, "NAT_GATEWAY_NO_INTERNET_ROUTE")
                }
            }
        }
        Target::Peering(_) | Target::TransitGateway(_) => {
            let why = format!("{r}, which carries traffic only between VPCs, not to {dst}");
            stop(hops, "route table", why, "NO_ROUTE_TO_DESTINATION")
        }
    }
}

/// Where a route table keeps `from` from reaching `dsub` in another VPC:
/// a blackhole, or (for a transit gateway) the TGW tables. `None` lets the
/// peering checks decide.
/// `Some(Ok(..))`: blocked; `Some(Err(()))`: a transit gateway carries it.
#[allow(clippy::too_many_arguments)]
fn route_to_vpc(
    state: &State,
    vpc: &Vpc,
    from: &Subnet,
    dvpc: &Vpc,
    dsub: &Subnet,
    dst: Ipv4Addr,
    hops: &mut Vec<Hop>,
) -> Option<Result<Analysis, ()>> {
    use crate::model::routing::{Decision, Target, host, lookup};
    let blocked = |hops: &mut Vec<Hop>, component: &str, why: String, code: &'static str| {
        Some(Ok(blocked_at(std::mem::take(hops), component, why, code)))
    };
    match lookup(state, vpc, from, host(dst)) {
        Decision::Route(r) if r.target == Target::Blackhole => {
            blocked(hops, "route table", format!("{r}: a blackhole drops it"), "BLACKHOLE_ROUTE")
        }
        Decision::Route(r) if matches!(r.target, Target::NatGateway(_)) => {
            let Target::NatGateway(n) = &r.target else { unreachable!() };
            let Some(ip) = vpc.nat_gateway(n.as_str()).map(|g| g.ip).or_else(|| vpc.remote_nat_gateway(n.as_str()).map(|(ip, _)| ip))
            else {
                return blocked(hops, "route table", format!("{r}, but the NAT gateway is gone (a blackhole route)"), "BLACKHOLE_ROUTE");
            };
            hops.push(hop("route table", Outcome::Info, format!("{r} (longest prefix for {dst})"), None));
            // The replies come back out of the gateway with the other VPC's
            // source address, on this VPC's bridge: anti-spoofing drops them.
            let why = format!(
                "{r}: NAT gateway {n} ({ip}) translates toward the internet only; replies from {} would reach {}'s bridge with {}'s address, which is dropped as spoofed",
                dvpc.name, vpc.name, dvpc.name
            );
            blocked(hops, "NAT gateway", why, "NO_ROUTE_TO_DESTINATION")
        }
        Decision::Route(r) if matches!(r.target, Target::TransitGateway(_)) => {
            let Target::TransitGateway(t) = &r.target else { unreachable!() };
            let Some(tgw) = state.transit_gateways.iter().find(|x| x.name == *t) else {
                return blocked(hops, "route table", format!("{r}, but the transit gateway is gone"), "BLACKHOLE_ROUTE");
            };
            hops.push(hop("route table", Outcome::Info, format!("{r}"), None));
            let there = crate::plan::routes::tgw_carries(state, tgw, vpc, from, dvpc, dsub);
            let back = crate::plan::routes::tgw_carries(state, tgw, dvpc, dsub, vpc, from);
            if there && back {
                hops.push(hop("transit gateway", Outcome::Allow, format!("{t} carries {} to {} and back", vpc.name, dvpc.name), None));
                hops.push(hop("VPC chain", Outcome::Allow, format!("{} tgw={t}", vpc.name), None));
                return Some(Err(()));
            }
            let (a, b, s) = if there { (dvpc, vpc, dsub) } else { (vpc, dvpc, from) };
            let why = match tgw.table_of(a.name.as_str()) {
                None => format!("{a}'s attachment to transit gateway {t} has no route table associated", a = a.name),
                Some(rt) => {
                    match crate::model::routing::tgw_lookup(state, rt, b.subnet(s.name.as_str()).map(|x| x.cidr).unwrap_or(host(dst))) {
                        crate::model::routing::TgwHop::Blackhole(d) => format!("TGW route table {}/{} blackholes {d}", t, rt.name),
                        _ if there => format!(
                            "the way back: {}'s route table or TGW table {}/{} does not send {} to {}",
                            dvpc.name, t, rt.name, from.cidr, vpc.name
                        ),
                        _ => format!("TGW route table {}/{} (associated with {}) has no route to {}", t, rt.name, a.name, dsub.cidr),
                    }
                }
            };
            blocked(hops, "transit gateway", why, "TGW_ROUTE_TABLE_NO_ROUTE")
        }
        _ => None,
    }
}

/// A NAT gateway as the source of what it translates: its address, in its
/// subnet (whose NACL it is behind), with no security group of its own.
fn nat_gateway_as_source(g: &crate::model::routing::NatGateway, gs: &Subnet) -> Subnet {
    Subnet { ip: g.ip, policy: None, apps: vec![], ..gs.clone() }
}

/// Why a peering with route tables does not carry `from` to `dsub`.
fn peering_gap(state: &State, p: &crate::model::Peering, vpc: &Vpc, from: &Subnet, dvpc: &Vpc, dsub: &Subnet) -> (String, &'static str) {
    use crate::model::routing::{Decision, Target, lookup};
    let t = Target::Peering(p.name());
    let say = |v: &Vpc, s: &Subnet, d: ipnet::Ipv4Net| match lookup(state, v, s, d) {
        Decision::Route(r) if r.target == t => None,
        Decision::Route(r) => Some(format!("{}/{}: {r}, not the peering", v.name, s.name)),
        Decision::NoRoute { table } | Decision::Local { table } => {
            Some(format!("route table {table} of {} has no route to {d} via peering {}", v.name, p.name()))
        }
    };
    if let Some(why) = say(vpc, from, dsub.cidr).or_else(|| say(dvpc, dsub, from.cidr)) {
        return (why, "PEERING_NO_ROUTE");
    }
    let only: Vec<String> = p.allow_cidrs.iter().map(|c| c.to_string()).collect();
    (format!("peering {}<->{} allows only {}", p.a, p.b, only.join(", ")), "PEERING_CIDR_RESTRICTION")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::policy::Policy;

    fn state(extra: &str) -> State {
        serde_json::from_str(&format!(
            r#"{{"schema_version":1,"vpcs":[
            {{"name":"vpc1","cidr":"10.10.0.0/16","bridge":"br-vpc1","link_group":1,"chain":"VPCCTL-FWD-vpc1","status":"ready",
              "nat":{{"interface":"uplink0"}},
              "subnets":[{{"name":"web","cidr":"10.10.1.0/24","type":"public","namespace":"ns-vpc1-web","veth":"v-vpc1-web","gateway":"10.10.1.1","ip":"10.10.1.2","status":"ready"}},
                         {{"name":"db","cidr":"10.10.2.0/24","type":"private","namespace":"ns-vpc1-db","veth":"v-vpc1-db","gateway":"10.10.2.1","ip":"10.10.2.2","status":"ready"}}]}},
            {{"name":"vpc2","cidr":"10.20.0.0/16","bridge":"br-vpc2","link_group":2,"chain":"VPCCTL-FWD-vpc2","status":"ready",
              "subnets":[{{"name":"api","cidr":"10.20.1.0/24","type":"private","namespace":"ns-vpc2-api","veth":"v-vpc2-api","gateway":"10.20.1.1","ip":"10.20.1.2","status":"ready"}},
                         {{"name":"batch","cidr":"10.20.2.0/24","type":"private","namespace":"ns-vpc2-batch","veth":"v-vpc2-batch","gateway":"10.20.2.1","ip":"10.20.2.2","status":"ready"}}]}},
            {{"name":"vpc3","cidr":"10.30.0.0/16","bridge":"br-vpc3","link_group":3,"chain":"VPCCTL-FWD-vpc3","status":"ready",
              "subnets":[{{"name":"lab","cidr":"10.30.1.0/24","type":"private","namespace":"ns-vpc3-lab","veth":"v-vpc3-lab","gateway":"10.30.1.1","ip":"10.30.1.2","status":"ready"}}]}}],
            "peerings":[{{"a":"vpc1","b":"vpc2","allow_cidrs":["10.10.1.0/24","10.20.1.0/24"]}}]{extra}}}"#
        ))
        .unwrap()
    }

    fn run(st: &State, from: &str, dst: &str, proto: Proto, port: Option<u16>) -> Analysis {
        let (v, s) = from.split_once('/').unwrap();
        let vpc = st.vpc(v).unwrap();
        analyze(st, vpc, vpc.subnet(s).unwrap(), dst.parse().unwrap(), proto, port)
    }

    #[test]
    fn nacls_are_stateless_and_checked_at_both_edges() {
        let mut st = state("");
        let nacl = crate::model::nacl::Nacl::parse(
            r#"{"inbound": [{"rule": 100, "protocol": "tcp", "ports": "5432", "cidr": "10.10.1.0/24", "action": "allow"}],
                "outbound": [{"rule": 100, "protocol": "tcp", "ports": "1024-65535", "cidr": "10.10.1.0/24", "action": "allow"}]}"#,
        )
        .unwrap();
        st.vpcs[0].subnets[1].nacl = Some(nacl.clone());
        let a = run(&st, "vpc1/web", "10.10.2.2", Proto::Tcp, Some(5432));
        assert!(a.network_open, "in on 5432, replies out on the ephemeral range: {a:?}");
        assert_eq!(a.hops.iter().filter(|h| h.component == "network ACL").count(), 2, "{a:?}");
        let a = run(&st, "vpc1/web", "10.10.2.2", Proto::Icmp, None);
        assert_eq!((a.reachable, a.code), (false, "NACL_RULES_MISMATCH"));
        assert_eq!(a.verdict, "blocked: vpc1/db nacl inbound: no rule matches, so it is denied");
        // Without the outbound rule, the request gets in and the reply is denied.
        st.vpcs[0].subnets[1].nacl = Some(crate::model::nacl::Nacl { outbound: vec![], ..nacl });
        let a = run(&st, "vpc1/web", "10.10.2.2", Proto::Tcp, Some(5432));
        assert_eq!(a.verdict, "blocked: vpc1/db nacl outbound: no rule matches, so it is denied (the reply)");
    }

    #[test]
    fn a_vpcs_resolver_answers_on_its_own_gateways_only() {
        let mut st = state("");
        let a = run(&st, "vpc1/web", "10.10.2.1", Proto::Udp, Some(53));
        assert_eq!((a.reachable, a.code), (false, "HOST_NOT_A_SERVICE"), "no DNS: the host is closed");
        let name = st.vpcs[0].name.clone();
        st.vpcs[0].dns = Some(crate::model::services::Resolver::new(std::path::Path::new("/st"), &name));
        for (dst, proto) in [("10.10.1.1", Proto::Udp), ("10.10.2.1", Proto::Tcp)] {
            let a = run(&st, "vpc1/web", dst, proto, Some(53));
            assert!(a.reachable && a.certain, "{dst}: {a:?}");
            assert_eq!(a.verdict, "open: vpc1 dns to own resolver");
        }
        assert!(!run(&st, "vpc1/web", "10.10.1.1", Proto::Tcp, Some(22)).reachable, "only DNS");
        assert!(!run(&st, "vpc2/api", "10.10.1.1", Proto::Udp, Some(53)).reachable, "not another VPC's resolver");
        // A security group that denies all egress still lets DNS to its own gateway out.
        let deny_all = Policy::parse(r#"{"default_egress": "deny"}"#).unwrap();
        st.vpcs[0].subnets[0].policy = Some(deny_all);
        assert!(run(&st, "vpc1/web", "10.10.1.1", Proto::Udp, Some(53)).reachable);
        assert!(!run(&st, "vpc1/web", "10.10.2.1", Proto::Udp, Some(53)).reachable, "only its own subnet's gateway");
    }

    #[test]
    fn a_resolver_with_an_address_of_its_own_answers_there_only() {
        let mut st = state("");
        let name = st.vpcs[0].name.clone();
        let r = crate::model::services::Resolver::new(std::path::Path::new("/st"), &name).with_address(&mut vec![]);
        st.vpcs[0].dns = Some(r);
        let a = run(&st, "vpc1/web", "169.254.53.1", Proto::Udp, Some(53));
        assert_eq!(a.verdict, "open: vpc1 dns to own resolver", "{a:?}");
        assert!(!run(&st, "vpc1/web", "10.10.1.1", Proto::Udp, Some(53)).reachable, "not on the gateways any more");
        assert!(!run(&st, "vpc1/web", "169.254.53.1", Proto::Tcp, Some(22)).reachable, "only DNS");
        let a = run(&st, "vpc2/api", "169.254.53.1", Proto::Udp, Some(53));
        assert_eq!((a.reachable, a.code), (false, "HOST_NOT_A_SERVICE"), "not another VPC's resolver: {a:?}");
        let deny_all = Policy::parse(r#"{"default_egress": "deny"}"#).unwrap();
        st.vpcs[0].subnets[0].policy = Some(deny_all);
        assert!(run(&st, "vpc1/web", "169.254.53.1", Proto::Udp, Some(53)).reachable, "security groups never filter it");
    }

    #[test]
    fn isolation_blocks_unpeered_vpcs() {
        let a = run(&state(""), "vpc3/lab", "10.10.1.2", Proto::Icmp, None);
        assert_eq!((a.reachable, a.code), (false, "VPC_NOT_PEERED"));
        assert_eq!(a.verdict, "blocked: vpc3 and vpc1 are not peered (VPC isolation)");
    }

    #[test]
    fn peering_opens_only_its_allowed_cidrs() {
        let st = state("");
        let a = run(&st, "vpc2/api", "10.10.1.2", Proto::Icmp, None);
        assert!(a.reachable && a.certain, "{a:?}");
        assert!(a.hops.iter().any(|h| h.detail == "vpc2 peer=vpc1: this pair of CIDRs"), "{a:?}");
        let a = run(&st, "vpc2/batch", "10.10.1.2", Proto::Icmp, None);
        assert_eq!((a.reachable, a.code), (false, "PEERING_CIDR_RESTRICTION"));
        assert_eq!(a.verdict, "blocked: peering vpc1<->vpc2 allows only 10.10.1.0/24, 10.20.1.0/24");
    }

    #[test]
    fn intra_vpc_is_open_and_unallocated_addresses_cannot_be_routed() {
        let st = state("");
        let a = run(&st, "vpc1/web", "10.10.2.2", Proto::Icmp, None);
        assert!(a.reachable && a.verdict.contains("vpc1 intra-vpc"), "{a:?}");
        let a = run(&st, "vpc1/web", "10.10.9.9", Proto::Icmp, None);
        assert_eq!(a.code, "CANNOT_ROUTE");
    }

    #[test]
    fn the_host_answers_only_pings_to_the_vpcs_own_gateway() {
        let st = state("");
        assert!(run(&st, "vpc1/web", "10.10.2.1", Proto::Icmp, None).reachable, "any gateway of its own VPC");
        let a = run(&st, "vpc1/web", "10.10.1.1", Proto::Tcp, Some(22));
        assert_eq!((a.reachable, a.code), (false, "HOST_NOT_A_SERVICE"));
        assert_eq!(run(&st, "vpc2/api", "10.10.1.1", Proto::Icmp, None).code, "HOST_NOT_A_SERVICE", "another VPC's gateway");
        assert_eq!(run(&st, "vpc1/web", "169.254.169.254", Proto::Tcp, Some(80)).code, "NO_ROUTE_TO_DESTINATION");
    }

    #[test]
    fn nat_opens_public_subnets_only() {
        let st = state("");
        let a = run(&st, "vpc1/web", "198.51.100.80", Proto::Tcp, Some(80));
        assert!(a.reachable && !a.certain && a.verdict == "open: vpc1 nat subnet=web via uplink0", "{a:?}");
        let a = run(&st, "vpc1/db", "198.51.100.80", Proto::Tcp, Some(80));
        assert_eq!(a.verdict, "blocked: vpc1/db is private and vpc1's NAT translates only public subnets");
        assert_eq!(a.code, "NO_NAT_FOR_PRIVATE_SUBNET");
        let a = run(&st, "vpc2/api", "198.51.100.80", Proto::Icmp, None);
        assert_eq!(a.code, "NO_NAT_GATEWAY");
    }

    #[test]
    fn security_groups_decide_with_the_rule_that_matched() {
        let mut st = state("");
        let db = Policy::parse(r#"{"default_ingress": "deny", "ingress": [{"port": 5432, "cidr": "10.10.1.0/24", "action": "allow"}]}"#)
            .unwrap();
        st.vpcs[0].subnets[1].policy = Some(db);
        let a = run(&st, "vpc1/web", "10.10.2.2", Proto::Tcp, Some(5432));
        assert_eq!(a.verdict, "open: vpc1/db ingress[0] allows tcp 5432 from 10.10.1.0/24");
        assert!(!a.certain, "no app deployed: the listener is unknown");
        let a = run(&st, "vpc1/web", "10.10.2.2", Proto::Tcp, Some(22));
        assert_eq!((a.code, a.verdict.as_str()), ("ENI_SG_RULES_MISMATCH", "blocked: vpc1/db default_ingress denies everything else"));
        let web = Policy::parse(r#"{"default_egress": "deny", "egress": [{"protocol": "icmp", "action": "allow"}]}"#).unwrap();
        st.vpcs[0].subnets[0].policy = Some(web);
        let a = run(&st, "vpc1/web", "10.10.2.2", Proto::Tcp, Some(5432));
        assert_eq!(a.verdict, "blocked: vpc1/web default_egress denies everything else");
        assert!(run(&st, "vpc1/web", "10.20.1.2", Proto::Icmp, None).reachable);
    }

    #[test]
    fn route_tables_decide_and_the_verdict_names_table_route_and_code() {
        use crate::model::routing::{InternetGateway, NatGateway, Route, RouteTable, Target, TgwRouteTable, TransitGateway};
        let n = |s: &str| crate::model::Name::parse("n", s).unwrap();
        let route = |d: &str, t: Target| Route { destination: d.parse().unwrap(), target: t };
        let mut st = state("");
        st.peerings.clear();
        let v1 = st.vpc_mut("vpc1").unwrap();
        v1.nat = None;
        v1.internet_gateway = Some(InternetGateway { interface: "uplink0".into() });
        v1.nat_gateways.push(NatGateway {
            name: n("ngw"),
            subnet: n("db"),
            ip: "10.10.2.4".parse().unwrap(),
            namespace: "ngw-vpc1-ngw".into(),
            veth: "g-vpc1-ngw".into(),
            eip: None,
            status: crate::model::Status::Ready,
        });
        v1.route_tables = vec![
            RouteTable { name: n("main"), table: 0x5650_0001, routes: vec![route("198.51.100.0/24", Target::Blackhole)], subnets: vec![] },
            RouteTable {
                name: n("public"),
                table: 0x5650_0002,
                routes: vec![route("0.0.0.0/0", Target::NatGateway(n("ngw"))), route("10.20.0.0/16", Target::TransitGateway(n("tgw")))],
                subnets: vec![n("web")],
            },
        ];
        let code = |st: &State, from: &str, to: &str| run(st, from, to, Proto::Icmp, None).code;
        // db (main): a blackhole for 198.51.100.0/24, nothing else.
        assert_eq!(code(&st, "vpc1/db", "198.51.100.80"), "BLACKHOLE_ROUTE");
        let a = run(&st, "vpc1/db", "203.0.113.9", Proto::Icmp, None);
        assert_eq!(a.code, "NO_ROUTE_TO_DESTINATION");
        assert!(a.verdict.contains("route table main of vpc1 has no route to 203.0.113.9"), "{}", a.verdict);
        // web goes through a NAT gateway whose own subnet (db, main) has no way out.
        let a = run(&st, "vpc1/web", "203.0.113.9", Proto::Icmp, None);
        assert_eq!(a.code, "NAT_GATEWAY_NO_INTERNET_ROUTE", "{a:?}");
        assert!(a.hops.iter().any(|h| h.detail.contains("route table public: 0.0.0.0/0 -> nat-gateway ngw")), "{a:?}");
        st.vpc_mut("vpc1").unwrap().route_tables[0].routes.push(route("0.0.0.0/0", Target::InternetGateway));
        assert_eq!(code(&st, "vpc1/web", "203.0.113.9"), "PATH_FOUND");
        st.vpc_mut("vpc1").unwrap().internet_gateway = None;
        assert_eq!(code(&st, "vpc1/db", "203.0.113.9"), "IGW_NOT_ATTACHED");
        // The transit gateway: attached, but no table is associated with vpc1's attachment.
        st.transit_gateways.push(TransitGateway { name: n("tgw"), attachments: vec![n("vpc1"), n("vpc2")], route_tables: vec![] });
        let a = run(&st, "vpc1/web", "10.20.1.2", Proto::Icmp, None);
        assert_eq!(a.code, "TGW_ROUTE_TABLE_NO_ROUTE", "{a:?}");
        let t = TgwRouteTable {
            name: n("all"),
            associations: vec![n("vpc1"), n("vpc2")],
            propagations: vec![n("vpc1"), n("vpc2")],
            routes: vec![],
        };
        st.transit_gateways[0].route_tables.push(t);
        assert_eq!(code(&st, "vpc1/web", "10.20.1.2"), "TGW_ROUTE_TABLE_NO_ROUTE", "vpc2 does not route back to the TGW");
        st.vpc_mut("vpc2").unwrap().route_tables = vec![RouteTable {
            name: n("main"),
            table: 0x5650_0003,
            routes: vec![route("10.10.0.0/16", Target::TransitGateway(n("tgw")))],
            subnets: vec![],
        }];
        assert_eq!(code(&st, "vpc1/web", "10.20.1.2"), "PATH_FOUND");
        // A peering without routes: PEERING_NO_ROUTE, naming the side that lacks one.
        st.peerings.push(crate::model::Peering { a: n("vpc1"), b: n("vpc3"), allow_cidrs: vec![], name: Some(n("p13")), no_routes: true });
        let a = run(&st, "vpc1/db", "10.30.1.2", Proto::Icmp, None);
        assert_eq!(a.code, "PEERING_NO_ROUTE", "{a:?}");
        assert!(a.verdict.contains("vpc1/db: route table main: 0.0.0.0/0 -> igw, not the peering"), "{}", a.verdict);
    }

    #[test]
    fn a_deployed_app_makes_the_verdict_certain() {
        let mut st = state("");
        st.vpcs[0].subnets[1].apps.push(crate::model::App {
            port: 5432,
            pid: std::process::id(),
            start_time: crate::helpers::apps::start_time(std::process::id()).unwrap(),
            command: vec![],
            log: "/l".into(),
            builtin: true,
            user: None,
            uid: None,
        });
        let a = run(&st, "vpc1/web", "10.10.2.2", Proto::Tcp, Some(5432));
        assert!(a.reachable && a.certain, "{a:?}");
        let a = run(&st, "vpc1/web", "10.10.2.2", Proto::Tcp, Some(5433));
        assert_eq!(a.code, "NO_LISTENER");
    }
}

/// The analyzer against the rules the planners really emit: generated
/// topologies and packets, the packet run through those rules by a small
/// evaluator of the iptables grammar vpcctl writes, and both must agree.
#[cfg(test)]
mod agreement_with_the_planners {
    use std::net::Ipv4Addr;

    use ipnet::Ipv4Net;
    use proptest::prelude::*;

    use super::analyze;
    use crate::kernel::probe::Proto;
    use crate::model::State;
    use crate::model::nacl::{Nacl, NaclRule};
    use crate::model::policy::{Action, PortRange, Protocol, Rule};
    use crate::model::routing::{InternetGateway, NatGateway, Route, RouteTable, Target, TgwRoute, TgwRouteTable, TransitGateway};
    use crate::model::services::{Eip, Expose};
    use crate::model::testing;
    use crate::model::{Name, Nat, Peering, Subnet, SubnetKind, Vpc};
    use crate::plan::iptables::normalize;
    use crate::plan::{firewall, policy, routes};

    /// Where the kernel sends what arrives on `v`'s bridge from `src`: our
    /// `ip rule`s and kernel tables as the planners wrote them, else main.
    enum Next {
        Out(String),
        Via(Ipv4Addr),
        Drop,
    }

    fn kernel_next(st: &State, v: &Vpc, src: Ipv4Addr, dst: Ipv4Addr) -> Next {
        let specs: Vec<String> = routes::all_table_specs(st, v);
        for rule in routes::rule_specs(v) {
            let w: Vec<&str> = rule.split_whitespace().collect();
            if !w[1].parse::<Ipv4Net>().unwrap().contains(&src) {
                continue;
            }
            let mut best: Option<(u8, Vec<&str>)> = None;
            for s in specs.iter().filter(|s| s.ends_with(&format!("table {}", w[5]))) {
                let r: Vec<&str> = s.split_whitespace().collect();
                let at = usize::from(matches!(r[0], "throw" | "blackhole" | "unreachable"));
                let d: Ipv4Net = r[at].parse().unwrap();
                if d.contains(&dst) && best.as_ref().is_none_or(|(l, _)| d.prefix_len() > *l) {
                    best = Some((d.prefix_len(), r));
                }
            }
            match best.as_ref().map(|(_, r)| r[0]) {
                None | Some("throw") => break,
                Some("blackhole" | "unreachable") => return Next::Drop,
                Some(_) => return Next::Via(best.unwrap().1[2].parse().unwrap()),
            }
        }
        if let Some(x) = st.vpcs.iter().find(|x| x.subnets.iter().any(|y| y.cidr.contains(&dst))) {
            return Next::Out(x.bridge.clone());
        }
        if st.vpcs.iter().any(|x| x.cidr.contains(&dst)) { Next::Drop } else { Next::Out("uplink0".into()) }
    }

    struct Pkt<'a> {
        i: &'a str,
        o: &'a str,
        s: Ipv4Addr,
        d: Ipv4Addr,
        p: Proto,
        sport: Option<u16>,
        dport: Option<u16>,
        /// A reply of an established connection (else a new one, never DNAT'd).
        reply: bool,
    }

    /// ACCEPT (true), DROP (false), or fell off the end of `chain` (None).
    fn eval(rules: &[String], chain: &str, pkt: &Pkt) -> Option<bool> {
        for r in rules {
            let t = normalize(r);
            if t.get(1).map(String::as_str) != Some(chain) {
                continue;
            }
            let (mut ok, mut target, mut k, mut not) = (true, "", 2, false);
            while k < t.len() {
                let arg = t.get(k + 1).map(String::as_str).unwrap_or("");
                match t[k].as_str() {
                    "!" => {
                        not = true;
                        k += 1;
                        continue;
                    }
                    "-s" => ok &= arg.parse::<Ipv4Net>().unwrap().contains(&pkt.s) != not,
                    "-d" => ok &= arg.parse::<Ipv4Net>().unwrap().contains(&pkt.d) != not,
                    "-i" => ok &= (arg == pkt.i) != not,
                    "-o" => ok &= (arg == pkt.o) != not,
                    "-p" => ok &= arg == super::proto_word(pkt.p),
                    "--dport" | "--sport" => {
                        let (a, b) = arg.split_once(':').unwrap_or((arg, arg));
                        let port = if t[k] == "--dport" { pkt.dport } else { pkt.sport };
                        ok &= port.is_some_and(|p| a.parse::<u16>().unwrap() <= p && p <= b.parse::<u16>().unwrap());
                    }
                    "-j" => target = arg,
                    "-m" if arg == "comment" => k += 2,
                    // Neither a request nor its reply was DNAT'd here.
                    "-m" if arg == "conntrack" => {
                        let want = if pkt.reply { ["ESTABLISHED", "RELATED"] } else { ["NEW", "NEW"] };
                        ok &= t[k + 3].split(',').any(|s| want.contains(&s));
                        k += 2;
                    }
                    other => panic!("the evaluator does not model {other:?} in {r}"),
                }
                not = false;
                k += 2;
            }
            if !ok {
                continue;
            }
            match target {
                "ACCEPT" => return Some(true),
                "DROP" => return Some(false),
                "RETURN" => return None,
                jump => {
                    if let Some(v) = eval(rules, jump, pkt) {
                        return Some(v);
                    }
                }
            }
        }
        None
    }

    /// Whether a new connection gets through every firewall vpcctl wrote,
    /// and its replies back through the stateless ones (NACLs): to the host
    /// (a gateway) through INPUT, else through FORWARD both ways.
    fn delivered(st: &State, v: &Vpc, s: &Subnet, dst: Ipv4Addr, p: Proto, dport: Option<u16>) -> bool {
        let sg = |sub: &Subnet, vpc: &Vpc, chain: &str, pkt: &Pkt| match &sub.policy {
            None => true,
            Some(pol) => eval(&policy::rules(vpc, sub, pol), chain, pkt).expect("a policy chain ends in its default"),
        };
        let sport = dport.map(|_| super::EPHEMERAL_PORT);
        let out = Pkt { i: "", o: "eth0", s: s.ip, d: dst, p, sport, dport, reply: false };
        if !sg(s, v, policy::EGRESS_CHAIN, &out) {
            return false;
        }
        let host = st
            .vpcs
            .iter()
            .any(|x| x.subnets.iter().any(|y| y.gateway == dst) || x.eips.iter().any(|e| e.ip == dst) || x.resolver_address() == Some(dst));
        if host {
            let input: Vec<String> = firewall::input_rules(st).into_iter().filter(|l| !l.starts_with(':')).collect();
            let to_host = Pkt { i: &v.bridge, o: "", ..out };
            // Nothing of ours matched: the host's INPUT policy (ACCEPT here).
            return eval(&input, firewall::INPUT_CHAIN, &to_host).unwrap_or(true);
        }
        let mut fwd: Vec<String> = firewall::filter_dispatch(st).into_iter().filter(|l| !l.starts_with(':')).collect();
        for x in &st.vpcs {
            fwd.extend(firewall::vpc_rules(st, x));
        }
        fwd.extend(firewall::side_chains(st).into_iter().flat_map(|(_, rules)| rules));
        let dest = st.vpcs.iter().find_map(|x| x.hosts().into_iter().find(|y| y.ip == dst).map(|y| (x, y)));
        // Nothing of ours matched: the host's FORWARD policy (DROP here).
        let passes = |pkt: &Pkt| eval(&fwd, firewall::FORWARD_CHAIN, pkt).unwrap_or(false);
        // Through a NAT gateway: to it on the same bridge, through its own
        // rules, then on as its own (translated) packet.
        let (from, out_if, via) = match kernel_next(st, v, s.ip, dst) {
            Next::Drop => return false,
            Next::Out(i) => (s.ip, i, false),
            Next::Via(gip) => {
                let g = v.nat_gateways.iter().find(|g| g.ip == gip).expect("a route via a recorded gateway");
                if !passes(&Pkt { i: &v.bridge, o: &v.bridge, ..out }) {
                    return false;
                }
                // It filters nothing: what reaches it leaves translated.
                match kernel_next(st, v, g.ip, dst) {
                    Next::Out(i) => (g.ip, i, true),
                    // Back to a gateway: its own address is never forwarded.
                    _ => return false,
                }
            }
        };
        let through = Pkt { i: &v.bridge, o: &out_if, s: from, d: dst, p, sport, dport, reply: false };
        if !passes(&through) {
            return false;
        }
        if let Some((x, y)) = &dest
            && !sg(y, x, policy::INGRESS_CHAIN, &Pkt { i: "eth0", o: "", s: from, d: dst, p, sport, dport, reply: false })
        {
            return false;
        }
        // The reply: security groups are stateful, the host's rules are not all.
        let back = Pkt { i: &out_if, o: &v.bridge, s: dst, d: from, p, sport: dport, dport: sport, reply: true };
        if !passes(&back) {
            return false;
        }
        !via || passes(&Pkt { i: &v.bridge, o: &v.bridge, s: dst, d: s.ip, p, sport: dport, dport: sport, reply: true })
    }

    /// The routing model on some VPCs: an internet gateway (where there is
    /// no enable-nat), a NAT gateway, a transit gateway, and route tables
    /// (main and one more, with a subnet) whose routes pick among them.
    fn routing_of(d: &mut Dice, st: &mut State) {
        let n = st.vpcs.len();
        if n > 1 && d.roll(2) == 0 {
            let names: Vec<Name> = st.vpcs.iter().map(|v| v.name.clone()).collect();
            let pick = |d: &mut Dice| names.iter().filter(|_| d.roll(2) == 0).cloned().collect::<Vec<_>>();
            let table = |d: &mut Dice, name: &str| TgwRouteTable {
                name: Name::parse("n", name).unwrap(),
                associations: vec![],
                propagations: pick(d),
                routes: if d.roll(3) == 0 { vec![TgwRoute { destination: st.vpcs[d.roll(n)].cidr, vpc: None }] } else { vec![] },
            };
            let mut t = TransitGateway {
                name: Name::parse("n", "tgw").unwrap(),
                attachments: names.clone(),
                route_tables: vec![table(d, "x"), table(d, "y")],
            };
            for a in &names {
                match d.roll(3) {
                    0 => {}
                    k => t.route_tables[k - 1].associations.push(a.clone()),
                }
            }
            st.transit_gateways.push(t);
        }
        for vi in 0..n {
            if d.roll(2) == 0 {
                continue;
            }
            let peers: Vec<Name> = st.peerings_of(st.vpcs[vi].name.as_str()).map(|p| p.name()).collect();
            let others: Vec<Ipv4Net> = st
                .vpcs
                .iter()
                .filter(|x| x.name != st.vpcs[vi].name)
                .flat_map(|x| x.subnets.iter().map(|s| s.cidr).chain([x.cidr]))
                .collect();
            let tgw = !st.transit_gateways.is_empty();
            let v = &mut st.vpcs[vi];
            if v.nat.is_none() && d.roll(3) != 0 {
                v.internet_gateway = Some(InternetGateway { interface: "uplink0".into() });
            }
            if d.roll(2) == 0 {
                let s = v.subnets[d.roll(v.subnets.len())].clone();
                let eip = (v.internet_gateway.is_some() && d.roll(2) == 0).then(|| Ipv4Addr::new(203, 0, 113, 50 + vi as u8));
                let ip = Ipv4Addr::from(u32::from(s.cidr.network()) + 4);
                let (namespace, veth) = (format!("ngw-{}-g", v.name), format!("g-{}-g", v.name));
                v.nat_gateways.push(NatGateway {
                    name: Name::parse("n", "g").unwrap(),
                    subnet: s.name,
                    ip,
                    namespace,
                    veth,
                    eip,
                    status: crate::model::Status::Ready,
                });
            }
            let mut targets = vec![Target::Blackhole];
            targets.extend(v.internet_gateway.as_ref().map(|_| Target::InternetGateway));
            targets.extend(v.nat_gateways.iter().map(|g| Target::NatGateway(g.name.clone())));
            targets.extend(peers.into_iter().map(Target::Peering));
            if tgw {
                targets.push(Target::TransitGateway(Name::parse("n", "tgw").unwrap()));
            }
            let mut dests: Vec<Ipv4Net> =
                vec!["0.0.0.0/0".parse().unwrap(), "198.51.100.80/32".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
            dests.extend(others);
            for (k, name) in ["main", "t1"].iter().enumerate() {
                let mut routes: Vec<Route> = vec![];
                for _ in 0..d.roll(4) {
                    let destination = dests[d.roll(dests.len())];
                    // The local route always wins: nothing inside the VPC.
                    if !routes.iter().any(|r| r.destination == destination) && !v.cidr.contains(&destination) {
                        routes.push(Route { destination, target: targets[d.roll(targets.len())].clone() });
                    }
                }
                let subnets = if k == 1 { vec![v.subnets[d.roll(v.subnets.len())].name.clone()] } else { vec![] };
                v.route_tables.push(RouteTable {
                    name: Name::parse("n", name).unwrap(),
                    table: 0x5650_0001 + k as u32 + 2 * vi as u32,
                    routes,
                    subnets,
                });
            }
        }
    }

    /// Deterministic choices from the generated numbers.
    struct Dice(Vec<u32>, usize);
    impl Dice {
        fn roll(&mut self, n: usize) -> usize {
            let v = self.0[self.1 % self.0.len()];
            self.1 += 1;
            v as usize % n
        }
    }

    fn topology(d: &mut Dice) -> State {
        let mut st = State::default();
        let mut resolvers = vec![];
        for k in 1..=1 + d.roll(3) {
            let mut v = testing::vpc(&format!("v{k}"), &format!("10.{k}.0.0/16"), &[]);
            for j in 1..=1 + d.roll(3) {
                let kind = if d.roll(2) == 0 { SubnetKind::Public } else { SubnetKind::Private };
                v.subnets.push(testing::subnet(&format!("v{k}"), &format!("s{j}"), &format!("10.{k}.{j}.0/24"), kind));
            }
            v.nat = match d.roll(3) {
                0 => None,
                1 => Some(Nat { interface: "uplink0".into(), subnets: None }),
                _ => Some(Nat { interface: "uplink0".into(), subnets: Some(vec![v.subnets[d.roll(v.subnets.len())].name.clone()]) }),
            };
            // A resolver at an address of its own, or (a record from before) on its gateways.
            match d.roll(3) {
                0 => {}
                1 => v.dns = Some(crate::model::services::Resolver::new(std::path::Path::new("/st"), &v.name)),
                _ => {
                    let r = crate::model::services::Resolver::new(std::path::Path::new("/st"), &v.name);
                    v.dns = Some(r.with_address(&mut resolvers));
                }
            }
            // An elastic IP on a public subnet, with or without NAT; a port
            // exposed (DNAT rules a subnet's own connections never match).
            let public: Vec<Name> = v.subnets.iter().filter(|s| s.kind == SubnetKind::Public).map(|s| s.name.clone()).collect();
            if !public.is_empty() && d.roll(3) == 0 {
                let subnet = public[d.roll(public.len())].clone();
                v.eips.push(Eip { subnet, ip: Ipv4Addr::new(203, 0, 113, 10 + k as u8), interface: "uplink0".into() });
            }
            if d.roll(3) == 0 {
                let subnet = v.subnets[d.roll(v.subnets.len())].name.clone();
                v.expose.push(Expose { subnet, port: 80, host_port: 8000 + k as u16, interface: "uplink0".into() });
            }
            st.vpcs.push(v);
        }
        let nets: Vec<Ipv4Net> = st.vpcs.iter().flat_map(|v| v.subnets.iter().map(|s| s.cidr).chain([v.cidr])).collect();
        for a in 0..st.vpcs.len() {
            for b in a + 1..st.vpcs.len() {
                let allow_cidrs = match d.roll(3) {
                    0 => continue,
                    1 => vec![],
                    _ => {
                        let pick = |d: &mut Dice, v: &Vpc| {
                            let all: Vec<Ipv4Net> = v.subnets.iter().map(|s| s.cidr).chain([v.cidr]).collect();
                            all[d.roll(all.len())]
                        };
                        vec![pick(d, &st.vpcs[a]), pick(d, &st.vpcs[b])]
                    }
                };
                let no_routes = d.roll(3) == 0;
                st.peerings.push(Peering { a: st.vpcs[a].name.clone(), b: st.vpcs[b].name.clone(), allow_cidrs, name: None, no_routes });
            }
        }
        routing_of(d, &mut st);
        for vi in 0..st.vpcs.len() {
            for si in 0..st.vpcs[vi].subnets.len() {
                if d.roll(2) == 0 {
                    let p = policy_of(d, &nets);
                    st.vpcs[vi].subnets[si].policy = Some(p);
                }
                if d.roll(3) == 0 {
                    st.vpcs[vi].subnets[si].nacl = Some(nacl_of(d, &nets));
                }
            }
            groups_of(d, &mut st.vpcs[vi], &nets);
        }
        st
    }

    /// Security groups whose rules name CIDRs or groups (`default` among
    /// them, sometimes edited), and instances in them.
    fn groups_of(d: &mut Dice, v: &mut Vpc, nets: &[Ipv4Net]) {
        use crate::model::instance::{Instance, SecurityGroup, SgRule};
        let names: Vec<Name> = ["default", "g1", "g2"].iter().map(|n| Name::parse("n", n).unwrap()).collect();
        let rule = |d: &mut Dice| {
            let protocol = [Protocol::Tcp, Protocol::Udp, Protocol::Icmp, Protocol::All][d.roll(4)];
            let ports = matches!(protocol, Protocol::Tcp | Protocol::Udp).then(|| {
                [PortRange { first: 80, last: 80 }, PortRange { first: 5432, last: 5432 }, PortRange { first: 8000, last: 8100 }][d.roll(3)]
            });
            let (cidr, source_group) =
                if d.roll(2) == 0 { (Some(nets[d.roll(nets.len())]), None) } else { (None, Some(names[d.roll(3)].clone())) };
            SgRule { protocol, ports, cidr, source_group }
        };
        for (k, n) in names.iter().enumerate() {
            if k == 0 && d.roll(2) == 0 {
                continue; // default as AWS makes it
            }
            let mut g = if k == 0 { SecurityGroup::default_group() } else { SecurityGroup::new(n.clone()) };
            for _ in 0..d.roll(3) {
                g.ingress.push(rule(d));
            }
            if d.roll(3) == 0 {
                g.egress = (0..d.roll(3)).map(|_| rule(d)).collect();
            }
            v.security_groups.push(g);
        }
        let mut last = 10u8;
        for si in 0..v.subnets.len() {
            for j in 0..d.roll(3) {
                last += 1;
                let net = v.subnets[si].cidr.network().octets();
                let mut groups: Vec<Name> = names.iter().filter(|_| d.roll(2) == 0).cloned().collect();
                if groups.is_empty() {
                    groups.push(names[0].clone());
                }
                let name = format!("i{si}x{j}");
                v.subnets[si].instances.push(Instance {
                    name: Name::parse("n", &name).unwrap(),
                    ip: Ipv4Addr::new(net[0], net[1], net[2], last),
                    namespace: format!("i-{}-{name}", v.name),
                    veth: format!("i-{}-{name}", v.name),
                    security_groups: groups,
                    apps: vec![],
                    status: crate::model::Status::Ready,
                });
            }
        }
        // Sometimes an elastic IP of an instance's own, in a public subnet.
        let public: Vec<Name> =
            v.subnets.iter().filter(|s| s.kind == SubnetKind::Public).flat_map(|s| s.instances.iter().map(|i| i.name.clone())).collect();
        if !public.is_empty() && d.roll(3) == 0 {
            let subnet = public[d.roll(public.len())].clone();
            let k = v.cidr.network().octets()[1];
            v.eips.push(Eip { subnet, ip: Ipv4Addr::new(203, 0, 113, 60 + k), interface: "uplink0".into() });
        }
    }

    /// A NACL of a few numbered rules each way, often with the ephemeral
    /// range back, as real ones have.
    fn nacl_of(d: &mut Dice, nets: &[Ipv4Net]) -> Nacl {
        let rules = |d: &mut Dice| -> Vec<NaclRule> {
            let mut out: Vec<NaclRule> = (0..d.roll(4))
                .map(|i| {
                    let protocol = [Protocol::Tcp, Protocol::Udp, Protocol::Icmp, Protocol::All][d.roll(4)];
                    let ports = matches!(protocol, Protocol::Tcp | Protocol::Udp).then(|| {
                        [PortRange { first: 80, last: 80 }, PortRange { first: 1024, last: 65535 }, PortRange { first: 5000, last: 6000 }]
                            [d.roll(3)]
                    });
                    let cidr = if d.roll(2) == 0 { nets[d.roll(nets.len())] } else { "0.0.0.0/0".parse().unwrap() };
                    let action = if d.roll(3) == 0 { Action::Deny } else { Action::Allow };
                    NaclRule { rule: 100 + 10 * i as u32, protocol, ports, cidr, action }
                })
                .collect();
            if d.roll(2) == 0 {
                let (first, last) = (1024, 65535);
                out.push(NaclRule {
                    rule: 900,
                    protocol: Protocol::All,
                    ports: None,
                    cidr: "0.0.0.0/0".parse().unwrap(),
                    action: Action::Allow,
                });
                out.push(NaclRule {
                    rule: 950,
                    protocol: Protocol::Tcp,
                    ports: Some(PortRange { first, last }),
                    cidr: "0.0.0.0/0".parse().unwrap(),
                    action: Action::Allow,
                });
            }
            out
        };
        Nacl { inbound: rules(d), outbound: rules(d) }
    }

    fn policy_of(d: &mut Dice, nets: &[Ipv4Net]) -> crate::model::policy::Policy {
        let action = |d: &mut Dice| if d.roll(2) == 0 { Action::Allow } else { Action::Deny };
        let rules = |d: &mut Dice| -> Vec<Rule> {
            (0..d.roll(4))
                .map(|_| {
                    let protocol = [Protocol::Tcp, Protocol::Udp, Protocol::Icmp, Protocol::All][d.roll(4)];
                    let ports = matches!(protocol, Protocol::Tcp | Protocol::Udp).then(|| {
                        [PortRange { first: 80, last: 80 }, PortRange { first: 5432, last: 5432 }, PortRange { first: 8000, last: 8100 }]
                            [d.roll(3)]
                    });
                    let cidr = (d.roll(2) == 0).then(|| nets[d.roll(nets.len())]);
                    Rule { protocol, ports, action: action(d), cidr, description: None }
                })
                .collect()
        };
        let ingress = rules(d);
        let egress = rules(d);
        crate::model::policy::Policy { subnet: None, default_ingress: action(d), default_egress: action(d), ingress, egress }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn the_analyzer_agrees_with_the_rules_the_planners_emit(seed in proptest::collection::vec(any::<u32>(), 128)) {
            let mut d = Dice(seed, 0);
            let st = topology(&mut d);
            // Every namespace on a bridge: subnets' own and instances.
            let hosts: Vec<Vec<Subnet>> = st.vpcs.iter().map(Vpc::hosts).collect();
            let all: Vec<(usize, usize)> = hosts.iter().enumerate().flat_map(|(i, h)| (0..h.len()).map(move |j| (i, j))).collect();
            for _ in 0..8 {
                let (vi, si) = all[d.roll(all.len())];
                let (v, s) = (&st.vpcs[vi], &hosts[vi][si]);
                let others: Vec<Ipv4Addr> = all.iter().filter(|x| **x != (vi, si)).map(|(a, b)| hosts[*a][*b].ip).collect();
                // Another subnet, the internet, a metadata address, or the
                // host (a gateway, an elastic IP).
                let mut host: Vec<Ipv4Addr> = st.vpcs.iter().flat_map(|x| x.subnets.iter().map(|y| y.gateway)).collect();
                host.extend(st.vpcs.iter().flat_map(|x| x.eips.iter().map(|e| e.ip)));
                host.extend(st.vpcs.iter().filter_map(Vpc::resolver_address));
                let dst = match d.roll(8) {
                    0 => "198.51.100.80".parse().unwrap(),
                    1 => "169.254.169.254".parse().unwrap(),
                    2 | 3 => host[d.roll(host.len())],
                    _ if others.is_empty() => "198.51.100.80".parse().unwrap(),
                    _ => others[d.roll(others.len())],
                };
                let p = [Proto::Tcp, Proto::Udp, Proto::Icmp][d.roll(3)];
                let port = (p != Proto::Icmp).then(|| [22u16, 53, 80, 5432, 8050][d.roll(5)]);
                let a = analyze(&st, v, s, dst, p, port);
                let k = delivered(&st, v, s, dst, p, port);
                prop_assert_eq!(a.network_open, k, "{}/{} -> {} {:?} {:?}: analyzer says {:?}\nstate: {}",
                    v.name, s.name, dst, p, port, a, serde_json::to_string(&st).unwrap());
            }
        }
    }
}
