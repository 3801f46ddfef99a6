//! The cluster's files, reached only as the cluster owner.
//!
//! Owns: every read and write of PGDATA, the configuration directories, includes, logs,
//! `postmaster.pid` and `current_logfiles` — done by a [`pgharden_privsep::Actor`] for the cluster
//! owner (a helper process running as the owner when pgharden runs as root), so root's power never
//! passes through a path the owner controls; the policy of where apply may write (inside PGDATA,
//! the directory of `postgresql.conf`, and directories the operator named — never elsewhere, even
//! where the owner could); and the journal of replaced files that a rollback puts back.
//! Must not: decide what goes into the files.

use std::path::{Path, PathBuf};

use pgharden_privsep::{Account, Actor, FileKind, Meta, Replaced};
use serde::Serialize;

use crate::error::{Error, Result};

/// The largest configuration file, key or certificate read from the cluster.
pub(crate) const MAX_FILE: u64 = pgharden_conf::MAX_FILE_BYTES;

/// The cluster's files, as its owner.
#[derive(Debug)]
pub struct Files {
    actor: Actor,
    /// Directories (canonical) apply may write in, with everything below them.
    write_roots: Vec<PathBuf>,
}

impl Files {
    /// Act as the owner of `data_dir`. The owner of a real data directory is never root
    /// (PostgreSQL refuses to run as root), so a root-owned one is refused: acting "as its owner"
    /// would be acting as root on a path the server names.
    pub fn for_data_dir(data_dir: &Path) -> Result<Self> {
        Self::as_account(Self::owner_of(data_dir)?, data_dir)
    }

    /// The owner of a data directory, which is never root.
    pub fn owner_of(data_dir: &Path) -> Result<Account> {
        let owner = Account::of_path(data_dir).map_err(|e| Error::bad(data_dir, e.detail()))?;
        if owner.is_root() {
            return Err(Error::bad(
                data_dir,
                "belongs to root; a PostgreSQL data directory belongs to the unprivileged account that runs the server",
            ));
        }
        Ok(owner)
    }

    /// Act as `account` on the files of the cluster at `data_dir`.
    pub fn as_account(account: Account, data_dir: &Path) -> Result<Self> {
        let name = account.name.clone();
        let actor = Actor::new(account).map_err(|e| {
            Error::bad(data_dir, format!("cannot act as the cluster owner {name}: {}", e.detail()))
        })?;
        Ok(Self { actor, write_roots: Vec::new() })
    }

    /// Act as this process's own account (an unprivileged audit reads what it can).
    pub fn as_self() -> Self {
        Self { actor: Actor::current(), write_roots: Vec::new() }
    }

    /// The account the files are reached as.
    pub fn account(&self) -> &Account {
        self.actor.account()
    }

    /// The actor, for connections made as the owner.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Let apply write in `dir` and below (it must be canonical).
    pub fn allow_writes_under(&mut self, dir: PathBuf) {
        if !self.write_roots.contains(&dir) {
            self.write_roots.push(dir);
        }
    }

    /// The directories apply may write in.
    pub fn write_roots(&self) -> &[PathBuf] {
        &self.write_roots
    }

    /// Whether apply may write in the directory `dir` (a write root or below one).
    pub fn may_write_in(&self, dir: &Path) -> bool {
        self.write_roots.iter().any(|root| dir.starts_with(root))
    }

    /// Whether apply may write `path`; the error says where it may.
    pub fn check_writable(&self, path: &Path) -> Result<()> {
        if self.write_roots.iter().any(|root| path.starts_with(root) && path != root) {
            return Ok(());
        }
        let roots: Vec<String> = self.write_roots.iter().map(|r| r.display().to_string()).collect();
        Err(Error::bad(
            path,
            format!(
                "is outside the data directory and the configuration directory ({}); pgharden writes only there — \
                 move the file (or the line that names it) there, or name its directory with --write-dir DIR",
                roots.join(", ")
            ),
        ))
    }

    /// A whole file (at most [`pgharden_conf::MAX_FILE_BYTES`] bytes, regular files only).
    pub fn read(&self, path: &Path) -> Result<Vec<u8>> {
        self.actor.read(path, MAX_FILE).map_err(Error::from)
    }

    /// A whole file as text (lossy UTF-8), `None` when it does not exist.
    pub fn read_text_if_exists(&self, path: &Path) -> Result<Option<String>> {
        match self.actor.read(path, MAX_FILE) {
            Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// At most `limit` bytes of a file from `offset`.
    pub fn read_range(&self, path: &Path, offset: u64, limit: u64) -> Result<Vec<u8>> {
        self.actor.read_range(path, offset, limit).map(|(bytes, _)| bytes).map_err(Error::from)
    }

    /// `stat` (`follow`) or `lstat`; `None` when nothing is there.
    pub fn stat(&self, path: &Path, follow: bool) -> Result<Option<Meta>> {
        self.actor.stat(path, follow).map_err(Error::from)
    }

    /// `realpath` as the owner; a missing final file keeps its name below its resolved directory
    /// (PostgreSQL starts without a pg_ident.conf, and apply may create it).
    pub fn canonicalize(&self, path: &Path) -> Result<PathBuf> {
        match self.actor.canonicalize(path) {
            Ok(p) => Ok(p),
            Err(e) if e.is_not_found() => match (path.parent(), path.file_name()) {
                (Some(dir), Some(name)) => Ok(self.actor.canonicalize(dir)?.join(name)),
                _ => Err(e.into()),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// The real directory of `path` with its own name kept: the file a server setting names, in
    /// its canonical directory, but never resolved through a link of its own (a link there must be
    /// seen, and refused, as the link it is).
    pub fn canonicalize_file(&self, path: &Path) -> Result<PathBuf> {
        match (path.parent(), path.file_name()) {
            (Some(dir), Some(name)) if !dir.as_os_str().is_empty() => Ok(self.canonicalize(dir)?.join(name)),
            _ => self.canonicalize(path),
        }
    }

    /// Whether apply may replace `path`: inside a write root, and a regular file or nothing (a
    /// symbolic link, FIFO or device there is refused before anything is written).
    pub fn check_target(&self, path: &Path) -> Result<()> {
        self.check_writable(path)?;
        match self.stat(path, false)? {
            None => Ok(()),
            Some(m) if m.kind == FileKind::Regular => Ok(()),
            Some(m) if m.kind == FileKind::Symlink => {
                Err(pgharden_privsep::Error::Symlink { path: path.into() }.into())
            }
            Some(m) => Err(pgharden_privsep::Error::NotRegular { path: path.into(), kind: m.kind }.into()),
        }
    }
}

impl pgharden_conf::Source for Files {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.actor.read(path, pgharden_conf::MAX_FILE_BYTES).map_err(pgharden_privsep::Error::into_io)
    }

    fn read_dir(&self, dir: &Path) -> std::io::Result<Vec<(std::ffi::OsString, bool)>> {
        let entries = self.actor.read_dir(dir).map_err(pgharden_privsep::Error::into_io)?;
        Ok(entries.into_iter().map(|e| (e.file_name(), e.kind == FileKind::Directory)).collect())
    }

    fn canonicalize(&self, path: &Path) -> std::io::Result<PathBuf> {
        self.actor.canonicalize(path).map_err(pgharden_privsep::Error::into_io)
    }
}

/// The files an apply has replaced so far, in order, so they can be put back.
#[derive(Debug, Default, Serialize)]
pub struct Journal {
    /// Each replaced file with its backup, in the order replaced.
    pub replaced: Vec<Replaced>,
    stamp: String,
}

impl Journal {
    /// A journal whose backups carry `stamp` in their names (`FILE.pgharden-STAMP`).
    pub fn new(stamp: impl Into<String>) -> Self {
        Self { replaced: Vec::new(), stamp: stamp.into() }
    }

    /// Replace `path` with `bytes` (mode `mode`, owned by the cluster owner, who writes it),
    /// keeping a copy of the old content.
    pub fn replace(&mut self, files: &Files, path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
        files.check_target(path)?;
        let replaced = files.actor.replace(path, bytes, mode, Some(&self.stamp))?;
        self.replaced.push(replaced);
        Ok(())
    }

    /// Put every replaced file back as it was, newest first. Returns the files that could not be
    /// restored (with why), which the caller must report: nothing is silently lost.
    pub fn roll_back(&mut self, files: &Files) -> Vec<(PathBuf, String)> {
        let mut failed = Vec::new();
        while let Some(r) = self.replaced.pop() {
            if let Err(e) = files.actor.undo(&r) {
                failed.push((r.path.clone(), e.detail()));
            }
        }
        failed
    }

    /// The backups kept after a successful apply.
    pub fn backups(&self) -> Vec<PathBuf> {
        self.replaced.iter().filter_map(|r| r.backup.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn files_in(dir: &Path) -> Files {
        let mut files = Files::as_self();
        files.allow_writes_under(dir.canonicalize().unwrap());
        files
    }

    #[test]
    fn replace_keeps_a_backup_and_roll_back_restores_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let conf = root.join("postgresql.conf");
        std::fs::write(&conf, "old\n").unwrap();
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o640)).unwrap();
        let created = root.join("server.key");
        let files = files_in(&root);
        let mut journal = Journal::new("test");
        journal.replace(&files, &conf, b"new\n", 0o600).unwrap();
        journal.replace(&files, &created, b"key", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), "new\n");
        assert_eq!(journal.backups(), vec![root.join("postgresql.conf.pgharden-test")]);
        assert!(journal.roll_back(&files).is_empty());
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), "old\n");
        assert_eq!(std::fs::metadata(&conf).unwrap().permissions().mode() & 0o777, 0o640);
        assert!(!created.exists());
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 1, "no temp or backup files left");
    }

    #[test]
    fn writes_outside_the_roots_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("data")).unwrap();
        let files = files_in(&root.join("data"));
        let err = Journal::new("t").replace(&files, &root.join("elsewhere.conf"), b"x", 0o600).unwrap_err();
        assert!(err.to_string().contains("outside the data directory"), "{err}");
        assert!(!root.join("elsewhere.conf").exists());
    }
}
