//! deploy-app, stop-app: edits of a subnet's recorded apps, started and
//! stopped by the one change path.

use anyhow::{Context, Result};

use super::Ctx;
use crate::cli::req::At;
use crate::engine::commit;
use crate::error::InputError;
use crate::helpers::apps;
use crate::model::{App, Name};
use crate::state::Store;

pub fn deploy(ctx: &Ctx, req: crate::cli::req::App) -> Result<()> {
    let crate::cli::req::App { at: At { vpc: vpc_name, subnet: subnet_name }, port, command, user } = req;
    let store = ctx.open()?;
    let before = store.load()?;
    let s = before.find_host(&vpc_name, &subnet_name)?;
    if let Some(a) = s.apps.iter().find(|a| a.port == port && apps::is_ours(a.pid, a.start_time)) {
        return Err(InputError::Conflict(format!(
            "port {port} in {vpc_name}/{subnet_name} is already used by app pid {} ({}); stop it first: vpcctl stop-app {vpc_name} {subnet_name} --port {port}",
            a.pid,
            a.command.join(" ")
        ))
        .into());
    }
    let app = new_app(&ctx.state_dir, &vpc_name, &subnet_name, port, (!command.is_empty()).then_some(command), user)?;
    let mut after = before.clone();
    let apps = after.host_apps_mut(&vpc_name, &subnet_name)?;
    apps.retain(|a| a.port != port);
    apps.push(app);
    let after = commit(ctx, &store, &before, after)?;
    if ctx.dry_run {
        return Ok(());
    }
    let s = after.find_host(&vpc_name, &subnet_name)?;
    let Some(a) = s.apps.iter().find(|a| a.port == port) else { return Ok(()) };
    ctx.report(
        format!("app listening on {}:{port} in {vpc_name}/{subnet_name} (pid {}, log {})", s.ip, a.pid, a.log.display()),
        super::show::app_json(a),
    );
    Ok(())
}

/// An app record, not yet started. No command: vpcctl's own HTTP server.
pub fn new_app(
    state_dir: &std::path::Path,
    vpc: &Name,
    subnet: &Name,
    port: u16,
    command: Option<Vec<String>>,
    user: Option<String>,
) -> Result<App> {
    if let Some(u) = &user {
        // Checked now, dry run or not: the name ends up in a command line.
        apps::lookup_user(u)?;
    }
    let log = state_dir.join("apps").join(vpc.as_str()).join(format!("{subnet}-{port}.log"));
    let builtin = command.is_none();
    let command = match command {
        Some(c) => c,
        None => default_app(vpc, subnet, port)?,
    };
    Ok(App { port, pid: 0, start_time: 0, command, log, builtin, user, uid: None })
}

fn default_app(vpc: &Name, subnet: &Name, port: u16) -> Result<Vec<String>> {
    let me = std::env::current_exe().context("cannot find the vpcctl binary to run as the default app")?;
    let me = me.to_string_lossy().into_owned();
    Ok(vec![me, "serve".into(), "--port".into(), port.to_string(), "--banner".into(), format!("vpcctl app in vpc {vpc} subnet {subnet}")])
}

pub fn stop(ctx: &Ctx, req: crate::cli::req::StopApp) -> Result<()> {
    let crate::cli::req::StopApp { at: At { vpc: vpc_name, subnet: subnet_name }, port } = req;
    let store: Store = ctx.open()?;
    let before = store.load()?;
    let s = before.find_host(&vpc_name, &subnet_name)?;
    if let Some(p) = port.filter(|p| !s.apps.iter().any(|a| a.port == *p)) {
        let ports: Vec<String> = s.apps.iter().map(|a| a.port.to_string()).collect();
        return Err(InputError::NotFound(format!(
            "no app on port {p} in {vpc_name}/{subnet_name} (its apps' ports: {})",
            if ports.is_empty() { "none".into() } else { ports.join(", ") }
        ))
        .into());
    }
    let stopped = s.apps.iter().filter(|a| port.is_none_or(|p| p == a.port) && apps::is_ours(a.pid, a.start_time)).count();
    let mut after = before.clone();
    after.host_apps_mut(&vpc_name, &subnet_name)?.retain(|a| port.is_some_and(|p| p != a.port));
    let after = commit(ctx, &store, &before, after)?;
    if ctx.dry_run {
        return Ok(());
    }
    let s = after.find_host(&vpc_name, &subnet_name)?;
    ctx.report(format!("stopped {stopped} app(s) in {vpc_name}/{subnet_name}"), super::show::subnet_json(&s));
    Ok(())
}
