//! Where security-group rules come from. A subnet's policy lives in its own
//! namespace, in two chains of ours jumped to from INPUT and OUTPUT:
//! loopback and established/related traffic first (stateful), DNS to the
//! VPC's resolver (never filtered, as in AWS), then the file's rules in
//! order (first match wins), then the default.

use super::{Plan, Restore, Step, TableEdit};
use crate::model::policy::{Policy, Protocol, Rule};
use crate::model::{Subnet, Vpc};
use crate::plan::iptables::{append, comment, declare};

pub const INGRESS_CHAIN: &str = "VPCCTL-INGRESS";
pub const EGRESS_CHAIN: &str = "VPCCTL-EGRESS";

pub use crate::plan::iptables::jump_args;

/// The built-in chain that jumps to each of our chains.
pub const JUMPS: [(&str, &str); 2] = [("INPUT", INGRESS_CHAIN), ("OUTPUT", EGRESS_CHAIN)];

/// One atomic restore in the namespace that replaces the whole policy.
/// `jumps_present`: whether INPUT/OUTPUT already jump to our chains.
pub fn apply(vpc: &Vpc, s: &Subnet, policy: &Policy, jumps_present: bool) -> Plan {
    let mut lines = vec![declare(INGRESS_CHAIN), declare(EGRESS_CHAIN)];
    lines.extend(rules(vpc, s, policy));
    if !jumps_present {
        lines.extend(JUMPS.iter().map(|(builtin, chain)| jump_insert(builtin, chain)));
    }
    in_netns(s, lines)
}

/// Remove the policy: the jumps (if present) and our chains.
pub fn remove(s: &Subnet, jumps_present: bool) -> Plan {
    let mut lines = vec![];
    if jumps_present {
        lines.extend(JUMPS.iter().map(|(builtin, chain)| format!("-D {builtin} {}", jump_args(chain).join(" "))));
    }
    for (_, chain) in JUMPS {
        lines.extend(crate::plan::iptables::remove_chain(chain));
    }
    in_netns(s, lines)
}

pub fn jump_insert(builtin: &str, chain: &str) -> String {
    format!("-I {builtin} 1 {}", jump_args(chain).join(" "))
}

/// Every rule of both policy chains, as `-A` lines.
pub fn rules(vpc: &Vpc, s: &Subnet, policy: &Policy) -> Vec<String> {
    let mut lines = chain_rules(vpc, s, INGRESS_CHAIN, "ingress", &policy.ingress, policy.default_ingress.target());
    lines.extend(chain_rules(vpc, s, EGRESS_CHAIN, "egress", &policy.egress, policy.default_egress.target()));
    lines
}

pub fn in_netns(s: &Subnet, lines: Vec<String>) -> Plan {
    let mut plan = Plan::default();
    plan.push(Step::Iptables(Restore { netns: Some(s.namespace.clone()), tables: vec![TableEdit { table: "filter", lines }] }));
    plan
}

fn chain_rules(vpc: &Vpc, s: &Subnet, chain: &str, dir: &str, rules: &[Rule], default: &str) -> Vec<String> {
    let vpc_name = vpc.name.as_str();
    let owner = match vpc.instances().find(|(_, i)| i.namespace == s.namespace) {
        Some((_, i)) => format!("instance={}", i.name),
        None => format!("subnet={}", s.name),
    };
    let tag = |what: &str| comment(vpc_name, &format!("{owner} {what}"));
    let lo = if dir == "ingress" { "-i lo" } else { "-o lo" };
    let mut out = vec![
        append(chain, lo, &tag("loopback"), "ACCEPT"),
        append(chain, "-m conntrack --ctstate RELATED,ESTABLISHED", &tag("stateful"), "ACCEPT"),
    ];
    // As in AWS, the VPC's resolver is not filtered by security groups.
    if let Some(resolver) = vpc.resolver_for(s).filter(|_| dir == "egress") {
        for proto in ["udp", "tcp"] {
            out.push(append(
                chain,
                &format!("-d {resolver}/32 -p {proto} -m {proto} --dport 53"),
                &tag("dns to the vpc resolver"),
                "ACCEPT",
            ));
        }
    }
    for (i, r) in rules.iter().enumerate() {
        let what = match &r.description {
            // An instance's rules say which group's rule they are.
            Some(d) if d.starts_with("sg=") => d.clone(),
            Some(d) if !d.is_empty() => format!("{dir}[{i}] {d}"),
            _ => format!("{dir}[{i}]"),
        };
        out.push(append(chain, &match_spec(r, dir), &tag(&what), r.action.target()));
    }
    out.push(append(chain, "", &tag(&format!("default_{dir}")), default));
    out
}

fn match_spec(r: &Rule, dir: &str) -> String {
    let mut spec = vec![];
    match r.protocol {
        Protocol::Tcp => spec.push("-p tcp".to_string()),
        Protocol::Udp => spec.push("-p udp".to_string()),
        Protocol::Icmp => spec.push("-p icmp".to_string()),
        Protocol::All => {}
    }
    if let Some(c) = r.cidr {
        spec.push(format!("{} {c}", if dir == "ingress" { "-s" } else { "-d" }));
    }
    if let Some(p) = r.ports {
        spec.push(format!("--dport {p}"));
    }
    spec.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_in_file_order_after_stateful_accepts() {
        let st: crate::model::State = serde_json::from_str(
            r#"{"schema_version":1,"vpcs":[{"name":"v","cidr":"10.1.0.0/16","bridge":"br-v","link_group":1,
            "chain":"VPCCTL-FWD-v","status":"ready","subnets":[{"name":"web","cidr":"10.1.1.0/24","type":"public",
            "namespace":"ns-v-web","veth":"v-v-web","gateway":"10.1.1.1","ip":"10.1.1.2","status":"ready"}]}]}"#,
        )
        .unwrap();
        let policy = Policy::parse(
            r#"{"default_ingress":"deny","ingress":[{"port":80,"action":"allow","cidr":"10.1.2.0/24","description":"web"},
                {"port":"8000-8100","protocol":"udp","action":"deny"}]}"#,
        )
        .unwrap();
        let v = &st.vpcs[0];
        let plan = apply(v, &v.subnets[0], &policy, false);
        let script = plan.to_script();
        let ingress: Vec<&str> = script.lines().filter(|l| l.starts_with("-A VPCCTL-INGRESS")).collect();
        assert_eq!(ingress.len(), 5, "{script}");
        assert!(ingress[0].contains("-i lo") && ingress[1].contains("ESTABLISHED"));
        assert!(ingress[2].contains("-p tcp -s 10.1.2.0/24 --dport 80") && ingress[2].ends_with("-j ACCEPT"));
        assert!(ingress[2].contains("ingress[0] web"));
        assert!(ingress[3].contains("-p udp --dport 8000:8100") && ingress[3].ends_with("-j DROP"));
        assert!(ingress[4].contains("default_ingress") && ingress[4].ends_with("-j DROP"));
        assert!(script.starts_with("ip netns exec ns-v-web iptables-restore --noflush"));
        assert!(script.contains("-I INPUT 1 -m comment --comment vpcctl -j VPCCTL-INGRESS"));
        assert!(!apply(v, &v.subnets[0], &policy, true).to_script().contains("-I INPUT"));
    }
}
