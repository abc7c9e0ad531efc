//! test-connectivity: check, rather than guess, what reaches what.

use std::net::Ipv4Addr;

use anyhow::Result;
use serde_json::json;

use super::Ctx;
use super::show::table;
use crate::cli::req::{Matrix, Probe};
use crate::kernel::probe::{self, Verdict};
use crate::model::Status;
use crate::state::Store;

/// Returns the exit code: 0 reachable, 1 not.
pub fn single(ctx: &Ctx, req: Probe) -> Result<i32> {
    let Probe { vpc: vpc_name, from, to, protocol: proto, port } = req;
    let state = Store::open_readonly(&ctx.state_dir).load()?;
    let to = to.address(&state)?;
    let s = state.find_host(&vpc_name, &from)?;
    super::require_root()?;
    let what = match port {
        Some(p) => format!("{proto:?} {to}:{p}").to_lowercase(),
        None => format!("icmp {to}"),
    };
    let verdict = probe::in_netns(&s.namespace, move || probe::probe(proto, to, port))?;
    if ctx.json {
        outln!(
            "{}",
            json!({"vpc": vpc_name, "from": from, "to": to, "port": port, "protocol": proto,
                              "reachable": verdict.reachable, "how": verdict.how})
        );
    } else if !ctx.quiet {
        let word = if verdict.reachable { "reachable" } else { "NOT reachable" };
        outln!("{word}: {vpc_name}/{from} -> {what}: {}", verdict.how);
    }
    Ok(if verdict.reachable { 0 } else { 1 })
}

/// Every subnet against every other, in parallel.
pub fn matrix(ctx: &Ctx, req: Matrix) -> Result<i32> {
    let Matrix { protocol: proto, port } = req;
    super::require_root()?;
    let state = Store::open_readonly(&ctx.state_dir).load()?;
    let subnets: Vec<(String, String, Ipv4Addr)> = state
        .vpcs
        .iter()
        .flat_map(|v| v.hosts().into_iter().filter(|s| s.status == Status::Ready).map(move |s| (v.label(&s), s.namespace.clone(), s.ip)))
        .collect();
    let pairs: Vec<(usize, usize)> =
        (0..subnets.len()).flat_map(|i| (0..subnets.len()).filter(move |j| *j != i).map(move |j| (i, j))).collect();
    let jobs: Vec<probe::Job> = pairs.iter().map(|(i, j)| (subnets[*i].1.clone(), subnets[*j].2, proto, port)).collect();
    // All at once: a matrix is mostly probes that wait out their timeout.
    let mut results: Vec<(usize, usize, Verdict)> = vec![];
    for ((i, j), v) in pairs.into_iter().zip(probe::probe_all(&jobs, jobs.len())) {
        results.push((i, j, v?));
    }
    if ctx.json {
        let rows: Vec<_> = results
            .iter()
            .map(|(i, j, v)| json!({"from": subnets[*i].0, "to": subnets[*j].0, "ip": subnets[*j].2, "reachable": v.reachable, "how": v.how}))
            .collect();
        ctx.doc(&rows)?;
        return Ok(0);
    }
    let what = match port {
        Some(p) => format!("{proto:?} port {p}").to_lowercase(),
        None => "icmp echo".into(),
    };
    outln!("reachability by {what} (row: from, column: to; yes = reachable, -- = not)");
    let mut rows = vec![std::iter::once("from \\ to".to_string()).chain(subnets.iter().map(|s| s.0.clone())).collect::<Vec<_>>()];
    for (i, (name, _, _)) in subnets.iter().enumerate() {
        let mut row = vec![name.clone()];
        for j in 0..subnets.len() {
            let cell = match results.iter().find(|(a, b, _)| *a == i && *b == j) {
                None => "·".to_string(),
                Some((_, _, v)) if v.reachable => "yes".into(),
                Some(_) => "--".into(),
            };
            row.push(cell);
        }
        rows.push(row);
    }
    out!("{}", table(&rows));
    Ok(0)
}

/// `test-connectivity --explain`: the analyzer's walk, no packet sent.
/// Returns the exit code: 0 open, 1 blocked.
pub fn explain(ctx: &Ctx, req: Probe) -> Result<i32> {
    let Probe { vpc: vpc_name, from, to, protocol: proto, port } = req;
    let state = Store::open_readonly(&ctx.state_dir).load()?;
    let to = to.address(&state)?;
    let v = state.find_vpc(&vpc_name)?;
    let s = state.find_host(&vpc_name, &from)?;
    let a = crate::analyze::analyze(&state, v, &s, to, proto, port);
    let what = match port {
        Some(p) => format!("{proto:?} {to}:{p}").to_lowercase(),
        None => format!("icmp {to}"),
    };
    if ctx.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({"vpc": vpc_name, "from": from, "to": to, "port": port, "protocol": proto,
                "reachable": a.reachable, "certain": a.certain, "verdict": a.verdict, "code": a.code, "hops": a.hops}))?
        );
    } else if !ctx.quiet {
        outln!("{vpc_name}/{from} -> {what} (from the model; no packet sent)");
        let width = a.hops.iter().map(|h| h.component.len()).max().unwrap_or(0);
        for (i, h) in a.hops.iter().enumerate() {
            let mark = match h.outcome {
                crate::analyze::Outcome::Allow => "allow",
                crate::analyze::Outcome::Block => "BLOCK",
                crate::analyze::Outcome::Info => "     ",
            };
            let code = h.code.map(|c| format!("  [{c}]")).unwrap_or_default();
            outln!("  {}. {:<width$}  {mark}  {}{code}", i + 1, h.component, h.detail);
        }
        let hedge = if a.certain { "" } else { " (if something answers there)" };
        outln!("{}{hedge}", a.verdict);
    }
    Ok(if a.reachable { 0 } else { 1 })
}
