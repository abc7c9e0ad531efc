//! Kernel object names derived from VPC and subnet names.
//!
//! Linux interface names are at most 15 bytes. Where the readable form
//! (`br-<vpc>`, `v-<vpc>-<subnet>`) does not fit, or collides with a name
//! already taken, we fall back to a readable prefix plus a hash of the full
//! identity. The chosen names are recorded in state, so they never change for
//! an existing resource.

/// Longest Linux interface name (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;
/// Longest iptables chain name.
pub const CHAIN_MAX: usize = 28;
/// Hex digits of hash appended to shortened names.
const HASH_LEN: usize = 6;

/// FNV-1a: tiny, and stable across Rust versions (unlike `DefaultHasher`),
/// which matters because derived names must be reproducible.
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// `readable` if it fits in `max` and is free, else `<prefix><trimmed>-<hash>`
/// with the hash salted until the name is free.
pub fn pick_name(prefix: &str, readable_tail: &str, identity: &str, max: usize, taken: &dyn Fn(&str) -> bool) -> String {
    let readable = format!("{prefix}{readable_tail}");
    if readable.len() <= max && !taken(&readable) {
        return readable;
    }
    let keep = max - prefix.len() - 1 - HASH_LEN;
    let head: String = readable_tail.chars().take(keep).collect();
    let head = head.trim_end_matches('-');
    for salt in 0u32.. {
        let key = if salt == 0 { identity.to_string() } else { format!("{identity}#{salt}") };
        let hash = format!("{:016x}", stable_hash(&key));
        let name = format!("{prefix}{head}-{}", &hash[..HASH_LEN]);
        if !taken(&name) {
            return name;
        }
    }
    unreachable!("u32 salts exhausted")
}

pub fn bridge_name(vpc: &str, taken: &dyn Fn(&str) -> bool) -> String {
    pick_name("br-", vpc, &format!("bridge/{vpc}"), IFNAME_MAX, taken)
}

/// Host-side end of a subnet's veth pair; the inner end is always `eth0`.
pub fn veth_name(vpc: &str, subnet: &str, taken: &dyn Fn(&str) -> bool) -> String {
    pick_name("v-", &format!("{vpc}-{subnet}"), &format!("veth/{vpc}/{subnet}"), IFNAME_MAX, taken)
}

/// Namespace names are files under /run/netns, so length is not the problem,
/// but `ns-a-b-c` is both (vpc a-b, subnet c) and (vpc a, subnet b-c).
pub fn netns_name(vpc: &str, subnet: &str, taken: &dyn Fn(&str) -> bool) -> String {
    pick_name("ns-", &format!("{vpc}-{subnet}"), &format!("netns/{vpc}/{subnet}"), 64, taken)
}

/// Link groups we use: high, so they stay clear of the small numbers
/// administrators pick by hand (group 0 is every link's default).
const GROUP_BASE: u32 = 0x4000_0000;

/// A link group for a VPC, stable for its name and not in `taken`.
pub fn link_group(vpc: &str, taken: &dyn Fn(u32) -> bool) -> u32 {
    for salt in 0u32.. {
        let key = if salt == 0 { format!("group/{vpc}") } else { format!("group/{vpc}#{salt}") };
        let g = GROUP_BASE | (stable_hash(&key) as u32 & 0x3fff_ffff);
        if !taken(g) {
            return g;
        }
    }
    unreachable!("u32 salts exhausted")
}

/// Whether `name` is one that `pick_name` could have made with `prefix`
/// within `max` bytes. State is checked against this on load, so a name
/// edited into state.json cannot smuggle a second command into a batch.
pub fn is_ours(prefix: &str, name: &str, max: usize) -> bool {
    name.len() <= max
        && name
            .strip_prefix(prefix)
            .is_some_and(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
}

/// An interface name the host may have (a NAT uplink): what `ip link`
/// accepts, without anything a shell or a batch line would read specially.
pub fn is_ifname(name: &str) -> bool {
    !name.is_empty() && name.len() <= IFNAME_MAX && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}

/// Smallest link group vpcctl uses.
pub const MIN_GROUP: u32 = GROUP_BASE;

/// The default state dir, whose top chains keep the plain names.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/vpcctl";

/// Suffix of a state dir's top chains: empty for the default dir, else
/// `-` and 8 hex digits of its canonical path. Distinct dirs get distinct
/// chains, so one dir's rewrite of its dispatch chain cannot cut another
/// dir's VPCs off, and its teardown cannot remove them.
pub fn chain_suffix(dir: &std::path::Path) -> String {
    let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()));
    if abs == std::path::Path::new(DEFAULT_STATE_DIR) {
        return String::new();
    }
    format!("-{:08x}", stable_hash(&abs.to_string_lossy()) as u32)
}

pub fn is_chain_suffix(s: &str) -> bool {
    s.is_empty() || s.strip_prefix('-').is_some_and(|h| h.len() == 8 && h.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)))
}

/// Per-VPC filter chain. Derived from the bridge name, which is already unique.
pub fn vpc_chain(bridge: &str) -> String {
    let tail = bridge.strip_prefix("br-").unwrap_or(bridge);
    let chain = format!("VPCCTL-FWD-{tail}");
    debug_assert!(chain.len() <= CHAIN_MAX);
    chain
}

/// Per-VPC nat chain.
pub fn vpc_nat_chain(bridge: &str) -> String {
    let tail = bridge.strip_prefix("br-").unwrap_or(bridge);
    format!("VPCCTL-NAT-{tail}")
}

/// Per-VPC ebtables chain: which source addresses each bridge port may use.
/// The MAC of a subnet's `eth0`: fixed, so that the bridge's static FDB
/// entry and the anti-spoofing rules can name it. Locally administered,
/// unicast, and the subnet's address in its last four bytes (unique on
/// its bridge, readable in `bridge fdb`).
pub fn subnet_mac(ip: std::net::Ipv4Addr) -> String {
    subnet_mac_bytes(ip).map(|b| format!("{b:02x}")).join(":")
}

pub fn subnet_mac_bytes(ip: std::net::Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x76, a, b, c, d]
}

pub fn vpc_spoof_chain(bridge: &str) -> String {
    let tail = bridge.strip_prefix("br-").unwrap_or(bridge);
    format!("VPCCTL-AS-{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn free(_: &str) -> bool {
        false
    }

    #[test]
    fn each_state_dir_has_its_own_chain_suffix() {
        assert_eq!(chain_suffix(std::path::Path::new(DEFAULT_STATE_DIR)), "");
        let a = chain_suffix(std::path::Path::new("/tmp/vpcctl-a-not-there"));
        let b = chain_suffix(std::path::Path::new("/tmp/vpcctl-b-not-there"));
        assert!(is_chain_suffix(&a) && is_chain_suffix(&b) && a != b && !a.is_empty(), "{a} {b}");
        assert_eq!(format!("VPCCTL-POSTROUTING{a}").len(), 27, "fits iptables' 28");
        assert!(!is_chain_suffix("-1234567") && !is_chain_suffix("x12345678") && !is_chain_suffix("-ABCDEF12"));
    }

    #[test]
    fn short_names_stay_readable() {
        assert_eq!(bridge_name("vpc1", &free), "br-vpc1");
        assert_eq!(veth_name("vpc1", "public", &free), "v-vpc1-public");
        assert_eq!(netns_name("vpc1", "public", &free), "ns-vpc1-public");
        assert_eq!(vpc_chain("br-vpc1"), "VPCCTL-FWD-vpc1");
    }

    #[test]
    fn long_names_are_shortened_and_distinct() {
        let a = veth_name("production", "public1", &free);
        let b = veth_name("production", "public2", &free);
        assert!(a.len() <= IFNAME_MAX && b.len() <= IFNAME_MAX, "{a} {b}");
        assert_ne!(a, b);
        assert!(a.starts_with("v-produc"), "{a}");
        let long = "x".repeat(32);
        let br = bridge_name(&long, &free);
        assert!(br.len() <= IFNAME_MAX && br.starts_with("br-xxx"), "{br}");
        assert!(vpc_chain(&br).len() <= CHAIN_MAX);
        assert!(vpc_nat_chain(&br).len() <= CHAIN_MAX);
    }

    #[test]
    fn names_sharing_a_prefix_do_not_collide() {
        let b1 = bridge_name("production-east", &free);
        let b2 = bridge_name("production-west", &free);
        assert_ne!(b1, b2);
        let v1 = veth_name("production-east", "web", &free);
        let v2 = veth_name("production-west", "web", &free);
        assert_ne!(v1, v2);
    }

    #[test]
    fn a_taken_name_is_never_reused() {
        // (vpc "a-b", subnet "c") and (vpc "a", subnet "b-c") read the same.
        let mut taken: HashSet<String> = HashSet::new();
        let first = veth_name("a-b", "c", &|n| taken.contains(n));
        taken.insert(first.clone());
        let second = veth_name("a", "b-c", &|n| taken.contains(n));
        assert_eq!(first, "v-a-b-c");
        assert_ne!(first, second);
        assert!(second.len() <= IFNAME_MAX);
        let ns1 = netns_name("a-b", "c", &free);
        let ns2 = netns_name("a", "b-c", &|n| n == ns1);
        assert_ne!(ns1, ns2);
    }

    #[test]
    fn link_groups_are_high_and_distinct() {
        let g = link_group("vpc1", &|_| false);
        assert!(g >= GROUP_BASE);
        assert_eq!(g, link_group("vpc1", &|_| false), "stable");
        assert_ne!(link_group("vpc1", &|x| x == g), g);
    }

    #[test]
    fn many_subnets_in_one_long_vpc_get_unique_names() {
        let mut taken: HashSet<String> = HashSet::new();
        for i in 0..500 {
            let n = veth_name("a-very-long-vpc-name", &format!("subnet-{i}"), &|n| taken.contains(n));
            assert!(n.len() <= IFNAME_MAX);
            assert!(taken.insert(n));
        }
    }
}
