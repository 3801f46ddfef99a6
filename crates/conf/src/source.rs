//! Where configuration files are read from, and the limits every read obeys.
//!
//! The files a configuration names (include targets, `include_dir` entries, pg_hba `@file` lists,
//! `postgresql.auto.conf`) belong to the cluster owner, who may be hostile to whoever runs pgharden
//! as root. So the loaders never touch the file system themselves: they read through a [`Source`]
//! the caller supplies, which may read with this process's credentials ([`Disk`]) or through a
//! helper running as the cluster owner. Every implementation must refuse FIFOs, devices, sockets
//! and directories without blocking and without side effects, and must refuse files larger than
//! [`MAX_FILE_BYTES`], so that a planted file can neither hang nor exhaust the reader.
//!
//! This module owns the trait, the limits and the `Disk` implementation. It does not parse
//! anything, and it does not decide which paths may be read (the caller's `Source` does).

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

/// Where configuration files are read from (this process's credentials, or an owner-side helper's).
pub trait Source {
    /// The whole contents of a regular file. A FIFO, device, socket or directory is an error
    /// (`io::ErrorKind::InvalidInput`, text "not a regular file (a FIFO)" etc.) and must be refused
    /// WITHOUT blocking; a file larger than [`MAX_FILE_BYTES`] is an error (`InvalidData`, naming
    /// the limit).
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;

    /// The entries of a directory: (file name, is a directory — following symlinks, as PostgreSQL's
    /// `get_dirent_type(look_through_symlinks = true)`). More than [`MAX_DIR_ENTRIES`] entries is
    /// an error (`InvalidData`).
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<(OsString, bool)>>;

    /// As `std::fs::canonicalize` (used for the include-cycle guard).
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;
}

/// The largest configuration file a `Source` returns: 16 MiB. PostgreSQL has no such limit, but a
/// real `postgresql.conf` or `pg_hba.conf` is a few hundred kilobytes at most.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// The most entries a directory listing (`include_dir`) may have.
pub const MAX_DIR_ENTRIES: usize = 10_000;

/// The most files one load (a root file with everything it includes, `@file` lists and
/// `postgresql.auto.conf` included) reads; a directory listing counts as a file, and so does an
/// `include_if_exists` target that turns out not to exist.
pub const MAX_LOAD_FILES: usize = 1_000;

/// The most bytes one load reads in all: 64 MiB. Every reference to a pg_hba `@file` counts the
/// bytes of its list again, as PostgreSQL reads the file once per reference.
pub const MAX_LOAD_BYTES: u64 = 64 << 20;

/// The most lines one load parses, in all its files: 100,000. PostgreSQL has no such limit, but
/// every line becomes a structure several times the size of its text (a pg_hba rule takes about
/// 800 bytes), and real configurations have a few thousand lines.
pub const MAX_LOAD_LINES: usize = 100_000;

/// The most pg_hba.conf / pg_ident.conf tokens one load parses, `@file` lists included (each
/// reference counts its list again): 1,000,000 (a token takes about 80 bytes). Counted before
/// parsing, as runs of characters other than blanks and commas, which are at least as many as
/// the tokens.
pub const MAX_LOAD_TOKENS: usize = 1_000_000;

/// This process's own credentials, with the same safety rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct Disk;

impl Source for Disk {
    /// The rules are `pgharden-privsep`'s, the same an owner-side helper follows: stat before
    /// opening (opening a device can have side effects, opening a FIFO blocks), open non-blocking,
    /// check the descriptor is the same regular file, read at most [`MAX_FILE_BYTES`].
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        pgharden_privsep::local::read(path, MAX_FILE_BYTES).map_err(pgharden_privsep::Error::into_io)
    }

    /// A symlink counts as what it points to; one that cannot be followed is not a directory, so
    /// that reading it later fails with the real reason.
    fn read_dir(&self, dir: &Path) -> io::Result<Vec<(OsString, bool)>> {
        let entries = pgharden_privsep::local::read_dir(dir).map_err(pgharden_privsep::Error::into_io)?;
        if entries.len() > MAX_DIR_ENTRIES {
            return Err(too_many_entries());
        }
        Ok(entries
            .into_iter()
            .map(|e| (e.file_name(), e.kind == pgharden_privsep::FileKind::Directory))
            .collect())
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        pgharden_privsep::local::canonicalize(path).map_err(pgharden_privsep::Error::into_io)
    }
}

/// The error for a file over `MAX_FILE_BYTES`, for `Source` implementations and the loaders.
pub(crate) fn too_large() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("larger than {MAX_FILE_BYTES} bytes (16 MiB), the limit for a configuration file"),
    )
}

pub(crate) fn too_many_entries() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("more than {MAX_DIR_ENTRIES} entries"))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn regular_files_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.conf");
        std::fs::write(&path, "x = 1\n").unwrap();
        assert_eq!(Disk.read(&path).unwrap(), b"x = 1\n");
        std::os::unix::fs::symlink(&path, dir.path().join("link.conf")).unwrap();
        assert_eq!(Disk.read(&dir.path().join("link.conf")).unwrap(), b"x = 1\n");
    }

    #[test]
    fn fifos_directories_and_devices_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.conf");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let started = Instant::now();
        for (path, what) in [
            (fifo.as_path(), "not a regular file (a FIFO)"),
            (dir.path(), "not a regular file (a directory)"),
            (Path::new("/dev/null"), "not a regular file (a character device)"),
        ] {
            let err = Disk.read(path).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{}", path.display());
            assert_eq!(err.to_string(), what);
        }
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn files_over_the_limit_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.conf");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(MAX_FILE_BYTES + 1).unwrap();
        let err = Disk.read(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("16777216 bytes (16 MiB)"), "{err}");
        file.set_len(MAX_FILE_BYTES).unwrap();
        assert_eq!(Disk.read(&path).unwrap().len() as u64, MAX_FILE_BYTES);
    }

    #[test]
    fn directory_entries_follow_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.conf"), "").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("sub"), dir.path().join("to-sub.conf")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("nowhere"), dir.path().join("dangling.conf")).unwrap();
        let mut entries = Disk.read_dir(dir.path()).unwrap();
        entries.sort();
        let expected: Vec<(OsString, bool)> = [("a.conf", false), ("dangling.conf", false), ("sub", true)]
            .into_iter()
            .chain([("to-sub.conf", true)])
            .map(|(n, d)| (OsString::from(n), d))
            .collect();
        assert_eq!(entries, expected);
    }

    #[test]
    fn huge_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..=MAX_DIR_ENTRIES {
            std::fs::File::create(dir.path().join(format!("{i}.conf"))).unwrap();
        }
        let err = Disk.read_dir(dir.path()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(err.to_string(), "more than 10000 entries");
        std::fs::remove_file(dir.path().join("0.conf")).unwrap();
        assert_eq!(Disk.read_dir(dir.path()).unwrap().len(), MAX_DIR_ENTRIES);
    }
}
