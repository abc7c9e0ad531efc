//! The AWS routing commands: route tables, routes, internet and NAT
//! gateways, transit gateways. Each is one edit of the model, checked
//! (targets exist, nothing depends on what goes) before the one change
//! that applies it.

use anyhow::Result;
use serde_json::{Value, json};

use super::Ctx;
use crate::cli::routing::{self as args, RoutingCommand};
use crate::error::InputError;
use crate::model::routing::{self, InternetGateway, NatGateway, Route, RouteTable, Target, TgwRoute, TgwRouteTable, TransitGateway};
use crate::model::{Name, State, Status, kernel_names};

pub fn run(ctx: &Ctx, cmd: RoutingCommand) -> Result<()> {
    use RoutingCommand::*;
    match cmd {
        DescribeRouteTables(a) => return describe_route_tables(ctx, a.vpc.as_deref()),
        DescribeNatGateways(a) => return describe_nat_gateways(ctx, a.vpc.as_deref()),
        DescribeTransitGateways => return describe_transit_gateways(ctx),
        _ => {}
    }
    super::edit_and_commit(ctx, |st| edit(ctx, st, cmd), routing_json)
}

fn not_found(what: String) -> anyhow::Error {
    InputError::NotFound(what).into()
}

fn conflict(what: String) -> anyhow::Error {
    InputError::Conflict(what).into()
}

/// The table `name` of `vpc`, made on first use if it is `main`.
fn table_mut<'a>(state: &'a mut State, vpc: &Name, table: &Name) -> Result<&'a mut RouteTable> {
    let taken = routing::tables_taken(state);
    let suffix = state.host.chain_suffix.clone();
    let v = state.find_vpc_mut(vpc)?;
    if table.as_str() == routing::MAIN && v.route_table(routing::MAIN).is_none() {
        let id = routing::table_id(&suffix, vpc.as_str(), routing::MAIN, &|t| taken.contains(&t));
        v.route_tables.insert(0, RouteTable { name: table.clone(), table: id, routes: vec![], subnets: vec![] });
    }
    let have: Vec<String> = v.route_tables.iter().map(|t| t.name.to_string()).collect();
    v.route_tables.iter_mut().find(|t| t.name == *table).ok_or_else(|| {
        not_found(format!(
            "VPC '{vpc}' has no route table '{table}' (it has: main{}); create it with 'vpcctl create-route-table --vpc {vpc} --name {table}'",
            have.iter().filter(|h| *h != routing::MAIN).map(|h| format!(", {h}")).collect::<String>()
        ))
    })
}

/// `main` left with no route is dropped (it exists implicitly), so a VPC
/// whose routes were all deleted records nothing.
fn prune_main(state: &mut State, vpc: &Name) {
    if let Some(v) = state.vpc_mut(vpc.as_str()) {
        v.route_tables.retain(|t| t.name.as_str() != routing::MAIN || !t.routes.is_empty());
    }
}

fn edit(ctx: &Ctx, st: &mut State, cmd: RoutingCommand) -> Result<String> {
    use RoutingCommand::*;
    Ok(match cmd {
        CreateRouteTable(a) => {
            let (vpc, table) = a.resolve()?;
            let taken = routing::tables_taken(st);
            let suffix = st.host.chain_suffix.clone();
            let v = st.find_vpc_mut(&vpc)?;
            if table.as_str() == routing::MAIN || v.route_table(table.as_str()).is_some() {
                return Err(conflict(format!("VPC '{vpc}' already has a route table '{table}'; choose another name")));
            }
            let id = routing::table_id(&suffix, vpc.as_str(), table.as_str(), &|t| taken.contains(&t));
            v.route_tables.push(RouteTable { name: table.clone(), table: id, routes: vec![], subnets: vec![] });
            format!("route table '{table}' created in VPC '{vpc}' (only the local route {})", v.cidr)
        }
        DeleteRouteTable(a) => {
            let (vpc, table) = a.resolve()?;
            if table.as_str() == routing::MAIN {
                return Err(InputError::Invalid(format!(
                    "the main route table of VPC '{vpc}' cannot be deleted; delete its routes instead"
                ))
                .into());
            }
            let t = table_mut(st, &vpc, &table)?;
            if let Some(s) = t.subnets.first() {
                return Err(conflict(format!(
                    "route table '{table}' is in use by subnet '{s}' (DependencyViolation); first: vpcctl disassociate-route-table --vpc {vpc} --subnet {s}"
                )));
            }
            st.find_vpc_mut(&vpc)?.route_tables.retain(|t| t.name != table);
            format!("route table '{table}' deleted from VPC '{vpc}'")
        }
        AssociateRouteTable(a) => {
            let (vpc, table) = a.table.resolve()?;
            let subnet = args::subnet_in(&vpc, &a.subnet)?;
            st.find_subnet(&vpc, &subnet)?;
            if table.as_str() == routing::MAIN {
                return Err(InputError::Invalid(format!(
                    "a subnet uses main unless associated with another table; to go back to main: vpcctl disassociate-route-table --vpc {vpc} --subnet {subnet}"
                ))
                .into());
            }
            let v = st.find_vpc(&vpc)?;
            let current = v.table_name_of(subnet.as_str()).to_string();
            if current != routing::MAIN && current != table.as_str() {
                return Err(conflict(format!(
                    "subnet '{subnet}' is associated with route table '{current}' (one table per subnet); first: vpcctl disassociate-route-table --vpc {vpc} --subnet {subnet}"
                )));
            }
            let t = table_mut(st, &vpc, &table)?;
            if !t.subnets.contains(&subnet) {
                t.subnets.push(subnet.clone());
            }
            format!("subnet '{subnet}' of VPC '{vpc}' uses route table '{table}'")
        }
        DisassociateRouteTable(a) => {
            let vpc = a.vpc.name()?;
            let subnet = args::subnet_in(&vpc, &a.subnet)?;
            st.find_subnet(&vpc, &subnet)?;
            let v = st.find_vpc_mut(&vpc)?;
            for t in &mut v.route_tables {
                t.subnets.retain(|s| *s != subnet);
            }
            format!("subnet '{subnet}' of VPC '{vpc}' uses the main route table")
        }
        CreateRoute(a) => {
            let (vpc, table) = a.table.resolve()?;
            let (destination, target) = (args::destination(&a.destination)?, a.target.resolve()?);
            crate::model::validate::route(st, &vpc, destination, &target)?;
            let t = table_mut(st, &vpc, &table)?;
            if let Some(r) = t.routes.iter().find(|r| r.destination == destination) {
                if r.target == target {
                    return Ok(format!("route {destination} -> {target} is in route table '{table}' of VPC '{vpc}'"));
                }
                return Err(conflict(format!(
                    "route table '{table}' already routes {destination} to {} (RouteAlreadyExists); change it with 'vpcctl replace-route'",
                    r.target
                )));
            }
            t.routes.push(Route { destination, target: target.clone() });
            format!("route {destination} -> {target} added to route table '{table}' of VPC '{vpc}'")
        }
        ReplaceRoute(a) => {
            let (vpc, table) = a.table.resolve()?;
            let (destination, target) = (args::destination(&a.destination)?, a.target.resolve()?);
            crate::model::validate::route(st, &vpc, destination, &target)?;
            let t = table_mut(st, &vpc, &table)?;
            let Some(r) = t.routes.iter_mut().find(|r| r.destination == destination) else {
                return Err(not_found(format!(
                    "route table '{table}' of VPC '{vpc}' has no route for {destination}; add it with 'vpcctl create-route'"
                )));
            };
            r.target = target.clone();
            format!("route {destination} in route table '{table}' of VPC '{vpc}' now goes to {target}")
        }
        DeleteRoute(a) => {
            let (vpc, table) = a.table.resolve()?;
            let destination = args::destination(&a.destination)?;
            let t = table_mut(st, &vpc, &table)?;
            let n = t.routes.len();
            t.routes.retain(|r| r.destination != destination);
            if t.routes.len() == n {
                return Err(not_found(format!("route table '{table}' of VPC '{vpc}' has no route for {destination}")));
            }
            prune_main(st, &vpc);
            format!("route {destination} deleted from route table '{table}' of VPC '{vpc}'")
        }
        CreateInternetGateway(a) => {
            let vpc = a.vpc.name()?;
            let (iface, _) = super::uplink(ctx, st, a.interface, " for the internet gateway")?;
            let v = st.find_vpc_mut(&vpc)?;
            if let Some(n) = &v.nat {
                return Err(conflict(format!(
                    "VPC '{vpc}' already reaches the internet through enable-nat (via {}); run 'vpcctl disable-nat --vpc {vpc}' first, then route to the gateway",
                    n.interface
                )));
            }
            match &v.internet_gateway {
                Some(g) if g.interface == iface => {}
                Some(g) => {
                    return Err(conflict(format!("VPC '{vpc}' already has an internet gateway (via {}); a VPC has one", g.interface)));
                }
                None => v.internet_gateway = Some(InternetGateway { interface: iface.clone() }),
            }
            format!("internet gateway 'igw' of VPC '{vpc}' leaves via {iface}; subnets use it through a route (--gateway igw)")
        }
        DeleteInternetGateway(a) => {
            let vpc = a.name()?;
            let v = st.find_vpc_mut(&vpc)?;
            if v.internet_gateway.is_none() {
                return Err(not_found(format!("VPC '{vpc}' has no internet gateway")));
            }
            if let Some(t) = v.route_tables.iter().find(|t| t.routes.iter().any(|r| r.target == Target::InternetGateway)) {
                return Err(conflict(format!(
                    "route table '{}' of VPC '{vpc}' has a route to the internet gateway (DependencyViolation); delete that route first",
                    t.name
                )));
            }
            if let Some(g) = v.nat_gateways.iter().find(|g| g.eip.is_some()) {
                return Err(conflict(format!(
                    "NAT gateway '{}' has an elastic IP on the gateway's uplink (DependencyViolation); delete it first",
                    g.name
                )));
            }
            v.internet_gateway = None;
            format!("internet gateway of VPC '{vpc}' deleted")
        }
        CreateNatGateway(a) => create_nat_gateway(ctx, st, a)?,
        DeleteNatGateway(a) => {
            let vpc = a.vpc.name()?;
            let name = Name::parse("NAT gateway name", &a.name)?;
            let v = st.find_vpc_mut(&vpc)?;
            if v.nat_gateway(name.as_str()).is_none() {
                return Err(not_found(format!("VPC '{vpc}' has no NAT gateway '{name}' (see 'vpcctl describe-nat-gateways')")));
            }
            let t = Target::NatGateway(name.clone());
            if let Some(rt) = v.route_tables.iter().find(|rt| rt.routes.iter().any(|r| r.target == t)) {
                return Err(conflict(format!(
                    "route table '{}' of VPC '{vpc}' routes to NAT gateway '{name}' (DependencyViolation); delete or replace that route first",
                    rt.name
                )));
            }
            v.nat_gateways.retain(|g| g.name != name);
            format!("NAT gateway '{name}' of VPC '{vpc}' deleted")
        }
        CreateTransitGateway(a) => {
            let name = Name::parse("transit gateway name", &a.name)?;
            if st.transit_gateways.iter().any(|t| t.name == name) {
                return Ok(format!("transit gateway '{name}' exists"));
            }
            st.transit_gateways.push(TransitGateway { name: name.clone(), attachments: vec![], route_tables: vec![] });
            format!("transit gateway '{name}' created; attach VPCs with 'vpcctl attach-transit-gateway'")
        }
        DeleteTransitGateway(a) => {
            let name = Name::parse("transit gateway name", &a.name)?;
            let t = tgw_mut(st, &name)?;
            if let Some(v) = t.attachments.first() {
                return Err(conflict(format!(
                    "VPC '{v}' is attached to transit gateway '{name}' (IncorrectState); first: vpcctl detach-transit-gateway --transit-gateway {name} --vpc {v}"
                )));
            }
            st.transit_gateways.retain(|t| t.name != name);
            format!("transit gateway '{name}' deleted")
        }
        AttachTransitGateway(a) => {
            let (name, vpc) = (a.tgw.name()?, a.vpc.name()?);
            st.find_vpc(&vpc)?;
            let t = tgw_mut(st, &name)?;
            if !t.attachments.contains(&vpc) {
                t.attachments.push(vpc.clone());
            }
            format!("VPC '{vpc}' is attached to transit gateway '{name}'")
        }
        DetachTransitGateway(a) => {
            let (name, vpc) = (a.tgw.name()?, a.vpc.name()?);
            let t = tgw_mut(st, &name)?;
            if !t.attachments.contains(&vpc) {
                return Err(not_found(format!("VPC '{vpc}' is not attached to transit gateway '{name}'")));
            }
            if let Some(rt) = t.route_tables.iter().find(|rt| {
                rt.associations.contains(&vpc) || rt.propagations.contains(&vpc) || rt.routes.iter().any(|r| r.vpc.as_ref() == Some(&vpc))
            }) {
                return Err(conflict(format!(
                    "TGW route table '{}' still names VPC '{vpc}' (an association, propagation or route); remove that first",
                    rt.name
                )));
            }
            t.attachments.retain(|v| *v != vpc);
            format!("VPC '{vpc}' is detached from transit gateway '{name}'")
        }
        CreateTransitGatewayRouteTable(a) => {
            let (name, table) = (a.tgw.name()?, Name::parse("route table name", &a.name)?);
            let t = tgw_mut(st, &name)?;
            if t.table(table.as_str()).is_none() {
                t.route_tables.push(TgwRouteTable { name: table.clone(), associations: vec![], propagations: vec![], routes: vec![] });
            }
            format!("route table '{table}' of transit gateway '{name}' exists")
        }
        DeleteTransitGatewayRouteTable(a) => {
            let (name, table) = (a.tgw.name()?, Name::parse("route table name", &a.name)?);
            let rt = tgw_table_mut(st, &name, &table)?;
            if let Some(v) = rt.associations.first() {
                return Err(conflict(format!(
                    "TGW route table '{table}' is associated with VPC '{v}'; first: vpcctl disassociate-transit-gateway-route-table --transit-gateway {name} --route-table {table} --vpc {v}"
                )));
            }
            tgw_mut(st, &name)?.route_tables.retain(|t| t.name != table);
            format!("route table '{table}' of transit gateway '{name}' deleted")
        }
        AssociateTransitGatewayRouteTable(a) => {
            let (name, table, vpc) = tgw_table_vpc(st, &a)?;
            if let Some(other) = tgw_mut(st, &name)?.table_of(vpc.as_str()).filter(|t| t.name != table) {
                return Err(conflict(format!(
                    "VPC '{vpc}''s attachment is associated with TGW route table '{}' (one per attachment); disassociate it first",
                    other.name
                )));
            }
            let rt = tgw_table_mut(st, &name, &table)?;
            if !rt.associations.contains(&vpc) {
                rt.associations.push(vpc.clone());
            }
            format!("VPC '{vpc}''s traffic into transit gateway '{name}' is routed by table '{table}'")
        }
        DisassociateTransitGatewayRouteTable(a) => {
            let (name, table, vpc) = tgw_table_vpc(st, &a)?;
            tgw_table_mut(st, &name, &table)?.associations.retain(|v| *v != vpc);
            format!("VPC '{vpc}' is no longer routed by table '{table}' of transit gateway '{name}'")
        }
        EnableTransitGatewayRouteTablePropagation(a) => {
            let (name, table, vpc) = tgw_table_vpc(st, &a)?;
            let rt = tgw_table_mut(st, &name, &table)?;
            if !rt.propagations.contains(&vpc) {
                rt.propagations.push(vpc.clone());
            }
            format!("table '{table}' of transit gateway '{name}' learns VPC '{vpc}''s CIDR")
        }
        DisableTransitGatewayRouteTablePropagation(a) => {
            let (name, table, vpc) = tgw_table_vpc(st, &a)?;
            tgw_table_mut(st, &name, &table)?.propagations.retain(|v| *v != vpc);
            format!("table '{table}' of transit gateway '{name}' no longer learns VPC '{vpc}''s CIDR")
        }
        CreateTransitGatewayRoute(a) => {
            let (name, table) = (a.tgw.name()?, Name::parse("route table name", &a.route_table)?);
            let destination = args::destination(&a.destination)?;
            let vpc = a.vpc.as_deref().map(|v| Name::parse("VPC name", v)).transpose()?;
            if let Some(v) = &vpc
                && !tgw_mut(st, &name)?.attachments.contains(v)
            {
                return Err(InputError::Invalid(format!(
                    "VPC '{v}' is not attached to transit gateway '{name}'; first: vpcctl attach-transit-gateway --transit-gateway {name} --vpc {v}"
                ))
                .into());
            }
            let rt = tgw_table_mut(st, &name, &table)?;
            rt.routes.retain(|r| r.destination != destination);
            rt.routes.push(TgwRoute { destination, vpc: vpc.clone() });
            let to = vpc.map(|v| format!("VPC '{v}'")).unwrap_or_else(|| "a blackhole".into());
            format!("table '{table}' of transit gateway '{name}' sends {destination} to {to}")
        }
        DeleteTransitGatewayRoute(a) => {
            let (name, table) = (a.tgw.name()?, Name::parse("route table name", &a.route_table)?);
            let destination = args::destination(&a.destination)?;
            let rt = tgw_table_mut(st, &name, &table)?;
            let n = rt.routes.len();
            rt.routes.retain(|r| r.destination != destination);
            if n == rt.routes.len() {
                return Err(not_found(format!("table '{table}' of transit gateway '{name}' has no static route for {destination}")));
            }
            format!("route {destination} deleted from table '{table}' of transit gateway '{name}'")
        }
        DescribeRouteTables(_) | DescribeNatGateways(_) | DescribeTransitGateways => unreachable!("read-only commands return early"),
    })
}

fn create_nat_gateway(ctx: &Ctx, st: &mut State, a: args::CreateNatGateway) -> Result<String> {
    let vpc = a.vpc.name()?;
    let name = Name::parse("NAT gateway name", &a.name)?;
    let subnet = args::subnet_in(&vpc, &a.subnet)?;
    let s = st.find_subnet(&vpc, &subnet)?.clone();
    let taken = st.taken_names();
    let v = st.find_vpc(&vpc)?;
    if let Some(g) = v.nat_gateway(name.as_str()) {
        if g.subnet == subnet && (a.eip.is_none() || a.eip == g.eip) {
            return Ok(format!("NAT gateway '{name}' of VPC '{vpc}' is in subnet '{subnet}' at {}", g.ip));
        }
        return Err(conflict(format!("VPC '{vpc}' already has a NAT gateway '{name}' (in '{}'); choose another name", g.subnet)));
    }
    if let Some(e) = a.eip {
        let Some(igw) = &v.internet_gateway else {
            return Err(InputError::Invalid(format!(
                "an elastic IP lives on the internet gateway's uplink, and VPC '{vpc}' has none; first: vpcctl create-internet-gateway --vpc {vpc}"
            ))
            .into());
        };
        let used = st.vpcs.iter().any(|o| o.eips.iter().any(|x| x.ip == e) || o.nat_gateways.iter().any(|g| g.eip == Some(e)));
        if used {
            return Err(conflict(format!("{e} is already an elastic IP here; choose another address")));
        }
        crate::model::validate::eip_address(e, &igw.interface, &super::expose::eip_facts(st, &igw.interface))?;
    }
    let ip = routing::free_address(v, &s).ok_or_else(|| conflict(format!("subnet '{subnet}' ({}) has no free address left", s.cidr)))?;
    let namespace = kernel_names::pick_name("ngw-", &format!("{vpc}-{name}"), &format!("ngw/{vpc}/{name}"), 64, &|n| taken.contains(n));
    let veth = kernel_names::pick_name("g-", &format!("{vpc}-{name}"), &format!("ngw-veth/{vpc}/{name}"), kernel_names::IFNAME_MAX, &|n| {
        taken.contains(n)
    });
    super::names_free(ctx, st, &[&veth], &[&namespace])?;
    let g = NatGateway { name: name.clone(), subnet: subnet.clone(), ip, namespace, veth, eip: a.eip, status: Status::Ready };
    st.find_vpc_mut(&vpc)?.nat_gateways.push(g);
    let public = a.eip.map(|e| format!(", seen from the internet as {e}")).unwrap_or_default();
    Ok(format!("NAT gateway '{name}' of VPC '{vpc}' is in subnet '{subnet}' at {ip}{public}; route to it with --nat-gateway {name}"))
}

fn tgw_mut<'a>(st: &'a mut State, name: &Name) -> Result<&'a mut TransitGateway> {
    st.transit_gateways.iter_mut().find(|t| t.name == *name).ok_or_else(|| {
        not_found(format!("there is no transit gateway '{name}'; create it with 'vpcctl create-transit-gateway --name {name}'"))
    })
}

fn tgw_table_mut<'a>(st: &'a mut State, name: &Name, table: &Name) -> Result<&'a mut TgwRouteTable> {
    let t = tgw_mut(st, name)?;
    t.route_tables.iter_mut().find(|r| r.name == *table).ok_or_else(|| {
        not_found(format!(
            "transit gateway '{name}' has no route table '{table}'; create it with 'vpcctl create-transit-gateway-route-table --transit-gateway {name} --name {table}'"
        ))
    })
}

fn tgw_table_vpc(st: &mut State, a: &args::TgwTableVpc) -> Result<(Name, Name, Name)> {
    let (name, table, vpc) = (a.tgw.name()?, Name::parse("route table name", &a.route_table)?, a.vpc.name()?);
    st.find_vpc(&vpc)?;
    if !tgw_mut(st, &name)?.attachments.contains(&vpc) {
        return Err(InputError::Invalid(format!(
            "VPC '{vpc}' is not attached to transit gateway '{name}'; first: vpcctl attach-transit-gateway --transit-gateway {name} --vpc {vpc}"
        ))
        .into());
    }
    Ok((name, table, vpc))
}

/// Route tables as `describe-route-tables --json` gives them.
pub fn route_tables_json(st: &State, only: Option<&str>) -> Value {
    let mut out = vec![];
    for v in st.vpcs.iter().filter(|v| only.is_none_or(|o| v.name.as_str() == o)) {
        let mut names: Vec<String> = vec![routing::MAIN.into()];
        names.extend(v.route_tables.iter().filter(|t| t.name.as_str() != routing::MAIN).map(|t| t.name.to_string()));
        for n in names {
            let mut routes = vec![json!({"destination": v.cidr, "target": "local", "origin": "implicit"})];
            let subnets: Vec<&str> = v.subnets.iter().filter(|s| v.table_name_of(s.name.as_str()) == n).map(|s| s.name.as_str()).collect();
            // What the table's subnets see: its own routes and any sugar.
            let probe = v.subnets.iter().find(|s| v.table_name_of(s.name.as_str()) == n);
            let effective = match probe {
                Some(s) => routing::routes_of(st, v, s),
                None => v
                    .route_table(&n)
                    .map(|t| {
                        t.routes
                            .iter()
                            .map(|r| routing::Effective {
                                table: n.clone(),
                                destination: r.destination,
                                target: r.target.clone(),
                                origin: routing::Origin::Table,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            for r in effective {
                let origin = match r.origin {
                    routing::Origin::Table => "create-route",
                    routing::Origin::EnableNat => "enable-nat",
                    routing::Origin::Peer => "peer",
                };
                let state = match &r.target {
                    Target::NatGateway(g) if v.nat_gateway(g.as_str()).is_none() => "blackhole",
                    Target::InternetGateway if v.internet_gateway.is_none() && v.nat.is_none() => "blackhole",
                    Target::Blackhole => "blackhole",
                    _ => "active",
                };
                routes.push(json!({"destination": r.destination, "target": r.target.to_string(), "origin": origin, "state": state}));
            }
            out.push(json!({
                "vpc": v.name, "name": n, "main": n == routing::MAIN,
                "table": v.route_table(&n).map(|t| t.table), "subnets": subnets, "routes": routes,
            }));
        }
    }
    Value::Array(out)
}

pub fn nat_gateways_json(st: &State, only: Option<&str>) -> Value {
    let mut out = vec![];
    for v in st.vpcs.iter().filter(|v| only.is_none_or(|o| v.name.as_str() == o)) {
        for g in &v.nat_gateways {
            let public = g.eip.map(|e| e.to_string()).or_else(|| v.internet_gateway.as_ref().map(|i| format!("uplink {}", i.interface)));
            out.push(json!({
                "vpc": v.name, "name": g.name, "subnet": g.subnet, "private_ip": g.ip, "public_ip": g.eip,
                "public": public, "namespace": g.namespace, "veth": g.veth,
            }));
        }
    }
    Value::Array(out)
}

pub fn transit_gateways_json(st: &State) -> Value {
    json!(st.transit_gateways)
}

fn routing_json(st: &State) -> Value {
    json!({"route_tables": route_tables_json(st, None), "nat_gateways": nat_gateways_json(st, None), "transit_gateways": transit_gateways_json(st)})
}

fn load(ctx: &Ctx) -> Result<State> {
    Ok(crate::state::Store::open_readonly(&ctx.state_dir).load()?)
}

fn describe_route_tables(ctx: &Ctx, vpc: Option<&str>) -> Result<()> {
    let st = load(ctx)?;
    if let Some(v) = vpc {
        st.find_vpc(&Name::parse("VPC name", v)?)?;
    }
    let doc = route_tables_json(&st, vpc);
    if ctx.json {
        return ctx.doc(&doc);
    }
    for t in doc.as_array().into_iter().flatten() {
        let subnets: Vec<&str> = t["subnets"].as_array().into_iter().flatten().filter_map(|s| s.as_str()).collect();
        outln!(
            "{}/{}{}  subnets: {}",
            t["vpc"].as_str().unwrap_or_default(),
            t["name"].as_str().unwrap_or_default(),
            if t["main"] == json!(true) { " (main)" } else { "" },
            if subnets.is_empty() { "-".to_string() } else { subnets.join(", ") }
        );
        for r in t["routes"].as_array().into_iter().flatten() {
            let origin = r["origin"].as_str().unwrap_or_default();
            let note = if matches!(origin, "enable-nat" | "peer") { format!("  (from {origin})") } else { String::new() };
            let state =
                if r["state"] == json!("blackhole") && r["target"] != json!("blackhole") { "  [blackhole: target gone]" } else { "" };
            outln!("  {:<20} {}{note}{state}", r["destination"].as_str().unwrap_or_default(), r["target"].as_str().unwrap_or_default());
        }
    }
    Ok(())
}

fn describe_nat_gateways(ctx: &Ctx, vpc: Option<&str>) -> Result<()> {
    let st = load(ctx)?;
    let doc = nat_gateways_json(&st, vpc);
    if ctx.json {
        return ctx.doc(&doc);
    }
    for g in doc.as_array().into_iter().flatten() {
        outln!(
            "{}/{}  subnet {}  private {}  public {}  namespace {}",
            g["vpc"].as_str().unwrap_or_default(),
            g["name"].as_str().unwrap_or_default(),
            g["subnet"].as_str().unwrap_or_default(),
            g["private_ip"].as_str().unwrap_or_default(),
            g["public"].as_str().unwrap_or("- (no internet gateway)"),
            g["namespace"].as_str().unwrap_or_default()
        );
    }
    Ok(())
}

fn describe_transit_gateways(ctx: &Ctx) -> Result<()> {
    let st = load(ctx)?;
    if ctx.json {
        return ctx.doc(&transit_gateways_json(&st));
    }
    let list = |v: &[Name]| if v.is_empty() { "-".to_string() } else { v.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ") };
    for t in &st.transit_gateways {
        outln!("{}  attachments: {}", t.name, list(&t.attachments));
        for rt in &t.route_tables {
            outln!("  table {}  associated: {}  propagating: {}", rt.name, list(&rt.associations), list(&rt.propagations));
            for r in &rt.routes {
                outln!(
                    "    {:<20} {}",
                    r.destination.to_string(),
                    r.vpc.as_ref().map(|v| format!("vpc {v}")).unwrap_or_else(|| "blackhole".into())
                );
            }
        }
    }
    Ok(())
}
