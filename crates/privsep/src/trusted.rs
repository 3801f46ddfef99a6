//! Directories this process keeps its own secrets in, and subdirectories it hands to an account:
//! `quickstart --dir` holds the demo CA's keys (root's) and the cluster's data directory (the
//! cluster owner's).
//!
//! Owns: accepting such a directory only when no other account can swap it or what is in it — every
//! directory from `/` down belongs to root or to this process's account and no one else may write
//! it, except a sticky root-owned one such as `/tmp` (others cannot rename what they do not own
//! there) — and creating a subdirectory for an account by descriptor (never following a link,
//! never taking over a directory someone else already owns). Must not: write files.

use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, CWD, Mode, OFlags};
use rustix::io::Errno;

use crate::account::Account;
use crate::error::{Error, Result};
use crate::meta::{FileKind, Meta};

const STICKY: u32 = 0o1000;

/// Whether `meta` (of `path`) is a directory only root or this process's account controls.
fn check_trusted(meta: &Meta, path: &Path, sticky_ok: bool) -> Result<()> {
    let me = rustix::process::geteuid().as_raw();
    if meta.kind != FileKind::Directory {
        return Err(Error::refused(path, format!("not a directory (it is a {})", meta.kind)));
    }
    if meta.uid != 0 && meta.uid != me {
        return Err(Error::refused(
            path,
            format!(
                "belongs to uid {}, who could replace what pgharden keeps below it; use a directory only you control",
                meta.uid
            ),
        ));
    }
    let shared = meta.mode & 0o022 != 0;
    if shared && !(sticky_ok && meta.mode & STICKY != 0 && meta.uid == 0) {
        return Err(Error::refused(
            path,
            format!(
                "is writable by others (mode {:04o}), who could replace what pgharden keeps below it",
                meta.mode
            ),
        ));
    }
    Ok(())
}

fn fd_meta(fd: &OwnedFd, path: &Path) -> Result<Meta> {
    Ok(Meta::from_stat(&rustix::fs::fstat(fd).map_err(|e| Error::os(path, e))?))
}

/// Open the directory `path` (created with exactly `mode` when missing; an existing one gets the
/// search bits of `mode` it lacks) if, and only if, no account but root and this process's own can
/// replace it or anything in it. Its parent may be given through links (they are resolved first);
/// `path` itself must not be one.
pub fn private_dir(path: &Path, mode: u32) -> Result<OwnedFd> {
    let (Some(parent), Some(Component::Normal(name))) = (path.parent(), path.components().next_back()) else {
        return Err(Error::refused(path, "names no directory"));
    };
    let parent = parent.canonicalize().map_err(|e| Error::io(parent, &e))?;
    let walk = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut fd =
        rustix::fs::openat(CWD, "/", walk, Mode::empty()).map_err(|e| Error::os(Path::new("/"), e))?;
    let mut walked = PathBuf::from("/");
    check_trusted(&fd_meta(&fd, &walked)?, &walked, true)?;
    for part in parent.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n),
        _ => None,
    }) {
        walked.push(part);
        fd = rustix::fs::openat(&fd, part, walk, Mode::empty()).map_err(|e| Error::os(&walked, e))?;
        check_trusted(&fd_meta(&fd, &walked)?, &walked, true)?;
    }
    let target = walked.join(name);
    let created = match rustix::fs::mkdirat(&fd, name, Mode::from_raw_mode(0o700)) {
        Ok(()) => true,
        Err(Errno::EXIST) => false,
        Err(e) => return Err(Error::os(&target, e)),
    };
    let open = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let dir = match rustix::fs::openat(&fd, name, open, Mode::empty()) {
        Ok(dir) => dir,
        Err(Errno::LOOP | Errno::NOTDIR) => return Err(link_or_file(&fd, name, &target)),
        Err(e) => return Err(Error::os(&target, e)),
    };
    let meta = fd_meta(&dir, &target)?;
    check_trusted(&meta, &target, false)?;
    let wanted = if created { mode } else { meta.mode | (mode & 0o111) };
    if wanted != meta.mode {
        rustix::fs::fchmod(&dir, Mode::from_raw_mode(wanted)).map_err(|e| Error::os(&target, e))?;
    }
    Ok(dir)
}

fn link_or_file(parent: &OwnedFd, name: &std::ffi::OsStr, path: &Path) -> Error {
    match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if FileKind::from_mode(st.st_mode) == FileKind::Symlink => {
            Error::Symlink { path: path.to_path_buf() }
        }
        Ok(st) => {
            Error::refused(path, format!("not a directory (it is a {})", FileKind::from_mode(st.st_mode)))
        }
        Err(e) => Error::os(path, e),
    }
}

/// Make `name` in the trusted directory `dir` (at `dir_path`) a directory of `account` with exactly
/// `mode`: created when missing, accepted when it already is a real directory of that account (or
/// of this process's, and then given to `account`), refused when it is a link or someone else's.
pub fn subdir_for(dir: &OwnedFd, dir_path: &Path, name: &str, account: &Account, mode: u32) -> Result<()> {
    let path = dir_path.join(name);
    let me = rustix::process::geteuid().as_raw();
    match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700)) {
        Ok(()) => {}
        Err(Errno::EXIST) => {
            let st =
                rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| Error::os(&path, e))?;
            let meta = Meta::from_stat(&st);
            match meta.kind {
                FileKind::Directory if meta.uid == account.uid || meta.uid == me => {}
                FileKind::Directory => {
                    return Err(Error::refused(&path, format!("belongs to uid {}, not {account}", meta.uid)));
                }
                FileKind::Symlink => return Err(Error::Symlink { path }),
                kind => return Err(Error::refused(&path, format!("not a directory (it is a {kind})"))),
            }
        }
        Err(e) => return Err(Error::os(&path, e)),
    }
    let open = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, open, Mode::empty()).map_err(|e| Error::os(&path, e))?;
    let meta = fd_meta(&fd, &path)?;
    if meta.uid != account.uid || meta.gid != account.gid {
        rustix::fs::fchown(
            &fd,
            Some(rustix::process::Uid::from_raw(account.uid)),
            Some(rustix::process::Gid::from_raw(account.gid)),
        )
        .map_err(|e| Error::os(&path, e))?;
    }
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(|e| Error::os(&path, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::{PermissionsExt, symlink};

    use super::*;

    #[test]
    fn a_shared_or_linked_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
        let dir = base.join("demo");
        let fd = private_dir(&dir, 0o711).unwrap();
        subdir_for(&fd, &dir, "data", &Account::current(), 0o700).unwrap();
        assert_eq!(std::fs::metadata(dir.join("data")).unwrap().permissions().mode() & 0o777, 0o700);
        symlink(&base, dir.join("run")).unwrap();
        assert!(matches!(
            subdir_for(&fd, &dir, "run", &Account::current(), 0o700),
            Err(Error::Symlink { .. })
        ));
        let shared = base.join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(private_dir(&shared.join("x"), 0o700), Err(Error::Refused { .. })));
        symlink(&dir, base.join("link")).unwrap();
        assert!(matches!(private_dir(&base.join("link"), 0o700), Err(Error::Symlink { .. })));
    }
}
