//! check: an expectations file, each expectation probed with real packets
//! (in parallel) and explained by the analyzer; a JUnit report for CI.
//!
//! Exit codes: 0 every expectation met, 1 any unmet, 2 a bad file.

use std::net::Ipv4Addr;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::json;

use super::Ctx;
use crate::analyze::{self, Analysis};
use crate::error::InputError;
use crate::kernel::probe::{self, Verdict};
use crate::model::State;
use crate::model::expect::{self, Expectation, Target};
use crate::state::Store;

/// Probes in flight at once: each may wait a second for an answer.
const CONCURRENCY: usize = 16;

#[derive(Serialize)]
struct Outcome<'a> {
    expectation: String,
    expected: bool,
    observed: bool,
    how: String,
    met: bool,
    /// The analyzer was sure and the probe disagrees: the kernel has drifted.
    mismatch: bool,
    analysis: &'a Analysis,
}

/// Returns the exit code.
pub fn run(ctx: &Ctx, file: &Path, junit: Option<&Path>) -> Result<i32> {
    let text = match super::topology::read_capped(file) {
        Ok(t) => t,
        Err(e) => return Ok(bad_file(ctx, file, &format!("cannot read it: {e}"))),
    };
    let list = match expect::parse(&text) {
        Ok(l) => l,
        Err(e) => return Ok(bad_file(ctx, file, &e.to_string())),
    };
    let state = Store::open_readonly(&ctx.state_dir).load()?;
    if let Err(e) = expect::check_against(&state, &list) {
        return Ok(bad_file(ctx, file, &e.to_string()));
    }
    super::require_root()?;
    let analyses: Vec<Analysis> = list.iter().map(|e| analysis(&state, e)).collect::<Result<_, _>>()?;
    let probes = probe_all(&state, &list)?;
    let outcomes: Vec<Outcome> = list
        .iter()
        .zip(&probes)
        .zip(&analyses)
        .map(|((e, v), a)| Outcome {
            expectation: e.label(),
            expected: e.reachable,
            observed: v.reachable,
            how: v.how.clone(),
            met: v.reachable == e.reachable,
            mismatch: a.certain && a.reachable != v.reachable,
            analysis: a,
        })
        .collect();
    let failed = outcomes.iter().filter(|o| !o.met).count();
    if let Some(path) = junit {
        std::fs::write(path, junit_xml(&outcomes)).with_context(|| format!("cannot write the JUnit report {}", path.display()))?;
    }
    if ctx.json {
        ctx.doc(&json!({"results": outcomes, "passed": outcomes.len() - failed, "failed": failed}))?;
    } else {
        print_table(ctx, &outcomes);
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

fn bad_file(ctx: &Ctx, file: &Path, why: &str) -> i32 {
    let msg = format!("check file {}: {why}; nothing was probed", file.display());
    if ctx.json {
        errln!("{}", json!({"error": msg, "kind": "input"}));
    } else {
        errln!("error: {msg}");
    }
    2
}

fn target_ip(state: &State, e: &Expectation) -> Result<Ipv4Addr, InputError> {
    Ok(match &e.to {
        Target::Addr(a) => *a,
        Target::Subnet { vpc, subnet } => match state.find_vpc(vpc)?.remote_host(subnet.as_str()) {
            Some((ip, _)) => ip,
            None => state.find_host(vpc, subnet)?.ip,
        },
    })
}

fn analysis(state: &State, e: &Expectation) -> Result<Analysis, InputError> {
    let v = state.find_vpc(&e.from_vpc)?;
    let s = state.find_host(&e.from_vpc, &e.from_subnet)?;
    Ok(analyze::analyze(state, v, &s, target_ip(state, e)?, e.protocol, e.port))
}

/// Every probe, at most CONCURRENCY at a time, results in input order.
fn probe_all(state: &State, list: &[Expectation]) -> Result<Vec<Verdict>> {
    let jobs: Vec<probe::Job> = list
        .iter()
        .map(|e| Ok((state.find_host(&e.from_vpc, &e.from_subnet)?.namespace.clone(), target_ip(state, e)?, e.protocol, e.port)))
        .collect::<Result<_, InputError>>()?;
    probe::probe_all(&jobs, CONCURRENCY).into_iter().map(|r| r.context("could not run a probe inside a subnet's namespace")).collect()
}

fn word(reachable: bool) -> &'static str {
    if reachable { "reachable" } else { "blocked" }
}

fn print_table(ctx: &Ctx, outcomes: &[Outcome]) {
    let width = outcomes.iter().map(|o| o.expectation.len()).max().unwrap_or(0);
    for o in outcomes {
        let tag = if o.met { "ok  " } else { "FAIL" };
        if o.met && ctx.quiet {
            continue;
        }
        if o.met {
            outln!("{tag} {:<width$}  {}", o.expectation, word(o.observed));
            continue;
        }
        outln!("{tag} {:<width$}  expected {}, but {}: {}", o.expectation, word(o.expected), word(o.observed), o.how);
        outln!("     {:<width$}  analyzer: {} [{}]", "", o.analysis.verdict, o.analysis.code);
        if o.mismatch {
            outln!(
                "     {:<width$}  MODEL_KERNEL_MISMATCH: the kernel no longer matches the model (drift); run 'vpcctl doctor', then 'vpcctl repair'",
                ""
            );
        }
    }
    let failed = outcomes.iter().filter(|o| !o.met).count();
    outln!("{} passed, {failed} failed", outcomes.len() - failed);
}

fn xml(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&apos;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// One `testcase` per expectation, a `failure` in each unmet one.
fn junit_xml(outcomes: &[Outcome]) -> String {
    let failed = outcomes.iter().filter(|o| !o.met).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!("<testsuites name=\"vpcctl check\" tests=\"{}\" failures=\"{failed}\">\n", outcomes.len()));
    out.push_str(&format!("  <testsuite name=\"reachability\" tests=\"{}\" failures=\"{failed}\" errors=\"0\">\n", outcomes.len()));
    for o in outcomes {
        let name = xml(&format!("{} is {}", o.expectation, word(o.expected)));
        out.push_str(&format!("    <testcase classname=\"vpcctl.check\" name=\"{name}\">\n"));
        if !o.met {
            let mut body = format!(
                "expected {}, probe saw {}: {}\nanalyzer: {} [{}]",
                word(o.expected),
                word(o.observed),
                o.how,
                o.analysis.verdict,
                o.analysis.code
            );
            if o.mismatch {
                body.push_str(
                    "\nMODEL_KERNEL_MISMATCH: the kernel no longer matches the model (drift); run 'vpcctl doctor', then 'vpcctl repair'",
                );
            }
            let message = xml(&format!("expected {}, but {}", word(o.expected), word(o.observed)));
            out.push_str(&format!("      <failure message=\"{message}\" type=\"unmet\">{}</failure>\n", xml(&body)));
        }
        out.push_str("      <system-out>");
        let hops: Vec<String> = o.analysis.hops.iter().map(|h| format!("{}: {}", h.component, h.detail)).collect();
        out.push_str(&xml(&hops.join("\n")));
        out.push_str("</system-out>\n    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// `check --peers`: each other host of this host's multi-host file, by the
/// address its VXLAN goes to (its underlay, or its WireGuard address), and
/// the age of its WireGuard handshake. Exit 1 when any does not answer.
pub fn peers(ctx: &Ctx) -> Result<i32> {
    let state = Store::open_readonly(&ctx.state_dir).load()?;
    let Some(f) = &state.fabric else {
        return Err(InputError::Invalid(
            "this state dir spans no hosts: 'check --peers' is for a topology file with \"hosts\", applied here with 'vpcctl apply -f FILE'".into(),
        )
        .into());
    };
    let handshakes = f.wireguard.as_ref().map(|w| handshakes(&w.interface)).unwrap_or_default();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut rows = vec![];
    for h in f.peers() {
        let addr = f.vxlan_remote(h);
        let reachable = std::process::Command::new("ping")
            .args(["-c1", "-W1", "-n", &addr.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let handshake = h.wireguard_public_key.as_ref().and_then(|k| handshakes.iter().find(|(p, _)| p == k)).map(|(_, t)| *t);
        rows.push(json!({
            "host": h.name,
            "address": addr,
            "reachable": reachable,
            "handshake_age_secs": handshake.filter(|t| *t > 0).map(|t| now.saturating_sub(t)),
        }));
        if !ctx.json {
            let hs = match (f.wireguard.is_some(), handshake) {
                (false, _) => String::new(),
                (true, Some(t)) if t > 0 => format!("  handshake {} s ago", now.saturating_sub(t)),
                (true, _) => "  no handshake yet".into(),
            };
            outln!("{:<16} {:<15} {}{hs}", h.name.as_str(), addr, if reachable { "reachable" } else { "UNREACHABLE" });
        }
    }
    if ctx.json {
        ctx.doc(&json!({"host": f.host, "peers": rows}))?;
    }
    Ok(if rows.iter().all(|r| r["reachable"] == true) { 0 } else { 1 })
}

/// (public key, epoch seconds) from `wg show IFACE latest-handshakes`.
fn handshakes(interface: &str) -> Vec<(String, u64)> {
    let Ok(out) = std::process::Command::new("wg").args(["show", interface, "latest-handshakes"]).output() else { return vec![] };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, t) = l.split_once('\t')?;
            Some((k.to_string(), t.trim().parse().ok()?))
        })
        .collect()
}
