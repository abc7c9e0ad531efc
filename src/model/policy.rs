//! Security-group policies: the JSON file format, validated into types.
//!
//! ```json
//! {"subnet": "10.10.1.0/24", "default_ingress": "allow", "default_egress": "allow",
//!  "ingress": [{"port": 80, "protocol": "tcp", "action": "allow", "cidr": "10.10.2.0/24"}],
//!  "egress":  [{"port": "8000-8100", "protocol": "tcp", "action": "deny"}]}
//! ```
//! Parsed by hand from a JSON value so every error names its path, e.g.
//! `ingress[0].port: 70000 is not a port (1-65535)`.

use std::fmt;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::cidr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    Deny,
}

impl Action {
    /// The word the policy file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
        }
    }

    pub fn target(self) -> &'static str {
        match self {
            Action::Allow => "ACCEPT",
            Action::Deny => "DROP",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
    All,
}

impl Protocol {
    /// `tcp`, `udp`, `icmp` or `all`, as the file formats write it.
    pub fn from_name(s: &str) -> Option<Protocol> {
        Some(match s {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "icmp" => Protocol::Icmp,
            "all" => Protocol::All,
            _ => return None,
        })
    }

    /// As `aws ec2` and the aws provider write it: a name, or its IANA
    /// number (`-1` for all).
    pub fn from_aws(s: &str) -> Option<Protocol> {
        Protocol::from_name(s).or(match s {
            "6" => Some(Protocol::Tcp),
            "17" => Some(Protocol::Udp),
            "1" => Some(Protocol::Icmp),
            "-1" => Some(Protocol::All),
            _ => None,
        })
    }

    pub fn word(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
            Protocol::All => "all",
        }
    }

    /// Whether a rule for this protocol matches a packet of `p`.
    pub fn carries(self, p: super::Proto) -> bool {
        match self {
            Protocol::All => true,
            Protocol::Tcp => p == super::Proto::Tcp,
            Protocol::Udp => p == super::Proto::Udp,
            Protocol::Icmp => p == super::Proto::Icmp,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last { write!(f, "{}", self.first) } else { write!(f, "{}:{}", self.first, self.last) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub protocol: Protocol,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortRange>,
    pub action: Action,
    /// The peer: source for ingress, destination for egress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<Ipv4Net>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<Ipv4Net>,
    pub default_ingress: Action,
    pub default_egress: Action,
    #[serde(default)]
    pub ingress: Vec<Rule>,
    #[serde(default)]
    pub egress: Vec<Rule>,
}

pub use crate::error::PathError;

pub type PolicyError = PathError;

pub(super) fn err(path: &str, message: impl Into<String>) -> PolicyError {
    PolicyError::new(path, message)
}

pub(super) fn check_keys(obj: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), PolicyError> {
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            let at = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            return Err(err(&at, format!("unknown key {k:?} (allowed: {})", allowed.join(", "))));
        }
    }
    Ok(())
}

pub(super) fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, PolicyError> {
    v.as_str().ok_or_else(|| err(path, format!("{v} is not a string")))
}

pub(super) fn action(v: Option<&Value>, path: &str, default: Option<Action>) -> Result<Action, PolicyError> {
    match v {
        None => default.ok_or_else(|| err(path, "is required: \"allow\" or \"deny\"")),
        Some(v) => match string(v, path)? {
            "allow" | "accept" => Ok(Action::Allow),
            "deny" | "drop" => Ok(Action::Deny),
            other => Err(err(path, format!("{other:?} is not an action (use \"allow\" or \"deny\")"))),
        },
    }
}

fn port_number(raw: &str, path: &str) -> Result<u16, PolicyError> {
    match raw.trim().parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(err(path, format!("{raw} is not a port (1-65535)"))),
    }
}

pub(super) fn ports(v: &Value, path: &str) -> Result<PortRange, PolicyError> {
    match v {
        Value::Number(n) => {
            let p = port_number(&n.to_string(), path)?;
            Ok(PortRange { first: p, last: p })
        }
        Value::String(s) => {
            let (a, b) = s.split_once('-').unwrap_or((s, s));
            let (first, last) = (port_number(a, path)?, port_number(b, path)?);
            if first > last {
                return Err(err(path, format!("{s:?} is not a range: {first} is above {last}")));
            }
            Ok(PortRange { first, last })
        }
        other => Err(err(path, format!("{other} is not a port or range like 80 or \"8000-8100\""))),
    }
}

fn rule(v: &Value, path: &str) -> Result<Rule, PolicyError> {
    let obj = v.as_object().ok_or_else(|| err(path, "is not an object"))?;
    check_keys(obj, path, &["port", "protocol", "action", "cidr", "description"])?;
    let proto_path = format!("{path}.protocol");
    let protocol = match obj.get("protocol").map(|p| string(p, &proto_path)).transpose()? {
        None => Protocol::Tcp,
        Some("any") => Protocol::All,
        Some(other) => {
            Protocol::from_name(other).ok_or_else(|| err(&proto_path, format!("{other:?} is not a protocol (tcp, udp, icmp or all)")))?
        }
    };
    let port_path = format!("{path}.port");
    let ports = match (obj.get("port"), protocol) {
        (Some(p), Protocol::Tcp | Protocol::Udp) => Some(ports(p, &port_path)?),
        (None, Protocol::Tcp | Protocol::Udp) => {
            return Err(err(&port_path, "is required for tcp and udp (use \"protocol\": \"all\" for every port)"));
        }
        (Some(_), _) => return Err(err(&port_path, "is not allowed with icmp or all")),
        (None, _) => None,
    };
    let cidr_path = format!("{path}.cidr");
    let cidr = obj
        .get("cidr")
        .map(|c| string(c, &cidr_path).and_then(|s| cidr::parse("CIDR", s).map_err(|e| err(&cidr_path, e.to_string()))))
        .transpose()?;
    let desc_path = format!("{path}.description");
    let description = obj.get("description").map(|d| string(d, &desc_path).map(sanitize)).transpose()?;
    Ok(Rule { protocol, ports, action: action(obj.get("action"), &format!("{path}.action"), None)?, cidr, description })
}

/// Descriptions end up in iptables comments: keep them short and inert.
fn sanitize(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric() || " -_.,:/()".contains(*c)).take(200).collect()
}

fn rules(v: Option<&Value>, key: &str) -> Result<Vec<Rule>, PolicyError> {
    let Some(v) = v else { return Ok(vec![]) };
    let list = v.as_array().ok_or_else(|| err(key, "is not a list of rules"))?;
    list.iter().enumerate().map(|(i, r)| rule(r, &format!("{key}[{i}]"))).collect()
}

impl Policy {
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let v: Value = super::document::parse(text)?;
        let obj = v.as_object().ok_or_else(|| err("(file)", "the top level must be an object"))?;
        check_keys(
            obj,
            "",
            &["subnet", "default_ingress", "default_egress", "ingress", "egress", "description", "name", super::document::SCHEMA_KEY],
        )?;
        let subnet = obj
            .get("subnet")
            .map(|s| string(s, "subnet").and_then(|s| cidr::parse("CIDR", s).map_err(|e| err("subnet", e.to_string()))))
            .transpose()?;
        Ok(Policy {
            subnet,
            default_ingress: action(obj.get("default_ingress"), "default_ingress", Some(Action::Allow))?,
            default_egress: action(obj.get("default_egress"), "default_egress", Some(Action::Allow))?,
            ingress: rules(obj.get("ingress"), "ingress")?,
            egress: rules(obj.get("egress"), "egress")?,
        })
    }
}

impl Policy {
    /// The policy in the file format `parse` reads (without "subnet").
    pub fn to_file_json(&self) -> Value {
        let rules = |rs: &[Rule]| -> Value {
            rs.iter()
                .map(|r| {
                    let mut o = Map::new();
                    o.insert("protocol".into(), serde_json::to_value(r.protocol).unwrap_or(Value::Null));
                    if let Some(p) = r.ports {
                        let v = if p.first == p.last { Value::from(p.first) } else { Value::from(format!("{}-{}", p.first, p.last)) };
                        o.insert("port".into(), v);
                    }
                    o.insert("action".into(), Value::from(r.action.as_str()));
                    if let Some(c) = r.cidr {
                        o.insert("cidr".into(), Value::from(c.to_string()));
                    }
                    if let Some(d) = &r.description {
                        o.insert("description".into(), Value::from(d.clone()));
                    }
                    Value::Object(o)
                })
                .collect()
        };
        serde_json::json!({
            "default_ingress": self.default_ingress.as_str(),
            "default_egress": self.default_egress.as_str(),
            "ingress": rules(&self.ingress),
            "egress": rules(&self.egress),
        })
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = serde_json::to_value(self.protocol).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        write!(f, "{} {proto}", self.action.as_str())?;
        if let Some(p) = self.ports {
            write!(f, " port {}", p.to_string().replace(':', "-"))?;
        }
        if let Some(c) = self.cidr {
            write!(f, " peer {c}")?;
        }
        if let Some(d) = &self.description {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tutorial_files_parse_with_allow_defaults() {
        let p = Policy::parse(
            r#"{"subnet": "10.0.1.0/24", "ingress": [
                {"port": 80, "protocol": "tcp", "action": "allow"},
                {"port": 22, "protocol": "tcp", "action": "deny"}]}"#,
        )
        .unwrap();
        assert_eq!(p.default_ingress, Action::Allow);
        assert_eq!(p.default_egress, Action::Allow);
        assert_eq!(p.ingress.len(), 2);
        assert_eq!(p.ingress[1].ports, Some(PortRange { first: 22, last: 22 }));
        assert_eq!(p.subnet, Some("10.0.1.0/24".parse().unwrap()));
    }

    #[test]
    fn ranges_icmp_and_cidrs() {
        let p = Policy::parse(
            r#"{"default_ingress": "deny", "egress": [
                {"port": "8000-8100", "protocol": "udp", "action": "allow", "cidr": "10.1.0.0/16"},
                {"protocol": "icmp", "action": "deny"}]}"#,
        )
        .unwrap();
        assert_eq!(p.egress[0].ports, Some(PortRange { first: 8000, last: 8100 }));
        assert_eq!(p.egress[1].protocol, Protocol::Icmp);
        assert_eq!(p.default_ingress, Action::Deny);
    }

    #[test]
    fn errors_name_the_rule_and_value() {
        let cases = [
            (r#"{"ingress": [{"port": 70000, "protocol": "tcp", "action": "allow"}]}"#, "ingress[0].port: 70000 is not a port (1-65535)"),
            (r#"{"ingress": [{"port": 80, "action": "allow"}, {"port": 0, "action": "allow"}]}"#, "ingress[1].port: 0 is not a port"),
            (r#"{"egress": [{"port": 80, "protocol": "icmp", "action": "allow"}]}"#, "egress[0].port: is not allowed with icmp"),
            (r#"{"ingress": [{"protocol": "tcp", "action": "allow"}]}"#, "ingress[0].port: is required for tcp"),
            (r#"{"ingress": [{"port": 80, "protocol": "sctp", "action": "allow"}]}"#, "ingress[0].protocol: \"sctp\""),
            (r#"{"ingress": [{"port": 80, "action": "maybe"}]}"#, "ingress[0].action: \"maybe\""),
            (r#"{"ingress": [{"port": 80}]}"#, "ingress[0].action: is required"),
            (r#"{"ingress": [{"port": 80, "action": "allow", "prot": "tcp"}]}"#, "ingress[0].prot: unknown key \"prot\""),
            (r#"{"ingres": []}"#, "ingres: unknown key"),
            (r#"{"ingress": [{"port": 80, "action": "allow", "cidr": "10.0.0.1/8"}]}"#, "ingress[0].cidr: invalid CIDR \"10.0.0.1/8\""),
            (r#"{"ingress": [{"port": "90-80", "action": "allow"}]}"#, "ingress[0].port: \"90-80\" is not a range"),
            (r#"{"default_egress": "block"}"#, "default_egress: \"block\""),
            ("[1]", "the top level must be an object"),
            ("{", "not valid JSON"),
        ];
        for (text, want) in cases {
            let e = Policy::parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}\n  got:  {e}\n  want: {want}");
        }
    }
}
