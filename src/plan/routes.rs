//! Where route tables, internet and NAT gateways and transit gateways turn
//! into kernel objects and rules. Every decision comes from
//! `model::routing::lookup`, the one description of routes.
//!
//! Kernel (one `ip -batch`):
//!   a route table that sends anything to a NAT gateway or a blackhole gets
//!   a kernel table of its own: `throw <vpc cidr>` (local wins), then each
//!   route: `via <nat gw>`, `blackhole`, or `throw` (igw, peering, TGW:
//!   the main table already routes to the uplink and between bridges).
//!   Each subnet using it: `ip rule from <subnet> iif <bridge> lookup T`.
//!   Other tables need nothing in the kernel: the main table does it.
//! A NAT gateway is a namespace on the VPC bridge (like a subnet's), whose
//! own iptables masquerade what the VPC routes to it.
//!
//! Firewall (the VPC chain stays the enforcement, and follows the routes):
//!   igw:     -i br -o uplink -s <subnet> -d <route> ACCEPT, replies back,
//!            and MASQUERADE (or the NAT gateway's EIP) in the nat chain;
//!   peering, transit gateway: per subnet pair, both ways, only where both
//!            sides' tables (and the TGW tables) route the pair.

use std::collections::BTreeSet;

use ipnet::Ipv4Net;

use super::iproute;
use super::iptables::{append, comment};
use super::{Restore, Step, TableEdit};
use crate::model::kernel_names::subnet_mac;
use crate::model::routing::{self, Decision, NatGateway, Origin, RouteTable, Target, TgwHop};
use crate::model::{Peering, State, Subnet, Vpc};

/// Priority of our `ip rule`s: after `local` (0), before `main` (32766).
pub const RULE_PREF: u32 = 21000;

/// Whether a route table needs a kernel table: only a NAT gateway's next
/// hop and a blackhole differ from what the main table does.
pub fn needs_kernel_table(t: &RouteTable) -> bool {
    t.routes.iter().any(|r| matches!(r.target, Target::NatGateway(_) | Target::Blackhole))
}

/// The routes of table `t`'s kernel table, as `ip route` specs: its own,
/// and the sugar its subnets see (a peering's routes in main, enable-nat's
/// 0.0.0.0/0), which the kernel throws to the main table like any route
/// to the internet gateway or a peering.
pub fn table_specs(st: &State, vpc: &Vpc, t: &RouteTable) -> Vec<String> {
    if !needs_kernel_table(t) {
        return vec![];
    }
    let id = t.table;
    let mut out = vec![format!("throw {} table {id}", vpc.cidr)];
    for r in routing::table_routes(st, vpc, t) {
        let d = r.destination;
        out.push(match &r.target {
            Target::NatGateway(n) => match (vpc.nat_gateway(n.as_str()), remote_gateway(st, vpc, n.as_str())) {
                (Some(g), _) => format!("{d} via {} dev {} table {id}", g.ip, vpc.bridge),
                // In another host's subnet: through the tunnel, to that host.
                (None, Some((via, dev))) => format!("{d} via {via} dev {dev} table {id} onlink"),
                (None, None) => format!("unreachable {d} table {id}"),
            },
            Target::Blackhole => format!("blackhole {d} table {id}"),
            _ => format!("throw {d} table {id}"),
        });
    }
    out
}

/// `ip rule` specs: each subnet whose table has a kernel table looks there;
/// so does a subnet on another host that the table sends to a NAT gateway
/// here, as its packets come out of the tunnel.
pub fn rule_specs(vpc: &Vpc) -> Vec<String> {
    let mut out: Vec<String> = vpc
        .subnets
        .iter()
        .filter_map(|s| {
            let t = vpc.route_table(vpc.table_name_of(s.name.as_str())).filter(|t| needs_kernel_table(t))?;
            Some(format!("from {} iif {} lookup {} pref {RULE_PREF}", s.cidr, vpc.bridge, t.table))
        })
        .collect();
    let tunnel = crate::model::fabric::tunnel_device(&vpc.bridge);
    for (cidr, here, t) in nat_gateway_across(vpc) {
        if !here {
            out.push(format!("from {cidr} iif {tunnel} lookup {} pref {RULE_PREF}", t.table));
        }
    }
    out
}

/// A NAT gateway on another host, as a next hop: (its host's tunnel
/// address, this VPC's tunnel device).
fn remote_gateway(st: &State, vpc: &Vpc, name: &str) -> Option<(std::net::Ipv4Addr, String)> {
    let f = st.fabric.as_ref()?;
    let (_, host) = vpc.remote_nat_gateway(name)?;
    Some((f.host(host)?.tunnel_address(), crate::model::fabric::tunnel_device(&vpc.bridge)))
}

/// Subnets whose table sends them to a NAT gateway on the other side of a
/// tunnel: (subnet, whether the subnet is here, the table). Here, its
/// gateway is elsewhere; elsewhere, its gateway is here.
pub fn nat_gateway_across(vpc: &Vpc) -> Vec<(Ipv4Net, bool, &RouteTable)> {
    let mut out = vec![];
    for t in vpc.route_tables.iter().filter(|t| needs_kernel_table(t)) {
        let gateways: Vec<&str> = t
            .routes
            .iter()
            .filter_map(|r| match &r.target {
                Target::NatGateway(n) => Some(n.as_str()),
                _ => None,
            })
            .collect();
        for s in &t.subnets {
            let here = vpc.subnet(s.as_str()).map(|x| x.cidr);
            let there = vpc.remote.iter().find(|r| &r.name == s).map(|r| r.cidr);
            let served = |local_gateway: bool| {
                gateways.iter().any(|g| if local_gateway { vpc.nat_gateway(g).is_some() } else { vpc.remote_nat_gateway(g).is_some() })
            };
            match (here, there) {
                (Some(c), _) if served(false) => out.push((c, true, t)),
                (None, Some(c)) if served(true) => out.push((c, false, t)),
                _ => {}
            }
        }
    }
    out
}

/// Filter rules for a NAT gateway and a subnet it serves on different
/// hosts: out through the tunnel toward anything outside the VPC, and
/// only replies back, on both hosts.
pub fn ngw_across_rules(vpc: &Vpc) -> Vec<String> {
    let (ch, br, n, v) = (&vpc.chain, &vpc.bridge, vpc.name.as_str(), vpc.cidr);
    let tunnel = crate::model::fabric::tunnel_device(br);
    let mut rules = vec![];
    for (cidr, here, t) in nat_gateway_across(vpc) {
        let c = comment(n, &format!("natgw across hosts table={}", t.name));
        let (from, to) = if here { (br.as_str(), tunnel.as_str()) } else { (tunnel.as_str(), br.as_str()) };
        rules.push(append(ch, &format!("-i {from} -o {to} -s {cidr} ! -d {v}"), &c, "ACCEPT"));
        let reply = format!("-i {to} -o {from} ! -s {v} -d {cidr} -m conntrack --ctstate RELATED,ESTABLISHED");
        rules.push(append(ch, &reply, &c, "ACCEPT"));
    }
    rules
}

pub fn all_table_specs(st: &State, vpc: &Vpc) -> Vec<String> {
    vpc.route_tables.iter().flat_map(|t| table_specs(st, vpc, t)).collect()
}

/// Whether NAT gateway `g` of `after` must be made anew.
pub fn ngw_new(before: Option<&Vpc>, after: &Vpc, g: &NatGateway) -> bool {
    let Some(b) = before else { return true };
    let subnet_kept = |v: &Vpc| v.subnet(g.subnet.as_str()).cloned();
    match b.nat_gateway(g.name.as_str()) {
        Some(old) => {
            old != g
                || old.status != crate::model::Status::Ready
                || match (subnet_kept(b), subnet_kept(after)) {
                    (Some(x), Some(y)) => super::diff::subnet_replaced(&x, &y),
                    _ => true,
                }
        }
        None => true,
    }
}

/// The uplink a NAT gateway's EIP lives on: its VPC's internet gateway's.
fn eip_uplink(vpc: &Vpc) -> Option<&str> {
    vpc.internet_gateway.as_ref().map(|i| i.interface.as_str())
}

/// Lines for the tolerant teardown batch: what `after` no longer has, for
/// a VPC that stays (`before` kept), or all of it (`after` is `None`: the
/// VPC goes or is replaced).
pub fn teardown_lines(bs: &State, before: &Vpc, after: Option<(&State, &Vpc)>) -> Vec<String> {
    let (new_rules, new_routes) = after.map(|(st, a)| (rule_specs(a), all_table_specs(st, a))).unwrap_or_default();
    let mut lines: Vec<String> =
        rule_specs(before).into_iter().filter(|r| !new_rules.contains(r)).map(|r| format!("rule del {r}")).collect();
    lines.extend(all_table_specs(bs, before).into_iter().filter(|r| !new_routes.contains(r)).map(|r| format!("route del {r}")));
    let after = after.map(|(_, a)| a);
    for g in &before.nat_gateways {
        let stays = after.is_some_and(|a| a.nat_gateway(g.name.as_str()).is_some_and(|n| !ngw_new(Some(before), a, n)));
        if !stays {
            lines.extend(ngw_teardown_lines(before, g));
        }
    }
    lines
}

fn ngw_teardown_lines(vpc: &Vpc, g: &NatGateway) -> Vec<String> {
    let mut lines = vec![iproute::link_del(&g.veth), iproute::netns_del(&g.namespace)];
    if let (Some(e), Some(up)) = (g.eip, eip_uplink(vpc)) {
        lines.push(iproute::addr_del(e, &routing::host(e), up));
    }
    lines
}

/// Lines for the root batch that creates: new NAT gateways' links, then
/// the routes and rules `before` (kept, or `None`) lacks.
pub fn create_lines(before: Option<(&State, &Vpc)>, st: &State, after: &Vpc) -> Vec<String> {
    let mut lines = vec![];
    for g in after.nat_gateways.iter().filter(|g| ngw_new(before.map(|(_, b)| b), after, g)) {
        lines.extend(ngw_root_lines(after, g));
    }
    let (old_rules, old_routes) = before.map(|(bs, b)| (rule_specs(b), all_table_specs(bs, b))).unwrap_or_default();
    lines.extend(all_table_specs(st, after).into_iter().filter(|r| !old_routes.contains(r)).map(|r| format!("route replace {r}")));
    lines.extend(rule_specs(after).into_iter().filter(|r| !old_rules.contains(r)).map(|r| format!("rule add {r}")));
    lines
}

pub fn ngw_root_lines(vpc: &Vpc, g: &NatGateway) -> Vec<String> {
    let mut lines = super::subnet::port_lines(vpc, &g.namespace, &g.veth, g.ip);
    if let (Some(e), Some(up)) = (g.eip, eip_uplink(vpc)) {
        lines.push(iproute::addr_add(e, &routing::host(e), up));
    }
    lines
}

/// Everything a new NAT gateway needs besides its root lines: its FDB
/// entry, its namespace's addresses and route, forwarding on, and its
/// translation.
pub fn ngw_steps(before: Option<&Vpc>, after: &Vpc) -> (Vec<String>, Vec<Step>) {
    let mut fdb = vec![];
    let mut steps = vec![];
    for g in after.nat_gateways.iter().filter(|g| ngw_new(before, after, g)) {
        let Some(s) = after.subnet(g.subnet.as_str()) else { continue };
        fdb.push(iproute::fdb_static(&subnet_mac(g.ip), &g.veth));
        steps.push(Step::ip(Some(&g.namespace), super::subnet::inside_lines(g.ip, &s.cidr, s.gateway)));
        steps.push(Step::Sysctl { netns: Some(g.namespace.clone()), key: super::vpc::IP_FORWARD.into(), value: "1".into() });
        steps.push(ngw_restore(after, g, false));
    }
    (fdb, steps)
}

/// Our chain inside a NAT gateway's namespace (nat table).
pub const NGW_NAT_CHAIN: &str = "VPCCTL-NATGW-SNAT";

/// The NAT gateway's translation, as `iptables-save` lists it (doctor
/// compares it): what the VPC sends out leaves as the gateway. Like AWS's,
/// it filters nothing: nothing reaches it but what its VPC routes to it
/// (the host lets no new connection in from the uplink), and a packet
/// routed back to it from its own address is a martian the kernel drops.
/// (A filter table would also cost a fresh namespace some 10 ms.)
pub fn ngw_rules(vpc: &Vpc, g: &NatGateway) -> Vec<String> {
    let cm = comment(vpc.name.as_str(), &format!("natgw={}", g.name));
    vec![append(NGW_NAT_CHAIN, &format!("-s {} ! -d {} -o eth0", vpc.cidr, vpc.cidr), &cm, "MASQUERADE")]
}

/// The jump into the NAT gateway's chain, as `iptables-save` lists it.
pub fn ngw_jump() -> String {
    format!("-A POSTROUTING -j {NGW_NAT_CHAIN}")
}

/// The NAT gateway's chain written whole, and its jump where `jump` is
/// false (missing).
pub fn ngw_restore(vpc: &Vpc, g: &NatGateway, jump: bool) -> Step {
    let mut t = vec![super::iptables::declare(NGW_NAT_CHAIN)];
    if !jump {
        t.push(ngw_jump());
    }
    t.extend(ngw_rules(vpc, g));
    Step::Iptables(Restore { netns: Some(g.namespace.clone()), tables: vec![TableEdit { table: "nat", lines: t }] })
}

/// A route spec as `ip -4 route show table all` prints it.
pub fn shown_route(spec: &str) -> String {
    let mut words: Vec<String> = spec.split_whitespace().map(str::to_string).collect();
    let at = usize::from(matches!(words.first().map(String::as_str), Some("throw" | "blackhole" | "unreachable")));
    if let Some(w) = words.get_mut(at) {
        if w == "0.0.0.0/0" {
            *w = "default".into();
        } else if let Some(a) = w.strip_suffix("/32") {
            *w = a.to_string();
        }
    }
    words.join(" ")
}

/// Our routes among `ip -4 route show table all`'s lines.
pub fn our_routes(lines: &[String]) -> std::collections::HashSet<String> {
    lines
        .iter()
        .filter(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.windows(2).any(|p| p[0] == "table" && p[1].parse().is_ok_and(routing::is_table_id))
        })
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// Our rules among `ip rule show`'s lines (`PREF:\tSELECTOR lookup T`), as
/// `rule_specs` writes them.
pub fn our_rules(lines: &[String]) -> std::collections::HashSet<String> {
    lines
        .iter()
        .filter_map(|l| {
            let (pref, rest) = l.split_once(':')?;
            let rest = rest.split_whitespace().collect::<Vec<_>>().join(" ");
            let ours = rest
                .split_whitespace()
                .collect::<Vec<_>>()
                .windows(2)
                .any(|p| p[0] == "lookup" && p[1].parse().is_ok_and(routing::is_table_id));
            ours.then(|| format!("{rest} pref {}", pref.trim()))
        })
        .collect()
}

/// The prefixes subnet `s` sends to the internet gateway.
fn igw_routes(state: &State, vpc: &Vpc, s: &Subnet) -> Vec<Ipv4Net> {
    routing::routes_of(state, vpc, s)
        .into_iter()
        .filter(|r| r.target == Target::InternetGateway && r.origin == Origin::Table)
        .map(|r| r.destination)
        .collect()
}

/// More specific routes of `s`'s table inside `d` that send to a peering
/// or a transit gateway. The kernel throws those to the main table too,
/// which would carry them out of the uplink: the firewall must refuse them
/// before it accepts `d` (a blackhole or a NAT gateway the kernel handles).
pub fn carved_out(state: &State, vpc: &Vpc, s: &Subnet, d: Ipv4Net) -> Vec<Ipv4Net> {
    routing::routes_of(state, vpc, s)
        .into_iter()
        .filter(|r| d.contains(&r.destination) && r.destination.prefix_len() > d.prefix_len())
        .filter(|r| matches!(r.target, Target::Peering(_) | Target::TransitGateway(_)))
        .map(|r| r.destination)
        .collect()
}

/// `-d`, as iptables-save lists it (doctor compares): none for everything.
fn to(d: Ipv4Net) -> String {
    if d.prefix_len() == 0 { String::new() } else { format!(" -d {d}") }
}

/// The DROP rules `carved_out` calls for, then ACCEPT, for `s` out of `up` to `d`.
pub fn out_rules(state: &State, vpc: &Vpc, s: &Subnet, d: Ipv4Net, up: &str, c: &str) -> Vec<String> {
    let (ch, br) = (&vpc.chain, &vpc.bridge);
    let mut rules: Vec<String> =
        carved_out(state, vpc, s, d).into_iter().map(|p| append(ch, &format!("-i {br} -o {up} -s {} -d {p}", s.cidr), c, "DROP")).collect();
    rules.push(append(ch, &format!("-i {br} -o {up} -s {}{}", s.cidr, to(d)), c, "ACCEPT"));
    rules
}

/// Filter rules of the VPC chain for its internet gateway.
pub fn igw_forward_rules(state: &State, vpc: &Vpc) -> Vec<String> {
    let Some(igw) = &vpc.internet_gateway else { return vec![] };
    let (ch, br, up, n) = (&vpc.chain, &vpc.bridge, &igw.interface, vpc.name.as_str());
    let c = comment(n, "igw never link-local");
    let mut rules = vec![append(ch, &format!("-i {br} -o {up} -d 169.254.0.0/16"), &c, "DROP")];
    for s in &vpc.subnets {
        let routes = igw_routes(state, vpc, s);
        if routes.is_empty() {
            continue;
        }
        let c = comment(n, &format!("igw subnet={}", s.name));
        for d in &routes {
            rules.extend(out_rules(state, vpc, s, *d, up, &c));
        }
        let reply = format!("-i {up} -o {br} -d {} -m conntrack --ctstate RELATED,ESTABLISHED", s.cidr);
        rules.push(append(ch, &reply, &c, "ACCEPT"));
    }
    rules
}

/// The nat chain's part for the internet gateway: each NAT gateway's EIP,
/// then MASQUERADE for every subnet with a route to it.
pub fn igw_nat_rules(state: &State, vpc: &Vpc) -> Vec<String> {
    let Some(igw) = &vpc.internet_gateway else { return vec![] };
    let (chain, up, n) = (vpc.nat_chain(), &igw.interface, vpc.name.as_str());
    let mut rules = vec![];
    for g in &vpc.nat_gateways {
        if let Some(e) = g.eip {
            let c = comment(n, &format!("natgw={} eip", g.name));
            rules.push(append(&chain, &format!("-s {}/32 -o {up}", g.ip), &c, &format!("SNAT --to-source {e}")));
        }
    }
    for s in vpc.subnets.iter().filter(|s| !igw_routes(state, vpc, s).is_empty()) {
        let c = comment(n, &format!("igw subnet={}", s.name));
        rules.push(append(&chain, &format!("-s {} -o {up}", s.cidr), &c, "MASQUERADE"));
    }
    rules
}

/// Whether a peering is planned as before route tables: routes on, and
/// neither VPC with a table of its own (every subnet uses main, which
/// routes the whole peer).
pub fn peering_is_plain(state: &State, p: &Peering) -> bool {
    !p.no_routes && [&p.a, &p.b].iter().all(|n| state.vpc(n.as_str()).is_none_or(|v| v.route_tables.is_empty()))
}

/// Does `s` (in `vpc`) route the whole of `dst` to `target`?
fn routes_to(state: &State, vpc: &Vpc, s: &Subnet, dst: Ipv4Net, target: &Target) -> bool {
    matches!(routing::lookup(state, vpc, s, dst), Decision::Route(r) if &r.target == target)
}

/// The subnet pairs (mine, theirs) a peering carries: both sides route
/// each other there, within the peering's allowed CIDRs.
pub fn peering_pairs(state: &State, p: &Peering, vpc: &Vpc, peer: &Vpc) -> Vec<(Ipv4Net, Ipv4Net)> {
    let t = Target::Peering(p.name());
    let allowed = super::peering::pairs(p, vpc, peer);
    let mut out = vec![];
    let (mine, theirs) = (with_remote(vpc), with_remote(peer));
    for (s, s_here) in &mine {
        for (d, d_here) in &theirs {
            // Neither on this host: nothing of it passes here.
            if !(*s_here || *d_here) || !(routes_to(state, vpc, s, d.cidr, &t) && routes_to(state, peer, d, s.cidr, &t)) {
                continue;
            }
            for (a, b) in &allowed {
                if let (Some(x), Some(y)) = (narrower(*a, s.cidr), narrower(*b, d.cidr)) {
                    out.push((x, y));
                }
            }
        }
    }
    out
}

/// A VPC's subnets here (true, borrowed) and on other hosts (false).
fn with_remote(v: &Vpc) -> Vec<(std::borrow::Cow<'_, Subnet>, bool)> {
    use std::borrow::Cow;
    v.subnets.iter().map(|s| (Cow::Borrowed(s), true)).chain(v.remote_views().into_iter().map(|s| (Cow::Owned(s), false))).collect()
}

/// The smaller of two prefixes where one holds the other.
fn narrower(a: Ipv4Net, b: Ipv4Net) -> Option<Ipv4Net> {
    if a.contains(&b) {
        Some(b)
    } else if b.contains(&a) {
        Some(a)
    } else {
        None
    }
}

/// Whether transit gateway `tgw` carries `s` (in `vpc`) to `d` (in
/// `peer`): the VPC table sends `d` to it, and the TGW table associated
/// with `vpc`'s attachment sends it on to `peer`.
pub fn tgw_carries(state: &State, tgw: &routing::TransitGateway, vpc: &Vpc, s: &Subnet, peer: &Vpc, d: &Subnet) -> bool {
    let t = Target::TransitGateway(tgw.name.clone());
    let attached = |v: &Vpc| tgw.attachments.contains(&v.name);
    attached(vpc)
        && attached(peer)
        && routes_to(state, vpc, s, d.cidr, &t)
        && tgw
            .table_of(vpc.name.as_str())
            .is_some_and(|rt| matches!(routing::tgw_lookup(state, rt, d.cidr), TgwHop::Vpc { vpc: ref to, .. } if *to == peer.name))
}

/// Filter rules of the VPC chain for transit gateways: each subnet pair
/// carried both ways (a connection needs its replies), in both VPCs'
/// chains like a peering's.
pub fn tgw_forward_rules(state: &State, vpc: &Vpc) -> Vec<String> {
    let mut rules = vec![];
    let mine = with_remote(vpc);
    for tgw in state.transit_gateways.iter().filter(|t| t.attachments.contains(&vpc.name)) {
        let c = comment(vpc.name.as_str(), &format!("tgw={}", tgw.name));
        for peer in state.vpcs.iter().filter(|p| p.name != vpc.name && tgw.attachments.contains(&p.name)) {
            let theirs = with_remote(peer);
            let mut pairs = BTreeSet::new();
            for (s, s_here) in &mine {
                for (d, d_here) in &theirs {
                    if (*s_here || *d_here) && tgw_carries(state, tgw, vpc, s, peer, d) && tgw_carries(state, tgw, peer, d, vpc, s) {
                        pairs.insert((s.cidr, d.cidr));
                    }
                }
            }
            rules.extend(super::peering::both_ways(state, vpc, peer, pairs, &c));
        }
    }
    rules
}

/// The bridge-port rules of a NAT gateway: it forwards, so it sends from
/// addresses outside the VPC (replies), but never from another VPC address.
pub fn ngw_spoof_rules(chain: &str, vpc: &Vpc) -> Vec<String> {
    let mut out = vec![];
    for g in &vpc.nat_gateways {
        let (port, mac) = (&g.veth, subnet_mac(g.ip));
        out.push(format!("-A {chain} -p IPv4 -s {mac} -i {port} --ip-src {} -j RETURN", g.ip));
        out.push(format!("-A {chain} -p IPv4 -i {port} --ip-src {} -j DROP", vpc.cidr));
        out.push(format!("-A {chain} -p IPv4 -s {mac} -i {port} -j RETURN"));
        out.push(format!("-A {chain} -p ARP -s {mac} -i {port} --arp-ip-src {} --arp-mac-src {mac} -j RETURN", g.ip));
        out.push(format!("-A {chain} -i {port} -j DROP"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::routing::{InternetGateway, Route};
    use crate::model::testing::vpc;
    use crate::model::{Name, Status, SubnetKind::Private, SubnetKind::Public};

    fn name(s: &str) -> Name {
        Name::parse("n", s).unwrap()
    }

    /// a: public `web` (IGW via main), private `db` (its own table, to a NAT gateway in web).
    fn nat_design() -> Vpc {
        let mut v = vpc("a", "10.1.0.0/16", &[("web", "10.1.1.0/24", Public), ("db", "10.1.2.0/24", Private)]);
        v.internet_gateway = Some(InternetGateway { interface: "up0".into() });
        v.nat_gateways.push(NatGateway {
            name: name("ngw"),
            subnet: name("web"),
            ip: "10.1.1.4".parse().unwrap(),
            namespace: "ngw-a-ngw".into(),
            veth: "g-a-ngw".into(),
            eip: Some("203.0.113.20".parse().unwrap()),
            status: Status::Ready,
        });
        let any: Ipv4Net = "0.0.0.0/0".parse().unwrap();
        v.route_tables = vec![
            RouteTable {
                name: name("main"),
                table: 0x5650_0001,
                routes: vec![Route { destination: any, target: Target::InternetGateway }],
                subnets: vec![],
            },
            RouteTable {
                name: name("priv"),
                table: 0x5650_0002,
                routes: vec![
                    Route { destination: any, target: Target::NatGateway(name("ngw")) },
                    Route { destination: "198.51.100.80/32".parse().unwrap(), target: Target::Blackhole },
                ],
                subnets: vec![name("db")],
            },
        ];
        v
    }

    #[test]
    fn a_nat_gateway_route_gets_a_kernel_table_and_a_rule_for_its_subnets_only() {
        let v = nat_design();
        let st = State { vpcs: vec![v.clone()], ..State::default() };
        assert_eq!(rule_specs(&v), [format!("from 10.1.2.0/24 iif br-a lookup {} pref {RULE_PREF}", 0x5650_0002)]);
        let id = 0x5650_0002;
        assert_eq!(
            all_table_specs(&st, &v),
            [
                format!("throw 10.1.0.0/16 table {id}"),
                format!("0.0.0.0/0 via 10.1.1.4 dev br-a table {id}"),
                format!("blackhole 198.51.100.80/32 table {id}")
            ]
        );
        let create = create_lines(None, &st, &v);
        assert!(create.contains(&"netns add ngw-a-ngw".to_string()), "{create:?}");
        assert!(create.contains(&"addr add 203.0.113.20/32 dev up0".to_string()), "{create:?}");
        assert!(create.last().unwrap().starts_with("rule add from 10.1.2.0/24"));
        // Nothing changed: nothing to do. Teardown of all: rules, routes, the gateway.
        assert!(create_lines(Some((&st, &v)), &st, &v).is_empty() && teardown_lines(&st, &v, Some((&st, &v))).is_empty());
        let gone = teardown_lines(&st, &v, None);
        assert!(gone[0].starts_with("rule del from 10.1.2.0/24") && gone.contains(&"netns del ngw-a-ngw".to_string()), "{gone:?}");
        // Disassociating db: its rule goes, the table stays.
        let mut after = v.clone();
        after.route_tables[1].subnets.clear();
        assert_eq!(
            teardown_lines(&st, &v, Some((&st, &after))),
            [format!("rule del from 10.1.2.0/24 iif br-a lookup {id} pref {RULE_PREF}")]
        );
        assert!(create_lines(Some((&st, &v)), &st, &after).is_empty());
    }

    #[test]
    fn only_subnets_routed_to_the_igw_leave_and_are_translated() {
        let v = nat_design();
        let st = State { vpcs: vec![v.clone()], ..State::default() };
        let f = igw_forward_rules(&st, &v);
        assert!(f.iter().any(|r| r.contains("-i br-a -o up0 -s 10.1.1.0/24 -m comment")), "{f:?}");
        assert!(!f.iter().any(|r| r.contains("-s 10.1.2.0/24")), "db has no igw route: {f:?}");
        let n = igw_nat_rules(&st, &v);
        assert!(n[0].contains("-s 10.1.1.4/32 -o up0") && n[0].contains("SNAT --to-source 203.0.113.20"), "{n:?}");
        assert!(n[1].contains("-s 10.1.1.0/24 -o up0") && n[1].ends_with("MASQUERADE"), "{n:?}");
        assert_eq!(n.len(), 2);
    }

    #[test]
    fn a_peering_without_routes_carries_only_what_both_sides_route() {
        let a = vpc("a", "10.1.0.0/16", &[("x", "10.1.1.0/24", Private), ("y", "10.1.2.0/24", Private)]);
        let b = vpc("b", "10.2.0.0/16", &[("z", "10.2.1.0/24", Private)]);
        let p = Peering { a: name("a"), b: name("b"), allow_cidrs: vec![], name: Some(name("ab")), no_routes: true };
        let mut st = State { vpcs: vec![a, b], peerings: vec![p.clone()], ..State::default() };
        assert!(!peering_is_plain(&st, &p));
        assert!(peering_pairs(&st, &p, &st.vpcs[0], &st.vpcs[1]).is_empty());
        let to = |dest: &str| Route { destination: dest.parse().unwrap(), target: Target::Peering(name("ab")) };
        st.vpcs[0].route_tables.push(RouteTable { name: name("main"), table: 1, routes: vec![to("10.2.1.0/24")], subnets: vec![] });
        assert!(peering_pairs(&st, &p, &st.vpcs[0], &st.vpcs[1]).is_empty(), "one side only");
        st.vpcs[1].route_tables.push(RouteTable { name: name("main"), table: 2, routes: vec![to("10.1.1.0/24")], subnets: vec![] });
        let pairs = peering_pairs(&st, &p, &st.vpcs[0], &st.vpcs[1]);
        assert_eq!(pairs, [("10.1.1.0/24".parse().unwrap(), "10.2.1.0/24".parse().unwrap())]);
    }
}
