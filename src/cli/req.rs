//! Arguments resolved: what each command needs, typed and validated for
//! form (names, CIDRs, addresses). Whether they exist is the command's job.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use ipnet::Ipv4Net;

use crate::model::{Name, Proto, SubnetKind};

#[derive(Debug)]
pub struct NewVpc {
    pub name: Name,
    pub cidr: Ipv4Net,
    pub dns: bool,
    pub dns_options: crate::model::services::DnsOptions,
}

#[derive(Debug)]
pub struct NewSubnet {
    pub vpc: Name,
    pub name: Name,
    pub cidr: Ipv4Net,
    pub kind: SubnetKind,
}

/// A subnet of a VPC.
#[derive(Debug)]
pub struct At {
    pub vpc: Name,
    pub subnet: Name,
}

#[derive(Debug)]
pub struct Nat {
    pub vpc: Name,
    pub interface: Option<String>,
    pub subnets: Vec<Name>,
}

/// Two VPCs.
#[derive(Debug)]
pub struct Pair {
    pub a: Name,
    pub b: Name,
}

#[derive(Debug)]
pub struct Peering {
    pub pair: Pair,
    pub allow: Vec<Ipv4Net>,
    pub name: Option<Name>,
    pub no_routes: bool,
}

#[derive(Debug)]
pub struct Policy {
    pub vpc: Name,
    pub subnet: Option<Name>,
    pub file: PathBuf,
}

#[derive(Debug)]
pub struct App {
    pub at: At,
    pub port: u16,
    pub command: Vec<String>,
    pub user: Option<String>,
}

#[derive(Debug)]
pub struct StopApp {
    pub at: At,
    pub port: Option<u16>,
}

#[derive(Debug)]
pub struct Exec {
    pub at: At,
    pub command: Vec<String>,
}

/// What a probe aims at: an address, or a subnet (its namespace's).
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Addr(Ipv4Addr),
    Subnet(Name, Name),
}

impl Target {
    pub fn address(&self, state: &crate::model::State) -> Result<Ipv4Addr, crate::error::InputError> {
        match self {
            Target::Addr(a) => Ok(*a),
            Target::Subnet(v, s) => Ok(state.find_host(v, s)?.ip),
        }
    }
}

#[derive(Debug)]
pub struct Probe {
    pub vpc: Name,
    pub from: Name,
    pub to: Target,
    pub protocol: Proto,
    pub port: Option<u16>,
}

#[derive(Debug)]
pub struct Matrix {
    pub protocol: Proto,
    pub port: Option<u16>,
}
