//! Plans for adding and deleting a subnet: one namespace wired to the VPC
//! bridge by a veth pair.

use super::firewall::{self, BasePresence};
use super::{Plan, Step};
use crate::iproute;
use crate::model::{Subnet, Vpc};
use crate::state::State;

/// Name of the subnet's interface inside its namespace.
pub const INNER_IF: &str = "eth0";

/// One root batch and one batch inside the namespace, plus firewall changes
/// if the subnet changes its VPC's rules (e.g. a public subnet under NAT).
pub fn add(before: &State, after: &State, vpc: &Vpc, s: &Subnet, base: BasePresence) -> Plan {
    let mut plan = Plan::default();
    plan.extend(firewall::sync(before, after, &[], base));
    plan.push(Step::ip(
        None,
        vec![
            iproute::netns_add(&s.namespace),
            iproute::veth_into_netns(&s.veth, vpc.link_group, &s.namespace, INNER_IF),
            iproute::attach_up(&s.veth, &vpc.bridge),
            iproute::addr_add(s.gateway, &s.cidr, &vpc.bridge),
        ],
    ));
    plan.push(Step::ip(
        Some(&s.namespace),
        vec![
            iproute::link_up("lo"),
            iproute::addr_add(s.ip, &s.cidr, INNER_IF),
            iproute::link_up(INNER_IF),
            iproute::default_route(s.gateway),
        ],
    ));
    plan
}

/// Lines that remove a subnet's objects from the root namespace. Deleting
/// the host end of the veth removes both ends at once.
pub fn teardown_lines(s: &Subnet) -> Vec<String> {
    vec![iproute::link_del(&s.veth), iproute::netns_del(&s.namespace)]
}

pub fn delete(before: &State, after: &State, vpc: &Vpc, s: &Subnet, base: BasePresence) -> Plan {
    let mut lines = teardown_lines(s);
    lines.push(iproute::addr_del(s.gateway, &s.cidr, &vpc.bridge));
    let mut plan = Plan::default();
    plan.push(Step::ip_tolerant(None, lines));
    plan.extend(firewall::sync(before, after, &[], base));
    plan
}
