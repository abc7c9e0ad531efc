//! Issue: isolation that holds against root inside a subnet, and inputs
//! that cannot turn against the host. Each attack is tried for real in its
//! own sandbox and must fail.

#[macro_use]
mod common;

use common::Sandbox;

/// vpc1 with subnets a and b; b's policy denies all ingress.
fn two_subnets(sb: &Sandbox) {
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.v(&["add-subnet", "vpc1", "a", "10.10.1.0/24"]);
    sb.v(&["add-subnet", "vpc1", "b", "10.10.2.0/24"]);
    let deny = sb.file("deny.json", r#"{"default_ingress": "deny", "ingress": []}"#);
    sb.v(&["apply-policy", "vpc1", "b", &deny]);
}

/// The link-local address the kernel would give `dev` in `ns` (EUI-64).
fn eui64(sb: &Sandbox, ns: &str) -> String {
    let mac = sb.ok(&format!("ip -n {ns} -o link show eth0 | grep -o 'link/ether [^ ]*' | cut -d' ' -f2"));
    let b: Vec<u8> = mac.trim().split(':').map(|x| u8::from_str_radix(x, 16).unwrap()).collect();
    format!("fe80::{:02x}{:02x}:{:02x}ff:fe{:02x}:{:02x}{:02x}", b[0] ^ 2, b[1], b[2], b[3], b[4], b[5])
}

#[test]
fn ipv6_cannot_bypass_a_deny_all_policy() {
    let sb = sandbox!();
    two_subnets(&sb);
    sb.ok("ip netns exec ns-vpc1-b $VPCCTL serve --bind :: --port 8080 >/dev/null 2>&1 & sleep 0.3");
    assert!(sb.curl("ns-vpc1-a", "http://10.10.2.2:8080/").is_none(), "IPv4 is denied by the policy");
    // No IPv6 address anywhere on vpcctl's interfaces, not even link-local.
    for (ns, dev) in [("ns-vpc1-a", "eth0"), ("ns-vpc1-b", "eth0")] {
        assert_eq!(sb.ok(&format!("ip -n {ns} -6 -o addr show dev {dev}")).trim(), "", "{ns} {dev} has IPv6");
    }
    for dev in ["br-vpc1", "v-vpc1-a", "v-vpc1-b"] {
        assert_eq!(sb.ok(&format!("ip -6 -o addr show dev {dev}")).trim(), "", "{dev} has IPv6");
    }
    // Root in subnet a gives itself IPv6 and tries b's would-be address.
    let target = eui64(&sb, "ns-vpc1-b");
    sb.ok("ip -n ns-vpc1-a link set eth0 addrgenmode eui64; ip -n ns-vpc1-a addr add fe80::bad/64 dev eth0 nodad");
    assert!(!sb.sh(&format!("ip netns exec ns-vpc1-a ping -6 -c1 -W1 {target}%eth0")).ok(), "ping6 to {target} answered");
    let tcp = sb.sh(&format!("ip netns exec ns-vpc1-a curl -g -s -m 2 'http://[{target}%eth0]:8080/'"));
    assert!(!tcp.ok(), "the app answered over IPv6: {tcp:?}");
}
