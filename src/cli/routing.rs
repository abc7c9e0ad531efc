//! Arguments of the AWS routing commands: route tables, routes, internet
//! and NAT gateways, transit gateways. Flags follow `aws ec2`'s.

use std::net::Ipv4Addr;

use clap::{Args, Subcommand};

use super::complete;
use crate::error::InputError;
use crate::model::routing::Target;
use crate::model::{Name, cidr};

fn name(what: &'static str, s: &str) -> Result<Name, InputError> {
    Name::parse(what, s)
}

#[derive(Debug, Args)]
pub struct InVpc {
    /// VPC name
    #[arg(long, add = complete::vpcs())]
    pub vpc: String,
}

impl InVpc {
    pub fn name(&self) -> Result<Name, InputError> {
        name("VPC name", &self.vpc)
    }
}

#[derive(Debug, Args)]
pub struct RouteTableArgs {
    #[command(flatten)]
    pub vpc: InVpc,
    /// Route table name
    #[arg(long, visible_alias = "name", add = complete::route_tables())]
    pub route_table: String,
}

impl RouteTableArgs {
    pub fn resolve(&self) -> Result<(Name, Name), InputError> {
        Ok((self.vpc.name()?, name("route table name", &self.route_table)?))
    }
}

#[derive(Debug, Args)]
pub struct Associate {
    #[command(flatten)]
    pub table: RouteTableArgs,
    /// The subnet that uses it
    #[arg(long, add = complete::subnets())]
    pub subnet: String,
}

#[derive(Debug, Args)]
pub struct Disassociate {
    #[command(flatten)]
    pub vpc: InVpc,
    /// The subnet that goes back to the main table
    #[arg(long, add = complete::subnets())]
    pub subnet: String,
}

#[derive(Debug, Args)]
pub struct Describe {
    /// Only this VPC's
    #[arg(long, add = complete::vpcs())]
    pub vpc: Option<String>,
}

#[derive(Debug, Args)]
#[group(id = "target", required = true, multiple = false)]
pub struct RouteTargetArgs {
    /// The VPC's internet gateway: `igw`
    #[arg(long, value_name = "igw", group = "target")]
    pub gateway: Option<String>,
    /// A NAT gateway of the VPC, by name
    #[arg(long, group = "target", add = complete::nat_gateways())]
    pub nat_gateway: Option<String>,
    /// A peering of the VPC, by name (see `peer --name`)
    #[arg(long, group = "target", add = complete::peerings())]
    pub peering: Option<String>,
    /// A transit gateway the VPC is attached to
    #[arg(long, group = "target", add = complete::transit_gateways())]
    pub transit_gateway: Option<String>,
    /// Drop what matches
    #[arg(long, group = "target")]
    pub blackhole: bool,
}

impl RouteTargetArgs {
    pub fn resolve(&self) -> Result<Target, InputError> {
        if let Some(g) = &self.gateway {
            return match g.as_str() {
                "igw" => Ok(Target::InternetGateway),
                other => {
                    Err(InputError::Invalid(format!("--gateway {other}: a VPC has one internet gateway, named 'igw'; use --gateway igw")))
                }
            };
        }
        if let Some(n) = &self.nat_gateway {
            return Ok(Target::NatGateway(name("NAT gateway name", n)?));
        }
        if let Some(n) = &self.peering {
            return Ok(Target::Peering(name("peering name", n)?));
        }
        if let Some(n) = &self.transit_gateway {
            return Ok(Target::TransitGateway(name("transit gateway name", n)?));
        }
        Ok(Target::Blackhole)
    }
}

#[derive(Debug, Args)]
pub struct RouteArgs {
    #[command(flatten)]
    pub table: RouteTableArgs,
    /// Destination CIDR (`--destination-cidr-block` in aws ec2)
    #[arg(long, visible_alias = "destination-cidr-block")]
    pub destination: String,
    #[command(flatten)]
    pub target: RouteTargetArgs,
}

#[derive(Debug, Args)]
pub struct DeleteRoute {
    #[command(flatten)]
    pub table: RouteTableArgs,
    #[arg(long, visible_alias = "destination-cidr-block")]
    pub destination: String,
}

/// `--subnet S`, or `--subnet V/S` naming the same VPC as `--vpc`.
pub fn subnet_in(vpc: &Name, raw: &str) -> Result<Name, InputError> {
    match raw.split_once('/') {
        Some((v, s)) if v == vpc.as_str() => super::subnet_name(s),
        Some((v, _)) => Err(InputError::Invalid(format!("--subnet {raw} names VPC '{v}', but --vpc is '{vpc}'; name one VPC"))),
        None => super::subnet_name(raw),
    }
}

pub fn destination(s: &str) -> Result<ipnet::Ipv4Net, InputError> {
    cidr::parse("destination CIDR", s)
}

#[derive(Debug, Args)]
pub struct CreateIgw {
    #[command(flatten)]
    pub vpc: InVpc,
    /// The uplink its traffic leaves from (default: the default route's interface)
    #[arg(long)]
    pub interface: Option<String>,
}

#[derive(Debug, Args)]
pub struct CreateNatGateway {
    #[command(flatten)]
    pub vpc: InVpc,
    /// The (public) subnet it sits in
    #[arg(long, add = complete::subnets())]
    pub subnet: String,
    /// Its name, for `create-route --nat-gateway`
    #[arg(long)]
    pub name: String,
    /// Its elastic IP: a free address of the uplink's subnet
    #[arg(long)]
    pub eip: Option<Ipv4Addr>,
}

#[derive(Debug, Args)]
pub struct NatGatewayRef {
    #[command(flatten)]
    pub vpc: InVpc,
    /// NAT gateway name
    #[arg(long, add = complete::nat_gateways())]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct TgwName {
    /// Transit gateway name
    #[arg(long)]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct TgwArg {
    /// Transit gateway name
    #[arg(long, add = complete::transit_gateways())]
    pub transit_gateway: String,
}

impl TgwArg {
    pub fn name(&self) -> Result<Name, InputError> {
        name("transit gateway name", &self.transit_gateway)
    }
}

#[derive(Debug, Args)]
pub struct TgwAttach {
    #[command(flatten)]
    pub tgw: TgwArg,
    #[command(flatten)]
    pub vpc: InVpc,
}

#[derive(Debug, Args)]
pub struct TgwTableNew {
    #[command(flatten)]
    pub tgw: TgwArg,
    /// Route table name
    #[arg(long)]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct TgwTableVpc {
    #[command(flatten)]
    pub tgw: TgwArg,
    /// TGW route table name
    #[arg(long)]
    pub route_table: String,
    #[command(flatten)]
    pub vpc: InVpc,
}

#[derive(Debug, Args)]
#[group(id = "tgw_target", required = true, multiple = false)]
pub struct TgwRouteArgs {
    #[command(flatten)]
    pub tgw: TgwArg,
    /// TGW route table name
    #[arg(long)]
    pub route_table: String,
    /// Destination CIDR
    #[arg(long, visible_alias = "destination-cidr-block")]
    pub destination: String,
    /// The attachment (VPC) it goes to
    #[arg(long, group = "tgw_target")]
    pub vpc: Option<String>,
    /// Drop what matches
    #[arg(long, group = "tgw_target")]
    pub blackhole: bool,
}

#[derive(Debug, Args)]
pub struct TgwRouteDel {
    #[command(flatten)]
    pub tgw: TgwArg,
    #[arg(long)]
    pub route_table: String,
    #[arg(long, visible_alias = "destination-cidr-block")]
    pub destination: String,
}

/// The routing commands, flattened into the top-level command list.
#[derive(Debug, Subcommand)]
pub enum RoutingCommand {
    /// Create a route table in a VPC (it has only the local route)
    #[command(after_help = "Example:\n  vpcctl create-route-table --vpc vpc1 --name private")]
    CreateRouteTable(RouteTableArgs),
    /// Delete a route table (refused while a subnet uses it)
    #[command(after_help = "Example:\n  vpcctl delete-route-table --vpc vpc1 --route-table private")]
    DeleteRouteTable(RouteTableArgs),
    /// Make a subnet use a route table (instead of main)
    #[command(after_help = "Example:\n  vpcctl associate-route-table --vpc vpc1 --route-table private --subnet db")]
    AssociateRouteTable(Associate),
    /// Put a subnet back on its VPC's main route table
    #[command(after_help = "Example:\n  vpcctl disassociate-route-table --vpc vpc1 --subnet db")]
    DisassociateRouteTable(Disassociate),
    /// Route tables: routes, targets and associations
    #[command(after_help = "Examples:\n  vpcctl describe-route-tables\n  vpcctl describe-route-tables --vpc vpc1 --json")]
    DescribeRouteTables(Describe),
    /// Add a route to a route table: one destination, one target
    #[command(after_help = "\
Longest prefix wins; the local route (the VPC's CIDR) always does.

Examples:
  vpcctl create-route --vpc vpc1 --route-table main --destination 0.0.0.0/0 --gateway igw
  vpcctl create-route --vpc vpc1 --route-table private --destination 0.0.0.0/0 --nat-gateway ngw-a
  vpcctl create-route --vpc vpc1 --route-table main --destination 10.20.0.0/16 --peering vpc1-vpc2
  vpcctl create-route --vpc dev --route-table main --destination 10.0.0.0/8 --transit-gateway tgw
  vpcctl create-route --vpc vpc1 --route-table private --destination 198.51.100.80/32 --blackhole")]
    CreateRoute(RouteArgs),
    /// Change the target of an existing route
    #[command(after_help = "Example:\n  vpcctl replace-route --vpc vpc1 --route-table private --destination 0.0.0.0/0 --nat-gateway ngw-b")]
    ReplaceRoute(RouteArgs),
    /// Remove a route
    #[command(after_help = "Example:\n  vpcctl delete-route --vpc vpc1 --route-table private --destination 0.0.0.0/0")]
    DeleteRoute(DeleteRoute),
    /// Give a VPC its internet gateway (subnets use it through routes)
    #[command(
        after_help = "Examples:\n  vpcctl create-internet-gateway --vpc vpc1\n  vpcctl create-internet-gateway --vpc vpc1 --interface eth0"
    )]
    CreateInternetGateway(CreateIgw),
    /// Remove a VPC's internet gateway (refused while a route targets it)
    #[command(after_help = "Example:\n  vpcctl delete-internet-gateway --vpc vpc1")]
    DeleteInternetGateway(InVpc),
    /// Create a NAT gateway: a namespace of its own in a subnet, that translates
    #[command(after_help = "\
Private subnets whose route table sends 0.0.0.0/0 to it go out through it.
Its own traffic follows its subnet's route table: in a subnet without a
route to the internet gateway it gives no internet, as in AWS.

Example:
  vpcctl create-nat-gateway --vpc vpc1 --subnet public-a --name ngw-a --eip 203.0.113.20")]
    CreateNatGateway(CreateNatGateway),
    /// Delete a NAT gateway (refused while a route targets it)
    #[command(after_help = "Example:\n  vpcctl delete-nat-gateway --vpc vpc1 --name ngw-a")]
    DeleteNatGateway(NatGatewayRef),
    /// NAT gateways: subnet, private and public address, namespace
    #[command(after_help = "Examples:\n  vpcctl describe-nat-gateways\n  vpcctl describe-nat-gateways --vpc vpc1 --json")]
    DescribeNatGateways(Describe),
    /// Create a transit gateway: VPCs attach to it, its route tables decide
    #[command(after_help = "Example:\n  vpcctl create-transit-gateway --name tgw")]
    CreateTransitGateway(TgwName),
    /// Delete a transit gateway (refused while a VPC is attached)
    #[command(after_help = "Example:\n  vpcctl delete-transit-gateway --name tgw")]
    DeleteTransitGateway(TgwName),
    /// Attach a VPC to a transit gateway
    #[command(after_help = "Example:\n  vpcctl attach-transit-gateway --transit-gateway tgw --vpc dev")]
    AttachTransitGateway(TgwAttach),
    /// Detach a VPC (refused while its routes or a TGW table name it)
    #[command(after_help = "Example:\n  vpcctl detach-transit-gateway --transit-gateway tgw --vpc dev")]
    DetachTransitGateway(TgwAttach),
    /// Create a transit gateway route table
    #[command(after_help = "Example:\n  vpcctl create-transit-gateway-route-table --transit-gateway tgw --name spokes")]
    CreateTransitGatewayRouteTable(TgwTableNew),
    /// Delete a transit gateway route table (refused while associated)
    #[command(after_help = "Example:\n  vpcctl delete-transit-gateway-route-table --transit-gateway tgw --name spokes")]
    DeleteTransitGatewayRouteTable(TgwTableNew),
    /// Route an attachment's traffic by this TGW route table
    #[command(after_help = "Example:\n  vpcctl associate-transit-gateway-route-table --transit-gateway tgw --route-table spokes --vpc dev")]
    AssociateTransitGatewayRouteTable(TgwTableVpc),
    /// Stop routing an attachment's traffic by this TGW route table
    #[command(
        after_help = "Example:\n  vpcctl disassociate-transit-gateway-route-table --transit-gateway tgw --route-table spokes --vpc dev"
    )]
    DisassociateTransitGatewayRouteTable(TgwTableVpc),
    /// Let a TGW route table learn an attachment's VPC CIDR
    #[command(
        after_help = "Example:\n  vpcctl enable-transit-gateway-route-table-propagation --transit-gateway tgw --route-table hub --vpc dev"
    )]
    EnableTransitGatewayRouteTablePropagation(TgwTableVpc),
    /// Stop a TGW route table learning an attachment's CIDR
    #[command(
        after_help = "Example:\n  vpcctl disable-transit-gateway-route-table-propagation --transit-gateway tgw --route-table hub --vpc dev"
    )]
    DisableTransitGatewayRouteTablePropagation(TgwTableVpc),
    /// Add a static route to a TGW route table (to an attachment, or a blackhole)
    #[command(after_help = "\
Examples:
  vpcctl create-transit-gateway-route --transit-gateway tgw --route-table spokes --destination 10.30.0.0/16 --vpc shared
  vpcctl create-transit-gateway-route --transit-gateway tgw --route-table hub --destination 10.20.0.0/16 --blackhole")]
    CreateTransitGatewayRoute(TgwRouteArgs),
    /// Remove a static route from a TGW route table
    #[command(
        after_help = "Example:\n  vpcctl delete-transit-gateway-route --transit-gateway tgw --route-table hub --destination 10.20.0.0/16"
    )]
    DeleteTransitGatewayRoute(TgwRouteDel),
    /// Transit gateways: attachments, route tables, associations, propagations, routes
    #[command(after_help = "Examples:\n  vpcctl describe-transit-gateways\n  vpcctl describe-transit-gateways --json")]
    DescribeTransitGateways,
}

/// The names of these commands, for the grouped help.
pub const ROUTE_TABLE_COMMANDS: &[&str] = &[
    "create-route-table",
    "delete-route-table",
    "associate-route-table",
    "disassociate-route-table",
    "describe-route-tables",
    "create-route",
    "replace-route",
    "delete-route",
    "create-internet-gateway",
    "delete-internet-gateway",
    "create-nat-gateway",
    "delete-nat-gateway",
    "describe-nat-gateways",
];

pub const TGW_COMMANDS: &[&str] = &[
    "create-transit-gateway",
    "delete-transit-gateway",
    "attach-transit-gateway",
    "detach-transit-gateway",
    "create-transit-gateway-route-table",
    "delete-transit-gateway-route-table",
    "associate-transit-gateway-route-table",
    "disassociate-transit-gateway-route-table",
    "enable-transit-gateway-route-table-propagation",
    "disable-transit-gateway-route-table-propagation",
    "create-transit-gateway-route",
    "delete-transit-gateway-route",
    "describe-transit-gateways",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subnet_is_plain_or_names_the_same_vpc() {
        let vpc = Name::parse("n", "prod").unwrap();
        assert_eq!(subnet_in(&vpc, "app-a").unwrap().as_str(), "app-a");
        assert_eq!(subnet_in(&vpc, "prod/app-a").unwrap().as_str(), "app-a");
        let e = subnet_in(&vpc, "dev/app-a").unwrap_err().to_string();
        assert!(e.contains("names VPC 'dev', but --vpc is 'prod'"), "{e}");
    }

    #[test]
    fn every_routing_command_is_in_the_grouped_help() {
        use clap::Subcommand;
        let cmd = RoutingCommand::augment_subcommands(clap::Command::new("x"));
        let mut names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
        let mut listed: Vec<&str> = ROUTE_TABLE_COMMANDS.iter().chain(TGW_COMMANDS).copied().collect();
        names.sort();
        listed.sort();
        assert_eq!(names, listed);
    }
}
