//! Instances and security groups, as AWS has them.
//!
//! An instance is a namespace of its own on the VPC's bridge, with an
//! address of its subnet (the subnet's own namespace, at .2, stays). Its
//! firewall is the union of its security groups: allow rules only,
//! stateful, default deny. A rule names a CIDR or another group; a group
//! means the addresses of its members now, so a membership change rewrites
//! the policy of exactly the instances whose groups name that group.
//!
//! Every VPC has a group `default` (admits its own members, allows all
//! egress) without it being recorded: it is recorded only once a user
//! edits its rules.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::policy::{Action, Policy, PortRange, Protocol, Rule};
use super::{App, Name, Status, Subnet, Vpc};

/// The group every VPC has.
pub const DEFAULT_GROUP: &str = "default";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub name: Name,
    pub ip: Ipv4Addr,
    pub namespace: String,
    /// Host-side veth end, on the VPC bridge; `eth0` inside.
    pub veth: String,
    pub security_groups: Vec<Name>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<App>,
    pub status: Status,
}

/// One allow rule. `cidr` or `source_group` names the peer: the source
/// for ingress, the destination for egress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SgRule {
    pub protocol: Protocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<Ipv4Net>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_group: Option<Name>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub name: Name,
    #[serde(default)]
    pub ingress: Vec<SgRule>,
    #[serde(default)]
    pub egress: Vec<SgRule>,
}

impl SgRule {
    pub fn all_to(cidr: Ipv4Net) -> SgRule {
        SgRule { protocol: Protocol::All, ports: None, cidr: Some(cidr), source_group: None }
    }

    /// Whether it could carry `p` to `port`, whoever the peer.
    pub fn carries(&self, p: super::Proto, port: Option<u16>) -> bool {
        self.protocol.carries(p) && self.ports.is_none_or(|r| port.is_some_and(|n| r.first <= n && n <= r.last))
    }
}

impl std::fmt::Display for SgRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.protocol.word())?;
        if let Some(p) = self.ports {
            write!(f, " {}", p.to_string().replace(':', "-"))?;
        }
        match (&self.cidr, &self.source_group) {
            (Some(c), _) => write!(f, " {c}"),
            (None, Some(g)) => write!(f, " group {g}"),
            (None, None) => Ok(()),
        }
    }
}

impl SecurityGroup {
    /// A new group: all egress, no ingress.
    pub fn new(name: Name) -> SecurityGroup {
        SecurityGroup { name, ingress: vec![], egress: vec![SgRule::all_to(any())] }
    }

    /// The `default` group as AWS makes it.
    pub fn default_group() -> SecurityGroup {
        let name = Name::parse("security group name", DEFAULT_GROUP).expect("a valid name");
        let own = SgRule { protocol: Protocol::All, ports: None, cidr: None, source_group: Some(name.clone()) };
        SecurityGroup { ingress: vec![own], ..SecurityGroup::new(name) }
    }

    /// The groups its rules name.
    pub fn references(&self) -> impl Iterator<Item = &Name> {
        self.ingress.iter().chain(&self.egress).filter_map(|r| r.source_group.as_ref())
    }
}

pub fn any() -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::UNSPECIFIED, 0).expect("0.0.0.0/0")
}

impl Vpc {
    /// Group `name`: recorded, or the implicit `default`.
    pub fn security_group(&self, name: &str) -> Option<SecurityGroup> {
        match self.security_groups.iter().find(|g| g.name.as_str() == name) {
            Some(g) => Some(g.clone()),
            None if name == DEFAULT_GROUP => Some(SecurityGroup::default_group()),
            None => None,
        }
    }

    /// Every group, `default` first.
    pub fn all_security_groups(&self) -> Vec<SecurityGroup> {
        let mut out = vec![self.security_group(DEFAULT_GROUP).expect("default exists")];
        out.extend(self.security_groups.iter().filter(|g| g.name.as_str() != DEFAULT_GROUP).cloned());
        out
    }

    /// Its instances, with their subnets.
    pub fn instances(&self) -> impl Iterator<Item = (&Subnet, &Instance)> {
        self.subnets.iter().flat_map(|s| s.instances.iter().map(move |i| (s, i)))
    }

    pub fn instance(&self, name: &str) -> Option<(&Subnet, &Instance)> {
        self.instances().find(|(_, i)| i.name.as_str() == name)
    }

    pub fn instance_mut(&mut self, name: &str) -> Option<&mut Instance> {
        self.subnets.iter_mut().flat_map(|s| s.instances.iter_mut()).find(|i| i.name.as_str() == name)
    }

    /// The instance at `ip`, if one is.
    pub fn instance_at(&self, ip: Ipv4Addr) -> Option<(&Subnet, &Instance)> {
        self.instances().find(|(_, i)| i.ip == ip)
    }

    /// The addresses of `group`'s members, in instance order.
    pub fn members(&self, group: &str) -> Vec<Ipv4Addr> {
        let here = self.instances().filter(|(_, i)| i.security_groups.iter().any(|g| g.as_str() == group)).map(|(_, i)| i.ip);
        // Members on other hosts count as much as these: the rule is by address.
        let elsewhere = self.remote.iter().flat_map(|r| &r.instances).filter(|i| i.security_groups.iter().any(|g| g.as_str() == group));
        here.chain(elsewhere.map(|i| i.ip)).collect()
    }

    /// The firewall of `inst`: its groups' rules, references expanded to
    /// their members' addresses, in a form the policy planner writes.
    pub fn instance_policy(&self, inst: &Instance) -> Policy {
        let mut ingress = vec![];
        let mut egress = vec![];
        for gname in &inst.security_groups {
            let Some(g) = self.security_group(gname.as_str()) else { continue };
            for (dir, rules, out) in [("ingress", &g.ingress, &mut ingress), ("egress", &g.egress, &mut egress)] {
                for (i, r) in rules.iter().enumerate() {
                    let tag = format!("sg={} {dir}[{i}]", g.name);
                    let rule = |cidr: Option<Ipv4Net>, description: String| Rule {
                        protocol: r.protocol,
                        ports: r.ports,
                        action: Action::Allow,
                        cidr: cidr.filter(|c| c.prefix_len() != 0),
                        description: Some(description),
                    };
                    match (&r.cidr, &r.source_group) {
                        (Some(c), _) => out.push(rule(Some(*c), tag)),
                        (None, Some(src)) => {
                            for ip in self.members(src.as_str()) {
                                out.push(rule(Some(Ipv4Net::from(ip)), format!("{tag} group={src}")));
                            }
                        }
                        (None, None) => out.push(rule(None, tag)),
                    }
                }
            }
        }
        Policy { subnet: None, default_ingress: Action::Deny, default_egress: Action::Deny, ingress, egress }
    }

    /// `inst` seen as a namespace of its subnet `s`: the subnet's name,
    /// CIDR, gateway and NACL, the instance's address, interfaces, apps
    /// and firewall. Planners and the analyzer that walk namespaces on the
    /// bridge take it as they take a subnet.
    pub fn instance_view(&self, s: &Subnet, inst: &Instance) -> Subnet {
        Subnet { policy: Some(self.instance_policy(inst)), ..self.instance_place(s, inst) }
    }

    /// `instance_view` without its firewall, for what needs only where it
    /// is (its namespace's files, its bridge port).
    pub fn instance_place(&self, s: &Subnet, inst: &Instance) -> Subnet {
        // Field by field: cloning `s` whole would clone its instances too.
        Subnet {
            name: s.name.clone(),
            cidr: s.cidr,
            kind: s.kind,
            namespace: inst.namespace.clone(),
            veth: inst.veth.clone(),
            gateway: s.gateway,
            ip: inst.ip,
            status: inst.status,
            policy: None,
            apps: inst.apps.clone(),
            nacl: s.nacl.clone(),
            instances: vec![],
        }
    }

    /// The host named `name`: a subnet's own namespace, or an instance (as
    /// `instance_place`). Elastic IPs name one.
    pub fn host_named(&self, name: &str) -> Option<Subnet> {
        if let Some(s) = self.subnet(name) {
            return Some(Subnet { instances: vec![], ..s.clone() });
        }
        self.instance(name).map(|(s, i)| self.instance_place(s, i))
    }

    /// The elastic IP of host `s` (a subnet's namespace or an instance view).
    pub fn eip_of(&self, s: &Subnet) -> Option<&super::services::Eip> {
        let name = match self.instances().find(|(_, i)| i.namespace == s.namespace) {
            Some((_, i)) => i.name.as_str(),
            None => s.name.as_str(),
        };
        self.eips.iter().find(|e| e.subnet.as_str() == name)
    }

    /// Every namespace on the bridge that is a host of the VPC: each
    /// subnet's own, then the instances (as `instance_view`s).
    pub fn hosts(&self) -> Vec<Subnet> {
        let mut out: Vec<Subnet> = self.subnets.iter().map(|s| Subnet { instances: vec![], ..s.clone() }).collect();
        out.extend(self.instances().map(|(s, i)| self.instance_view(s, i)));
        out
    }

    /// `vpc/name` of the host at `s` (a subnet's namespace or an instance view).
    pub fn label(&self, s: &Subnet) -> String {
        match self.instances().find(|(_, i)| i.namespace == s.namespace) {
            Some((_, i)) => format!("{}/{}", self.name, i.name),
            None => format!("{}/{}", self.name, s.name),
        }
    }

    /// The groups whose rules name `group`.
    pub fn referencing(&self, group: &str) -> Vec<Name> {
        self.all_security_groups().into_iter().filter(|g| g.references().any(|r| r.as_str() == group)).map(|g| g.name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SubnetKind::Private;
    use crate::model::testing::vpc;

    fn n(s: &str) -> Name {
        Name::parse("n", s).unwrap()
    }

    pub fn instance(name: &str, ip: &str, groups: &[&str]) -> Instance {
        Instance {
            name: n(name),
            ip: ip.parse().unwrap(),
            namespace: format!("i-{name}"),
            veth: format!("i-{name}"),
            security_groups: groups.iter().map(|g| n(g)).collect(),
            apps: vec![],
            status: Status::Ready,
        }
    }

    #[test]
    fn references_expand_to_the_members_and_default_admits_its_own() {
        let mut v = vpc("a", "10.1.0.0/16", &[("web", "10.1.1.0/24", Private), ("app", "10.1.2.0/24", Private)]);
        let mut app = SecurityGroup::new(n("app"));
        app.ingress.push(SgRule {
            protocol: Protocol::Tcp,
            ports: Some(PortRange { first: 8080, last: 8080 }),
            cidr: None,
            source_group: Some(n("web")),
        });
        v.security_groups = vec![SecurityGroup::new(n("web")), app];
        v.subnets[0].instances = vec![instance("w1", "10.1.1.4", &["web"]), instance("w2", "10.1.1.5", &["web", "default"])];
        v.subnets[1].instances = vec![instance("a1", "10.1.2.4", &["app"]), instance("d1", "10.1.2.5", &[])];
        let (_, a1) = v.instance("a1").unwrap();
        let p = v.instance_policy(a1);
        let from: Vec<String> = p.ingress.iter().map(|r| r.cidr.unwrap().to_string()).collect();
        assert_eq!(from, ["10.1.1.4/32", "10.1.1.5/32"]);
        assert_eq!(p.default_ingress, Action::Deny);
        assert!(p.egress.len() == 1 && p.egress[0].cidr.is_none(), "all egress: {:?}", p.egress);
        let (_, w2) = v.instance("w2").unwrap();
        let own: Vec<String> = v.instance_policy(w2).ingress.iter().map(|r| r.cidr.unwrap().to_string()).collect();
        assert_eq!(own, ["10.1.1.5/32"], "default admits its members (w2 alone is in default)");
        assert_eq!(v.referencing("web"), [n("app")]);
        assert_eq!(v.referencing("default"), [n("default")]);
        assert_eq!(v.label(&v.instance_view(&v.subnets[0], v.instance("w1").unwrap().1)), "a/w1");
        assert_eq!(v.hosts().len(), 6);
    }
}
