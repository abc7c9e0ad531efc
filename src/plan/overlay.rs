//! Where the overlay between hosts comes from (see `model::fabric`): per
//! VPC and host one VXLAN device, routed, not bridged. Nothing is learned
//! and nothing floods: each remote subnet is a route via its host's tunnel
//! address (`onlink`), each peer host one permanent neighbour entry and one
//! FDB entry. A unicast frame is one underlay packet.
//!
//! A VPC's device exists on a host while the VPC, or a VPC it is peered
//! or attached with, has subnets both here and elsewhere: traffic to a
//! VPC's remote subnets leaves by that VPC's device, so a peer's traffic
//! arrives on the device of the VPC it is for.
//!
//! filter (only while some device exists):
//!   VPCCTL-FORWARD   -> VPCCTL-OVERLAY first:
//!   VPCCTL-OVERLAY   from a device, only the subnets the file places on
//!                    the sending host (its source MAC names it) return;
//!                    the rest from a device is dropped; then the VPCs'
//!                    spoofed-source rules (which would drop what returned).
//!   VPCCTL-INPUT     the underlay guard: VXLAN (and WireGuard) from the
//!                    file's hosts only.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::iptables::append;
use crate::model::fabric::{self, Fabric, FabricHost};
use crate::model::{Name, State, Vpc};

/// The overlay chain of a state dir.
pub const OVERLAY_CHAIN: &str = "VPCCTL-OVERLAY";

pub fn chain(state: &State) -> String {
    format!("{OVERLAY_CHAIN}{}", state.host.chain_suffix)
}

/// One VPC's tunnel device on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunnel {
    pub vpc: Name,
    pub device: String,
    pub vni: u32,
    pub mac: String,
    pub local: Ipv4Addr,
    pub port: u16,
    pub mtu: u16,
    /// Hosts that hold the VPC's remote subnets.
    pub peers: Vec<Peer>,
    /// Each remote subnet, via its host's tunnel address.
    pub routes: Vec<(Ipv4Net, Ipv4Addr)>,
    /// What may arrive on it: (sending host's MAC, subnet on that host).
    pub admits: Vec<(String, Ipv4Net, Name)>,
    /// Replies a NAT gateway on another host sends back to a subnet here:
    /// (that host's MAC, the subnet).
    pub replies: Vec<(String, Ipv4Net)>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Peer {
    pub host: Name,
    pub address: Ipv4Addr,
    pub mac: String,
    /// Where its VXLAN goes: its underlay or WireGuard address.
    pub dst: Ipv4Addr,
}

impl Tunnel {
    /// The device as it is made: what, if it differs, means making it anew.
    fn identity(&self) -> (u32, &str, Ipv4Addr, u16, u16) {
        (self.vni, &self.mac, self.local, self.port, self.mtu)
    }
}

/// The VPCs whose traffic may meet `v`'s on this host: its peers and the
/// VPCs attached to its transit gateways, and itself.
fn group<'a>(state: &'a State, v: &'a Vpc) -> Vec<&'a Vpc> {
    let n = v.name.as_str();
    let mut names: BTreeSet<&str> = state.peerings_of(n).map(|p| p.other(n).as_str()).collect();
    for t in state.transit_gateways.iter().filter(|t| t.attachments.contains(&v.name)) {
        names.extend(t.attachments.iter().map(Name::as_str));
    }
    names.insert(n);
    names.into_iter().filter_map(|x| state.vpc(x)).collect()
}

/// Every tunnel device `state` implies on this host.
pub fn tunnels(state: &State) -> Vec<Tunnel> {
    let Some(f) = &state.fabric else { return vec![] };
    state.vpcs.iter().filter_map(|v| tunnel(state, f, v)).collect()
}

/// Whether `v` has a tunnel device here: it, or a VPC its traffic meets,
/// has subnets both here and elsewhere.
fn spans(g: &[&Vpc]) -> bool {
    g.iter().any(|x| !x.subnets.is_empty()) && g.iter().any(|x| !x.remote.is_empty())
}

fn tunnel(state: &State, f: &Fabric, v: &Vpc) -> Option<Tunnel> {
    let g = group(state, v);
    if !spans(&g) {
        return None;
    }
    let vni = fabric::vni(v.name.as_str());
    let holder = |h: &Name| f.host(h);
    let mut peers: Vec<Peer> = v
        .remote
        .iter()
        .filter_map(|r| holder(&r.host))
        .map(|h| Peer { host: h.name.clone(), address: h.tunnel_address(), mac: fabric::tunnel_mac(vni, h), dst: f.vxlan_remote(h) })
        .collect();
    peers.sort();
    peers.dedup();
    let routes = v.remote.iter().filter_map(|r| holder(&r.host).map(|h| (r.cidr, h.tunnel_address()))).collect();
    let mut admits = vec![];
    for x in &g {
        for r in &x.remote {
            if let Some(h) = holder(&r.host) {
                admits.push((fabric::tunnel_mac(vni, h), r.cidr, x.name.clone()));
            }
        }
    }
    Some(Tunnel {
        replies: nat_replies(f, v, vni),
        vpc: v.name.clone(),
        device: fabric::tunnel_device(&v.bridge),
        vni,
        mac: fabric::tunnel_mac(vni, f.me()),
        local: f.vxlan_local(),
        port: f.port,
        mtu: f.mtu,
        peers,
        routes,
        admits,
    })
}

/// Subnets here whose route table sends them to a NAT gateway on another
/// host: (that host's MAC, the subnet), whose replies the tunnel admits.
fn nat_replies(f: &Fabric, v: &Vpc, vni: u32) -> Vec<(String, Ipv4Net)> {
    let mut out = vec![];
    for (cidr, _, t) in super::routes::nat_gateway_across(v).into_iter().filter(|(_, here, _)| *here) {
        for r in &t.routes {
            let crate::model::routing::Target::NatGateway(g) = &r.target else { continue };
            if let Some(h) = v.remote_nat_gateway(g.as_str()).and_then(|(_, h)| f.host(h)) {
                out.push((fabric::tunnel_mac(vni, h), cidr));
            }
        }
    }
    out
}

/// The tunnel device of VPC `v` on this host, if it has one.
/// (Asked for every VPC and peering when rules are written: it builds no
/// tunnel, only asks whether there is one.)
pub fn device_of(state: &State, v: &Vpc) -> Option<String> {
    state.fabric.as_ref()?;
    spans(&group(state, v)).then(|| fabric::tunnel_device(&v.bridge))
}

pub fn create_lines(t: &Tunnel) -> Vec<String> {
    let d = &t.device;
    let mut lines = vec![
        format!("link add {d} type vxlan id {} local {} dstport {} nolearning", t.vni, t.local, t.port),
        format!("link set {d} address {} mtu {}", t.mac, t.mtu),
        super::iproute::no_ipv6(d),
        super::iproute::link_up(d),
    ];
    lines.extend(t.peers.iter().map(|p| neigh(d, p)));
    lines.extend(t.routes.iter().map(|(c, a)| route(d, c, *a)));
    lines
}

fn neigh(d: &str, p: &Peer) -> String {
    format!("neigh replace {} lladdr {} dev {d} nud permanent", p.address, p.mac)
}

fn route(d: &str, cidr: &Ipv4Net, via: Ipv4Addr) -> String {
    format!("route replace {cidr} via {via} dev {d} onlink")
}

fn fdb(d: &str, p: &Peer) -> String {
    format!("fdb replace {} dev {d} dst {} self permanent", p.mac, p.dst)
}

/// One entry of a tunnel, with the line that makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Route(String),
    Neigh(String),
    Fdb(String),
}

impl Entry {
    /// How `doctor` names it, and how `kernel::observe` reports one present.
    pub fn key(&self) -> String {
        let (Entry::Route(l) | Entry::Neigh(l) | Entry::Fdb(l)) = self;
        let w: Vec<&str> = l.split_whitespace().collect();
        match self {
            // route replace C via A dev D onlink
            Entry::Route(_) => route_key(w[2], w[4], w[6]),
            // neigh replace A lladdr M dev D nud permanent
            Entry::Neigh(_) => neigh_key(w[2], w[4], w[6]),
            // fdb replace M dev D dst X self permanent
            Entry::Fdb(_) => fdb_key(w[2], w[4], w[6]),
        }
    }
}

pub fn route_key(cidr: &str, via: &str, dev: &str) -> String {
    format!("route {cidr} via {via} dev {dev}")
}

pub fn neigh_key(addr: &str, mac: &str, dev: &str) -> String {
    format!("neighbour {addr} lladdr {mac} dev {dev}")
}

pub fn fdb_key(mac: &str, dev: &str, dst: &str) -> String {
    format!("fdb entry {mac} dev {dev} dst {dst}")
}

/// Every entry of `t`.
pub fn entries(t: &Tunnel) -> Vec<Entry> {
    let d = &t.device;
    let mut out: Vec<Entry> = t.peers.iter().map(|p| Entry::Neigh(neigh(d, p))).collect();
    out.extend(t.routes.iter().map(|(c, a)| Entry::Route(route(d, c, *a))));
    out.extend(t.peers.iter().map(|p| Entry::Fdb(fdb(d, p))));
    out
}

/// What the overlay's part of a change does: (lines for the tolerant
/// teardown batch, lines for the root batch, FDB lines to remove, FDB lines
/// to add). `force` writes every entry again (repair, an unfinished run).
pub struct Lines {
    pub teardown: Vec<String>,
    pub create: Vec<String>,
    pub fdb_gone: Vec<String>,
    pub fdb: Vec<String>,
}

pub fn lines(before: &State, after: &State, force: bool) -> Lines {
    let (old, new) = (tunnels(before), tunnels(after));
    let mut out = Lines { teardown: vec![], create: vec![], fdb_gone: vec![], fdb: vec![] };
    let kept = |t: &Tunnel| old.iter().find(|o| o.device == t.device && o.identity() == t.identity());
    // Forced (a run that did not finish): every device is made anew, so
    // none is left half-made and `link add` finds none in its way.
    for o in &old {
        if force || !new.iter().any(|t| t.device == o.device && t.identity() == o.identity()) {
            out.teardown.push(super::iproute::link_del(&o.device));
        }
    }
    for t in &new {
        let d = &t.device;
        match kept(t).filter(|_| !force) {
            None => {
                out.create.extend(create_lines(t));
                out.fdb.extend(t.peers.iter().map(|p| fdb(d, p)));
            }
            Some(o) => {
                for (c, a) in o.routes.iter().filter(|r| !t.routes.contains(r)) {
                    out.teardown.push(format!("route del {c} via {a} dev {d}"));
                }
                for p in o.peers.iter().filter(|p| !t.peers.contains(p)) {
                    if !t.peers.iter().any(|n| n.address == p.address) {
                        out.teardown.push(format!("neigh del {} dev {d}", p.address));
                    }
                    out.fdb_gone.push(format!("fdb del {} dev {d} dst {} self", p.mac, p.dst));
                }
                out.create.extend(t.peers.iter().filter(|p| !o.peers.contains(p)).map(|p| neigh(d, p)));
                out.create.extend(t.routes.iter().filter(|r| !o.routes.contains(r)).map(|(c, a)| route(d, c, *a)));
                out.fdb.extend(t.peers.iter().filter(|p| !o.peers.contains(p)).map(|p| fdb(d, p)));
            }
        }
    }
    out
}

fn comment(vpc: &str, what: &str) -> String {
    super::iptables::comment(vpc, what)
}

/// The overlay chain's rules (empty: no device, and no chain).
pub fn chain_rules(state: &State) -> Vec<String> {
    let ts = tunnels(state);
    if ts.is_empty() {
        return vec![];
    }
    let ch = chain(state);
    let mut rules = vec![];
    for t in &ts {
        for (mac, cidr, owner) in &t.admits {
            let spec = format!("-i {} -s {cidr} -m mac --mac-source {mac}", t.device);
            rules.push(append(&ch, &spec, &comment(owner.as_str(), &format!("tunnel {} from its host", t.vpc)), "RETURN"));
        }
        for (mac, cidr) in &t.replies {
            let spec = format!("-i {} -d {cidr} -m mac --mac-source {mac} -m conntrack --ctstate RELATED,ESTABLISHED", t.device);
            rules.push(append(&ch, &spec, &comment(t.vpc.as_str(), "tunnel: replies from a NAT gateway on its host"), "RETURN"));
        }
        rules.push(append(&ch, &format!("-i {}", t.device), &comment(t.vpc.as_str(), "tunnel: not a peer host's subnet"), "DROP"));
    }
    rules.extend(spoof_rules(state, &ch));
    rules
}

/// A VPC's addresses come only from its own bridge (and, via the overlay
/// chain, from a tunnel's admitted subnets).
pub fn spoof_rules(state: &State, chain: &str) -> Vec<String> {
    state
        .vpcs
        .iter()
        .map(|v| append(chain, &format!("-s {} ! -i {}", v.cidr, v.bridge), &comment(v.name.as_str(), "spoofed source"), "DROP"))
        .collect()
}

/// The overlay chain as (name, rules), for the chains a state dir owns.
pub fn owned_chain(state: &State) -> Option<(String, Vec<String>)> {
    let rules = chain_rules(state);
    (!rules.is_empty()).then(|| (chain(state), rules))
}

/// The jump from the top forward chain, where the spoof rules would be.
pub fn dispatch_jump(state: &State, top: &str) -> Option<String> {
    let any = state.vpcs.iter().any(|v| device_of(state, v).is_some());
    any.then(|| format!("-A {top} -m comment --comment \"vpcctl:overlay\" -j {}", chain(state)))
}

/// The underlay guard at the top of our INPUT chain: VXLAN (and
/// WireGuard) only from the file's hosts.
pub fn input_rules(state: &State, top: &str) -> Vec<String> {
    let Some(f) = &state.fabric else { return vec![] };
    let ts = tunnels(state);
    if ts.is_empty() && f.wireguard.is_none() {
        return vec![];
    }
    let c = |what: &str| format!("-m comment --comment \"vpcctl:overlay {what}\"");
    let mut rules = vec![];
    let guard = |rules: &mut Vec<String>, port: u16, from: &dyn Fn(&FabricHost) -> String, what: &str| {
        for h in f.peers() {
            rules.push(format!("-A {top} {} -p udp -m udp --dport {port} {} -j ACCEPT", from(h), c(&format!("{what} from {}", h.name))));
        }
        rules.push(format!("-A {top} -p udp -m udp --dport {port} {} -j DROP", c(&format!("{what} from a stranger"))));
    };
    match &f.wireguard {
        Some(w) => {
            guard(&mut rules, w.port, &|h| format!("-s {}/32", h.underlay), "wireguard");
            let wg = w.interface.clone();
            guard(&mut rules, f.port, &|h| format!("-s {}/32 -i {wg}", h.tunnel_address()), "vxlan");
        }
        None => guard(&mut rules, f.port, &|h| format!("-s {}/32", h.underlay), "vxlan"),
    }
    for t in ts {
        let est = format!("-A {top} -i {} -m conntrack --ctstate RELATED,ESTABLISHED {} -j ACCEPT", t.device, c("host replies"));
        rules.push(est);
        rules.push(format!("-A {top} -i {} {} -j DROP", t.device, c("host is not a service")));
    }
    rules
}

/// Interface pairs a packet from `from`'s subnets to `to`'s crosses on
/// this host: bridge to bridge, to `to`'s device when `to`'s subnet is
/// elsewhere, and from `to`'s device when the sender is elsewhere.
pub fn paths(state: &State, from: &Vpc, to: &Vpc) -> Vec<(String, String)> {
    let mut out = vec![(from.bridge.clone(), to.bridge.clone())];
    if let Some(d) = device_of(state, to) {
        out.push((from.bridge.clone(), d.clone()));
        out.push((d, to.bridge.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SubnetKind::*;
    use crate::model::fabric::{FabricHost, RemoteSubnet};
    use crate::model::testing::vpc;

    fn host(name: &str, ip: &str) -> FabricHost {
        FabricHost { name: Name::parse("h", name).unwrap(), underlay: ip.parse().unwrap(), uplink: None, wireguard_public_key: None }
    }

    fn remote(name: &str, cidr: &str, h: &str) -> RemoteSubnet {
        let cidr: Ipv4Net = cidr.parse().unwrap();
        RemoteSubnet {
            name: Name::parse("s", name).unwrap(),
            cidr,
            kind: Private,
            host: Name::parse("h", h).unwrap(),
            ip: crate::model::cidr::gateway_and_host(&cidr).1,
            instances: vec![],
            nat_gateways: vec![],
        }
    }

    fn fabric(me: &str) -> Fabric {
        Fabric {
            host: Name::parse("h", me).unwrap(),
            hosts: vec![host("h1", "192.0.2.11"), host("h2", "192.0.2.12"), host("h3", "192.0.2.13")],
            port: 4789,
            mtu: 1450,
            underlay_interface: "eth0".into(),
            wireguard: None,
        }
    }

    fn shop_on_h1() -> State {
        let mut v = vpc("shop", "10.1.0.0/16", &[("a", "10.1.1.0/24", Public)]);
        v.remote = vec![remote("b", "10.1.2.0/24", "h2"), remote("c", "10.1.3.0/24", "h3"), remote("d", "10.1.4.0/24", "h3")];
        State { vpcs: vec![v], fabric: Some(fabric("h1")), ..State::default() }
    }

    #[test]
    fn one_route_per_remote_subnet_one_neighbour_and_fdb_entry_per_peer() {
        let st = shop_on_h1();
        let l = lines(&State::default(), &st, false);
        let vni = fabric::vni("shop");
        assert_eq!(l.create[0], format!("link add vx-shop type vxlan id {vni} local 192.0.2.11 dstport 4789 nolearning"));
        assert_eq!(l.create.iter().filter(|x| x.starts_with("neigh replace")).count(), 2);
        assert_eq!(
            l.create.iter().filter(|x| x.starts_with("route replace")).cloned().collect::<Vec<_>>(),
            [
                "route replace 10.1.2.0/24 via 169.254.2.12 dev vx-shop onlink",
                "route replace 10.1.3.0/24 via 169.254.2.13 dev vx-shop onlink",
                "route replace 10.1.4.0/24 via 169.254.2.13 dev vx-shop onlink"
            ]
        );
        assert_eq!(l.fdb.len(), 2);
        assert!(l.fdb[0].ends_with("dev vx-shop dst 192.0.2.12 self permanent"), "{:?}", l.fdb);
        // The same state again: nothing.
        let again = lines(&st, &st, false);
        assert!(again.create.is_empty() && again.teardown.is_empty() && again.fdb.is_empty());
        // Subnet d moves to h2: its route moves, h3 stays a peer (c).
        let mut moved = st.clone();
        moved.vpcs[0].remote[2].host = Name::parse("h", "h2").unwrap();
        let m = lines(&st, &moved, false);
        assert_eq!(m.teardown, ["route del 10.1.4.0/24 via 169.254.2.13 dev vx-shop"]);
        assert_eq!(m.create, ["route replace 10.1.4.0/24 via 169.254.2.12 dev vx-shop onlink"]);
        assert!(m.fdb.is_empty() && m.fdb_gone.is_empty());
        // The last remote subnet goes: the device goes.
        let mut alone = st.clone();
        alone.vpcs[0].remote.clear();
        assert_eq!(lines(&st, &alone, false).teardown, ["link del vx-shop"]);
        // An unfinished run: made anew, whatever is there.
        let forced = lines(&st, &st, true);
        assert_eq!(forced.teardown, ["link del vx-shop"]);
        assert_eq!(forced.create, l.create);
    }

    #[test]
    fn a_tunnel_admits_only_each_hosts_own_subnets() {
        let st = shop_on_h1();
        let rules = chain_rules(&st);
        let vni = fabric::vni("shop");
        let h2 = fabric::tunnel_mac(vni, &host("h2", "192.0.2.12"));
        assert!(rules.iter().any(|r| r.contains(&format!("-i vx-shop -s 10.1.2.0/24 -m mac --mac-source {h2}")) && r.ends_with("RETURN")));
        assert!(!rules.iter().any(|r| r.contains("-s 10.1.3.0/24") && r.contains(&h2)));
        let drop = rules.iter().position(|r| r.contains("-i vx-shop") && r.ends_with("DROP")).unwrap();
        let spoof = rules.iter().position(|r| r.contains("! -i br-shop")).unwrap();
        assert!(drop < spoof);
        let guard = input_rules(&st, "VPCCTL-INPUT");
        assert!(guard[0].contains("-s 192.0.2.12/32 -p udp -m udp --dport 4789") && guard[0].ends_with("ACCEPT"));
        assert!(guard[2].contains("--dport 4789") && guard[2].ends_with("DROP") && !guard[2].contains("-s "));
    }

    #[test]
    fn a_peered_vpc_gets_a_device_for_its_peers_traffic() {
        let mut st = shop_on_h1();
        let mut other = vpc("db", "10.2.0.0/16", &[]);
        other.remote = vec![remote("x", "10.2.1.0/24", "h2")];
        st.vpcs.push(other);
        assert_eq!(tunnels(&st).len(), 1, "db has nothing here and is not peered");
        st.peerings.push(crate::model::Peering {
            a: Name::parse("v", "shop").unwrap(),
            b: Name::parse("v", "db").unwrap(),
            allow_cidrs: vec![],
            name: None,
            no_routes: false,
        });
        let ts = tunnels(&st);
        assert_eq!(ts.len(), 2);
        let (shop, db) = (st.vpc("shop").unwrap(), st.vpc("db").unwrap());
        assert_eq!(
            paths(&st, shop, db),
            [("br-shop".into(), "br-db".into()), ("br-shop".into(), "vx-db".into()), ("vx-db".into(), "br-db".into())]
        );
        // db's device admits shop's remote subnets too (a reply from h2 to h1's a does not use it,
        // but h2's shop subnets may send to db's here).
        assert!(ts[1].admits.iter().any(|(_, c, o)| c.to_string() == "10.1.2.0/24" && o.as_str() == "shop"));
    }
}
