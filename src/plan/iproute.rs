//! Lines for `ip -batch`. Each function returns one batch line; callers
//! group them into as few `ip` processes as possible.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

pub fn netns_add(ns: &str) -> String {
    format!("netns add {ns}")
}

pub fn netns_del(ns: &str) -> String {
    format!("netns del {ns}")
}

/// A bridge with a fixed MAC. Left to itself, a bridge takes the lowest MAC
/// of its ports, so deleting one subnet would change the gateway's MAC
/// under every other subnet's ARP cache.
pub fn bridge_add(bridge: &str, group: u32) -> String {
    format!("link add {bridge} address {} group {group} type bridge", bridge_mac(bridge))
}

/// Locally administered, unicast, stable for a given bridge name.
pub fn bridge_mac(bridge: &str) -> String {
    let h = crate::model::kernel_names::stable_hash(bridge).to_be_bytes();
    format!("02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", h[0], h[1], h[2], h[3], h[4])
}

/// No IPv6 address of any kind (not even link-local) on `dev`. vpcctl is
/// IPv4-only: its policies, isolation and NAT are IPv4 rules, so a subnet
/// must have no IPv6 address to be reached at around them.
pub fn no_ipv6(dev: &str) -> String {
    format!("link set {dev} addrgenmode none")
}

pub fn link_up(dev: &str) -> String {
    format!("link set {dev} up")
}

pub fn link_del(dev: &str) -> String {
    format!("link del {dev}")
}

/// Creating the peer directly inside the namespace costs ~1 ms; moving it
/// there afterwards costs ~18 ms.
/// `mtu`: both ends' (an overlay's room), else the kernel's default.
pub fn veth_into_netns(host_end: &str, group: u32, netns: &str, inner: &str, inner_mac: &str, mtu: Option<u16>) -> String {
    let m = mtu.map(|m| format!(" mtu {m}")).unwrap_or_default();
    format!("link add {host_end}{m} group {group} type veth peer name {inner}{m} address {inner_mac} netns {netns}")
}

/// A subnet's bridge port learns nothing (its one MAC is a static FDB
/// entry, so a subnet sending with another's MAC cannot redirect its
/// traffic or fill the table), floods no unknown unicast to it, and is
/// isolated: it reaches only the host, never another port directly, so
/// every subnet-to-subnet packet is routed through the host's rules
/// (with or without br_netfilter), broadcast and multicast included.
pub fn bridge_port(dev: &str) -> String {
    format!("link set {dev} type bridge_slave learning off flood off isolated on")
}

/// For `bridge -batch`: the static FDB entry of a port's one MAC.
/// `replace`, so that repair can re-assert it.
pub fn fdb_static(mac: &str, dev: &str) -> String {
    format!("fdb replace {mac} dev {dev} master static")
}

/// Delete every link of a group in one kernel operation: one RCU grace
/// period for all of them instead of one per link (~30 ms each).
pub fn link_del_group(group: u32) -> String {
    format!("link del group {group}")
}

pub fn attach_up(dev: &str, bridge: &str) -> String {
    format!("link set {dev} master {bridge} up")
}

pub fn addr_add(addr: Ipv4Addr, net: &Ipv4Net, dev: &str) -> String {
    format!("addr add {addr}/{} dev {dev}", net.prefix_len())
}

pub fn addr_del(addr: Ipv4Addr, net: &Ipv4Net, dev: &str) -> String {
    format!("addr del {addr}/{} dev {dev}", net.prefix_len())
}

/// Reserve a whole VPC range so unallocated addresses fail fast instead of
/// following the host's default route out.
pub fn route_unreachable_add(net: &Ipv4Net) -> String {
    format!("route add unreachable {net}")
}

pub fn route_unreachable_del(net: &Ipv4Net) -> String {
    format!("route del unreachable {net}")
}

pub fn default_route(gateway: Ipv4Addr) -> String {
    format!("route add default via {gateway}")
}

/// Messages `ip -force -batch` prints for objects that are already gone.
/// Teardown treats these as success.
pub fn is_already_gone(msg: &str) -> bool {
    const GONE: [&str; 7] = [
        "Cannot find device",
        "No such device",
        "No such file or directory",
        "No such process",
        "Cannot assign requested address",
        "does not exist",
        // `address del` of an address already removed (newer iproute2).
        "Address not found",
    ];
    GONE.iter().any(|g| msg.contains(g))
}
