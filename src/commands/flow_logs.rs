//! flow-logs enable | disable | show: the records of what a VPC's rules
//! accepted and rejected (see `plan::flow` and `crate::helpers::flowlogs`).

use std::time::Duration;

use anyhow::Result;

use super::Ctx;
use crate::cli::FlowLogsCommand;
use crate::engine::commit;
use crate::error::InputError;
use crate::helpers::flowlogs::{self, Record};
use crate::model::services::{DEFAULT_MAX_BYTES, DEFAULT_WINDOW_SECS, FlowLogCollector};
use crate::model::{Name, State};
use crate::state::Store;

pub fn run(ctx: &Ctx, cmd: FlowLogsCommand) -> Result<i32> {
    match cmd {
        FlowLogsCommand::Enable(a) => enable(ctx, &a.vpc.resolve()?, a.window)?,
        FlowLogsCommand::Disable(a) => disable(ctx, &a.resolve()?)?,
        FlowLogsCommand::Show(a) => show(ctx, &a.vpc.resolve()?, a.follow)?,
        FlowLogsCommand::Collect => flowlogs::collect(&ctx.state_dir)?,
    }
    Ok(0)
}

/// The collector record a state dir uses: its own NFLOG group (from the
/// dir's chain suffix, so two dirs do not share one), files under the dir.
pub fn collector(ctx: &Ctx, state: &State, window: Option<u32>) -> FlowLogCollector {
    let base = state.host.flow_logs.clone().unwrap_or_else(|| FlowLogCollector {
        group: nflog_group(&state.host.chain_suffix),
        dir: ctx.state_dir.join("flow-logs"),
        window_secs: DEFAULT_WINDOW_SECS,
        max_bytes: DEFAULT_MAX_BYTES,
        process: Default::default(),
    });
    match window {
        Some(w) if w != base.window_secs => FlowLogCollector { window_secs: w, process: Default::default(), ..base },
        _ => base,
    }
}

/// 0x7c00 + 10 bits of the suffix: groups kept clear of the small numbers
/// other tools (ulogd's defaults) use.
fn nflog_group(suffix: &str) -> u16 {
    let h = suffix.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    0x7c00 + (h % 1024) as u16
}

fn enable(ctx: &Ctx, vpc: &Name, window: Option<u32>) -> Result<()> {
    let store = ctx.open()?;
    let before = store.load()?;
    before.find_vpc(vpc)?;
    if !ctx.dry_run {
        flowlogs::check_installed()?;
    }
    let mut after = before.clone();
    after.host.flow_logs = Some(collector(ctx, &before, window));
    after.find_vpc_mut(vpc)?.flow_logs = true;
    let after = commit(ctx, &store, &before, after)?;
    let c = after.host.flow_logs.as_ref().map(|c| c.window_secs).unwrap_or(DEFAULT_WINDOW_SECS);
    ctx.report(
        format!("flow logs on for VPC '{vpc}' ({c} s capture window); see them with: vpcctl flow-logs show --vpc {vpc}"),
        super::show::vpc_json(&after, after.find_vpc(vpc)?),
    );
    Ok(())
}

fn disable(ctx: &Ctx, vpc: &Name) -> Result<()> {
    let store = ctx.open()?;
    let before = store.load()?;
    if !before.find_vpc(vpc)?.flow_logs {
        ctx.report(format!("flow logs are not on for VPC '{vpc}'; nothing to do"), super::show::vpc_json(&before, before.find_vpc(vpc)?));
        return Ok(());
    }
    let mut after = before.clone();
    after.find_vpc_mut(vpc)?.flow_logs = false;
    let after = commit(ctx, &store, &before, after)?;
    ctx.report(format!("flow logs off for VPC '{vpc}'; its records so far are kept"), super::show::vpc_json(&after, after.find_vpc(vpc)?));
    Ok(())
}

fn print(ctx: &Ctx, records: &[&Record]) {
    if ctx.json {
        let all: Vec<serde_json::Value> = records.iter().map(|r| r.json()).collect();
        let _ = ctx.doc_line(&all);
    } else {
        for r in records {
            outln!("{}", r.line());
        }
    }
}

fn show(ctx: &Ctx, vpc: &Name, follow: bool) -> Result<()> {
    let state = Store::open_readonly(&ctx.state_dir).load()?;
    let v = state.find_vpc(vpc)?;
    // Off now, the records written while it was on can still be shown.
    let c = state.host.flow_logs.clone().unwrap_or_else(|| collector(ctx, &state, None));
    if !v.flow_logs && !c.dir.join(flowlogs::RECORDS).exists() {
        return Err(InputError::NotFound(format!("VPC '{vpc}' has no flow logs; turn them on: vpcctl flow-logs enable --vpc {vpc}")).into());
    }
    flowlogs::flush(&c.dir);
    let mine = |all: &[Record]| -> Vec<Record> { all.iter().filter(|r| r.vpc == vpc.as_str()).cloned().collect() };
    let first = mine(&flowlogs::read_records(&c.dir));
    print(ctx, &first.iter().collect::<Vec<_>>());
    if !follow {
        return Ok(());
    }
    // Until interrupted: each second, what was written since.
    let mut shown: std::collections::HashSet<Record> = first.into_iter().collect();
    loop {
        std::thread::sleep(Duration::from_secs(1));
        flowlogs::flush(&c.dir);
        let now = mine(&flowlogs::read_records(&c.dir));
        let fresh: Vec<&Record> = now.iter().filter(|r| !shown.contains(*r)).collect();
        if !fresh.is_empty() {
            print(ctx, &fresh);
        }
        shown = now.into_iter().collect();
    }
}
