//! plan, apply, export: whole topologies, converged by the same change path
//! as every other command.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::json;

use super::Ctx;
use crate::engine::commit;
use crate::error::InputError;
use crate::kernel::host;
use crate::model::State;
use crate::model::instance::{Instance, SecurityGroup};
use crate::model::routing::InternetGateway;
use crate::model::services::{Eip, Expose, Resolver};
use crate::model::topology::{self, MAX_FILE_BYTES, Topology};
use crate::model::validate;
use crate::model::{App, Nat, Peering, Status, Subnet, Vpc, kernel_names};
use crate::plan::diff::{self, Facts};
use crate::plan::firewall::BasePresence;
use crate::state::Store;

/// Read a file, refusing one far larger than any topology or policy.
pub fn read_capped(path: &Path) -> std::io::Result<String> {
    let f = std::fs::File::open(path)?;
    let mut text = String::new();
    f.take(MAX_FILE_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!("it is larger than {} MiB", MAX_FILE_BYTES >> 20)));
    }
    Ok(text)
}

/// Parse `-f FILE` (`-` is standard input; policy paths are then relative
/// to the current directory). A directory is every `.json`, `.yaml` and
/// `.yml` file in it, merged.
pub fn load(file: &Path) -> Result<Topology> {
    if file.is_dir() {
        return load_dir(file);
    }
    let (text, dir, shown) = if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().take(MAX_FILE_BYTES + 1).read_to_string(&mut text).context("cannot read the topology from standard input")?;
        (text, PathBuf::from("."), "(stdin)".to_string())
    } else {
        let text = read_capped(file).map_err(|e| InputError::Invalid(format!("cannot read topology file {}: {e}", file.display())))?;
        (text, file.parent().map(Path::to_path_buf).unwrap_or_default(), file.display().to_string())
    };
    let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
    Topology::parse(&text, &dir, &read_capped)
        .map_err(|e| InputError::Invalid(format!("topology file {shown}: {e}; nothing was changed")).into())
}

fn load_dir(dir: &Path) -> Result<Topology> {
    let bad = |e: String| InputError::Invalid(format!("topology directory {}: {e}; nothing was changed", dir.display()));
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| bad(format!("cannot read it: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json" || x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(bad("it has no .json, .yaml or .yml file".into()).into());
    }
    let mut files = vec![];
    for p in &paths {
        let name = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let text = read_capped(p).map_err(|e| bad(format!("cannot read {name}: {e}")))?;
        let v = crate::model::document::parse(&text).map_err(|e| bad(format!("{name}: {e}")))?;
        files.push((name, v));
    }
    let merged = topology::merge(&files).map_err(|e| bad(e.to_string()))?;
    Topology::from_value(&merged, dir, &read_capped).map_err(|e| bad(e.to_string()).into())
}

/// The state `topo` asks for. Objects that exist keep their kernel names
/// (and their place in the record), so an unchanged file compares equal to
/// what is recorded; new ones get names that collide with nothing.
pub fn desired(ctx: &Ctx, current: &State, topo: &Topology, host: Option<&str>) -> Result<State> {
    let fabric = super::fabric::resolve(ctx, current, topo, host)?;
    let mut next = State { host: current.host.clone(), fabric: fabric.clone(), ..State::default() };
    let mut taken = current.taken_names();
    let mut groups: Vec<u32> = current.vpcs.iter().map(|v| v.link_group).collect();
    let mut tables = crate::model::routing::tables_taken(current);
    let default_iface = std::cell::OnceCell::new();
    if let Some(uplink) = fabric.as_ref().and_then(|f| f.me().uplink.clone()) {
        let _ = default_iface.set(Some(uplink));
    }
    let mut resolvers = super::resolvers_taken(current);
    let recorded: HashMap<&str, (usize, &Vpc)> = current.vpcs.iter().enumerate().map(|(i, v)| (v.name.as_str(), (i, v))).collect();
    for spec in in_recorded_order(&topo.vpcs, |v| recorded.get(v.name.as_str()).map(|(i, _)| *i)) {
        let old = recorded.get(spec.name.as_str()).map(|(_, v)| *v);
        let mut v = match old {
            Some(o) => Vpc {
                cidr: spec.cidr,
                status: Status::Ready,
                subnets: vec![],
                nat: None,
                dns: spec.dns.then(|| {
                    let r = o.dns.clone().unwrap_or_else(|| Resolver::new(&ctx.state_dir, &spec.name));
                    Resolver { options: spec.dns_options, ..r.with_address(&mut resolvers) }
                }),
                expose: vec![],
                eips: vec![],
                flow_logs: spec.flow_logs,
                internet_gateway: None,
                nat_gateways: vec![],
                route_tables: vec![],
                security_groups: vec![],
                ..o.clone()
            },
            None => {
                let bridge = kernel_names::bridge_name(spec.name.as_str(), &|n| taken.contains(n));
                let link_group = kernel_names::link_group(spec.name.as_str(), &|g| groups.contains(&g));
                taken.insert(bridge.clone());
                groups.push(link_group);
                Vpc {
                    name: spec.name.clone(),
                    cidr: spec.cidr,
                    chain: kernel_names::vpc_chain(&bridge),
                    bridge,
                    link_group,
                    status: Status::Ready,
                    subnets: vec![],
                    nat: None,
                    dns: spec.dns.then(|| Resolver {
                        options: spec.dns_options,
                        ..Resolver::new(&ctx.state_dir, &spec.name).with_address(&mut resolvers)
                    }),
                    expose: vec![],
                    eips: vec![],
                    flow_logs: spec.flow_logs,
                    internet_gateway: None,
                    nat_gateways: vec![],
                    route_tables: vec![],
                    security_groups: vec![],
                    remote: vec![],
                    mtu: None,
                }
            }
        };
        // Indexed once per VPC: no rescan of its subnets for each subnet.
        let old_subnets: HashMap<&str, (usize, &Subnet)> =
            old.map(|o| o.subnets.iter().enumerate().map(|(i, s)| (s.name.as_str(), (i, s))).collect()).unwrap_or_default();
        for s in in_recorded_order(&spec.subnets, |s| old_subnets.get(s.name.as_str()).map(|(i, _)| *i)) {
            let prev = old_subnets.get(s.name.as_str()).map(|(_, p)| *p);
            let (namespace, veth) = match prev {
                Some(p) => (p.namespace.clone(), p.veth.clone()),
                None => {
                    let veth = kernel_names::veth_name(spec.name.as_str(), s.name.as_str(), &|n| taken.contains(n));
                    taken.insert(veth.clone());
                    let ns = kernel_names::netns_name(spec.name.as_str(), s.name.as_str(), &|n| taken.contains(n));
                    taken.insert(ns.clone());
                    (ns, veth)
                }
            };
            let (gateway, ip) = crate::model::cidr::gateway_and_host(&s.cidr);
            let mut apps: Vec<App> = vec![];
            let old_apps: &[App] = prev.map(|p| p.apps.as_slice()).unwrap_or(&[]);
            for a in in_recorded_order(&s.apps, |a| old_apps.iter().position(|o| o.port == a.port)) {
                let fresh = super::app::new_app(&ctx.state_dir, &spec.name, &s.name, a.port, a.command.clone(), a.user.clone())?;
                apps.push(old_apps.iter().find(|o| o.same_spec(&fresh)).cloned().unwrap_or(fresh));
            }
            v.subnets.push(Subnet {
                name: s.name.clone(),
                cidr: s.cidr,
                kind: s.kind,
                namespace,
                veth,
                gateway,
                ip,
                status: Status::Ready,
                policy: s.policy.clone(),
                apps,
                nacl: s.nacl.clone(),
                instances: vec![],
            });
        }
        if let Some(n) = &spec.nat {
            let interface = match &n.interface {
                Some(i) => i.clone(),
                None => default_iface
                    .get_or_init(host::default_route_interface)
                    .clone()
                    .ok_or_else(|| InputError::Invalid(format!(
                        "vpcs.{}.nat: true means the default route's interface, but this host has no default route; name one: \"nat\": {{\"interface\": \"eth0\"}}",
                        spec.name
                    )))?,
            };
            v.nat = Some(Nat { interface, subnets: n.subnets.clone() });
        }
        let uplink = |given: &Option<String>, what: &str| -> Result<String> {
            match given {
                Some(i) => Ok(i.clone()),
                None => default_iface.get_or_init(host::default_route_interface).clone().ok_or_else(|| {
                    InputError::Invalid(format!(
                        "vpcs.{}.{what}: no interface given, and this host has no default route; add \"interface\": \"eth0\"",
                        spec.name
                    ))
                    .into()
                }),
            }
        };
        for e in &spec.expose {
            if v.subnet(e.subnet.as_str()).is_some_and(|s| s.kind == crate::model::SubnetKind::Private) && !e.allow_private {
                return Err(InputError::Invalid(format!(
                    "vpcs.{}.expose: subnet '{}' is private, and private subnets are not reachable from outside; expose a public subnet, or add \"allow_private\": true",
                    spec.name, e.subnet
                ))
                .into());
            }
            let interface = uplink(&e.interface, "expose")?;
            v.expose.push(Expose { subnet: e.subnet.clone(), port: e.port, host_port: e.host_port, interface });
        }
        for e in &spec.eip {
            let interface = uplink(&e.interface, "eip")?;
            v.eips.push(Eip { subnet: e.subnet.clone(), ip: e.ip, interface });
        }
        if let Some(i) = &spec.routing.internet_gateway {
            v.internet_gateway = Some(InternetGateway { interface: uplink(i, "internet_gateway")? });
        }
        v.security_groups = spec.security_groups.iter().filter(|g| **g != SecurityGroup::default_group()).cloned().collect();
        // Instances first: a new NAT gateway takes an address none of them has.
        instances(ctx, &mut v, old, spec, &mut taken)?;
        routing_objects(&mut v, old, &spec.routing, &mut taken, &mut tables, &current.host.chain_suffix)?;
        if let Some((g, (_, i))) = v.nat_gateways.iter().find_map(|g| v.instance_at(g.ip).map(|x| (g, x))) {
            return Err(InputError::Conflict(format!(
                "vpcs.{}: instance '{}' and NAT gateway '{}' both have {}; give the instance another \"ip\"",
                v.name, i.name, g.name, g.ip
            ))
            .into());
        }
        if let Some(f) = &fabric {
            crate::model::fabric::split(&mut v, &topo.placement(spec.name.as_str()), &f.host);
            v.mtu = Some(f.mtu);
            // A resolver serves the subnets of its host: none here, none needed.
            if v.subnets.is_empty() {
                v.dns = None;
            }
        }
        next.vpcs.push(v);
    }
    next.transit_gateways = topo.transit_gateways.clone();
    for p in in_recorded_order(&topo.peerings, |p| current.peerings.iter().position(|c| c.joins(p.a.as_str(), p.b.as_str()))) {
        let same = |c: &&Peering| c.joins(p.a.as_str(), p.b.as_str()) && sorted(&c.allow_cidrs) == sorted(&p.allow_cidrs);
        let rec = current.peerings.iter().find(same).cloned();
        let fresh =
            Peering { a: p.a.clone(), b: p.b.clone(), allow_cidrs: p.allow_cidrs.clone(), name: p.name.clone(), no_routes: p.no_routes };
        next.peerings.push(rec.filter(|r| r.name == fresh.name && r.no_routes == fresh.no_routes).unwrap_or(fresh));
    }
    check_routes(&next)?;
    Ok(next)
}

/// A VPC's NAT gateways and route tables from the file. A NAT gateway that
/// stays in its subnet keeps its address and kernel names, a route table
/// its kernel table.
fn routing_objects(
    v: &mut Vpc,
    old: Option<&Vpc>,
    spec: &topology::RoutingSpec,
    taken: &mut std::collections::HashSet<String>,
    tables: &mut Vec<u32>,
    suffix: &str,
) -> Result<()> {
    use crate::model::routing::{self, NatGateway, RouteTable};
    let at = format!("vpcs.{}", v.name);
    for (name, subnet, eip) in &spec.nat_gateways {
        let Some(s) = v.subnet(subnet.as_str()).cloned() else {
            return Err(InputError::Invalid(format!("{at}.nat_gateways.{name}.subnet: VPC '{}' has no subnet '{subnet}'", v.name)).into());
        };
        if eip.is_some() && v.internet_gateway.is_none() {
            return Err(InputError::Invalid(format!(
                "{at}.nat_gateways.{name}.eip: an elastic IP lives on the internet gateway's uplink; add \"internet_gateway\": true"
            ))
            .into());
        }
        let prev = old.and_then(|o| o.nat_gateway(name.as_str())).filter(|g| g.subnet == *subnet && s.cidr.contains(&g.ip));
        let g = match prev {
            Some(p) => NatGateway { eip: *eip, status: Status::Ready, ..p.clone() },
            None => {
                let ip = routing::free_address(v, &s)
                    .ok_or_else(|| InputError::Conflict(format!("{at}.nat_gateways.{name}: subnet '{subnet}' has no free address")))?;
                let vn = v.name.to_string();
                let namespace =
                    kernel_names::pick_name("ngw-", &format!("{vn}-{name}"), &format!("ngw/{vn}/{name}"), 64, &|n| taken.contains(n));
                taken.insert(namespace.clone());
                let veth = kernel_names::pick_name(
                    "g-",
                    &format!("{vn}-{name}"),
                    &format!("ngw-veth/{vn}/{name}"),
                    kernel_names::IFNAME_MAX,
                    &|n| taken.contains(n),
                );
                taken.insert(veth.clone());
                NatGateway { name: name.clone(), subnet: subnet.clone(), ip, namespace, veth, eip: *eip, status: Status::Ready }
            }
        };
        v.nat_gateways.push(g);
    }
    for (name, subnets, routes) in &spec.route_tables {
        let table = match old.and_then(|o| o.route_table(name.as_str())) {
            Some(t) => t.table,
            None => {
                let id = routing::table_id(suffix, v.name.as_str(), name.as_str(), &|t| tables.contains(&t));
                tables.push(id);
                id
            }
        };
        for s in subnets {
            if v.subnet(s.as_str()).is_none() {
                return Err(InputError::Invalid(format!("{at}.route_tables.{name}.subnets: VPC '{}' has no subnet '{s}'", v.name)).into());
            }
            if let Some(t) = v.route_tables.iter().find(|t| t.subnets.contains(s)) {
                return Err(InputError::Invalid(format!(
                    "{at}.route_tables.{name}.subnets: subnet '{s}' is already associated with '{}' (one table per subnet)",
                    t.name
                ))
                .into());
            }
        }
        v.route_tables.push(RouteTable { name: name.clone(), table, routes: routes.clone(), subnets: subnets.clone() });
    }
    // main first, as the commands record it.
    v.route_tables.sort_by_key(|t| t.name.as_str() != routing::MAIN);
    Ok(())
}

/// Every route's target exists, once the whole file is read (a route may
/// name a peering or transit gateway declared after its VPC).
fn check_routes(next: &State) -> Result<()> {
    for v in &next.vpcs {
        for t in &v.route_tables {
            for (i, r) in t.routes.iter().enumerate() {
                crate::model::validate::route(next, &v.name, r.destination, &r.target)
                    .map_err(|e| InputError::Invalid(format!("vpcs.{}.route_tables.{}.routes[{i}]: {e}", v.name, t.name)))?;
            }
        }
    }
    for t in &next.transit_gateways {
        for a in &t.attachments {
            if next.vpc(a.as_str()).is_none() {
                return Err(InputError::Invalid(format!("transit_gateways.{}.attachments: there is no VPC '{a}'", t.name)).into());
            }
        }
        for rt in &t.route_tables {
            let named = rt.associations.iter().chain(&rt.propagations).chain(rt.routes.iter().filter_map(|r| r.vpc.as_ref()));
            for a in named {
                if !t.attachments.contains(a) {
                    return Err(InputError::Invalid(format!(
                        "transit_gateways.{}.route_tables.{}: VPC '{a}' is not among its attachments",
                        t.name, rt.name
                    ))
                    .into());
                }
            }
        }
    }
    Ok(())
}

/// Items already recorded first, in recorded order, then new ones in file order.
/// The VPC's instances from the file. One that stays in its subnet keeps
/// its kernel names and, unless the file gives another, its address; the
/// others take the next free addresses once fixed ones are placed.
fn instances(
    ctx: &Ctx,
    v: &mut Vpc,
    old: Option<&Vpc>,
    spec: &topology::VpcSpec,
    taken: &mut std::collections::HashSet<String>,
) -> Result<()> {
    let mut placed: Vec<(usize, Instance)> = vec![];
    let mut unplaced: Vec<(usize, Instance)> = vec![];
    let given: Vec<std::net::Ipv4Addr> = spec.subnets.iter().flat_map(|s| s.instances.iter().filter_map(|i| i.ip)).collect();
    for s in &spec.subnets {
        let si = v.subnets.iter().position(|x| x.name == s.name).expect("subnets first");
        let recorded = old.and_then(|o| o.subnet(s.name.as_str())).map(|o| o.instances.as_slice()).unwrap_or(&[]);
        for i in in_recorded_order(&s.instances, |i| recorded.iter().position(|r| r.name == i.name)) {
            let prev = recorded.iter().find(|r| r.name == i.name);
            let (namespace, veth) = match prev {
                Some(p) => (p.namespace.clone(), p.veth.clone()),
                None => {
                    let (veth, ns) = super::instances::kernel_names_for(taken, v.name.as_str(), i.name.as_str());
                    taken.insert(veth.clone());
                    taken.insert(ns.clone());
                    (ns, veth)
                }
            };
            let old_apps: &[App] = prev.map(|p| p.apps.as_slice()).unwrap_or(&[]);
            let mut apps = vec![];
            for a in in_recorded_order(&i.apps, |a| old_apps.iter().position(|o| o.port == a.port)) {
                let fresh = super::app::new_app(&ctx.state_dir, &v.name, &i.name, a.port, a.command.clone(), a.user.clone())?;
                apps.push(old_apps.iter().find(|o| o.same_spec(&fresh)).cloned().unwrap_or(fresh));
            }
            // A kept address yields to one the file gives.
            let kept = prev.map(|p| p.ip).filter(|ip| !given.contains(ip));
            let ip = i.ip.or(kept);
            let inst = Instance {
                name: i.name.clone(),
                ip: ip.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
                namespace,
                veth,
                security_groups: i.security_groups.clone(),
                apps,
                status: Status::Ready,
            };
            if ip.is_some() { placed.push((si, inst)) } else { unplaced.push((si, inst)) }
        }
    }
    for (si, inst) in placed {
        let s = v.subnets[si].clone();
        validate::instance_address(v, &s, inst.ip, None)
            .map_err(|e| InputError::Invalid(format!("vpcs.{}.subnets.{}.instances.{}.ip: {e}", v.name, s.name, inst.name)))?;
        v.subnets[si].instances.push(inst);
    }
    for (si, mut inst) in unplaced {
        let s = v.subnets[si].clone();
        inst.ip = crate::model::routing::free_address(v, &s).ok_or_else(|| {
            InputError::Conflict(format!("vpcs.{}.subnets.{}.instances.{}: the subnet has no free address left", v.name, s.name, inst.name))
        })?;
        v.subnets[si].instances.push(inst);
    }
    Ok(())
}

fn in_recorded_order<T>(items: &[T], pos: impl Fn(&T) -> Option<usize>) -> Vec<&T> {
    let mut v: Vec<&T> = items.iter().collect();
    v.sort_by_cached_key(|x| pos(x).unwrap_or(usize::MAX));
    v
}

fn sorted(v: &[ipnet::Ipv4Net]) -> Vec<ipnet::Ipv4Net> {
    let mut v = v.to_vec();
    v.sort();
    v
}

/// What only the host can refuse: names already taken by objects vpcctl
/// did not make, ranges the host already routes, NAT uplinks.
fn check_host(ctx: &Ctx, current: &State, next: &State) -> Result<()> {
    let host = super::host_nets(current);
    for v in &next.vpcs {
        if current.vpc(v.name.as_str()).is_none_or(|k| k.cidr != v.cidr) {
            validate::clear_of_host(&format!("vpcs.{}: CIDR", v.name), &v.cidr, &host)?;
        }
        let links: Vec<&str> = std::iter::once(v.bridge.as_str()).chain(v.subnets.iter().map(|s| s.veth.as_str())).collect();
        let namespaces: Vec<&str> = v.subnets.iter().map(|s| s.namespace.as_str()).collect();
        super::names_free(ctx, current, &links, &namespaces)?;
        if let Some(n) = &v.nat {
            validate::nat_interface(next, &n.interface, ctx.dry_run || host::link_exists(&n.interface))
                .map_err(|e| InputError::Invalid(format!("vpcs.{}.nat: {e}", v.name)))?;
        }
        check_services(ctx, current, next, v)?;
    }
    Ok(())
}

/// The helpers' programs are installed, and new elastic IPs and exposed
/// ports are what the imperative commands would accept.
fn check_services(ctx: &Ctx, current: &State, next: &State, v: &Vpc) -> Result<()> {
    let known = current.vpc(v.name.as_str());
    if !ctx.dry_run && v.dns.is_some() && known.is_none_or(|k| k.dns.is_none()) {
        crate::helpers::resolver::program()?;
    }
    if !ctx.dry_run && v.flow_logs {
        crate::helpers::flowlogs::check_installed()?;
    }
    for e in v.eips.iter().filter(|e| known.is_none_or(|k| !k.eips.contains(e))) {
        let at = |err: InputError| InputError::Invalid(format!("vpcs.{}.eip ({}): {err}", v.name, e.ip));
        validate::nat_interface(next, &e.interface, ctx.dry_run || host::link_exists(&e.interface)).map_err(at)?;
        let facts = super::expose::eip_facts(current, &e.interface);
        let mut without = next.clone();
        if let Some(w) = without.vpc_mut(v.name.as_str()) {
            w.eips.retain(|x| x != e);
        }
        if !ctx.dry_run {
            validate::eip(&without, &v.name, e, &facts).map_err(at)?;
        }
    }
    if let Some(g) = v.internet_gateway.as_ref().filter(|g| known.is_none_or(|k| k.internet_gateway.as_ref() != Some(*g))) {
        let at = |err: InputError| InputError::Invalid(format!("vpcs.{}.internet_gateway: {err}", v.name));
        validate::nat_interface(next, &g.interface, ctx.dry_run || host::link_exists(&g.interface)).map_err(at)?;
    }
    // A NAT gateway's EIP: used once in the file, and a free address of the uplink.
    let eips: Vec<std::net::Ipv4Addr> =
        next.vpcs.iter().flat_map(|o| o.eips.iter().map(|e| e.ip).chain(o.nat_gateways.iter().filter_map(|g| g.eip))).collect();
    for g in &v.nat_gateways {
        let (Some(e), Some(igw)) = (g.eip, &v.internet_gateway) else { continue };
        let at = |err: InputError| InputError::Invalid(format!("vpcs.{}.nat_gateways.{}.eip ({e}): {err}", v.name, g.name));
        if eips.iter().filter(|x| **x == e).count() > 1 {
            return Err(at(InputError::Conflict("it is used twice in the file; each elastic IP is one address".into())).into());
        }
        let new = known.is_none_or(|k| !k.nat_gateways.iter().any(|o| o.eip == Some(e)));
        if new && !ctx.dry_run {
            validate::eip_address(e, &igw.interface, &super::expose::eip_facts(current, &igw.interface)).map_err(at)?;
        }
    }
    for e in v.expose.iter().filter(|e| known.is_none_or(|k| !k.expose.contains(e))) {
        let at = |err: InputError| InputError::Invalid(format!("vpcs.{}.expose ({}): {err}", v.name, e.host_port));
        validate::nat_interface(next, &e.interface, ctx.dry_run || host::link_exists(&e.interface)).map_err(at)?;
        super::expose::check_host_port_free(e).map_err(at)?;
    }
    Ok(())
}

fn print_changes(ctx: &Ctx, changes: &[diff::Edit], verb: &str) {
    if ctx.json {
        let _ = ctx.doc_line(&json!({"changes": changes, "status": if changes.is_empty() {"unchanged"} else {verb}}));
        return;
    }
    if changes.is_empty() {
        ctx.say("no changes: the kernel already matches the file");
        return;
    }
    let on = !ctx.dry_run && crate::out::colour(&std::io::stdout());
    for c in changes {
        let code = match c.op {
            diff::Op::Create => 32,
            diff::Op::Delete | diff::Op::Replace => 31,
            diff::Op::Change => 33,
        };
        ctx.say(crate::out::paint(&c.to_string(), code, on));
    }
    let count = |op| changes.iter().filter(|c| c.op == op).count();
    ctx.say(format!(
        "{verb}: {} to create, {} to change, {} to delete",
        count(diff::Op::Create),
        count(diff::Op::Change),
        count(diff::Op::Delete)
    ));
}

/// `vpcctl plan -f FILE`. Returns the exit code.
pub fn plan(ctx: &Ctx, file: &Path, host: Option<&str>, detailed: bool, verbose: bool) -> Result<i32> {
    let topo = load(file)?;
    let current = Store::open_readonly(&ctx.state_dir).load()?;
    let next = desired(ctx, &current, &topo, host)?;
    check_host(ctx, &current, &next)?;
    let changes = diff::edits(&current, &next);
    // A plan reads state only: facts come from the record, not probes.
    let force_all = current.host.in_progress;
    if !changes.is_empty() || force_all {
        print_changes(ctx, &changes, "plan");
        if force_all && !ctx.json {
            ctx.say("(the last change did not finish: apply rewrites every chain and policy)");
        }
        if verbose && !ctx.json {
            let facts = Facts { base: BasePresence::implied_by(&current), ip_forward: "?".into(), force_all, ..Facts::default() };
            out!("{}", diff::plan(&current, &next, &facts).to_script());
        }
    } else {
        print_changes(ctx, &changes, "plan");
    }
    let pending = !changes.is_empty() || force_all;
    Ok(if detailed && pending { 2 } else { 0 })
}

/// `vpcctl apply -f FILE`.
pub fn apply(ctx: &Ctx, file: &Path, host: Option<&str>, auto_approve: bool) -> Result<()> {
    let topo = load(file)?;
    let store = ctx.open()?;
    let current = store.load()?;
    let next = desired(ctx, &current, &topo, host)?;
    check_host(ctx, &current, &next)?;
    let changes = diff::edits(&current, &next);
    let lost: Vec<String> = changes.iter().filter(|c| c.destroys()).map(|c| c.object.clone()).collect();
    if !lost.is_empty() && !auto_approve && super::approve::can_ask(file == Path::new("-")) {
        print_changes(ctx, &changes, "plan");
    }
    let retry = format!("vpcctl apply -f {}", file.display());
    super::approve::confirm(ctx, &lost, auto_approve, file == Path::new("-"), &retry)?;
    commit(ctx, &store, &current, next).context("applying the topology failed")?;
    if !ctx.dry_run {
        print_changes(ctx, &changes, "applied");
    }
    Ok(())
}

/// `vpcctl export`: the recorded state as a topology file.
pub fn export(ctx: &Ctx) -> Result<()> {
    let state = Store::open_readonly(&ctx.state_dir).load()?;
    ctx.doc(&topology::export(&state))?;
    Ok(())
}
