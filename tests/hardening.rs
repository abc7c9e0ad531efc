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

#[test]
fn address_spaces_that_cut_the_host_off_are_refused() {
    let sb = sandbox!();
    sb.docker_like_host();
    let snap = sb.snapshot();
    for (cidr, why) in [
        ("0.0.0.0/8", "0.0.0.0/8"),
        ("127.10.0.0/16", "loopback"),
        ("169.254.0.0/16", "metadata"),
        ("224.1.0.0/16", "multicast"),
        ("240.0.0.0/8", "reserved"),
    ] {
        let out = sb.refused(&["create-vpc", "v", cidr], why);
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stderr.contains("10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"), "{out:?}");
    }
    // A range over an address the host holds (here a /32 on lo, which no
    // main-table route shows) would take it from the host.
    sb.ok("ip addr add 192.0.2.7/32 dev lo");
    let snap_with_addrs = sb.snapshot();
    sb.refused(&["create-vpc", "v", "192.0.2.0/24"], "covers 192.0.2.7, an address of this host (on lo)");
    let file = sb.file("t.json", r#"{"vpcs": {"v": {"cidr": "192.0.2.0/24"}}}"#);
    sb.refused(&["apply", "-f", &file], "covers 192.0.2.7");
    // An address the host gains inside a VPC later keeps its range from subnets.
    sb.v(&["create-vpc", "vpc1", "10.10.0.0/16"]);
    sb.ok("ip addr add 10.10.9.9/32 dev lo");
    sb.refused(&["add-subnet", "vpc1", "s", "10.10.9.0/24"], "covers 10.10.9.9, an address of this host (on lo)");
    sb.v(&["add-subnet", "vpc1", "s", "10.10.8.0/24"]);
    sb.v(&["teardown-all"]);
    sb.ok("ip addr del 10.10.9.9/32 dev lo");
    assert_eq!(sb.snapshot(), snap_with_addrs);
    sb.ok("ip addr del 192.0.2.7/32 dev lo");
    assert_eq!(sb.snapshot(), snap);
}
