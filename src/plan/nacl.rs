//! Where network ACL rules come from. A subnet's NACL is two chains in the
//! host's filter table, jumped to from the top of VPCCTL-FORWARD before
//! anything else decides, so they see every packet that crosses the
//! subnet's edge, replies included (stateless, as in AWS):
//!
//!   VPCCTL-FORWARD  -i br-X -s <subnet> -> VPCCTL-NO-<veth>   (outbound)
//!                   -o br-X -d <subnet> -> VPCCTL-NI-<veth>   (inbound)
//!   VPCCTL-NI-...   rules by number: allow RETURN (the VPC's own rules
//!                   decide next), deny DROP; then DROP
//!
//! Anti-spoofing at the bridge port (`plan::spoof`) is what makes the
//! source match sound: a subnet cannot send as another.

use super::flow;
use super::iptables::{append, comment};
use crate::model::nacl::{Nacl, NaclRule};
use crate::model::policy::{Action, Protocol};
use crate::model::{State, Subnet, Vpc};

pub fn inbound_chain(s: &Subnet) -> String {
    format!("VPCCTL-NI-{}", s.veth)
}

pub fn outbound_chain(s: &Subnet) -> String {
    format!("VPCCTL-NO-{}", s.veth)
}

/// Jumps from the dispatch chain into every NACL of `vpc`.
pub fn dispatch_rules(top: &str, vpc: &Vpc) -> Vec<String> {
    let mut out = vec![];
    for s in vpc.subnets.iter().filter(|s| s.nacl.is_some()) {
        let c = comment(vpc.name.as_str(), &format!("nacl subnet={}", s.name));
        // Within the subnet (instances, through the bridge) is not its edge.
        out.push(append(top, &format!("-i {} -s {} ! -d {}", vpc.bridge, s.cidr, s.cidr), &c, &outbound_chain(s)));
        out.push(append(top, &format!("-o {} ! -s {} -d {}", vpc.bridge, s.cidr, s.cidr), &c, &inbound_chain(s)));
    }
    out
}

fn match_spec(r: &NaclRule, peer: &str) -> String {
    let mut spec = if r.cidr.prefix_len() == 0 { String::new() } else { format!("{peer} {} ", r.cidr) };
    match r.protocol {
        Protocol::Tcp | Protocol::Udp => {
            let p = if r.protocol == Protocol::Tcp { "tcp" } else { "udp" };
            spec.push_str(&format!("-p {p} "));
            if let Some(ports) = r.ports {
                spec.push_str(&format!("-m {p} --dport {ports} "));
            }
        }
        Protocol::Icmp => spec.push_str("-p icmp "),
        Protocol::All => {}
    }
    spec.trim_end().to_string()
}

/// Both chains of a subnet's NACL: (chain, its rules).
pub fn chains(state: &State, vpc: &Vpc, s: &Subnet, nacl: &Nacl) -> [(String, Vec<String>); 2] {
    let n = vpc.name.as_str();
    let chain = |name: String, rules: &[NaclRule], peer: &str, dir: &str| -> (String, Vec<String>) {
        let mut lines = vec![];
        for r in rules {
            let spec = match_spec(r, peer);
            let c = comment(n, &format!("nacl subnet={} {dir} rule {}", s.name, r.rule));
            lines.push(append(&name, &spec, &c, if r.action == Action::Allow { "RETURN" } else { "DROP" }));
        }
        lines.push(append(&name, "", &comment(n, &format!("nacl subnet={} {dir} default deny", s.name)), "DROP"));
        (name, flow::with_logs(state, lines, false))
    };
    [chain(inbound_chain(s), &nacl.inbound, "-s", "inbound"), chain(outbound_chain(s), &nacl.outbound, "-d", "outbound")]
}

/// Every NACL chain `state` implies, with its rules.
pub fn all_chains(state: &State) -> Vec<(String, Vec<String>)> {
    let mut out = vec![];
    for v in &state.vpcs {
        for s in &v.subnets {
            if let Some(n) = &s.nacl {
                out.extend(chains(state, v, s, n));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SubnetKind::Private;
    use crate::model::testing::vpc;

    #[test]
    fn rules_in_number_order_then_deny_with_ports_as_destination_ports() {
        let nacl = Nacl::parse(
            r#"{"inbound": [{"rule": 200, "protocol": "icmp", "action": "deny"},
                            {"rule": 100, "protocol": "tcp", "ports": "5432", "cidr": "10.1.1.0/24", "action": "allow"}],
                "outbound": [{"rule": 10, "protocol": "tcp", "ports": "1024-65535", "action": "allow"}]}"#,
        )
        .unwrap();
        let mut v = vpc("a", "10.1.0.0/16", &[("db", "10.1.2.0/24", Private)]);
        v.subnets[0].nacl = Some(nacl.clone());
        let st = State { vpcs: vec![v.clone()], ..State::default() };
        let [(inb, i), (outb, o)] = chains(&st, &v, &v.subnets[0], &nacl);
        assert_eq!((inb.as_str(), outb.as_str()), ("VPCCTL-NI-v-a-db", "VPCCTL-NO-v-a-db"));
        assert!(i[0].starts_with("-A VPCCTL-NI-v-a-db -s 10.1.1.0/24 -p tcp -m tcp --dport 5432 ") && i[0].ends_with("-j RETURN"), "{i:?}");
        assert!(i[1].starts_with("-A VPCCTL-NI-v-a-db -p icmp ") && i[1].ends_with("-j DROP"), "{i:?}");
        assert!(i[2].contains("default deny") && i[2].ends_with("-j DROP"));
        assert!(o[0].starts_with("-A VPCCTL-NO-v-a-db -p tcp -m tcp --dport 1024:65535 ") && o[0].ends_with("-j RETURN"), "{o:?}");
        let d = dispatch_rules("VPCCTL-FORWARD", &v);
        assert!(d[0].starts_with("-A VPCCTL-FORWARD -i br-a -s 10.1.2.0/24 ! -d 10.1.2.0/24 ") && d[0].ends_with("-j VPCCTL-NO-v-a-db"));
        assert!(d[1].starts_with("-A VPCCTL-FORWARD -o br-a ! -s 10.1.2.0/24 -d 10.1.2.0/24 ") && d[1].ends_with("-j VPCCTL-NI-v-a-db"));
    }
}
