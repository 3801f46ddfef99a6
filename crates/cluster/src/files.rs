//! Writing a cluster's files the way an operator would want: planned, atomic, owned, backed up.
//!
//! Owns: replacing a file atomically (a temp file in the same directory, created with its final
//! mode and handed to the cluster owner before a byte is written, fsync, rename, fsync of the
//! directory), keeping the previous version as a backup (a hard link to the old inode, so owner,
//! mode and content are exactly what they were), and restoring those backups on rollback.
//! Must not: decide what goes into the files.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::owner::Owner;

/// One replaced file and where its previous version is kept.
#[derive(Debug, Clone, Serialize)]
pub struct Replaced {
    pub path: PathBuf,
    /// `None` when the file did not exist before (rollback removes it).
    pub backup: Option<PathBuf>,
}

/// The files an apply has replaced so far, in order, so they can be put back.
#[derive(Debug, Default, Serialize)]
pub struct Journal {
    pub replaced: Vec<Replaced>,
    stamp: String,
}

impl Journal {
    /// A journal whose backups carry `stamp` in their names (`FILE.pgharden-STAMP`).
    pub fn new(stamp: impl Into<String>) -> Journal {
        Journal { replaced: Vec::new(), stamp: stamp.into() }
    }

    /// Replace `path` with `bytes`, owned by `owner` with `mode`, keeping a backup of the old file.
    pub fn replace(&mut self, path: &Path, bytes: &[u8], mode: u32, owner: &Owner) -> Result<()> {
        let backup = if path.exists() {
            let backup = backup_name(path, &self.stamp);
            let _ = fs::remove_file(&backup);
            fs::hard_link(path, &backup).map_err(|e| Error::io(&backup, e))?;
            Some(backup)
        } else {
            None
        };
        self.replaced.push(Replaced { path: path.to_path_buf(), backup });
        write_owned(path, bytes, mode, owner)
    }

    /// Put every replaced file back as it was, newest first. Returns the files that could not be
    /// restored (with why), which the caller must report: nothing is silently lost.
    pub fn roll_back(&mut self) -> Vec<(PathBuf, String)> {
        let mut failed = Vec::new();
        while let Some(r) = self.replaced.pop() {
            let outcome = match &r.backup {
                Some(backup) => fs::rename(backup, &r.path),
                None => fs::remove_file(&r.path),
            };
            if let Err(e) = outcome {
                failed.push((r.path.clone(), e.to_string()));
            } else if let Some(dir) = r.path.parent() {
                let _ = sync_dir(dir);
            }
        }
        failed
    }

    /// The backups kept after a successful apply.
    pub fn backups(&self) -> Vec<PathBuf> {
        self.replaced.iter().filter_map(|r| r.backup.clone()).collect()
    }
}

/// `FILE.pgharden-STAMP`, next to the file.
pub fn backup_name(path: &Path, stamp: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".pgharden-{stamp}"));
    path.with_file_name(name)
}

/// Atomically write `bytes` to `path` with `mode`, owned by `owner`. A symlinked file (some
/// installations link postgresql.conf elsewhere) is written where the link points; a device or
/// directory is refused rather than replaced.
pub fn write_owned(path: &Path, bytes: &[u8], mode: u32, owner: &Owner) -> Result<()> {
    let resolved;
    let path = match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            resolved = fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
            resolved.as_path()
        }
        Ok(meta) if !meta.file_type().is_file() => {
            return Err(Error::bad(path, "not a regular file; refusing to replace it"));
        }
        _ => path,
    };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".pgharden-tmp-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, e))?;
        // Ownership before content: the file is never, even briefly, someone else's with the secret in it.
        if owner.needs_switch() {
            std::os::unix::fs::fchown(&file, Some(owner.uid), Some(owner.gid))
                .map_err(|e| Error::io(&tmp, e))?;
        }
        file.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
        file.sync_all().map_err(|e| Error::io(&tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Remove temp files an earlier, interrupted run left behind (`NAME.pgharden-tmp-PID`).
pub fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().contains(".pgharden-tmp-") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn me() -> Owner {
        Owner::of(Path::new(".")).unwrap()
    }

    #[test]
    fn replace_keeps_a_backup_and_roll_back_restores_it() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("postgresql.conf");
        fs::write(&conf, "old\n").unwrap();
        fs::set_permissions(&conf, fs::Permissions::from_mode(0o640)).unwrap();
        let created = dir.path().join("server.key");
        let mut journal = Journal::new("test");
        journal.replace(&conf, b"new\n", 0o600, &me()).unwrap();
        journal.replace(&created, b"key", 0o600, &me()).unwrap();
        assert_eq!(fs::read_to_string(&conf).unwrap(), "new\n");
        assert_eq!(fs::metadata(&created).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(journal.backups(), vec![backup_name(&conf, "test")]);
        assert!(journal.roll_back().is_empty());
        assert_eq!(fs::read_to_string(&conf).unwrap(), "old\n");
        assert_eq!(fs::metadata(&conf).unwrap().permissions().mode() & 0o777, 0o640);
        assert!(!created.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temp or backup files left");
    }
}
