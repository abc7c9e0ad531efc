//! The kernel objects of a VPC: a bridge (with every veth of the VPC in its
//! link group) and an unreachable route over its whole range.

use crate::model::Vpc;
use crate::plan::iproute;

pub const IP_FORWARD: &str = "net.ipv4.ip_forward";

/// Lines that make the VPC's own objects (its subnets come separately).
pub fn create_lines(vpc: &Vpc) -> Vec<String> {
    let mut lines = bridge_lines(vpc);
    lines.push(iproute::route_unreachable_add(&vpc.cidr));
    lines.extend(vpc.resolver_address().map(|a| iproute::addr_add(a, &host_net(a), &vpc.bridge)));
    lines
}

/// `a` alone, as a /32.
pub fn host_net(a: std::net::Ipv4Addr) -> ipnet::Ipv4Net {
    ipnet::Ipv4Net::new(a, 32).expect("a /32 is a valid prefix")
}

/// A kept VPC whose resolver address comes, goes or moves: the bridge follows.
pub fn resolver_address_lines(before: &Vpc, after: &Vpc) -> Vec<String> {
    let (old, new) = (before.resolver_address(), after.resolver_address());
    if old == new {
        return vec![];
    }
    let mut lines: Vec<String> = old.map(|a| iproute::addr_del(a, &host_net(a), &after.bridge)).into_iter().collect();
    lines.extend(new.map(|a| iproute::addr_add(a, &host_net(a), &after.bridge)));
    lines
}

/// The bridge, up, with no IPv6 address (set before it comes up).
pub fn bridge_lines(vpc: &Vpc) -> Vec<String> {
    vec![iproute::bridge_add(&vpc.bridge, vpc.link_group), iproute::no_ipv6(&vpc.bridge), iproute::link_up(&vpc.bridge)]
}

/// Lines that remove a VPC's objects whether or not they exist, for one
/// tolerant batch: the bridge and all veths at once (their link group),
/// then the namespaces, now empty and cheap to drop.
pub fn teardown_lines(vpc: &Vpc) -> Vec<String> {
    let mut lines = vec![iproute::route_unreachable_del(&vpc.cidr), iproute::link_del_group(vpc.link_group)];
    lines.extend(vpc.subnets.iter().map(|s| iproute::netns_del(&s.namespace)));
    lines.extend(vpc.instances().map(|(_, i)| iproute::netns_del(&i.namespace)));
    // In case the bridge lost its group (it never should): by name too.
    lines.push(iproute::link_del(&vpc.bridge));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teardown_deletes_the_link_group_then_namespaces() {
        let v: Vpc = serde_json::from_str(
            r#"{"name":"v","cidr":"10.1.0.0/16","bridge":"br-v","link_group":1073741830,"chain":"VPCCTL-FWD-v","status":"ready",
            "subnets":[{"name":"web","cidr":"10.1.1.0/24","type":"public","namespace":"ns-v-web","veth":"v-v-web",
            "gateway":"10.1.1.1","ip":"10.1.1.2","status":"ready"}]}"#,
        )
        .unwrap();
        assert_eq!(
            teardown_lines(&v),
            ["route del unreachable 10.1.0.0/16", "link del group 1073741830", "netns del ns-v-web", "link del br-v"]
        );
        let create = create_lines(&v);
        assert!(create[0].starts_with("link add br-v address 02:") && create[0].ends_with("group 1073741830 type bridge"));
        assert_eq!(create[1..], ["link set br-v addrgenmode none", "link set br-v up", "route add unreachable 10.1.0.0/16"]);
    }
}
