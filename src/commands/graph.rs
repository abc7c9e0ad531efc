//! graph: the recorded topology as Graphviz DOT. VPCs are clusters; a
//! subnet node shows its CIDR, address, type, policy, apps and route table;
//! NAT and an internet gateway are edges to the uplink; a NAT gateway is a
//! node in its subnet's VPC; a peering is an edge labelled with its
//! allowed CIDRs; a transit gateway is a node with an edge per attachment.

use std::fmt::Write as _;

use anyhow::Result;

use super::Ctx;
use crate::model::{State, SubnetKind, validate};
use crate::state::Store;

pub fn run(ctx: &Ctx, vpc: Option<&str>) -> Result<()> {
    let state = Store::open_readonly(&ctx.state_dir).load()?;
    if let Some(v) = vpc {
        validate::find_vpc(&state, v)?;
    }
    out!("{}", dot(&state, vpc));
    Ok(())
}

/// A DOT identifier or label, quoted.
fn q(s: &str) -> String {
    // "\n" is DOT's line break inside a label.
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

/// Instances hang off their subnet; each is a dashed member of its groups,
/// and a rule that names a group is an edge from that group to the one
/// that admits it.
fn instances(out: &mut String, v: &crate::model::Vpc) {
    if v.instances().next().is_none() && v.security_groups.is_empty() {
        return;
    }
    let gid = |g: &str| format!("{}/sg/{g}", v.name);
    for g in v.all_security_groups() {
        let _ = writeln!(
            out,
            "    {} [label={}, shape=note, fillcolor=\"#f1e8fb\"];",
            q(&gid(g.name.as_str())),
            q(&format!("group {}", g.name))
        );
        for (dir, rules) in [("in", &g.ingress), ("out", &g.egress)] {
            for r in rules.iter().filter(|r| r.source_group.is_some()) {
                let other = r.source_group.as_ref().map(|n| gid(n.as_str())).unwrap_or_default();
                let (from, to) = if dir == "in" { (other, gid(g.name.as_str())) } else { (gid(g.name.as_str()), other) };
                let what = format!("{} {}", r.protocol.word(), r.ports.map(|p| p.to_string().replace(':', "-")).unwrap_or_default());
                let _ = writeln!(out, "    {} -> {} [color=\"#7a4fb0\", label={}];", q(&from), q(&to), q(what.trim()));
            }
        }
    }
    for (s, i) in v.instances() {
        let id = format!("{}/i/{}", v.name, i.name);
        let apps: String = i.apps.iter().map(|a| format!("\napp :{}", a.port)).collect();
        let _ = writeln!(out, "    {} [label={}, fillcolor=\"#ffffff\"];", q(&id), q(&format!("instance {}\n{}{apps}", i.name, i.ip)));
        let _ = writeln!(out, "    {} -> {} [arrowsize=0.5];", q(&format!("{}/{}", v.name, s.name)), q(&id));
        for g in &i.security_groups {
            let _ = writeln!(out, "    {} -> {} [style=dashed, arrowhead=none];", q(&id), q(&gid(g.as_str())));
        }
    }
}

pub fn dot(state: &State, only: Option<&str>) -> String {
    let shown = |name: &str| only.is_none_or(|o| o == name || state.peerings.iter().any(|p| p.joins(o, name)));
    let mut out = String::from("digraph vpcctl {\n  graph [rankdir=LR, fontname=\"Helvetica\", label=\"vpcctl topology\", labelloc=t];\n");
    out.push_str("  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"Helvetica\", fontsize=10];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
    let mut uplinks = vec![];
    for v in state.vpcs.iter().filter(|v| shown(v.name.as_str())) {
        let _ = writeln!(out, "  subgraph {} {{", q(&format!("cluster_{}", v.name)));
        let _ = writeln!(
            out,
            "    label={}; style=\"rounded,filled\"; fillcolor=\"#eef4fb\";",
            q(&format!("VPC {} {}\nbridge {}", v.name, v.cidr, v.bridge))
        );
        let _ = writeln!(out, "    {} [label={}, shape=circle, fillcolor=\"#dde8f5\"];", q(&format!("{}/router", v.name)), q("router"));
        for s in &v.subnets {
            let mut label = format!("{} ({})\n{}\n{}", s.name, s.kind, s.cidr, s.ip);
            if let Some(p) = &s.policy {
                let _ = write!(
                    label,
                    "\npolicy: in {} / out {}, {} rule(s)",
                    p.default_ingress.as_str(),
                    p.default_egress.as_str(),
                    p.ingress.len() + p.egress.len()
                );
            }
            for a in &s.apps {
                let _ = write!(label, "\napp :{}", a.port);
            }
            if let Some(t) = v.route_table(v.table_name_of(s.name.as_str())) {
                let routes: Vec<String> = t.routes.iter().map(|r| format!("{} -> {}", r.destination, r.target)).collect();
                let _ = write!(label, "\nroute table {}{}", t.name, routes.iter().map(|r| format!("\n  {r}")).collect::<String>());
            }
            let fill = if s.kind == SubnetKind::Public { "#e3f6e3" } else { "#fdf3e1" };
            let id = format!("{}/{}", v.name, s.name);
            let _ = writeln!(out, "    {} [label={}, fillcolor=\"{fill}\"];", q(&id), q(&label));
            let _ = writeln!(
                out,
                "    {} -> {} [dir=both, arrowsize=0.5, label={}];",
                q(&id),
                q(&format!("{}/router", v.name)),
                q(&s.gateway.to_string())
            );
        }
        instances(&mut out, v);
        for g in &v.nat_gateways {
            let id = format!("{}/ngw/{}", v.name, g.name);
            let label =
                format!("NAT gateway {}\nin {} at {}{}", g.name, g.subnet, g.ip, g.eip.map(|e| format!("\nEIP {e}")).unwrap_or_default());
            let _ = writeln!(out, "    {} [label={}, shape=hexagon, fillcolor=\"#fff3c4\"];", q(&id), q(&label));
            let _ = writeln!(out, "    {} -> {} [dir=both, arrowsize=0.5];", q(&id), q(&format!("{}/router", v.name)));
        }
        out.push_str("  }\n");
        if let Some(igw) = &v.internet_gateway {
            if !uplinks.contains(&igw.interface) {
                uplinks.push(igw.interface.clone());
            }
            let _ = writeln!(
                out,
                "  {} -> {} [label={}, style=bold, color=\"#2e7d32\"];",
                q(&format!("{}/router", v.name)),
                q(&format!("uplink/{}", igw.interface)),
                q("internet gateway")
            );
        }
        if let Some(n) = &v.nat {
            let names: Vec<String> = v.translated_subnets().iter().map(|s| s.name.to_string()).collect();
            if !uplinks.contains(&n.interface) {
                uplinks.push(n.interface.clone());
            }
            let _ = writeln!(
                out,
                "  {} -> {} [label={}, style=bold, color=\"#2e7d32\"];",
                q(&format!("{}/router", v.name)),
                q(&format!("uplink/{}", n.interface)),
                q(&format!("NAT for {}", if names.is_empty() { "-".into() } else { names.join(", ") }))
            );
        }
    }
    for u in &uplinks {
        let _ = writeln!(
            out,
            "  {} [label={}, shape=cds, fillcolor=\"#f0f0f0\"];",
            q(&format!("uplink/{u}")),
            q(&format!("internet\nvia {u}"))
        );
    }
    for p in state.peerings.iter().filter(|p| shown(p.a.as_str()) && shown(p.b.as_str())) {
        let label = if p.allow_cidrs.is_empty() {
            "peering".to_string()
        } else {
            format!("peering\nonly {}", p.allow_cidrs.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", "))
        };
        let _ = writeln!(
            out,
            "  {} -> {} [dir=both, style=dashed, color=\"#1565c0\", label={}];",
            q(&format!("{}/router", p.a)),
            q(&format!("{}/router", p.b)),
            q(&label)
        );
    }
    for t in &state.transit_gateways {
        let attached: Vec<_> = t.attachments.iter().filter(|a| shown(a.as_str())).collect();
        if attached.is_empty() {
            continue;
        }
        let tables: Vec<String> = t
            .route_tables
            .iter()
            .map(|rt| {
                let names = |l: &[crate::model::Name]| l.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ");
                format!("{}: for {}; learns {}", rt.name, names(&rt.associations), names(&rt.propagations))
            })
            .collect();
        let id = format!("tgw/{}", t.name);
        let _ = writeln!(
            out,
            "  {} [label={}, shape=doubleoctagon, fillcolor=\"#ede7f6\"];",
            q(&id),
            q(&format!("transit gateway {}\n{}", t.name, tables.join("\n")))
        );
        for a in attached {
            let _ = writeln!(out, "  {} -> {} [dir=both, color=\"#6a1b9a\"];", q(&format!("{a}/router")), q(&id));
        }
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_nodes_nat_and_peerings() {
        let st: State = serde_json::from_str(
            r#"{"schema_version":1,"vpcs":[
            {"name":"vpc1","cidr":"10.10.0.0/16","bridge":"br-vpc1","link_group":1,"chain":"VPCCTL-FWD-vpc1","status":"ready",
             "nat":{"interface":"uplink0"},
             "subnets":[{"name":"web","cidr":"10.10.1.0/24","type":"public","namespace":"ns-vpc1-web","veth":"v-vpc1-web","gateway":"10.10.1.1","ip":"10.10.1.2","status":"ready",
               "apps":[{"port":80,"pid":5,"start_time":1,"command":["x"],"log":"/l"}]}]},
            {"name":"vpc2","cidr":"10.20.0.0/16","bridge":"br-vpc2","link_group":2,"chain":"VPCCTL-FWD-vpc2","status":"ready"},
            {"name":"vpc3","cidr":"10.30.0.0/16","bridge":"br-vpc3","link_group":3,"chain":"VPCCTL-FWD-vpc3","status":"ready"}],
            "peerings":[{"a":"vpc1","b":"vpc2","allow_cidrs":["10.10.1.0/24"]}]}"#,
        )
        .unwrap();
        let d = dot(&st, None);
        assert!(d.starts_with("digraph vpcctl {") && d.ends_with("}\n"));
        assert!(d.contains("subgraph \"cluster_vpc1\"") && d.contains(r"web (public)\n10.10.1.0/24\n10.10.1.2\napp :80"), "{d}");
        assert!(d.contains("\"vpc1/router\" -> \"uplink/uplink0\" [label=\"NAT for web\""), "{d}");
        assert!(d.contains("\"vpc1/router\" -> \"vpc2/router\" [dir=both, style=dashed") && d.contains("only 10.10.1.0/24"), "{d}");
        let only = dot(&st, Some("vpc2"));
        assert!(only.contains("cluster_vpc1") && only.contains("cluster_vpc2") && !only.contains("cluster_vpc3"), "peers shown: {only}");
    }

    #[test]
    fn route_tables_gateways_and_transit_gateways_are_drawn() {
        let st: State = serde_json::from_str(
            r#"{"schema_version":1,"vpcs":[
            {"name":"a","cidr":"10.1.0.0/16","bridge":"br-a","link_group":1,"chain":"VPCCTL-FWD-a","status":"ready",
             "internet_gateway":{"interface":"uplink0"},
             "nat_gateways":[{"name":"ngw","subnet":"pub","ip":"10.1.1.4","namespace":"ngw-a-ngw","veth":"g-a-ngw","eip":"203.0.113.20","status":"ready"}],
             "route_tables":[{"name":"main","table":1448083457,"routes":[{"destination":"0.0.0.0/0","target":"internet_gateway"}]}],
             "subnets":[{"name":"pub","cidr":"10.1.1.0/24","type":"public","namespace":"ns-a-pub","veth":"v-a-pub","gateway":"10.1.1.1","ip":"10.1.1.2","status":"ready"}]},
            {"name":"b","cidr":"10.2.0.0/16","bridge":"br-b","link_group":2,"chain":"VPCCTL-FWD-b","status":"ready"}],
            "transit_gateways":[{"name":"tgw","attachments":["a","b"],"route_tables":[{"name":"spokes","associations":["a"],"propagations":["b"]}]}]}"#,
        )
        .unwrap();
        let d = dot(&st, None);
        assert!(d.contains(r"route table main\n  0.0.0.0/0 -> igw"), "{d}");
        assert!(d.contains(r#""a/router" -> "uplink/uplink0" [label="internet gateway""#), "{d}");
        assert!(d.contains(r"NAT gateway ngw\nin pub at 10.1.1.4\nEIP 203.0.113.20"), "{d}");
        assert!(d.contains(r"transit gateway tgw\nspokes: for a; learns b") && d.contains(r#""b/router" -> "tgw/tgw""#), "{d}");
    }
}
