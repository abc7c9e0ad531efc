//! Anti-spoofing at the bridge port: a subnet sends only from its own
//! address, and ARPs only for it. Without this, root inside a private
//! subnet could borrow a public subnet's address and leave through NAT, or
//! pass a peering's allow-list, because every rule in the host matches on
//! `-i br-X -s <cidr>` and all subnets of a VPC share one bridge.
//!
//! ebtables (filter table, bridge family), one `ebtables-restore --noflush`:
//!   INPUT, FORWARD          -> VPCCTL-SPOOF<suffix>   (one jump each, per state dir)
//!   VPCCTL-SPOOF<suffix>    -> VPCCTL-AS-X            (per VPC)
//!   VPCCTL-AS-X             per subnet port: IPv4 from its address, ARP for
//!                           its address, RETURN; anything else from the port DROP
//! INPUT covers what a port sends to the host (routed: NAT, peering, the
//! gateway); FORWARD covers what it sends to another port of the bridge.
//!
//! ebtables has no comment match, so the tag naming the VPC is the chain's
//! name. A new subnet's rules are appended; any other change rewrites the
//! VPC's chain whole, like the iptables ones (see `firewall`).

use super::iptables::{BridgeChains, Table, finish};
use super::{Restore, Step, TableEdit};
use crate::model::kernel_names::{subnet_mac, vpc_spoof_chain};
use crate::model::{State, Vpc};

pub const DISPATCH_CHAIN: &str = "VPCCTL-SPOOF";
/// The bridge family's hooks we jump from.
pub const BUILTINS: [&str; 2] = ["INPUT", "FORWARD"];

pub fn dispatch_chain(state: &State) -> String {
    format!("{DISPATCH_CHAIN}{}", state.host.chain_suffix)
}

/// ebtables declares a chain with its policy; declaring flushes it.
pub fn declare(chain: &str) -> String {
    format!(":{chain} RETURN")
}

/// The rules of a VPC's chain: three per subnet port. Each checks the
/// frame's source MAC (and ARP's sender MAC) too: a port sends only as
/// its own fixed MAC. Written as `ebtables-save` lists them, so that
/// `doctor` can compare them line by line.
pub fn vpc_rules(vpc: &Vpc) -> Vec<String> {
    let ch = vpc_spoof_chain(&vpc.bridge);
    let mut out = Vec::with_capacity(vpc.subnets.len() * 3);
    for s in &vpc.subnets {
        let (port, mac) = (&s.veth, subnet_mac(s.ip));
        out.push(format!("-A {ch} -p IPv4 -s {mac} -i {port} --ip-src {} -j RETURN", s.ip));
        out.push(format!("-A {ch} -p ARP -s {mac} -i {port} --arp-ip-src {} --arp-mac-src {mac} -j RETURN", s.ip));
        out.push(format!("-A {ch} -i {port} -j DROP"));
    }
    out.extend(super::routes::ngw_spoof_rules(&ch, vpc));
    // Instances last: a new one is appended, as a new subnet is.
    for (_, i) in vpc.instances() {
        let (port, mac) = (&i.veth, subnet_mac(i.ip));
        out.push(format!("-A {ch} -p IPv4 -s {mac} -i {port} --ip-src {} -j RETURN", i.ip));
        out.push(format!("-A {ch} -p ARP -s {mac} -i {port} --arp-ip-src {} --arp-mac-src {mac} -j RETURN", i.ip));
        out.push(format!("-A {ch} -i {port} -j DROP"));
    }
    out
}

pub fn dispatch(state: &State) -> Vec<String> {
    let top = dispatch_chain(state);
    let mut lines = vec![declare(&top)];
    lines.extend(state.vpcs.iter().map(|v| format!("-A {top} -j {}", vpc_spoof_chain(&v.bridge))));
    lines
}

/// The jumps from the built-in chains, as (insert, delete) lines, and as
/// `ebtables-save` prints them.
pub fn jumps(state: &State) -> Vec<(String, String)> {
    let top = dispatch_chain(state);
    BUILTINS.iter().map(|b| (format!("-I {b} 1 -j {top}"), format!("-D {b} -j {top}"))).collect()
}

pub fn saved_jumps(state: &State) -> Vec<String> {
    let top = dispatch_chain(state);
    BUILTINS.iter().map(|b| format!("-A {b} -j {top}")).collect()
}

/// Every ebtables chain of ours that `state` implies.
pub fn chains(state: &State) -> Vec<String> {
    let mut out: Vec<String> = state.vpcs.iter().map(|v| vpc_spoof_chain(&v.bridge)).collect();
    if !state.vpcs.is_empty() {
        out.push(dispatch_chain(state));
    }
    out
}

/// The restore lines that take our ebtables chains from `before` to
/// `after`; `force` names VPCs rewritten even if unchanged.
/// `present`, where the kernel was read (after an unfinished run), names
/// the chains that exist: only those are removed. (A create that failed
/// before its chains were made must still be deletable in one go, and
/// ebtables-nft refuses, whole, a batch that adds and deletes a chain in
/// a table it has to create.)
pub fn lines(before: &State, after: &State, force: &[&str], jumps_present: bool, present: Option<&BridgeChains>) -> Vec<String> {
    let mut lines = vec![];
    for v in &after.vpcs {
        let want = vpc_rules(v);
        let had = before.vpc(v.name.as_str()).filter(|o| o.bridge == v.bridge && !force.contains(&v.name.as_str())).map(vpc_rules);
        match had {
            // New subnets come last: append their ports' rules. ebtables-nft
            // pays per rule, so rewriting a 40-subnet chain for each new
            // subnet would cost more than everything else add-subnet does.
            Some(had) if want.starts_with(&had) => lines.extend(want[had.len()..].iter().cloned()),
            _ => {
                lines.push(declare(&vpc_spoof_chain(&v.bridge)));
                lines.extend(want);
            }
        }
    }
    let bridges = |s: &State| s.vpcs.iter().map(|v| v.bridge.clone()).collect::<Vec<_>>();
    let removed: Vec<String> = before
        .vpcs
        .iter()
        .filter(|v| after.vpc(v.name.as_str()).is_none_or(|a| a.bridge != v.bridge))
        .map(|v| vpc_spoof_chain(&v.bridge))
        .filter(|c| present.is_none_or(|p| p.contains(c)))
        .collect();
    let in_use = !after.vpcs.is_empty();
    let top = dispatch_chain(if in_use { after } else { before });
    if !in_use && removed.is_empty() && !jumps_present && present.is_some_and(|p| !p.contains(&top)) {
        return lines;
    }
    finish(
        &mut lines,
        Table {
            top: dispatch_chain(if in_use { after } else { before }),
            jumps: jumps(if in_use { after } else { before }),
            declare,
            in_use,
            dispatch_changed: bridges(before) != bridges(after) || !force.is_empty(),
            base_present: jumps_present,
            dispatch: dispatch(after),
            removed,
        },
    );
    lines
}

pub fn step(lines: Vec<String>) -> Step {
    Step::Ebtables(Restore { netns: None, tables: vec![TableEdit { table: "filter", lines }] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SubnetKind::{Private, Public};
    use crate::model::testing::vpc;

    fn state(vpcs: Vec<Vpc>) -> State {
        State { vpcs, ..State::default() }
    }

    #[test]
    fn first_subnet_port_may_send_only_from_its_address() {
        let after = state(vec![vpc("a", "10.1.0.0/16", &[("pub", "10.1.1.0/24", Public)])]);
        assert_eq!(
            lines(&State::default(), &after, &[], false, None),
            [
                ":VPCCTL-AS-a RETURN",
                "-A VPCCTL-AS-a -p IPv4 -s 02:76:0a:01:01:02 -i v-a-pub --ip-src 10.1.1.2 -j RETURN",
                "-A VPCCTL-AS-a -p ARP -s 02:76:0a:01:01:02 -i v-a-pub --arp-ip-src 10.1.1.2 --arp-mac-src 02:76:0a:01:01:02 -j RETURN",
                "-A VPCCTL-AS-a -i v-a-pub -j DROP",
                ":VPCCTL-SPOOF RETURN",
                "-A VPCCTL-SPOOF -j VPCCTL-AS-a",
                "-I INPUT 1 -j VPCCTL-SPOOF",
                "-I FORWARD 1 -j VPCCTL-SPOOF",
            ]
        );
    }

    #[test]
    fn a_new_subnet_appends_to_its_vpcs_chain_only() {
        let before = state(vec![vpc("a", "10.1.0.0/16", &[]), vpc("b", "10.2.0.0/16", &[])]);
        let mut after = before.clone();
        after.vpcs[1] = vpc("b", "10.2.0.0/16", &[("s", "10.2.1.0/24", Private)]);
        let got = lines(&before, &after, &[], !before.vpcs.is_empty(), None);
        assert_eq!(got.len(), 3, "appended, not rewritten: {got:?}");
        assert!(got.iter().all(|l| l.starts_with("-A VPCCTL-AS-b -")), "{got:?}");
        assert!(lines(&after, &after, &[], !after.vpcs.is_empty(), None).is_empty());
        // A subnet that goes: the chain is rewritten without it.
        let got = lines(&after, &before, &[], !after.vpcs.is_empty(), None);
        assert_eq!(got, [":VPCCTL-AS-b RETURN"]);
    }

    #[test]
    fn the_last_vpc_takes_everything_with_it_and_other_dirs_keep_theirs() {
        let mut before = state(vec![vpc("a", "10.1.0.0/16", &[("s", "10.1.1.0/24", Private)])]);
        before.host.chain_suffix = "-0badc0de".into();
        let after = State { host: before.host.clone(), ..State::default() };
        assert_eq!(
            lines(&before, &after, &[], !before.vpcs.is_empty(), None),
            [
                "-D INPUT -j VPCCTL-SPOOF-0badc0de",
                "-D FORWARD -j VPCCTL-SPOOF-0badc0de",
                ":VPCCTL-SPOOF-0badc0de RETURN",
                ":VPCCTL-AS-a RETURN",
                "-X VPCCTL-AS-a",
                "-X VPCCTL-SPOOF-0badc0de",
            ]
        );
    }

    #[test]
    fn only_chains_the_kernel_has_are_removed_after_an_unfinished_run() {
        let before = state(vec![vpc("a", "10.1.0.0/16", &[])]);
        let none = BridgeChains::new();
        assert!(lines(&before, &State::default(), &["a"], false, Some(&none)).is_empty());
        let some: BridgeChains = ["VPCCTL-AS-a".to_string()].into();
        let got = lines(&before, &State::default(), &[], false, Some(&some));
        assert!(got.contains(&"-X VPCCTL-AS-a".to_string()), "{got:?}");
    }
}
