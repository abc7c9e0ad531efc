//! IPv4 CIDR parsing with errors that say which network was meant.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::error::InputError;

/// Smallest subnet we accept: a /30 holds a gateway and one address.
pub const MAX_SUBNET_PREFIX: u8 = 30;

pub fn parse(what: &'static str, raw: &str) -> Result<Ipv4Net, InputError> {
    let bad = |why: String| InputError::BadCidr { what, value: raw.to_string(), why };
    if raw.contains(':') {
        return Err(bad("only IPv4 is supported".into()));
    }
    let net: Ipv4Net = match raw.parse() {
        Ok(n) => n,
        Err(_) if raw.parse::<Ipv4Addr>().is_ok() => {
            return Err(bad("it has no prefix length; write it as ADDRESS/PREFIX, e.g. 10.10.0.0/16".into()));
        }
        Err(_) => return Err(bad("it is not an IPv4 CIDR like 10.10.0.0/16".into())),
    };
    if net.addr() != net.network() {
        return Err(bad(format!("host bits are set; did you mean {}/{}?", net.network(), net.prefix_len())));
    }
    Ok(net)
}

/// Ranges no VPC may use, and why: the host needs them to stay itself.
pub const RESERVED: [(&str, &str); 5] = [
    ("0.0.0.0/8", "\"this network\", which no host can be reached at"),
    ("127.0.0.0/8", "loopback: the host's own addresses"),
    ("169.254.0.0/16", "link-local, where cloud metadata services answer (169.254.169.254)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved, and the broadcast address"),
];

/// The reserved range `net` overlaps, with why it is reserved.
pub fn reserved(net: &Ipv4Net) -> Option<(Ipv4Net, &'static str)> {
    RESERVED.iter().map(|(r, why)| (r.parse::<Ipv4Net>().expect("a valid constant"), *why)).find(|(r, _)| overlaps(r, net))
}

pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Gateway (first usable) and the namespace's address (second usable).
pub fn gateway_and_host(net: &Ipv4Net) -> (Ipv4Addr, Ipv4Addr) {
    let base = u32::from(net.network());
    (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_explains() {
        assert_eq!(parse("CIDR", "10.10.0.0/16").unwrap().to_string(), "10.10.0.0/16");
        let e = parse("CIDR", "10.10.1.5/16").unwrap_err().to_string();
        assert!(e.contains("10.10.1.5/16") && e.contains("did you mean 10.10.0.0/16"), "{e}");
        assert!(parse("CIDR", "10.10.0.0").unwrap_err().to_string().contains("prefix length"));
        assert!(parse("CIDR", "fd00::/64").unwrap_err().to_string().contains("IPv4"));
        assert!(parse("CIDR", "banana").unwrap_err().to_string().contains("banana"));
        assert!(parse("CIDR", "10.0.0.0/33").is_err());
    }

    #[test]
    fn gateway_is_first_and_host_second() {
        let (gw, ip) = gateway_and_host(&"10.10.1.0/24".parse().unwrap());
        assert_eq!((gw.to_string(), ip.to_string()), ("10.10.1.1".into(), "10.10.1.2".into()));
    }

    #[test]
    fn overlap_is_symmetric() {
        let a: Ipv4Net = "10.0.0.0/8".parse().unwrap();
        let b: Ipv4Net = "10.1.0.0/16".parse().unwrap();
        let c: Ipv4Net = "10.2.0.0/16".parse().unwrap();
        assert!(overlaps(&a, &b) && overlaps(&b, &a));
        assert!(!overlaps(&b, &c));
    }
}
