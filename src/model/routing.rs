//! The AWS routing model: route tables, internet and NAT gateways, and
//! transit gateways, and the one lookup that says where a packet goes.
//!
//! A subnet uses the route table it is associated with, else its VPC's
//! `main` table. Every table holds the implicit `local` route (the VPC's
//! CIDR), which nothing overrides; otherwise the longest prefix wins.
//! `lookup` is the single description of that decision: the planners
//! (kernel tables, firewall rules) and the analyzer all ask it.
//!
//! The older switches are sugar over the same lookup: `enable-nat` is an
//! internet gateway with a 0.0.0.0/0 route for the subnets it translates,
//! and a peering made without `--no-routes` puts its peer's CIDR into both
//! VPCs' main tables.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::{Name, State, Status, Subnet, Vpc};

/// The table every VPC has from birth.
pub const MAIN: &str = "main";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InternetGateway {
    /// The host interface its traffic leaves from (the uplink).
    pub interface: String,
}

/// A NAT gateway: a namespace of its own in `subnet`, with an address of
/// that subnet, that masquerades what is routed to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatGateway {
    pub name: Name,
    pub subnet: Name,
    pub ip: Ipv4Addr,
    pub namespace: String,
    /// Host end of its veth, a port of the VPC bridge.
    pub veth: String,
    /// Its elastic IP: the internet sees its traffic from here (else from
    /// the uplink's own address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip: Option<Ipv4Addr>,
    pub status: Status,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTable {
    pub name: Name,
    /// The kernel routing table that carries it, where it needs one.
    pub table: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// Subnets associated with it (never for `main`: a subnet without an
    /// association uses main).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<Name>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub destination: Ipv4Net,
    pub target: Target,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The VPC's internet gateway (`--gateway igw`).
    InternetGateway,
    NatGateway(Name),
    Peering(Name),
    TransitGateway(Name),
    Blackhole,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::InternetGateway => f.write_str("igw"),
            Target::NatGateway(n) => write!(f, "nat-gateway {n}"),
            Target::Peering(n) => write!(f, "peering {n}"),
            Target::TransitGateway(n) => write!(f, "transit-gateway {n}"),
            Target::Blackhole => f.write_str("blackhole"),
        }
    }
}

/// A transit gateway: VPCs attach to it, and each attachment's traffic is
/// looked up in the TGW route table associated with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitGateway {
    pub name: Name,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Name>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_tables: Vec<TgwRouteTable>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TgwRouteTable {
    pub name: Name,
    /// Attachments (VPCs) whose traffic this table routes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub associations: Vec<Name>,
    /// Attachments whose VPC CIDR this table learns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub propagations: Vec<Name>,
    /// Static routes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<TgwRoute>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TgwRoute {
    pub destination: Ipv4Net,
    /// `None`: a blackhole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<Name>,
}

impl TransitGateway {
    pub fn table(&self, name: &str) -> Option<&TgwRouteTable> {
        self.route_tables.iter().find(|t| t.name.as_str() == name)
    }

    /// The table associated with `vpc`'s attachment.
    pub fn table_of(&self, vpc: &str) -> Option<&TgwRouteTable> {
        self.route_tables.iter().find(|t| t.associations.iter().any(|a| a.as_str() == vpc))
    }
}

/// Where a TGW route table sends a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TgwHop {
    /// To this attachment, by a static route or a propagated CIDR.
    Vpc {
        vpc: Name,
        destination: Ipv4Net,
        propagated: bool,
    },
    Blackhole(Ipv4Net),
    NoRoute,
}

/// The TGW table's decision for `dst`: the longest prefix among its static
/// routes and its propagations' CIDRs (a static route wins a tie, as in AWS).
pub fn tgw_lookup(state: &State, table: &TgwRouteTable, dst: Ipv4Net) -> TgwHop {
    let mut best: Option<(u8, TgwHop)> = None;
    let mut offer = |prefix: Ipv4Net, hop: TgwHop, strict: bool| {
        if !prefix.contains(&dst) {
            return;
        }
        let better = best.as_ref().is_none_or(|(len, _)| prefix.prefix_len() > *len || (!strict && prefix.prefix_len() == *len));
        if better {
            best = Some((prefix.prefix_len(), hop));
        }
    };
    for p in &table.propagations {
        if let Some(v) = state.vpc(p.as_str()) {
            offer(v.cidr, TgwHop::Vpc { vpc: p.clone(), destination: v.cidr, propagated: true }, true);
        }
    }
    for r in &table.routes {
        let hop = match &r.vpc {
            Some(v) => TgwHop::Vpc { vpc: v.clone(), destination: r.destination, propagated: false },
            None => TgwHop::Blackhole(r.destination),
        };
        offer(r.destination, hop, false);
    }
    best.map(|(_, h)| h).unwrap_or(TgwHop::NoRoute)
}

/// Where a route came from: a table's own route, or sugar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Table,
    /// `enable-nat`: 0.0.0.0/0 to the internet for the subnets it translates.
    EnableNat,
    /// A peering made with routes: its peer's CIDR in the main table.
    Peer,
}

/// One route as a subnet sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    pub table: String,
    pub destination: Ipv4Net,
    pub target: Target,
    pub origin: Origin,
}

impl std::fmt::Display for Effective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let via = match self.origin {
            Origin::Table => String::new(),
            Origin::EnableNat => " (from enable-nat)".into(),
            Origin::Peer => " (from peer)".into(),
        };
        write!(f, "route table {}: {} -> {}{via}", self.table, self.destination, self.target)
    }
}

/// The decision for one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Inside the VPC: the local route.
    Local {
        table: String,
    },
    Route(Effective),
    NoRoute {
        table: String,
    },
}

impl Vpc {
    pub fn route_table(&self, name: &str) -> Option<&RouteTable> {
        self.route_tables.iter().find(|t| t.name.as_str() == name)
    }

    /// The name of the table subnet `s` uses.
    pub fn table_name_of(&self, s: &str) -> &str {
        self.route_tables.iter().find(|t| t.subnets.iter().any(|n| n.as_str() == s)).map(|t| t.name.as_str()).unwrap_or(MAIN)
    }

    /// Whether routes decide what leaves for the internet (an elastic IP
    /// then needs a route too); else only enable-nat and elastic IPs do.
    pub fn routed(&self) -> bool {
        self.internet_gateway.is_some() || !self.route_tables.is_empty()
    }

    pub fn nat_gateway(&self, name: &str) -> Option<&NatGateway> {
        self.nat_gateways.iter().find(|g| g.name.as_str() == name)
    }
}

/// Every route subnet `s` of `vpc` sees besides `local`, sugar included.
pub fn routes_of(state: &State, vpc: &Vpc, s: &Subnet) -> Vec<Effective> {
    let table = vpc.table_name_of(s.name.as_str()).to_string();
    let mut out: Vec<Effective> = vpc
        .route_table(&table)
        .map(|t| {
            t.routes
                .iter()
                .map(|r| Effective { table: table.clone(), destination: r.destination, target: r.target.clone(), origin: Origin::Table })
                .collect()
        })
        .unwrap_or_default();
    // Sugar never overrides a route of the table's own to the same place.
    let mut sugar = vec![];
    if vpc.nat.is_some() && vpc.translated_subnets().iter().any(|t| t.name == s.name) {
        let any: Ipv4Net = "0.0.0.0/0".parse().expect("literal");
        sugar.push(Effective { table: table.clone(), destination: any, target: Target::InternetGateway, origin: Origin::EnableNat });
    }
    if table == MAIN {
        for p in state.peerings_of(vpc.name.as_str()).filter(|p| !p.no_routes) {
            if let Some(peer) = state.vpc(p.other(vpc.name.as_str()).as_str()) {
                sugar.push(Effective {
                    table: table.clone(),
                    destination: peer.cidr,
                    target: Target::Peering(p.name()),
                    origin: Origin::Peer,
                });
            }
        }
    }
    for r in sugar {
        if !out.iter().any(|o| o.destination == r.destination) {
            out.push(r);
        }
    }
    out
}

/// Every route table `t`'s subnets see, sugar included (for the kernel
/// table, shared by all of them): enable-nat's 0.0.0.0/0 if it translates
/// any of them. A route of the table's own wins over sugar to the same
/// destination.
pub fn table_routes(state: &State, vpc: &Vpc, t: &RouteTable) -> Vec<Effective> {
    let mut out: Vec<Effective> = vec![];
    for s in vpc.subnets.iter().filter(|s| vpc.table_name_of(s.name.as_str()) == t.name.as_str()) {
        for r in routes_of(state, vpc, s) {
            if !out.iter().any(|o| o.destination == r.destination) {
                out.push(r);
            }
        }
    }
    for r in &t.routes {
        if !out.iter().any(|o| o.destination == r.destination) {
            out.push(Effective { table: t.name.to_string(), destination: r.destination, target: r.target.clone(), origin: Origin::Table });
        }
    }
    out
}

/// Where a packet from subnet `s` to `dst` (an address or a whole prefix:
/// the route must hold all of it) goes.
pub fn lookup(state: &State, vpc: &Vpc, s: &Subnet, dst: Ipv4Net) -> Decision {
    let table = vpc.table_name_of(s.name.as_str()).to_string();
    if vpc.cidr.contains(&dst) {
        return Decision::Local { table };
    }
    let mut best: Option<Effective> = None;
    for r in routes_of(state, vpc, s) {
        if r.destination.contains(&dst) && best.as_ref().is_none_or(|b| r.destination.prefix_len() > b.destination.prefix_len()) {
            best = Some(r);
        }
    }
    match best {
        Some(r) => Decision::Route(r),
        None => Decision::NoRoute { table },
    }
}

pub fn host(a: Ipv4Addr) -> Ipv4Net {
    Ipv4Net::new(a, 32).expect("a /32 is a valid prefix")
}

/// Kernel routing tables we use: a high base, clear of the ones
/// administrators number by hand and of local/main/default.
const TABLE_BASE: u32 = 0x5650_0000;

/// A kernel table id for route table `table` of `vpc`, stable for its names
/// and not in `taken`.
pub fn table_id(suffix: &str, vpc: &str, table: &str, taken: &dyn Fn(u32) -> bool) -> u32 {
    for salt in 0u32.. {
        let key = format!("rtb{suffix}/{vpc}/{table}#{salt}");
        let id = TABLE_BASE | (super::kernel_names::stable_hash(&key) as u32 & 0xffff);
        if !taken(id) {
            return id;
        }
    }
    unreachable!("u32 salts exhausted")
}

pub fn is_table_id(id: u32) -> bool {
    id & 0xffff_0000 == TABLE_BASE
}

/// Kernel table ids in use by `state`.
pub fn tables_taken(state: &State) -> Vec<u32> {
    state.vpcs.iter().flat_map(|v| v.route_tables.iter().map(|t| t.table)).collect()
}

/// The first address of `s` nothing else holds: AWS keeps .0-.3 and the
/// broadcast address, and vpcctl's gateway (.1) and the subnet's own
/// namespace (.2) are among them.
pub fn free_address(vpc: &Vpc, s: &Subnet) -> Option<Ipv4Addr> {
    let mut used: Vec<Ipv4Addr> = vpc.nat_gateways.iter().map(|g| g.ip).collect();
    used.extend(vpc.instances().map(|(_, i)| i.ip));
    let (first, last) = (u32::from(s.cidr.network()) + 4, u32::from(s.cidr.broadcast()));
    (first..last).map(Ipv4Addr::from).find(|a| !used.contains(a) && *a != s.ip && *a != s.gateway)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SubnetKind::{Private, Public};
    use crate::model::testing::vpc;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn table(name: &str, routes: &[(&str, Target)], subnets: &[&str]) -> RouteTable {
        RouteTable {
            name: Name::parse("n", name).unwrap(),
            table: TABLE_BASE | 1,
            routes: routes.iter().map(|(d, t)| Route { destination: net(d), target: t.clone() }).collect(),
            subnets: subnets.iter().map(|s| Name::parse("n", s).unwrap()).collect(),
        }
    }

    #[test]
    fn longest_prefix_wins_local_cannot_be_beaten_and_no_route_is_said() {
        let mut v = vpc("a", "10.1.0.0/16", &[("web", "10.1.1.0/24", Public), ("db", "10.1.2.0/24", Private)]);
        let ngw = Name::parse("n", "ngw").unwrap();
        v.route_tables =
            vec![table("priv", &[("0.0.0.0/0", Target::NatGateway(ngw.clone())), ("198.51.100.80/32", Target::Blackhole)], &["db"])];
        let st = State { vpcs: vec![v.clone()], ..State::default() };
        let (web, db) = (&v.subnets[0], &v.subnets[1]);
        assert_eq!(lookup(&st, &v, db, net("10.1.1.7/32")), Decision::Local { table: "priv".into() });
        let Decision::Route(r) = lookup(&st, &v, db, net("198.51.100.80/32")) else { panic!() };
        assert_eq!((r.target, r.destination), (Target::Blackhole, net("198.51.100.80/32")));
        let Decision::Route(r) = lookup(&st, &v, db, net("198.51.100.81/32")) else { panic!() };
        assert_eq!(r.target, Target::NatGateway(ngw));
        assert_eq!(lookup(&st, &v, web, net("198.51.100.81/32")), Decision::NoRoute { table: "main".into() });
    }

    #[test]
    fn enable_nat_and_peer_are_sugar_for_routes() {
        let mut a = vpc("a", "10.1.0.0/16", &[("web", "10.1.1.0/24", Public), ("db", "10.1.2.0/24", Private)]);
        a.nat = Some(crate::model::Nat { interface: "up0".into(), subnets: None });
        let b = vpc("b", "10.2.0.0/16", &[("x", "10.2.1.0/24", Private)]);
        let mut st = State { vpcs: vec![a.clone(), b], ..State::default() };
        st.peerings.push(crate::model::Peering {
            a: a.name.clone(),
            b: Name::parse("n", "b").unwrap(),
            allow_cidrs: vec![],
            name: None,
            no_routes: false,
        });
        let Decision::Route(r) = lookup(&st, &a, &a.subnets[0], net("203.0.113.9/32")) else { panic!() };
        assert_eq!((r.target, r.origin), (Target::InternetGateway, Origin::EnableNat));
        assert_eq!(lookup(&st, &a, &a.subnets[1], net("203.0.113.9/32")), Decision::NoRoute { table: "main".into() });
        let Decision::Route(r) = lookup(&st, &a, &a.subnets[1], net("10.2.1.0/24")) else { panic!() };
        assert_eq!(r.target, Target::Peering(Name::parse("n", "a-b").unwrap()));
        st.peerings[0].no_routes = true;
        assert_eq!(lookup(&st, &a, &a.subnets[1], net("10.2.1.0/24")), Decision::NoRoute { table: "main".into() });
    }

    #[test]
    fn a_tgw_table_prefers_the_longest_prefix_and_a_static_route_on_a_tie() {
        let a = vpc("a", "10.1.0.0/16", &[]);
        let b = vpc("b", "10.2.0.0/16", &[]);
        let st = State { vpcs: vec![a, b], ..State::default() };
        let n = |s: &str| Name::parse("n", s).unwrap();
        let mut t = TgwRouteTable { name: n("spokes"), associations: vec![], propagations: vec![n("b")], routes: vec![] };
        assert!(matches!(tgw_lookup(&st, &t, net("10.2.3.0/24")), TgwHop::Vpc { propagated: true, .. }));
        assert_eq!(tgw_lookup(&st, &t, net("10.1.3.0/24")), TgwHop::NoRoute);
        t.routes.push(TgwRoute { destination: net("10.2.0.0/16"), vpc: None });
        assert_eq!(tgw_lookup(&st, &t, net("10.2.3.0/24")), TgwHop::Blackhole(net("10.2.0.0/16")));
    }

    #[test]
    fn table_ids_are_ours_and_free() {
        let a = table_id("", "a", "main", &|_| false);
        assert!(is_table_id(a) && !is_table_id(254) && !is_table_id(0));
        assert_ne!(table_id("", "a", "main", &|t| t == a), a);
    }

    #[test]
    fn free_addresses_skip_what_aws_and_vpcctl_keep() {
        let mut v = vpc("a", "10.1.0.0/16", &[("web", "10.1.1.0/24", Public)]);
        assert_eq!(free_address(&v, &v.subnets[0]), Some("10.1.1.4".parse().unwrap()));
        v.nat_gateways.push(NatGateway {
            name: Name::parse("n", "g").unwrap(),
            subnet: v.subnets[0].name.clone(),
            ip: "10.1.1.4".parse().unwrap(),
            namespace: "ngw-a-g".into(),
            veth: "g-a-g".into(),
            eip: None,
            status: Status::Ready,
        });
        assert_eq!(free_address(&v, &v.subnets[0]), Some("10.1.1.5".parse().unwrap()));
    }
}
