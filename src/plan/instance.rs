//! The kernel objects of an instance: a namespace on the VPC bridge, made
//! as a subnet's is (`plan::subnet::port_lines`), with its own address in
//! its subnet, and its security groups as a policy inside it
//! (`plan::policy`, on `Vpc::instance_view`).
//!
//! Two hosts of one subnet reach each other through the host, as hosts of
//! two subnets do: bridge ports are isolated, so the bridge answers ARP
//! for the subnet's addresses (`proxy_arp_pvlan`) and routes the packet
//! back out, through VPCCTL-FORWARD. NACLs skip it (they guard the subnet's
//! edge, as in AWS); security groups do not.

use std::collections::{HashMap, HashSet};

use super::diff::{Fate, subnet_fates};
use super::{Plan, Step, iproute, policy, subnet};
use crate::model::instance::Instance;
use crate::model::kernel_names::subnet_mac;
use crate::model::{State, Status, Subnet, Vpc};

pub fn root_lines(vpc: &Vpc, i: &Instance) -> Vec<String> {
    subnet::port_lines(vpc, &i.namespace, &i.veth, i.ip)
}

pub fn fdb_line(i: &Instance) -> String {
    iproute::fdb_static(&subnet_mac(i.ip), &i.veth)
}

pub fn netns_lines(s: &Subnet, i: &Instance) -> Vec<String> {
    subnet::inside_lines(i.ip, &s.cidr, s.gateway)
}

pub fn teardown_lines(i: &Instance) -> Vec<String> {
    vec![iproute::link_del(&i.veth), iproute::netns_del(&i.namespace)]
}

/// The sysctl that lets hosts of one subnet reach each other through the
/// bridge (see the module doc).
pub fn pvlan_key(vpc: &Vpc) -> String {
    format!("net.ipv4.conf.{}.proxy_arp_pvlan", vpc.bridge)
}

pub fn instance_replaced(before: &Instance, after: &Instance) -> bool {
    before.status == Status::Pending || before.ip != after.ip || before.namespace != after.namespace || before.veth != after.veth
}

/// Each instance of `after`, with its VPC, subnet and the instance it
/// keeps (`None`: made from scratch).
pub fn fates<'a>(before: &'a State, after: &'a State) -> Vec<(&'a Vpc, &'a Subnet, &'a Instance, Option<&'a Instance>)> {
    let mut out = vec![];
    for (v, s, fate) in subnet_fates(before, after) {
        let old = match fate {
            Fate::Kept(o) => o.instances.as_slice(),
            Fate::New => &[],
        };
        for i in &s.instances {
            let kept = old.iter().find(|o| o.name == i.name && !instance_replaced(o, i));
            out.push((v, s, i, kept));
        }
    }
    out
}

/// Instances of `before` whose namespace goes while their VPC stays (a VPC
/// that goes takes them with it, see `plan::vpc::teardown_lines`).
pub fn going<'a>(before: &'a State, after: &'a State) -> Vec<(&'a Vpc, &'a Subnet, &'a Instance)> {
    let kept: HashSet<*const Instance> = fates(before, after).into_iter().filter_map(|(_, _, _, k)| k.map(|k| k as *const _)).collect();
    let mut out = vec![];
    for b in &before.vpcs {
        if after.vpc(b.name.as_str()).is_none_or(|a| super::diff::vpc_replaced(b, a)) {
            continue;
        }
        for (s, i) in b.instances() {
            if !kept.contains(&(i as *const _)) {
                out.push((b, s, i));
            }
        }
    }
    out
}

/// The lines of an instance's policy chains in `vpc`, as written.
#[cfg(test)]
fn rules(vpc: &Vpc, s: &Subnet, i: &Instance) -> Vec<String> {
    let view = vpc.instance_view(s, i);
    policy::rules(vpc, &view, view.policy.as_ref().expect("an instance has a policy"))
}

/// Policies to write: every new instance's, and every kept one whose
/// rules differ (a membership change of a group it references, a rule
/// edited, its groups replaced), or all under `force`. `probed` names the
/// namespaces whose jumps were read (after an unfinished run); otherwise
/// a kept instance has its jumps, since every instance has a policy.
pub fn policies(before: &State, after: &State, force: bool, probed: Option<&std::collections::HashSet<String>>) -> Plan {
    let mut plan = Plan::default();
    let mut changes: HashMap<&str, GroupChanges> = HashMap::new();
    for (v, s, i, kept) in fates(before, after) {
        let rewrite = match kept {
            None => Some(false),
            Some(old) => {
                let bv = before.vpc(v.name.as_str()).expect("kept instance, kept VPC");
                let bs = bv.subnet(s.name.as_str()).expect("kept instance, kept subnet");
                let ch = changes.entry(v.name.as_str()).or_insert_with(|| GroupChanges::between(bv, v));
                (force || bv.resolver_for(bs) != v.resolver_for(s) || ch.touches(v, old, i))
                    .then(|| probed.is_none_or(|p| p.contains(&i.namespace)))
            }
        };
        if let Some(jumps) = rewrite {
            let view = v.instance_view(s, i);
            plan.extend(policy::apply(v, &view, view.policy.as_ref().expect("an instance has a policy"), jumps));
        }
    }
    plan
}

/// What differs between two records of a VPC's groups: whose rules, and
/// whose members (their addresses). An instance's rules are a function of
/// its groups, their rules and the members of the groups those name, so
/// comparing these says which namespaces to rewrite without rendering
/// every instance's rules twice (a 200-member group is 200 rules each).
pub struct GroupChanges {
    rules: HashSet<String>,
    members: HashSet<String>,
}

impl GroupChanges {
    pub fn between(before: &Vpc, after: &Vpc) -> GroupChanges {
        let mut names: HashSet<String> = HashSet::new();
        for v in [before, after] {
            names.extend(v.all_security_groups().into_iter().map(|g| g.name.to_string()));
            names.extend(v.instances().flat_map(|(_, i)| i.security_groups.iter().map(|g| g.to_string())));
        }
        let members = |v: &Vpc| -> HashMap<String, Vec<std::net::Ipv4Addr>> {
            let mut out: HashMap<String, Vec<_>> = HashMap::new();
            for (_, i) in v.instances() {
                for g in &i.security_groups {
                    out.entry(g.to_string()).or_default().push(i.ip);
                }
            }
            out
        };
        let (mb, ma) = (members(before), members(after));
        GroupChanges {
            rules: names.iter().filter(|n| before.security_group(n) != after.security_group(n)).cloned().collect(),
            members: names.iter().filter(|n| mb.get(*n) != ma.get(*n)).cloned().collect(),
        }
    }

    /// Whether `new` (was `old`) needs its rules written again.
    pub fn touches(&self, after: &Vpc, old: &Instance, new: &Instance) -> bool {
        old.security_groups != new.security_groups
            || new.security_groups.iter().any(|g| {
                self.rules.contains(g.as_str())
                    || after.security_group(g.as_str()).is_some_and(|g| g.references().any(|r| self.members.contains(r.as_str())))
            })
    }
}

/// VPCs that get their first instance (or are made with some): their
/// bridge answers ARP within a subnet from now on.
pub fn pvlan_steps(before: &State, after: &State, force: bool) -> Vec<Step> {
    after
        .vpcs
        .iter()
        .filter(|v| v.instances().next().is_some())
        .filter(|v| force || before.vpc(v.name.as_str()).is_none_or(|b| super::diff::vpc_replaced(b, v) || b.instances().next().is_none()))
        .flat_map(|v| {
            [
                Step::Sysctl { netns: None, key: pvlan_key(v), value: "1".into() },
                // Proxy answers are otherwise held back up to 0.8 s.
                Step::Sysctl { netns: None, key: format!("net.ipv4.neigh.{}.proxy_delay", v.bridge), value: "0".into() },
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SubnetKind::Private;
    use crate::model::instance::SecurityGroup;
    use crate::model::testing::vpc;
    use crate::plan::diff::{Facts, plan};

    fn n(s: &str) -> crate::model::Name {
        crate::model::Name::parse("n", s).unwrap()
    }

    fn inst(name: &str, ip: &str, groups: &[&str]) -> Instance {
        Instance {
            name: n(name),
            ip: ip.parse().unwrap(),
            namespace: format!("i-a-{name}"),
            veth: format!("i-a-{name}"),
            security_groups: groups.iter().map(|g| n(g)).collect(),
            apps: vec![],
            status: Status::Ready,
        }
    }

    fn state(instances: Vec<Instance>) -> State {
        let mut v = vpc("a", "10.1.0.0/16", &[("web", "10.1.1.0/24", Private)]);
        let mut app = SecurityGroup::new(n("app"));
        app.ingress.push(crate::model::instance::SgRule {
            protocol: crate::model::policy::Protocol::Tcp,
            ports: Some(crate::model::policy::PortRange { first: 80, last: 80 }),
            cidr: None,
            source_group: Some(n("web")),
        });
        v.security_groups = vec![SecurityGroup::new(n("web")), app];
        v.subnets[0].instances = instances;
        State { vpcs: vec![v], ..State::default() }
    }

    fn script(before: &State, after: &State) -> String {
        let facts = Facts { base: crate::plan::firewall::BasePresence::implied_by(before), ip_forward: "1".into(), ..Facts::default() };
        plan(before, after, &facts).to_script()
    }

    #[test]
    fn a_new_instance_is_a_namespace_with_its_policy_and_only_referencing_namespaces_follow() {
        let before = state(vec![inst("a1", "10.1.1.10", &["app"]), inst("o1", "10.1.1.11", &["web"])]);
        let mut after = before.clone();
        after.vpcs[0].subnets[0].instances.push(inst("w1", "10.1.1.12", &["web"]));
        let s = script(&before, &after);
        assert!(s.contains("netns add i-a-w1") && s.contains("ip -n i-a-w1 -batch"), "{s}");
        assert!(s.contains("fdb replace 02:76:0a:01:01:0c dev i-a-w1 master static"), "{s}");
        assert!(s.contains("ip netns exec i-a-w1 iptables-restore") && s.contains("-I INPUT 1"), "{s}");
        // a1's group admits web: its chain is rewritten, with w1's address; o1's is not.
        assert!(s.contains("ip netns exec i-a-a1 iptables-restore") && s.contains("-s 10.1.1.12/32 --dport 80"), "{s}");
        assert!(!s.contains("i-a-o1"), "o1 references nothing that changed: {s}");
        assert_eq!(s.matches("iptables-restore").count(), 2, "{s}");
        assert!(!s.contains("proxy_arp_pvlan"), "set with the VPC's first instance: {s}");
        let first = script(&state(vec![]), &before);
        assert!(first.contains("echo 1 > /proc/sys/net/ipv4/conf/br-a/proxy_arp_pvlan"), "{first}");
        // Terminating it takes its namespace and rewrites a1 again.
        let s = script(&after, &before);
        assert!(s.contains("link del i-a-w1") && s.contains("netns del i-a-w1"), "{s}");
        assert!(s.contains("ip netns exec i-a-a1 iptables-restore") && !s.contains("10.1.1.12/32 --dport"), "{s}");
        assert!(!s.contains("proxy_arp_pvlan"), "{s}");
    }

    #[test]
    fn a_run_killed_half_way_leaves_a_record_the_next_run_finishes() {
        use crate::plan::diff::{done, in_progress};
        let before = state(vec![inst("a1", "10.1.1.10", &["app"]), inst("gone", "10.1.1.11", &["web"])]);
        let after = state(vec![inst("a1", "10.1.1.10", &["app"]), inst("w1", "10.1.1.12", &["web"])]);
        let mid = in_progress(&before, &after);
        let status = |n: &str| mid.vpcs[0].instance(n).map(|(_, i)| i.status);
        assert_eq!((status("a1"), status("w1"), status("gone")), (Some(Status::Ready), Some(Status::Pending), Some(Status::Pending)));
        // From that record, the next run removes what went and makes what came anew.
        let facts = Facts { force_all: true, ip_forward: "1".into(), ..Facts::default() };
        let s = plan(&mid, &after, &facts).to_script();
        assert!(s.contains("netns del i-a-gone") && s.contains("netns del i-a-w1") && s.contains("netns add i-a-w1"), "{s}");
        assert!(done(after.clone()).vpcs[0].instances().all(|(_, i)| i.status == Status::Ready));
    }

    /// Whatever the edit, a kept instance is rewritten exactly when its
    /// rendered rules differ.
    #[test]
    fn group_changes_say_exactly_whose_rules_differ() {
        use crate::model::instance::SgRule;
        use crate::model::policy::Protocol;
        let base = state(vec![inst("a1", "10.1.1.10", &["app"]), inst("o1", "10.1.1.11", &["web"]), inst("d1", "10.1.1.12", &["default"])]);
        let mut edits: Vec<State> = vec![];
        let mut e = base.clone();
        e.vpcs[0].subnets[0].instances.push(inst("w1", "10.1.1.13", &["web"]));
        edits.push(e);
        let mut e = base.clone();
        e.vpcs[0].subnets[0].instances[1].security_groups = vec![n("web"), n("default")];
        edits.push(e);
        let mut e = base.clone();
        e.vpcs[0].security_groups[0].egress.clear();
        edits.push(e);
        let mut e = base.clone();
        e.vpcs[0].security_groups.push(SecurityGroup {
            ingress: vec![SgRule { protocol: Protocol::Icmp, ports: None, cidr: None, source_group: Some(n("app")) }],
            ..SecurityGroup::default_group()
        });
        edits.push(e);
        let mut e = base.clone();
        e.vpcs[0].subnets[0].instances[0].security_groups = vec![n("default")];
        edits.push(e);
        for (k, after) in edits.iter().enumerate() {
            for (before, after) in [(&base, after), (after, &base)] {
                let (bv, av) = (&before.vpcs[0], &after.vpcs[0]);
                let ch = GroupChanges::between(bv, av);
                for (s, i) in av.instances() {
                    let Some((bs, old)) = bv.instance(i.name.as_str()) else { continue };
                    let differ = rules(bv, bs, old) != rules(av, s, i);
                    assert_eq!(ch.touches(av, old, i), differ, "edit {k}, instance {}", i.name);
                }
            }
        }
    }
}
