//! A VPC's resolver process: dnsmasq in the host namespace, listening on
//! the VPC bridge's addresses (each subnet's gateway), as `nobody`.
//!
//! Why dnsmasq, and why in the host namespace: it is a real, well-kept DNS
//! server; it watches its hosts directory (names change without a
//! restart); it binds each new gateway address as subnets come
//! (`--bind-dynamic`); and from the host namespace it reaches the host's
//! own upstreams, even a stub on 127.0.0.53, which a namespace cannot.
//! Names under `.internal` are answered from the hosts file only; all
//! others go to the servers in /etc/resolv.conf, which dnsmasq re-reads
//! when it changes.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};

use crate::helpers::apps;
use crate::model::Vpc;
use crate::model::services::{Helper, Resolver};

/// Who the resolver runs as once it has bound its sockets.
pub fn user() -> &'static str {
    apps::helper_user(apps::DNS_USER)
}

/// dnsmasq's arguments: nothing from /etc/dnsmasq.conf, no DHCP, no
/// /etc/hosts, no pid file, logs to stderr (our log file).
pub fn args(vpc: &Vpc, r: &Resolver, group: &str) -> Vec<String> {
    let upstream = if r.options.upstream { "--resolv-file=/etc/resolv.conf" } else { "--no-resolv" };
    let mut args: Vec<String> = [
        "--keep-in-foreground".to_string(),
        "--conf-file=/dev/null".into(),
        "--no-hosts".into(),
        format!("--hostsdir={}", r.hosts_dir.display()),
        "--except-interface=lo".into(),
        "--local=/internal/".into(),
        "--domain-needed".into(),
        "--bogus-priv".into(),
        upstream.into(),
        "--pid-file=".into(),
        format!("--user={}", user()),
        format!("--group={group}"),
        "--log-facility=-".into(),
    ]
    .into();
    match r.address {
        // One address, bound once: no address change on the host (another
        // VPC's subnets, say) wakes it, so a change costs the same however
        // many VPCs there are.
        Some(a) => args.extend(["--bind-interfaces".into(), format!("--listen-address={a}")]),
        // A record from before: every address of its bridge, followed.
        None => args.extend([format!("--interface={}", vpc.bridge), "--bind-dynamic".into()]),
    }
    if r.options.stop_rebind {
        // Private-range answers from upstream are dropped; .internal is ours.
        args.extend(["--stop-dns-rebind".into(), "--rebind-domain-ok=/internal/".into()]);
    }
    args
}

/// dnsmasq, or the error a missing tool gets (exit code 3, with the
/// package to install and the `--no-dns` way out).
pub fn program() -> Result<PathBuf> {
    Ok(crate::kernel::host::resolve("dnsmasq")?)
}

/// The name of a user's primary group (`nogroup` for `nobody` on Debian).
pub fn group_of(user: &str) -> Result<String> {
    let (_, gid) = apps::lookup_user(user)?;
    // SAFETY: getgrgid; the result is read at once.
    let gr = unsafe { libc::getgrgid(gid) };
    if gr.is_null() {
        return Err(anyhow!("user {user}'s group {gid} has no name (see 'getent group {gid}')"));
    }
    // SAFETY: non-null result of getgrgid, with a NUL-terminated name.
    Ok(unsafe { std::ffi::CStr::from_ptr((*gr).gr_name) }.to_string_lossy().into_owned())
}

/// A VPC's hosts directory, readable by the resolver's group alone (0750,
/// root:group; see `plan::Readers`). Returns that group, for the files.
pub fn own_hosts_dir(dir: &std::path::Path) -> std::io::Result<libc::gid_t> {
    let (_, gid) = apps::lookup_user(user()).map_err(|e| std::io::Error::other(e.to_string()))?;
    crate::kernel::files::dir(dir, 0o750)?;
    std::os::unix::fs::chown(dir, Some(0), Some(gid))?;
    Ok(gid)
}

/// The resolver's user must reach the hosts file, and only it: the state
/// dir (0700 when vpcctl made it) and `dns/` get search permission for
/// others, which lists nothing; the VPC's hosts directory is its group's.
fn open_path_to(r: &Resolver) -> Result<()> {
    let dns_dir = r.hosts_dir.parent().ok_or_else(|| anyhow!("resolver directory without a parent"))?;
    crate::kernel::files::dir(dns_dir, 0o711).with_context(|| format!("cannot create {}", dns_dir.display()))?;
    own_hosts_dir(&r.hosts_dir).with_context(|| format!("cannot create {}", r.hosts_dir.display()))?;
    if let Some(state_dir) = dns_dir.parent() {
        let mode = std::fs::metadata(state_dir)?.permissions().mode();
        if mode & 0o001 == 0 {
            std::fs::set_permissions(state_dir, std::fs::Permissions::from_mode((mode & 0o7777) | 0o001))?;
        }
    }
    Ok(())
}

/// Start the resolver of `vpc`; `wait_ready` tells when it serves.
pub fn spawn(vpc: &Vpc, r: &Resolver) -> Result<(std::process::Child, Helper)> {
    let program = program()?;
    open_path_to(r)?;
    let args = args(vpc, r, &group_of(user())?);
    let child = apps::spawn_helper(&program, &args, &r.log)?;
    let helper = Helper { pid: child.id(), start_time: apps::start_time(child.id()).unwrap_or(0) };
    Ok((child, helper))
}

/// Wait until the resolver serves: dnsmasq binds its sockets (every
/// gateway address the VPC has) and only then drops to `nobody`, so the
/// switch of user is the sign it is ready. One that does not get there is
/// stopped.
pub fn wait_ready(child: &mut std::process::Child, helper: &Helper, vpc: &Vpc, r: &Resolver) -> Result<()> {
    let (dropped_to, _) = apps::lookup_user(user())?;
    match apps::wait_for(child, Duration::from_secs(5), Duration::from_millis(2), || apps::uid_of(helper.pid) == Some(dropped_to)) {
        apps::Ready::Serving => Ok(()),
        apps::Ready::Exited(status) => Err(anyhow!(
            "the resolver of VPC '{}' (dnsmasq) exited ({status}). Log {}:\n{}",
            vpc.name,
            r.log.display(),
            apps::log_tail(&r.log, 5)
        )),
        apps::Ready::TimedOut => {
            apps::stop(helper.pid, helper.start_time);
            Err(anyhow!(
                "the resolver of VPC '{}' (dnsmasq) was not ready within 5 s and was stopped. Log {}:\n{}",
                vpc.name,
                r.log.display(),
                apps::log_tail(&r.log, 5)
            ))
        }
    }
}

/// The command a dry run prints for starting it.
pub fn script(vpc: &Vpc, r: &Resolver) -> String {
    let group = group_of(user()).unwrap_or_else(|_| "nogroup".into());
    format!("setsid dnsmasq {} > {} 2>&1 &", args(vpc, r, &group).join(" "), r.log.display())
}
