//! Expectations files for `vpcctl check`: what must (and must not) reach
//! what. The same `expect` list may sit in a topology file.
//!
//! ```json
//! {"expect": [
//!   {"from": "vpc1/web", "to": "vpc1/db", "protocol": "tcp", "port": 5432, "reachable": true},
//!   {"from": "vpc3/lab", "to": "vpc1/web", "protocol": "icmp", "reachable": false},
//!   {"from": "vpc1/db",  "to": "198.51.100.80", "protocol": "tcp", "port": 80, "reachable": false}
//! ]}
//! ```

use std::net::Ipv4Addr;

use serde_json::Value;

use super::topology::TopologyError;
use super::validate::{find_host, find_vpc};
use super::{Name, Proto};
use crate::model::State;

/// Where a probe goes: a subnet (its address) or an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Subnet { vpc: Name, subnet: Name },
    Addr(Ipv4Addr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    pub from_vpc: Name,
    pub from_subnet: Name,
    pub to: Target,
    pub protocol: Proto,
    pub port: Option<u16>,
    pub reachable: bool,
}

impl Expectation {
    /// `vpc1/web -> vpc1/db tcp 5432`
    pub fn label(&self) -> String {
        let to = match &self.to {
            Target::Subnet { vpc, subnet } => format!("{vpc}/{subnet}"),
            Target::Addr(a) => a.to_string(),
        };
        let proto = match self.protocol {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
        };
        let port = self.port.map(|p| format!(" {p}")).unwrap_or_default();
        format!("{}/{} -> {to} {proto}{port}", self.from_vpc, self.from_subnet)
    }
}

fn err(path: &str, message: impl Into<String>) -> TopologyError {
    TopologyError { path: path.to_string(), message: message.into() }
}

/// `vpc/subnet`, both names valid.
fn subnet_ref(raw: &str, path: &str) -> Result<(Name, Name), TopologyError> {
    let (v, s) = raw.split_once('/').ok_or_else(|| err(path, format!("{raw:?} is not vpc/subnet (e.g. \"vpc1/web\")")))?;
    let vpc = Name::parse("VPC name", v).map_err(|e| err(path, e.to_string()))?;
    let subnet = Name::parse("subnet name", s).map_err(|e| err(path, e.to_string()))?;
    Ok((vpc, subnet))
}

/// Parse the `expect` list of a check or topology file. Any other top-level
/// key of a topology (`vpcs`, `peerings`) is allowed and ignored here.
pub fn parse(text: &str) -> Result<Vec<Expectation>, TopologyError> {
    let v: Value = super::document::parse(text)?;
    let top = v.as_object().ok_or_else(|| err("(file)", "the top level must be an object"))?;
    if let Some(k) =
        top.keys().find(|k| !["expect", "vpcs", "peerings", "transit_gateways", super::document::SCHEMA_KEY].contains(&k.as_str()))
    {
        return Err(err("(file)", format!("unknown key {k:?} (allowed: expect, and a topology's vpcs, peerings)")));
    }
    let list = top
        .get("expect")
        .ok_or_else(|| err("expect", "is missing: a list of {\"from\", \"to\", \"protocol\", \"port\", \"reachable\"}"))?;
    let list = list.as_array().ok_or_else(|| err("expect", "is not a list"))?;
    list.iter().enumerate().map(|(i, e)| expectation(e, &format!("expect[{i}]"))).collect()
}

fn expectation(v: &Value, at: &str) -> Result<Expectation, TopologyError> {
    let obj = v.as_object().ok_or_else(|| err(at, "is not an object"))?;
    const KEYS: [&str; 6] = ["from", "to", "protocol", "port", "reachable", "description"];
    if let Some(k) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(err(at, format!("unknown key {k:?} (allowed: {})", KEYS.join(", "))));
    }
    let string = |key: &str| -> Result<&str, TopologyError> {
        let p = format!("{at}.{key}");
        obj.get(key).ok_or_else(|| err(&p, "is required"))?.as_str().ok_or_else(|| err(&p, "is not a string"))
    };
    let (from_vpc, from_subnet) = subnet_ref(string("from")?, &format!("{at}.from"))?;
    let to_raw = string("to")?;
    let to = match to_raw.parse::<Ipv4Addr>() {
        Ok(a) => Target::Addr(a),
        Err(_) if to_raw.contains('/') => {
            let (vpc, subnet) = subnet_ref(to_raw, &format!("{at}.to"))?;
            Target::Subnet { vpc, subnet }
        }
        Err(_) => {
            return Err(err(
                &format!("{at}.to"),
                format!(
                    "{to_raw:?} is neither vpc/subnet nor an IPv4 address (DNS names need a VPC resolver, which vpcctl does not run yet)"
                ),
            ));
        }
    };
    let port = match obj.get("port") {
        None => None,
        Some(p) => match p.as_u64() {
            Some(n @ 1..=65535) => Some(n as u16),
            _ => return Err(err(&format!("{at}.port"), format!("{p} is not a port (1-65535)"))),
        },
    };
    let protocol = match obj.get("protocol").map(|_| string("protocol")).transpose()? {
        Some("tcp") => Proto::Tcp,
        Some("udp") => Proto::Udp,
        Some("icmp") => Proto::Icmp,
        Some(other) => return Err(err(&format!("{at}.protocol"), format!("{other:?} is not icmp, tcp or udp"))),
        None if port.is_some() => Proto::Tcp,
        None => Proto::Icmp,
    };
    match (protocol, port) {
        (Proto::Tcp | Proto::Udp, None) => return Err(err(&format!("{at}.port"), "is required for tcp and udp")),
        (Proto::Icmp, Some(_)) => return Err(err(&format!("{at}.port"), "makes no sense with icmp; drop it")),
        _ => {}
    }
    let reachable = obj
        .get("reachable")
        .ok_or_else(|| err(&format!("{at}.reachable"), "is required: true or false"))?
        .as_bool()
        .ok_or_else(|| err(&format!("{at}.reachable"), "is not true or false"))?;
    Ok(Expectation { from_vpc, from_subnet, to, protocol, port, reachable })
}

/// Every VPC and subnet named must exist in `state`.
pub fn check_against(state: &State, list: &[Expectation]) -> Result<(), TopologyError> {
    for (i, e) in list.iter().enumerate() {
        let v = find_vpc(state, e.from_vpc.as_str()).map_err(|x| err(&format!("expect[{i}].from"), x.to_string()))?;
        if let Some((_, host)) = v.remote_host(e.from_subnet.as_str()) {
            let why =
                format!("{}/{} lives on host {host}: check it from there (each host probes from its own subnets)", v.name, e.from_subnet);
            return Err(err(&format!("expect[{i}].from"), why));
        }
        find_host(v, e.from_subnet.as_str()).map_err(|x| err(&format!("expect[{i}].from"), x.to_string()))?;
        if let Target::Subnet { vpc, subnet } = &e.to {
            let v = find_vpc(state, vpc.as_str()).map_err(|x| err(&format!("expect[{i}].to"), x.to_string()))?;
            // On another host: probed across the overlay like any address.
            if v.remote_host(subnet.as_str()).is_none() {
                find_host(v, subnet.as_str()).map_err(|x| err(&format!("expect[{i}].to"), x.to_string()))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_file_parses() {
        let list = parse(
            r#"{"expect": [
              {"from": "vpc1/web", "to": "vpc1/db", "protocol": "tcp", "port": 5432, "reachable": true},
              {"from": "vpc3/lab", "to": "vpc1/web", "protocol": "icmp", "reachable": false},
              {"from": "vpc1/db",  "to": "198.51.100.80", "protocol": "tcp", "port": 80, "reachable": false}]}"#,
        )
        .unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].label(), "vpc1/web -> vpc1/db tcp 5432");
        assert_eq!(list[2].to, Target::Addr("198.51.100.80".parse().unwrap()));
        assert!(!list[1].reachable);
    }

    #[test]
    fn errors_say_where() {
        let cases = [
            (
                r#"{"expect": [{"from": "vpc1/web", "to": "vpc1/db", "protocol": "tcp", "reachable": true}]}"#,
                "expect[0].port: is required for tcp",
            ),
            (r#"{"expect": [{"from": "vpc1", "to": "vpc1/db", "reachable": true}]}"#, "expect[0].from: \"vpc1\" is not vpc/subnet"),
            (r#"{"expect": [{"from": "vpc1/web", "to": "db.internal", "reachable": true}]}"#, "expect[0].to: \"db.internal\" is neither"),
            (r#"{"expect": [{"from": "vpc1/web", "to": "vpc1/db", "reachable": "yes"}]}"#, "expect[0].reachable: is not true or false"),
            (
                r#"{"expect": [{"from": "vpc1/web", "to": "vpc1/db", "reachable": true, "proto": "tcp"}]}"#,
                "expect[0]: unknown key \"proto\"",
            ),
            (
                r#"{"expect": [{"from": "vpc1/web", "to": "vpc1/db", "protocol": "icmp", "port": 1, "reachable": true}]}"#,
                "expect[0].port: makes no sense",
            ),
            (r#"{"expected": []}"#, "(file): unknown key \"expected\""),
            (r#"{"vpcs": {}}"#, "expect: is missing"),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text}\n  got:  {e}\n  want: {want}");
        }
    }
}
