//! The operations themselves, done with this process's own credentials: by the owner-side helper
//! for the account it runs as, or directly when pgharden already is that account.
//!
//! Owns the rules every file operation follows:
//! - a path is walked from `/` one component at a time with `O_NOFOLLOW`, so a symbolic link
//!   anywhere in a path pgharden writes through is refused, not followed;
//! - files that are written or replaced must be regular files (never a FIFO, device or link);
//!   new content goes to a temp file created `O_EXCL` with its final mode, is fsynced and renamed
//!   over the old name, and the directory is fsynced;
//! - a backup keeps the old *content* (a copy), never a link to the old inode;
//! - reads open only regular files (checked before opening, and again on the descriptor) and stop
//!   at the caller's limit, so a FIFO cannot hang a read and a huge file cannot exhaust memory.
//!
//! Reads follow symbolic links, as the server does when it reads its configuration: they happen
//! with the account's own credentials, so a link gives nothing the account could not read anyway.
//! Must not: decide which files to touch (callers do), or switch credentials (that is `helper`).

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, CWD, Mode, OFlags};
use rustix::io::Errno;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::meta::{FileKind, Meta};
use crate::wire_path;

/// The most a backup copy of a replaced file may hold.
pub const MAX_BACKUP: u64 = 64 << 20;
/// The most entries a directory listing returns.
pub const MAX_ENTRIES: usize = 100_000;
/// What temp files of an interrupted replace are called: `NAME.pgharden-tmp-PID-N`.
pub const TEMP_MARKER: &str = ".pgharden-tmp-";

/// One replaced file, and where its previous content is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replaced {
    /// The file that now holds the new content.
    #[serde(with = "wire_path")]
    pub path: PathBuf,
    /// `None` when the file did not exist before (undoing removes it).
    #[serde(with = "wire_path::option")]
    pub backup: Option<PathBuf>,
}

/// A directory entry: its name and what it is, following a symbolic link to its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The entry's name inside the directory (one component, no `/`).
    #[serde(with = "wire_path")]
    pub name: PathBuf,
    /// What it is; for a symbolic link, what its target is.
    pub kind: FileKind,
}

impl Entry {
    /// The name as an `OsString`.
    pub fn file_name(&self) -> OsString {
        self.name.clone().into_os_string()
    }
}

/// Part of a file, from an offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// The file's length when it was read.
    pub len: u64,
    /// Whether there was more after `limit` bytes.
    pub truncated: bool,
}

/// Split an absolute path into its directory and final name.
pub(crate) fn split(path: &Path) -> Result<(&Path, &std::ffi::OsStr)> {
    if !path.is_absolute() {
        return Err(Error::refused(path, "not an absolute path"));
    }
    match (path.parent(), path.components().next_back()) {
        (Some(dir), Some(Component::Normal(name))) => Ok((dir, name)),
        _ => Err(Error::refused(path, "names no file")),
    }
}

/// Open a directory by walking `dir` from `/` without following any symbolic link. The
/// descriptor is an `O_PATH` one unless `readable`, which is needed to fsync or list it.
pub(crate) fn open_dir(dir: &Path, readable: bool) -> Result<OwnedFd> {
    if !dir.is_absolute() {
        return Err(Error::refused(dir, "not an absolute path"));
    }
    let walk = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut fd =
        rustix::fs::openat(CWD, "/", walk, Mode::empty()).map_err(|e| Error::os(Path::new("/"), e))?;
    let mut walked = PathBuf::from("/");
    for part in dir.components() {
        let name = match part {
            Component::RootDir | Component::CurDir => continue,
            Component::Normal(name) => name,
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Error::refused(dir, "`..` in a path pgharden acts on"));
            }
        };
        walked.push(name);
        fd = match rustix::fs::openat(&fd, name, walk, Mode::empty()) {
            Ok(next) => next,
            Err(e) => return Err(not_a_dir(&fd, name, &walked, e)),
        };
    }
    if readable {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        fd = rustix::fs::openat(&fd, ".", flags, Mode::empty()).map_err(|e| Error::os(&walked, e))?;
    }
    Ok(fd)
}

/// Why `name` in `parent` could not be opened as a directory: a link, another kind of file, or
/// an OS error.
fn not_a_dir(parent: &OwnedFd, name: &std::ffi::OsStr, path: &Path, e: Errno) -> Error {
    if (e == Errno::NOTDIR || e == Errno::LOOP)
        && let Ok(st) = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)
    {
        return match FileKind::from_mode(st.st_mode) {
            FileKind::Symlink => Error::Symlink { path: path.to_path_buf() },
            kind => Error::refused(path, format!("not a directory (it is a {kind})")),
        };
    }
    Error::os(path, e)
}

/// What is at `name` in `dir`, without following a link (`None`: nothing).
fn stat_at(dir: &OwnedFd, name: &std::ffi::OsStr, path: &Path) -> Result<Option<Meta>> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(Meta::from_stat(&st))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(Error::os(path, e)),
    }
}

/// A regular file, or why not.
fn require_regular(meta: &Meta, path: &Path) -> Result<()> {
    match meta.kind {
        FileKind::Regular => Ok(()),
        FileKind::Symlink => Err(Error::Symlink { path: path.to_path_buf() }),
        kind => Err(Error::NotRegular { path: path.to_path_buf(), kind }),
    }
}

/// `stat` (following links, as the server would) or `lstat`; `None` when nothing is there.
pub fn stat(path: &Path, follow: bool) -> Result<Option<Meta>> {
    let result = if follow { rustix::fs::stat(path) } else { rustix::fs::lstat(path) };
    match result {
        Ok(st) => Ok(Some(Meta::from_stat(&st))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(Error::os(path, e)),
    }
}

/// Open a regular file for reading: refused before opening when it is anything else, and
/// checked again on the descriptor (the same file, still regular).
fn open_regular(path: &Path) -> Result<(File, Meta)> {
    let before = rustix::fs::stat(path).map_err(|e| Error::os(path, e))?;
    let before = Meta::from_stat(&before);
    require_regular(&before, path)?;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = rustix::fs::open(path, flags, Mode::empty()).map_err(|e| Error::os(path, e))?;
    let after = Meta::from_stat(&rustix::fs::fstat(&fd).map_err(|e| Error::os(path, e))?);
    require_regular(&after, path)?;
    if (after.dev, after.ino) != (before.dev, before.ino) {
        return Err(Error::refused(path, "was replaced while it was being opened"));
    }
    Ok((File::from(fd), after))
}

/// Read all of `file`, failing when it holds more than `limit` bytes.
fn read_capped(file: File, path: &Path, limit: u64, hint: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(usize::try_from(hint.min(limit)).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| Error::io(path, &e))?;
    if bytes.len() as u64 > limit {
        return Err(Error::TooLarge { path: path.to_path_buf(), limit });
    }
    Ok(bytes)
}

/// The whole content of a regular file of at most `limit` bytes.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let (file, meta) = open_regular(path)?;
    read_capped(file, path, limit, meta.len)
}

/// At most `limit` bytes of a regular file from `offset` (from the start when the file is now
/// shorter than `offset`: it was truncated or rotated).
pub fn read_range(path: &Path, offset: u64, limit: u64) -> Result<(Vec<u8>, Range)> {
    let (mut file, meta) = open_regular(path)?;
    let start = if offset > meta.len { 0 } else { offset };
    file.seek(SeekFrom::Start(start)).map_err(|e| Error::io(path, &e))?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| Error::io(path, &e))?;
    let truncated = bytes.len() as u64 > limit;
    bytes.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok((bytes, Range { len: meta.len, truncated }))
}

/// The entries of a directory (following a link to it, as PostgreSQL's `include_dir` does), with
/// what each one is after following links. `.` and `..` are left out.
pub fn read_dir(path: &Path) -> Result<Vec<Entry>> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = rustix::fs::open(path, flags, Mode::empty()).map_err(|e| Error::os(path, e))?;
    let dir = rustix::fs::Dir::read_from(&fd).map_err(|e| Error::os(path, e))?;
    let mut out = Vec::new();
    for entry in dir {
        let entry = entry.map_err(|e| Error::os(path, e))?;
        let name = std::ffi::OsStr::from_bytes(entry.file_name().to_bytes());
        if name == "." || name == ".." {
            continue;
        }
        if out.len() >= MAX_ENTRIES {
            return Err(Error::refused(path, format!("holds more than {MAX_ENTRIES} entries")));
        }
        let kind = match rustix::fs::statat(&fd, name, AtFlags::empty()) {
            Ok(st) => FileKind::from_mode(st.st_mode),
            // A dangling link: report it as the link it is.
            Err(_) => FileKind::Symlink,
        };
        out.push(Entry { name: PathBuf::from(name), kind });
    }
    Ok(out)
}

/// `realpath`.
pub fn canonicalize(path: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(path).map_err(|e| Error::io(path, &e))
}

/// `readlink`.
pub(crate) fn read_link(path: &Path) -> Result<PathBuf> {
    std::fs::read_link(path).map_err(|e| Error::io(path, &e))
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Create a new file `name` in `dir` (`O_EXCL`), with exactly `mode`, holding `bytes`, fsynced.
fn create_with(dir: &OwnedFd, name: &std::ffi::OsStr, path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd =
        rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(mode)).map_err(|e| Error::os(path, e))?;
    // The umask may have taken bits away; set the exact mode while the file is still empty.
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(|e| Error::os(path, e))?;
    let mut file = File::from(fd);
    file.write_all(bytes).map_err(|e| Error::io(path, &e))?;
    file.sync_all().map_err(|e| Error::io(path, &e))
}

/// Copy the regular file `name` in `dir` to `backup_name` (content and mode), replacing an older
/// backup of that name.
fn back_up(
    dir: &OwnedFd,
    name: &std::ffi::OsStr,
    path: &Path,
    backup_name: &std::ffi::OsStr,
) -> Result<PathBuf> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, flags, Mode::empty()).map_err(|e| Error::os(path, e))?;
    let meta = Meta::from_stat(&rustix::fs::fstat(&fd).map_err(|e| Error::os(path, e))?);
    require_regular(&meta, path)?;
    let content = read_capped(File::from(fd), path, MAX_BACKUP, meta.len)?;
    let backup = path.with_file_name(backup_name);
    match stat_at(dir, backup_name, &backup)? {
        None => {}
        Some(old) => {
            require_regular(&old, &backup)?;
            rustix::fs::unlinkat(dir, backup_name, AtFlags::empty()).map_err(|e| Error::os(&backup, e))?;
        }
    }
    create_with(dir, backup_name, &backup, &content, meta.mode)?;
    Ok(backup)
}

/// Atomically replace (or create) the regular file `path` with `bytes` and exactly `mode`. With
/// `backup_tag`, an existing file's content is first copied to `NAME.pgharden-TAG` beside it.
pub(crate) fn replace(path: &Path, bytes: &[u8], mode: u32, backup_tag: Option<&str>) -> Result<Replaced> {
    let (dir_path, name) = split(path)?;
    let dir = open_dir(dir_path, true)?;
    let existing = stat_at(&dir, name, path)?;
    if let Some(meta) = &existing {
        require_regular(meta, path)?;
    }
    let backup = match (&existing, backup_tag) {
        (Some(_), Some(tag)) => {
            let mut backup_name = name.to_os_string();
            backup_name.push(format!(".pgharden-{tag}"));
            Some(back_up(&dir, name, path, &backup_name)?)
        }
        _ => None,
    };
    let tmp_name = temp_file(&dir, name, path, bytes, mode)?;
    let tmp_path = path.with_file_name(&tmp_name);
    if let Err(e) = rustix::fs::renameat(&dir, &tmp_name, &dir, name) {
        let _ = rustix::fs::unlinkat(&dir, &tmp_name, AtFlags::empty());
        return Err(Error::os(&tmp_path, e));
    }
    rustix::fs::fsync(&dir).map_err(|e| Error::os(dir_path, e))?;
    Ok(Replaced { path: path.to_path_buf(), backup })
}

/// Write the new content under a fresh temp name next to `name`; returns that name.
fn temp_file(
    dir: &OwnedFd,
    name: &std::ffi::OsStr,
    path: &Path,
    bytes: &[u8],
    mode: u32,
) -> Result<OsString> {
    for _ in 0..100 {
        let mut tmp_name = name.to_os_string();
        tmp_name.push(format!(
            "{TEMP_MARKER}{}-{}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        ));
        let tmp_path = path.with_file_name(&tmp_name);
        match create_with(dir, &tmp_name, &tmp_path, bytes, mode) {
            Ok(()) => return Ok(tmp_name),
            Err(Error::Os { errno: Some(e), .. }) if e == Errno::EXIST.raw_os_error() => continue,
            Err(e) => {
                let _ = rustix::fs::unlinkat(dir, &tmp_name, AtFlags::empty());
                return Err(e);
            }
        }
    }
    Err(Error::refused(path, "could not find a free temp file name"))
}

/// Atomically write a file the operator named on the command line (a report, a restore file): the
/// links the operator's path goes through to its directory are followed — that path is theirs —
/// but the file itself is never written through a link, and only a regular file is replaced.
pub fn write_named(path: &Path, bytes: &[u8], mode: u32) -> Result<PathBuf> {
    let absolute = std::path::absolute(path).map_err(|e| Error::io(path, &e))?;
    let (dir, name) = split(&absolute)?;
    let target = canonicalize(dir)?.join(name);
    replace(&target, bytes, mode, None)?;
    Ok(target)
}

/// Undo a [`replace`]: put the backup back, or remove a file that did not exist before.
pub(crate) fn undo(replaced: &Replaced) -> Result<()> {
    let (dir_path, name) = split(&replaced.path)?;
    let dir = open_dir(dir_path, true)?;
    match &replaced.backup {
        Some(backup) => {
            let (backup_dir, backup_name) = split(backup)?;
            if backup_dir != dir_path {
                return Err(Error::refused(backup, "a backup must sit next to the file it keeps"));
            }
            let meta = stat_at(&dir, backup_name, backup)?
                .ok_or_else(|| Error::refused(backup, "the backup is gone"))?;
            require_regular(&meta, backup)?;
            rustix::fs::renameat(&dir, backup_name, &dir, name).map_err(|e| Error::os(&replaced.path, e))?;
        }
        None => {
            if let Some(meta) = stat_at(&dir, name, &replaced.path)? {
                require_regular(&meta, &replaced.path)?;
                rustix::fs::unlinkat(&dir, name, AtFlags::empty())
                    .map_err(|e| Error::os(&replaced.path, e))?;
            }
        }
    }
    rustix::fs::fsync(&dir).map_err(|e| Error::os(dir_path, e))
}

/// Remove the temp files an interrupted [`replace`] left in `dir` (regular files whose name holds
/// [`TEMP_MARKER`]); returns how many.
pub(crate) fn remove_temps(dir_path: &Path) -> Result<usize> {
    let dir = open_dir(dir_path, true)?;
    let listing = rustix::fs::Dir::read_from(&dir).map_err(|e| Error::os(dir_path, e))?;
    let mut names = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| Error::os(dir_path, e))?;
        let name = entry.file_name().to_bytes();
        if name.windows(TEMP_MARKER.len()).any(|w| w == TEMP_MARKER.as_bytes()) {
            names.push(OsString::from(std::ffi::OsStr::from_bytes(name)));
        }
        if names.len() > MAX_ENTRIES {
            break;
        }
    }
    let mut removed = 0;
    for name in names {
        let path = dir_path.join(&name);
        if stat_at(&dir, &name, &path)?.is_some_and(|m| m.kind == FileKind::Regular) {
            rustix::fs::unlinkat(&dir, &name, AtFlags::empty()).map_err(|e| Error::os(&path, e))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Create the directory `path` with exactly `mode` (its parents must exist); `false` when a real
/// directory is already there (left as it is).
pub(crate) fn mkdir(path: &Path, mode: u32) -> Result<bool> {
    let (dir_path, name) = split(path)?;
    let dir = open_dir(dir_path, false)?;
    match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(mode)) {
        Ok(()) => {}
        Err(Errno::EXIST) => {
            return match stat_at(&dir, name, path)? {
                Some(m) if m.kind == FileKind::Directory => Ok(false),
                Some(m) if m.kind == FileKind::Symlink => Err(Error::Symlink { path: path.to_path_buf() }),
                _ => Err(Error::refused(path, "exists and is not a directory")),
            };
        }
        Err(e) => return Err(Error::os(path, e)),
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(&dir, name, flags, Mode::empty()).map_err(|e| Error::os(path, e))?;
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(|e| Error::os(path, e))?;
    Ok(true)
}

/// Open (creating it 0600 if missing) the regular file `path` to take a lock on it.
pub(crate) fn open_lock(path: &Path) -> Result<File> {
    let (dir_path, name) = split(path)?;
    let dir = open_dir(dir_path, false)?;
    let flags = OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(&dir, name, flags, Mode::from_raw_mode(0o600)) {
        Ok(fd) => fd,
        Err(Errno::LOOP) => return Err(Error::Symlink { path: path.to_path_buf() }),
        Err(e) => return Err(Error::os(path, e)),
    };
    let meta = Meta::from_stat(&rustix::fs::fstat(&fd).map_err(|e| Error::os(path, e))?);
    require_regular(&meta, path)?;
    Ok(File::from(fd))
}

/// Connect to a Unix stream socket (the server's), so that the server sees this account as the
/// peer (`SO_PEERCRED`).
pub(crate) fn connect_unix(path: &Path) -> Result<UnixStream> {
    UnixStream::connect(path).map_err(|e| Error::io(path, &e))
}

/// Send SIGHUP (reload) to `pid`; the kernel lets it through only to this account's processes.
pub(crate) fn reload(pid: i32) -> Result<()> {
    let proc_path = PathBuf::from(format!("/proc/{pid}"));
    let pid =
        rustix::process::Pid::from_raw(pid).ok_or_else(|| Error::refused(&proc_path, "not a process id"))?;
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).map_err(|e| Error::os(&proc_path, e))
}

/// A descriptor's identity as a regular file, for callers handed a descriptor by the helper.
pub(crate) fn fd_meta(fd: impl AsFd, path: &Path) -> Result<Meta> {
    Ok(Meta::from_stat(&rustix::fs::fstat(fd).map_err(|e| Error::os(path, e))?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    use super::*;

    #[test]
    fn replace_keeps_a_copy_and_undo_restores_it() {
        let tmp = tempfile::tempdir().unwrap();
        let conf = tmp.path().join("postgresql.conf");
        std::fs::write(&conf, "old\n").unwrap();
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o640)).unwrap();
        let old_ino = std::fs::metadata(&conf).unwrap().ino();
        let done = replace(&conf, b"new\n", 0o600, Some("t1")).unwrap();
        let backup = done.backup.clone().unwrap();
        assert_eq!(std::fs::read(&conf).unwrap(), b"new\n");
        assert_eq!(std::fs::metadata(&conf).unwrap().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&backup).unwrap(), b"old\n");
        assert_eq!(std::fs::metadata(&backup).unwrap().mode() & 0o777, 0o640);
        assert_ne!(std::fs::metadata(&backup).unwrap().ino(), old_ino, "a copy, not a link");
        undo(&done).unwrap();
        assert_eq!(std::fs::read(&conf).unwrap(), b"old\n");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "no temp or backup left");
    }

    #[test]
    fn a_new_file_gets_its_mode_under_any_umask_and_undo_removes_it() {
        let tmp = tempfile::tempdir().unwrap();
        let key = tmp.path().join("server.key");
        let done = replace(&key, b"k", 0o600, Some("t")).unwrap();
        assert_eq!(done.backup, None);
        assert_eq!(std::fs::metadata(&key).unwrap().mode() & 0o7777, 0o600);
        undo(&done).unwrap();
        assert!(!key.exists());
    }

    #[test]
    fn links_and_special_files_are_never_written_through() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let link = tmp.path().join("server.key");
        symlink(&victim, &link).unwrap();
        assert!(matches!(replace(&link, b"x", 0o600, Some("t")), Err(Error::Symlink { .. })));
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        // A link in the middle of the path is refused too.
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).unwrap();
        symlink(&real, tmp.path().join("via")).unwrap();
        let err = replace(&tmp.path().join("via/file"), b"x", 0o600, None).unwrap_err();
        assert!(matches!(err, Error::Symlink { ref path } if path.ends_with("via")), "{err}");
        assert!(std::fs::read_dir(&real).unwrap().next().is_none());
        let fifo = tmp.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(matches!(
            replace(&fifo, b"x", 0o600, None),
            Err(Error::NotRegular { kind: FileKind::Fifo, .. })
        ));
        assert!(matches!(read(&fifo, 10), Err(Error::NotRegular { kind: FileKind::Fifo, .. })));
        assert!(matches!(
            read(Path::new("/dev/null"), 10),
            Err(Error::NotRegular { kind: FileKind::CharDevice, .. })
        ));
        assert!(matches!(open_lock(&fifo), Err(Error::NotRegular { .. })));
        assert!(matches!(open_lock(&link), Err(Error::Symlink { .. })));
    }

    #[test]
    fn reads_stop_at_the_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("big");
        std::fs::write(&f, vec![b'x'; 1000]).unwrap();
        assert_eq!(read(&f, 1000).unwrap().len(), 1000);
        assert!(matches!(read(&f, 999), Err(Error::TooLarge { limit: 999, .. })));
        let (tail, range) = read_range(&f, 990, 5).unwrap();
        assert_eq!((tail.len(), range.len, range.truncated), (5, 1000, true));
        let (all, _) = read_range(&f, 5000, 2000).unwrap();
        assert_eq!(all.len(), 1000, "a file shorter than the offset is read from the start");
    }

    #[test]
    fn stale_temps_are_removed_and_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.conf.pgharden-tmp-1-2"), "").unwrap();
        std::fs::write(tmp.path().join("keep.conf"), "").unwrap();
        std::fs::create_dir(tmp.path().join("d.pgharden-tmp-dir")).unwrap();
        assert_eq!(remove_temps(tmp.path()).unwrap(), 1);
        assert!(tmp.path().join("keep.conf").exists() && tmp.path().join("d.pgharden-tmp-dir").exists());
    }

    #[test]
    fn mkdir_refuses_a_link_and_keeps_an_existing_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("data");
        assert!(mkdir(&d, 0o700).unwrap());
        assert_eq!(std::fs::metadata(&d).unwrap().mode() & 0o777, 0o700);
        assert!(!mkdir(&d, 0o700).unwrap());
        symlink(tmp.path(), tmp.path().join("run")).unwrap();
        assert!(matches!(mkdir(&tmp.path().join("run"), 0o700), Err(Error::Symlink { .. })));
    }

    #[test]
    fn directory_listings_say_what_links_point_to() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("sub.conf")).unwrap();
        std::fs::write(tmp.path().join("a.conf"), "").unwrap();
        symlink(tmp.path().join("sub.conf"), tmp.path().join("l.conf")).unwrap();
        let mut got: Vec<(String, FileKind)> = read_dir(tmp.path())
            .unwrap()
            .into_iter()
            .map(|e| (e.name.to_string_lossy().into_owned(), e.kind))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            got,
            vec![
                ("a.conf".into(), FileKind::Regular),
                ("l.conf".into(), FileKind::Directory),
                ("sub.conf".into(), FileKind::Directory)
            ]
        );
    }
}
