//! Network ACLs: numbered, stateless rules at a subnet's edge, as in AWS.
//!
//! ```json
//! {"inbound":  [{"rule": 100, "protocol": "tcp", "ports": "5432", "cidr": "10.10.1.0/24", "action": "allow"},
//!               {"rule": 200, "protocol": "tcp", "ports": "1024-65535", "action": "allow"}],
//!  "outbound": [{"rule": 100, "protocol": "tcp", "ports": "1024-65535", "action": "allow"}]}
//! ```
//! Rules run in rule-number order, the first match wins, and whatever no
//! rule matches is denied. `cidr` is the peer (source inbound, destination
//! outbound) and defaults to 0.0.0.0/0; `ports` (tcp and udp only) to all.

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cidr;
use super::policy::{Action, PathError, PortRange, Protocol, action, check_keys, err, ports, string};

/// AWS's range of rule numbers (32767 is its implicit final deny).
pub const MAX_RULE_NUMBER: u32 = 32766;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NaclRule {
    pub rule: u32,
    pub protocol: Protocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortRange>,
    pub cidr: Ipv4Net,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nacl {
    #[serde(default)]
    pub inbound: Vec<NaclRule>,
    #[serde(default)]
    pub outbound: Vec<NaclRule>,
}

fn rule(v: &Value, path: &str) -> Result<NaclRule, PathError> {
    let obj = v.as_object().ok_or_else(|| err(path, "is not an object"))?;
    check_keys(obj, path, &["rule", "protocol", "ports", "cidr", "action"])?;
    let rule_path = format!("{path}.rule");
    let rule = match super::document::number(obj, "rule", &rule_path)? {
        Some(n @ 1..=32766) => n as u32,
        Some(n) => return Err(err(&rule_path, format!("{n} is not a rule number (1-{MAX_RULE_NUMBER})"))),
        None => {
            return Err(err(&rule_path, format!("is required: a number from 1 to {MAX_RULE_NUMBER}; lower numbers are evaluated first")));
        }
    };
    let proto_path = format!("{path}.protocol");
    let protocol = match obj.get("protocol").map(|p| string(p, &proto_path)).transpose()? {
        Some("tcp") => Protocol::Tcp,
        Some("udp") => Protocol::Udp,
        Some("icmp") => Protocol::Icmp,
        Some("all") | Some("-1") => Protocol::All,
        Some(other) => return Err(err(&proto_path, format!("{other:?} is not a protocol (tcp, udp, icmp or all)"))),
        None => return Err(err(&proto_path, "is required: tcp, udp, icmp or all")),
    };
    let ports_path = format!("{path}.ports");
    let ports = match (obj.get("ports"), protocol) {
        (Some(p), Protocol::Tcp | Protocol::Udp) => Some(ports(p, &ports_path)?),
        (Some(_), _) => return Err(err(&ports_path, "is only for tcp and udp")),
        (None, _) => None,
    };
    let cidr_path = format!("{path}.cidr");
    let cidr = match obj.get("cidr") {
        None => Ipv4Net::default(),
        Some(c) => cidr::parse("CIDR", string(c, &cidr_path)?).map_err(|e| err(&cidr_path, e.to_string()))?,
    };
    let action = action(obj.get("action"), &format!("{path}.action"), None)?;
    Ok(NaclRule { rule, protocol, ports, cidr, action })
}

fn rules(v: Option<&Value>, key: &str) -> Result<Vec<NaclRule>, PathError> {
    let Some(v) = v else { return Ok(vec![]) };
    let list = v.as_array().ok_or_else(|| err(key, "is not a list of rules"))?;
    let mut out: Vec<NaclRule> = vec![];
    for (i, r) in list.iter().enumerate() {
        let at = format!("{key}[{i}]");
        let r = rule(r, &at)?;
        if let Some(j) = out.iter().position(|o| o.rule == r.rule) {
            return Err(err(
                &format!("{at}.rule"),
                format!("rule number {} is already used by {key}[{j}]; numbers are unique per direction", r.rule),
            ));
        }
        out.push(r);
    }
    out.sort_by_key(|r| r.rule);
    Ok(out)
}

impl Nacl {
    pub fn parse(text: &str) -> Result<Nacl, PathError> {
        let v: Value = super::document::parse(text)?;
        Nacl::from_value(&v)
    }

    pub fn from_value(v: &Value) -> Result<Nacl, PathError> {
        let obj = v.as_object().ok_or_else(|| err("(file)", "the top level must be an object with \"inbound\" and \"outbound\" lists"))?;
        check_keys(obj, "", &["inbound", "outbound", "description", super::document::SCHEMA_KEY])?;
        Ok(Nacl { inbound: rules(obj.get("inbound"), "inbound")?, outbound: rules(obj.get("outbound"), "outbound")? })
    }

    /// The NACL in the file format `parse` reads.
    pub fn to_file_json(&self) -> Value {
        let rules = |rs: &[NaclRule]| -> Value {
            rs.iter()
                .map(|r| {
                    let mut o = serde_json::Map::new();
                    o.insert("rule".into(), r.rule.into());
                    o.insert("protocol".into(), serde_json::to_value(r.protocol).unwrap_or(Value::Null));
                    if let Some(p) = r.ports {
                        let v = if p.first == p.last { p.first.to_string() } else { format!("{}-{}", p.first, p.last) };
                        o.insert("ports".into(), v.into());
                    }
                    o.insert("cidr".into(), r.cidr.to_string().into());
                    o.insert("action".into(), r.action.as_str().into());
                    Value::Object(o)
                })
                .collect()
        };
        serde_json::json!({"inbound": rules(&self.inbound), "outbound": rules(&self.outbound)})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_sorted_by_number_with_aws_defaults() {
        let n = Nacl::parse(
            r#"{"inbound": [{"rule": 200, "protocol": "all", "action": "deny"},
                            {"rule": 100, "protocol": "tcp", "ports": "5432", "cidr": "10.10.1.0/24", "action": "allow"}],
                "outbound": [{"rule": 100, "protocol": "tcp", "action": "allow"}]}"#,
        )
        .unwrap();
        assert_eq!(n.inbound.iter().map(|r| r.rule).collect::<Vec<_>>(), [100, 200]);
        assert_eq!(n.inbound[0].ports, Some(PortRange { first: 5432, last: 5432 }));
        assert_eq!(n.outbound[0].cidr, "0.0.0.0/0".parse::<Ipv4Net>().unwrap());
        assert_eq!(n.outbound[0].ports, None, "tcp without ports is every port");
        assert_eq!(Nacl::from_value(&n.to_file_json()).unwrap(), n, "the file format round-trips");
    }

    #[test]
    fn errors_name_the_rule_and_value() {
        let cases = [
            (r#"{"inbound": [{"rule": 0, "protocol": "all", "action": "allow"}]}"#, "inbound[0].rule: 0 is not a rule number"),
            (r#"{"inbound": [{"protocol": "all", "action": "allow"}]}"#, "inbound[0].rule: is required"),
            (
                r#"{"outbound": [{"rule": 5, "protocol": "all", "action": "allow"}, {"rule": 5, "protocol": "tcp", "action": "deny"}]}"#,
                "outbound[1].rule: rule number 5 is already used by outbound[0]",
            ),
            (r#"{"inbound": [{"rule": 1, "protocol": "icmp", "ports": "80", "action": "allow"}]}"#, "inbound[0].ports: is only for tcp"),
            (r#"{"inbound": [{"rule": 1, "protocol": "gre", "action": "allow"}]}"#, "inbound[0].protocol: \"gre\""),
            (r#"{"inbound": [{"rule": 1, "protocol": "tcp", "ports": "9-1", "action": "allow"}]}"#, "is not a range"),
            (r#"{"inbound": [{"rule": 1, "protocol": "tcp", "action": "maybe"}]}"#, "inbound[0].action: \"maybe\""),
            (r#"{"inbound": [{"rule": 1, "protocol": "tcp", "action": "allow", "cidr": "10.0.0.300/8"}]}"#, "inbound[0].cidr"),
            (r#"{"ingress": []}"#, "ingress: unknown key"),
        ];
        for (text, want) in cases {
            let e = Nacl::parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}\n  got:  {e}\n  want: {want}");
        }
    }
}
