//! Where a VPC's names come from. Each VPC with DNS has a resolver
//! (dnsmasq, see `crate::helpers::resolver`) in the host namespace, on the VPC's
//! gateway addresses. What it answers is one hosts file per VPC, and what
//! a subnet asks is its own /etc/netns/<ns>/resolv.conf (which
//! `ip netns exec` puts in place of /etc/resolv.conf). Both are plain
//! files derived from state: a change rewrites the ones whose content
//! differs, and the resolver sees its hosts file change at once (inotify).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Plan, Step};
use crate::model::services::dns_domain;
use crate::model::{State, Subnet, Vpc};

/// Where `ip netns exec` looks for a namespace's resolv.conf.
pub fn resolv_conf_path(s: &Subnet) -> PathBuf {
    PathBuf::from("/etc/netns").join(&s.namespace).join("resolv.conf")
}

/// A subnet asks its VPC's resolver; the search domain lets `getent hosts
/// db` find db.<vpc>.internal.
pub fn resolv_conf(vpc: &Vpc, s: &Subnet) -> String {
    let at = vpc.resolver_for(s).unwrap_or(s.gateway);
    format!("# written by vpcctl: the resolver of VPC {}\nnameserver {at}\nsearch {}\n", vpc.name, dns_domain(vpc.name.as_str()))
}

/// The names a VPC's resolver answers: its own subnets', then each peer's
/// (a peering makes names visible both ways, as in AWS).
pub fn hosts(state: &State, vpc: &Vpc) -> String {
    let mut out = format!("# written by vpcctl: names of VPC {} and its peers\n", vpc.name);
    let mut visible = vec![vpc];
    let mut peers: Vec<&Vpc> =
        state.peerings_of(vpc.name.as_str()).filter_map(|p| state.vpc(p.other(vpc.name.as_str()).as_str())).collect();
    peers.sort_by(|a, b| a.name.cmp(&b.name));
    visible.extend(peers);
    for v in visible {
        let domain = dns_domain(v.name.as_str());
        for s in &v.subnets {
            out.push_str(&format!("{} {}.{domain}\n", s.ip, s.name));
        }
        for (_, i) in v.instances() {
            out.push_str(&format!("{} {}.{domain}\n", i.ip, i.name));
        }
        // Its subnets on other hosts: every host's resolver knows the whole file.
        for r in &v.remote {
            out.push_str(&format!("{} {}.{domain}\n", r.ip, r.name));
            for i in &r.instances {
                out.push_str(&format!("{} {}.{domain}\n", i.ip, i.name));
            }
        }
    }
    out
}

/// Who reads a file of ours: a namespace's resolv.conf, everyone in the
/// subnet; a hosts file, the resolver alone.
pub fn readers(path: &std::path::Path) -> super::Readers {
    if path.starts_with("/etc/netns") { super::Readers::All } else { super::Readers::Resolver }
}

/// Every file `state` implies, with its content.
pub fn files(state: &State) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    for v in &state.vpcs {
        let Some(r) = &v.dns else { continue };
        out.insert(r.hosts_file(), hosts(state, v));
        for s in &v.subnets {
            out.insert(resolv_conf_path(s), resolv_conf(v, s));
        }
        for (s, i) in v.instances() {
            let view = v.instance_place(s, i);
            out.insert(resolv_conf_path(&view), resolv_conf(v, &view));
        }
    }
    out
}

/// Steps that take the files from `before` to `after`: remove what goes,
/// write what is new or differs (everything when `force`).
pub fn sync(before: &State, after: &State, force: bool) -> Plan {
    let (old, new) = (files(before), files(after));
    let mut plan = Plan::default();
    for path in old.keys().filter(|p| !new.contains_key(*p)) {
        plan.push(Step::File { path: path.clone(), content: None, readers: readers(path) });
    }
    for (path, text) in &new {
        if force || old.get(path) != Some(text) {
            plan.push(Step::File { path: path.clone(), content: Some(text.clone()), readers: readers(path) });
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SubnetKind::{Private, Public};
    use crate::model::services::Resolver;
    use crate::model::testing::vpc;
    use crate::model::{Name, Peering};

    fn with_dns(mut v: Vpc) -> Vpc {
        v.dns = Some(Resolver::new(std::path::Path::new("/st"), &v.name));
        v
    }

    fn state() -> State {
        State {
            vpcs: vec![
                with_dns(vpc("a", "10.1.0.0/16", &[("web", "10.1.1.0/24", Public), ("db", "10.1.2.0/24", Private)])),
                with_dns(vpc("b", "10.2.0.0/16", &[("api", "10.2.1.0/24", Private)])),
                with_dns(vpc("c", "10.3.0.0/16", &[("lab", "10.3.1.0/24", Private)])),
            ],
            ..State::default()
        }
    }

    #[test]
    fn names_cross_a_peering_and_nothing_else() {
        let mut st = state();
        st.peerings.push(Peering {
            a: Name::parse("n", "b").unwrap(),
            b: Name::parse("n", "a").unwrap(),
            allow_cidrs: vec![],
            name: None,
            no_routes: false,
        });
        let a = hosts(&st, &st.vpcs[0]);
        assert!(a.contains("10.1.1.2 web.a.internal\n") && a.contains("10.1.2.2 db.a.internal\n"), "{a}");
        assert!(a.contains("10.2.1.2 api.b.internal\n"), "peer's names: {a}");
        assert!(!a.contains("c.internal"), "unpeered VPC's names: {a}");
        let c = hosts(&st, &st.vpcs[2]);
        assert!(!c.contains("a.internal") && !c.contains("b.internal"), "{c}");
        let conf = resolv_conf(&st.vpcs[0], &st.vpcs[0].subnets[1]);
        assert!(conf.contains("nameserver 10.1.2.1\n") && conf.contains("search a.internal\n"), "{conf}");
    }

    #[test]
    fn a_new_subnet_rewrites_its_vpcs_and_its_peers_hosts_files_only() {
        let mut before = state();
        before.peerings.push(Peering {
            a: Name::parse("n", "a").unwrap(),
            b: Name::parse("n", "b").unwrap(),
            allow_cidrs: vec![],
            name: None,
            no_routes: false,
        });
        let mut after = before.clone();
        after.vpcs[0].subnets.push(crate::model::testing::subnet("a", "cache", "10.1.3.0/24", Private));
        let written: Vec<String> = sync(&before, &after, false)
            .steps
            .iter()
            .map(|s| match s {
                Step::File { path, content: Some(_), .. } => path.display().to_string(),
                other => panic!("only writes: {other:?}"),
            })
            .collect();
        assert_eq!(written, ["/etc/netns/ns-a-cache/resolv.conf", "/st/dns/a/hosts", "/st/dns/b/hosts"]);
        assert!(sync(&after, &after, false).steps.is_empty(), "nothing changed, nothing written");
    }

    #[test]
    fn deleting_a_vpc_removes_its_files_and_dns_off_writes_none() {
        let before = state();
        let after = State { vpcs: before.vpcs[1..].to_vec(), ..State::default() };
        let removed: Vec<String> = sync(&before, &after, false)
            .steps
            .iter()
            .map(|s| match s {
                Step::File { path, content: None, .. } => path.display().to_string(),
                other => panic!("only removals: {other:?}"),
            })
            .collect();
        assert_eq!(removed, ["/etc/netns/ns-a-db/resolv.conf", "/etc/netns/ns-a-web/resolv.conf", "/st/dns/a/hosts"]);
        let mut off = before.clone();
        for v in &mut off.vpcs {
            v.dns = None;
        }
        assert!(files(&off).is_empty());
    }
}
