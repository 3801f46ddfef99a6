//! Where `pgharden lock` writes its restore file, and writing it.
//!
//! Owns: the choice of place (the file the user named, else `.restore_login` in the current
//! directory, else a file of its own under the invoking user's XDG state directory), the check
//! that a named file can be written before anything is locked, and refusing directories that are
//! not the user's own (root must not write through a home someone else controls).
//! Must not: decide whether the lock succeeded: the ledger in the database is the record, and a
//! file that could be written nowhere is reported, not an error.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The STIG script's name for the file, in the current directory.
pub(super) const DEFAULT: &str = ".restore_login";

/// Where the restore file went.
#[derive(Debug)]
pub(super) enum Written {
    /// Where it was asked for (or the default place).
    At(PathBuf),
    /// In the state directory, because `wanted` could not be written (`cause`).
    Fallback { path: PathBuf, wanted: PathBuf, cause: String },
    /// Nowhere: each place tried, and why it failed.
    Nowhere(Vec<(PathBuf, String)>),
}

/// Whether a file can be created at `path`: a probe created next to it (never through a link)
/// and removed again. The cause is one sentence, named once.
pub(super) fn check(path: &Path) -> Result<(), String> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_symlink() {
            return Err("it is a symbolic link, which pgharden does not write through".into());
        }
        if !meta.is_file() {
            return Err("it exists and is not a regular file".into());
        }
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name.is_empty() {
        return Err("it names no file".into());
    }
    let probe = dir.join(format!(".{name}.pgharden-probe-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&probe)
        .map_err(|e| format!("creating a file in {}: {e}", dir.display()))?;
    std::fs::remove_file(&probe).map_err(|e| format!("removing the probe {}: {e}", probe.display()))
}

/// Write `bytes` (mode 0600, atomically, never through a link) to `explicit` or the default
/// place; where that fails, to `restore_login-DATABASE-TIME` in the state directory.
pub(super) fn write(explicit: Option<&Path>, database: &str, bytes: &[u8]) -> Written {
    let wanted = explicit.map_or_else(|| PathBuf::from(DEFAULT), Path::to_path_buf);
    let cause = match write_at(&wanted, bytes) {
        Ok(path) => return Written::At(path),
        Err(cause) => cause,
    };
    let fallback = state_dir().map(|dir| dir.join(file_name(database)));
    match fallback.and_then(|path| write_at(&path, bytes)) {
        Ok(path) => Written::Fallback { path, wanted, cause },
        Err(second) => {
            let place = state_base()
                .map(|b| b.join("pgharden"))
                .unwrap_or_else(|_| PathBuf::from("$XDG_STATE_HOME/pgharden"));
            Written::Nowhere(vec![(wanted, cause), (place, second)])
        }
    }
}

fn write_at(path: &Path, bytes: &[u8]) -> Result<PathBuf, String> {
    pgharden_privsep::local::write_named(path, bytes, 0o600).map_err(|e| e.to_string())
}

/// `restore_login-DATABASE-YYYYMMDDTHHMMSSZ`, the database name reduced to characters that are
/// safe in a file name.
fn file_name(database: &str) -> String {
    let db: String = database
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "_-.".contains(c) { c } else { '_' })
        .collect();
    // The format has only numeric fields, so formatting cannot fail.
    let stamp = time::OffsetDateTime::now_utc().format(STAMP).unwrap_or_default();
    format!("restore_login-{db}-{stamp}")
}

/// `20261202T132935Z`: UTC, sortable, no characters a shell or a file system treats specially.
const STAMP: &[time::format_description::FormatItem<'_>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

/// `$XDG_STATE_HOME` when it is set to an absolute path, else `~/.local/state` ($HOME, else the
/// home in the password database).
fn state_base() -> Result<PathBuf, String> {
    if let Some(xdg) = std::env::var_os("XDG_STATE_HOME").map(PathBuf::from).filter(|p| p.is_absolute()) {
        return Ok(xdg);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| pgharden_privsep::Account::current().home)
        .ok_or_else(|| "neither XDG_STATE_HOME nor HOME is set".to_string())?;
    Ok(home.join(".local").join("state"))
}

/// `state_base()/pgharden`, created (mode 0700) where missing. Every directory from the base's
/// nearest existing ancestor down must be the user's own and no link: a home that belongs to
/// someone else (root with another user's HOME, say) is refused.
fn state_dir() -> Result<PathBuf, String> {
    let dir = state_base()?.join("pgharden");
    let uid = pgharden_privsep::Account::current().uid;
    let mut missing = Vec::new();
    let mut existing = dir.as_path();
    while std::fs::symlink_metadata(existing).is_err() {
        missing.push(existing.to_path_buf());
        existing = existing.parent().ok_or_else(|| format!("{} has no existing parent", dir.display()))?;
    }
    own_dir(existing, uid)?;
    for path in missing.iter().rev() {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        own_dir(path, uid)?;
    }
    own_dir(&dir, uid)?;
    Ok(dir)
}

fn own_dir(path: &Path, uid: u32) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return Err(format!("{}: not a directory (links are not followed)", path.display()));
    }
    if meta.uid() != uid {
        return Err(format!("{}: owned by uid {}, not by this user (uid {uid})", path.display(), meta.uid()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_name_keeps_only_safe_characters() {
        let name = file_name("app/../db x");
        assert!(name.starts_with("restore_login-app_.._db_x-"), "{name}");
        assert!(name.ends_with('Z') && !name.contains('/'), "{name}");
    }
}
