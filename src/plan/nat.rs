//! Where NAT rules come from. A VPC with NAT masquerades its translated
//! subnets out of one interface, and lets through exactly those new
//! connections out and their replies back. Everything else that would leave
//! the host from a VPC hits the VPC chain's final DROP, so nothing ever
//! leaves untranslated.

use crate::model::Vpc;
use crate::plan::iptables::{append, comment};

/// Filter rules in the VPC's chain (see plan::firewall).
pub fn forward_rules(state: &crate::model::State, vpc: &Vpc) -> Vec<String> {
    let Some(nat) = &vpc.nat else { return vec![] };
    let (ch, br, uplink) = (&vpc.chain, &vpc.bridge, &nat.interface);
    // Cloud metadata services answer on 169.254.169.254: never NAT there.
    let c = comment(vpc.name.as_str(), "nat never link-local");
    let mut rules = vec![append(ch, &format!("-i {br} -o {uplink} -d 169.254.0.0/16"), &c, "DROP")];
    for s in vpc.translated_subnets() {
        let c = comment(vpc.name.as_str(), &format!("nat subnet={}", s.name));
        // Its 0.0.0.0/0 route, unless its route table has one of its own,
        // less what the table sends elsewhere.
        let any: ipnet::Ipv4Net = "0.0.0.0/0".parse().expect("literal");
        let sugar = crate::model::routing::routes_of(state, vpc, s).iter().any(|r| r.origin == crate::model::routing::Origin::EnableNat);
        if sugar {
            rules.extend(super::routes::out_rules(state, vpc, s, any, uplink, &c));
        }
        let reply = format!("-i {uplink} -o {br} -d {} -m conntrack --ctstate RELATED,ESTABLISHED", s.cidr);
        rules.push(append(ch, &reply, &c, "ACCEPT"));
    }
    rules
}

/// The VPC's nat-table chain. Only traffic leaving through the uplink is
/// translated, so peered traffic keeps its source address.
pub fn masquerade_rules(vpc: &Vpc) -> Vec<String> {
    let Some(nat) = &vpc.nat else { return vec![] };
    let chain = vpc.nat_chain();
    vpc.translated_subnets()
        .iter()
        .map(|s| {
            let c = comment(vpc.name.as_str(), &format!("nat subnet={}", s.name));
            append(&chain, &format!("-s {} -o {}", s.cidr, nat.interface), &c, "MASQUERADE")
        })
        .collect()
}
