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
    /// A change that destroys something, run where no one can be asked
    /// and without --auto-approve.
    #[error("{0}")]
    NeedsApproval(String),
    /// The user answered anything but "yes".
    #[error("{0}")]
    Cancelled(String),
}

/// A problem in an input file (policy, topology, NACL, expectations), at a
/// path such as `ingress[0].port`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{path}: {message}")]
pub struct PathError {
    pub path: String,
    pub message: String,
}

impl PathError {
    pub fn new(path: &str, message: impl Into<String>) -> Self {
        PathError { path: path.to_string(), message: message.into() }
    }
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
    Cancelled,
}

impl Kind {
    pub fn code(self) -> i32 {
        match self {
            Kind::Cancelled => 1,
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
            Kind::Cancelled => "cancelled",
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
                    InputError::Usage(_) | InputError::NeedsApproval(_) => Kind::Usage,
                    InputError::Cancelled(_) => Kind::Cancelled,
                    _ => Kind::Input,
                };
            }
            if cause.is::<PathError>() {
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
    // The io::Error is printed here, not chained as a source: a chain would
    // print it a second time.
    #[error("cannot use state directory {}: {err} (run as root, or pick another with --state-dir)", path.display())]
    Dir { path: PathBuf, err: std::io::Error },
    #[error("cannot read state file {}: {err}{}", path.display(), read_hint(err))]
    Read { path: PathBuf, err: std::io::Error },
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
    #[error("cannot write state file {}: {err}", path.display())]
    Write { path: PathBuf, err: std::io::Error },
}

/// State is world-readable (read-only commands need no root); a file that
/// is not was written by an older vpcctl, and is fixed by any change.
fn read_hint(err: &std::io::Error) -> &'static str {
    if err.kind() == std::io::ErrorKind::PermissionDenied {
        " (only root can read it; run as root, or let any vpcctl change, such as 'sudo vpcctl repair', make it readable)"
    } else {
        ""
    }
}
