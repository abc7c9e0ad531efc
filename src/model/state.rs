//! The recorded state: every VPC, subnet, NAT gateway, peering and what
//! vpcctl changed on the host. Pure data; `crate::state::Store` reads and
//! writes it.

use serde::{Deserialize, Serialize};

use super::{Name, Peering, Subnet, Vpc};
use crate::error::InputError;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub schema_version: u32,
    #[serde(default)]
    pub host: HostRecord,
    #[serde(default)]
    pub vpcs: Vec<Vpc>,
    #[serde(default)]
    pub peerings: Vec<Peering>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transit_gateways: Vec<super::routing::TransitGateway>,
    /// This host's place among several (a file with `hosts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fabric: Option<super::fabric::Fabric>,
}

impl Default for State {
    fn default() -> Self {
        State {
            schema_version: SCHEMA_VERSION,
            host: HostRecord::default(),
            vpcs: vec![],
            peerings: vec![],
            transit_gateways: vec![],
            fabric: None,
        }
    }
}

/// What we changed on the host outside our own objects, to put back later.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRecord {
    /// `net.ipv4.ip_forward` before the first VPC, restored after the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_forward_before: Option<String>,
    /// A change was recorded but not known to be fully applied (the run
    /// was killed or failed half-way). The next change re-asserts every
    /// chain and policy instead of trusting state.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_progress: bool,
    /// Suffix of this state dir's own top chains (`VPCCTL-FORWARD<suffix>`),
    /// empty for the default dir. Each state dir jumps to its own chains from
    /// the built-in ones, so several coexist on one host (see
    /// `kernel_names::chain_suffix`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub chain_suffix: String,
    /// The flow log collector, while some VPC has flow logs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_logs: Option<super::services::FlowLogCollector>,
}

/// A helper's record: a PID vpcctl could have started (its process group
/// is what `stop` signals: 1 would be everyone) and absolute paths.
fn check_helper(at: &str, h: &super::services::Helper, paths: &[&std::path::Path]) -> Result<(), (String, String, &'static str)> {
    if h.pid == 1 || h.pid > i32::MAX as u32 {
        return Err((format!("{at}.process.pid"), h.pid.to_string(), "not a process vpcctl could have started"));
    }
    if let Some(p) = paths.iter().find(|p| !p.is_absolute() || p.as_os_str().as_encoded_bytes().iter().any(|b| *b == 0 || *b == b'\n')) {
        return Err((at.to_string(), p.display().to_string(), "not a path vpcctl writes"));
    }
    Ok(())
}

/// The overlay's record: its own host among its hosts, names and keys
/// that reach `ip` and `wg` as vpcctl writes them.
fn check_fabric(f: &super::fabric::Fabric) -> Result<(), (String, String, &'static str)> {
    use super::kernel_names::{IFNAME_MAX, is_ifname, is_ours};
    let bad = |path: &str, value: &dyn std::fmt::Display, why| Err((path.to_string(), value.to_string(), why));
    if f.host(&f.host).is_none() {
        return bad("fabric.host", &f.host, "not one of its hosts");
    }
    if !is_ifname(&f.underlay_interface) {
        return bad("fabric.underlay_interface", &f.underlay_interface, "not an interface name");
    }
    if f.mtu < 576 {
        return bad("fabric.mtu", &f.mtu, "below IPv4's minimum of 576");
    }
    for (i, h) in f.hosts.iter().enumerate() {
        if let Some(u) = h.uplink.as_ref().filter(|u| !is_ifname(u)) {
            return bad(&format!("fabric.hosts[{i}].uplink"), u, "not an interface name");
        }
        if let Some(k) = h.wireguard_public_key.as_ref().filter(|k| !super::fabric::is_wireguard_key(k)) {
            return bad(&format!("fabric.hosts[{i}].wireguard_public_key"), k, "not a WireGuard public key");
        }
    }
    if let Some(w) = &f.wireguard {
        if !is_ours("wg-", &w.interface, IFNAME_MAX) {
            return bad("fabric.wireguard.interface", &w.interface, "not an interface name vpcctl makes");
        }
        check_helper("fabric.wireguard", &w.process, &[&w.key_file])?;
    }
    Ok(())
}

/// The recorded apps of a subnet or an instance at `at`.
fn check_apps(at: &str, apps: &[super::App]) -> Result<(), (String, String, &'static str)> {
    let bad = |path: String, value: &dyn std::fmt::Display, why| Err((path, value.to_string(), why));
    for (k, a) in apps.iter().enumerate() {
        // 0 is "not started yet"; 1 is init, and kill(-1) is everyone.
        if a.pid == 1 || a.pid > i32::MAX as u32 {
            return bad(format!("{at}.apps[{k}].pid"), &a.pid, "not a process vpcctl could have started");
        }
        if a.command.is_empty() || a.command.iter().any(|w| w.contains('\0')) {
            return bad(format!("{at}.apps[{k}].command"), &a.command.join(" "), "not a command");
        }
        // A uid of 0 would make the app root.
        if a.uid.is_some_and(|u| !crate::helpers::apps::APP_UIDS.contains(&u)) {
            return bad(format!("{at}.apps[{k}].uid"), &a.uid.unwrap_or_default(), "not a uid of vpcctl's app range");
        }
        if a.user.as_deref().is_some_and(|u| u.is_empty() || !u.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))) {
            return bad(format!("{at}.apps[{k}].user"), &a.user.as_deref().unwrap_or_default(), "not a user name");
        }
    }
    Ok(())
}

impl State {
    pub fn vpc(&self, name: &str) -> Option<&Vpc> {
        self.vpcs.iter().find(|v| v.name.as_str() == name)
    }

    pub fn vpc_mut(&mut self, name: &str) -> Option<&mut Vpc> {
        self.vpcs.iter_mut().find(|v| v.name.as_str() == name)
    }

    /// The VPC, or the error a user sees for a name that is not there.
    pub fn find_vpc(&self, name: &Name) -> Result<&Vpc, InputError> {
        super::validate::find_vpc(self, name.as_str())
    }

    pub fn find_vpc_mut(&mut self, name: &Name) -> Result<&mut Vpc, InputError> {
        match self.vpcs.iter().position(|v| &v.name == name) {
            Some(i) => Ok(&mut self.vpcs[i]),
            None => Err(super::validate::no_vpc(self, name.as_str())),
        }
    }

    pub fn find_subnet(&self, vpc: &Name, subnet: &Name) -> Result<&Subnet, InputError> {
        super::validate::find_subnet(self.find_vpc(vpc)?, subnet.as_str())
    }

    pub fn find_subnet_mut(&mut self, vpc: &Name, subnet: &Name) -> Result<&mut Subnet, InputError> {
        let v = self.find_vpc_mut(vpc)?;
        match v.subnets.iter().position(|s| &s.name == subnet) {
            Some(i) => Ok(&mut v.subnets[i]),
            None => Err(super::validate::no_subnet(v, subnet.as_str())),
        }
    }

    /// A host of the VPC by name: a subnet (its own namespace) or an
    /// instance (as `Vpc::instance_view`).
    pub fn find_host(&self, vpc: &Name, name: &Name) -> Result<Subnet, InputError> {
        let v = self.find_vpc(vpc)?;
        if let Some(s) = v.subnet(name.as_str()) {
            return Ok(Subnet { instances: vec![], ..s.clone() });
        }
        match (v.instance(name.as_str()), v.remote_host(name.as_str())) {
            (Some((s, i)), _) => Ok(v.instance_view(s, i)),
            (None, Some((_, host))) => Err(InputError::Invalid(format!(
                "{vpc}/{name} lives on host {host}: run this there (each host acts for the subnets and instances on it)"
            ))),
            (None, None) => Err(super::validate::no_host(v, name.as_str())),
        }
    }

    /// The apps of a subnet or an instance, to edit.
    pub fn host_apps_mut(&mut self, vpc: &Name, name: &Name) -> Result<&mut Vec<super::App>, InputError> {
        let v = self.find_vpc_mut(vpc)?;
        if v.subnet(name.as_str()).is_none() && v.instance(name.as_str()).is_none() {
            return Err(super::validate::no_host(v, name.as_str()));
        }
        match v.subnets.iter().position(|s| &s.name == name) {
            Some(i) => Ok(&mut v.subnets[i].apps),
            None => Ok(&mut v.instance_mut(name.as_str()).expect("checked").apps),
        }
    }

    pub fn peerings_of<'a>(&'a self, vpc: &'a str) -> impl Iterator<Item = &'a Peering> + 'a {
        self.peerings.iter().filter(move |p| p.involves(vpc))
    }

    /// Check every field that reaches a command line or a syscall against
    /// what vpcctl itself writes. Returns the field's path, its value and
    /// what is wrong.
    pub fn check(&self) -> Result<(), (String, String, &'static str)> {
        use super::kernel_names::{CHAIN_MAX, IFNAME_MAX, MIN_GROUP, is_ifname, is_ours};
        let bad = |path: String, value: &dyn std::fmt::Display, why| Err((path, value.to_string(), why));
        if let Some(v) = self.host.ip_forward_before.as_deref().filter(|v| !matches!(v.trim(), "0" | "1")) {
            return bad("host.ip_forward_before".into(), &v, "not a value of net.ipv4.ip_forward");
        }
        if !super::kernel_names::is_chain_suffix(&self.host.chain_suffix) {
            return bad("host.chain_suffix".into(), &self.host.chain_suffix, "not a chain suffix vpcctl makes");
        }
        if let Some(c) = &self.host.flow_logs {
            check_helper("host.flow_logs", &c.process, &[&c.dir])?;
        }
        if let Some(f) = &self.fabric {
            check_fabric(f)?;
        }
        for (i, v) in self.vpcs.iter().enumerate() {
            let at = format!("vpcs[{i}]");
            if let Some(m) = v.mtu.filter(|m| *m < 576) {
                return bad(format!("{at}.mtu"), &m, "below IPv4's minimum of 576");
            }
            if let Some((j, r)) = v.remote.iter().enumerate().find(|(_, r)| !v.cidr.contains(&r.cidr) || !r.cidr.contains(&r.ip)) {
                return bad(format!("{at}.remote[{j}].cidr"), &r.cidr, "not a subnet of its VPC holding its address");
            }
            if !is_ours("br-", &v.bridge, IFNAME_MAX) {
                return bad(format!("{at}.bridge"), &v.bridge, "not a bridge name vpcctl makes");
            }
            if !is_ours("VPCCTL-FWD-", &v.chain, CHAIN_MAX) {
                return bad(format!("{at}.chain"), &v.chain, "not a chain name vpcctl makes");
            }
            if super::validate::vpc_cidr(&v.cidr).is_err() {
                return bad(format!("{at}.cidr"), &v.cidr, "not a range a VPC may have");
            }
            if v.link_group < MIN_GROUP {
                return bad(format!("{at}.link_group"), &v.link_group, "not a link group vpcctl uses");
            }
            if let Some(n) = v.nat.as_ref().filter(|n| !is_ifname(&n.interface)) {
                return bad(format!("{at}.nat.interface"), &n.interface, "not an interface name");
            }
            if let Some((k, e)) = v.expose.iter().enumerate().find(|(_, e)| !is_ifname(&e.interface)) {
                return bad(format!("{at}.expose[{k}].interface"), &e.interface, "not an interface name");
            }
            if let Some((k, e)) = v.eips.iter().enumerate().find(|(_, e)| !is_ifname(&e.interface)) {
                return bad(format!("{at}.eips[{k}].interface"), &e.interface, "not an interface name");
            }
            if let Some(r) = &v.dns {
                check_helper(&format!("{at}.dns"), &r.process, &[&r.hosts_dir, &r.log])?;
                if let Some(a) = r.address.filter(|a| !super::services::is_resolver_address(*a)) {
                    return bad(format!("{at}.dns.address"), &a.to_string(), "not a resolver address (169.254.53.0 and up)");
                }
            }
            for (j, s) in v.subnets.iter().enumerate() {
                let at = format!("{at}.subnets[{j}]");
                if !is_ours("v-", &s.veth, IFNAME_MAX) {
                    return bad(format!("{at}.veth"), &s.veth, "not a veth name vpcctl makes");
                }
                if !is_ours("ns-", &s.namespace, 3 + 64) {
                    return bad(format!("{at}.namespace"), &s.namespace, "not a namespace name vpcctl makes");
                }
                if !v.cidr.contains(&s.cidr) || (s.gateway, s.ip) != super::cidr::gateway_and_host(&s.cidr) {
                    return bad(format!("{at}.cidr"), &s.cidr, "the subnet, its gateway and its address do not agree");
                }
                for (k, i) in s.instances.iter().enumerate() {
                    let at = format!("{at}.instances[{k}]");
                    if !is_ours("i-", &i.veth, IFNAME_MAX) {
                        return bad(format!("{at}.veth"), &i.veth, "not a veth name vpcctl makes");
                    }
                    if !is_ours("i-", &i.namespace, 2 + 64) {
                        return bad(format!("{at}.namespace"), &i.namespace, "not a namespace name vpcctl makes");
                    }
                    if !s.cidr.contains(&i.ip) {
                        return bad(format!("{at}.ip"), &i.ip, "not an address of its subnet");
                    }
                    check_apps(&at, &i.apps)?;
                }
                check_apps(&at, &s.apps)?;
            }
            if let Some(g) = &v.internet_gateway
                && !is_ifname(&g.interface)
            {
                return bad(format!("{at}.internet_gateway.interface"), &g.interface, "not an interface name");
            }
            for (j, g) in v.nat_gateways.iter().enumerate() {
                let at = format!("{at}.nat_gateways[{j}]");
                if !is_ours("g-", &g.veth, IFNAME_MAX) {
                    return bad(format!("{at}.veth"), &g.veth, "not a veth name vpcctl makes");
                }
                if !is_ours("ngw-", &g.namespace, 4 + 64) {
                    return bad(format!("{at}.namespace"), &g.namespace, "not a namespace name vpcctl makes");
                }
                if !v.subnet(g.subnet.as_str()).is_some_and(|s| s.cidr.contains(&g.ip)) {
                    return bad(format!("{at}.ip"), &g.ip, "not an address of its subnet");
                }
            }
            if let Some((j, t)) = v.route_tables.iter().enumerate().find(|(_, t)| !super::routing::is_table_id(t.table)) {
                return bad(format!("{at}.route_tables[{j}].table"), &t.table, "not a kernel table vpcctl picks");
            }
        }
        Ok(())
    }

    /// Every interface and namespace name we have recorded, so new names
    /// can be chosen not to collide with them.
    pub fn taken_names(&self) -> std::collections::HashSet<String> {
        let mut names = std::collections::HashSet::new();
        for v in &self.vpcs {
            names.insert(v.bridge.clone());
            for s in &v.subnets {
                names.insert(s.veth.clone());
                names.insert(s.namespace.clone());
            }
            for g in &v.nat_gateways {
                names.insert(g.veth.clone());
                names.insert(g.namespace.clone());
            }
            for (_, i) in v.instances() {
                names.insert(i.veth.clone());
                names.insert(i.namespace.clone());
            }
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::services::{Helper, Resolver};
    use crate::model::testing::vpc;

    #[test]
    fn a_helper_record_that_could_signal_everyone_is_refused() {
        let mut v = vpc("a", "10.1.0.0/16", &[]);
        v.link_group = crate::model::kernel_names::MIN_GROUP;
        v.dns = Some(Resolver::new(std::path::Path::new("/var/lib/vpcctl"), &v.name));
        let mut st = State { vpcs: vec![v], ..State::default() };
        assert_eq!(st.check(), Ok(()));
        st.vpcs[0].dns.as_mut().unwrap().process = Helper { pid: 1, start_time: 0 };
        let (path, value, _) = st.check().unwrap_err();
        assert_eq!((path.as_str(), value.as_str()), ("vpcs[0].dns.process.pid", "1"));
        st.vpcs[0].dns = Some(Resolver::new(std::path::Path::new("relative"), &st.vpcs[0].name));
        assert_eq!(st.check().unwrap_err().0, "vpcs[0].dns");
    }
}
