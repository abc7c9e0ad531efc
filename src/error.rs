//! Error types. Every message names the bad value and, where there is one,
//! what to do about it.

use std::path::PathBuf;

use thiserror::Error;

/// Something the user asked for that cannot be done as asked. Raised before
/// anything is changed.
#[derive(Debug, Error)]
pub enum InputError {
    #[error("invalid {what} {value:?}: {why} (use lowercase letters, digits and '-', e.g. 'vpc1')")]
    BadName { what: &'static str, value: String, why: String },
    #[error("invalid {what} {value:?}: {why}")]
    BadCidr { what: &'static str, value: String, why: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// The command line itself: a missing or extra argument.
    #[error("{0}")]
    Usage(String),
}

/// vpcctl changes the kernel, which takes root.
#[derive(Debug, Error)]
#[error("{0}")]
pub struct NeedsRoot(pub String);

/// What kind of failure ended a command: it decides the exit code and the
/// "kind" of a `--json` error. Exit codes follow grep and ripgrep: 0 yes
/// (or done), 1 no (unreachable, drift, unmet expectations), 2 the input
/// was wrong, 3 the system failed (a tool, the state file, I/O), 4 not root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Usage,
    Input,
    NotFound,
    Conflict,
    Permission,
    System,
}

impl Kind {
    pub fn code(self) -> i32 {
        match self {
            Kind::Usage | Kind::Input | Kind::NotFound | Kind::Conflict => 2,
            Kind::System => 3,
            Kind::Permission => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Usage => "usage",
            Kind::Input => "input",
            Kind::NotFound => "not_found",
            Kind::Conflict => "conflict",
            Kind::Permission => "permission",
            Kind::System => "system",
        }
    }

    /// The kind of the first typed error in the chain; anything untyped is
    /// a system failure.
    pub fn of(err: &anyhow::Error) -> Kind {
        for cause in err.chain() {
            if let Some(e) = cause.downcast_ref::<InputError>() {
                return match e {
                    InputError::NotFound(_) => Kind::NotFound,
                    InputError::Conflict(_) => Kind::Conflict,
                    InputError::Usage(_) => Kind::Usage,
                    _ => Kind::Input,
                };
            }
            if cause.is::<crate::model::policy::PathError>() {
                return Kind::Input;
            }
            if cause.is::<NeedsRoot>() {
                return Kind::Permission;
            }
        }
        Kind::System
    }
}

#[derive(Debug, Error)]
pub enum StateError {
    #[error("cannot use state directory {}: {source} (run as root, or pick another with --state-dir)", path.display())]
    Dir { path: PathBuf, source: std::io::Error },
    #[error("cannot read state file {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "state file {p} is not valid vpcctl state ({reason}); it was left untouched. \
         Move it aside (e.g. mv {p} {p}.bad) and run 'vpcctl doctor' to find resources it described",
        p = path.display()
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("state file {} has schema version {found}, this vpcctl understands {supported}; use a matching vpcctl", path.display())]
    Version { path: PathBuf, found: u32, supported: u32 },
    #[error(
        "state file {p}: {field} is {value:?}, which vpcctl never writes ({why}); nothing was run. \
         Restore the file if it was edited, or move it aside and run 'vpcctl doctor'",
        p = path.display()
    )]
    Tampered { path: PathBuf, field: String, value: String, why: &'static str },
    #[error(
        "state directory {} is {why}, so anyone could rewrite what vpcctl runs as root; \
         fix it (chown root: {p}; chmod go-w {p}) or pick another with --state-dir",
        path.display(),
        p = path.display()
    )]
    Unsafe { path: PathBuf, why: String },
    #[error(
        "another vpcctl run has held the lock {} for {waited} s ({holder}); wait for it to finish, \
         end it by its PID if it is stuck, or wait longer with VPCCTL_LOCK_TIMEOUT=SECONDS",
        path.display()
    )]
    Busy { path: PathBuf, holder: String, waited: u64 },
    #[error("cannot write state file {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}
