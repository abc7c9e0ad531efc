//! VPCs that span hosts: the `hosts` of a topology file, and what one host
//! holds of it. Every host applies the same file; each builds its own
//! subnets and records the others as `RemoteSubnet`s, reached through a
//! routed VXLAN overlay (see `plan::overlay`). Everything here is derived
//! from the file alone, so every host computes the same VNIs, MACs and
//! tunnel addresses without talking to the others.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::kernel_names::stable_hash;
use super::services::Helper;
use super::{Name, SubnetKind};

/// VXLAN's IANA port.
pub const VXLAN_PORT: u16 = 4789;
/// WireGuard's customary port.
pub const WIREGUARD_PORT: u16 = 51820;
/// Outer IPv4 + UDP + VXLAN headers + the inner Ethernet header.
pub const VXLAN_OVERHEAD: u16 = 50;
/// Outer IPv4 + UDP + WireGuard's header and tag (wg-quick's figure).
pub const WIREGUARD_OVERHEAD: u16 = 80;

/// One host of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FabricHost {
    pub name: Name,
    /// Its address on the network that joins the hosts.
    pub underlay: Ipv4Addr,
    /// The interface NAT, internet gateways and elastic IPs use on it
    /// when the file names none (default: its default route's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uplink: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wireguard_public_key: Option<String>,
}

impl FabricHost {
    /// Where peers reach this host's end of the overlay: a link-local
    /// address from the underlay's last two bytes. It is only ever a
    /// neighbour key and (under WireGuard) the inner address, never routed
    /// off the host.
    pub fn tunnel_address(&self) -> Ipv4Addr {
        let o = self.underlay.octets();
        Ipv4Addr::new(169, 254, o[2], o[3])
    }
}

/// The overlay as one host sees it, recorded in its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fabric {
    /// This host.
    pub host: Name,
    pub hosts: Vec<FabricHost>,
    /// VXLAN's UDP port.
    pub port: u16,
    /// Of every interface of every VPC on this host: the underlay's, less
    /// the overlay's overhead, so a full-size packet crosses unfragmented.
    pub mtu: u16,
    /// The interface that holds this host's underlay address.
    pub underlay_interface: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wireguard: Option<Wireguard>,
}

/// `"encryption": "wireguard"`: the overlay runs inside WireGuard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wireguard {
    pub interface: String,
    pub port: u16,
    /// The kernel has no WireGuard: `wireguard-go` serves the interface.
    pub userspace: bool,
    /// This host's private key (`vpcctl host-key`).
    pub key_file: std::path::PathBuf,
    /// That `wireguard-go` (pid 0: not started yet).
    #[serde(default)]
    pub process: Helper,
}

impl Fabric {
    pub fn me(&self) -> &FabricHost {
        self.host(&self.host).expect("a fabric's own host is among its hosts")
    }

    pub fn host(&self, name: &Name) -> Option<&FabricHost> {
        self.hosts.iter().find(|h| &h.name == name)
    }

    pub fn peers(&self) -> impl Iterator<Item = &FabricHost> {
        self.hosts.iter().filter(|h| h.name != self.host)
    }

    /// Where VXLAN is sent from and to: the underlay, or WireGuard's
    /// inner addresses.
    pub fn vxlan_local(&self) -> Ipv4Addr {
        if self.wireguard.is_some() { self.me().tunnel_address() } else { self.me().underlay }
    }

    pub fn vxlan_remote(&self, h: &FabricHost) -> Ipv4Addr {
        if self.wireguard.is_some() { h.tunnel_address() } else { h.underlay }
    }
}

/// A subnet of a VPC that lives on another host: what this host needs to
/// route to it, admit from it, and name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteSubnet {
    pub name: Name,
    pub cidr: Ipv4Net,
    #[serde(rename = "type")]
    pub kind: SubnetKind,
    pub host: Name,
    /// The subnet namespace's own address.
    pub ip: Ipv4Addr,
    /// Its instances, by name: for names and security-group members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<RemoteInstance>,
    /// NAT gateways in it: a route table here may send a subnet to one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nat_gateways: Vec<RemoteNatGateway>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteNatGateway {
    pub name: Name,
    pub ip: Ipv4Addr,
}

impl RemoteSubnet {
    /// It, as a subnet seen from here, holding `ip`.
    pub fn view(&self, ip: Ipv4Addr) -> super::Subnet {
        super::Subnet {
            name: self.name.clone(),
            cidr: self.cidr,
            kind: self.kind,
            namespace: format!("(on host {})", self.host),
            veth: String::new(),
            gateway: super::cidr::gateway_and_host(&self.cidr).0,
            ip,
            status: super::Status::Ready,
            policy: None,
            apps: vec![],
            nacl: None,
            instances: vec![],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteInstance {
    pub name: Name,
    pub ip: Ipv4Addr,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<Name>,
}

/// Keep what of `v` lives on host `me`; record the rest as remote.
/// `placement` maps each subnet to its host (a subnet missing from it is
/// here). NAT gateways, elastic IPs and exposed ports live on their
/// subnet's host. Route tables keep every association: which table a
/// remote subnet uses decides what a peering or transit gateway carries
/// to it (its `ip rule` is made on its own host only).
pub fn split(v: &mut super::Vpc, placement: &std::collections::HashMap<String, Name>, me: &Name) {
    let here = |n: &str| placement.get(n).is_none_or(|h| h == me);
    let (local, remote): (Vec<_>, Vec<_>) = std::mem::take(&mut v.subnets).into_iter().partition(|s| here(s.name.as_str()));
    v.subnets = local;
    let gateways = v.nat_gateways.clone();
    v.remote = remote
        .into_iter()
        .map(|s| RemoteSubnet {
            host: placement[s.name.as_str()].clone(),
            nat_gateways: gateways
                .iter()
                .filter(|g| g.subnet == s.name)
                .map(|g| RemoteNatGateway { name: g.name.clone(), ip: g.ip })
                .collect(),
            instances: s
                .instances
                .iter()
                .map(|i| RemoteInstance { name: i.name.clone(), ip: i.ip, security_groups: i.security_groups.clone() })
                .collect(),
            name: s.name,
            cidr: s.cidr,
            kind: s.kind,
            ip: s.ip,
        })
        .collect();
    v.nat_gateways.retain(|g| here(g.subnet.as_str()));
    v.expose.retain(|e| here(e.subnet.as_str()));
    let local_host = |n: &Name| v.subnet(n.as_str()).is_some() || v.instances().any(|(_, i)| &i.name == n);
    let eips: Vec<_> = v.eips.iter().filter(|e| local_host(&e.subnet)).cloned().collect();
    v.eips = eips;
}

impl super::Vpc {
    /// A subnet or instance of this VPC on another host: its address and host.
    pub fn remote_host(&self, name: &str) -> Option<(Ipv4Addr, &Name)> {
        self.remote.iter().find_map(|r| {
            if r.name.as_str() == name {
                return Some((r.ip, &r.host));
            }
            r.instances.iter().find(|i| i.name.as_str() == name).map(|i| (i.ip, &r.host))
        })
    }

    /// Its subnets on other hosts, as subnets seen from here: no NACL, no
    /// policy, no namespace of ours (those are their host's).
    pub fn remote_views(&self) -> Vec<super::Subnet> {
        self.remote.iter().map(|r| r.view(r.ip)).collect()
    }

    /// A NAT gateway of this VPC on another host: its address and host.
    pub fn remote_nat_gateway(&self, name: &str) -> Option<(Ipv4Addr, &Name)> {
        self.remote.iter().find_map(|r| r.nat_gateways.iter().find(|g| g.name.as_str() == name).map(|g| (g.ip, &r.host)))
    }

    /// The remote subnet that holds `ip`, if any.
    pub fn remote_subnet_of(&self, ip: Ipv4Addr) -> Option<&RemoteSubnet> {
        self.remote.iter().find(|r| r.cidr.contains(&ip))
    }
}

/// A VPC's VXLAN network identifier: from its name, the same on every host.
pub fn vni(vpc: &str) -> u32 {
    // 1..=16777214: 0 and the all-ones VNI are avoided.
    (stable_hash(&format!("vni/{vpc}")) % 0x00ff_fffe) as u32 + 1
}

/// The MAC of a VPC's tunnel device on a host: the VNI and the host's
/// tunnel address, so it is unique wherever those are.
pub fn tunnel_mac(vni: u32, host: &FabricHost) -> String {
    let t = host.tunnel_address().octets();
    let v = vni.to_be_bytes();
    format!("02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", v[1], v[2], v[3], t[2], t[3])
}

/// The tunnel device of the VPC whose bridge is `bridge` (`br-x` → `vx-x`).
pub fn tunnel_device(bridge: &str) -> String {
    match bridge.strip_prefix("br") {
        Some(rest) => format!("vx{rest}"),
        None => format!("vx-{}", &bridge[..bridge.len().min(12)]),
    }
}

/// The WireGuard interface of host `name`: its name in it, so simulated
/// hosts that share /run/wireguard do not share a control socket.
pub fn wireguard_interface(name: &str) -> String {
    super::kernel_names::pick_name("wg-", name, &format!("wg/{name}"), super::kernel_names::IFNAME_MAX, &|_| false)
}

/// A WireGuard public key as `wg pubkey` prints it: 32 bytes, base64.
pub fn is_wireguard_key(k: &str) -> bool {
    k.len() == 44 && k.ends_with('=') && k[..43].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// The MTU the overlay leaves for a VPC's interfaces.
pub fn overlay_mtu(underlay_mtu: u16, wireguard: bool) -> u16 {
    underlay_mtu.saturating_sub(VXLAN_OVERHEAD + if wireguard { WIREGUARD_OVERHEAD } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str, ip: &str) -> FabricHost {
        FabricHost { name: Name::parse("h", name).unwrap(), underlay: ip.parse().unwrap(), uplink: None, wireguard_public_key: None }
    }

    #[test]
    fn derived_names_are_stable_and_distinct() {
        let (a, b) = (host("h1", "192.0.2.11"), host("h2", "192.0.2.12"));
        assert_eq!(a.tunnel_address(), "169.254.2.11".parse::<Ipv4Addr>().unwrap());
        let v = vni("shop");
        assert_eq!(v, vni("shop"));
        assert_ne!(v, vni("shop2"));
        assert!(v > 0 && v < 0x00ff_ffff);
        assert_ne!(tunnel_mac(v, &a), tunnel_mac(v, &b));
        assert!(tunnel_mac(v, &a).starts_with("02:"));
        assert_eq!(tunnel_device("br-shop"), "vx-shop");
        assert_eq!(wireguard_interface("h1"), "wg-h1");
        assert_eq!(overlay_mtu(1500, false), 1450);
        assert_eq!(overlay_mtu(1500, true), 1370);
        assert!(is_wireguard_key("Dd0I7XCvLCYPVOx05vyvTXWkBPdG4ZdCUBtI0hcc1QQ="));
        assert!(!is_wireguard_key("--listen-port=1") && !is_wireguard_key(&"A".repeat(44)));
    }

    #[test]
    fn a_host_keeps_its_share_and_records_the_rest() {
        use crate::model::SubnetKind::*;
        let mut v = crate::model::testing::vpc("v", "10.1.0.0/16", &[("a", "10.1.1.0/24", Public), ("b", "10.1.2.0/24", Private)]);
        v.subnets[1].instances.push(crate::model::instance::Instance {
            name: Name::parse("i", "db1").unwrap(),
            ip: "10.1.2.10".parse().unwrap(),
            namespace: "i-v-db1".into(),
            veth: "i-v-db1".into(),
            security_groups: vec![Name::parse("g", "db").unwrap()],
            apps: vec![],
            status: crate::model::Status::Ready,
        });
        v.eips.push(crate::model::services::Eip {
            subnet: Name::parse("s", "db1").unwrap(),
            ip: "203.0.113.9".parse().unwrap(),
            interface: "eth0".into(),
        });
        let placement = [("a".to_string(), Name::parse("h", "h1").unwrap()), ("b".to_string(), Name::parse("h", "h2").unwrap())].into();
        let mut here = v.clone();
        split(&mut here, &placement, &Name::parse("h", "h1").unwrap());
        assert_eq!(here.subnets.len(), 1);
        assert_eq!(here.remote.len(), 1);
        assert_eq!(here.remote[0].host.as_str(), "h2");
        assert_eq!(here.remote[0].instances[0].ip, "10.1.2.10".parse::<Ipv4Addr>().unwrap());
        assert!(here.eips.is_empty(), "db1's EIP lives on h2");
        assert_eq!(here.members("db"), ["10.1.2.10".parse::<Ipv4Addr>().unwrap()], "a member elsewhere is still a member");
        assert_eq!(here.remote_host("db1").map(|(ip, h)| (ip.to_string(), h.to_string())), Some(("10.1.2.10".into(), "h2".into())));
        let mut there = v;
        split(&mut there, &placement, &Name::parse("h", "h2").unwrap());
        assert_eq!(there.eips.len(), 1);
        assert_eq!(there.subnets[0].name.as_str(), "b");
    }
}
