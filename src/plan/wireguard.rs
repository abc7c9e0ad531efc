//! Where the WireGuard between hosts comes from (`"encryption":
//! "wireguard"`): one interface per host, each peer host a WireGuard peer
//! whose only allowed address is its tunnel address, routed over it. The
//! VXLAN devices then send from and to tunnel addresses, so VXLAN never
//! crosses the underlay in the clear. `wireguard-go` (where the kernel has
//! no WireGuard) is a helper process started by `engine::commit`.

use std::net::Ipv4Addr;

use super::{Plan, Step};
use crate::model::State;
use crate::model::fabric::{Fabric, VXLAN_OVERHEAD, Wireguard};

/// What WireGuard looks like on this host, compared whole between states.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spec<'a> {
    wg: &'a Wireguard,
    address: Ipv4Addr,
    mtu: u16,
    /// (public key, endpoint, tunnel address).
    peers: Vec<(&'a str, String, Ipv4Addr)>,
}

fn spec(state: &State) -> Option<Spec<'_>> {
    let f: &Fabric = state.fabric.as_ref()?;
    let wg = f.wireguard.as_ref()?;
    if state.vpcs.is_empty() {
        return None;
    }
    let peers = f
        .peers()
        .filter_map(|h| Some((h.wireguard_public_key.as_deref()?, format!("{}:{}", h.underlay, wg.port), h.tunnel_address())))
        .collect();
    Some(Spec { wg, address: f.me().tunnel_address(), mtu: f.mtu + VXLAN_OVERHEAD, peers })
}

/// Root-batch lines that make (or bring back) the interface, its address
/// and a route per peer.
pub fn lines(before: &State, after: &State, force: bool) -> Vec<String> {
    let (old, Some(new)) = (spec(before), spec(after)) else { return vec![] };
    if old.as_ref() == Some(&new) && !force {
        return vec![];
    }
    let i = &new.wg.interface;
    let mut out = vec![];
    let existed = old.as_ref().is_some_and(|o| o.wg.interface == *i && o.wg.process == new.wg.process);
    if !new.wg.userspace && !existed {
        out.push(format!("link add {i} type wireguard"));
    }
    out.push(format!("addr replace {}/32 dev {i}", new.address));
    out.push(format!("link set {i} mtu {} up", new.mtu));
    out.extend(new.peers.iter().map(|(_, _, a)| format!("route replace {a}/32 dev {i}")));
    out
}

/// `wg set`: the key, the port, and every peer (peers that left removed).
pub fn configure(before: &State, after: &State, force: bool) -> Plan {
    let mut plan = Plan::default();
    let (old, Some(new)) = (spec(before), spec(after)) else { return plan };
    if old.as_ref() == Some(&new) && !force {
        return plan;
    }
    let mut args = vec!["set".to_string(), new.wg.interface.clone(), "listen-port".into(), new.wg.port.to_string()];
    args.extend(["private-key".to_string(), new.wg.key_file.display().to_string()]);
    for (key, endpoint, addr) in &new.peers {
        args.extend(
            ["peer", key, "endpoint", endpoint, "allowed-ips", &format!("{addr}/32"), "persistent-keepalive", "25"].map(String::from),
        );
    }
    if let Some(o) = &old {
        for (key, _, _) in o.peers.iter().filter(|p| !new.peers.iter().any(|n| n.0 == p.0)) {
            args.extend(["peer".to_string(), key.to_string(), "remove".into()]);
        }
    }
    plan.push(Step::Wg(args));
    plan
}

/// Lines for the tolerant teardown batch: the interface when WireGuard
/// goes (or moves), routes of peers that left.
pub fn teardown_lines(before: &State, after: &State) -> Vec<String> {
    let Some(old) = spec(before) else { return vec![] };
    match spec(after) {
        Some(new) if new.wg.interface == old.wg.interface && new.wg.userspace == old.wg.userspace => old
            .peers
            .iter()
            .filter(|p| !new.peers.iter().any(|n| n.2 == p.2))
            .map(|(_, _, a)| format!("route del {a}/32 dev {}", old.wg.interface))
            .collect(),
        _ => vec![format!("link del {}", old.wg.interface)],
    }
}
