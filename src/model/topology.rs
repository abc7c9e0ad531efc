//! Topology files: a whole network as one JSON document, for `plan`,
//! `apply` and `export`.
//!
//! ```json
//! {"vpcs": {"vpc1": {"cidr": "10.10.0.0/16",
//!                    "nat": {"interface": "uplink0", "subnets": ["web"]},
//!                    "subnets": {"web": {"cidr": "10.10.1.0/24", "public": true, "apps": [{"port": 8080}]},
//!                                "db":  {"cidr": "10.10.2.0/24", "policy": "policies/db.json"}}}},
//!  "peerings": [{"vpcs": ["vpc1", "vpc2"], "allow_cidrs": ["10.10.1.0/24"]}]}
//! ```
//! Parsed by hand from a JSON value, like policy files, so that every error
//! names where it is (`vpcs.vpc1.subnets.web: unknown key "pubic"`).
//! Everything the imperative commands check is checked here, before
//! anything changes.

use std::path::Path;

use ipnet::Ipv4Net;
use serde_json::{Map, Value, json};

use super::cidr::{self, MAX_SUBNET_PREFIX, overlaps};
use super::nacl::Nacl;
use super::policy::Policy;
use super::validate::vpc_cidr;
use super::{Name, SubnetKind};
use crate::model::State;

/// Largest topology or policy file read: far above any real one, and
/// small enough that a wrong path (a disk image, /dev/zero) fails fast.
pub const MAX_FILE_BYTES: u64 = 4 << 20;

#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    pub vpcs: Vec<VpcSpec>,
    pub peerings: Vec<PeeringSpec>,
    pub transit_gateways: Vec<super::routing::TransitGateway>,
    /// Several hosts (see `model::fabric`); empty: this host alone.
    pub hosts: Vec<super::fabric::FabricHost>,
    pub vxlan_port: u16,
    /// `"encryption": "wireguard"`.
    pub wireguard: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VpcSpec {
    pub name: Name,
    pub cidr: Ipv4Net,
    pub nat: Option<NatSpec>,
    pub subnets: Vec<SubnetSpec>,
    /// The VPC's resolver (default on, as in AWS), and how it answers:
    /// `"dns": false`, or `"dns": {"upstream": false, "stop_rebind": true}`.
    pub dns: bool,
    pub dns_options: crate::model::services::DnsOptions,
    pub expose: Vec<ExposeSpec>,
    pub eip: Vec<EipSpec>,
    pub flow_logs: bool,
    pub routing: RoutingSpec,
    /// `"security_groups": {"web": {"ingress": [{"protocol": "tcp", "port": 80, "cidr": "0.0.0.0/0"}]}}`;
    /// `egress` left out is all egress, as for a new group.
    pub security_groups: Vec<super::instance::SecurityGroup>,
}

/// The AWS routing objects of a VPC (see `model::routing`):
/// `"internet_gateway": true` (or `{"interface": "eth0"}`),
/// `"nat_gateways": {"ngw-a": {"subnet": "public-a", "eip": "203.0.113.20"}}`,
/// `"route_tables": {"private": {"subnets": ["db"], "routes": [{"destination": "0.0.0.0/0", "nat_gateway": "ngw-a"}]}}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoutingSpec {
    /// `Some(None)`: the default route's interface.
    pub internet_gateway: Option<Option<String>>,
    pub nat_gateways: Vec<(Name, Name, Option<std::net::Ipv4Addr>)>,
    pub route_tables: Vec<(Name, Vec<Name>, Vec<super::routing::Route>)>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct IgwFile {
    interface: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NatGatewayFile {
    subnet: Name,
    eip: Option<std::net::Ipv4Addr>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteTableFile {
    #[serde(default)]
    subnets: Vec<Name>,
    #[serde(default)]
    routes: Vec<RouteFile>,
}

#[derive(serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    destination: Ipv4Net,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gateway: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nat_gateway: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    peering: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    transit_gateway: Option<Name>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    blackhole: bool,
}

impl RouteFile {
    fn target(&self, at: &str) -> Result<super::routing::Target, TopologyError> {
        use super::routing::Target;
        let mut t = vec![];
        match self.gateway.as_deref() {
            Some("igw") => t.push(Target::InternetGateway),
            Some(other) => return Err(err(&format!("{at}.gateway"), format!("is \"{other}\"; a VPC's internet gateway is \"igw\""))),
            None => {}
        }
        t.extend(self.nat_gateway.clone().map(Target::NatGateway));
        t.extend(self.peering.clone().map(Target::Peering));
        t.extend(self.transit_gateway.clone().map(Target::TransitGateway));
        if self.blackhole {
            t.push(Target::Blackhole);
        }
        match t.len() {
            1 => Ok(t.remove(0)),
            n => Err(err(
                at,
                format!("names {n} targets; a route has exactly one of gateway, nat_gateway, peering, transit_gateway, blackhole"),
            )),
        }
    }

    pub fn of(r: &super::routing::Route) -> RouteFile {
        use super::routing::Target;
        let mut f = RouteFile {
            destination: r.destination,
            gateway: None,
            nat_gateway: None,
            peering: None,
            transit_gateway: None,
            blackhole: false,
        };
        match &r.target {
            Target::InternetGateway => f.gateway = Some("igw".into()),
            Target::NatGateway(n) => f.nat_gateway = Some(n.clone()),
            Target::Peering(n) => f.peering = Some(n.clone()),
            Target::TransitGateway(n) => f.transit_gateway = Some(n.clone()),
            Target::Blackhole => f.blackhole = true,
        }
        f
    }
}

/// A part of the file read by serde, its errors put at `at`.
fn typed<T: serde::de::DeserializeOwned>(v: &Value, at: &str) -> Result<T, TopologyError> {
    serde_json::from_value(v.clone()).map_err(|e| err(at, e.to_string()))
}

fn routing(obj: &Map<String, Value>, at: &str) -> Result<RoutingSpec, TopologyError> {
    let internet_gateway = match obj.get("internet_gateway") {
        None | Some(Value::Bool(false)) | Some(Value::Null) => None,
        Some(Value::Bool(true)) => Some(None),
        Some(v) => Some(typed::<IgwFile>(v, &format!("{at}.internet_gateway"))?.interface),
    };
    let mut out = RoutingSpec { internet_gateway, ..RoutingSpec::default() };
    if let Some(all) = obj.get("nat_gateways") {
        let all = all.as_object().ok_or_else(|| err(&format!("{at}.nat_gateways"), "is not an object of NAT gateways by name"))?;
        for (k, g) in all {
            let gat = format!("{at}.nat_gateways.{k}");
            let f: NatGatewayFile = typed(g, &gat)?;
            out.nat_gateways.push((name("NAT gateway name", k, &gat)?, f.subnet, f.eip));
        }
    }
    if let Some(all) = obj.get("route_tables") {
        let all = all.as_object().ok_or_else(|| err(&format!("{at}.route_tables"), "is not an object of route tables by name"))?;
        for (k, t) in all {
            let tat = format!("{at}.route_tables.{k}");
            let f: RouteTableFile = typed(t, &tat)?;
            if k == super::routing::MAIN && !f.subnets.is_empty() {
                return Err(err(&format!("{tat}.subnets"), "main needs no subnets: every subnet without another table uses it"));
            }
            let routes = f
                .routes
                .iter()
                .enumerate()
                .map(|(i, r)| Ok(super::routing::Route { destination: r.destination, target: r.target(&format!("{tat}.routes[{i}]"))? }))
                .collect::<Result<Vec<_>, TopologyError>>()?;
            out.route_tables.push((name("route table name", k, &tat)?, f.subnets, routes));
        }
    }
    Ok(out)
}

/// `"expose": [{"subnet": "web", "port": 8080, "host_port": 8080}]`;
/// no interface: the default route's.
#[derive(Debug, Clone, PartialEq)]
pub struct ExposeSpec {
    pub subnet: Name,
    pub port: u16,
    pub host_port: u16,
    pub interface: Option<String>,
    pub allow_private: bool,
}

/// `"eip": [{"subnet": "web", "ip": "203.0.113.10"}]`.
#[derive(Debug, Clone, PartialEq)]
pub struct EipSpec {
    pub subnet: Name,
    pub ip: std::net::Ipv4Addr,
    pub interface: Option<String>,
}

/// `"nat": true` is every field `None`: the default route's interface, and
/// the public subnets.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NatSpec {
    pub interface: Option<String>,
    pub subnets: Option<Vec<Name>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubnetSpec {
    pub name: Name,
    pub cidr: Ipv4Net,
    pub kind: SubnetKind,
    pub policy: Option<Policy>,
    pub apps: Vec<AppSpec>,
    pub nacl: Option<Nacl>,
    pub instances: Vec<InstanceSpec>,
    /// The host it lives on, in a file with `hosts`.
    pub host: Option<Name>,
}

/// `"instances": {"web1": {"ip": "10.1.1.10", "security_groups": ["web"], "apps": [{"port": 80}]}}`;
/// no ip: the next free one; no groups: `default`.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceSpec {
    pub name: Name,
    pub ip: Option<std::net::Ipv4Addr>,
    pub security_groups: Vec<Name>,
    pub apps: Vec<AppSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppSpec {
    pub port: u16,
    /// `None`: vpcctl's own HTTP server.
    pub command: Option<Vec<String>>,
    /// `None`: the unprivileged default.
    pub user: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PeeringSpec {
    pub a: Name,
    pub b: Name,
    pub allow_cidrs: Vec<Ipv4Net>,
    pub name: Option<Name>,
    pub no_routes: bool,
}

/// A problem in a topology file, at a JSON path.
pub type TopologyError = super::policy::PathError;

fn err(path: &str, message: impl Into<String>) -> TopologyError {
    TopologyError { path: path.to_string(), message: message.into() }
}

fn object<'a>(v: &'a Value, path: &str, allowed: &[&str]) -> Result<&'a Map<String, Value>, TopologyError> {
    let obj = v.as_object().ok_or_else(|| err(path, format!("{} is not an object", short(v))))?;
    if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(err(path, format!("unknown key {k:?} (allowed: {})", allowed.join(", "))));
    }
    Ok(obj)
}

/// A value, cut short for an error message.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 40 { format!("{}...", &s[..s.char_indices().nth(37).map_or(s.len(), |(i, _)| i)]) } else { s }
}

fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, TopologyError> {
    v.as_str().ok_or_else(|| err(path, format!("{} is not a string", short(v))))
}

fn list<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>, TopologyError> {
    v.as_array().ok_or_else(|| err(path, format!("{} is not a list", short(v))))
}

fn name(what: &'static str, raw: &str, path: &str) -> Result<Name, TopologyError> {
    Name::parse(what, raw).map_err(|e| err(path, e.to_string()))
}

fn net(what: &'static str, v: &Value, path: &str) -> Result<Ipv4Net, TopologyError> {
    cidr::parse(what, string(v, path)?).map_err(|e| err(path, e.to_string()))
}

/// Reads a policy file named by a topology (relative to its directory).
pub type ReadFile<'a> = &'a dyn Fn(&Path) -> std::io::Result<String>;

impl Topology {
    /// Parse and validate. `dir` is the topology file's directory, against
    /// which policy paths are resolved.
    pub fn parse(text: &str, dir: &Path, read: ReadFile) -> Result<Topology, TopologyError> {
        Self::from_value(&super::document::parse(text)?, dir, read)
    }

    /// `parse`, from the file's value (JSON or YAML, or files merged).
    pub fn from_value(v: &Value, dir: &Path, read: ReadFile) -> Result<Topology, TopologyError> {
        // "expect" is `vpcctl check`'s (see model::expect); apply ignores it.
        let top = object(
            v,
            "(file)",
            &["vpcs", "peerings", "transit_gateways", "hosts", "vxlan_port", "encryption", "expect", super::document::SCHEMA_KEY],
        )?;
        let mut vpcs = vec![];
        if let Some(all) = top.get("vpcs") {
            let all = all.as_object().ok_or_else(|| err("vpcs", "is not an object of VPCs by name"))?;
            for (key, spec) in all {
                vpcs.push(vpc(key, spec, dir, read)?);
            }
        }
        let mut peerings = vec![];
        if let Some(all) = top.get("peerings") {
            for (i, p) in list(all, "peerings")?.iter().enumerate() {
                peerings.push(peering(p, &format!("peerings[{i}]"))?);
            }
        }
        let mut transit_gateways = vec![];
        if let Some(all) = top.get("transit_gateways") {
            let all = all.as_object().ok_or_else(|| err("transit_gateways", "is not an object of transit gateways by name"))?;
            for (k, t) in all {
                let at = format!("transit_gateways.{k}");
                let mut with_name = t.clone();
                if let Some(o) = with_name.as_object_mut() {
                    o.insert("name".into(), json!(k));
                    // Tables by name in the file, a list in the model.
                    if let Some(Value::Object(tables)) = o.get("route_tables").cloned() {
                        let list: Vec<Value> = tables
                            .into_iter()
                            .map(|(n, mut rt)| {
                                if let Some(r) = rt.as_object_mut() {
                                    r.insert("name".into(), json!(n));
                                    if let Some(Value::Array(routes)) = r.get_mut("routes") {
                                        for route in routes.iter_mut().filter_map(Value::as_object_mut) {
                                            if route.remove("blackhole") == Some(Value::Bool(false)) {
                                                return Err(err(&at, "\"blackhole\": false is not a target; name a \"vpc\""));
                                            }
                                        }
                                    }
                                }
                                Ok(rt)
                            })
                            .collect::<Result<_, TopologyError>>()?;
                        o.insert("route_tables".into(), Value::Array(list));
                    }
                }
                let tgw: super::routing::TransitGateway = typed(&with_name, &at)?;
                transit_gateways.push(tgw);
            }
        }
        let (hosts, vxlan_port, wireguard) = fabric_at(top)?;
        let topo = Topology { vpcs, peerings, transit_gateways, hosts, vxlan_port, wireguard };
        topo.validate()?;
        topo.validate_hosts()?;
        Ok(topo)
    }

    pub fn vpc(&self, name: &str) -> Option<&VpcSpec> {
        self.vpcs.iter().find(|v| v.name.as_str() == name)
    }

    /// Everything that involves more than one object.
    fn validate(&self) -> Result<(), TopologyError> {
        for (i, v) in self.vpcs.iter().enumerate() {
            let at = format!("vpcs.{}", v.name);
            if let Some(o) = self.vpcs[..i].iter().find(|o| overlaps(&o.cidr, &v.cidr)) {
                return Err(err(
                    &at,
                    format!("CIDR {} overlaps VPC '{}' ({}); VPC address spaces must not overlap", v.cidr, o.name, o.cidr),
                ));
            }
            for (j, s) in v.subnets.iter().enumerate() {
                let at = format!("{at}.subnets.{}", s.name);
                if !v.cidr.contains(&s.cidr) {
                    return Err(err(&at, format!("subnet CIDR {} is not inside VPC '{}' ({})", s.cidr, v.name, v.cidr)));
                }
                if let Some(o) = v.subnets[..j].iter().find(|o| overlaps(&o.cidr, &s.cidr)) {
                    return Err(err(&at, format!("subnet CIDR {} overlaps subnet '{}' ({})", s.cidr, o.name, o.cidr)));
                }
            }
            let has = |n: &Name| v.subnets.iter().any(|s| &s.name == n);
            for (k, e) in v.expose.iter().enumerate() {
                let at = format!("{at}.expose[{k}]");
                if !has(&e.subnet) {
                    return Err(err(&format!("{at}.subnet"), format!("VPC '{}' has no subnet named '{}'", v.name, e.subnet)));
                }
                let earlier = self.vpcs[..i].iter().flat_map(|o| &o.expose).chain(&v.expose[..k]);
                if earlier.into_iter().any(|o| o.host_port == e.host_port) {
                    return Err(err(&format!("{at}.host_port"), format!("host port {} is exposed twice", e.host_port)));
                }
            }
            let has_host = |n: &Name| has(n) || v.subnets.iter().any(|s| s.instances.iter().any(|i| &i.name == n));
            for (k, e) in v.eip.iter().enumerate() {
                let at = format!("{at}.eip[{k}]");
                if !has_host(&e.subnet) {
                    return Err(err(&format!("{at}.subnet"), format!("VPC '{}' has no subnet named '{}'", v.name, e.subnet)));
                }
                let earlier = self.vpcs[..i].iter().flat_map(|o| &o.eip).chain(&v.eip[..k]);
                if earlier.into_iter().any(|o| o.ip == e.ip) {
                    return Err(err(&format!("{at}.ip"), format!("elastic IP {} is used twice", e.ip)));
                }
                if v.eip[..k].iter().any(|o| o.subnet == e.subnet) {
                    return Err(err(&format!("{at}.subnet"), format!("subnet '{}' already has an elastic IP", e.subnet)));
                }
            }
            validate_instances(v, &at)?;
            if let Some(names) = v.nat.as_ref().and_then(|n| n.subnets.as_ref())
                && let Some(n) = names.iter().find(|n| !v.subnets.iter().any(|s| &s.name == *n))
            {
                return Err(err(&format!("{at}.nat.subnets"), format!("VPC '{}' has no subnet named '{n}'", v.name)));
            }
        }
        for (i, p) in self.peerings.iter().enumerate() {
            let at = format!("peerings[{i}]");
            let find =
                |n: &Name| self.vpc(n.as_str()).ok_or_else(|| err(&format!("{at}.vpcs"), format!("no VPC named '{n}' in this file")));
            let (va, vb) = (find(&p.a)?, find(&p.b)?);
            if p.a == p.b {
                return Err(err(&format!("{at}.vpcs"), format!("cannot peer VPC '{}' with itself", p.a)));
            }
            if overlaps(&va.cidr, &vb.cidr) {
                return Err(err(&at, format!("VPCs '{}' and '{}' overlap; overlapping VPCs cannot be peered", p.a, p.b)));
            }
            for c in &p.allow_cidrs {
                if !va.cidr.contains(c) && !vb.cidr.contains(c) {
                    return Err(err(
                        &format!("{at}.allow_cidrs"),
                        format!("{c} lies in neither VPC '{}' ({}) nor '{}' ({})", p.a, va.cidr, p.b, vb.cidr),
                    ));
                }
            }
            for v in [va, vb] {
                if !p.allow_cidrs.is_empty() && !p.allow_cidrs.iter().any(|c| v.cidr.contains(c)) {
                    return Err(err(
                        &format!("{at}.allow_cidrs"),
                        format!("names nothing inside VPC '{}' ({}), so no traffic could pass", v.name, v.cidr),
                    ));
                }
            }
            if self.peerings[..i].iter().any(|q| (q.a == p.a && q.b == p.b) || (q.a == p.b && q.b == p.a)) {
                return Err(err(&at, format!("VPCs '{}' and '{}' are peered twice", p.a, p.b)));
            }
        }
        Ok(())
    }
}

/// `hosts`, `vxlan_port` and `encryption`: the file's hosts, by name.
fn fabric_at(top: &Map<String, Value>) -> Result<(Vec<super::fabric::FabricHost>, u16, bool), TopologyError> {
    use super::fabric::{FabricHost, VXLAN_PORT};
    let mut hosts = vec![];
    if let Some(all) = top.get("hosts") {
        let all = all
            .as_object()
            .ok_or_else(|| err("hosts", "is not an object of hosts by name, e.g. {\"h1\": {\"underlay\": \"192.0.2.11\"}}"))?;
        for (k, h) in all {
            let at = format!("hosts.{k}");
            let mut with_name = h.clone();
            if let Some(o) = with_name.as_object_mut() {
                o.insert("name".into(), json!(k));
            }
            let host: FabricHost = typed(&with_name, &at)?;
            hosts.push(host);
        }
    }
    let vxlan_port = match top.get("vxlan_port") {
        None => VXLAN_PORT,
        Some(_) => port_at(top, "vxlan_port", "(file)")?,
    };
    let wireguard = match top.get("encryption") {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) if s == "wireguard" => true,
        Some(Value::String(s)) if s == "none" => false,
        Some(other) => return Err(err("encryption", format!("{} is not \"wireguard\" or \"none\"", short(other)))),
    };
    if (top.contains_key("vxlan_port") || wireguard) && hosts.is_empty() {
        return Err(err("hosts", "vxlan_port and encryption need hosts: the overlay joins the file's hosts"));
    }
    Ok((hosts, vxlan_port, wireguard))
}

impl Topology {
    /// Where each subnet lives, and that every host computes the same
    /// overlay: unique underlay and tunnel addresses, unique VNIs.
    fn validate_hosts(&self) -> Result<(), TopologyError> {
        use super::fabric::vni;
        for (i, h) in self.hosts.iter().enumerate() {
            let at = format!("hosts.{}", h.name);
            if let Some(o) = self.hosts[..i].iter().find(|o| o.underlay == h.underlay) {
                return Err(err(&format!("{at}.underlay"), format!("{} is also host '{}''s underlay address", h.underlay, o.name)));
            }
            if let Some(o) = self.hosts[..i].iter().find(|o| o.tunnel_address() == h.tunnel_address()) {
                return Err(err(
                    &format!("{at}.underlay"),
                    format!(
                        "{} and host '{}''s {} end in the same two bytes, which name a host's end of the overlay; give the hosts underlay addresses that differ in their last two bytes",
                        h.underlay, o.name, o.underlay
                    ),
                ));
            }
            if let Some(k) = h.wireguard_public_key.as_ref().filter(|k| !super::fabric::is_wireguard_key(k)) {
                return Err(err(
                    &format!("{at}.wireguard_public_key"),
                    format!("\"{k}\" is not a WireGuard public key (44 characters of base64, as 'vpcctl host-key' prints)"),
                ));
            }
            if let Some(u) = h.uplink.as_ref().filter(|u| !super::kernel_names::is_ifname(u)) {
                return Err(err(&format!("{at}.uplink"), format!("\"{u}\" is not an interface name")));
            }
            if self.wireguard && h.wireguard_public_key.is_none() {
                return Err(err(
                    &format!("{at}.wireguard_public_key"),
                    "is required with \"encryption\": \"wireguard\"; run 'vpcctl host-key' on that host and paste what it prints",
                ));
            }
        }
        for (i, v) in self.vpcs.iter().enumerate() {
            if !self.hosts.is_empty()
                && let Some(o) = self.vpcs[..i].iter().find(|o| vni(o.name.as_str()) == vni(v.name.as_str()))
            {
                return Err(err(
                    &format!("vpcs.{}", v.name),
                    format!("VPCs '{}' and '{}' would share VXLAN network identifier {}; rename one", o.name, v.name, vni(v.name.as_str())),
                ));
            }
            for s in &v.subnets {
                let at = format!("vpcs.{}.subnets.{}.host", v.name, s.name);
                match (&s.host, self.hosts.is_empty()) {
                    (None, false) => return Err(err(&at, "is required in a file with hosts: name the host this subnet lives on")),
                    (Some(h), true) => return Err(err(&at, format!("names host '{h}', but the file has no \"hosts\""))),
                    (Some(h), false) if !self.hosts.iter().any(|x| &x.name == h) => {
                        let known: Vec<&str> = self.hosts.iter().map(|x| x.name.as_str()).collect();
                        return Err(err(&at, format!("no host named '{h}' in \"hosts\" (hosts: {})", known.join(", "))));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The host each subnet of VPC `v` lives on (`None`: a file without hosts).
    pub fn placement(&self, vpc: &str) -> std::collections::HashMap<String, Name> {
        self.vpc(vpc)
            .map(|v| v.subnets.iter().filter_map(|s| s.host.clone().map(|h| (s.name.to_string(), h))).collect())
            .unwrap_or_default()
    }
}

/// Groups named exist, instance names are unique (and no subnet's), and
/// fixed addresses are the subnet's, unreserved and unique.
fn validate_instances(v: &VpcSpec, at: &str) -> Result<(), TopologyError> {
    let group_exists = |g: &Name| g.as_str() == super::instance::DEFAULT_GROUP || v.security_groups.iter().any(|x| &x.name == g);
    for g in &v.security_groups {
        for (dir, rules) in [("ingress", &g.ingress), ("egress", &g.egress)] {
            for (i, r) in rules.iter().enumerate() {
                if let Some(src) = r.source_group.as_ref().filter(|s| !group_exists(s)) {
                    return Err(err(
                        &format!("{at}.security_groups.{}.{dir}[{i}].source_group", g.name),
                        format!("VPC '{}' has no security group '{src}' in this file", v.name),
                    ));
                }
            }
        }
    }
    let mut seen: Vec<(&Name, Option<std::net::Ipv4Addr>)> = vec![];
    for s in &v.subnets {
        for i in &s.instances {
            let iat = format!("{at}.subnets.{}.instances.{}", s.name, i.name);
            if v.subnets.iter().any(|o| o.name == i.name) || seen.iter().any(|(n, _)| **n == i.name) {
                return Err(err(
                    &iat,
                    format!("the name '{}' is taken in VPC '{}' (instance and subnet names are unique in a VPC)", i.name, v.name),
                ));
            }
            if let Some(g) = i.security_groups.iter().find(|g| !group_exists(g)) {
                return Err(err(&format!("{iat}.security_groups"), format!("VPC '{}' has no security group '{g}' in this file", v.name)));
            }
            if let Some(ip) = i.ip {
                let n = u32::from(ip).wrapping_sub(u32::from(s.cidr.network()));
                if !s.cidr.contains(&ip) || n < 4 || ip == s.cidr.broadcast() {
                    return Err(err(
                        &format!("{iat}.ip"),
                        format!("{ip} is not an address an instance may have in {} (from .4 to the last but one)", s.cidr),
                    ));
                }
                if seen.iter().any(|(_, o)| *o == Some(ip)) {
                    return Err(err(&format!("{iat}.ip"), format!("{ip} is given to two instances")));
                }
            }
            seen.push((&i.name, i.ip));
        }
    }
    Ok(())
}

fn vpc(key: &str, v: &Value, dir: &Path, read: ReadFile) -> Result<VpcSpec, TopologyError> {
    let at = format!("vpcs.{key}");
    let name = name("VPC name", key, &at)?;
    let obj = object(
        v,
        &at,
        &[
            "cidr",
            "nat",
            "subnets",
            "dns",
            "expose",
            "eip",
            "flow_logs",
            "internet_gateway",
            "nat_gateways",
            "route_tables",
            "security_groups",
        ],
    )?;
    let cidr_at = format!("{at}.cidr");
    let cidr = net("VPC CIDR", obj.get("cidr").ok_or_else(|| err(&cidr_at, "is required, e.g. \"10.10.0.0/16\""))?, &cidr_at)?;
    vpc_cidr(&cidr).map_err(|e| err(&cidr_at, e.to_string()))?;
    let nat = match obj.get("nat") {
        None | Some(Value::Bool(false)) | Some(Value::Null) => None,
        Some(Value::Bool(true)) => Some(NatSpec::default()),
        Some(n) => Some(nat(n, &format!("{at}.nat"))?),
    };
    let mut subnets = vec![];
    if let Some(all) = obj.get("subnets") {
        let all = all.as_object().ok_or_else(|| err(&format!("{at}.subnets"), "is not an object of subnets by name"))?;
        for (k, s) in all {
            subnets.push(subnet(&format!("{at}.subnets.{k}"), k, s, dir, read)?);
        }
    }
    let (dns, dns_options) = dns(obj.get("dns"), &format!("{at}.dns"))?;
    let flow_logs = flag(obj.get("flow_logs"), &format!("{at}.flow_logs"), false)?;
    let mut expose_specs: Vec<ExposeSpec> = vec![];
    if let Some(all) = obj.get("expose") {
        for (i, e) in list(all, &format!("{at}.expose"))?.iter().enumerate() {
            expose_specs.push(expose(e, &format!("{at}.expose[{i}]"))?);
        }
    }
    let mut eips = vec![];
    if let Some(all) = obj.get("eip") {
        for (i, e) in list(all, &format!("{at}.eip"))?.iter().enumerate() {
            eips.push(eip(e, &format!("{at}.eip[{i}]"))?);
        }
    }
    let routing = routing(obj, &at)?;
    if nat.is_some() && routing.internet_gateway.is_some() {
        return Err(err(
            &format!("{at}.internet_gateway"),
            "a VPC has \"nat\" (enable-nat) or an internet gateway, not both; route to the gateway instead",
        ));
    }
    let mut security_groups = vec![];
    if let Some(all) = obj.get("security_groups") {
        let all = all.as_object().ok_or_else(|| err(&format!("{at}.security_groups"), "is not an object of security groups by name"))?;
        for (k, g) in all {
            security_groups.push(security_group(k, g, &format!("{at}.security_groups.{k}"))?);
        }
    }
    Ok(VpcSpec { name, cidr, nat, subnets, dns, dns_options, expose: expose_specs, eip: eips, flow_logs, routing, security_groups })
}

fn security_group(key: &str, v: &Value, at: &str) -> Result<super::instance::SecurityGroup, TopologyError> {
    use super::instance::SecurityGroup;
    let gname = name("security group name", key, at)?;
    let obj = object(v, at, &["ingress", "egress"])?;
    let base = if key == super::instance::DEFAULT_GROUP { SecurityGroup::default_group() } else { SecurityGroup::new(gname.clone()) };
    let rules = |k: &str, default: Vec<super::instance::SgRule>| -> Result<Vec<super::instance::SgRule>, TopologyError> {
        let Some(l) = obj.get(k) else { return Ok(default) };
        let lat = format!("{at}.{k}");
        list(l, &lat)?.iter().enumerate().map(|(i, r)| sg_rule(r, &format!("{lat}[{i}]"))).collect()
    };
    Ok(SecurityGroup { name: gname, ingress: rules("ingress", base.ingress)?, egress: rules("egress", base.egress)? })
}

fn sg_rule(v: &Value, at: &str) -> Result<super::instance::SgRule, TopologyError> {
    use super::policy::Protocol;
    let obj = object(v, at, &["protocol", "port", "cidr", "source_group"])?;
    let pat = format!("{at}.protocol");
    let raw = string(obj.get("protocol").ok_or_else(|| err(&pat, "is required: tcp, udp, icmp or all"))?, &pat)?;
    let protocol = Protocol::from_name(raw).ok_or_else(|| err(&pat, format!("{raw:?} is not a protocol (tcp, udp, icmp or all)")))?;
    let port_at = format!("{at}.port");
    let ports = match (obj.get("port"), protocol) {
        (Some(p), Protocol::Tcp | Protocol::Udp) => Some(super::policy::ports(p, &port_at)?),
        (None, Protocol::Tcp | Protocol::Udp) => {
            return Err(err(&port_at, "is required for tcp and udp (use \"protocol\": \"all\" for every port)"));
        }
        (Some(_), _) => return Err(err(&port_at, "is not allowed with icmp or all")),
        (None, _) => None,
    };
    let cidr = obj.get("cidr").map(|c| net("CIDR", c, &format!("{at}.cidr"))).transpose()?;
    let gat = format!("{at}.source_group");
    let source_group = obj.get("source_group").map(|g| name("security group name", string(g, &gat)?, &gat)).transpose()?;
    if cidr.is_some() == source_group.is_some() {
        return Err(err(at, "names its peer with exactly one of \"cidr\" and \"source_group\""));
    }
    Ok(super::instance::SgRule { protocol, ports, cidr, source_group })
}

fn instance(key: &str, v: &Value, at: &str) -> Result<InstanceSpec, TopologyError> {
    let iname = name("instance name", key, at)?;
    let obj = object(v, at, &["ip", "security_groups", "apps"])?;
    let ip = match obj.get("ip") {
        None => None,
        Some(raw) => {
            let iat = format!("{at}.ip");
            let raw = string(raw, &iat)?;
            Some(raw.parse().map_err(|_| err(&iat, format!("{raw:?} is not an IPv4 address")))?)
        }
    };
    let gat = format!("{at}.security_groups");
    let security_groups = match obj.get("security_groups") {
        None => vec![Name::parse("group", super::instance::DEFAULT_GROUP).expect("valid")],
        Some(l) => {
            let groups =
                list(l, &gat)?.iter().map(|g| name("security group name", string(g, &gat)?, &gat)).collect::<Result<Vec<_>, _>>()?;
            if groups.is_empty() {
                return Err(err(&gat, "is empty; an instance needs a group (leave it out for \"default\")"));
            }
            groups
        }
    };
    let apps = apps_at(obj, at)?;
    Ok(InstanceSpec { name: iname, ip, security_groups, apps })
}

fn apps_at(obj: &Map<String, Value>, at: &str) -> Result<Vec<AppSpec>, TopologyError> {
    let mut apps: Vec<AppSpec> = vec![];
    if let Some(all) = obj.get("apps") {
        for (i, a) in list(all, &format!("{at}.apps"))?.iter().enumerate() {
            let app = app(a, &format!("{at}.apps[{i}]"))?;
            if apps.iter().any(|o| o.port == app.port) {
                return Err(err(&format!("{at}.apps[{i}].port"), format!("port {} is used by another app here", app.port)));
            }
            apps.push(app);
        }
    }
    Ok(apps)
}

/// `"dns"`: true or false, or an object of options (which means on).
fn dns(v: Option<&Value>, at: &str) -> Result<(bool, crate::model::services::DnsOptions), TopologyError> {
    let defaults = crate::model::services::DnsOptions::default();
    let Some(Value::Object(_)) = v else { return Ok((flag(v, at, true)?, defaults)) };
    let obj = object(v.unwrap_or(&Value::Null), at, &["upstream", "stop_rebind"])?;
    let upstream = flag(obj.get("upstream"), &format!("{at}.upstream"), defaults.upstream)?;
    let stop_rebind = flag(obj.get("stop_rebind"), &format!("{at}.stop_rebind"), defaults.stop_rebind)?;
    Ok((true, crate::model::services::DnsOptions { upstream, stop_rebind }))
}

fn flag(v: Option<&Value>, at: &str, default: bool) -> Result<bool, TopologyError> {
    match v {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(err(at, format!("{} is not true or false", short(other)))),
    }
}

fn port_at(obj: &Map<String, Value>, key: &str, at: &str) -> Result<u16, TopologyError> {
    let at = format!("{at}.{key}");
    match super::document::number(obj, key, &at)? {
        Some(p @ 1..=65535) => Ok(p as u16),
        Some(p) => Err(err(&at, format!("{p} is not a port (1-65535)"))),
        None => Err(err(&at, "is required: a port (1-65535)")),
    }
}

fn interface_at(obj: &Map<String, Value>, at: &str) -> Result<Option<String>, TopologyError> {
    let at = format!("{at}.interface");
    let interface = obj.get("interface").map(|i| string(i, &at).map(str::to_string)).transpose()?;
    if let Some(i) = interface.as_ref().filter(|i| !crate::model::kernel_names::is_ifname(i)) {
        return Err(err(&at, format!("{i:?} is not an interface name (see 'ip -br link')")));
    }
    Ok(interface)
}

fn subnet_at(obj: &Map<String, Value>, at: &str) -> Result<Name, TopologyError> {
    let at = format!("{at}.subnet");
    name("subnet name", string(obj.get("subnet").ok_or_else(|| err(&at, "is required: a subnet of this VPC"))?, &at)?, &at)
}

fn expose(v: &Value, at: &str) -> Result<ExposeSpec, TopologyError> {
    let obj = object(v, at, &["subnet", "port", "host_port", "interface", "allow_private"])?;
    Ok(ExposeSpec {
        subnet: subnet_at(obj, at)?,
        port: port_at(obj, "port", at)?,
        host_port: port_at(obj, "host_port", at)?,
        interface: interface_at(obj, at)?,
        allow_private: flag(obj.get("allow_private"), &format!("{at}.allow_private"), false)?,
    })
}

fn eip(v: &Value, at: &str) -> Result<EipSpec, TopologyError> {
    let obj = object(v, at, &["subnet", "ip", "interface"])?;
    let ip_at = format!("{at}.ip");
    let raw = string(obj.get("ip").ok_or_else(|| err(&ip_at, "is required: an address of the uplink's subnet"))?, &ip_at)?;
    let ip = raw.parse().map_err(|_| err(&ip_at, format!("{raw:?} is not an IPv4 address")))?;
    Ok(EipSpec { subnet: subnet_at(obj, at)?, ip, interface: interface_at(obj, at)? })
}

fn nat(v: &Value, at: &str) -> Result<NatSpec, TopologyError> {
    let obj = object(v, at, &["interface", "subnets"])?;
    let interface = obj.get("interface").map(|i| string(i, &format!("{at}.interface")).map(str::to_string)).transpose()?;
    if let Some(i) = interface.as_ref().filter(|i| !crate::model::kernel_names::is_ifname(i)) {
        return Err(err(&format!("{at}.interface"), format!("{i:?} is not an interface name (see 'ip -br link')")));
    }
    let subnets = obj
        .get("subnets")
        .map(|s| {
            let at = format!("{at}.subnets");
            list(s, &at)?.iter().map(|n| name("subnet name", string(n, &at)?, &at)).collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    Ok(NatSpec { interface, subnets })
}

fn subnet(at: &str, key: &str, v: &Value, dir: &Path, read: ReadFile) -> Result<SubnetSpec, TopologyError> {
    let name = name("subnet name", key, at)?;
    let obj = object(v, at, &["cidr", "public", "policy", "apps", "nacl", "instances", "host"])?;
    let cidr_at = format!("{at}.cidr");
    let cidr = net("subnet CIDR", obj.get("cidr").ok_or_else(|| err(&cidr_at, "is required, e.g. \"10.10.1.0/24\""))?, &cidr_at)?;
    if cidr.prefix_len() > MAX_SUBNET_PREFIX {
        return Err(err(&cidr_at, format!("{cidr} is too small; a subnet needs at least a /{MAX_SUBNET_PREFIX}")));
    }
    let kind = match obj.get("public") {
        None | Some(Value::Bool(false)) => SubnetKind::Private,
        Some(Value::Bool(true)) => SubnetKind::Public,
        Some(other) => return Err(err(&format!("{at}.public"), format!("{} is not true or false", short(other)))),
    };
    let policy = obj.get("policy").map(|p| policy(p, &format!("{at}.policy"), cidr, dir, read)).transpose()?;
    let apps = apps_at(obj, at)?;
    let nacl = obj.get("nacl").map(|n| nacl(n, &format!("{at}.nacl"), dir, read)).transpose()?;
    let mut instances = vec![];
    if let Some(all) = obj.get("instances") {
        let all = all.as_object().ok_or_else(|| err(&format!("{at}.instances"), "is not an object of instances by name"))?;
        for (k, i) in all {
            instances.push(instance(k, i, &format!("{at}.instances.{k}"))?);
        }
    }
    let host_at = format!("{at}.host");
    let host = obj
        .get("host")
        .map(|h| string(h, &host_at).and_then(|h| Name::parse("host name", h).map_err(|e| err(&host_at, e.to_string()))))
        .transpose()?;
    Ok(SubnetSpec { name, cidr, kind, policy, apps, nacl, instances, host })
}

/// A NACL: a file path (relative to the topology) or the object itself.
fn nacl(v: &Value, at: &str, dir: &Path, read: ReadFile) -> Result<Nacl, TopologyError> {
    match v {
        Value::String(rel) => {
            let path = dir.join(rel);
            let text = read(&path).map_err(|e| err(at, format!("cannot read NACL file {}: {e}", path.display())))?;
            Nacl::parse(&text).map_err(|e| err(at, format!("NACL file {}: {e}", path.display())))
        }
        Value::Object(_) => Nacl::from_value(v).map_err(|e| err(&format!("{at}.{}", e.path), e.message)),
        other => Err(err(at, format!("{} is neither a NACL file path nor a NACL object", short(other)))),
    }
}

fn policy(v: &Value, at: &str, subnet: Ipv4Net, dir: &Path, read: ReadFile) -> Result<Policy, TopologyError> {
    let (text, from) = match v {
        Value::String(rel) => {
            let path = dir.join(rel);
            let text = read(&path).map_err(|e| err(at, format!("cannot read policy file {}: {e}", path.display())))?;
            (text, format!("policy file {}: ", path.display()))
        }
        Value::Object(_) => (v.to_string(), String::new()),
        other => return Err(err(at, format!("{} is neither a policy file path nor a policy object", short(other)))),
    };
    let p = Policy::parse(&text).map_err(|e| err(at, format!("{from}{e}")))?;
    if let Some(c) = p.subnet.filter(|c| *c != subnet) {
        return Err(err(at, format!("{from}the policy is for subnet {c}, but this subnet is {subnet}")));
    }
    Ok(Policy { subnet: Some(subnet), ..p })
}

fn app(v: &Value, at: &str) -> Result<AppSpec, TopologyError> {
    let obj = object(v, at, &["port", "command", "user"])?;
    let port_at = format!("{at}.port");
    let port = match super::document::number(obj, "port", &port_at)? {
        Some(p @ 1..=65535) => p as u16,
        Some(p) => return Err(err(&port_at, format!("{p} is not a port (1-65535)"))),
        None => return Err(err(&port_at, "is required: the port the app listens on (1-65535)")),
    };
    let command = obj
        .get("command")
        .map(|c| {
            let cat = format!("{at}.command");
            let words = list(c, &cat)?.iter().map(|w| string(w, &cat).map(str::to_string)).collect::<Result<Vec<_>, _>>()?;
            if words.is_empty() {
                return Err(err(&cat, "is empty; leave it out for vpcctl's own HTTP server"));
            }
            Ok(words)
        })
        .transpose()?;
    let user = obj.get("user").map(|u| string(u, &format!("{at}.user")).map(str::to_string)).transpose()?;
    Ok(AppSpec { port, command, user })
}

fn peering(v: &Value, at: &str) -> Result<PeeringSpec, TopologyError> {
    let obj = object(v, at, &["vpcs", "allow_cidrs", "name", "no_routes"])?;
    let vat = format!("{at}.vpcs");
    let pair = list(obj.get("vpcs").ok_or_else(|| err(&vat, "is required: [\"vpc1\", \"vpc2\"]"))?, &vat)?;
    if pair.len() != 2 {
        return Err(err(&vat, format!("names {} VPC(s); a peering joins exactly two", pair.len())));
    }
    let a = name("VPC name", string(&pair[0], &vat)?, &vat)?;
    let b = name("VPC name", string(&pair[1], &vat)?, &vat)?;
    let cat = format!("{at}.allow_cidrs");
    let allow_cidrs = match obj.get("allow_cidrs") {
        None => vec![],
        Some(l) => list(l, &cat)?.iter().map(|c| net("allowed CIDR", c, &cat)).collect::<Result<_, _>>()?,
    };
    let pname = match obj.get("name") {
        None => None,
        Some(n) => Some(name("peering name", string(n, &format!("{at}.name"))?, &format!("{at}.name"))?),
    };
    let no_routes = flag(obj.get("no_routes"), &format!("{at}.no_routes"), false)?;
    Ok(PeeringSpec { a, b, allow_cidrs, name: pname, no_routes })
}

fn apps_json(apps: &[crate::model::App]) -> Value {
    apps.iter()
        .map(|a| {
            let mut o = if a.builtin { json!({"port": a.port}) } else { json!({"port": a.port, "command": a.command}) };
            if let Some(u) = &a.user {
                o["user"] = json!(u);
            }
            o
        })
        .collect()
}

/// The recorded state as a topology file that `apply` accepts.
/// `item` as the file writes it under its name: without its own `name`.
fn unnamed(item: &impl serde::Serialize) -> Value {
    let mut o = serde_json::to_value(item).unwrap_or_default();
    if let Some(m) = o.as_object_mut() {
        m.remove("name");
    }
    o
}

pub fn export(state: &State) -> Value {
    let mut vpcs = Map::new();
    for v in &state.vpcs {
        let mut subnets = Map::new();
        for s in &v.subnets {
            let mut o = Map::new();
            o.insert("cidr".into(), json!(s.cidr));
            if s.kind == SubnetKind::Public {
                o.insert("public".into(), json!(true));
            }
            if let Some(p) = &s.policy {
                o.insert("policy".into(), p.to_file_json());
            }
            if let Some(n) = &s.nacl {
                o.insert("nacl".into(), n.to_file_json());
            }
            if !s.apps.is_empty() {
                o.insert("apps".into(), apps_json(&s.apps));
            }
            if !s.instances.is_empty() {
                let all: Map<String, Value> = s
                    .instances
                    .iter()
                    .map(|i| {
                        let mut o = json!({"ip": i.ip, "security_groups": i.security_groups});
                        if !i.apps.is_empty() {
                            o["apps"] = apps_json(&i.apps);
                        }
                        (i.name.to_string(), o)
                    })
                    .collect();
                o.insert("instances".into(), Value::Object(all));
            }
            if let Some(f) = &state.fabric {
                o.insert("host".into(), json!(f.host));
            }
            subnets.insert(s.name.to_string(), Value::Object(o));
        }
        // Subnets on other hosts, as far as this host knows them: where they
        // are, and their instances' names (their contents are their host's).
        for r in &v.remote {
            let mut o = json!({"cidr": r.cidr, "host": r.host});
            if r.kind == SubnetKind::Public {
                o["public"] = json!(true);
            }
            if !r.instances.is_empty() {
                let all: Map<String, Value> =
                    r.instances.iter().map(|i| (i.name.to_string(), json!({"ip": i.ip, "security_groups": i.security_groups}))).collect();
                o["instances"] = Value::Object(all);
            }
            subnets.insert(r.name.to_string(), o);
        }
        let mut o = Map::new();
        o.insert("cidr".into(), json!(v.cidr));
        if let Some(n) = &v.nat {
            let mut nat = Map::new();
            nat.insert("interface".into(), json!(n.interface));
            if let Some(list) = &n.subnets {
                nat.insert("subnets".into(), json!(list));
            }
            o.insert("nat".into(), Value::Object(nat));
        }
        o.insert("subnets".into(), Value::Object(subnets));
        match &v.dns {
            None => {
                o.insert("dns".into(), json!(false));
            }
            Some(r) if r.options != crate::model::services::DnsOptions::default() => {
                o.insert("dns".into(), json!({"upstream": r.options.upstream, "stop_rebind": r.options.stop_rebind}));
            }
            Some(_) => {}
        }
        if !v.expose.is_empty() {
            let all: Vec<Value> = v
                .expose
                .iter()
                .map(|e| {
                    let mut o = json!({"subnet": e.subnet, "port": e.port, "host_port": e.host_port, "interface": e.interface});
                    if v.subnet(e.subnet.as_str()).is_some_and(|s| s.kind == SubnetKind::Private) {
                        o["allow_private"] = json!(true);
                    }
                    o
                })
                .collect();
            o.insert("expose".into(), Value::Array(all));
        }
        if !v.eips.is_empty() {
            o.insert(
                "eip".into(),
                json!(v.eips.iter().map(|e| json!({"subnet": e.subnet, "ip": e.ip, "interface": e.interface})).collect::<Vec<_>>()),
            );
        }
        if v.flow_logs {
            o.insert("flow_logs".into(), json!(true));
        }
        if let Some(g) = &v.internet_gateway {
            o.insert("internet_gateway".into(), json!({"interface": g.interface}));
        }
        if !v.nat_gateways.is_empty() {
            let all: Map<String, Value> = v
                .nat_gateways
                .iter()
                .map(|g| {
                    let mut o = json!({"subnet": g.subnet});
                    if let Some(e) = g.eip {
                        o["eip"] = json!(e);
                    }
                    (g.name.to_string(), o)
                })
                .collect();
            o.insert("nat_gateways".into(), Value::Object(all));
        }
        if !v.route_tables.is_empty() {
            let all: Map<String, Value> = v
                .route_tables
                .iter()
                .map(|t| {
                    let mut o = Map::new();
                    if !t.subnets.is_empty() {
                        o.insert("subnets".into(), json!(t.subnets));
                    }
                    o.insert("routes".into(), json!(t.routes.iter().map(RouteFile::of).collect::<Vec<_>>()));
                    (t.name.to_string(), Value::Object(o))
                })
                .collect();
            o.insert("route_tables".into(), Value::Object(all));
        }
        if !v.security_groups.is_empty() {
            let rules = |rs: &[super::instance::SgRule]| -> Vec<Value> {
                rs.iter()
                    .map(|r| {
                        let mut o = json!({"protocol": r.protocol});
                        if let Some(p) = r.ports {
                            o["port"] = if p.first == p.last { json!(p.first) } else { json!(format!("{}-{}", p.first, p.last)) };
                        }
                        match (&r.cidr, &r.source_group) {
                            (Some(c), _) => o["cidr"] = json!(c),
                            (None, g) => o["source_group"] = json!(g),
                        }
                        o
                    })
                    .collect()
            };
            let all: Map<String, Value> = v
                .security_groups
                .iter()
                .map(|g| (g.name.to_string(), json!({"ingress": rules(&g.ingress), "egress": rules(&g.egress)})))
                .collect();
            o.insert("security_groups".into(), Value::Object(all));
        }
        vpcs.insert(v.name.to_string(), Value::Object(o));
    }
    let peerings: Vec<Value> = state
        .peerings
        .iter()
        .map(|p| {
            let mut o = if p.allow_cidrs.is_empty() {
                json!({"vpcs": [p.a, p.b]})
            } else {
                json!({"vpcs": [p.a, p.b], "allow_cidrs": p.allow_cidrs})
            };
            if let Some(n) = &p.name {
                o["name"] = json!(n);
            }
            if p.no_routes {
                o["no_routes"] = json!(true);
            }
            o
        })
        .collect();
    let mut doc = json!({"vpcs": vpcs, "peerings": peerings});
    if let Some(f) = &state.fabric {
        let hosts: Map<String, Value> = f.hosts.iter().map(|h| (h.name.to_string(), unnamed(h))).collect();
        doc["hosts"] = Value::Object(hosts);
        if f.port != super::fabric::VXLAN_PORT {
            doc["vxlan_port"] = json!(f.port);
        }
        if f.wireguard.is_some() {
            doc["encryption"] = json!("wireguard");
        }
    }
    if !state.transit_gateways.is_empty() {
        let all: Map<String, Value> = state
            .transit_gateways
            .iter()
            .map(|t| {
                let tables: Map<String, Value> = t
                    .route_tables
                    .iter()
                    .map(|rt| {
                        let mut o = unnamed(rt);
                        if let Some(Value::Array(routes)) = o.get_mut("routes") {
                            for r in routes.iter_mut().filter_map(Value::as_object_mut) {
                                if !r.contains_key("vpc") {
                                    r.insert("blackhole".into(), json!(true));
                                }
                            }
                        }
                        (rt.name.to_string(), o)
                    })
                    .collect();
                let mut o = json!({"attachments": t.attachments});
                if !tables.is_empty() {
                    o["route_tables"] = Value::Object(tables);
                }
                (t.name.to_string(), o)
            })
            .collect();
        doc["transit_gateways"] = Value::Object(all);
    }
    doc
}

/// Several topology files (a directory's) as one: their VPCs side by side,
/// their peerings and expectations one after another. A VPC in two files
/// is refused, naming both.
pub fn merge(files: &[(String, Value)]) -> Result<Value, TopologyError> {
    let mut vpcs = Map::new();
    let mut from: std::collections::HashMap<String, &str> = Default::default();
    let (mut peerings, mut expect) = (vec![], vec![]);
    let mut tgws = Map::new();
    for (file, v) in files {
        let top = object(v, file, &["vpcs", "peerings", "transit_gateways", "expect", super::document::SCHEMA_KEY])?;
        if let Some(all) = top.get("transit_gateways") {
            let all =
                all.as_object().ok_or_else(|| err(&format!("{file}: transit_gateways"), "is not an object of transit gateways by name"))?;
            for (name, spec) in all {
                if tgws.insert(name.clone(), spec.clone()).is_some() {
                    return Err(err(&format!("transit_gateways.{name}"), format!("is defined twice (again in {file}); keep one")));
                }
            }
        }
        if let Some(all) = top.get("vpcs") {
            let all = all.as_object().ok_or_else(|| err(&format!("{file}: vpcs"), "is not an object of VPCs by name"))?;
            for (name, spec) in all {
                if let Some(other) = from.insert(name.clone(), file) {
                    return Err(err(&format!("vpcs.{name}"), format!("is defined in both {other} and {file}; keep one")));
                }
                vpcs.insert(name.clone(), spec.clone());
            }
        }
        for (key, into) in [("peerings", &mut peerings), ("expect", &mut expect)] {
            if let Some(l) = top.get(key) {
                into.extend(list(l, &format!("{file}: {key}"))?.iter().cloned());
            }
        }
    }
    let mut doc = json!({"vpcs": vpcs, "peerings": peerings, "expect": expect});
    if !tgws.is_empty() {
        doc["transit_gateways"] = Value::Object(tgws);
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_files(p: &Path) -> std::io::Result<String> {
        match p.to_str() {
            Some("/t/policies/db.json") => {
                Ok(r#"{"default_ingress": "deny", "ingress": [{"port": 5432, "cidr": "10.10.1.0/24", "action": "allow"}]}"#.into())
            }
            _ => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory")),
        }
    }

    fn parse(text: &str) -> Result<Topology, TopologyError> {
        Topology::parse(text, Path::new("/t"), &no_files)
    }

    const EXAMPLE: &str = r#"{
      "vpcs": {
        "vpc1": {
          "cidr": "10.10.0.0/16",
          "nat": {"interface": "uplink0", "subnets": ["web"]},
          "subnets": {
            "web": {"cidr": "10.10.1.0/24", "public": true, "apps": [{"port": 8080}]},
            "db":  {"cidr": "10.10.2.0/24", "policy": "policies/db.json",
                    "apps": [{"port": 5432, "command": ["nc", "-lk", "-p", "5432"]}]}
          }
        },
        "vpc2": {"cidr": "10.20.0.0/16", "nat": true, "subnets": {"api": {"cidr": "10.20.1.0/24"}}}
      },
      "peerings": [{"vpcs": ["vpc1", "vpc2"], "allow_cidrs": ["10.10.1.0/24", "10.20.1.0/24"]}]
    }"#;

    #[test]
    fn the_documented_example_parses() {
        let t = parse(EXAMPLE).unwrap();
        assert_eq!(t.vpcs.len(), 2);
        let v1 = t.vpc("vpc1").unwrap();
        assert_eq!(v1.nat, Some(NatSpec { interface: Some("uplink0".into()), subnets: Some(vec![Name::parse("n", "web").unwrap()]) }));
        let db = v1.subnets.iter().find(|s| s.name.as_str() == "db").unwrap();
        assert_eq!(db.kind, SubnetKind::Private);
        let p = db.policy.as_ref().unwrap();
        assert_eq!((p.subnet, p.ingress.len()), (Some("10.10.2.0/24".parse().unwrap()), 1));
        assert_eq!(db.apps[0].command.as_deref().map(|c| c.len()), Some(4));
        assert_eq!(t.vpc("vpc2").unwrap().nat, Some(NatSpec::default()));
        assert_eq!(t.peerings[0].allow_cidrs.len(), 2);
    }

    #[test]
    fn every_error_names_where_it_is() {
        let cases = [
            (
                r#"{"vpcs": {"vpc1": {"cidr": "10.10.0.0/16", "subnets": {"web": {"cidr": "10.10.1.0/24", "pubic": true}}}}}"#,
                r#"vpcs.vpc1.subnets.web: unknown key "pubic""#,
            ),
            (r#"{"vpc": {}}"#, r#"(file): unknown key "vpc""#),
            (
                r#"{"hosts": {"h1": {"underlay": "192.0.2.11"}}, "vpcs": {"v": {"cidr": "10.10.0.0/16", "subnets": {"a": {"cidr": "10.10.1.0/24"}}}}}"#,
                "vpcs.v.subnets.a.host: is required in a file with hosts",
            ),
            (
                r#"{"vpcs": {"v": {"cidr": "10.10.0.0/16", "subnets": {"a": {"cidr": "10.10.1.0/24", "host": "h1"}}}}}"#,
                "vpcs.v.subnets.a.host: names host 'h1', but the file has no \"hosts\"",
            ),
            (
                r#"{"hosts": {"h1": {"underlay": "192.0.2.11"}, "h2": {"underlay": "198.51.2.11"}}}"#,
                "hosts.h2.underlay: 198.51.2.11 and host 'h1''s 192.0.2.11 end in the same two bytes",
            ),
            (
                r#"{"hosts": {"h1": {"underlay": "192.0.2.11"}, "h2": {"underlay": "192.0.2.11"}}}"#,
                "hosts.h2.underlay: 192.0.2.11 is also host 'h1''s underlay address",
            ),
            (r#"{"hosts": {"h1": {"underlay": "192.0.2.11", "mtu": 9000}}}"#, "hosts.h1: unknown field `mtu`"),
            (
                r#"{"hosts": {"h1": {"underlay": "192.0.2.11"}}, "encryption": "ipsec"}"#,
                r#"encryption: "ipsec" is not "wireguard" or "none""#,
            ),
            (r#"{"encryption": "wireguard"}"#, "hosts: vxlan_port and encryption need hosts"),
            (
                r#"{"hosts": {"h1": {"underlay": "192.0.2.11"}}, "encryption": "wireguard"}"#,
                "hosts.h1.wireguard_public_key: is required with \"encryption\": \"wireguard\"",
            ),
            (
                r#"{"hosts": {"h1": {"underlay": "192.0.2.11", "wireguard_public_key": "x y"}}}"#,
                "hosts.h1.wireguard_public_key: \"x y\" is not a WireGuard public key",
            ),
            (
                r#"{"vpcs": {"v": {"cidr": "10.10.0.0/16", "nat": true, "internet_gateway": true}}}"#,
                "vpcs.v.internet_gateway: a VPC has \"nat\" (enable-nat) or an internet gateway, not both",
            ),
            (
                r#"{"vpcs": {"v": {"cidr": "10.10.0.0/16", "route_tables": {"t": {"routes": [{"destination": "0.0.0.0/0", "gateway": "igw", "blackhole": true}]}}}}}"#,
                "vpcs.v.route_tables.t.routes[0]: names 2 targets",
            ),
            (
                r#"{"vpcs": {"v": {"cidr": "10.10.0.0/16", "route_tables": {"t": {"routes": [{"destination": "0.0.0.0/0", "gateway": "igw-1"}]}}}}}"#,
                r#"vpcs.v.route_tables.t.routes[0].gateway: is "igw-1""#,
            ),
            (
                r#"{"vpcs": {"v": {"cidr": "10.10.0.0/16", "route_tables": {"main": {"subnets": ["s"]}}}}}"#,
                "vpcs.v.route_tables.main.subnets: main needs no subnets",
            ),
            (
                r#"{"vpcs": {"v": {"cidr": "10.10.0.0/16", "route_tables": {"t": {"subnet": ["s"]}}}}}"#,
                "vpcs.v.route_tables.t: unknown field `subnet`",
            ),
            (r#"{"vpcs": {"Bad": {"cidr": "10.10.0.0/16"}}}"#, "vpcs.Bad: invalid VPC name \"Bad\""),
            (r#"{"vpcs": {"v": {}}}"#, "vpcs.v.cidr: is required"),
            (r#"{"vpcs": {"v": {"cidr": "10.10.1.5/16"}}}"#, "vpcs.v.cidr: invalid VPC CIDR \"10.10.1.5/16\""),
            (r#"{"vpcs": {"v": {"cidr": "0.0.0.0/0"}}}"#, "vpcs.v.cidr: VPC CIDR 0.0.0.0/0 is /0"),
            (
                r#"{"vpcs": {"v": {"cidr": "10.10.0.0/16", "subnets": {"s": {"cidr": "10.20.1.0/24"}}}}}"#,
                "vpcs.v.subnets.s: subnet CIDR 10.20.1.0/24 is not inside VPC 'v'",
            ),
            (
                r#"{"vpcs": {"v": {"cidr": "10.10.0.0/16", "subnets": {"a": {"cidr": "10.10.1.0/24"}, "b": {"cidr": "10.10.1.128/25"}}}}}"#,
                "vpcs.v.subnets.b: subnet CIDR 10.10.1.128/25 overlaps subnet 'a'",
            ),
            (
                r#"{"vpcs": {"v": {"cidr": "10.10.0.0/16", "subnets": {"s": {"cidr": "10.10.1.0/31"}}}}}"#,
                "vpcs.v.subnets.s.cidr: 10.10.1.0/31 is too small",
            ),
            (r#"{"vpcs": {"a": {"cidr": "10.0.0.0/8"}, "b": {"cidr": "10.10.0.0/16"}}}"#, "vpcs.b: CIDR 10.10.0.0/16 overlaps VPC 'a'"),
            (r#"{"vpcs": {"a": {"cidr": "10.1.0.0/16"}}, "peerings": [{"vpcs": ["a", "zz"]}]}"#, "peerings[0].vpcs: no VPC named 'zz'"),
            (
                r#"{"vpcs": {"a": {"cidr": "10.1.0.0/16"}, "b": {"cidr": "10.2.0.0/16"}}, "peerings": [{"vpcs": ["a", "b"], "allow_cidrs": ["10.3.0.0/24"]}]}"#,
                "peerings[0].allow_cidrs: 10.3.0.0/24 lies in neither",
            ),
            (
                r#"{"vpcs": {"a": {"cidr": "10.1.0.0/16"}, "b": {"cidr": "10.2.0.0/16"}}, "peerings": [{"vpcs": ["a", "b"]}, {"vpcs": ["b", "a"]}]}"#,
                "peerings[1]: VPCs 'b' and 'a' are peered twice",
            ),
            (
                r#"{"vpcs": {"a": {"cidr": "10.1.0.0/16", "subnets": {"s": {"cidr": "10.1.1.0/24", "policy": "nope.json"}}}}}"#,
                "vpcs.a.subnets.s.policy: cannot read policy file /t/nope.json",
            ),
            (
                r#"{"vpcs": {"a": {"cidr": "10.1.0.0/16", "subnets": {"s": {"cidr": "10.1.1.0/24", "policy": {"ingress": [{"port": 70000, "action": "allow"}]}}}}}}"#,
                "vpcs.a.subnets.s.policy: ingress[0].port: 70000 is not a port",
            ),
            (
                r#"{"vpcs": {"a": {"cidr": "10.1.0.0/16", "subnets": {"s": {"cidr": "10.1.1.0/24", "policy": {"subnet": "10.1.2.0/24"}}}}}}"#,
                "the policy is for subnet 10.1.2.0/24",
            ),
            (
                r#"{"vpcs": {"a": {"cidr": "10.1.0.0/16", "subnets": {"s": {"cidr": "10.1.1.0/24", "apps": [{"port": 80}, {"port": 80}]}}}}}"#,
                "vpcs.a.subnets.s.apps[1].port: port 80 is used by another app",
            ),
            (
                r#"{"vpcs": {"a": {"cidr": "10.1.0.0/16", "subnets": {"s": {"cidr": "10.1.1.0/24", "apps": [{"port": 0}]}}}}}"#,
                "vpcs.a.subnets.s.apps[0].port: 0 is not a port",
            ),
            (
                r#"{"vpcs": {"a": {"cidr": "10.1.0.0/16", "nat": {"subnets": ["web"]}}}}"#,
                "vpcs.a.nat.subnets: VPC 'a' has no subnet named 'web'",
            ),
            (
                r#"{"vpcs": {"a": {"cidr": "10.1.0.0/16", "nat": {"interface": "eth0; rm"}}}}"#,
                "vpcs.a.nat.interface: \"eth0; rm\" is not an interface name",
            ),
            ("{", "(file): not valid JSON"),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}\n  got:  {e}\n  want: {want}");
        }
    }

    #[test]
    fn export_writes_what_parse_reads() {
        let st: State = serde_json::from_str(
            r#"{"schema_version":1,"vpcs":[{"name":"v","cidr":"10.1.0.0/16","bridge":"br-v","link_group":1,
            "chain":"VPCCTL-FWD-v","status":"ready","nat":{"interface":"uplink0"},
            "subnets":[{"name":"web","cidr":"10.1.1.0/24","type":"public",
            "namespace":"ns-v-web","veth":"v-v-web","gateway":"10.1.1.1","ip":"10.1.1.2","status":"ready",
            "policy":{"subnet":"10.1.1.0/24","default_ingress":"deny","default_egress":"allow",
              "ingress":[{"protocol":"tcp","ports":{"first":8000,"last":8100},"action":"allow","description":"web"}],"egress":[]},
            "apps":[{"port":80,"pid":5,"start_time":1,"command":["/x/vpcctl","serve"],"log":"/l","builtin":true},
                    {"port":81,"pid":6,"start_time":1,"command":["nc","-lk"],"log":"/l"}]}]},
            {"name":"w","cidr":"10.2.0.0/16","bridge":"br-w","link_group":2,"chain":"VPCCTL-FWD-w","status":"ready"}],
            "peerings":[{"a":"v","b":"w","allow_cidrs":["10.1.1.0/24","10.2.0.0/16"]}]}"#,
        )
        .unwrap();
        let text = serde_json::to_string_pretty(&export(&st)).unwrap();
        let t = parse(&text).unwrap();
        let v = t.vpc("v").unwrap();
        assert_eq!(v.nat, Some(NatSpec { interface: Some("uplink0".into()), subnets: None }));
        let web = &v.subnets[0];
        assert_eq!(web.kind, SubnetKind::Public);
        assert_eq!(web.policy.as_ref(), st.vpcs[0].subnets[0].policy.as_ref());
        assert_eq!(
            web.apps,
            [
                AppSpec { port: 80, command: None, user: None },
                AppSpec { port: 81, command: Some(vec!["nc".into(), "-lk".into()]), user: None }
            ]
        );
        assert_eq!(t.peerings[0].allow_cidrs, st.peerings[0].allow_cidrs);
    }

    #[test]
    fn vpc_services_parse_and_are_checked() {
        let t = parse(
            r#"{"vpcs": {"a": {"cidr": "10.1.0.0/16", "dns": false, "flow_logs": true,
                "expose": [{"subnet": "web", "port": 8080, "host_port": 80}],
                "eip": [{"subnet": "web", "ip": "203.0.113.10", "interface": "up0"}],
                "subnets": {"web": {"cidr": "10.1.1.0/24", "public": true,
                                    "nacl": {"inbound": [{"rule": 1, "protocol": "all", "action": "allow"}]}}}}}}"#,
        )
        .unwrap();
        let v = &t.vpcs[0];
        assert!(!v.dns && v.flow_logs);
        assert_eq!((v.expose[0].port, v.expose[0].host_port, v.expose[0].interface.as_deref()), (8080, 80, None));
        assert_eq!(v.eip[0].interface.as_deref(), Some("up0"));
        assert_eq!(v.subnets[0].nacl.as_ref().unwrap().inbound.len(), 1);
        assert!(parse(r#"{"vpcs": {"a": {"cidr": "10.1.0.0/16"}}}"#).unwrap().vpcs[0].dns, "DNS is on by default");
        let cases = [
            (
                r#"{"vpcs": {"a": {"cidr": "10.1.0.0/16", "expose": [{"subnet": "x", "port": 1, "host_port": 1}]}}}"#,
                "vpcs.a.expose[0].subnet: VPC 'a' has no subnet named 'x'",
            ),
            (
                r#"{"vpcs": {"a": {"cidr": "10.1.0.0/16", "subnets": {"s": {"cidr": "10.1.1.0/24"}}, "expose": [{"subnet": "s", "port": 1, "host_port": 80}]},
                            "b": {"cidr": "10.2.0.0/16", "subnets": {"s": {"cidr": "10.2.1.0/24"}}, "expose": [{"subnet": "s", "port": 1, "host_port": 80}]}}}"#,
                "vpcs.b.expose[0].host_port: host port 80 is exposed twice",
            ),
            (
                r#"{"vpcs": {"a": {"cidr": "10.1.0.0/16", "eip": [{"subnet": "s", "ip": "nope"}]}}}"#,
                "vpcs.a.eip[0].ip: \"nope\" is not an IPv4 address",
            ),
            (r#"{"vpcs": {"a": {"cidr": "10.1.0.0/16", "dns": "yes"}}}"#, "vpcs.a.dns: \"yes\" is not true or false"),
            (
                r#"{"vpcs": {"a": {"cidr": "10.1.0.0/16", "subnets": {"s": {"cidr": "10.1.1.0/24", "nacl": {"inbound": [{"rule": 0, "protocol": "all", "action": "allow"}]}}}}}}"#,
                "vpcs.a.subnets.s.nacl.inbound[0].rule: 0 is not a rule number",
            ),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}\n  got:  {e}\n  want: {want}");
        }
    }
}
