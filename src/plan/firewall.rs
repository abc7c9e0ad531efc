//! Where every iptables rule comes from: the layout of vpcctl's own chains,
//! derived entirely from state.
//!
//! filter:
//!   FORWARD            -> VPCCTL-FORWARD           (one jump, inserted at the top)
//!   VPCCTL-FORWARD     -i br-X -> VPCCTL-FWD-X,  -o br-X -> VPCCTL-FWD-X   (per VPC)
//!   VPCCTL-FWD-X       intra-VPC accept, peering accepts, NAT out/replies, then DROP
//! nat (only while some VPC has NAT):
//!   POSTROUTING        -> VPCCTL-POSTROUTING
//!   VPCCTL-POSTROUTING -s <vpc cidr> -> VPCCTL-NAT-X
//!   VPCCTL-NAT-X       -s <subnet> -o <uplink> MASQUERADE
//!
//! A VPC chain ends in DROP, so every packet that enters or leaves a VPC
//! bridge is decided by our rules alone: intra-VPC traffic works on a host
//! whose FORWARD policy is DROP, and isolation does not depend on it being
//! DROP. Peering rules are written into both VPCs' chains in both
//! directions, so the decision does not depend on which jump matches first.
//!
//! Each change rewrites only the chains whose content differs between the
//! state before and after, so cost does not grow with unrelated VPCs.

use super::{Plan, Restore, Step, TableEdit};
use super::{nat, peering};
use crate::iptables::{append, comment, declare, remove_chain};
use crate::model::Vpc;
use crate::state::State;

pub const FORWARD_CHAIN: &str = "VPCCTL-FORWARD";
pub const POSTROUTING_CHAIN: &str = "VPCCTL-POSTROUTING";

/// A jump from a built-in chain into one of ours.
#[derive(Debug, Clone, Copy)]
pub struct BaseJump {
    pub table: &'static str,
    pub builtin: &'static str,
    pub chain: &'static str,
}

pub const FILTER_JUMP: BaseJump = BaseJump { table: "filter", builtin: "FORWARD", chain: FORWARD_CHAIN };
pub const NAT_JUMP: BaseJump = BaseJump { table: "nat", builtin: "POSTROUTING", chain: POSTROUTING_CHAIN };

impl BaseJump {
    /// The rule, without the -A/-I/-D/-C verb and chain.
    pub fn rule_args(&self) -> Vec<String> {
        ["-m", "comment", "--comment", "vpcctl", "-j", self.chain].iter().map(|s| s.to_string()).collect()
    }

    fn insert(&self) -> String {
        format!("-I {} 1 {}", self.builtin, self.rule_args().join(" "))
    }

    fn delete(&self) -> String {
        format!("-D {} {}", self.builtin, self.rule_args().join(" "))
    }
}

/// Whether our jumps from the built-in chains are present right now.
/// Only probed when the first VPC (or NAT) arrives or the last one leaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BasePresence {
    pub filter: bool,
    pub nat: bool,
}

impl BasePresence {
    /// What state implies: our jumps exist while any VPC (any NAT) does.
    /// Probes replace this only where a change may add or remove a jump.
    pub fn implied_by(state: &State) -> Self {
        BasePresence { filter: !state.vpcs.is_empty(), nat: uses_nat(state) }
    }
}

/// Which base jumps a change from `before` to `after` may add or remove,
/// and so must be probed first.
pub fn probes_needed(before: &State, after: &State) -> (bool, bool) {
    let filter = before.vpcs.is_empty() != after.vpcs.is_empty();
    let nat = uses_nat(before) != uses_nat(after);
    (filter, nat)
}

fn uses_nat(state: &State) -> bool {
    state.vpcs.iter().any(|v| v.nat.is_some())
}

/// The full content of a VPC's filter chain: intra-VPC traffic, peering
/// (plan::peering), NAT (plan::nat), and DROP for everything else.
pub fn vpc_rules(state: &State, vpc: &Vpc) -> Vec<String> {
    let (ch, br, n) = (vpc.chain.as_str(), vpc.bridge.as_str(), vpc.name.as_str());
    let mut rules = vec![append(ch, &format!("-i {br} -o {br}"), &comment(n, "intra-vpc"), "ACCEPT")];
    rules.extend(peering::forward_rules(state, vpc));
    rules.extend(nat::forward_rules(vpc));
    rules.push(append(ch, "", &comment(n, "default-deny"), "DROP"));
    rules
}

fn filter_dispatch(state: &State) -> Vec<String> {
    let mut lines = vec![declare(FORWARD_CHAIN)];
    for v in &state.vpcs {
        let c = comment(v.name.as_str(), "dispatch");
        lines.push(append(FORWARD_CHAIN, &format!("-i {}", v.bridge), &c, &v.chain));
        lines.push(append(FORWARD_CHAIN, &format!("-o {}", v.bridge), &c, &v.chain));
    }
    lines
}

fn nat_dispatch(state: &State) -> Vec<String> {
    let mut lines = vec![declare(POSTROUTING_CHAIN)];
    for v in state.vpcs.iter().filter(|v| v.nat.is_some()) {
        let c = comment(v.name.as_str(), "dispatch");
        let chain = crate::model::naming::vpc_nat_chain(&v.bridge);
        lines.push(append(POSTROUTING_CHAIN, &format!("-s {}", v.cidr), &c, &chain));
    }
    lines
}

/// One `iptables-restore` that takes our chains from `before` to `after`.
/// `force` names VPCs whose chains are rewritten even if unchanged (used
/// when re-creating after an interrupted run).
pub fn sync(before: &State, after: &State, force: &[&str], base: BasePresence) -> Plan {
    let mut plan = Plan::default();
    let filter = filter_lines(before, after, force, base.filter);
    let nat = nat_lines(before, after, force, base.nat);
    plan.push(Step::Iptables(Restore {
        netns: None,
        tables: vec![TableEdit { table: "filter", lines: filter }, TableEdit { table: "nat", lines: nat }],
    }));
    plan
}

fn filter_lines(before: &State, after: &State, force: &[&str], base_present: bool) -> Vec<String> {
    let mut lines = vec![];
    for v in &after.vpcs {
        let old = before.vpc(v.name.as_str());
        let changed = match old {
            None => true,
            Some(o) => vpc_rules(before, o) != vpc_rules(after, v),
        };
        if changed || force.contains(&v.name.as_str()) {
            lines.push(declare(&v.chain));
            lines.extend(vpc_rules(after, v));
        }
    }
    let names = |s: &State| s.vpcs.iter().map(|v| (v.name.clone(), v.bridge.clone())).collect::<Vec<_>>();
    let dispatch_changed = names(before) != names(after) || !force.is_empty();
    let removed: Vec<&Vpc> = before.vpcs.iter().filter(|v| after.vpc(v.name.as_str()).is_none()).collect();
    if !after.vpcs.is_empty() {
        if dispatch_changed || !base_present {
            lines.extend(filter_dispatch(after));
        }
        if !base_present {
            lines.push(FILTER_JUMP.insert());
        }
        for v in removed {
            lines.extend(remove_chain(&v.chain));
        }
    } else if !removed.is_empty() || base_present {
        if base_present {
            lines.push(FILTER_JUMP.delete());
        }
        lines.push(declare(FORWARD_CHAIN));
        for v in removed {
            lines.extend(remove_chain(&v.chain));
        }
        lines.push(format!("-X {FORWARD_CHAIN}"));
    }
    lines
}

fn nat_lines(before: &State, after: &State, force: &[&str], base_present: bool) -> Vec<String> {
    let mut lines = vec![];
    let mut dispatch_changed = false;
    let mut removed = vec![];
    for v in &before.vpcs {
        if v.nat.is_some() && after.vpc(v.name.as_str()).is_none_or(|a| a.nat.is_none()) {
            removed.push(crate::model::naming::vpc_nat_chain(&v.bridge));
            dispatch_changed = true;
        }
    }
    for v in after.vpcs.iter().filter(|v| v.nat.is_some()) {
        let old = before.vpc(v.name.as_str());
        let was_on = old.is_some_and(|o| o.nat.is_some());
        if !was_on || old.is_some_and(|o| nat::masquerade_rules(o) != nat::masquerade_rules(v)) || force.contains(&v.name.as_str()) {
            lines.push(declare(&crate::model::naming::vpc_nat_chain(&v.bridge)));
            lines.extend(nat::masquerade_rules(v));
        }
        dispatch_changed |= !was_on || old.is_some_and(|o| o.cidr != v.cidr) || force.contains(&v.name.as_str());
    }
    if uses_nat(after) {
        if dispatch_changed || !base_present {
            lines.extend(nat_dispatch(after));
        }
        if !base_present {
            lines.push(NAT_JUMP.insert());
        }
        for c in removed {
            lines.extend(remove_chain(&c));
        }
    } else if !removed.is_empty() || base_present {
        if base_present {
            lines.push(NAT_JUMP.delete());
        }
        lines.push(declare(POSTROUTING_CHAIN));
        for c in removed {
            lines.extend(remove_chain(&c));
        }
        lines.push(format!("-X {POSTROUTING_CHAIN}"));
    }
    lines
}
