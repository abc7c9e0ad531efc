//! Arguments of the instance and security group commands. Flags follow
//! `aws ec2`'s (`--group-name`, `--group-id`, `--instance-id` are aliases).

use std::net::Ipv4Addr;

use clap::{Args, Subcommand};

use super::complete;
use super::routing::{Describe, InVpc};
use crate::error::InputError;
use crate::model::instance::SgRule;
use crate::model::policy::{PortRange, Protocol};
use crate::model::{Name, cidr};

#[derive(Debug, Args)]
pub struct RunInstance {
    #[command(flatten)]
    pub vpc: InVpc,
    /// The subnet it runs in
    #[arg(long, visible_alias = "subnet-id", add = complete::subnets())]
    pub subnet: String,
    /// Its name, unique in the VPC; it resolves as NAME.VPC.internal
    #[arg(long)]
    pub name: String,
    /// Its security groups (default: the VPC's `default` group)
    #[arg(long, value_delimiter = ',', value_name = "A,B", add = complete::security_groups())]
    pub security_groups: Vec<String>,
    /// Its address in the subnet (default: the next free one from .4)
    #[arg(long, visible_alias = "private-ip-address")]
    pub ip: Option<Ipv4Addr>,
}

#[derive(Debug, Args)]
pub struct InstanceRef {
    #[command(flatten)]
    pub vpc: InVpc,
    /// Instance name
    #[arg(long, visible_aliases = ["instance-id", "name"], add = complete::instances())]
    pub instance: String,
}

#[derive(Debug, Args)]
pub struct ModifyInstance {
    #[command(flatten)]
    pub at: InstanceRef,
    /// Its security groups from now on (replaces the ones it has)
    #[arg(long, value_delimiter = ',', value_name = "A,B", required = true, visible_alias = "groups", add = complete::security_groups())]
    pub security_groups: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GroupRef {
    #[command(flatten)]
    pub vpc: InVpc,
    /// Security group name
    #[arg(long, visible_aliases = ["group-name", "group-id", "name"], add = complete::security_groups())]
    pub group: String,
}

impl GroupRef {
    pub fn resolve(&self) -> Result<(Name, Name), InputError> {
        Ok((self.vpc.name()?, group_name(&self.group)?))
    }
}

#[derive(Debug, Args)]
#[group(id = "peer", required = true, multiple = false)]
pub struct RuleArgs {
    #[command(flatten)]
    pub group: GroupRef,
    /// tcp, udp, icmp or all (`-1` as in aws ec2)
    #[arg(long, value_name = "PROTO")]
    pub protocol: String,
    /// A port or a range A-B (tcp and udp only)
    #[arg(long, value_name = "P|A-B")]
    pub port: Option<String>,
    /// The peer as a CIDR: the source for ingress, the destination for egress
    #[arg(long, group = "peer")]
    pub cidr: Option<String>,
    /// The peer as the members of a group of the same VPC
    #[arg(long, group = "peer", visible_alias = "source-group-name", add = complete::security_groups())]
    pub source_group: Option<String>,
}

impl RuleArgs {
    pub fn rule(&self) -> Result<SgRule, InputError> {
        let protocol = Protocol::from_aws(&self.protocol)
            .ok_or_else(|| InputError::Invalid(format!("--protocol {}: use tcp, udp, icmp or all", self.protocol)))?;
        let ports = match (&self.port, protocol) {
            (Some(p), Protocol::Tcp | Protocol::Udp) => Some(port_range(p)?),
            (None, Protocol::Tcp | Protocol::Udp) => {
                return Err(InputError::Invalid(format!(
                    "--protocol {} needs --port P or --port A-B (or use --protocol all for every port)",
                    self.protocol
                )));
            }
            (Some(p), _) => return Err(InputError::Invalid(format!("--port {p} makes no sense with --protocol {}", self.protocol))),
            (None, _) => None,
        };
        let cidr = self.cidr.as_deref().map(|c| cidr::parse("CIDR", c)).transpose()?;
        let source_group = self.source_group.as_deref().map(group_name).transpose()?;
        Ok(SgRule { protocol, ports, cidr, source_group })
    }
}

fn port_range(raw: &str) -> Result<PortRange, InputError> {
    let bad = || InputError::Invalid(format!("--port {raw}: not a port (1-65535) or a range like 8000-8100"));
    let (a, b) = raw.split_once('-').unwrap_or((raw, raw));
    let num = |s: &str| s.trim().parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad);
    let (first, last) = (num(a)?, num(b)?);
    if first > last {
        return Err(bad());
    }
    Ok(PortRange { first, last })
}

pub fn group_name(raw: &str) -> Result<Name, InputError> {
    Name::parse("security group name", raw)
}

pub fn instance_name(raw: &str) -> Result<Name, InputError> {
    Name::parse("instance name", raw)
}

#[derive(Debug, Subcommand)]
pub enum InstanceCommand {
    /// Launch an instance: a namespace of its own in a subnet, with security groups
    #[command(after_help = "\
Its address is the next free one of the subnet from .4 (AWS reserves .0-.3;
.1 is the gateway, .2 the subnet's own namespace), or --ip.

Examples:
  vpcctl run-instance --vpc vpc1 --subnet web --name web1 --security-groups web
  vpcctl run-instance --vpc vpc1 --subnet db --name db1 --security-groups db --ip 10.10.3.10")]
    RunInstance(RunInstance),
    /// Terminate an instance: its namespace, apps and address go
    #[command(after_help = "Example:\n  vpcctl terminate-instance --vpc vpc1 --instance web1")]
    TerminateInstance(InstanceRef),
    /// Instances: subnet, address, namespace, security groups
    #[command(after_help = "Examples:\n  vpcctl describe-instances\n  vpcctl describe-instances --vpc vpc1 --json")]
    DescribeInstances(Describe),
    /// Replace an instance's security groups
    #[command(after_help = "Example:\n  vpcctl modify-instance-attribute --vpc vpc1 --instance web1 --security-groups web,admin")]
    ModifyInstanceAttribute(ModifyInstance),
    /// Create a security group: all egress, no ingress
    #[command(after_help = "Example:\n  vpcctl create-security-group --vpc vpc1 --group web")]
    CreateSecurityGroup(GroupRef),
    /// Delete a security group (refused while an instance uses it or a rule names it)
    #[command(after_help = "Example:\n  vpcctl delete-security-group --vpc vpc1 --group web")]
    DeleteSecurityGroup(GroupRef),
    /// Security groups: rules and members
    #[command(after_help = "Examples:\n  vpcctl describe-security-groups\n  vpcctl describe-security-groups --vpc vpc1 --json")]
    DescribeSecurityGroups(Describe),
    /// Let traffic in to a group's members (stateful: replies pass)
    #[command(after_help = "\
Examples:
  vpcctl authorize-security-group-ingress --vpc vpc1 --group web --protocol tcp --port 80 --cidr 0.0.0.0/0
  vpcctl authorize-security-group-ingress --vpc vpc1 --group app --protocol tcp --port 8080 --source-group web
  vpcctl authorize-security-group-ingress --vpc vpc1 --group db --protocol tcp --port 5432-5433 --source-group app")]
    AuthorizeSecurityGroupIngress(RuleArgs),
    /// Let a group's members open connections out (a new group allows all)
    #[command(
        after_help = "Example:\n  vpcctl authorize-security-group-egress --vpc vpc1 --group db --protocol tcp --port 443 --cidr 10.10.0.0/16"
    )]
    AuthorizeSecurityGroupEgress(RuleArgs),
    /// Remove an ingress rule (give it as it was authorized)
    #[command(
        after_help = "Example:\n  vpcctl revoke-security-group-ingress --vpc vpc1 --group app --protocol tcp --port 8080 --source-group web"
    )]
    RevokeSecurityGroupIngress(RuleArgs),
    /// Remove an egress rule; revoking `all 0.0.0.0/0` stops new connections out (replies still pass)
    #[command(after_help = "Example:\n  vpcctl revoke-security-group-egress --vpc vpc1 --group db --protocol all --cidr 0.0.0.0/0")]
    RevokeSecurityGroupEgress(RuleArgs),
}

/// For `--help`'s groups.
pub const COMMANDS: &[&str] = &[
    "run-instance",
    "terminate-instance",
    "describe-instances",
    "modify-instance-attribute",
    "create-security-group",
    "delete-security-group",
    "describe-security-groups",
    "authorize-security-group-ingress",
    "authorize-security-group-egress",
    "revoke-security-group-ingress",
    "revoke-security-group-egress",
];
