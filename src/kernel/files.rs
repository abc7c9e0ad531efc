//! Files and directories of ours, with the modes we mean whatever the
//! umask, and never through a link planted where one of them goes: vpcctl
//! runs as root, so a symlink in a directory another user could reach
//! would turn one of our writes into theirs.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// A directory with exactly `mode`, made (with its parents, private) if
/// missing. A symlink or anything but a directory in its place is an error.
pub fn dir(path: &Path, mode: u32) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path)?;
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.file_type().is_dir() {
        return Err(std::io::Error::other(format!("{} is not a directory (a link?)", path.display())));
    }
    if meta.mode() & 0o7777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// A directory that exists: made private if missing, left as it is
/// otherwise (its owner decided its mode), but never a link.
pub fn ensure_dir(path: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path)?;
    if !std::fs::symlink_metadata(path)?.file_type().is_dir() {
        return Err(std::io::Error::other(format!("{} is not a directory (a link?)", path.display())));
    }
    Ok(())
}

/// Open `path` to write it from the start, with exactly `mode`.
pub fn create(path: &Path, mode: u32) -> std::io::Result<File> {
    let f = OpenOptions::new().write(true).create(true).truncate(true).mode(mode).custom_flags(libc::O_NOFOLLOW).open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    Ok(f)
}

/// Open `path` to append to it, with exactly `mode`.
pub fn append(path: &Path, mode: u32) -> std::io::Result<File> {
    let f = OpenOptions::new().append(true).create(true).mode(mode).custom_flags(libc::O_NOFOLLOW).open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    Ok(f)
}

/// Write `text` whole: into a dot-file beside `path` (which a program
/// watching the directory ignores), then renamed over it.
pub fn write_atomic(path: &Path, text: &[u8], mode: u32, group: Option<libc::gid_t>) -> std::io::Result<()> {
    let dir = path.parent().ok_or_else(|| std::io::Error::other("a file path without a directory"))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.vpcctl-tmp"));
    let mut f = create(&tmp, mode)?;
    if let Some(gid) = group {
        std::os::unix::fs::fchown(&f, None, Some(gid))?;
    }
    f.write_all(text)?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_exact_and_links_are_refused() {
        let d = std::env::temp_dir().join(format!("vpcctl-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        dir(&d.join("a"), 0o700).unwrap();
        write_atomic(&d.join("a/f"), b"x", 0o640, None).unwrap();
        let f = append(&d.join("a/log"), 0o600).unwrap();
        drop(f);
        let mode = |p: &str| std::fs::symlink_metadata(d.join(p)).unwrap().mode() & 0o7777;
        assert_eq!((mode("a"), mode("a/f"), mode("a/log")), (0o700, 0o640, 0o600));
        std::os::unix::fs::symlink("/etc/hostname", d.join("a/link")).unwrap();
        assert!(create(&d.join("a/link"), 0o600).is_err(), "wrote through a link");
        assert!(append(&d.join("a/link"), 0o600).is_err(), "appended through a link");
        std::os::unix::fs::symlink(d.join("a"), d.join("b")).unwrap();
        assert!(dir(&d.join("b"), 0o700).is_err(), "a link taken for a directory");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
