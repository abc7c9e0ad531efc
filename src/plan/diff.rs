//! The convergence planner: what it takes to go from the recorded state to
//! a desired one. Every changing command ends here, whether it came from a
//! topology file (`apply`) or one imperative edit (`add-subnet`, `peer`...).
//!
//! Objects are matched by name. An object whose kernel identity changes (a
//! new CIDR, other interface names) or that a previous run left `Pending`
//! is replaced: torn down, then created again. Everything else that did not
//! change is not touched, so a namespace keeps its inode and an app keeps
//! running.
//!
//! One plan, in this order: one tolerant root batch that removes what goes,
//! one `iptables-restore` for our chains, one root batch that creates, one
//! batch per new namespace, then policies and the forwarding sysctl. Apps
//! are processes, not steps; the caller stops and starts them around the
//! plan (see `engine::commit`, which walks the `Change`).

use std::collections::HashSet;
use std::fmt;

use super::firewall::{self, BasePresence};
use super::{Plan, Step, instance, policy, subnet, vpc};
use crate::model::State;
use crate::model::instance::Instance;
use crate::model::services::{FlowLogCollector, Helper};
use crate::model::{App, Status, Subnet, Vpc};
use crate::plan::iproute;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Op {
    #[serde(rename = "+")]
    Create,
    #[serde(rename = "-")]
    Delete,
    #[serde(rename = "~")]
    Change,
    /// Torn down and made again (a new CIDR): its contents are lost, so
    /// `apply` asks first, as for a delete.
    #[serde(rename = "-/+")]
    Replace,
}

/// One line of `vpcctl plan`: an object and what happens to it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Edit {
    pub op: Op,
    pub object: String,
    pub detail: String,
}

impl fmt::Display for Edit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.op {
            Op::Create => '+',
            Op::Delete => '-',
            Op::Change => '~',
            Op::Replace => return self.write_as(f, "-/+"),
        };
        self.write_as(f, &sign.to_string())
    }
}

impl Edit {
    fn write_as(&self, f: &mut fmt::Formatter<'_>, sign: &str) -> fmt::Result {
        if self.detail.is_empty() { write!(f, "{sign} {}", self.object) } else { write!(f, "{sign} {}  {}", self.object, self.detail) }
    }

    /// Whether applying it loses something that exists (what `apply` asks about).
    pub fn destroys(&self) -> bool {
        matches!(self.op, Op::Delete | Op::Replace)
    }
}

fn edit(op: Op, object: String, detail: impl Into<String>) -> Edit {
    Edit { op, object, detail: detail.into() }
}

/// Whether `after` needs `before`'s kernel objects torn down and made anew.
pub fn vpc_replaced(before: &Vpc, after: &Vpc) -> bool {
    before.status == Status::Pending
        || before.cidr != after.cidr
        || before.bridge != after.bridge
        || before.link_group != after.link_group
        // Every port is made with the MTU: a new one means new ports.
        || before.mtu != after.mtu
}

pub fn subnet_replaced(before: &Subnet, after: &Subnet) -> bool {
    before.status == Status::Pending || before.cidr != after.cidr || before.namespace != after.namespace || before.veth != after.veth
}

/// How one subnet of `after` relates to `before`.
#[derive(Debug, Clone, Copy)]
pub enum Fate<'a> {
    /// Created from scratch (new, replaced, or in a new or replaced VPC).
    New,
    /// Kept: its namespace and links stay.
    Kept(&'a Subnet),
}

/// Each subnet of `after`, with its VPC and fate.
pub fn subnet_fates<'a>(before: &'a State, after: &'a State) -> Vec<(&'a Vpc, &'a Subnet, Fate<'a>)> {
    let mut out = vec![];
    for v in &after.vpcs {
        let kept = before.vpc(v.name.as_str()).filter(|b| !vpc_replaced(b, v)).map(Vpc::subnet_index).unwrap_or_default();
        for s in &v.subnets {
            let fate = match kept.get(s.name.as_str()) {
                Some(bs) if !subnet_replaced(bs, s) => Fate::Kept(bs),
                _ => Fate::New,
            };
            out.push((v, s, fate));
        }
    }
    out
}

/// VPCs of `before` whose kernel objects go: removed or replaced.
fn vpcs_going<'a>(before: &'a State, after: &'a State) -> Vec<&'a Vpc> {
    before.vpcs.iter().filter(|b| after.vpc(b.name.as_str()).is_none_or(|a| vpc_replaced(b, a))).collect()
}

/// Subnets of VPCs that stay whose kernel objects go, with their VPC, and
/// whether `after` drops them (true) or replaces them (false).
fn subnets_going<'a>(before: &'a State, after: &'a State) -> Vec<(&'a Vpc, &'a Subnet, bool)> {
    let mut out = vec![];
    for b in &before.vpcs {
        let Some(a) = after.vpc(b.name.as_str()).filter(|a| !vpc_replaced(b, a)) else { continue };
        let next = a.subnet_index();
        for s in &b.subnets {
            match next.get(s.name.as_str()) {
                None => out.push((b, s, true)),
                Some(n) if subnet_replaced(s, n) => out.push((b, s, false)),
                Some(_) => {}
            }
        }
    }
    out
}

/// Apps of `before` that must stop: their subnet goes, or they changed.
pub fn apps_to_stop<'a>(before: &'a State, after: &'a State) -> Vec<(&'a Subnet, &'a App)> {
    let mut out = vec![];
    for v in vpcs_going(before, after) {
        out.extend(v.subnets.iter().flat_map(|s| s.apps.iter().map(move |a| (s, a))));
        out.extend(v.instances().flat_map(|(s, i)| i.apps.iter().map(move |a| (s, a))));
    }
    for (_, s, _) in subnets_going(before, after) {
        out.extend(s.apps.iter().map(move |a| (s, a)));
    }
    for (_, s, i) in instance::going(before, after) {
        out.extend(i.apps.iter().map(move |a| (s, a)));
    }
    for (_, s, fate) in subnet_fates(before, after) {
        if let Fate::Kept(old) = fate {
            out.extend(old.apps.iter().filter(|a| !s.apps.iter().any(|n| n.same_spec(a))).map(move |a| (old, a)));
        }
    }
    for (_, s, i, kept) in instance::fates(before, after) {
        if let Some(old) = kept {
            out.extend(old.apps.iter().filter(|a| !i.apps.iter().any(|n| n.same_spec(a))).map(move |a| (s, a)));
        }
    }
    out
}

/// Apps of `after` that must start, as (vpc, host, app): the host is a
/// subnet or an instance, by name (unique in its VPC).
pub fn apps_to_start<'a>(before: &'a State, after: &'a State) -> Vec<(&'a Vpc, &'a crate::model::Name, &'a App)> {
    let mut out = vec![];
    for (v, s, fate) in subnet_fates(before, after) {
        for a in &s.apps {
            let running = matches!(fate, Fate::Kept(old) if old.apps.iter().any(|o| o.same_spec(a)));
            if !running {
                out.push((v, &s.name, a));
            }
        }
    }
    for (v, _, i, kept) in instance::fates(before, after) {
        for a in &i.apps {
            if !kept.is_some_and(|old| old.apps.iter().any(|o| o.same_spec(a))) {
                out.push((v, &i.name, a));
            }
        }
    }
    out
}

/// Resolvers of `before` that must stop: their VPC goes, is replaced, or
/// no longer has DNS.
pub fn resolvers_to_stop<'a>(before: &'a State, after: &'a State) -> Vec<&'a Helper> {
    before
        .vpcs
        .iter()
        .filter_map(|b| {
            let r = b.dns.as_ref()?;
            let keeps = after.vpc(b.name.as_str()).is_some_and(|a| {
                !vpc_replaced(b, a)
                    && a.dns.as_ref().is_some_and(|n| n.hosts_dir == r.hosts_dir && n.options == r.options && n.address == r.address)
            });
            (!keeps).then_some(&r.process)
        })
        .collect()
}

/// The collector of `before`, if it must stop: no VPC has flow logs any
/// more, or its settings changed (it is started again with the new ones).
pub fn collector_to_stop<'a>(before: &'a State, after: &State) -> Option<&'a FlowLogCollector> {
    let b = before.host.flow_logs.as_ref().filter(|b| b.process.pid != 0)?;
    let same = after.host.flow_logs.as_ref().is_some_and(|a| {
        a.process == b.process && (a.group, &a.dir, a.window_secs, a.max_bytes) == (b.group, &b.dir, b.window_secs, b.max_bytes)
    });
    (!same).then_some(b)
}

/// VPCs of `after` whose resolver must start whatever runs now: new or
/// replaced VPCs, and DNS newly on. (One that died is restarted too; that
/// is the caller's check, since it reads /proc.)
pub fn resolvers_to_start<'a>(before: &'a State, after: &'a State) -> Vec<&'a Vpc> {
    let stopped: Vec<&Helper> = resolvers_to_stop(before, after);
    after
        .vpcs
        .iter()
        .filter(|a| {
            let Some(r) = &a.dns else { return false };
            let old = before.vpc(a.name.as_str()).and_then(|b| b.dns.as_ref());
            r.process.pid == 0 || old.is_none_or(|o| stopped.iter().any(|s| std::ptr::eq(*s, &o.process)))
        })
        .collect()
}

/// Namespaces that stay and whose policy is rewritten or removed: their
/// INPUT/OUTPUT jumps must be probed first (one `iptables -C` each). A
/// kept instance always has its jumps, unless a run did not finish.
pub fn policy_probes<'a>(before: &'a State, after: &'a State, force_all: bool) -> Vec<&'a str> {
    let mut out: Vec<&str> = subnet_fates(before, after)
        .into_iter()
        .filter_map(|(_, s, fate)| match fate {
            Fate::Kept(old) if old.policy != s.policy || (force_all && s.policy.is_some()) => Some(s.namespace.as_str()),
            _ => None,
        })
        .collect();
    if force_all {
        out.extend(instance::fates(before, after).into_iter().filter(|f| f.3.is_some()).map(|(_, _, i, _)| i.namespace.as_str()));
    }
    out
}

/// What the kernel reading says, for the parts a plan cannot know from state.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub base: BasePresence,
    /// `net.ipv4.ip_forward` now.
    pub ip_forward: String,
    /// Namespaces (from `policy_probes`) whose INPUT jumps to our chain.
    pub policy_jumps: HashSet<String>,
    /// Rewrite every chain and policy: a previous run did not finish.
    pub force_all: bool,
    /// Other state dirs on this host.
    pub others: firewall::OtherDirs,
    /// The bridge family's chains, where they were read (see `spoof::lines`).
    pub bridge_chains: Option<firewall::BridgeChains>,
}

/// Everything one change does, in the order `engine::commit` walks it:
/// record `in_progress`; stop `stops` (and end `app_logs`' cgroups, and the
/// collector); run `plan`; start the resolvers, the collector and the apps
/// of `done`; record `done`.
#[derive(Debug)]
pub struct Change {
    pub in_progress: State,
    /// Apps and resolvers to stop first: (pid, start time).
    pub stops: Vec<(u32, u64)>,
    pub app_logs: Vec<std::path::PathBuf>,
    pub collector_stop: Option<FlowLogCollector>,
    pub plan: Plan,
    /// VPCs whose resolver starts afresh.
    pub resolvers_to_start: Vec<crate::model::Name>,
    /// Apps to start: (vpc, subnet, port).
    pub apps_to_start: Vec<(crate::model::Name, crate::model::Name, u16)>,
    pub done: State,
}

/// The change from `before` to `after`, with the kernel steps `facts` call for.
pub fn change(before: &State, after: &State, facts: &Facts) -> Change {
    let apps_going = apps_to_stop(before, after);
    let mut stops: Vec<(u32, u64)> = apps_going.iter().map(|(_, a)| (a.pid, a.start_time)).collect();
    stops.extend(resolvers_to_stop(before, after).into_iter().filter(|h| h.pid != 0).map(|h| (h.pid, h.start_time)));
    Change {
        in_progress: in_progress(before, after),
        stops,
        app_logs: apps_going.iter().map(|(_, a)| a.log.clone()).collect(),
        collector_stop: collector_to_stop(before, after).cloned(),
        plan: plan(before, after, facts),
        resolvers_to_start: resolvers_to_start(before, after).iter().map(|v| v.name.clone()).collect(),
        apps_to_start: apps_to_start(before, after).into_iter().map(|(v, s, a)| (v.name.clone(), s.clone(), a.port)).collect(),
        done: done(after.clone()),
    }
}

/// Whether going from `before` to `after` needs any kernel step: whether
/// probing the kernel is worth it. What differs only in apps and helper
/// processes is the helpers' business; the planners never read them.
pub fn touches_kernel(before: &State, after: &State, force_all: bool) -> bool {
    fn kernel_view(s: &State) -> State {
        let mut s = s.clone();
        for v in &mut s.vpcs {
            for sub in &mut v.subnets {
                sub.apps.clear();
                sub.instances.iter_mut().for_each(|i| i.apps.clear());
            }
            if let Some(r) = v.dns.as_mut() {
                r.process = Helper::default();
            }
        }
        if let Some(c) = s.host.flow_logs.as_mut() {
            c.process = Default::default();
        }
        s
    }
    force_all || kernel_view(before) != kernel_view(after)
}

/// The plan from `before` to `after`.
pub fn plan(before: &State, after: &State, facts: &Facts) -> Plan {
    let mut plan = Plan::default();
    plan.push(Step::ip_tolerant(None, teardown_lines(before, after)));
    let force: Vec<&str> = after
        .vpcs
        .iter()
        .filter(|v| facts.force_all || before.vpc(v.name.as_str()).is_some_and(|b| vpc_replaced(b, v)))
        .map(|v| v.name.as_str())
        .collect();
    plan.extend(firewall::sync(before, after, &force, facts.base));
    plan.push(super::spoof::step(super::spoof::lines(before, after, &force, facts.base.bridge, facts.bridge_chains.as_ref())));
    let fates = subnet_fates(before, after);
    let overlay = super::overlay::lines(before, after, facts.force_all);
    plan.push(Step::Bridge(super::IpBatch { netns: None, lines: overlay.fdb_gone, tolerant: true }));
    let mut root = vec![];
    for v in &after.vpcs {
        match before.vpc(v.name.as_str()) {
            Some(b) if !vpc_replaced(b, v) => root.extend(vpc::resolver_address_lines(b, v)),
            _ => root.extend(vpc::create_lines(v)),
        }
    }
    for (v, s, fate) in &fates {
        if matches!(fate, Fate::New) {
            root.extend(subnet::root_lines(v, s));
        }
    }
    let instances = instance::fates(before, after);
    for (v, _, i, _) in instances.iter().filter(|f| f.3.is_none()) {
        root.extend(instance::root_lines(v, i));
    }
    // Tunnels before routes: a route table may send a subnet through one.
    root.extend(super::wireguard::lines(before, after, facts.force_all));
    root.extend(overlay.create);
    let kept = |v: &Vpc| before.vpc(v.name.as_str()).filter(|b| !vpc_replaced(b, v));
    for v in &after.vpcs {
        root.extend(super::routes::create_lines(kept(v).map(|b| (before, b)), after, v));
    }
    root.extend(super::expose::address_lines(before, after, facts.force_all).0);
    plan.push(Step::ip(None, root));
    plan.extend(super::wireguard::configure(before, after, facts.force_all));
    let mut fdb: Vec<String> = fates.iter().filter(|(_, _, f)| matches!(f, Fate::New)).flat_map(|(_, s, _)| subnet::fdb_lines(s)).collect();
    fdb.extend(instances.iter().filter(|f| f.3.is_none()).map(|(_, _, i, _)| instance::fdb_line(i)));
    fdb.extend(overlay.fdb);
    let mut gateways = vec![];
    for v in &after.vpcs {
        let (lines, steps) = super::routes::ngw_steps(kept(v), v);
        fdb.extend(lines);
        gateways.extend(steps);
    }
    plan.push(Step::Bridge(super::IpBatch { netns: None, lines: fdb, tolerant: false }));
    for (_, s, fate) in &fates {
        if matches!(fate, Fate::New) {
            plan.push(Step::ip(Some(&s.namespace), subnet::netns_lines(s)));
        }
    }
    for step in gateways {
        plan.push(step);
    }
    for (_, s, i, _) in instances.iter().filter(|f| f.3.is_none()) {
        plan.push(Step::ip(Some(&i.namespace), instance::netns_lines(s, i)));
    }
    for step in instance::pvlan_steps(before, after, facts.force_all) {
        plan.push(step);
    }
    for (v, s, fate) in &fates {
        match (fate, &s.policy) {
            (Fate::New, Some(p)) => plan.extend(policy::apply(v, s, p, false)),
            (Fate::Kept(old), Some(p)) if old.policy.as_ref() != Some(p) || facts.force_all => {
                plan.extend(policy::apply(v, s, p, facts.policy_jumps.contains(&s.namespace)));
            }
            (Fate::Kept(old), None) if old.policy.is_some() => {
                plan.extend(policy::remove(s, facts.policy_jumps.contains(&s.namespace)));
            }
            _ => {}
        }
    }
    plan.extend(instance::policies(before, after, facts.force_all, facts.force_all.then_some(&facts.policy_jumps)));
    plan.extend(super::dns::sync(before, after, facts.force_all));
    let first = before.vpcs.is_empty() || facts.force_all;
    if !after.vpcs.is_empty() && first && facts.ip_forward.trim() != "1" {
        plan.push(Step::Sysctl { netns: None, key: vpc::IP_FORWARD.into(), value: "1".into() });
    }
    // Put back what the host had, unless someone else changed it since
    // (then their value stands) or another state dir still routes.
    if after.vpcs.is_empty()
        && !before.vpcs.is_empty()
        && !facts.others.active
        && facts.ip_forward.trim() == "1"
        && let Some(v) = before.host.ip_forward_before.as_deref().filter(|v| v.trim() != "1")
    {
        plan.push(Step::Sysctl { netns: None, key: vpc::IP_FORWARD.into(), value: v.trim().to_string() });
    }
    plan
}

fn teardown_lines(before: &State, after: &State) -> Vec<String> {
    let mut lines = super::expose::address_lines(before, after, false).1;
    lines.extend(super::overlay::lines(before, after, false).teardown);
    lines.extend(super::wireguard::teardown_lines(before, after));
    for b in &before.vpcs {
        let kept = after.vpc(b.name.as_str()).filter(|a| !vpc_replaced(b, a));
        lines.extend(super::routes::teardown_lines(before, b, kept.map(|a| (after, a))));
    }
    for v in vpcs_going(before, after) {
        lines.extend(vpc::teardown_lines(v));
    }
    for (_, _, i) in instance::going(before, after) {
        lines.extend(instance::teardown_lines(i));
    }
    for (v, s, _) in subnets_going(before, after) {
        lines.extend(subnet::teardown_lines(s));
        lines.push(iproute::addr_del(s.gateway, &s.cidr, &v.bridge));
    }
    lines
}

/// What to record before applying `plan(before, after)`: `after`, with what
/// is being made marked pending, and what is being removed still listed
/// (pending), so that a run killed at any point leaves state from which
/// the next run (or `delete`) finishes the job.
pub fn in_progress(before: &State, after: &State) -> State {
    let mut mid = after.clone();
    mid.host.in_progress = true;
    let new: HashSet<(String, String)> = subnet_fates(before, after)
        .into_iter()
        .filter(|(_, _, f)| matches!(f, Fate::New))
        .map(|(v, s, _)| (v.name.to_string(), s.name.to_string()))
        .collect();
    for v in &mut mid.vpcs {
        if before.vpc(v.name.as_str()).is_none_or(|b| vpc_replaced(b, v)) {
            v.status = Status::Pending;
        }
        let vname = v.name.to_string();
        for s in &mut v.subnets {
            if new.contains(&(vname.clone(), s.name.to_string())) {
                s.status = Status::Pending;
            }
        }
    }
    let new_instances: HashSet<(String, String)> = instance::fates(before, after)
        .into_iter()
        .filter(|f| f.3.is_none())
        .map(|(v, _, i, _)| (v.name.to_string(), i.name.to_string()))
        .collect();
    for v in &mut mid.vpcs {
        let vname = v.name.to_string();
        for i in v.subnets.iter_mut().flat_map(|s| s.instances.iter_mut()) {
            if new_instances.contains(&(vname.clone(), i.name.to_string())) {
                i.status = Status::Pending;
            }
        }
    }
    // An instance that goes (its subnet stays) is listed until it is gone.
    for (b, s, i) in instance::going(before, after) {
        let Some(sub) = mid.vpc_mut(b.name.as_str()).and_then(|v| v.subnets.iter_mut().find(|x| x.name == s.name)) else { continue };
        if !sub.instances.iter().any(|x| x.name == i.name) {
            sub.instances.push(Instance { status: Status::Pending, ..i.clone() });
        }
    }
    for v in &mut mid.vpcs {
        let old = before.vpc(v.name.as_str()).filter(|b| !vpc_replaced(b, v));
        let new: Vec<bool> = v.nat_gateways.iter().map(|g| super::routes::ngw_new(old, v, g)).collect();
        for (g, n) in v.nat_gateways.iter_mut().zip(new) {
            if n {
                g.status = Status::Pending;
            }
        }
    }
    for b in vpcs_going(before, after) {
        if mid.vpc(b.name.as_str()).is_none() {
            let mut gone = b.clone();
            gone.status = Status::Pending;
            mid.vpcs.push(gone);
        }
    }
    // A replaced subnet is already there (pending); a dropped one is added back.
    for (b, s, _) in subnets_going(before, after).into_iter().filter(|(_, _, dropped)| *dropped) {
        let v = mid.vpc_mut(b.name.as_str()).expect("kept VPC");
        let mut gone = s.clone();
        gone.status = Status::Pending;
        v.subnets.push(gone);
    }
    mid
}

/// `after` as it is once the plan has run: everything ready.
pub fn done(mut after: State) -> State {
    after.host.in_progress = false;
    for v in &mut after.vpcs {
        v.status = Status::Ready;
        for s in &mut v.subnets {
            s.status = Status::Ready;
            for i in &mut s.instances {
                i.status = Status::Ready;
            }
        }
        for g in &mut v.nat_gateways {
            g.status = Status::Ready;
        }
    }
    after
}

/// One line per object that changes, in a stable order.
pub fn edits(before: &State, after: &State) -> Vec<Edit> {
    let mut out = vec![];
    for b in &before.vpcs {
        if after.vpc(b.name.as_str()).is_none() {
            out.push(edit(Op::Delete, format!("vpc {}", b.name), format!("{} and its {} subnet(s)", b.cidr, b.subnets.len())));
        }
    }
    for v in &after.vpcs {
        match before.vpc(v.name.as_str()) {
            None => out.push(edit(Op::Create, format!("vpc {}", v.name), v.cidr.to_string())),
            Some(b) if vpc_replaced(b, v) => {
                let mtu = |m: Option<u16>| m.map(|m| m.to_string()).unwrap_or_else(|| "default".into());
                let (op, why) = if b.cidr != v.cidr {
                    (Op::Replace, format!("{} -> {} (replaced)", b.cidr, v.cidr))
                } else if b.mtu != v.mtu {
                    (Op::Replace, format!("MTU {} -> {} (every port made again)", mtu(b.mtu), mtu(v.mtu)))
                } else {
                    (Op::Change, "unfinished, made again".into())
                };
                out.push(edit(op, format!("vpc {}", v.name), why));
            }
            Some(_) => {}
        }
        out.extend(vpc_changes(before.vpc(v.name.as_str()).filter(|b| !vpc_replaced(b, v)), v));
    }
    out.extend(peering_changes(before, after));
    out
}

fn vpc_changes(before: Option<&Vpc>, v: &Vpc) -> Vec<Edit> {
    let mut out = vec![];
    let path = |s: &Subnet| format!("{}/{}", v.name, s.name);
    let (old_index, new_index) = (before.map(Vpc::subnet_index).unwrap_or_default(), v.subnet_index());
    if let Some(b) = before {
        for s in b.subnets.iter().filter(|s| !new_index.contains_key(s.name.as_str())) {
            out.push(edit(Op::Delete, format!("subnet {}", path(s)), s.cidr.to_string()));
        }
    }
    for s in &v.subnets {
        let old = old_index.get(s.name.as_str()).copied();
        match old {
            None => out.push(edit(Op::Create, format!("subnet {}", path(s)), format!("{} {}", s.cidr, s.kind))),
            Some(o) if subnet_replaced(o, s) => {
                let why = if o.cidr != s.cidr { format!("{} -> {} (replaced)", o.cidr, s.cidr) } else { "unfinished, made again".into() };
                let op = if o.cidr != s.cidr { Op::Replace } else { Op::Change };
                out.push(edit(op, format!("subnet {}", path(s)), why));
            }
            Some(o) if o.kind != s.kind => out.push(edit(Op::Change, format!("subnet {}", path(s)), format!("{} -> {}", o.kind, s.kind))),
            Some(_) => {}
        }
        let kept = old.filter(|o| !subnet_replaced(o, s));
        match (kept.and_then(|o| o.policy.as_ref()), &s.policy) {
            (None, Some(p)) => out.push(edit(Op::Create, format!("policy {}", path(s)), policy_summary(p))),
            (Some(_), None) => out.push(edit(Op::Delete, format!("policy {}", path(s)), "")),
            (Some(a), Some(p)) if a != p => out.push(edit(Op::Change, format!("policy {}", path(s)), policy_summary(p))),
            _ => {}
        }
        match (kept.and_then(|o| o.nacl.as_ref()), &s.nacl) {
            (None, Some(n)) => out.push(edit(Op::Create, format!("nacl {}", path(s)), nacl_summary(n))),
            (Some(_), None) => out.push(edit(Op::Delete, format!("nacl {}", path(s)), "")),
            (Some(a), Some(n)) if a != n => out.push(edit(Op::Change, format!("nacl {}", path(s)), nacl_summary(n))),
            _ => {}
        }
        let old_apps: &[App] = kept.map(|o| o.apps.as_slice()).unwrap_or(&[]);
        for a in old_apps.iter().filter(|a| !s.apps.iter().any(|n| n.same_spec(a))) {
            let replaced = s.apps.iter().any(|n| n.port == a.port);
            if !replaced {
                out.push(edit(Op::Delete, format!("app {}:{}", path(s), a.port), ""));
            }
        }
        for a in s.apps.iter().filter(|a| !old_apps.iter().any(|o| o.same_spec(a))) {
            let op = if old_apps.iter().any(|o| o.port == a.port) { Op::Change } else { Op::Create };
            out.push(edit(op, format!("app {}:{}", path(s), a.port), app_summary(a)));
        }
    }
    let old_nat = before.and_then(|b| b.nat.as_ref());
    let nat_detail = |vpc: &Vpc| {
        let names: Vec<String> = vpc.translated_subnets().iter().map(|s| s.name.to_string()).collect();
        let n = vpc.nat.as_ref().expect("nat");
        format!("via {} for {}", n.interface, if names.is_empty() { "-".into() } else { names.join(", ") })
    };
    match (old_nat, &v.nat) {
        (None, Some(_)) => out.push(edit(Op::Create, format!("nat {}", v.name), nat_detail(v))),
        (Some(_), None) => out.push(edit(Op::Delete, format!("nat {}", v.name), "")),
        (Some(a), Some(b)) if a != b => out.push(edit(Op::Change, format!("nat {}", v.name), nat_detail(v))),
        _ => {}
    }
    out.extend(service_changes(before, v));
    out.extend(routing_changes(before, v));
    out.extend(instance_changes(before, v));
    out
}

fn nacl_summary(n: &crate::model::nacl::Nacl) -> String {
    format!("{} inbound, {} outbound rule(s), then deny", n.inbound.len(), n.outbound.len())
}

/// DNS, exposed ports, elastic IPs and flow logs of one VPC.
fn service_changes(before: Option<&Vpc>, v: &Vpc) -> Vec<Edit> {
    let mut out = vec![];
    // A new VPC's resolver comes with it (the default): a line only when
    // an existing VPC's DNS is turned on or off.
    match (before.map(|b| b.dns.is_some()), v.dns.is_some()) {
        (Some(false), true) => out.push(edit(Op::Create, format!("dns {}", v.name), format!("{}.internal", v.name))),
        (Some(true), false) => out.push(edit(Op::Delete, format!("dns {}", v.name), "")),
        (Some(true), true) if before.and_then(|b| b.dns.as_ref()).map(|r| r.options) != v.dns.as_ref().map(|r| r.options) => {
            let o = v.dns.as_ref().map(|r| r.options).unwrap_or_default();
            out.push(edit(Op::Change, format!("dns {}", v.name), format!("upstream {}, stop_rebind {}", o.upstream, o.stop_rebind)));
        }
        _ => {}
    }
    let (old_expose, old_eips) = before.map(|b| (b.expose.as_slice(), b.eips.as_slice())).unwrap_or_default();
    for e in old_expose.iter().filter(|e| !v.expose.contains(e)) {
        out.push(edit(Op::Delete, format!("expose {}:{}", v.name, e.host_port), ""));
    }
    for e in v.expose.iter().filter(|e| !old_expose.contains(e)) {
        out.push(edit(
            Op::Create,
            format!("expose {}:{}", v.name, e.host_port),
            format!("{}:{} -> {}:{}", e.interface, e.host_port, e.subnet, e.port),
        ));
    }
    for e in old_eips.iter().filter(|e| !v.eips.contains(e)) {
        out.push(edit(Op::Delete, format!("eip {}", e.ip), ""));
    }
    for e in v.eips.iter().filter(|e| !old_eips.contains(e)) {
        out.push(edit(Op::Create, format!("eip {}", e.ip), format!("on {} for {}/{}", e.interface, v.name, e.subnet)));
    }
    match (before.is_some_and(|b| b.flow_logs), v.flow_logs) {
        (false, true) => out.push(edit(Op::Create, format!("flow-logs {}", v.name), "")),
        (true, false) => out.push(edit(Op::Delete, format!("flow-logs {}", v.name), "")),
        _ => {}
    }
    out
}

fn peering_changes(before: &State, after: &State) -> Vec<Edit> {
    let mut out = vec![];
    let label = |p: &crate::model::Peering| format!("peering {}<->{}", p.a, p.b);
    let scope = |p: &crate::model::Peering| {
        if p.allow_cidrs.is_empty() {
            "all".to_string()
        } else {
            format!("only {}", p.allow_cidrs.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", "))
        }
    };
    for p in &before.peerings {
        if !after.peerings.iter().any(|q| q.joins(p.a.as_str(), p.b.as_str())) {
            out.push(edit(Op::Delete, label(p), ""));
        }
    }
    for p in &after.peerings {
        match before.peerings.iter().find(|q| q.joins(p.a.as_str(), p.b.as_str())) {
            None => out.push(edit(Op::Create, label(p), scope(p))),
            Some(q) if sorted(&q.allow_cidrs) != sorted(&p.allow_cidrs) => {
                out.push(edit(Op::Change, label(p), format!("{} -> {}", scope(q), scope(p))));
            }
            Some(q) if q.name() != p.name() || q.no_routes != p.no_routes => {
                let routes = if p.no_routes { "no routes" } else { "routes in both main tables" };
                out.push(edit(Op::Change, label(p), format!("name {}, {routes}", p.name())));
            }
            Some(_) => {}
        }
    }
    out.extend(tgw_changes(before, after));
    out
}

/// One line per object that differs, by name, between `old` and `new`
/// (`kind` and `detail` say what it is).
fn named_changes<T: PartialEq>(kind: &str, old: &[T], new: &[T], name: impl Fn(&T) -> String, detail: impl Fn(&T) -> String) -> Vec<Edit> {
    let mut out = vec![];
    for o in old.iter().filter(|o| !new.iter().any(|n| name(n) == name(o))) {
        out.push(edit(Op::Delete, format!("{kind} {}", name(o)), ""));
    }
    for n in new {
        match old.iter().find(|o| name(o) == name(n)) {
            None => out.push(edit(Op::Create, format!("{kind} {}", name(n)), detail(n))),
            Some(o) if o != n => out.push(edit(Op::Change, format!("{kind} {}", name(n)), detail(n))),
            Some(_) => {}
        }
    }
    out
}

/// A VPC's security groups and instances (apps aside: see app lines).
fn instance_changes(before: Option<&Vpc>, v: &Vpc) -> Vec<Edit> {
    // Recorded ones: `default` as AWS makes it is every VPC's, not news.
    let groups = |x: Option<&Vpc>| x.map(|x| x.security_groups.clone()).unwrap_or_default();
    let mut out = named_changes(
        "security-group",
        &groups(before),
        &groups(Some(v)),
        |g| format!("{}/{}", v.name, g.name),
        |g| format!("{} ingress, {} egress rule(s)", g.ingress.len(), g.egress.len()),
    );
    // Pending or ready, with whatever apps, is the same instance.
    let bare = |x: Option<&Vpc>| -> Vec<(crate::model::Name, Instance)> {
        x.map(|x| x.instances().map(|(s, i)| (s.name.clone(), Instance { status: Status::Ready, apps: vec![], ..i.clone() })).collect())
            .unwrap_or_default()
    };
    let (old, new) = (bare(before), bare(Some(v)));
    out.extend(named_changes(
        "instance",
        &old,
        &new,
        |(_, i)| format!("{}/{}", v.name, i.name),
        |(s, i)| format!("in {s} at {}; groups {}", i.ip, i.security_groups.iter().map(|g| g.to_string()).collect::<Vec<_>>().join(",")),
    ));
    // Apps of instances, as a subnet's apps are listed.
    for (_, i) in v.instances() {
        let old_apps: &[App] = before.and_then(|b| b.instance(i.name.as_str())).map(|(_, o)| o.apps.as_slice()).unwrap_or(&[]);
        let at = |a: &App| format!("app {}/{}:{}", v.name, i.name, a.port);
        for a in old_apps.iter().filter(|a| !i.apps.iter().any(|n| n.port == a.port)) {
            out.push(edit(Op::Delete, at(a), ""));
        }
        for a in i.apps.iter().filter(|a| !old_apps.iter().any(|o| o.same_spec(a))) {
            let op = if old_apps.iter().any(|o| o.port == a.port) { Op::Change } else { Op::Create };
            out.push(edit(op, at(a), app_summary(a)));
        }
    }
    if let Some(b) = before {
        for e in out.iter_mut().filter(|e| e.op == Op::Change && e.object.starts_with("instance ")) {
            let name = e.object.rsplit('/').next().unwrap_or_default();
            if let (Some((_, o)), Some((_, n))) = (b.instance(name), v.instance(name))
                && crate::plan::instance::instance_replaced(o, n)
            {
                e.op = Op::Replace;
            }
        }
    }
    out
}

/// A VPC's internet gateway, NAT gateways and route tables.
fn routing_changes(before: Option<&Vpc>, v: &Vpc) -> Vec<Edit> {
    let igw = |x: Option<&Vpc>| x.and_then(|x| x.internet_gateway.clone()).into_iter().collect::<Vec<_>>();
    let mut out =
        named_changes("internet-gateway", &igw(before), &igw(Some(v)), |_| v.name.to_string(), |g| format!("via {}", g.interface));
    let ngws = before.map(|b| b.nat_gateways.as_slice()).unwrap_or(&[]);
    // Pending or ready is the same gateway.
    let ready = |g: &crate::model::routing::NatGateway| crate::model::routing::NatGateway { status: Status::Ready, ..g.clone() };
    let (old, new): (Vec<_>, Vec<_>) = (ngws.iter().map(ready).collect(), v.nat_gateways.iter().map(ready).collect());
    out.extend(named_changes(
        "nat-gateway",
        &old,
        &new,
        |g| format!("{}/{}", v.name, g.name),
        |g| format!("in {} at {}{}", g.subnet, g.ip, g.eip.map(|e| format!(", eip {e}")).unwrap_or_default()),
    ));
    let tables = before.map(|b| b.route_tables.as_slice()).unwrap_or(&[]);
    out.extend(named_changes(
        "route-table",
        tables,
        &v.route_tables,
        |t| format!("{}/{}", v.name, t.name),
        |t| {
            let routes: Vec<String> = t.routes.iter().map(|r| format!("{} -> {}", r.destination, r.target)).collect();
            let subnets: Vec<String> = t.subnets.iter().map(|s| s.to_string()).collect();
            format!(
                "{}{}",
                if routes.is_empty() { "local only".into() } else { routes.join(", ") },
                if subnets.is_empty() { String::new() } else { format!("; subnets {}", subnets.join(", ")) }
            )
        },
    ));
    out
}

fn tgw_changes(before: &State, after: &State) -> Vec<Edit> {
    named_changes(
        "transit-gateway",
        &before.transit_gateways,
        &after.transit_gateways,
        |t| t.name.to_string(),
        |t| {
            let tables: Vec<String> = t.route_tables.iter().map(|r| r.name.to_string()).collect();
            let attached: Vec<String> = t.attachments.iter().map(|a| a.to_string()).collect();
            format!(
                "attached {}; tables {}",
                if attached.is_empty() { "-".into() } else { attached.join(", ") },
                if tables.is_empty() { "-".into() } else { tables.join(", ") }
            )
        },
    )
}

fn sorted(v: &[ipnet::Ipv4Net]) -> Vec<ipnet::Ipv4Net> {
    let mut v = v.to_vec();
    v.sort();
    v
}

fn policy_summary(p: &crate::model::policy::Policy) -> String {
    format!(
        "{} ingress, {} egress rule(s); default ingress {}, egress {}",
        p.ingress.len(),
        p.egress.len(),
        p.default_ingress.as_str(),
        p.default_egress.as_str()
    )
}

fn app_summary(a: &App) -> String {
    if a.builtin { "built-in HTTP server".into() } else { a.command.join(" ") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Name, Nat, Peering, SubnetKind};

    /// A VPC whose subnets are all private.
    fn vpc(name: &str, cidr: &str, subnets: &[(&str, &str)]) -> Vpc {
        let subnets: Vec<(&str, &str, SubnetKind)> = subnets.iter().map(|(n, c)| (*n, *c, SubnetKind::Private)).collect();
        crate::model::testing::vpc(name, cidr, &subnets)
    }

    fn st(vpcs: Vec<Vpc>) -> State {
        State { vpcs, ..State::default() }
    }

    fn facts(s: &State) -> Facts {
        Facts { base: BasePresence::implied_by(s), ip_forward: "1".into(), ..Facts::default() }
    }

    fn script(before: &State, after: &State) -> String {
        plan(before, after, &facts(before)).to_script()
    }

    #[test]
    fn forwarding_is_put_back_only_if_it_is_still_what_vpcctl_set() {
        let mut before = st(vec![vpc("a", "10.1.0.0/16", &[])]);
        before.host.ip_forward_before = Some("0".into());
        let ours = Facts { ip_forward: "1".into(), ..facts(&before) };
        assert!(plan(&before, &State::default(), &ours).to_script().contains("echo 0 > /proc/sys/net/ipv4/ip_forward"));
        let changed = Facts { ip_forward: "0".into(), ..facts(&before) };
        assert!(!plan(&before, &State::default(), &changed).to_script().contains("/proc/sys/net/ipv4/ip_forward"));
        // Another state dir still routes through this host: leave it on.
        let shared = Facts { others: firewall::OtherDirs { active: true, ip_forward_before: None }, ..ours };
        assert!(!plan(&before, &State::default(), &shared).to_script().contains("/proc/sys/net/ipv4/ip_forward"));
    }

    #[test]
    fn the_kernel_is_probed_exactly_when_the_plan_has_steps() {
        let base = st(vec![vpc("a", "10.1.0.0/16", &[("web", "10.1.1.0/24")])]);
        let mut with_app = base.clone();
        with_app.vpcs[0].subnets[0].apps = vec![App {
            port: 80,
            pid: 7,
            start_time: 1,
            command: vec!["x".into()],
            log: "/l".into(),
            builtin: false,
            user: None,
            uid: None,
        }];
        let mut dns_restarted = base.clone();
        if let Some(r) = dns_restarted.vpcs[0].dns.as_mut() {
            r.process.pid += 1;
        }
        let mut nat = base.clone();
        nat.vpcs[0].nat = Some(Nat { interface: "uplink0".into(), subnets: None });
        let bigger = st(vec![vpc("a", "10.1.0.0/16", &[("web", "10.1.1.0/24"), ("db", "10.1.2.0/24")])]);
        let mut policy = base.clone();
        policy.vpcs[0].subnets[0].policy = Some(crate::model::policy::Policy::parse(r#"{"ingress": []}"#).unwrap());
        for (after, why) in [
            (&base, "nothing"),
            (&with_app, "an app"),
            (&dns_restarted, "a resolver's pid"),
            (&nat, "NAT"),
            (&bigger, "a subnet"),
            (&policy, "a policy"),
            (&State::default(), "everything gone"),
        ] {
            let steps = !plan(&base, after, &facts(&base)).steps.is_empty();
            assert_eq!(touches_kernel(&base, after, false), steps, "{why}");
        }
        assert!(touches_kernel(&base, &base, true), "after an unfinished run, always");
    }

    #[test]
    fn the_same_state_plans_nothing() {
        let s = st(vec![vpc("a", "10.1.0.0/16", &[("web", "10.1.1.0/24")])]);
        assert!(plan(&s, &s, &facts(&s)).steps.is_empty());
        assert!(edits(&s, &s).is_empty());
        assert!(apps_to_start(&s, &s).is_empty() && apps_to_stop(&s, &s).is_empty());
    }

    #[test]
    fn a_new_subnet_is_one_root_batch_one_fdb_batch_and_one_namespace_batch() {
        let before = st(vec![vpc("a", "10.1.0.0/16", &[("web", "10.1.1.0/24")])]);
        let after = st(vec![vpc("a", "10.1.0.0/16", &[("web", "10.1.1.0/24"), ("db", "10.1.2.0/24")])]);
        let p = plan(&before, &after, &facts(&before));
        assert_eq!(p.steps.len(), 4, "{}", p.to_script());
        let s = p.to_script();
        assert!(s.contains("bridge -batch - <<'EOF'\nfdb replace 02:76:0a:01:02:02 dev v-a-db master static\n"), "{s}");
        assert!(s.contains("netns add ns-a-db") && s.contains("ip -n ns-a-db -batch"), "{s}");
        assert!(s.contains("ebtables-restore --noflush") && s.contains("-i v-a-db --ip-src 10.1.2.2"), "its port's anti-spoofing: {s}");
        assert!(!s.contains("ns-a-web"), "the untouched subnet is not touched: {s}");
        assert_eq!(edits(&before, &after).iter().map(|c| c.to_string()).collect::<Vec<_>>(), ["+ subnet a/db  10.1.2.0/24 private"]);
    }

    #[test]
    fn a_whole_topology_is_one_root_batch_and_one_restore() {
        let after = st(vec![
            vpc("a", "10.1.0.0/16", &[("s1", "10.1.1.0/24"), ("s2", "10.1.2.0/24")]),
            vpc("b", "10.2.0.0/16", &[("s1", "10.2.1.0/24")]),
        ]);
        let p = plan(&State::default(), &after, &Facts { ip_forward: "0".into(), ..Facts::default() });
        let kinds: Vec<String> = p.steps.iter().map(|s| s.command().map(|c| c.0.to_string()).unwrap_or("sysctl".into())).collect();
        assert_eq!(kinds, ["iptables-restore", "ebtables-restore", "ip", "bridge", "ip", "ip", "ip", "sysctl"], "{}", p.to_script());
        let c: Vec<String> = edits(&State::default(), &after).iter().map(|c| c.to_string()).collect();
        assert_eq!(c[0], "+ vpc a  10.1.0.0/16");
        assert_eq!(c.len(), 5, "{c:?}");
    }

    #[test]
    fn removal_tears_down_first_and_replacement_rebuilds() {
        let before = st(vec![vpc("a", "10.1.0.0/16", &[("s1", "10.1.1.0/24"), ("s2", "10.1.2.0/24")]), vpc("b", "10.2.0.0/16", &[])]);
        let mut after = st(vec![vpc("a", "10.1.0.0/16", &[("s1", "10.1.1.0/24"), ("s2", "10.1.3.0/24")])]);
        after.host.ip_forward_before = Some("0".into());
        let s = script(&before, &after);
        let teardown = s.find("ip -force -batch").unwrap();
        let create = s.find("netns add ns-a-s2").unwrap();
        assert!(teardown < create, "{s}");
        assert!(s.contains("link del group 7") && s.contains("netns del ns-a-s2") && s.contains("addr del 10.1.2.1/24 dev br-a"), "{s}");
        assert!(!s.contains("ns-a-s1"), "{s}");
        assert!(s.contains("-X VPCCTL-FWD-b"), "{s}");
        let c: Vec<String> = edits(&before, &after).iter().map(|c| c.to_string()).collect();
        assert_eq!(c, ["- vpc b  10.2.0.0/16 and its 0 subnet(s)", "-/+ subnet a/s2  10.1.2.0/24 -> 10.1.3.0/24 (replaced)"]);
    }

    #[test]
    fn peering_and_nat_edits_touch_only_the_firewall() {
        let before = st(vec![vpc("a", "10.1.0.0/16", &[("s1", "10.1.1.0/24")]), vpc("b", "10.2.0.0/16", &[])]);
        let mut after = before.clone();
        after.peerings.push(Peering {
            a: Name::parse("n", "a").unwrap(),
            b: Name::parse("n", "b").unwrap(),
            allow_cidrs: vec![],
            name: None,
            no_routes: false,
        });
        after.vpcs[0].nat = Some(Nat { interface: "uplink0".into(), subnets: None });
        let p = plan(&before, &after, &facts(&before));
        assert_eq!(p.steps.len(), 1, "{}", p.to_script());
        let c: Vec<String> = edits(&before, &after).iter().map(|c| c.to_string()).collect();
        assert_eq!(c, ["+ nat a  via uplink0 for -", "+ peering a<->b  all"]);
        let mut wider = after.clone();
        wider.peerings[0].allow_cidrs = vec!["10.1.1.0/24".parse().unwrap(), "10.2.0.0/16".parse().unwrap()];
        let c: Vec<String> = edits(&after, &wider).iter().map(|c| c.to_string()).collect();
        assert_eq!(c, ["~ peering a<->b  all -> only 10.1.1.0/24, 10.2.0.0/16"]);
    }

    #[test]
    fn policies_are_written_removed_and_probed_only_when_they_change() {
        let before = st(vec![vpc("a", "10.1.0.0/16", &[("s1", "10.1.1.0/24")])]);
        let mut after = before.clone();
        let p = crate::model::policy::Policy::parse(r#"{"ingress": [{"port": 80, "action": "deny"}]}"#).unwrap();
        after.vpcs[0].subnets[0].policy = Some(p);
        assert_eq!(policy_probes(&before, &after, false).len(), 1);
        let s = plan(&before, &after, &facts(&before)).to_script();
        assert!(s.contains("ip netns exec ns-a-s1 iptables-restore") && s.contains("-I INPUT 1"), "{s}");
        let mut f = facts(&before);
        f.policy_jumps.insert("ns-a-s1".into());
        assert!(!plan(&before, &after, &f).to_script().contains("-I INPUT"), "jumps present: not inserted again");
        assert!(policy_probes(&after, &after, false).is_empty());
        let s = plan(&after, &before, &f).to_script();
        assert!(s.contains("-D INPUT") && s.contains("-X VPCCTL-INGRESS"), "{s}");
    }

    #[test]
    fn apps_restart_only_when_their_spec_changes() {
        let app = |port, builtin, cmd: &str| App {
            port,
            pid: 10,
            start_time: 1,
            command: cmd.split(' ').map(String::from).collect(),
            log: "/x".into(),
            builtin,
            user: None,
            uid: None,
        };
        let mut before = st(vec![vpc("a", "10.1.0.0/16", &[("s1", "10.1.1.0/24")])]);
        before.vpcs[0].subnets[0].apps = vec![app(80, true, "/old/vpcctl serve"), app(5432, false, "nc -lk -p 5432")];
        let mut after = before.clone();
        after.vpcs[0].subnets[0].apps = vec![app(80, true, "/new/vpcctl serve"), app(5432, false, "nc -lk -p 5433")];
        assert_eq!(apps_to_stop(&before, &after).len(), 1);
        assert_eq!(apps_to_start(&before, &after).len(), 1);
        let c: Vec<String> = edits(&before, &after).iter().map(|c| c.to_string()).collect();
        assert_eq!(c, ["~ app a/s1:5432  nc -lk -p 5433"]);
        // A subnet that goes takes its apps with it.
        let empty = st(vec![vpc("a", "10.1.0.0/16", &[])]);
        assert_eq!(apps_to_stop(&before, &empty).len(), 2);
    }

    #[test]
    fn the_record_in_progress_lists_what_comes_and_what_goes() {
        let before = st(vec![vpc("a", "10.1.0.0/16", &[("s1", "10.1.1.0/24")]), vpc("b", "10.2.0.0/16", &[])]);
        let after = st(vec![vpc("a", "10.1.0.0/16", &[("s2", "10.1.2.0/24")])]);
        let mid = in_progress(&before, &after);
        assert!(mid.host.in_progress);
        let a = mid.vpc("a").unwrap();
        assert_eq!(a.status, Status::Ready);
        assert_eq!(a.subnet("s2").unwrap().status, Status::Pending);
        assert_eq!(a.subnet("s1").unwrap().status, Status::Pending, "going, still recorded");
        assert_eq!(mid.vpc("b").unwrap().status, Status::Pending);
        // Converging from that record to `after` removes the leftovers.
        let s = plan(&mid, &after, &Facts { force_all: true, ..facts(&mid) }).to_script();
        assert!(s.contains("netns del ns-a-s1") && s.contains("link del group 7") && s.contains("netns add ns-a-s2"), "{s}");
        let fin = done(after.clone());
        assert!(!fin.host.in_progress && fin.vpcs[0].subnets[0].status == Status::Ready);
    }

    #[test]
    fn resolvers_stop_with_their_vpc_or_dns_and_start_when_new() {
        use crate::model::services::{Helper, Resolver};
        let with_dns = |name: &str, cidr: &str, pid: u32| {
            let mut v = crate::model::testing::vpc(name, cidr, &[]);
            v.dns = Some(Resolver { process: Helper { pid, start_time: 9 }, ..Resolver::new(std::path::Path::new("/st"), &v.name) });
            v
        };
        let before = State { vpcs: vec![with_dns("a", "10.1.0.0/16", 100), with_dns("b", "10.2.0.0/16", 200)], ..State::default() };
        assert!(resolvers_to_stop(&before, &before).is_empty() && resolvers_to_start(&before, &before).is_empty());
        // b goes, a turns DNS off, c is new.
        let mut after = before.clone();
        after.vpcs.retain(|v| v.name.as_str() == "a");
        after.vpcs[0].dns = None;
        after.vpcs.push(with_dns("c", "10.3.0.0/16", 0));
        let stopped: Vec<u32> = resolvers_to_stop(&before, &after).iter().map(|h| h.pid).collect();
        assert_eq!(stopped, [100, 200]);
        let started: Vec<&str> = resolvers_to_start(&before, &after).iter().map(|v| v.name.as_str()).collect();
        assert_eq!(started, ["c"]);
        // A replaced VPC (new CIDR): its resolver stops and starts again.
        let mut moved = before.clone();
        moved.vpcs[0].cidr = "10.9.0.0/16".parse().unwrap();
        assert_eq!(resolvers_to_stop(&before, &moved).iter().map(|h| h.pid).collect::<Vec<_>>(), [100]);
        assert_eq!(resolvers_to_start(&before, &moved).len(), 1);
    }
}
