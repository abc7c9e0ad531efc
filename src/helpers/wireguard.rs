//! `wireguard-go`, where the kernel has no WireGuard: a helper process
//! like the resolvers, started before the plan configures its interface,
//! recorded, and stopped by its PID once the interface goes.

use std::time::Duration;

use anyhow::{Result, anyhow};

use super::apps;
use crate::engine::Ctx;
use crate::model::State;
use crate::model::services::Helper;

/// Where wireguard-go puts its control socket (what `wg` talks to).
fn socket(interface: &str) -> std::path::PathBuf {
    std::path::Path::new("/var/run/wireguard").join(format!("{interface}.sock"))
}

/// Start `after`'s wireguard-go unless the recorded one still runs, and
/// record it. Returns the process started, if one was.
pub fn start(ctx: &Ctx, after: &mut State) -> Result<Option<Helper>> {
    let Some(w) = after.fabric.as_mut().and_then(|f| f.wireguard.as_mut()).filter(|w| w.userspace) else { return Ok(None) };
    if w.process.pid != 0 && apps::helper_running(&w.process) {
        return Ok(None);
    }
    // One recorded before for another interface is stopped after the plan
    // (`stop_replaced`).
    let program = which::which("wireguard-go")
        .map_err(|_| anyhow!("cannot find wireguard-go (apt-get install -y wireguard-go); the overlay is never sent unencrypted"))?;
    let log = ctx.state_dir.join("wireguard-go.log");
    let _ = std::fs::remove_file(socket(&w.interface));
    let mut child = apps::spawn_helper(&program, &["-f".to_string(), w.interface.clone()], &log)?;
    let helper = Helper { pid: child.id(), start_time: apps::start_time(child.id()).unwrap_or(0) };
    let sock = socket(&w.interface);
    match apps::wait_for(&mut child, Duration::from_secs(5), Duration::from_millis(5), || sock.exists()) {
        apps::Ready::Serving => {}
        apps::Ready::Exited(status) => {
            return Err(anyhow!("wireguard-go for {} exited ({status}). Log {}:\n{}", w.interface, log.display(), apps::log_tail(&log, 5)));
        }
        apps::Ready::TimedOut => {
            apps::stop(helper.pid, helper.start_time);
            return Err(anyhow!("wireguard-go for {} was not ready within 5 s and was stopped. Log {}", w.interface, log.display()));
        }
    }
    w.process = helper.clone();
    Ok(Some(helper))
}

/// Stop `before`'s wireguard-go if `after` runs another or none.
pub fn stop_replaced(before: &State, after: &State) {
    let Some(old) = before.fabric.as_ref().and_then(|f| f.wireguard.as_ref()).filter(|w| w.userspace && w.process.pid != 0) else {
        return;
    };
    let kept = after.fabric.as_ref().and_then(|f| f.wireguard.as_ref()).is_some_and(|w| w.process == old.process);
    if !kept {
        apps::stop(old.process.pid, old.process.start_time);
    }
}
