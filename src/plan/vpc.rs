//! Plans for creating and deleting a VPC.

use super::firewall::{self, BasePresence};
use super::{Plan, Step};
use crate::iproute;
use crate::model::Vpc;
use crate::state::State;

pub const IP_FORWARD: &str = "net.ipv4.ip_forward";

/// Create the VPC `name`, which `after` holds (and `before` does not).
/// `ip_forward` is the host's current value.
pub fn create(before: &State, after: &State, name: &str, base: BasePresence, ip_forward: &str) -> Plan {
    let vpc = after.vpc(name).expect("planned VPC is in state");
    let mut plan = Plan::default();
    // Firewall first, so there is no moment where the bridge forwards
    // without our rules in front of it.
    plan.extend(firewall::sync(before, after, &[name], base));
    plan.push(Step::ip(
        None,
        vec![
            iproute::bridge_add(&vpc.bridge, vpc.link_group),
            iproute::link_up(&vpc.bridge),
            iproute::route_unreachable_add(&vpc.cidr),
        ],
    ));
    if ip_forward.trim() != "1" {
        plan.push(Step::Sysctl { key: IP_FORWARD.into(), value: "1".into() });
    }
    plan
}

/// Kernel objects of a VPC, removed whether or not they exist, in one
/// batch: the bridge and all veths at once (their link group), then the
/// namespaces, now empty and cheap to drop.
pub fn teardown_objects(vpc: &Vpc) -> Plan {
    let mut lines = vec![iproute::route_unreachable_del(&vpc.cidr), iproute::link_del_group(vpc.link_group)];
    lines.extend(vpc.subnets.iter().map(|s| iproute::netns_del(&s.namespace)));
    // In case the bridge lost its group (it never should): by name too.
    lines.push(iproute::link_del(&vpc.bridge));
    let mut plan = Plan::default();
    plan.push(Step::ip_tolerant(None, lines));
    plan
}

/// Delete `name`, present in `before` and gone from `after`.
pub fn delete(before: &State, after: &State, name: &str, base: BasePresence) -> Plan {
    let vpc = before.vpc(name).expect("VPC to delete is in state");
    let mut plan = teardown_objects(vpc);
    plan.extend(firewall::sync(before, after, &[], base));
    if after.vpcs.is_empty() {
        if let Some(v) = before.host.ip_forward_before.as_deref().filter(|v| v.trim() != "1") {
            plan.push(Step::Sysctl { key: IP_FORWARD.into(), value: v.trim().to_string() });
        }
    }
    plan
}
