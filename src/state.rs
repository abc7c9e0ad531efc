//! The state store: one JSON document under the state directory.
//!
//! Writers hold an exclusive lock on `state.lock` for the whole command
//! (read, plan, apply, write), so concurrent runs serialise instead of losing
//! updates. They also hold the host lock (`HostLock`): state dirs share the
//! built-in chains and `ip_forward`, so changes from different dirs
//! serialise too. Writes go to a temp file that is fsynced and renamed over
//! `state.json`, so readers never see a torn file and need no lock.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::StateError;
use crate::model::state::{SCHEMA_VERSION, State};

pub const STATE_FILE: &str = "state.json";
const LOCK_FILE: &str = "state.lock";

pub struct Store {
    dir: PathBuf,
    /// Held for the life of the store; the lock is released on drop or exit,
    /// including when the process is killed.
    _lock: Option<File>,
    _host: Option<HostLock>,
}

/// The host-wide lock: `flock` on a root-only file, one per network
/// namespace (what state dirs share: the built-in chains and `ip_forward`;
/// one sandbox does not wait for another). Only root can open the file, so
/// no other user can hold it and stall every change (an abstract socket,
/// as before, could be bound by anyone). The kernel releases it when the
/// process dies, however it dies. A run that gives up names the holder,
/// from /proc/locks.
pub struct HostLock(#[allow(dead_code)] File);

/// Where host locks live: root's, and cleared at boot.
pub const HOST_LOCK_DIR: &str = "/run/vpcctl";
/// How long a changing command waits for the host lock by default.
const HOST_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

impl HostLock {
    pub fn acquire_in(dir: &Path, wait: std::time::Duration) -> Result<HostLock, StateError> {
        use std::os::unix::fs::MetadataExt;
        let dir_err = |err| StateError::Dir { path: dir.to_path_buf(), err };
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(dir_err)?;
        check_dir(dir)?;
        let netns = fs::metadata("/proc/self/ns/net").map_err(dir_err)?.ino();
        let path = dir.join(format!("host-{netns}.lock"));
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(dir_err)?;
        lock_within(&f, &path, wait)?;
        Ok(HostLock(f))
    }
}

fn lock_wait() -> std::time::Duration {
    let secs = std::env::var("VPCCTL_LOCK_TIMEOUT").ok().and_then(|v| v.parse::<u64>().ok());
    secs.map_or(HOST_LOCK_WAIT, std::time::Duration::from_secs)
}

/// Take the exclusive flock on `f` (at `path`), waiting at most `wait`.
fn lock_within(f: &File, path: &Path, wait: std::time::Duration) -> Result<(), StateError> {
    let start = std::time::Instant::now();
    let mut told = false;
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(()),
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(err)) => return Err(StateError::Dir { path: path.to_path_buf(), err }),
        }
        if start.elapsed() >= wait {
            return Err(StateError::Busy { holder: holder(path), path: path.to_path_buf(), waited: wait.as_secs() });
        }
        if !told && start.elapsed() > std::time::Duration::from_secs(2) {
            errln!("vpcctl: waiting for another vpcctl run to finish ({})", holder(path));
            told = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// "pid N: its command line" of whoever holds the flock on `path`, from
/// /proc/locks (fields: id, FLOCK, ADVISORY, WRITE, pid, maj:min:inode, ...).
fn holder(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(ino) = fs::metadata(path).map(|m| m.ino()) else { return "holder unknown".into() };
    let locks = fs::read_to_string("/proc/locks").unwrap_or_default();
    let pid = locks.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let on_ours = f.get(5).and_then(|d| d.rsplit(':').next()).and_then(|i| i.parse::<u64>().ok()) == Some(ino);
        (f.get(1) == Some(&"FLOCK") && on_ours).then(|| f.get(4).map(|p| p.to_string())).flatten()
    });
    let Some(pid) = pid else { return "holder unknown".into() };
    let cmd = crate::helpers::apps::cmdline(&pid);
    format!("pid {pid}: {}", if cmd.is_empty() { "not visible from here".into() } else { cmd.join(" ") })
}

impl Store {
    /// Open for a command that changes state: creates the directory and
    /// takes the exclusive lock (waiting for other runs to finish).
    pub fn open_locked(dir: &Path) -> Result<Store, StateError> {
        Self::open_locked_with(dir, Path::new(HOST_LOCK_DIR))
    }

    /// `open_locked` with the host lock in `lock_dir` (tests: not the
    /// machine's /run).
    pub fn open_locked_with(dir: &Path, lock_dir: &Path) -> Result<Store, StateError> {
        let dir_err = |err| StateError::Dir { path: dir.to_path_buf(), err };
        // Readable by all: list, inspect, plan, export and graph need no
        // root. Secrets never go in state; they get files of their own, 0600.
        fs::DirBuilder::new().recursive(true).mode(0o755).create(dir).map_err(dir_err)?;
        let lock = OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(dir.join(LOCK_FILE)).map_err(dir_err)?;
        lock_within(&lock, &dir.join(LOCK_FILE), lock_wait())?;
        check_dir(dir)?;
        // Always after the dir's lock, so two runs cannot wait on each other.
        let host = HostLock::acquire_in(lock_dir, lock_wait())?;
        Ok(Store { dir: dir.to_path_buf(), _lock: Some(lock), _host: Some(host) })
    }

    /// Open for reading only (list, inspect, dry runs): no lock, no directory
    /// created. Safe because writers replace the file atomically.
    pub fn open_readonly(dir: &Path) -> Store {
        Store { dir: dir.to_path_buf(), _lock: None, _host: None }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    pub fn load(&self) -> Result<State, StateError> {
        let path = self.path();
        let text = match read_nofollow(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(self.fresh(State::default())),
            Err(e) if e.kind() == ErrorKind::InvalidData => {
                return Err(StateError::Corrupt { path, reason: "it is not UTF-8 text".into() });
            }
            Err(err) => return Err(StateError::Read { path, err }),
        };
        check_dir(&self.dir)?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| StateError::Corrupt { path: path.clone(), reason: e.to_string() })?;
        let found = value.get("schema_version").and_then(|v| v.as_u64());
        match found {
            Some(v) if v == u64::from(SCHEMA_VERSION) => {}
            Some(v) => {
                return Err(StateError::Version { path, found: v as u32, supported: SCHEMA_VERSION });
            }
            None => return Err(StateError::Corrupt { path, reason: "no schema_version".into() }),
        }
        let state: State = serde_json::from_value(value).map_err(|e| StateError::Corrupt { path: path.clone(), reason: e.to_string() })?;
        state.check().map_err(|(field, value, why)| StateError::Tampered { path, field, value, why })?;
        Ok(self.fresh(state))
    }

    /// While no VPC exists, the chain names follow the dir; once one does,
    /// they are what was recorded (a dir reached by another path, or
    /// moved, still removes the chains it made).
    fn fresh(&self, mut state: State) -> State {
        if state.vpcs.is_empty() {
            state.host.chain_suffix = crate::model::kernel_names::chain_suffix(&self.dir);
        }
        state
    }

    pub fn save(&self, state: &State) -> Result<(), StateError> {
        assert!(self._lock.is_some(), "save() needs a store opened with open_locked()");
        let path = self.path();
        let werr = |err| StateError::Write { path: path.clone(), err };
        let tmp = self.dir.join(format!(".{STATE_FILE}.{}.tmp", std::process::id()));
        let mut body = serde_json::to_vec_pretty(state).expect("state serialises");
        body.push(b'\n');
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .map_err(werr)?;
        f.set_permissions(fs::Permissions::from_mode(0o644)).map_err(werr)?;
        f.write_all(&body).map_err(werr)?;
        f.sync_all().map_err(werr)?;
        drop(f);
        fs::rename(&tmp, &path).map_err(werr)?;
        // Make the rename itself durable.
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(werr)?;
        Ok(())
    }
}

/// Read a file that must not be a symlink (O_NOFOLLOW): a link planted in
/// the state dir would make vpcctl read, or write, somewhere else.
fn read_nofollow(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(path)?;
    let mut text = String::new();
    f.read_to_string(&mut text)?;
    Ok(text)
}

/// The state dir decides what vpcctl runs as root, so only root (or the
/// user running vpcctl) may own it and nobody else may write it.
fn check_dir(dir: &Path) -> Result<(), StateError> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = fs::symlink_metadata(dir) else { return Ok(()) };
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let unsafe_dir = |why: String| Err(StateError::Unsafe { path: dir.to_path_buf(), why });
    if meta.file_type().is_symlink() {
        return unsafe_dir("a symbolic link".into());
    }
    if meta.uid() != 0 && meta.uid() != me {
        return unsafe_dir(format!("owned by uid {}, not root", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return unsafe_dir(format!("writable by its group or by everyone (mode {:o})", meta.mode() & 0o777));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vpcctl-state-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn missing_file_is_empty_state_and_roundtrips() {
        let dir = tempdir("rt");
        let store = Store::open_locked_with(&dir, &dir.join("locks")).unwrap();
        let mut st = store.load().unwrap();
        assert!(st.vpcs.is_empty());
        st.host.ip_forward_before = Some("0".into());
        store.save(&st).unwrap();
        assert_eq!(store.load().unwrap(), st);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_host_lock_is_held_until_dropped_and_a_waiter_names_the_holder() {
        let dir = tempdir("hostlock");
        let wait = std::time::Duration::from_secs(5);
        let held = HostLock::acquire_in(&dir, wait).unwrap();
        let err = HostLock::acquire_in(&dir, std::time::Duration::from_millis(50)).err().expect("a second holder got in");
        let msg = err.to_string();
        assert!(msg.contains(&format!("pid {}:", std::process::id())) && msg.contains("VPCCTL_LOCK_TIMEOUT"), "{msg}");
        let (tx, rx) = std::sync::mpsc::channel();
        let d = dir.clone();
        let waiter = std::thread::spawn(move || {
            let _second = HostLock::acquire_in(&d, wait).unwrap();
            tx.send(()).unwrap();
        });
        assert!(rx.recv_timeout(std::time::Duration::from_millis(200)).is_err(), "a second holder got in");
        drop(held);
        rx.recv_timeout(std::time::Duration::from_secs(5)).expect("released on drop");
        waiter.join().unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_file_is_reported_and_left_alone() {
        let dir = tempdir("corrupt");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(STATE_FILE), "{ not json").unwrap();
        let store = Store::open_locked_with(&dir, &dir.join("locks")).unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("state.json") && err.contains("left untouched"), "{err}");
        assert_eq!(fs::read_to_string(dir.join(STATE_FILE)).unwrap(), "{ not json");
        fs::write(dir.join(STATE_FILE), r#"{"schema_version": 99}"#).unwrap();
        assert!(store.load().unwrap_err().to_string().contains("schema version 99"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
