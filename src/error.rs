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
    #[error("cannot write state file {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}
