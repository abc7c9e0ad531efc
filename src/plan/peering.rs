//! Where peering rules come from. The host already routes between VPC
//! bridges, so a peering is only a firewall decision: accept rules for the
//! allowed CIDR pairs, written into both VPCs' chains, both directions.
//! Non-transitive by construction: a rule names both bridges.

use ipnet::Ipv4Net;

use crate::model::State;
use crate::model::{Peering, Vpc};
use crate::plan::iptables::{append, comment};

pub fn forward_rules(state: &State, vpc: &Vpc) -> Vec<String> {
    let n = vpc.name.as_str();
    let mut rules = vec![];
    for p in state.peerings_of(n) {
        let Some(peer) = state.vpc(p.other(n).as_str()) else { continue };
        let c = comment(n, &format!("peer={}", peer.name));
        let pairs =
            if super::routes::peering_is_plain(state, p) { pairs(p, vpc, peer) } else { super::routes::peering_pairs(state, p, vpc, peer) };
        rules.extend(both_ways(state, vpc, peer, pairs, &c));
    }
    rules
}

/// ACCEPT rules in `vpc`'s chain for each (mine, theirs) CIDR pair, both
/// ways, on every interface pair a packet crosses here (bridges, and the
/// tunnel toward a side on another host). Peerings and transit gateways
/// both write theirs so.
pub fn both_ways(state: &State, vpc: &Vpc, peer: &Vpc, pairs: impl IntoIterator<Item = (Ipv4Net, Ipv4Net)>, c: &str) -> Vec<String> {
    let ch = &vpc.chain;
    let (there, back) = (super::overlay::paths(state, vpc, peer), super::overlay::paths(state, peer, vpc));
    let mut rules = vec![];
    for (a, b) in pairs {
        for (i, o) in &there {
            rules.push(append(ch, &format!("-i {i} -o {o} -s {a} -d {b}"), c, "ACCEPT"));
        }
        for (i, o) in &back {
            rules.push(append(ch, &format!("-i {i} -o {o} -s {b} -d {a}"), c, "ACCEPT"));
        }
    }
    rules
}

/// The (local, remote) CIDR pairs a peering lets through, seen from `vpc`.
pub fn pairs(p: &Peering, vpc: &Vpc, peer: &Vpc) -> Vec<(Ipv4Net, Ipv4Net)> {
    if p.allow_cidrs.is_empty() {
        return vec![(vpc.cidr, peer.cidr)];
    }
    let within = |v: &Vpc| -> Vec<Ipv4Net> { p.allow_cidrs.iter().filter(|c| v.cidr.contains(*c)).copied().collect() };
    let (mine, theirs) = (within(vpc), within(peer));
    mine.iter().flat_map(|a| theirs.iter().map(move |b| (*a, *b))).collect()
}
