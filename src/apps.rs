//! Processes vpcctl runs in subnets (deploy-app): start them detached,
//! know when they listen, and stop them without ever killing a stranger
//! who inherited a recycled PID.

use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Fields of /proc/PID/stat after the command name: state and start time.
fn stat(pid: u32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); field 22 (starttime) is rest[19].
    Some((fields.first()?.chars().next()?, fields.get(19)?.parse().ok()?))
}

pub fn start_time(pid: u32) -> Option<u64> {
    stat(pid).map(|(_, t)| t)
}

/// The recorded process is still the one we started, and not a zombie.
pub fn is_ours(pid: u32, recorded_start: u64) -> bool {
    matches!(stat(pid), Some((state, t)) if t == recorded_start && state != 'Z' && state != 'X')
}

/// Start `command` inside `netns`, in its own session, output to `log`.
pub fn spawn_in_netns(netns: &str, command: &[String], log: &Path) -> Result<Child> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // 0600, and never through a link planted where the log goes.
    let out = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(log)
        .with_context(|| format!("cannot create log file {}", log.display()))?;
    let err = out.try_clone()?;
    let ip = crate::host::resolve("ip")?;
    let mut cmd = Command::new(ip);
    cmd.args(["netns", "exec", netns]).args(command).stdin(Stdio::null()).stdout(out).stderr(err);
    // SAFETY: setsid is async-signal-safe; it detaches the app from our
    // terminal and makes it a process-group leader we can signal as a group.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().with_context(|| format!("cannot start {:?} in {netns}", command.join(" ")))
}

/// Whether `pid`'s network namespace has a TCP socket listening on `port`.
/// Reads /proc/PID/net/tcp{,6}: no process, no packet.
pub fn listening(pid: u32, port: u16) -> bool {
    let want = format!(":{port:04X}");
    ["tcp", "tcp6"].iter().any(|f| {
        std::fs::read_to_string(format!("/proc/{pid}/net/{f}"))
            .map(|t| {
                t.lines().skip(1).any(|l| {
                    let cols: Vec<&str> = l.split_whitespace().collect();
                    cols.len() > 3 && cols[1].ends_with(&want) && cols[3] == "0A"
                })
            })
            .unwrap_or(false)
    })
}

pub enum Ready {
    Listening,
    Exited(String),
    TimedOut,
}

/// Wait until the app listens on `port`, exits, or `timeout` passes.
pub fn wait_listening(child: &mut Child, port: u16, timeout: Duration) -> Ready {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Ready::Exited(status.to_string());
        }
        if listening(child.id(), port) {
            return Ready::Listening;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ready::TimedOut
}

/// SIGTERM the app's process group, then SIGKILL if it lingers. Does
/// nothing unless the PID still belongs to the process we started.
pub fn stop(pid: u32, recorded_start: u64) -> bool {
    if !is_ours(pid, recorded_start) {
        return false;
    }
    let group = -(pid as i32);
    // SAFETY: plain kill(2) on a process group we created (setsid).
    unsafe { libc::kill(group, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if !is_ours(pid, recorded_start) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if is_ours(pid, recorded_start) {
        // SAFETY: as above.
        unsafe { libc::kill(group, libc::SIGKILL) };
    }
    true
}

/// The last lines of a log, for error messages.
pub fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n  ");
    if tail.is_empty() { "(the log is empty)".into() } else { format!("  {tail}") }
}
