//! The recorded state: every VPC, subnet, NAT gateway, peering and what
//! vpcctl changed on the host. Pure data; `crate::state::Store` reads and
//! writes it.

use serde::{Deserialize, Serialize};

use super::{Name, Peering, Subnet, Vpc};
use crate::error::InputError;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub schema_version: u32,
    #[serde(default)]
    pub host: HostRecord,
    #[serde(default)]
    pub vpcs: Vec<Vpc>,
    #[serde(default)]
    pub peerings: Vec<Peering>,
}

impl Default for State {
    fn default() -> Self {
        State { schema_version: SCHEMA_VERSION, host: HostRecord::default(), vpcs: vec![], peerings: vec![] }
    }
}

/// What we changed on the host outside our own objects, to put back later.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRecord {
    /// `net.ipv4.ip_forward` before the first VPC, restored after the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_forward_before: Option<String>,
    /// A change was recorded but not known to be fully applied (the run
    /// was killed or failed half-way). The next change re-asserts every
    /// chain and policy instead of trusting state.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_progress: bool,
}

impl State {
    pub fn vpc(&self, name: &str) -> Option<&Vpc> {
        self.vpcs.iter().find(|v| v.name.as_str() == name)
    }

    pub fn vpc_mut(&mut self, name: &str) -> Option<&mut Vpc> {
        self.vpcs.iter_mut().find(|v| v.name.as_str() == name)
    }

    /// The VPC, or the error a user sees for a name that is not there.
    pub fn find_vpc(&self, name: &Name) -> Result<&Vpc, InputError> {
        super::validate::find_vpc(self, name.as_str())
    }

    pub fn find_vpc_mut(&mut self, name: &Name) -> Result<&mut Vpc, InputError> {
        match self.vpcs.iter().position(|v| &v.name == name) {
            Some(i) => Ok(&mut self.vpcs[i]),
            None => Err(super::validate::no_vpc(self, name.as_str())),
        }
    }

    pub fn find_subnet(&self, vpc: &Name, subnet: &Name) -> Result<&Subnet, InputError> {
        super::validate::find_subnet(self.find_vpc(vpc)?, subnet.as_str())
    }

    pub fn find_subnet_mut(&mut self, vpc: &Name, subnet: &Name) -> Result<&mut Subnet, InputError> {
        let v = self.find_vpc_mut(vpc)?;
        match v.subnets.iter().position(|s| &s.name == subnet) {
            Some(i) => Ok(&mut v.subnets[i]),
            None => Err(super::validate::no_subnet(v, subnet.as_str())),
        }
    }

    pub fn peerings_of<'a>(&'a self, vpc: &'a str) -> impl Iterator<Item = &'a Peering> + 'a {
        self.peerings.iter().filter(move |p| p.involves(vpc))
    }

    /// Every interface and namespace name we have recorded, so new names
    /// can be chosen not to collide with them.
    pub fn taken_names(&self) -> std::collections::HashSet<String> {
        let mut names = std::collections::HashSet::new();
        for v in &self.vpcs {
            names.insert(v.bridge.clone());
            for s in &v.subnets {
                names.insert(s.veth.clone());
                names.insert(s.namespace.clone());
            }
        }
        names
    }
}
