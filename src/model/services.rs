//! The VPC services beyond routing: a DNS resolver per VPC, ports exposed
//! on the uplink, elastic IPs, network ACLs (see `nacl`) and flow logs.
//! Like apps, the helpers that must keep running (the resolver, the flow
//! log collector) are processes vpcctl starts and records here.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Name;

/// A helper process vpcctl started in the host namespace, in its own
/// process group. `start_time` tells it apart from a later process that
/// reuses the PID; pid 0 is "not started yet".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Helper {
    pub pid: u32,
    pub start_time: u64,
}

/// A VPC's resolver (dnsmasq): answers `<subnet>.<vpc>.internal` for this
/// VPC and its peers from `hosts_dir`, forwards the rest to the host's
/// upstreams, and listens on the VPC's gateway addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolver {
    /// The one address it listens on, on its VPC's bridge: a link-local
    /// address of its own (as AWS's resolver is also 169.254.169.253), so it
    /// binds once and no address change on the host concerns it. `None`:
    /// a record from before, whose resolver follows its gateways.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<std::net::Ipv4Addr>,
    /// The directory dnsmasq watches (inotify) for its hosts file.
    pub hosts_dir: PathBuf,
    pub log: PathBuf,
    #[serde(default)]
    pub process: Helper,
    #[serde(default, flatten)]
    pub options: DnsOptions,
}

/// How a VPC's resolver treats names outside `.internal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsOptions {
    /// Forward other names to the host's resolvers (as AWS's resolver
    /// does). Off, a subnet resolves `.internal` names only: DNS to the
    /// outside is an exfiltration path even from a private subnet.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub upstream: bool,
    /// Drop upstream answers that point into private ranges (DNS
    /// rebinding: an outside name that resolves to a VPC address).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stop_rebind: bool,
}

impl Default for DnsOptions {
    fn default() -> Self {
        DnsOptions { upstream: true, stop_rebind: false }
    }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

impl Resolver {
    /// The record for VPC `vpc` of the state dir `state_dir`, not started.
    pub fn new(state_dir: &std::path::Path, vpc: &Name) -> Self {
        let dir = state_dir.join("dns");
        Resolver {
            address: None,
            hosts_dir: dir.join(vpc.as_str()),
            log: dir.join(format!("{vpc}.log")),
            process: Helper::default(),
            options: DnsOptions::default(),
        }
    }

    /// This record with an address of its own, the first free one of
    /// `taken` (which it joins), unless it has one.
    pub fn with_address(mut self, taken: &mut Vec<std::net::Ipv4Addr>) -> Self {
        if self.address.is_none() {
            let a = free_resolver_address(taken);
            taken.push(a);
            self.address = Some(a);
        }
        self
    }

    pub fn hosts_file(&self) -> PathBuf {
        self.hosts_dir.join("hosts")
    }
}

/// The domain of a VPC's names.
pub fn dns_domain(vpc: &str) -> String {
    format!("{vpc}.internal")
}

/// A TCP port of the host forwarded to a subnet (`expose`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expose {
    pub subnet: Name,
    pub port: u16,
    pub host_port: u16,
    /// The uplink it is forwarded on (and the host itself).
    pub interface: String,
}

/// An elastic IP: an address of the uplink's subnet, 1:1 NAT to a subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eip {
    pub subnet: Name,
    pub ip: Ipv4Addr,
    pub interface: String,
}

/// Flow logs of the VPCs that have them on: one collector per state dir.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowLogCollector {
    /// The NFLOG group our rules send packets to.
    pub group: u16,
    /// Where records (and the collector's own files) live.
    pub dir: PathBuf,
    /// Seconds a flow is aggregated over before its record is written.
    pub window_secs: u32,
    /// Largest size of the records file before it is rotated.
    pub max_bytes: u64,
    #[serde(default)]
    pub process: Helper,
}

pub const DEFAULT_WINDOW_SECS: u32 = 5;
pub const DEFAULT_MAX_BYTES: u64 = 4 << 20;

/// The system users the helpers drop to (scripts/deps.sh and install.sh
/// create them; `nobody` where they are missing).
pub const DNS_USER: &str = "vpcctl-dns";
pub const FLOWLOG_USER: &str = "vpcctl-flowlog";

/// Where resolver addresses come from: 169.254.53.1 on ("53" for DNS),
/// link-local, outside every VPC, one per VPC.
pub const RESOLVER_RANGE: std::net::Ipv4Addr = std::net::Ipv4Addr::new(169, 254, 53, 1);

/// The first resolver address no VPC of `taken` has.
pub fn free_resolver_address(taken: &[std::net::Ipv4Addr]) -> std::net::Ipv4Addr {
    let base = u32::from(RESOLVER_RANGE);
    (0..).map(|i| std::net::Ipv4Addr::from(base + i)).find(|a| !taken.contains(a)).unwrap_or(RESOLVER_RANGE)
}

/// Whether `a` is one vpcctl would pick (a check on the state file).
pub fn is_resolver_address(a: std::net::Ipv4Addr) -> bool {
    let [x, y, z, _] = a.octets();
    x == 169 && y == 254 && (53..255).contains(&z)
}
