//! Drift: where the kernel no longer matches the record, and the plan that
//! puts back exactly what is missing. Pure: the kernel reading comes in as
//! an `Observed` (see `observe`), so every case is unit-tested.
//!
//! What is compared, object by object: each VPC's bridge (up), its gateway
//! addresses and unreachable route; each subnet's namespace, veth (on the
//! bridge, up), and inside the namespace lo and eth0 (up), the address and
//! the default route; our jumps from FORWARD and POSTROUTING and the rules
//! of every chain of ours; each policy's jumps and rules; each app; and
//! `ip_forward`.
//!
//! A subnet whose namespace or veth is gone is rebuilt whole (its apps
//! restarted, its policy loaded again). Anything else is fixed line by line.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::firewall::{self, BaseJump};
use super::{Plan, Restore, Step, TableEdit, expose, policy, spoof, subnet, vpc};
use crate::model::State;
use crate::model::{Name, Subnet, Vpc};
use crate::plan::iproute;
use crate::plan::iptables::{TableDump, chain_rules, declare, same_rules};

/// What the kernel has, as `crate::kernel::observe` reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Link {
    pub up: bool,
    pub master: Option<String>,
    /// IPv4 addresses with their prefix length.
    pub addrs: Vec<(Ipv4Addr, u8)>,
}

/// A subnet's bridge port, as /sys/class/net/<veth>/brport and the
/// bridge's FDB show it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Port {
    /// Learning off, unicast flood off, isolated on (`iproute::bridge_port`).
    pub guarded: bool,
    /// The FDB points the subnet's MAC at this port, and at no other.
    pub fdb: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Netns {
    pub links: HashMap<String, Link>,
    /// Gateway of the default route, if there is one.
    pub default_via: Option<Ipv4Addr>,
    /// `-A` lines of the filter table, read only where a policy is
    /// recorded (a NAT gateway's: of its nat table).
    pub filter_rules: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub links: HashMap<String, Link>,
    /// Recorded subnets' bridge ports, by veth (absent: not a port now).
    pub ports: HashMap<String, Port>,
    pub unreachable: HashSet<Ipv4Net>,
    /// Recorded namespaces; `None` where the namespace does not exist.
    pub namespaces: HashMap<String, Option<Netns>>,
    pub tables: Vec<TableDump>,
    /// `ebtables-save` of the bridge family's filter table.
    pub bridge: String,
    pub ip_forward: String,
    /// PIDs of recorded apps that are no longer the process vpcctl started.
    pub dead_apps: HashSet<u32>,
    /// VPCs whose recorded resolver is not running.
    pub dead_resolvers: HashSet<String>,
    /// The recorded flow-log collector is not running.
    pub collector_dead: bool,
    /// What each file of ours (`plan::dns::files`) holds now; `None`: missing.
    pub files: HashMap<std::path::PathBuf, Option<String>>,
    /// Our `ip rule`s, as `routes::rule_specs` writes them.
    pub ip_rules: HashSet<String>,
    /// Routes of our kernel tables, as `routes::shown_route` writes them.
    pub route_specs: HashSet<String>,
    /// Bridges that answer ARP within a subnet (`plan::instance::pvlan_key`).
    pub pvlan: HashSet<String>,
    /// The overlay's routes, neighbours and FDB entries, as
    /// `plan::overlay::entries` writes them.
    pub overlay: HashSet<String>,
    /// The recorded wireguard-go is not running.
    pub wireguard_dead: bool,
}

/// One difference, with the VPC (and subnet) it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc: Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet: Option<Name>,
    /// `subnet` names an instance.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub instance: bool,
    pub what: String,
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.vpc, &self.subnet) {
            (Some(v), Some(s)) if self.instance => write!(f, "instance {v}/{s}: {}", self.what),
            (Some(v), Some(s)) => write!(f, "subnet {v}/{s}: {}", self.what),
            (Some(v), None) => write!(f, "VPC {v}: {}", self.what),
            _ => write!(f, "host: {}", self.what),
        }
    }
}

/// An app to start again: (vpc, subnet, port).
pub type Restart = (Name, Name, u16);

#[derive(Debug, Default)]
pub struct Assessment {
    pub drifts: Vec<Drift>,
    pub plan: Plan,
    /// Apps to stop before the plan runs (their namespace is rebuilt), as (pid, start time).
    pub stop: Vec<(u32, u64)>,
    pub restart: Vec<Restart>,
}

#[derive(Default)]
struct Builder {
    drifts: Vec<Drift>,
    teardown: Vec<String>,
    root: Vec<String>,
    netns: Vec<(String, Vec<String>)>,
    filter: Vec<(String, Vec<String>)>,
    nat: Vec<(String, Vec<String>)>,
    filter_tail: Vec<String>,
    nat_tail: Vec<String>,
    files: Plan,
    bridge: Vec<String>,
    fdb: Vec<String>,
    wg: Plan,
    policies: Plan,
    stop: Vec<(u32, u64)>,
    restart: Vec<Restart>,
}

impl Builder {
    fn drift(&mut self, vpc: Option<&Vpc>, subnet: Option<&Subnet>, what: String) {
        let instance = subnet.is_some_and(|s| vpc.is_some_and(|v| v.instance(s.name.as_str()).is_some()));
        self.drifts.push(Drift { vpc: vpc.map(|v| v.name.clone()), subnet: subnet.map(|s| s.name.clone()), instance, what });
    }
}

pub fn assess(state: &State, obs: &Observed) -> Assessment {
    let mut b = Builder::default();
    for v in &state.vpcs {
        links(&mut b, v, obs);
    }
    firewall_rules(&mut b, state, obs);
    bridge_rules(&mut b, state, obs);
    services(&mut b, state, obs);
    // Tunnels before routes: a route table may send a subnet through one.
    overlay(&mut b, state, obs);
    routing(&mut b, state, obs);
    if !state.vpcs.is_empty() && obs.ip_forward.trim() != "1" {
        b.drifts.push(Drift {
            vpc: None,
            subnet: None,
            instance: false,
            what: format!("net.ipv4.ip_forward is {} (VPCs need 1)", obs.ip_forward.trim()),
        });
    }
    let mut plan = Plan::default();
    plan.push(Step::ip_tolerant(None, b.teardown));
    let table = |t: &'static str, chains: Vec<(String, Vec<String>)>, tail: Vec<String>| {
        let mut lines: Vec<String> = chains.iter().map(|(c, _)| declare(c)).collect();
        lines.extend(chains.into_iter().flat_map(|(_, rules)| rules));
        lines.extend(tail);
        TableEdit { table: t, lines }
    };
    plan.push(Step::Iptables(Restore {
        netns: None,
        tables: vec![table("filter", b.filter, b.filter_tail), table("nat", b.nat, b.nat_tail)],
    }));
    plan.push(spoof::step(b.bridge));
    plan.push(Step::ip(None, b.root));
    plan.extend(b.wg);
    plan.push(Step::Bridge(super::IpBatch { netns: None, lines: b.fdb, tolerant: false }));
    for (ns, lines) in b.netns {
        plan.push(Step::ip(Some(&ns), lines));
    }
    plan.extend(b.policies);
    plan.extend(b.files);
    if !state.vpcs.is_empty() && obs.ip_forward.trim() != "1" {
        plan.push(Step::Sysctl { netns: None, key: vpc::IP_FORWARD.into(), value: "1".into() });
    }
    // Without it, hosts of one subnet cannot reach each other.
    for v in state.vpcs.iter().filter(|v| v.instances().next().is_some() && !obs.pvlan.contains(&v.bridge)) {
        b.drifts.push(Drift {
            vpc: Some(v.name.clone()),
            subnet: None,
            instance: false,
            what: format!("{} does not answer ARP within a subnet (proxy_arp_pvlan is off)", v.bridge),
        });
        plan.push(Step::Sysctl { netns: None, key: super::instance::pvlan_key(v), value: "1".into() });
    }
    Assessment { drifts: b.drifts, plan, stop: b.stop, restart: b.restart }
}

/// The overlay: each tunnel device and its entries, and WireGuard.
fn overlay(b: &mut Builder, state: &State, obs: &Observed) {
    use super::overlay::{self as ov, Entry};
    if let Some(w) = state.fabric.as_ref().and_then(|f| f.wireguard.as_ref()).filter(|_| !state.vpcs.is_empty()) {
        let missing = !obs.links.contains_key(&w.interface);
        if missing || (w.userspace && obs.wireguard_dead) {
            let what =
                if missing { format!("WireGuard interface {} is missing", w.interface) } else { "wireguard-go is not running".into() };
            b.drifts.push(Drift { vpc: None, subnet: None, instance: false, what });
            let gone = State { fabric: None, ..State::default() };
            b.root.extend(super::wireguard::lines(&gone, state, true));
            b.wg.extend(super::wireguard::configure(&gone, state, true));
        }
    }
    for t in ov::tunnels(state) {
        if !obs.links.contains_key(&t.device) {
            b.drifts.push(Drift {
                vpc: Some(t.vpc.clone()),
                subnet: None,
                instance: false,
                what: format!("tunnel device {} is missing", t.device),
            });
            b.root.extend(ov::create_lines(&t));
            b.fdb.extend(ov::entries(&t).into_iter().filter_map(|e| match e {
                Entry::Fdb(line) => Some(line),
                _ => None,
            }));
            continue;
        }
        for e in ov::entries(&t) {
            if obs.overlay.contains(&e.key()) {
                continue;
            }
            b.drifts.push(Drift { vpc: Some(t.vpc.clone()), subnet: None, instance: false, what: format!("{} is missing", e.key()) });
            match e {
                Entry::Route(line) | Entry::Neigh(line) => b.root.push(line),
                Entry::Fdb(line) => b.fdb.push(line),
            }
        }
    }
}

/// Route tables' kernel tables and rules, and NAT gateways: their links,
/// their namespace, and the translation inside it.
fn routing(b: &mut Builder, state: &State, obs: &Observed) {
    use super::routes;
    for v in &state.vpcs {
        for spec in routes::all_table_specs(state, v) {
            if !obs.route_specs.contains(&routes::shown_route(&spec)) {
                b.drift(Some(v), None, format!("route {spec} is missing"));
                b.root.push(format!("route replace {spec}"));
            }
        }
        for rule in routes::rule_specs(v) {
            if !obs.ip_rules.contains(&rule) {
                b.drift(Some(v), None, format!("ip rule {rule} is missing"));
                b.root.push(format!("rule add {rule}"));
            }
        }
        for g in &v.nat_gateways {
            let ns = obs.namespaces.get(&g.namespace).cloned().flatten();
            let veth = obs.links.get(&g.veth);
            let (Some(ns), Some(veth)) = (ns, veth) else {
                b.drift(Some(v), None, format!("NAT gateway {}: its namespace {} or veth {} is missing", g.name, g.namespace, g.veth));
                b.teardown.extend([iproute::link_del(&g.veth), iproute::netns_del(&g.namespace)]);
                b.root.extend(routes::ngw_root_lines(v, g).into_iter().filter(|l| !l.starts_with("addr add")));
                let (fdb, steps) = routes::ngw_steps(None, &Vpc { nat_gateways: vec![g.clone()], ..v.clone() });
                b.fdb.extend(fdb);
                b.policies.extend(Plan { steps });
                continue;
            };
            if veth.master.as_deref() != Some(v.bridge.as_str()) || !veth.up {
                b.drift(Some(v), None, format!("NAT gateway {}: veth {} is not up on {}", g.name, g.veth, v.bridge));
                b.root.extend([iproute::attach_up(&g.veth, &v.bridge), iproute::bridge_port(&g.veth)]);
                b.fdb.push(iproute::fdb_static(&crate::model::kernel_names::subnet_mac(g.ip), &g.veth));
            }
            if ns.default_via.is_none() {
                b.drift(Some(v), None, format!("NAT gateway {}: no default route in {}", g.name, g.namespace));
                if let Some(s) = v.subnet(g.subnet.as_str()) {
                    b.netns.push((g.namespace.clone(), vec![format!("route replace default via {}", s.gateway)]));
                }
            }
            let have = ns.filter_rules.unwrap_or_default();
            let chain: Vec<String> = have.iter().filter(|r| r.starts_with(&format!("-A {} ", routes::NGW_NAT_CHAIN))).cloned().collect();
            let jump = have.contains(&routes::ngw_jump());
            if !jump || !same_rules(&chain, &routes::ngw_rules(v, g)) {
                b.drift(Some(v), None, format!("NAT gateway {}: its translation rules in {} are missing or differ", g.name, g.namespace));
                b.policies.push(routes::ngw_restore(v, g, jump));
            }
        }
    }
}

/// The helpers (resolvers, collector), the DNS files and the elastic IPs'
/// addresses. Helpers are started again by the caller, which starts any
/// recorded one that is not running.
fn services(b: &mut Builder, state: &State, obs: &Observed) {
    for v in state.vpcs.iter().filter(|v| obs.dead_resolvers.contains(v.name.as_str())) {
        b.drift(Some(v), None, "its resolver (dnsmasq) is not running, or is stopped".into());
    }
    if obs.collector_dead && state.host.flow_logs.is_some() {
        b.drifts.push(Drift {
            vpc: None,
            subnet: None,
            instance: false,
            what: "the flow-log collector (or its ulogd) is not running, or is stopped".into(),
        });
    }
    for (path, text) in super::dns::files(state) {
        if obs.files.get(&path).is_some_and(|now| now.as_deref() != Some(text.as_str())) {
            b.drifts.push(Drift { vpc: None, subnet: None, instance: false, what: format!("{} is missing or differs", path.display()) });
            let readers = super::dns::readers(&path);
            b.files.push(Step::File { path, content: Some(text), readers });
        }
    }
    for v in &state.vpcs {
        for e in &v.eips {
            let on = obs.links.get(&e.interface).is_some_and(|l| l.addrs.contains(&(e.ip, 32)));
            if !on {
                b.drift(Some(v), None, format!("elastic IP {} is not on {}", e.ip, e.interface));
                b.root.push(format!("address replace {}/32 dev {}", e.ip, e.interface));
            }
        }
        let uplink = v.internet_gateway.as_ref().map(|i| i.interface.as_str());
        for (g, e, up) in v.nat_gateways.iter().filter_map(|g| Some((g, g.eip?, uplink?))) {
            if !obs.links.get(up).is_some_and(|l| l.addrs.contains(&(e, 32))) {
                b.drift(Some(v), None, format!("NAT gateway {}'s elastic IP {e} is not on {up}", g.name));
                b.root.push(format!("address replace {e}/32 dev {up}"));
            }
        }
    }
}

fn links(b: &mut Builder, v: &Vpc, obs: &Observed) {
    let bridge = obs.links.get(&v.bridge);
    match bridge {
        None => {
            b.drift(Some(v), None, format!("bridge {} is missing", v.bridge));
            b.root.extend(vpc::bridge_lines(v));
        }
        Some(l) if !l.up => {
            b.drift(Some(v), None, format!("bridge {} is down", v.bridge));
            b.root.push(iproute::link_up(&v.bridge));
        }
        Some(_) => {}
    }
    if !obs.unreachable.contains(&v.cidr) {
        b.drift(Some(v), None, format!("unreachable route for {} is missing", v.cidr));
        b.root.push(iproute::route_unreachable_add(&v.cidr));
    }
    let gateways: HashSet<_> = bridge.map(|l| l.addrs.iter().copied().collect()).unwrap_or_default();
    if let Some(a) = v.resolver_address().filter(|a| !gateways.contains(&(*a, 32))) {
        if bridge.is_some() {
            b.drift(Some(v), None, format!("resolver address {a}/32 is missing from {}", v.bridge));
        }
        b.root.push(format!("address replace {a}/32 dev {}", v.bridge));
    }
    // Instances are checked as subnets are, under their own names; their
    // subnet's gateway is the subnet's business.
    let hosts: Vec<(Subnet, bool)> = v
        .subnets
        .iter()
        .map(|s| (s.clone(), false))
        .chain(v.instances().map(|(s, i)| (Subnet { name: i.name.clone(), ..v.instance_view(s, i) }, true)))
        .collect();
    for (s, instance) in &hosts {
        let has_gateway = *instance || gateways.contains(&(s.gateway, s.cidr.prefix_len()));
        if !has_gateway && bridge.is_some() {
            b.drift(Some(v), Some(s), format!("gateway {}/{} is missing from {}", s.gateway, s.cidr.prefix_len(), v.bridge));
        }
        let ns = obs.namespaces.get(&s.namespace).cloned().flatten();
        let veth = obs.links.get(&s.veth);
        match (ns, veth) {
            (Some(ns), Some(veth)) => {
                if !has_gateway {
                    b.root.push(iproute::addr_add(s.gateway, &s.cidr, &v.bridge));
                }
                if veth.master.as_deref() != Some(v.bridge.as_str()) || !veth.up {
                    if bridge.is_some() {
                        b.drift(Some(v), Some(s), format!("veth {} is not up on {}", s.veth, v.bridge));
                    }
                    // A port made again has the bridge's defaults: guard it anew.
                    b.root.extend([iproute::attach_up(&s.veth, &v.bridge), iproute::bridge_port(&s.veth)]);
                    b.fdb.extend(subnet::fdb_lines(s));
                } else if let Some(port) = obs.ports.get(&s.veth) {
                    if !port.guarded {
                        b.drift(Some(v), Some(s), format!("bridge port {} learns, floods or is not isolated", s.veth));
                        b.root.push(iproute::bridge_port(&s.veth));
                    }
                    if !port.fdb {
                        let mac = crate::model::kernel_names::subnet_mac(s.ip);
                        b.drift(Some(v), Some(s), format!("the bridge's FDB does not point {mac} at {} alone", s.veth));
                    }
                    if !port.guarded || !port.fdb {
                        b.fdb.extend(subnet::fdb_lines(s));
                    }
                }
                inside(b, v, s, &ns);
            }
            (ns, veth) => {
                let what =
                    if ns.is_none() { format!("namespace {} is missing", s.namespace) } else { format!("veth {} is missing", s.veth) };
                let _ = veth;
                b.drift(Some(v), Some(s), what);
                rebuild(b, v, s, has_gateway, obs);
            }
        }
        for a in s.apps.iter().filter(|a| obs.dead_apps.contains(&a.pid)) {
            b.drift(Some(v), Some(s), format!("app on port {} (pid {}) is not running, or is stopped", a.port, a.pid));
            if !b.restart.iter().any(|(x, y, p)| *x == v.name && *y == s.name && *p == a.port) {
                b.restart.push((v.name.clone(), s.name.clone(), a.port));
            }
        }
    }
}

/// Make a subnet again from nothing: its namespace or veth is gone.
fn rebuild(b: &mut Builder, v: &Vpc, s: &Subnet, has_gateway: bool, obs: &Observed) {
    b.teardown.extend(subnet::teardown_lines(s));
    let mut root = subnet::root_lines(v, s);
    if has_gateway {
        root.pop();
    }
    b.root.extend(root);
    b.fdb.extend(subnet::fdb_lines(s));
    b.netns.push((s.namespace.clone(), subnet::netns_lines(s)));
    if let Some(p) = &s.policy {
        b.policies.extend(policy::apply(v, s, p, false));
    }
    for a in &s.apps {
        if !obs.dead_apps.contains(&a.pid) {
            b.stop.push((a.pid, a.start_time));
        }
        b.restart.push((v.name.clone(), s.name.clone(), a.port));
    }
}

/// Inside a namespace that exists: lo, eth0, address, default route, policy.
fn inside(b: &mut Builder, v: &Vpc, s: &Subnet, ns: &Netns) {
    let mut lines = vec![];
    if !ns.links.get("lo").is_some_and(|l| l.up) {
        b.drift(Some(v), Some(s), format!("lo is down in {}", s.namespace));
        lines.push(iproute::link_up("lo"));
    }
    let eth0 = ns.links.get(subnet::INNER_IF);
    if !eth0.is_some_and(|l| l.addrs.contains(&(s.ip, s.cidr.prefix_len()))) {
        b.drift(
            Some(v),
            Some(s),
            format!("address {}/{} is missing from {} in {}", s.ip, s.cidr.prefix_len(), subnet::INNER_IF, s.namespace),
        );
        lines.push(iproute::addr_add(s.ip, &s.cidr, subnet::INNER_IF));
    }
    if !eth0.is_some_and(|l| l.up) {
        b.drift(Some(v), Some(s), format!("{} is down in {}", subnet::INNER_IF, s.namespace));
        lines.push(iproute::link_up(subnet::INNER_IF));
    }
    if ns.default_via != Some(s.gateway) {
        let now = ns.default_via.map(|g| format!(" (it is via {g})")).unwrap_or_default();
        b.drift(Some(v), Some(s), format!("default route via {} is missing in {}{now}", s.gateway, s.namespace));
        lines.push(format!("route replace default via {}", s.gateway));
    }
    if !lines.is_empty() {
        b.netns.push((s.namespace.clone(), lines));
    }
    let (Some(p), Some(rules)) = (&s.policy, &ns.filter_rules) else { return };
    let mut fix = vec![];
    let want = policy::rules(v, s, p);
    let of = |chain: &str, lines: &[&str]| -> Vec<String> {
        lines.iter().filter(|r| r.starts_with(&format!("-A {chain} "))).map(|r| r.to_string()).collect()
    };
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    let have: Vec<&str> = rules.iter().map(String::as_str).collect();
    // Chain by chain: iptables-save lists chains in its own order.
    let chains = [policy::INGRESS_CHAIN, policy::EGRESS_CHAIN];
    if chains.iter().any(|c| !same_rules(&of(c, &want), &of(c, &have))) {
        b.drift(Some(v), Some(s), format!("policy rules in {} differ from the record", s.namespace));
        fix.extend(chains.iter().map(|c| declare(c)));
        fix.extend(want.iter().map(|r| r.to_string()));
    }
    for (builtin, chain) in policy::JUMPS {
        let jump = format!("-A {builtin} {}", policy::jump_args(chain).join(" "));
        if !rules.iter().any(|r| same_rules(&[r.as_str()], &[jump.as_str()])) {
            b.drift(Some(v), Some(s), format!("jump from {builtin} to {chain} is missing in {}", s.namespace));
            fix.push(policy::jump_insert(builtin, chain));
        }
    }
    if !fix.is_empty() {
        b.policies.extend(policy::in_netns(s, fix));
    }
}

fn firewall_rules(b: &mut Builder, state: &State, obs: &Observed) {
    if state.vpcs.is_empty() {
        return;
    }
    let t = &obs.tables;
    let check = |b: &mut Builder, table: &str, chain: &str, want: Vec<String>, vpc: Option<&Vpc>| {
        let have = chain_rules(t, table, chain);
        if !same_rules(&want, &have) {
            let why = if have.is_empty() && !t.iter().any(|x| x.name == table && x.chains.iter().any(|c| c == chain)) {
                "is missing".to_string()
            } else if have.len() != want.len() {
                format!("has {} rule(s), the record says {}", have.len(), want.len())
            } else {
                "has rules that differ from the record".to_string()
            };
            b.drift(vpc, None, format!("{table} chain {chain} {why}"));
            let slot = if table == "filter" { &mut b.filter } else { &mut b.nat };
            slot.push((chain.to_string(), want));
        }
    };
    for v in &state.vpcs {
        check(b, "filter", &v.chain, firewall::vpc_rules(state, v), Some(v));
    }
    check(b, "filter", &firewall::forward_chain(state), firewall::filter_dispatch(state).split_off(1), None);
    check(b, "filter", &firewall::input_chain(state), firewall::input_rules(state).split_off(1), None);
    if firewall::uses_nat(state) {
        for v in state.vpcs.iter().filter(|v| firewall::has_nat_chain(v)) {
            check(b, "nat", &v.nat_chain(), firewall::vpc_nat_rules(state, v), Some(v));
        }
        check(b, "nat", &firewall::postrouting_chain(state), firewall::nat_dispatch(state).split_off(1), None);
    }
    if expose::in_use(state) {
        check(b, "nat", &expose::prerouting_chain(state), expose::prerouting_rules(state).split_off(1), None);
        check(b, "nat", &expose::output_chain(state), expose::output_rules(state).split_off(1), None);
    }
    for (chain, rules) in super::firewall::side_chains(state) {
        check(b, "filter", &chain, rules, None);
    }

    for j in BaseJump::all(state) {
        let line = j.saved();
        if !chain_rules(t, j.table, j.builtin).iter().any(|r| same_rules(&[*r], &[line.as_str()])) {
            b.drifts.push(Drift {
                vpc: None,
                subnet: None,
                instance: false,
                what: format!("jump from {} to {} is missing", j.builtin, j.chain),
            });
            let tail = if j.table == "filter" { &mut b.filter_tail } else { &mut b.nat_tail };
            tail.push(j.insert());
        }
    }
}

/// The anti-spoofing chains (ebtables) and the jumps into them.
fn bridge_rules(b: &mut Builder, state: &State, obs: &Observed) {
    if state.vpcs.is_empty() {
        return;
    }
    let saved: Vec<&str> = obs.bridge.lines().map(str::trim).collect();
    let rules_of = |chain: &str| -> Vec<&str> { saved.iter().copied().filter(|l| l.starts_with(&format!("-A {chain} "))).collect() };
    let check = |b: &mut Builder, chain: String, want: Vec<String>, vpc: Option<&Vpc>| {
        let have = rules_of(&chain);
        if have != want.iter().map(String::as_str).collect::<Vec<_>>() {
            let why =
                if !saved.contains(&spoof::declare(&chain).as_str()) { "is missing" } else { "has rules that differ from the record" };
            b.drift(vpc, None, format!("ebtables chain {chain} {why}"));
            b.bridge.push(spoof::declare(&chain));
            b.bridge.extend(want);
        }
    };
    for v in &state.vpcs {
        check(b, crate::model::kernel_names::vpc_spoof_chain(&v.bridge), spoof::vpc_rules(v), Some(v));
    }
    check(b, spoof::dispatch_chain(state), spoof::dispatch(state).split_off(1), None);
    for (saved_jump, (insert, _)) in spoof::saved_jumps(state).iter().zip(spoof::jumps(state)) {
        if !saved.contains(&saved_jump.as_str()) {
            b.drifts.push(Drift { vpc: None, subnet: None, instance: false, what: format!("ebtables jump '{saved_jump}' is missing") });
            b.bridge.push(insert);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::iptables::parse_save;

    fn state() -> State {
        serde_json::from_str(
            r#"{"schema_version":1,"vpcs":[{"name":"v","cidr":"10.1.0.0/16","bridge":"br-v","link_group":9,
            "chain":"VPCCTL-FWD-v","status":"ready","nat":{"interface":"uplink0"},
            "subnets":[{"name":"web","cidr":"10.1.1.0/24","type":"public","namespace":"ns-v-web","veth":"v-v-web",
            "gateway":"10.1.1.1","ip":"10.1.1.2","status":"ready"},
            {"name":"db","cidr":"10.1.2.0/24","type":"private","namespace":"ns-v-db","veth":"v-v-db",
            "gateway":"10.1.2.1","ip":"10.1.2.2","status":"ready",
            "policy":{"default_ingress":"deny","default_egress":"allow","ingress":[{"protocol":"tcp","ports":{"first":5432,"last":5432},"action":"allow"}]},
            "apps":[{"port":5432,"pid":4242,"start_time":1,"command":["nc"],"log":"/l"}]}]}]}"#,
        )
        .unwrap()
    }

    fn link(up: bool, master: Option<&str>, addrs: &[(&str, u8)]) -> Link {
        Link { up, master: master.map(String::from), addrs: addrs.iter().map(|(a, p)| (a.parse().unwrap(), *p)).collect() }
    }

    /// What the kernel holds right after vpcctl built `state()`.
    fn healthy(st: &State) -> Observed {
        let mut o = Observed { ip_forward: "1".into(), ..Observed::default() };
        o.links.insert("br-v".into(), link(true, None, &[("10.1.1.1", 24), ("10.1.2.1", 24)]));
        o.unreachable.insert("10.1.0.0/16".parse().unwrap());
        let v = &st.vpcs[0];
        for s in &v.subnets {
            o.links.insert(s.veth.clone(), link(true, Some("br-v"), &[]));
            o.ports.insert(s.veth.clone(), Port { guarded: true, fdb: true });
            let mut ns = Netns { default_via: Some(s.gateway), ..Netns::default() };
            ns.links.insert("lo".into(), link(true, None, &[("127.0.0.1", 8)]));
            ns.links.insert("eth0".into(), link(true, None, &[(&s.ip.to_string(), 24)]));
            if let Some(p) = &s.policy {
                let mut rules: Vec<String> =
                    policy::JUMPS.iter().map(|(b, c)| format!("-A {b} {}", policy::jump_args(c).join(" "))).collect();
                // As iptables-save lists them: EGRESS before INGRESS.
                let mut mine = policy::rules(v, s, p);
                mine.sort_by_key(|r| !r.starts_with("-A VPCCTL-EGRESS"));
                rules.extend(mine);
                ns.filter_rules = Some(rules);
            }
            o.namespaces.insert(s.namespace.clone(), Some(ns));
        }
        // The root firewall, as iptables-restore of our own plan would leave it.
        let mut dump = String::from("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n");
        let mut chains = vec![v.chain.clone(), firewall::forward_chain(st), firewall::input_chain(st)];
        let mut rules = vec![BaseJump::filter(st).saved(), BaseJump::input(st).saved()];
        rules.extend(firewall::vpc_rules(st, v));
        rules.extend(firewall::filter_dispatch(st).split_off(1));
        rules.extend(firewall::input_rules(st).split_off(1));
        for c in &chains {
            dump.push_str(&format!(":{c} - [0:0]\n"));
        }
        dump.push_str(&(rules.join("\n") + "\nCOMMIT\n*nat\n:POSTROUTING ACCEPT [0:0]\n"));
        chains = vec![v.nat_chain(), firewall::postrouting_chain(st)];
        for c in &chains {
            dump.push_str(&format!(":{c} - [0:0]\n"));
        }
        let mut rules = vec![BaseJump::nat(st).saved()];
        rules.extend(firewall::vpc_nat_rules(st, v));
        rules.extend(firewall::nat_dispatch(st).split_off(1));
        dump.push_str(&(rules.join("\n") + "\nCOMMIT\n"));
        o.tables = parse_save(&dump);
        // The bridge family's, as ebtables-restore of our plan leaves it.
        let mut bridge = vec![":INPUT ACCEPT".to_string(), ":FORWARD ACCEPT".into()];
        bridge.extend(spoof::chains(st).iter().map(|c| spoof::declare(c)));
        bridge.extend(spoof::saved_jumps(st));
        bridge.extend(spoof::vpc_rules(v));
        bridge.extend(spoof::dispatch(st).split_off(1));
        o.bridge = bridge.join("\n");
        o
    }

    #[test]
    fn a_healthy_kernel_has_no_drift_and_an_empty_plan() {
        let st = state();
        let a = assess(&st, &healthy(&st));
        assert!(a.drifts.is_empty(), "{:?}", a.drifts);
        assert!(a.plan.steps.is_empty(), "{}", a.plan.to_script());
        assert!(a.restart.is_empty());
    }

    #[test]
    fn one_route_and_one_chain_are_fixed_alone() {
        let st = state();
        let mut o = healthy(&st);
        o.namespaces.get_mut("ns-v-web").unwrap().as_mut().unwrap().default_via = None;
        for t in &mut o.tables {
            t.rules.retain(|r| !r.starts_with("-A VPCCTL-FWD-v"));
        }
        let a = assess(&st, &o);
        let text: Vec<String> = a.drifts.iter().map(|d| d.to_string()).collect();
        assert_eq!(text.len(), 2, "{text:?}");
        assert!(text[0].starts_with("subnet v/web: default route via 10.1.1.1 is missing"), "{text:?}");
        assert!(text[1].starts_with("VPC v: filter chain VPCCTL-FWD-v has 0 rule(s), the record says"), "{text:?}");
        let s = a.plan.to_script();
        assert!(s.contains("ip -n ns-v-web -batch") && s.contains("route replace default via 10.1.1.1"), "{s}");
        assert!(s.contains(":VPCCTL-FWD-v - [0:0]") && s.contains("default-deny"), "{s}");
        assert!(!s.contains("VPCCTL-FORWARD") && !s.contains("ns-v-db") && !s.contains("VPCCTL-NAT"), "only what drifted: {s}");
    }

    #[test]
    fn after_a_reboot_everything_is_rebuilt() {
        let st = state();
        let mut o = Observed { ip_forward: "0".into(), ..Observed::default() };
        o.links.insert("lo".into(), link(true, None, &[]));
        o.namespaces.insert("ns-v-web".into(), None);
        o.namespaces.insert("ns-v-db".into(), None);
        o.tables = parse_save("*filter\n:FORWARD DROP [0:0]\nCOMMIT\n*nat\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n");
        o.dead_apps.insert(4242);
        let a = assess(&st, &o);
        let s = a.plan.to_script();
        for want in [
            "link add br-v address",
            "route add unreachable 10.1.0.0/16",
            "netns add ns-v-web",
            "addr add 10.1.2.1/24 dev br-v",
            "ip -n ns-v-db -batch",
            ":VPCCTL-FWD-v - [0:0]",
            "-I FORWARD 1",
            "-I POSTROUTING 1",
            "-A VPCCTL-NAT-v",
            "ip netns exec ns-v-db iptables-restore",
            "echo 1 > /proc/sys/net/ipv4/ip_forward",
        ] {
            assert!(s.contains(want), "missing {want:?} in\n{s}");
        }
        let declare = s.find(":VPCCTL-FORWARD - [0:0]").unwrap();
        assert!(s.find(":VPCCTL-FWD-v - [0:0]").unwrap() < declare && declare < s.find("-A VPCCTL-FORWARD").unwrap());
        assert_eq!(a.restart, [(Name::parse("n", "v").unwrap(), Name::parse("n", "db").unwrap(), 5432)]);
        assert!(a.stop.is_empty(), "a dead app is not stopped");
    }

    #[test]
    fn policy_drift_inside_a_namespace_is_seen() {
        let st = state();
        let mut o = healthy(&st);
        let ns = o.namespaces.get_mut("ns-v-db").unwrap().as_mut().unwrap();
        ns.filter_rules = Some(vec![]);
        let a = assess(&st, &o);
        let text: Vec<String> = a.drifts.iter().map(|d| d.to_string()).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        let s = a.plan.to_script();
        assert!(s.contains("ip netns exec ns-v-db iptables-restore") && s.contains("-I INPUT 1") && s.contains("--dport 5432"), "{s}");
    }
}
