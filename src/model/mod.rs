//! The domain model: what a VPC, a subnet, a NAT gateway and a peering are.
//! These types are also the on-disk state (see `state`).

pub mod cidr;
pub mod document;
pub mod expect;
pub mod fabric;
pub mod instance;
pub mod kernel_names;
pub mod nacl;
pub mod name;
pub mod policy;
pub mod routing;
pub mod schema;
pub mod services;
pub mod state;
pub mod terraform;
pub mod topology;
pub mod validate;

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

pub use name::Name;
pub use state::State;

/// Whether the kernel objects of a resource are known to exist.
/// A resource is recorded as `Pending` before anything is created, so a run
/// killed half-way leaves state from which `delete` can finish the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Ready,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SubnetKind {
    Public,
    Private,
}

/// A protocol to probe or analyze.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    Icmp,
}

impl std::fmt::Display for SubnetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SubnetKind::Public => "public",
            SubnetKind::Private => "private",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subnet {
    pub name: Name,
    pub cidr: Ipv4Net,
    #[serde(rename = "type")]
    pub kind: SubnetKind,
    pub namespace: String,
    /// Host-side veth end, attached to the VPC bridge.
    pub veth: String,
    /// First usable address; lives on the VPC bridge.
    pub gateway: Ipv4Addr,
    /// Second usable address; `eth0` inside the namespace.
    pub ip: Ipv4Addr,
    pub status: Status,
    /// The security-group policy in force in the namespace, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<policy::Policy>,
    /// Apps started by deploy-app.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<App>,
    /// The network ACL at this subnet's edge, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nacl: Option<nacl::Nacl>,
    /// Instances launched into it (`run-instance`), each a namespace of its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<instance::Instance>,
}

/// A process vpcctl started in a subnet. `start_time` (from
/// /proc/PID/stat) tells it apart from a later process that reuses the PID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    pub port: u16,
    pub pid: u32,
    pub start_time: u64,
    pub command: Vec<String>,
    pub log: std::path::PathBuf,
    /// vpcctl's own HTTP server (no command given). Its command line names
    /// the vpcctl binary, whose path may change between runs, so two
    /// builtin apps on one port are the same app whatever the path.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub builtin: bool,
    /// Who it runs as; `None` is the unprivileged default: a uid of its
    /// own (`uid`), so no app can signal, trace or read another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The uid (and gid) vpcctl gave it from its own range
    /// (`apps::APP_UIDS`) when it was started without `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
}

impl App {
    /// Whether `other` asks for the same process (pids aside).
    pub fn same_spec(&self, other: &App) -> bool {
        self.port == other.port
            && self.builtin == other.builtin
            && self.user == other.user
            && (self.builtin || self.command == other.command)
    }
}

/// A NAT gateway: masquerade out of `interface`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nat {
    pub interface: String,
    /// Translate exactly these subnets; `None` means "the public ones",
    /// including public subnets added later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnets: Option<Vec<Name>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vpc {
    pub name: Name,
    pub cidr: Ipv4Net,
    pub bridge: String,
    /// Link group of the bridge and every veth of this VPC, so deleting the
    /// VPC is one `link del group` (one kernel unregister batch).
    pub link_group: u32,
    /// Our filter chain for traffic entering or leaving this VPC's bridge.
    pub chain: String,
    pub status: Status,
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat: Option<Nat>,
    /// The VPC's resolver; `None`: no DNS (`--no-dns`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<services::Resolver>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose: Vec<services::Expose>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eips: Vec<services::Eip>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub flow_logs: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_gateway: Option<routing::InternetGateway>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nat_gateways: Vec<routing::NatGateway>,
    /// Route tables, `main` among them once it has a route.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_tables: Vec<routing::RouteTable>,
    /// Security groups; `default` only once its rules were edited.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<instance::SecurityGroup>,
    /// Its subnets on other hosts (a file with `hosts`; see `model::fabric`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remote: Vec<fabric::RemoteSubnet>,
    /// The MTU of its interfaces, where an overlay needs room (`None`: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u16>,
}

impl Vpc {
    /// Where subnet `s` asks for names: the VPC resolver's own address, or
    /// (a record from before) the subnet's gateway. `None` without DNS.
    pub fn resolver_for(&self, s: &Subnet) -> Option<std::net::Ipv4Addr> {
        self.dns.as_ref().map(|r| r.address.unwrap_or(s.gateway))
    }

    /// The address its resolver listens on, on its bridge (see
    /// `Resolver::address`), if it has one of its own.
    pub fn resolver_address(&self) -> Option<std::net::Ipv4Addr> {
        self.dns.as_ref()?.address
    }

    /// Resolver addresses in use by `vpcs`.
    pub fn resolver_addresses<'a>(vpcs: impl IntoIterator<Item = &'a Vpc>) -> Vec<std::net::Ipv4Addr> {
        vpcs.into_iter().filter_map(Vpc::resolver_address).collect()
    }

    /// Our nat-table chain for this VPC (derived from the bridge, which is unique).
    pub fn nat_chain(&self) -> String {
        kernel_names::vpc_nat_chain(&self.bridge)
    }

    pub fn subnet(&self, name: &str) -> Option<&Subnet> {
        self.subnets.iter().find(|s| s.name.as_str() == name)
    }

    /// Its subnets by name: for lookups inside a loop over subnets, where
    /// `subnet()` would rescan the list each time.
    pub fn subnet_index(&self) -> std::collections::HashMap<&str, &Subnet> {
        self.subnets.iter().map(|s| (s.name.as_str(), s)).collect()
    }

    /// Subnets whose traffic leaves through the NAT gateway, translated.
    pub fn translated_subnets(&self) -> Vec<&Subnet> {
        match &self.nat {
            None => vec![],
            Some(Nat { subnets: None, .. }) => self.subnets.iter().filter(|s| s.kind == SubnetKind::Public).collect(),
            Some(Nat { subnets: Some(names), .. }) => self.subnets.iter().filter(|s| names.contains(&s.name)).collect(),
        }
    }
}

/// Two VPCs allowed to reach each other, optionally only between some CIDRs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peering {
    pub a: Name,
    pub b: Name,
    /// Empty: the whole of both VPCs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_cidrs: Vec<Ipv4Net>,
    /// `None`: the default, `A-B`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// Made with `--no-routes`: traffic flows only where both sides'
    /// route tables send it here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_routes: bool,
}

impl Peering {
    pub fn involves(&self, vpc: &str) -> bool {
        self.a.as_str() == vpc || self.b.as_str() == vpc
    }

    pub fn other(&self, vpc: &str) -> &Name {
        if self.a.as_str() == vpc { &self.b } else { &self.a }
    }

    /// Its name: given, or `A-B`.
    pub fn name(&self) -> Name {
        self.name.clone().unwrap_or_else(|| Name::parse("peering", &format!("{}-{}", self.a, self.b)).unwrap_or_else(|_| self.a.clone()))
    }

    pub fn joins(&self, x: &str, y: &str) -> bool {
        (self.a.as_str() == x && self.b.as_str() == y) || (self.a.as_str() == y && self.b.as_str() == x)
    }
}

/// Builders for unit tests: a VPC and its subnets with the names vpcctl
/// would give them (`br-V`, `ns-V-S`, `v-V-S`), all ready.
#[cfg(test)]
pub mod testing {
    use super::{Name, Status, Subnet, SubnetKind, Vpc};

    pub fn subnet(vpc: &str, name: &str, cidr: &str, kind: SubnetKind) -> Subnet {
        let net: ipnet::Ipv4Net = cidr.parse().unwrap();
        let (gateway, ip) = super::cidr::gateway_and_host(&net);
        Subnet {
            name: Name::parse("n", name).unwrap(),
            cidr: net,
            kind,
            namespace: format!("ns-{vpc}-{name}"),
            veth: format!("v-{vpc}-{name}"),
            gateway,
            ip,
            status: Status::Ready,
            policy: None,
            apps: vec![],
            nacl: None,
            instances: vec![],
        }
    }

    pub fn vpc(name: &str, cidr: &str, subnets: &[(&str, &str, SubnetKind)]) -> Vpc {
        let bridge = format!("br-{name}");
        Vpc {
            name: Name::parse("n", name).unwrap(),
            cidr: cidr.parse().unwrap(),
            chain: super::kernel_names::vpc_chain(&bridge),
            bridge,
            link_group: 7,
            status: Status::Ready,
            subnets: subnets.iter().map(|(n, c, k)| subnet(name, n, c, *k)).collect(),
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
        }
    }
}
