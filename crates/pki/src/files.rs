//! Durable, permission-correct file writes for the PKI directory.
//!
//! Owns: creating files with their final mode from the first byte (a key is never readable by others,
//! not even for an instant), atomic replacement (temp file, fsync, rename, fsync of the directory),
//! the two-step "pending then commit" write that issuance uses so a crash never leaves a half-written
//! certificate, and the directory lock that serialises concurrent `pgharden pki` runs.
//! Must not: know what the bytes mean.
//!
//! Public is only [`read`] (with its cap, [`MAX_READ`]), for other crates that read the PKI's files;
//! the writers and the lock are the crate's own.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Mode for private keys: owner read/write only, as PostgreSQL and libpq demand.
pub(crate) const KEY_MODE: u32 = 0o600;
/// Mode for certificates, CRLs and the ledger: public material, readable by all.
pub(crate) const PUBLIC_MODE: u32 = 0o644;
/// Mode for directories that hold keys.
pub(crate) const DIR_MODE: u32 = 0o700;
/// Mode for directories that hold only public material.
pub(crate) const PUBLIC_DIR_MODE: u32 = 0o755;

/// Suffix of a file written but not yet committed by issuance.
const PENDING: &str = ".pending-";

/// Create `dir` (and parents) with `mode` if it is missing.
pub(crate) fn ensure_dir(dir: &Path, mode: u32) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new().recursive(true).mode(mode).create(dir).map_err(|e| Error::io(dir, e))
}

/// Write `bytes` to a new file created with `mode` (never widened later), and fsync it.
fn write_fresh(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    // The umask narrows the mode at creation (a unit's UMask=0077 would make the CRLs and the
    // ledger unreadable to others); set it exactly, on the descriptor, before any byte is written.
    let exact: fs::Permissions = std::os::unix::fs::PermissionsExt::from_mode(mode);
    file.set_permissions(exact).map_err(|e| Error::io(path, e))?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

/// fsync a directory so a rename inside it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(dir, e))
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Atomically put `bytes` at `path` with `mode`. Refuses to replace an existing file unless `replace`.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: u32, replace: bool) -> Result<()> {
    if let Ok(meta) = fs::symlink_metadata(path) {
        if !replace {
            return Err(Error::Exists(path.to_path_buf()));
        }
        // Renaming over a device (`/dev/null`) or a symlink would replace it, not write to it.
        if !meta.file_type().is_file() {
            return Err(Error::bad_file(path, "not a regular file; refusing to replace it"));
        }
    }
    let tmp = temp_name(path, &format!("tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    write_fresh(&tmp, bytes, mode)?;
    // A replaced file keeps its inode's mode only if we chmod; rename gives the new inode's mode.
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io(path, e)
    })?;
    sync_dir(parent(path))
}

fn temp_name(path: &Path, tag: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{tag}"));
    parent(path).join(name)
}

/// Name of the not-yet-committed copy of `path` for certificate `serial`.
pub(crate) fn pending_name(path: &Path, serial: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(PENDING);
    name.push(serial);
    parent(path).join(name)
}

/// First half of a crash-safe issue: the bytes are on disk, durable, under a pending name.
pub(crate) fn write_pending(path: &Path, serial: &str, bytes: &[u8], mode: u32) -> Result<PathBuf> {
    let pending = pending_name(path, serial);
    let _ = fs::remove_file(&pending);
    write_fresh(&pending, bytes, mode)?;
    Ok(pending)
}

/// Second half: move a pending file into place.
pub(crate) fn commit_pending(pending: &Path, path: &Path) -> Result<()> {
    fs::rename(pending, path).map_err(|e| Error::io(path, e))?;
    sync_dir(parent(path))
}

/// Pending files found in `dir`: (pending path, final path, serial).
pub(crate) fn find_pending(dir: &Path) -> Result<Vec<(PathBuf, PathBuf, String)>> {
    let mut found = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some((base, serial)) = name.split_once(PENDING) {
            found.push((entry.path(), dir.join(base), serial.to_string()));
        }
    }
    Ok(found)
}

/// Remove the temp files an interrupted [`write_atomic`] left in `dir` (`NAME.tmp-PID`, regular
/// files only); the caller holds the directory lock, so no write of another run is in flight.
pub(crate) fn remove_temps(dir: &Path) -> Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_temp = name.rsplit_once(".tmp-").is_some_and(|(base, pid)| {
            !base.is_empty() && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())
        });
        if is_temp && entry.file_type().is_ok_and(|t| t.is_file()) {
            fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// An exclusive lock on a PKI directory, released on drop.
#[derive(Debug)]
pub(crate) struct DirLock {
    file: File,
}

impl DirLock {
    /// Block until this process holds the lock file `DIR/.lock`.
    pub(crate) fn acquire(dir: &Path) -> Result<Self> {
        let path = dir.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(KEY_MODE)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        file.lock().map_err(|e| Error::io(&path, e))?;
        Ok(Self { file })
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// The largest file the PKI reads (a certificate bundle, a CRL with many entries, the ledger):
/// anything bigger is not one of ours, and reading it would only cost memory.
pub const MAX_READ: u64 = 256 << 20;

/// Read a whole file (at most [`MAX_READ`] bytes), naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    read_capped(path).map_err(|e| Error::io(path, e))
}

/// At most [`MAX_READ`] bytes of a file; a bigger one is an `InvalidData` error.
pub(crate) fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    File::open(path)?.take(MAX_READ + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_READ {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than the {} MiB pgharden reads", MAX_READ >> 20),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn key_files_are_created_0600_and_never_replaced_without_consent() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("a.key");
        write_atomic(&key, b"secret", KEY_MODE, false).unwrap();
        let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let err = write_atomic(&key, b"other", KEY_MODE, false).unwrap_err();
        assert!(matches!(err, Error::Exists(_)), "{err}");
        assert_eq!(fs::read(&key).unwrap(), b"secret");
        write_atomic(&key, b"other", KEY_MODE, true).unwrap();
        assert_eq!(fs::read(&key).unwrap(), b"other");
        // No temp files left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn devices_and_symlinks_are_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        assert!(write_atomic(&link, b"x", KEY_MODE, true).is_err());
        assert!(write_atomic(Path::new("/dev/null"), b"x", KEY_MODE, true).is_err());
        use std::os::unix::fs::FileTypeExt;
        assert!(fs::symlink_metadata("/dev/null").unwrap().file_type().is_char_device());
    }

    #[test]
    fn pending_files_are_found_and_committed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("client.crt");
        let pending = write_pending(&target, "abcd", b"cert", PUBLIC_MODE).unwrap();
        let found = find_pending(dir.path()).unwrap();
        assert_eq!(found, vec![(pending.clone(), target.clone(), "abcd".to_string())]);
        commit_pending(&pending, &target).unwrap();
        assert!(find_pending(dir.path()).unwrap().is_empty());
        assert_eq!(fs::read(&target).unwrap(), b"cert");
    }
}
