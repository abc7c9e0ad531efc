//! deploy-app, stop-app.

use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use super::Ctx;
use crate::apps::{self, Ready};
use crate::error::InputError;
use crate::model::{validate, App, Name, Subnet};
use crate::state::{State, Store};

pub fn deploy(ctx: &Ctx, vpc: &str, subnet: &str, port: u16, command: Vec<String>) -> Result<()> {
    let vpc_name = Name::parse("VPC name", vpc)?;
    let subnet_name = Name::parse("subnet name", subnet)?;
    if port == 0 {
        return Err(InputError::Invalid("port 0 is not a port; use 1-65535".into()).into());
    }
    let store = ctx.open()?;
    let mut state = store.load()?;
    let v = validate::find_vpc(&state, vpc_name.as_str())?;
    let s = validate::find_subnet(v, subnet_name.as_str())?;
    if let Some(a) = s.apps.iter().find(|a| a.port == port && apps::is_ours(a.pid, a.start_time)) {
        return Err(InputError::Conflict(format!(
            "port {port} in {vpc_name}/{subnet_name} is already used by app pid {} ({}); stop it first: vpcctl stop-app {vpc_name} {subnet_name} --port {port}",
            a.pid,
            a.command.join(" ")
        ))
        .into());
    }
    let command = if command.is_empty() { default_app(&vpc_name, &subnet_name, port)? } else { command };
    let log = ctx.state_dir.join("apps").join(vpc_name.as_str()).join(format!("{subnet_name}-{port}.log"));
    let namespace = s.namespace.clone();
    if ctx.dry_run {
        println!("ip netns exec {namespace} setsid {} > {} 2>&1 &", shell_words(&command), log.display());
        return Ok(());
    }
    let mut child = apps::spawn_in_netns(&namespace, &command, &log)?;
    let pid = child.id();
    let app = App { port, pid, start_time: apps::start_time(pid).unwrap_or(0), command: command.clone(), log: log.clone() };
    // Record before waiting, so a run killed now still knows what to stop.
    with_subnet(&mut state, &vpc_name, &subnet_name, |s| {
        s.apps.retain(|a| a.port != port);
        s.apps.push(app.clone());
    });
    store.save(&state)?;
    match apps::wait_listening(&mut child, port, Duration::from_secs(10)) {
        Ready::Listening => {}
        failed => {
            apps::stop(pid, app.start_time);
            with_subnet(&mut state, &vpc_name, &subnet_name, |s| s.apps.retain(|a| a.pid != pid));
            store.save(&state)?;
            let why = match failed {
                Ready::Exited(status) => format!("it exited ({status})"),
                _ => format!("it did not listen on port {port} within 10 s and was stopped"),
            };
            anyhow::bail!("app {:?} in {vpc_name}/{subnet_name} failed: {why}. Log {}:\n{}", command.join(" "), log.display(), apps::log_tail(&log, 5));
        }
    }
    let ip = state.vpc(vpc_name.as_str()).and_then(|v| v.subnet(subnet_name.as_str())).map(|s| s.ip);
    ctx.report(
        format!("app listening on {}:{port} in {vpc_name}/{subnet_name} (pid {pid}, log {})", ip.map(|i| i.to_string()).unwrap_or_default(), log.display()),
        json!({"vpc": vpc_name, "subnet": subnet_name, "port": port, "pid": pid, "log": log, "status": "running"}),
    );
    Ok(())
}

fn default_app(vpc: &Name, subnet: &Name, port: u16) -> Result<Vec<String>> {
    let me = std::env::current_exe()?.to_string_lossy().into_owned();
    Ok(vec![me, "serve".into(), "--port".into(), port.to_string(), "--banner".into(), format!("vpcctl app in vpc {vpc} subnet {subnet}")])
}

pub fn shell_words(words: &[String]) -> String {
    words.iter().map(|w| format!("'{}'", w.replace('\'', r"'\''"))).collect::<Vec<_>>().join(" ")
}

fn with_subnet(state: &mut State, vpc: &Name, subnet: &Name, f: impl FnOnce(&mut Subnet)) {
    if let Some(s) = state.vpc_mut(vpc.as_str()).and_then(|v| v.subnets.iter_mut().find(|s| &s.name == subnet)) {
        f(s);
    }
}

/// Stop the apps of a subnet (all, or the one on `port`). Returns how many
/// were running. Used by stop-app and before any subnet is deleted.
pub fn stop_apps(ctx: &Ctx, s: &Subnet, port: Option<u16>) -> usize {
    let mut stopped = 0;
    for a in s.apps.iter().filter(|a| port.is_none_or(|p| p == a.port)) {
        if ctx.dry_run {
            println!("kill -TERM -- -{}", a.pid);
            continue;
        }
        if apps::stop(a.pid, a.start_time) {
            stopped += 1;
        }
    }
    stopped
}

pub fn stop(ctx: &Ctx, vpc: &str, subnet: &str, port: Option<u16>) -> Result<()> {
    let vpc_name = Name::parse("VPC name", vpc)?;
    let subnet_name = Name::parse("subnet name", subnet)?;
    let store: Store = ctx.open()?;
    let mut state = store.load()?;
    let v = validate::find_vpc(&state, vpc_name.as_str())?;
    let s = validate::find_subnet(v, subnet_name.as_str())?;
    if let Some(p) = port.filter(|p| !s.apps.iter().any(|a| a.port == *p)) {
        let ports: Vec<String> = s.apps.iter().map(|a| a.port.to_string()).collect();
        return Err(InputError::NotFound(format!(
            "no app on port {p} in {vpc_name}/{subnet_name} (its apps' ports: {})",
            if ports.is_empty() { "none".into() } else { ports.join(", ") }
        ))
        .into());
    }
    let stopped = stop_apps(ctx, s, port);
    if ctx.dry_run {
        return Ok(());
    }
    with_subnet(&mut state, &vpc_name, &subnet_name, |s| s.apps.retain(|a| port.is_some_and(|p| p != a.port)));
    store.save(&state)?;
    ctx.report(
        format!("stopped {stopped} app(s) in {vpc_name}/{subnet_name}"),
        json!({"vpc": vpc_name, "subnet": subnet_name, "stopped": stopped}),
    );
    Ok(())
}
