//! Which host of a multi-host file this is (`--host`, or the one whose
//! underlay address is here), what its overlay looks like, and
//! `vpcctl host-key`.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::Ctx;
use crate::error::InputError;
use crate::kernel::host;
use crate::model::State;
use crate::model::fabric::{self, Fabric, FabricHost, WIREGUARD_PORT, Wireguard};
use crate::model::topology::Topology;

/// The private key's file in the state dir; the public key sits beside it.
pub fn key_path(ctx: &Ctx) -> PathBuf {
    ctx.state_dir.join("wireguard.key")
}

fn public_key_path(ctx: &Ctx) -> PathBuf {
    ctx.state_dir.join("wireguard.pub")
}

/// This host's overlay, for a file with hosts (`None` for one without).
pub fn resolve(ctx: &Ctx, current: &State, topo: &Topology, asked: Option<&str>) -> Result<Option<Fabric>> {
    if topo.hosts.is_empty() {
        if let Some(h) = asked {
            return Err(
                InputError::Invalid(format!("--host {h}: the file has no \"hosts\", so it is for this host alone; drop --host")).into()
            );
        }
        return Ok(None);
    }
    let local = host::local_addresses();
    let device_of = |h: &FabricHost| local.iter().find(|(_, a)| *a == h.underlay).map(|(d, _)| d.clone());
    let names = || topo.hosts.iter().map(|h| h.name.as_str()).collect::<Vec<_>>().join(", ");
    let me = match asked {
        Some(n) => topo
            .hosts
            .iter()
            .find(|h| h.name.as_str() == n)
            .ok_or_else(|| InputError::Invalid(format!("--host {n}: the file has no such host (hosts: {})", names())))?,
        None => {
            let here: Vec<&FabricHost> = topo.hosts.iter().filter(|h| device_of(h).is_some()).collect();
            match here.as_slice() {
                [one] => *one,
                [] => {
                    return Err(InputError::Invalid(format!(
                        "none of the file's hosts ({}) has its underlay address on this machine; say which host this is with --host NAME",
                        names()
                    ))
                    .into());
                }
                _ => {
                    return Err(InputError::Invalid(format!(
                        "several of the file's hosts have their underlay address here ({}); say which with --host NAME",
                        here.iter().map(|h| h.name.as_str()).collect::<Vec<_>>().join(", ")
                    ))
                    .into());
                }
            }
        }
    };
    let underlay_interface = device_of(me).ok_or_else(|| {
        InputError::Invalid(format!(
            "host '{}': its underlay address {} is on no interface here; is this that host? (hosts.{}.underlay in the file)",
            me.name, me.underlay, me.name
        ))
    })?;
    let underlay_mtu = host::mtu(&underlay_interface).with_context(|| format!("cannot read the MTU of {underlay_interface}"))?;
    let wireguard = if topo.wireguard { Some(wireguard(ctx, current, me)?) } else { None };
    Ok(Some(Fabric {
        host: me.name.clone(),
        hosts: topo.hosts.clone(),
        port: topo.vxlan_port,
        mtu: fabric::overlay_mtu(underlay_mtu, topo.wireguard),
        underlay_interface,
        wireguard,
    }))
}

/// WireGuard on this host: the kernel's, else `wireguard-go`; never
/// plaintext in its place. The file's key for this host must be ours.
fn wireguard(ctx: &Ctx, current: &State, me: &FabricHost) -> Result<Wireguard> {
    let mine = std::fs::read_to_string(public_key_path(ctx)).map(|k| k.trim().to_string()).map_err(|_| {
        InputError::Invalid(format!(
            "\"encryption\": \"wireguard\", but this host ('{}') has no WireGuard key in {}: run 'vpcctl host-key' and put the key it prints in hosts.{}.wireguard_public_key",
            me.name,
            ctx.state_dir.display(),
            me.name
        ))
    })?;
    if me.wireguard_public_key.as_deref() != Some(mine.as_str()) {
        return Err(InputError::Invalid(format!(
            "hosts.{}.wireguard_public_key is not this host's key ({mine}); put that one in the file (see 'vpcctl host-key')",
            me.name
        ))
        .into());
    }
    host::resolve("wg")?;
    let userspace = !host::kernel_has_wireguard();
    if userspace && which::which("wireguard-go").is_err() {
        return Err(InputError::Invalid(
            "\"encryption\": \"wireguard\": this kernel has no WireGuard and wireguard-go is not installed (apt-get install -y wireguard-go wireguard-tools); vpcctl never falls back to an unencrypted overlay, so nothing was changed".into(),
        )
        .into());
    }
    let interface = fabric::wireguard_interface(me.name.as_str());
    let process = current
        .fabric
        .as_ref()
        .and_then(|f| f.wireguard.as_ref())
        .filter(|w| w.interface == interface && w.userspace == userspace)
        .map(|w| w.process.clone())
        .unwrap_or_default();
    Ok(Wireguard { interface, port: WIREGUARD_PORT, userspace, key_file: key_path(ctx), process })
}

/// `vpcctl host-key`: make this host's WireGuard key pair once (0600),
/// and print the public key for the file's `wireguard_public_key`.
pub fn host_key(ctx: &Ctx) -> Result<()> {
    let (private, public) = (key_path(ctx), public_key_path(ctx));
    if ctx.dry_run && !public.exists() {
        outln!("# would create {} (0600) with 'wg genkey', and {} with 'wg pubkey'", private.display(), public.display());
        return Ok(());
    }
    if !private.exists() {
        let wg = host::resolve("wg")?;
        std::fs::create_dir_all(&ctx.state_dir).with_context(|| format!("cannot create {}", ctx.state_dir.display()))?;
        let out = std::process::Command::new(&wg).arg("genkey").output().context("cannot run 'wg genkey'")?;
        anyhow::ensure!(out.status.success(), "'wg genkey' failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        write_private(&private, &out.stdout)?;
    }
    if !public.exists() {
        let wg = host::resolve("wg")?;
        let mut child = std::process::Command::new(&wg)
            .arg("pubkey")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .context("cannot run 'wg pubkey'")?;
        std::io::Write::write_all(&mut child.stdin.take().expect("piped"), &std::fs::read(&private)?)?;
        let out = child.wait_with_output()?;
        anyhow::ensure!(out.status.success(), "'wg pubkey' failed");
        std::fs::write(&public, &out.stdout).with_context(|| format!("cannot write {}", public.display()))?;
    }
    let key = std::fs::read_to_string(&public)?.trim().to_string();
    if ctx.json {
        ctx.doc(&serde_json::json!({"wireguard_public_key": key, "private_key_file": private}))?;
    } else {
        outln!("{key}");
    }
    Ok(())
}

fn write_private(path: &std::path::Path, key: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    std::io::Write::write_all(&mut f, key)?;
    Ok(())
}
