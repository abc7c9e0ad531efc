//! list and inspect: read state only, spawn nothing.

use anyhow::Result;
use serde_json::{Value, json};

use super::Ctx;
use crate::cli::Output;
use crate::model::State;
use crate::model::{Subnet, Vpc};
use crate::state::Store;

fn load(ctx: &Ctx) -> Result<State> {
    Ok(Store::open_readonly(&ctx.state_dir).load()?)
}

/// An app as `inspect --json` shows it (and deploy-app --json prints it).
pub fn app_json(a: &crate::model::App) -> Value {
    json!({"port": a.port, "pid": a.pid, "command": a.command, "log": a.log,
           "running": crate::helpers::apps::is_ours(a.pid, a.start_time)})
}

/// A subnet as `inspect --json` shows it (and the subnet commands print it).
pub fn subnet_json(s: &crate::model::Subnet) -> Value {
    let apps: Vec<Value> = s.apps.iter().map(app_json).collect();
    let mut out = json!({"name": s.name, "cidr": s.cidr, "type": s.kind, "namespace": s.namespace,
           "ip": s.ip, "gateway": s.gateway, "veth": s.veth, "status": s.status,
           "policy": s.policy, "nacl": s.nacl, "apps": apps});
    if !s.instances.is_empty() {
        out["instances"] = s
            .instances
            .iter()
            .map(|i| {
                json!({"name": i.name, "ip": i.ip, "namespace": i.namespace, "veth": i.veth, "security_groups": i.security_groups,
                       "status": i.status, "apps": i.apps.iter().map(app_json).collect::<Vec<_>>()})
            })
            .collect();
    }
    out
}

/// A VPC as `inspect --json` shows it (and the VPC commands print it).
pub fn vpc_json(state: &State, v: &Vpc) -> Value {
    let subnets: Vec<Value> = v.subnets.iter().map(subnet_json).collect();
    let peers: Vec<Value> = state
        .peerings_of(v.name.as_str())
        .map(|p| json!({"vpc": p.other(v.name.as_str()), "allow_cidrs": p.allow_cidrs, "name": p.name(), "no_routes": p.no_routes}))
        .collect();
    let mut out = json!({
        "name": v.name, "cidr": v.cidr, "bridge": v.bridge, "chain": v.chain, "status": v.status,
        "subnets": subnets,
        "nat": v.nat.as_ref().map(|n| json!({"interface": n.interface,
            "subnets": v.translated_subnets().iter().map(|s| s.name.to_string()).collect::<Vec<_>>()})),
        "peers": peers,
        "dns": v.dns.as_ref().map(|r| json!({"domain": crate::model::services::dns_domain(v.name.as_str()), "pid": r.process.pid, "address": r.address})),
        "expose": v.expose,
        "eips": v.eips,
        "flow_logs": v.flow_logs,
        "internet_gateway": v.internet_gateway,
        "nat_gateways": v.nat_gateways,
        "route_tables": v.route_tables,
    });
    if v.instances().next().is_some() || !v.security_groups.is_empty() {
        out["security_groups"] = json!(v.all_security_groups());
    }
    out
}

pub fn list(ctx: &Ctx) -> Result<()> {
    let state = load(ctx)?;
    let mut vpcs: Vec<&Vpc> = state.vpcs.iter().collect();
    vpcs.sort_by(|a, b| crate::model::name::natural_cmp(a.name.as_str(), b.name.as_str()));
    if ctx.json {
        let all: Vec<Value> = vpcs.iter().map(|v| vpc_json(&state, v)).collect();
        return ctx.doc(&all);
    }
    if ctx.output == Output::Name || ctx.quiet {
        for v in &vpcs {
            outln!("{}", v.name);
        }
        return Ok(());
    }
    if vpcs.is_empty() {
        ctx.say("no VPCs (create one: vpcctl create-vpc --name vpc1 --cidr 10.10.0.0/16)");
        return Ok(());
    }
    let wide = ctx.output == Output::Wide;
    let mut head = vec!["VPC", "CIDR", "SUBNETS", "NAT", "PEERS", "APPS"];
    if wide {
        head.splice(2..3, ["BRIDGE", "SUBNETS"]);
    }
    let mut rows = vec![head.into_iter().map(String::from).collect::<Vec<_>>()];
    for v in vpcs {
        let mut peers: Vec<String> = state.peerings_of(v.name.as_str()).map(|p| p.other(v.name.as_str()).to_string()).collect();
        peers.sort_by(|a, b| crate::model::name::natural_cmp(a, b));
        let nat = v.nat.as_ref().map(|n| format!("via {}", n.interface)).unwrap_or_else(|| "-".into());
        let mut name = v.name.to_string();
        if v.status == crate::model::Status::Pending {
            name.push_str(" (incomplete)");
        }
        let public = v.subnets.iter().filter(|s| s.kind == crate::model::SubnetKind::Public).count();
        // A count keeps the row one screen wide at any size; -o wide names them.
        let subnets = if wide {
            let mut names: Vec<&Subnet> = v.subnets.iter().collect();
            names.sort_by(|a, b| crate::model::name::natural_cmp(a.name.as_str(), b.name.as_str()));
            or_dash(names.iter().map(|s| format!("{}({})", s.name, s.kind)).collect::<Vec<_>>().join(", "))
        } else if v.subnets.is_empty() {
            "0".into()
        } else {
            format!("{} ({public} public)", v.subnets.len())
        };
        let peers = if wide || peers.len() <= 3 { or_dash(peers.join(", ")) } else { format!("{} VPCs", peers.len()) };
        let mut row =
            vec![name, v.cidr.to_string(), subnets, nat, peers, v.subnets.iter().map(|s| s.apps.len()).sum::<usize>().to_string()];
        if wide {
            row.insert(2, v.bridge.clone());
        }
        rows.push(row);
    }
    out!("{}", table(&rows));
    Ok(())
}

fn or_dash(s: String) -> String {
    if s.is_empty() { "-".into() } else { s }
}

/// Left-aligned columns, two spaces apart.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..cols).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r.iter().enumerate().map(|(i, s)| format!("{s:<w$}", w = widths[i])).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// `inspect A [B...]`: every name is checked before anything is printed.
/// One VPC gives one JSON object; several, a list.
pub fn inspect(ctx: &Ctx, names: &[crate::model::Name]) -> Result<()> {
    let state = load(ctx)?;
    let vpcs = names.iter().map(|n| state.find_vpc(n)).collect::<Result<Vec<_>, _>>()?;
    if ctx.json {
        let all: Vec<Value> = vpcs.iter().map(|v| vpc_json(&state, v)).collect();
        return match all.as_slice() {
            [one] => ctx.doc(one),
            _ => ctx.doc(&all),
        };
    }
    for (i, v) in vpcs.iter().enumerate() {
        if ctx.output == Output::Name {
            outln!("{}", v.name);
            for s in &v.subnets {
                outln!("{}/{}", v.name, s.name);
            }
            continue;
        }
        if i > 0 {
            outln!();
        }
        out!("{}", tree(&state, v));
    }
    Ok(())
}

pub fn tree(state: &State, v: &Vpc) -> String {
    let mut out = format!("VPC {} ({})", v.name, v.cidr);
    if v.status == crate::model::Status::Pending {
        out.push_str("  [incomplete: run 'vpcctl delete' or create it again]");
    }
    out.push('\n');
    out.push_str(&format!("├─ bridge   {} (gateways of every subnet live here)\n", v.bridge));
    out.push_str(&format!("├─ chain    {} (filter table)\n", v.chain));
    match (&v.nat, &v.internet_gateway) {
        (Some(n), _) => {
            let names: Vec<String> = v.translated_subnets().iter().map(|s| s.name.to_string()).collect();
            out.push_str(&format!("├─ nat      via {} for {}\n", n.interface, or_dash(names.join(", "))));
        }
        (None, Some(g)) => out.push_str(&format!("├─ igw      via {} (subnets use it through routes)\n", g.interface)),
        (None, None) => out.push_str("├─ nat      off (nothing leaves the host)\n"),
    }
    for g in &v.nat_gateways {
        let eip = g.eip.map(|e| format!(", EIP {e}")).unwrap_or_default();
        out.push_str(&format!("├─ natgw    {} in {} at {}{eip} (namespace {})\n", g.name, g.subnet, g.ip, g.namespace));
    }
    for t in &v.route_tables {
        let routes: Vec<String> = t.routes.iter().map(|r| format!("{} -> {}", r.destination, r.target)).collect();
        let subnets: Vec<String> = t.subnets.iter().map(|s| s.to_string()).collect();
        let used =
            if t.name.as_str() == crate::model::routing::MAIN { "every other subnet".to_string() } else { or_dash(subnets.join(", ")) };
        out.push_str(&format!("├─ table    {} (for {used}): {}\n", t.name, or_dash(routes.join(", "))));
    }
    let peers: Vec<String> = state
        .peerings_of(v.name.as_str())
        .map(|p| {
            let other = p.other(v.name.as_str());
            if p.allow_cidrs.is_empty() {
                other.to_string()
            } else {
                let cidrs: Vec<String> = p.allow_cidrs.iter().map(|c| c.to_string()).collect();
                format!("{other} (only {})", cidrs.join(", "))
            }
        })
        .collect();
    out.push_str(&format!("├─ peers    {}\n", or_dash(peers.join(", "))));
    match &v.dns {
        Some(r) => {
            let state = if crate::helpers::apps::helper_running(&r.process) { "running" } else { "not running" };
            let domain = crate::model::services::dns_domain(v.name.as_str());
            let at = r.address.map(|a| format!("at {a}")).unwrap_or_else(|| "on each gateway".into());
            out.push_str(&format!("├─ dns      <subnet or instance>.{domain}, resolver pid {} ({state}) {at}\n", r.process.pid));
        }
        None => out.push_str("├─ dns      off\n"),
    }
    for e in &v.expose {
        out.push_str(&format!("├─ expose   {}:{} (and this host) -> {}:{}\n", e.interface, e.host_port, e.subnet, e.port));
    }
    for e in &v.eips {
        out.push_str(&format!("├─ eip      {} on {} <-> {}\n", e.ip, e.interface, e.subnet));
    }
    if v.flow_logs {
        out.push_str("├─ flow logs on (vpcctl flow-logs show)\n");
    }
    if v.instances().next().is_some() || !v.security_groups.is_empty() {
        let groups: Vec<String> =
            v.all_security_groups().iter().map(|g| format!("{} ({} member(s))", g.name, v.members(g.name.as_str()).len())).collect();
        out.push_str(&format!("├─ groups   {} (vpcctl describe-security-groups --vpc {})\n", groups.join(", "), v.name));
    }
    out.push_str(format!("└─ subnets  {}\n", if v.subnets.is_empty() { "none" } else { "" }).trim_end());
    out.push('\n');
    for (i, s) in v.subnets.iter().enumerate() {
        let last = i + 1 == v.subnets.len();
        let (branch, stem) = if last { ("└─", "   ") } else { ("├─", "│  ") };
        let pending = if s.status == crate::model::Status::Pending { "  [incomplete]" } else { "" };
        out.push_str(&format!("   {branch} {} {} {}{pending}\n", s.name, s.cidr, s.kind));
        out.push_str(&format!("   {stem}   namespace {}  ip {}  gateway {}  veth {}\n", s.namespace, s.ip, s.gateway, s.veth));
        if let Some(p) = &s.policy {
            out.push_str(&format!(
                "   {stem}   policy: default ingress {}, egress {}\n",
                p.default_ingress.as_str(),
                p.default_egress.as_str()
            ));
            for (dir, rules) in [("ingress", &p.ingress), ("egress", &p.egress)] {
                for (i, r) in rules.iter().enumerate() {
                    out.push_str(&format!("   {stem}     {dir}[{i}] {r}\n"));
                }
            }
        }
        if let Some(n) = &s.nacl {
            out.push_str(&format!("   {stem}   nacl: {} inbound, {} outbound rule(s), then deny\n", n.inbound.len(), n.outbound.len()));
        }
        for a in &s.apps {
            let state = if crate::helpers::apps::is_ours(a.pid, a.start_time) { "running" } else { "not running" };
            out.push_str(&format!("   {stem}   app: port {} pid {} ({state}) log {}\n", a.port, a.pid, a.log.display()));
        }
        for i in &s.instances {
            let groups: Vec<String> = i.security_groups.iter().map(|g| g.to_string()).collect();
            let pending = if i.status == crate::model::Status::Pending { "  [incomplete]" } else { "" };
            out.push_str(&format!(
                "   {stem}   instance {} {}  groups {}  namespace {}  veth {}{pending}\n",
                i.name,
                i.ip,
                groups.join(","),
                i.namespace,
                i.veth
            ));
            for a in &i.apps {
                let state = if crate::helpers::apps::is_ours(a.pid, a.start_time) { "running" } else { "not running" };
                out.push_str(&format!("   {stem}     app: port {} pid {} ({state})\n", a.port, a.pid));
            }
        }
    }
    out
}
