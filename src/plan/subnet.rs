//! The kernel objects of a subnet: one namespace wired to the VPC bridge by
//! a veth pair, the gateway address on the bridge, and inside the
//! namespace its address and default route.

use crate::model::kernel_names::subnet_mac;
use crate::model::{Subnet, Vpc};
use crate::plan::iproute;

/// Name of the subnet's interface inside its namespace.
pub const INNER_IF: &str = "eth0";

/// Lines for the root namespace's batch.
pub fn root_lines(vpc: &Vpc, s: &Subnet) -> Vec<String> {
    let mut lines = port_lines(vpc, &s.namespace, &s.veth, s.ip);
    lines.push(iproute::addr_add(s.gateway, &s.cidr, &vpc.bridge));
    lines
}

/// A namespace on the VPC's bridge (a subnet's, or a NAT gateway's): the
/// namespace, its veth with a fixed MAC derived from `ip`, and a guarded
/// bridge port.
pub fn port_lines(vpc: &Vpc, netns: &str, veth: &str, ip: std::net::Ipv4Addr) -> Vec<String> {
    vec![
        iproute::netns_add(netns),
        iproute::veth_into_netns(veth, vpc.link_group, netns, INNER_IF, &subnet_mac(ip), vpc.mtu),
        iproute::no_ipv6(veth),
        iproute::attach_up(veth, &vpc.bridge),
        iproute::bridge_port(veth),
    ]
}

/// Lines for `bridge -batch`: the port's static FDB entry.
pub fn fdb_lines(s: &Subnet) -> Vec<String> {
    vec![iproute::fdb_static(&subnet_mac(s.ip), &s.veth)]
}

/// Lines for the batch inside the subnet's namespace.
pub fn netns_lines(s: &Subnet) -> Vec<String> {
    inside_lines(s.ip, &s.cidr, s.gateway)
}

/// Inside a namespace on the bridge: its address in `cidr`, and the
/// default route via the subnet's gateway.
pub fn inside_lines(ip: std::net::Ipv4Addr, cidr: &ipnet::Ipv4Net, gateway: std::net::Ipv4Addr) -> Vec<String> {
    vec![
        iproute::link_up("lo"),
        iproute::addr_add(ip, cidr, INNER_IF),
        iproute::no_ipv6(INNER_IF),
        iproute::link_up(INNER_IF),
        iproute::default_route(gateway),
    ]
}

/// Lines that remove a subnet's objects from the root namespace. Deleting
/// the host end of the veth removes both ends at once.
pub fn teardown_lines(s: &Subnet) -> Vec<String> {
    vec![iproute::link_del(&s.veth), iproute::netns_del(&s.namespace)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subnet_is_six_root_lines_five_inside_and_its_fdb_entry() {
        let v: Vpc = serde_json::from_str(
            r#"{"name":"v","cidr":"10.1.0.0/16","bridge":"br-v","link_group":9,"chain":"VPCCTL-FWD-v","status":"ready",
            "subnets":[{"name":"web","cidr":"10.1.1.0/24","type":"public","namespace":"ns-v-web","veth":"v-v-web",
            "gateway":"10.1.1.1","ip":"10.1.1.2","status":"ready"}]}"#,
        )
        .unwrap();
        let s = &v.subnets[0];
        assert_eq!(
            root_lines(&v, s),
            [
                "netns add ns-v-web",
                "link add v-v-web group 9 type veth peer name eth0 address 02:76:0a:01:01:02 netns ns-v-web",
                "link set v-v-web addrgenmode none",
                "link set v-v-web master br-v up",
                "link set v-v-web type bridge_slave learning off flood off isolated on",
                "addr add 10.1.1.1/24 dev br-v"
            ]
        );
        assert_eq!(
            netns_lines(s),
            [
                "link set lo up",
                "addr add 10.1.1.2/24 dev eth0",
                "link set eth0 addrgenmode none",
                "link set eth0 up",
                "route add default via 10.1.1.1"
            ]
        );
        assert_eq!(fdb_lines(s), ["fdb replace 02:76:0a:01:01:02 dev v-v-web master static"]);
        assert_eq!(teardown_lines(s), ["link del v-v-web", "netns del ns-v-web"]);
    }
}
