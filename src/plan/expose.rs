//! Where inbound NAT comes from: ports exposed on the uplink (`expose`)
//! and elastic IPs (`associate-eip`).
//!
//! nat:
//!   PREROUTING  -> VPCCTL-PREROUTING   expose: -i <uplink> --dport H -> DNAT S:P
//!                                      eip:    -i <uplink> -d EIP -> DNAT S
//!                                      (only from the uplink: another VPC
//!                                      must not come in through them)
//!   OUTPUT      -> VPCCTL-OUTPUT       the same for the host's own
//!                                      connections (not to 127/8, which
//!                                      the kernel will not route out)
//!   VPCCTL-NAT-X  -s S -o <uplink> SNAT --to-source EIP, before MASQUERADE
//! filter, in the VPC's chain: the DNAT'd connections in and their replies
//! out, and for an EIP its subnet's own connections out and their replies.
//!
//! There is no SNAT on the way in: the app sees the real client address.

use super::iptables::{append, comment};
use crate::model::services::Expose;
use crate::model::{State, Vpc};

pub const PREROUTING_CHAIN: &str = "VPCCTL-PREROUTING";
pub const OUTPUT_CHAIN: &str = "VPCCTL-OUTPUT";

pub fn prerouting_chain(state: &State) -> String {
    format!("{PREROUTING_CHAIN}{}", state.host.chain_suffix)
}

pub fn output_chain(state: &State) -> String {
    format!("{OUTPUT_CHAIN}{}", state.host.chain_suffix)
}

/// Some VPC takes traffic in: the DNAT chains are needed.
pub fn in_use(state: &State) -> bool {
    state.vpcs.iter().any(|v| !v.expose.is_empty() || !v.eips.is_empty())
}

/// The PREROUTING chain's rules, declaration first: exposed ports and
/// EIPs, each on its uplink only.
pub fn prerouting_rules(state: &State) -> Vec<String> {
    dnat_rules(
        state,
        &prerouting_chain(state),
        |e| (format!("-i {} -p tcp -m tcp --dport {}", e.interface, e.host_port), format!("expose {}:{}", e.interface, e.host_port)),
        |e| format!("-i {} -d {}/32", e.interface, e.ip),
    )
}

/// The OUTPUT chain's rules: the host itself reaches what it exposes, on
/// its own addresses (not 127/8, which the kernel will not route out).
pub fn output_rules(state: &State) -> Vec<String> {
    dnat_rules(
        state,
        &output_chain(state),
        |e| {
            let spec = format!("! -d 127.0.0.0/8 -p tcp -m addrtype --dst-type LOCAL -m tcp --dport {}", e.host_port);
            (spec, format!("expose host:{}", e.host_port))
        },
        |e| format!("-d {}/32", e.ip),
    )
}

/// One DNAT chain: each exposed port (matched as `expose_match` says, with
/// its comment) and each EIP, to its subnet.
fn dnat_rules(
    state: &State,
    top: &str,
    expose_match: impl Fn(&Expose) -> (String, String),
    eip_match: impl Fn(&crate::model::services::Eip) -> String,
) -> Vec<String> {
    let mut lines = vec![super::iptables::declare(top)];
    for v in &state.vpcs {
        let n = v.name.as_str();
        for e in &v.expose {
            let Some(s) = v.subnet(e.subnet.as_str()) else { continue };
            let (spec, what) = expose_match(e);
            lines.push(append(
                top,
                &spec,
                &comment(n, &format!("{what} subnet={}", s.name)),
                &format!("DNAT --to-destination {}:{}", s.ip, e.port),
            ));
        }
        for e in &v.eips {
            let Some(s) = v.host_named(e.subnet.as_str()) else { continue };
            let c = comment(n, &format!("eip {} subnet={}", e.ip, e.subnet));
            lines.push(append(top, &eip_match(e), &c, &format!("DNAT --to-destination {}", s.ip)));
        }
    }
    lines
}

/// SNAT for each EIP, in the VPC's nat chain ahead of its MASQUERADE: the
/// subnet leaves from its own address, the others from the host's.
pub fn snat_rules(vpc: &Vpc) -> Vec<String> {
    let chain = vpc.nat_chain();
    vpc.eips
        .iter()
        .filter_map(|e| {
            let s = vpc.host_named(e.subnet.as_str())?;
            let c = comment(vpc.name.as_str(), &format!("eip {} subnet={}", e.ip, e.subnet));
            Some(append(&chain, &format!("-s {}/32 -o {}", s.ip, e.interface), &c, &format!("SNAT --to-source {}", e.ip)))
        })
        .collect()
}

/// Filter rules in the VPC's chain (see plan::firewall).
pub fn forward_rules(state: &State, vpc: &Vpc) -> Vec<String> {
    let (ch, br, n) = (vpc.chain.as_str(), vpc.bridge.as_str(), vpc.name.as_str());
    let mut rules = vec![];
    for e in &vpc.expose {
        let Some(s) = vpc.subnet(e.subnet.as_str()) else { continue };
        let c = comment(n, &format!("expose host:{} subnet={}", e.host_port, s.name));
        let port = format!("-p tcp -m tcp --dport {} -m conntrack --ctstate DNAT", e.port);
        rules.push(append(ch, &format!("-o {br} -d {}/32 {port}", s.ip), &c, "ACCEPT"));
        let reply = format!("-p tcp -m tcp --sport {} -m conntrack --ctstate DNAT", e.port);
        rules.push(append(ch, &format!("-i {br} -s {}/32 {reply}", s.ip), &c, "ACCEPT"));
    }
    for e in &vpc.eips {
        let Some(host) = vpc.host_named(e.subnet.as_str()) else { continue };
        let s = &host;
        let c = comment(n, &format!("eip {} subnet={}", e.ip, e.subnet));
        let uplink = &e.interface;
        // As for NAT: never to the metadata range through the uplink.
        rules.push(append(ch, &format!("-i {br} -o {uplink} -s {}/32 -d 169.254.0.0/16", s.ip), &c, "DROP"));
        rules.push(append(ch, &format!("-o {br} -d {}/32 -m conntrack --ctstate DNAT", s.ip), &c, "ACCEPT"));
        rules.push(append(ch, &format!("-i {br} -s {}/32 -m conntrack --ctstate DNAT", s.ip), &c, "ACCEPT"));
        if vpc.routed() {
            // Where routes decide: out only where the subnet routes to the internet.
            let egress = crate::model::routing::routes_of(state, vpc, s)
                .into_iter()
                .filter(|r| r.target == crate::model::routing::Target::InternetGateway);
            for d in egress.map(|r| r.destination) {
                let carved = super::routes::carved_out(state, vpc, s, d);
                rules.extend(carved.iter().map(|p| append(ch, &format!("-i {br} -o {uplink} -s {}/32 -d {p}", s.ip), &c, "DROP")));
                let to = if d.prefix_len() == 0 { String::new() } else { format!(" -d {d}") };
                rules.push(append(ch, &format!("-i {br} -o {uplink} -s {}/32{to}", s.ip), &c, "ACCEPT"));
            }
        } else {
            rules.push(append(ch, &format!("-i {br} -o {uplink} -s {}/32", s.ip), &c, "ACCEPT"));
        }
        let reply = format!("-i {uplink} -o {br} -d {}/32 -m conntrack --ctstate RELATED,ESTABLISHED", s.ip);
        rules.push(append(ch, &reply, &c, "ACCEPT"));
    }
    rules
}

/// The uplink addresses of EIPs: `ip` lines to add (`replace`, so that
/// re-asserting one is not an error) and to remove.
pub fn address_lines(before: &State, after: &State, force: bool) -> (Vec<String>, Vec<String>) {
    let all = |s: &State| -> Vec<(std::net::Ipv4Addr, String)> {
        s.vpcs.iter().flat_map(|v| v.eips.iter().map(|e| (e.ip, e.interface.clone()))).collect()
    };
    let (old, new) = (all(before), all(after));
    let add = new.iter().filter(|e| force || !old.contains(e)).map(|(ip, dev)| format!("address replace {ip}/32 dev {dev}")).collect();
    let del = old.iter().filter(|e| !new.contains(e)).map(|(ip, dev)| format!("address del {ip}/32 dev {dev}")).collect();
    (add, del)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SubnetKind::{Private, Public};
    use crate::model::services::{Eip, Expose};
    use crate::model::testing::vpc;
    use crate::model::{Name, Nat};

    fn state() -> State {
        let mut a = vpc("a", "10.1.0.0/16", &[("web", "10.1.1.0/24", Public), ("db", "10.1.2.0/24", Private)]);
        a.expose.push(Expose { subnet: Name::parse("n", "web").unwrap(), port: 8080, host_port: 80, interface: "up0".into() });
        a.eips.push(Eip { subnet: Name::parse("n", "web").unwrap(), ip: "203.0.113.9".parse().unwrap(), interface: "up0".into() });
        a.nat = Some(Nat { interface: "up0".into(), subnets: None });
        State { vpcs: vec![a], ..State::default() }
    }

    #[test]
    fn expose_forwards_the_host_port_on_the_uplink_and_for_the_host() {
        let st = state();
        let pre = prerouting_rules(&st);
        assert_eq!(pre[0], ":VPCCTL-PREROUTING - [0:0]");
        assert!(
            pre[1].starts_with("-A VPCCTL-PREROUTING -i up0 -p tcp -m tcp --dport 80 ")
                && pre[1].ends_with("-j DNAT --to-destination 10.1.1.2:8080"),
            "{pre:?}"
        );
        assert!(
            pre[2].starts_with("-A VPCCTL-PREROUTING -i up0 -d 203.0.113.9/32 ") && pre[2].ends_with("-j DNAT --to-destination 10.1.1.2"),
            "{pre:?}"
        );
        let out = output_rules(&st);
        assert!(out[1].contains("! -d 127.0.0.0/8 -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 80 "), "{out:?}");
        assert!(
            out[2].starts_with("-A VPCCTL-OUTPUT -d 203.0.113.9/32 ") && out[2].ends_with("-j DNAT --to-destination 10.1.1.2"),
            "{out:?}"
        );
        let fwd = forward_rules(&st, &st.vpcs[0]);
        assert!(fwd.iter().any(|r| r.contains("-o br-a -d 10.1.1.2/32 -p tcp -m tcp --dport 8080 -m conntrack --ctstate DNAT")), "{fwd:?}");
        assert!(!fwd.iter().any(|r| r.contains("SNAT") || r.contains("MASQUERADE")), "no SNAT inbound");
    }

    #[test]
    fn an_eip_is_translated_both_ways_ahead_of_masquerade() {
        let st = state();
        let snat = snat_rules(&st.vpcs[0]);
        assert_eq!(snat.len(), 1);
        assert!(snat[0].starts_with("-A VPCCTL-NAT-a -s 10.1.1.2/32 -o up0 ") && snat[0].ends_with("-j SNAT --to-source 203.0.113.9"));
        let (add, del) = address_lines(&State::default(), &st, false);
        assert_eq!((add, del), (vec!["address replace 203.0.113.9/32 dev up0".to_string()], vec![]));
        let (add, del) = address_lines(&st, &State::default(), false);
        assert_eq!((add, del), (vec![], vec!["address del 203.0.113.9/32 dev up0".to_string()]));
        assert_eq!(address_lines(&st, &st, false), (vec![], vec![]));
        assert_eq!(address_lines(&st, &st, true).0.len(), 1, "re-asserted after an unfinished run");
        assert!(!in_use(&State::default()) && in_use(&st));
    }
}
