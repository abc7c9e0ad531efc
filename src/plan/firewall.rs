//! Where every iptables rule comes from: the layout of vpcctl's own chains,
//! derived entirely from state.
//!
//! filter:
//!   FORWARD            -> VPCCTL-FORWARD           (one jump, inserted at the top)
//!   VPCCTL-FORWARD     -s <vpc cidr> ! -i br-X -> DROP (a VPC's addresses come
//!                      only from its own bridge), then
//!                      -i br-X -> VPCCTL-FWD-X,  -o br-X -> VPCCTL-FWD-X   (per VPC)
//!   VPCCTL-FWD-X       intra-VPC accept, peering accepts, NAT out/replies, then DROP
//!   INPUT              -> VPCCTL-INPUT
//!   VPCCTL-INPUT       per VPC: replies to the host's own connections,
//!                      ICMP to the VPC's gateways, DNS to its resolver,
//!                      then DROP (the host is not a service of the VPC)
//! nat (only while some VPC has NAT or an elastic IP):
//!   POSTROUTING        -> VPCCTL-POSTROUTING
//!   VPCCTL-POSTROUTING -s <vpc cidr> -> VPCCTL-NAT-X
//!   VPCCTL-NAT-X       elastic IPs' SNAT, then -s <subnet> -o <uplink> MASQUERADE
//! nat, while something is exposed or has an elastic IP: see plan::expose.
//!
//! A VPC chain ends in DROP, so every packet that enters or leaves a VPC
//! bridge is decided by our rules alone: intra-VPC traffic works on a host
//! whose FORWARD policy is DROP, and isolation does not depend on it being
//! DROP. Peering rules are written into both VPCs' chains in both
//! directions, so the decision does not depend on which jump matches first.
//!
//! Each change rewrites only the chains whose content differs between the
//! state before and after, so cost does not grow with unrelated VPCs.
//!
//! The top chains (VPCCTL-FORWARD, -INPUT, -POSTROUTING) are per state dir:
//! a dir other than the default adds its `chain_suffix`, so several dirs
//! coexist, each jumping to its own chains from the built-in ones.

use super::{Plan, Restore, Step, TableEdit};
use super::{expose, flow, nacl, nat, overlay, peering, routes};
use crate::model::State;
use crate::model::Vpc;
use crate::plan::iptables::{Table, append, comment, declare, finish};

/// Base names of a state dir's top chains; each dir adds its
/// `chain_suffix` (empty for the default dir), so several coexist.
pub const FORWARD_CHAIN: &str = "VPCCTL-FORWARD";
pub const POSTROUTING_CHAIN: &str = "VPCCTL-POSTROUTING";
pub const INPUT_CHAIN: &str = "VPCCTL-INPUT";

pub fn forward_chain(state: &State) -> String {
    format!("{FORWARD_CHAIN}{}", state.host.chain_suffix)
}

pub fn input_chain(state: &State) -> String {
    format!("{INPUT_CHAIN}{}", state.host.chain_suffix)
}

pub fn postrouting_chain(state: &State) -> String {
    format!("{POSTROUTING_CHAIN}{}", state.host.chain_suffix)
}

/// A jump from a built-in chain into one of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseJump {
    pub table: &'static str,
    pub builtin: &'static str,
    pub chain: String,
    pub comment: String,
}

/// The FORWARD jump's comment carries `ip_forward` as it was before the
/// first VPC: a state dir that starts while another runs learns it there,
/// and whichever dir ends last puts it back.
const IP_FORWARD_TAG: &str = "vpcctl:ip_forward_before=";

impl BaseJump {
    pub fn filter(state: &State) -> Self {
        let comment = match state.host.ip_forward_before.as_deref() {
            Some(v) => format!("{IP_FORWARD_TAG}{}", v.trim()),
            None => "vpcctl".into(),
        };
        BaseJump { table: "filter", builtin: "FORWARD", chain: forward_chain(state), comment }
    }

    pub fn input(state: &State) -> Self {
        BaseJump { table: "filter", builtin: "INPUT", chain: input_chain(state), comment: "vpcctl".into() }
    }

    pub fn nat(state: &State) -> Self {
        BaseJump { table: "nat", builtin: "POSTROUTING", chain: postrouting_chain(state), comment: "vpcctl".into() }
    }

    pub fn prerouting(state: &State) -> Self {
        BaseJump { table: "nat", builtin: "PREROUTING", chain: expose::prerouting_chain(state), comment: "vpcctl".into() }
    }

    pub fn output(state: &State) -> Self {
        BaseJump { table: "nat", builtin: "OUTPUT", chain: expose::output_chain(state), comment: "vpcctl".into() }
    }

    /// Every jump `state` implies.
    pub fn all(state: &State) -> Vec<BaseJump> {
        let mut out = vec![];
        if !state.vpcs.is_empty() {
            out.extend([BaseJump::filter(state), BaseJump::input(state)]);
        }
        if uses_nat(state) {
            out.push(BaseJump::nat(state));
        }
        if expose::in_use(state) {
            out.extend([BaseJump::prerouting(state), BaseJump::output(state)]);
        }
        out
    }

    /// The rule, without the -A/-I/-D/-C verb and chain.
    pub fn rule_args(&self) -> Vec<String> {
        ["-m", "comment", "--comment", &self.comment, "-j", &self.chain].iter().map(|s| s.to_string()).collect()
    }

    /// The jump as `iptables-save` and `iptables -S` list it.
    pub fn saved(&self) -> String {
        format!("-A {} {}", self.builtin, self.rule_args().join(" "))
    }

    pub fn insert(&self) -> String {
        format!("-I {} 1 {}", self.builtin, self.rule_args().join(" "))
    }

    fn delete(&self) -> String {
        format!("-D {} {}", self.builtin, self.rule_args().join(" "))
    }
}

/// What `iptables -S FORWARD` says about the state dirs on this host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtherDirs {
    /// Another state dir's VPCs are in use here.
    pub active: bool,
    /// `ip_forward` before the first of them, from its jump's comment.
    pub ip_forward_before: Option<String>,
}

/// Read the other dirs' jumps out of FORWARD's rules (as `iptables -S`
/// prints them); `ours` is this dir's top chain.
pub fn other_dirs(forward_rules: &[String], ours: &str) -> OtherDirs {
    let mut out = OtherDirs::default();
    for r in forward_rules {
        let words: Vec<&str> = r.split_whitespace().collect();
        let Some(target) = words.windows(2).find(|w| w[0] == "-j").map(|w| w[1]) else { continue };
        if !target.starts_with(FORWARD_CHAIN) || target == ours {
            continue;
        }
        out.active = true;
        let tagged = words.iter().find_map(|w| w.trim_matches('"').strip_prefix(IP_FORWARD_TAG));
        if let Some(v) = tagged.filter(|v| matches!(*v, "0" | "1")) {
            out.ip_forward_before.get_or_insert_with(|| v.to_string());
        }
    }
    out
}

pub use super::iptables::BridgeChains;
/// Whether our jumps from the built-in chains are present right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BasePresence {
    pub filter: bool,
    pub nat: bool,
    pub input: bool,
    /// The jumps into our ebtables chains (see `plan::spoof`).
    pub bridge: bool,
    /// The jumps from nat PREROUTING and OUTPUT (see `plan::expose`).
    pub prerouting: bool,
    pub output: bool,
}

impl BasePresence {
    /// What state implies: our jumps exist while any VPC (any NAT) does.
    /// Probes replace this before any change to the kernel.
    pub fn implied_by(state: &State) -> Self {
        let any = !state.vpcs.is_empty();
        let dnat = expose::in_use(state);
        BasePresence { filter: any, nat: uses_nat(state), input: any, bridge: any, prerouting: dnat, output: dnat }
    }
}

/// A VPC has a nat chain while it masquerades or has an elastic IP.
pub fn has_nat_chain(v: &Vpc) -> bool {
    v.nat.is_some() || !v.eips.is_empty() || v.internet_gateway.is_some()
}

pub fn uses_nat(state: &State) -> bool {
    state.vpcs.iter().any(has_nat_chain)
}

/// The content of a VPC's nat chain: each EIP's SNAT, then MASQUERADE.
pub fn vpc_nat_rules(state: &State, v: &Vpc) -> Vec<String> {
    let mut rules = expose::snat_rules(v);
    rules.extend(nat::masquerade_rules(v));
    rules.extend(routes::igw_nat_rules(state, v));
    rules
}

/// Every chain of ours that `state` implies exists, in either table.
pub fn chains(state: &State) -> std::collections::HashSet<String> {
    let mut out: std::collections::HashSet<String> = state.vpcs.iter().map(|v| v.chain.clone()).collect();
    out.extend(state.vpcs.iter().filter(|v| has_nat_chain(v)).map(Vpc::nat_chain));
    if expose::in_use(state) {
        out.extend([expose::prerouting_chain(state), expose::output_chain(state)]);
    }
    out.extend(side_chains(state).into_iter().map(|(c, _)| c));
    if !state.vpcs.is_empty() {
        out.extend([forward_chain(state), input_chain(state)]);
    }
    if uses_nat(state) {
        out.insert(postrouting_chain(state));
    }
    out
}

/// The full content of a VPC's filter chain: intra-VPC traffic, peering
/// (plan::peering), NAT (plan::nat), and DROP for everything else.
pub fn vpc_rules(state: &State, vpc: &Vpc) -> Vec<String> {
    let (ch, br, n) = (vpc.chain.as_str(), vpc.bridge.as_str(), vpc.name.as_str());
    let mut rules = vec![append(ch, &format!("-i {br} -o {br}"), &comment(n, "intra-vpc"), "ACCEPT")];
    // Its subnets on other hosts are the same VPC, through its tunnel; a
    // peer's traffic on the tunnel is the peering's to decide, not this.
    if let Some(d) = overlay::device_of(state, vpc) {
        let c = vpc.cidr;
        rules.push(append(ch, &format!("-i {br} -o {d} -s {c} -d {c}"), &comment(n, "intra-vpc across hosts"), "ACCEPT"));
        rules.push(append(ch, &format!("-i {d} -o {br} -s {c} -d {c}"), &comment(n, "intra-vpc across hosts"), "ACCEPT"));
    }
    rules.extend(peering::forward_rules(state, vpc));
    rules.extend(routes::tgw_forward_rules(state, vpc));
    rules.extend(nat::forward_rules(state, vpc));
    rules.extend(routes::igw_forward_rules(state, vpc));
    rules.extend(routes::ngw_across_rules(vpc));
    rules.extend(expose::forward_rules(state, vpc));
    rules.push(append(ch, "", &comment(n, "default-deny"), "DROP"));
    flow::with_logs(state, rules, true)
}

pub fn filter_dispatch(state: &State) -> Vec<String> {
    let top = forward_chain(state);
    let mut lines = vec![declare(&top)];
    // Before anything can accept it: a packet from the uplink (or any
    // other interface) claiming a VPC's address would pass every rule
    // and security group that trusts the VPC's range, rp_filter or not.
    // With tunnels, the overlay chain checks them, then these.
    match overlay::dispatch_jump(state, &top) {
        Some(jump) => lines.push(jump),
        None => lines.extend(overlay::spoof_rules(state, &top)),
    }
    // NACLs next: they see every packet at a subnet's edge, replies too.
    for v in &state.vpcs {
        lines.extend(nacl::dispatch_rules(&top, v));
    }
    for v in &state.vpcs {
        let c = comment(v.name.as_str(), "dispatch");
        lines.push(append(&top, &format!("-i {}", v.bridge), &c, &v.chain));
        lines.push(append(&top, &format!("-o {}", v.bridge), &c, &v.chain));
        if let Some(d) = overlay::device_of(state, v) {
            lines.push(append(&top, &format!("-i {d}"), &c, &v.chain));
            lines.push(append(&top, &format!("-o {d}"), &c, &v.chain));
        }
    }
    lines
}

/// Chains of ours beside the VPC chains and the top chains: the NACLs'
/// and the overlay's, each rewritten whole when its content differs.
pub fn side_chains(state: &State) -> Vec<(String, Vec<String>)> {
    let mut out = nacl::all_chains(state);
    out.extend(overlay::owned_chain(state));
    out
}

/// What subnets may send to the host itself: ICMP to their VPC's gateways,
/// and replies to connections the host opened. Nothing else: a service the
/// host runs on 0.0.0.0 is not a service of the VPC.
pub fn input_rules(state: &State) -> Vec<String> {
    let top = input_chain(state);
    let mut lines = vec![declare(&top)];
    lines.extend(overlay::input_rules(state, &top));
    for v in &state.vpcs {
        let (br, n) = (v.bridge.as_str(), v.name.as_str());
        let established = format!("-i {br} -m conntrack --ctstate RELATED,ESTABLISHED");
        lines.push(append(&top, &established, &comment(n, "host replies"), "ACCEPT"));
        lines.push(append(&top, &format!("-i {br} -d {} -p icmp", v.cidr), &comment(n, "ping own gateway"), "ACCEPT"));
        if let Some(r) = &v.dns {
            // Its own resolver only: one address, or (a record from before) its gateways.
            let to = r.address.map(|a| format!("{a}/32")).unwrap_or_else(|| v.cidr.to_string());
            for proto in ["udp", "tcp"] {
                let dns = format!("-i {br} -d {to} -p {proto} -m {proto} --dport 53");
                lines.push(append(&top, &dns, &comment(n, "dns to own resolver"), "ACCEPT"));
            }
        }
        lines.push(append(&top, &format!("-i {br}"), &comment(n, "host is not a service"), "DROP"));
    }
    flow::with_logs(state, lines, false)
}

pub fn nat_dispatch(state: &State) -> Vec<String> {
    let top = postrouting_chain(state);
    let mut lines = vec![declare(&top)];
    for v in state.vpcs.iter().filter(|v| has_nat_chain(v)) {
        let c = comment(v.name.as_str(), "dispatch");
        let chain = v.nat_chain();
        lines.push(append(&top, &format!("-s {}", v.cidr), &c, &chain));
    }
    lines
}

/// One `iptables-restore` that takes our chains from `before` to `after`
/// (the bridge ports' `ebtables-restore` is `plan::spoof`'s).
/// `force` names VPCs whose chains are rewritten even if unchanged (used
/// when re-creating after an interrupted run).
pub fn sync(before: &State, after: &State, force: &[&str], base: BasePresence) -> Plan {
    let mut plan = Plan::default();
    let filter = filter_lines(before, after, force, base);
    let mut nat = nat_lines(before, after, force, base.nat);
    nat.extend(dnat_lines(before, after, force, base));
    plan.push(Step::Iptables(Restore {
        netns: None,
        tables: vec![TableEdit { table: "filter", lines: filter }, TableEdit { table: "nat", lines: nat }],
    }));
    plan
}

fn filter_lines(before: &State, after: &State, force: &[&str], base: BasePresence) -> Vec<String> {
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
    // NACL chains: rewritten whole (atomically, in this one restore) when
    // they differ; removed after the dispatch no longer jumps to them.
    let (old_nacls, new_nacls) = (side_chains(before), side_chains(after));
    for (chain, rules) in &new_nacls {
        let same = old_nacls.iter().any(|(c, r)| c == chain && r == rules);
        if !same || !force.is_empty() {
            lines.push(declare(chain));
            lines.extend(rules.iter().cloned());
        }
    }
    let mut removed: Vec<String> = before.vpcs.iter().filter(|v| after.vpc(v.name.as_str()).is_none()).map(|v| v.chain.clone()).collect();
    removed.extend(old_nacls.iter().filter(|(c, _)| !new_nacls.iter().any(|(n, _)| n == c)).map(|(c, _)| c.clone()));
    let dispatch_changed = filter_dispatch(before) != filter_dispatch(after) || !force.is_empty();
    let in_use = !after.vpcs.is_empty();
    finish(
        &mut lines,
        Table {
            in_use,
            dispatch_changed,
            base_present: base.filter,
            dispatch: filter_dispatch(after),
            removed,
            ..iptables_table(&BaseJump::filter(if in_use { after } else { before }))
        },
    );
    let input_changed = !force.is_empty() || input_rules(before) != input_rules(after);
    finish(
        &mut lines,
        Table {
            in_use,
            dispatch_changed: input_changed,
            base_present: base.input,
            dispatch: input_rules(after),
            removed: vec![],
            ..iptables_table(&BaseJump::input(after))
        },
    );
    lines
}

/// A table of ours whose top chain `jump` jumps to.
fn iptables_table(jump: &BaseJump) -> Table {
    Table {
        top: jump.chain.clone(),
        jumps: vec![(jump.insert(), jump.delete())],
        declare,
        in_use: false,
        dispatch_changed: false,
        base_present: false,
        dispatch: vec![],
        removed: vec![],
    }
}

fn nat_lines(before: &State, after: &State, force: &[&str], base_present: bool) -> Vec<String> {
    let mut lines = vec![];
    let mut dispatch_changed = false;
    let mut removed = vec![];
    for v in &before.vpcs {
        if has_nat_chain(v) && after.vpc(v.name.as_str()).is_none_or(|a| !has_nat_chain(a)) {
            removed.push(v.nat_chain());
            dispatch_changed = true;
        }
    }
    for v in after.vpcs.iter().filter(|v| has_nat_chain(v)) {
        let old = before.vpc(v.name.as_str());
        let was_on = old.is_some_and(has_nat_chain);
        if !was_on || old.is_some_and(|o| vpc_nat_rules(before, o) != vpc_nat_rules(after, v)) || force.contains(&v.name.as_str()) {
            lines.push(declare(&v.nat_chain()));
            lines.extend(vpc_nat_rules(after, v));
        }
        dispatch_changed |= !was_on || old.is_some_and(|o| o.cidr != v.cidr) || force.contains(&v.name.as_str());
    }
    finish(
        &mut lines,
        Table {
            in_use: uses_nat(after),
            dispatch_changed,
            base_present,
            dispatch: nat_dispatch(after),
            removed,
            ..iptables_table(&BaseJump::nat(after))
        },
    );
    lines
}

/// The DNAT chains of `expose` and elastic IPs: each is the whole of its
/// content, rewritten when it changes.
fn dnat_lines(before: &State, after: &State, force: &[&str], base: BasePresence) -> Vec<String> {
    let mut lines = vec![];
    let in_use = expose::in_use(after);
    let tops = [
        (expose::prerouting_rules as fn(&State) -> Vec<String>, BaseJump::prerouting(after), base.prerouting),
        (expose::output_rules, BaseJump::output(after), base.output),
    ];
    for (rules, jump, present) in tops {
        let changed = rules(before) != rules(after) || !force.is_empty();
        finish(
            &mut lines,
            Table {
                in_use,
                dispatch_changed: changed,
                base_present: present,
                dispatch: rules(after),
                removed: vec![],
                ..iptables_table(&jump)
            },
        );
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing::vpc;
    use crate::model::{Name, Nat, Peering, SubnetKind};

    fn state(vpcs: Vec<Vpc>) -> State {
        State { vpcs, ..State::default() }
    }

    fn tables(plan: &Plan) -> (Vec<String>, Vec<String>) {
        let Some(Step::Iptables(r)) = plan.steps.first() else { return (vec![], vec![]) };
        (r.tables[0].lines.clone(), r.tables[1].lines.clone())
    }

    const PUB: SubnetKind = SubnetKind::Public;
    const PRIV: SubnetKind = SubnetKind::Private;

    #[test]
    fn first_vpc_creates_chains_then_jumps_to_them() {
        let after = state(vec![vpc("a", "10.1.0.0/16", &[])]);
        let (filter, nat) = tables(&sync(&State::default(), &after, &["a"], BasePresence::default()));
        assert_eq!(
            filter,
            [
                ":VPCCTL-FWD-a - [0:0]",
                "-A VPCCTL-FWD-a -i br-a -o br-a -m comment --comment \"vpcctl:vpc=a intra-vpc\" -j ACCEPT",
                "-A VPCCTL-FWD-a -m comment --comment \"vpcctl:vpc=a default-deny\" -j DROP",
                ":VPCCTL-FORWARD - [0:0]",
                "-A VPCCTL-FORWARD -s 10.1.0.0/16 ! -i br-a -m comment --comment \"vpcctl:vpc=a spoofed source\" -j DROP",
                "-A VPCCTL-FORWARD -i br-a -m comment --comment \"vpcctl:vpc=a dispatch\" -j VPCCTL-FWD-a",
                "-A VPCCTL-FORWARD -o br-a -m comment --comment \"vpcctl:vpc=a dispatch\" -j VPCCTL-FWD-a",
                "-I FORWARD 1 -m comment --comment vpcctl -j VPCCTL-FORWARD",
                ":VPCCTL-INPUT - [0:0]",
                "-A VPCCTL-INPUT -i br-a -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment \"vpcctl:vpc=a host replies\" -j ACCEPT",
                "-A VPCCTL-INPUT -i br-a -d 10.1.0.0/16 -p icmp -m comment --comment \"vpcctl:vpc=a ping own gateway\" -j ACCEPT",
                "-A VPCCTL-INPUT -i br-a -m comment --comment \"vpcctl:vpc=a host is not a service\" -j DROP",
                "-I INPUT 1 -m comment --comment vpcctl -j VPCCTL-INPUT",
            ]
        );
        assert!(nat.is_empty(), "no NAT, so the nat table is not touched: {nat:?}");
    }

    #[test]
    fn other_state_dirs_are_read_from_their_forward_jumps() {
        let rules: Vec<String> = [
            "-P FORWARD DROP",
            "-A FORWARD -m comment --comment \"vpcctl:ip_forward_before=0\" -j VPCCTL-FORWARD",
            "-A FORWARD -j DOCKER-USER",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(other_dirs(&rules, "VPCCTL-FORWARD"), OtherDirs::default(), "only our own jump");
        let seen = other_dirs(&rules, "VPCCTL-FORWARD-0badc0de");
        assert_eq!(seen, OtherDirs { active: true, ip_forward_before: Some("0".into()) });
        let odd = ["-A FORWARD -m comment --comment vpcctl:ip_forward_before=7 -j VPCCTL-FORWARD".to_string()];
        assert_eq!(other_dirs(&odd, "x"), OtherDirs { active: true, ip_forward_before: None }, "not a sysctl value");
    }

    #[test]
    fn the_chains_state_implies() {
        let mut st = state(vec![vpc("a", "10.1.0.0/16", &[]), vpc("b", "10.2.0.0/16", &[])]);
        st.vpcs[1].nat = Some(Nat { interface: "eth9".into(), subnets: None });
        let mut got: Vec<String> = chains(&st).into_iter().collect();
        got.sort();
        assert_eq!(got, ["VPCCTL-FORWARD", "VPCCTL-FWD-a", "VPCCTL-FWD-b", "VPCCTL-INPUT", "VPCCTL-NAT-b", "VPCCTL-POSTROUTING"]);
        assert!(chains(&State::default()).is_empty());
    }

    #[test]
    fn a_plain_subnet_changes_no_rule() {
        let before = state(vec![vpc("a", "10.1.0.0/16", &[])]);
        let after = state(vec![vpc("a", "10.1.0.0/16", &[("s", "10.1.1.0/24", PUB)])]);
        let p = sync(&before, &after, &[], BasePresence::implied_by(&before));
        assert!(p.steps.is_empty(), "no iptables rule changes (the new port's anti-spoofing is plan::spoof's): {}", p.to_script());
    }

    #[test]
    fn deleting_the_last_vpc_removes_everything_of_ours() {
        let before = state(vec![vpc("a", "10.1.0.0/16", &[])]);
        let (filter, _) = tables(&sync(
            &before,
            &State::default(),
            &[],
            BasePresence { filter: true, nat: false, input: true, bridge: true, ..BasePresence::default() },
        ));
        assert_eq!(
            filter,
            [
                "-D FORWARD -m comment --comment vpcctl -j VPCCTL-FORWARD",
                ":VPCCTL-FORWARD - [0:0]",
                ":VPCCTL-FWD-a - [0:0]",
                "-X VPCCTL-FWD-a",
                "-X VPCCTL-FORWARD",
                "-D INPUT -m comment --comment vpcctl -j VPCCTL-INPUT",
                ":VPCCTL-INPUT - [0:0]",
                "-X VPCCTL-INPUT",
            ]
        );
        // Already gone from the kernel: no -D that would fail the restore.
        let (filter, _) = tables(&sync(&before, &State::default(), &[], BasePresence::default()));
        assert!(!filter.iter().any(|l| l.starts_with("-D")), "{filter:?}");
    }

    #[test]
    fn deleting_one_of_two_rewrites_dispatch_before_removing_its_chain() {
        let before = state(vec![vpc("a", "10.1.0.0/16", &[]), vpc("b", "10.2.0.0/16", &[])]);
        let after = state(vec![vpc("b", "10.2.0.0/16", &[])]);
        let (filter, _) = tables(&sync(&before, &after, &[], BasePresence::implied_by(&before)));
        let dispatch = filter.iter().position(|l| l == ":VPCCTL-FORWARD - [0:0]").unwrap();
        let remove = filter.iter().position(|l| l == "-X VPCCTL-FWD-a").unwrap();
        assert!(dispatch < remove);
        assert!(!filter.iter().any(|l| l.contains("-D FORWARD") || l.contains("-X VPCCTL-FORWARD")));
        assert!(!filter.iter().any(|l| l.contains("VPCCTL-FWD-b -")), "b's chain is unchanged: {filter:?}");
    }

    #[test]
    fn nat_translates_public_subnets_out_of_the_uplink_only() {
        let before = state(vec![vpc("a", "10.1.0.0/16", &[("pub", "10.1.1.0/24", PUB), ("priv", "10.1.2.0/24", PRIV)])]);
        let mut after = before.clone();
        after.vpcs[0].nat = Some(Nat { interface: "eth9".into(), subnets: None });
        let (filter, nat) = tables(&sync(&before, &after, &[], BasePresence::implied_by(&before)));
        let accepts: Vec<&String> = filter.iter().filter(|l| l.contains("nat subnet=")).collect();
        assert_eq!(accepts.len(), 2, "out and replies for the public subnet only: {filter:?}");
        assert!(accepts[0].contains("-i br-a -o eth9 -s 10.1.1.0/24"));
        assert!(accepts[1].contains("-i eth9 -o br-a -d 10.1.1.0/24 -m conntrack --ctstate RELATED,ESTABLISHED"));
        assert!(filter.last().unwrap().ends_with("-j DROP"), "DROP stays last");
        assert_eq!(
            nat,
            [
                ":VPCCTL-NAT-a - [0:0]",
                "-A VPCCTL-NAT-a -s 10.1.1.0/24 -o eth9 -m comment --comment \"vpcctl:vpc=a nat subnet=pub\" -j MASQUERADE",
                ":VPCCTL-POSTROUTING - [0:0]",
                "-A VPCCTL-POSTROUTING -s 10.1.0.0/16 -m comment --comment \"vpcctl:vpc=a dispatch\" -j VPCCTL-NAT-a",
                "-I POSTROUTING 1 -m comment --comment vpcctl -j VPCCTL-POSTROUTING",
            ]
        );
        // Same again: nothing to do.
        assert!(sync(&after, &after, &[], BasePresence::implied_by(&after)).steps.is_empty());
        // Disabling removes the nat chain, dispatch and jump.
        let (_, nat) = tables(&sync(
            &after,
            &before,
            &[],
            BasePresence { filter: true, nat: true, input: true, bridge: true, ..BasePresence::default() },
        ));
        assert_eq!(nat[0], "-D POSTROUTING -m comment --comment vpcctl -j VPCCTL-POSTROUTING");
        assert!(nat.contains(&"-X VPCCTL-NAT-a".to_string()) && nat.last().unwrap() == "-X VPCCTL-POSTROUTING");
    }

    #[test]
    fn peering_is_mirrored_in_both_chains_and_restricted_by_allow_cidrs() {
        let mut st =
            state(vec![vpc("a", "10.1.0.0/16", &[("s1", "10.1.1.0/24", PRIV)]), vpc("b", "10.2.0.0/16", &[("s1", "10.2.1.0/24", PRIV)])]);
        st.peerings.push(Peering {
            a: Name::parse("n", "a").unwrap(),
            b: Name::parse("n", "b").unwrap(),
            allow_cidrs: vec!["10.1.1.0/24".parse().unwrap(), "10.2.1.0/24".parse().unwrap()],
            name: None,
            no_routes: false,
        });
        let ra = vpc_rules(&st, &st.vpcs[0]);
        let rb = vpc_rules(&st, &st.vpcs[1]);
        let a_to_b = "-i br-a -o br-b -s 10.1.1.0/24 -d 10.2.1.0/24";
        let b_to_a = "-i br-b -o br-a -s 10.2.1.0/24 -d 10.1.1.0/24";
        for rules in [&ra, &rb] {
            assert!(rules.iter().any(|r| r.contains(a_to_b)), "{rules:?}");
            assert!(rules.iter().any(|r| r.contains(b_to_a)), "{rules:?}");
        }
        st.peerings[0].allow_cidrs.clear();
        assert!(vpc_rules(&st, &st.vpcs[0]).iter().any(|r| r.contains("-i br-a -o br-b -s 10.1.0.0/16 -d 10.2.0.0/16")));
    }
}
