//! Writing the units into a unit directory (`--install --unit-dir DIR`).
//!
//! Owns: refusing a unit directory another account could change (systemd runs what is in it as
//! root), and writing each unit atomically with mode 0644 — a fresh temp file, fsynced, renamed
//! over the old one, the directory fsynced — never through a symbolic link and never over
//! anything but a regular file (`pgharden_privsep::local::write_named`).
//! Must not: run systemctl: enabling the timer is the administrator's decision.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use pgharden_privsep::Account;

use crate::output::shown;

/// The mode of a unit file: systemd and `systemctl cat` read it as any user.
pub(super) const UNIT_MODE: u32 = 0o644;

/// Write `units` (file name, text) into `dir`; returns the paths written.
pub(super) fn install(dir: &Path, units: &[(&str, String)]) -> anyhow::Result<Vec<PathBuf>> {
    let dir = std::fs::canonicalize(dir).with_context(|| format!("--unit-dir {}", shown(dir.display())))?;
    check_unit_dir(&dir, Account::current().is_root())?;
    let mut written = Vec::new();
    for (name, text) in units {
        let path = dir.join(name);
        pgharden_privsep::local::write_named(&path, text.as_bytes(), UNIT_MODE)
            .with_context(|| format!("writing {}", shown(path.display())))?;
        written.push(path);
    }
    Ok(written)
}

/// A unit directory (canonical) is a directory; run as root, it and every directory above it
/// belong to root and no one else may write them — except a sticky root-owned one such as /tmp,
/// where others cannot rename what they do not own.
pub(super) fn check_unit_dir(dir: &Path, as_root: bool) -> anyhow::Result<()> {
    let meta = std::fs::metadata(dir).with_context(|| format!("--unit-dir {}", shown(dir.display())))?;
    if !meta.is_dir() {
        bail!("--unit-dir {}: not a directory", shown(dir.display()));
    }
    if !as_root {
        return Ok(());
    }
    let unsafe_dir = |path: &Path, meta: &std::fs::Metadata, sticky_ok: bool| -> Option<String> {
        let mode = meta.mode() & 0o7777;
        if meta.uid() != 0 {
            return Some(format!("{} belongs to uid {}, not root", shown(path.display()), meta.uid()));
        }
        let shared = mode & 0o022 != 0;
        if shared && !(sticky_ok && mode & 0o1000 != 0) {
            return Some(format!("{} is writable by others (mode {mode:04o})", shown(path.display())));
        }
        None
    };
    if let Some(why) = unsafe_dir(dir, &meta, false) {
        bail!("--unit-dir {}: {why}; systemd would run as root what they put there", shown(dir.display()));
    }
    for parent in dir.ancestors().skip(1) {
        let meta = std::fs::metadata(parent).with_context(|| shown(parent.display()))?;
        if let Some(why) = unsafe_dir(parent, &meta, true) {
            bail!(
                "--unit-dir {}: {why}, so another account could replace the units systemd runs as root",
                shown(dir.display())
            );
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode_of(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn units_are_written_0644_and_replaced_in_place() {
        let tmp = tempfile::tempdir().unwrap();
        let written =
            install(tmp.path(), &[("a.service", "one\n".into()), ("a.timer", "two\n".into())]).unwrap();
        assert_eq!(written.len(), 2);
        for path in &written {
            assert_eq!(mode_of(path), UNIT_MODE, "{}", path.display());
        }
        std::fs::set_permissions(&written[0], std::fs::Permissions::from_mode(0o600)).unwrap();
        install(tmp.path(), &[("a.service", "three\n".into())]).unwrap();
        assert_eq!(std::fs::read_to_string(&written[0]).unwrap(), "three\n");
        assert_eq!(mode_of(&written[0]), UNIT_MODE);
        let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "no temp file is left behind: {names:?}");
    }

    #[test]
    fn a_link_or_a_directory_at_a_unit_path_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::write(&elsewhere, "keep\n").unwrap();
        let units = tmp.path().join("units");
        std::fs::create_dir(&units).unwrap();
        std::os::unix::fs::symlink(&elsewhere, units.join("a.service")).unwrap();
        let err = format!("{:#}", install(&units, &[("a.service", "x\n".into())]).unwrap_err());
        assert!(err.contains("a.service"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&elsewhere).unwrap(),
            "keep\n",
            "nothing written through the link"
        );
        std::fs::create_dir(units.join("a.timer")).unwrap();
        let err = format!("{:#}", install(&units, &[("a.timer", "x\n".into())]).unwrap_err());
        assert!(err.contains("a.timer"), "{err}");
    }

    #[test]
    fn a_unit_dir_others_can_write_is_refused_when_root() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        check_unit_dir(&dir, true).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = check_unit_dir(&dir, true).unwrap_err().to_string();
        assert!(err.contains("writable by others") && err.contains("0777"), "{err}");
        check_unit_dir(&dir, false).expect("not root: the directory is the caller's business");
        let inner = dir.join("inner");
        std::fs::create_dir(&inner).unwrap();
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = check_unit_dir(&inner, true).unwrap_err().to_string();
        assert!(err.contains("another account could replace"), "a parent others can write: {err}");
        let file = dir.join("file");
        std::fs::write(&file, "").unwrap();
        assert!(check_unit_dir(&file, true).unwrap_err().to_string().contains("not a directory"));
    }

    #[test]
    fn a_unit_dir_owned_by_another_account_is_refused_when_root() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        let nobody = nix::unistd::User::from_name("nobody").unwrap().expect("the nobody account exists");
        nix::unistd::chown(&dir, Some(nobody.uid), None).unwrap();
        let err = check_unit_dir(&dir, true).unwrap_err().to_string();
        assert!(err.contains(&format!("belongs to uid {}", nobody.uid)), "{err}");
    }
}
