//! Helpers shared by the integration tests: files and FIFOs in a scratch directory, a deadline for
//! loads that could block, and `Source` implementations that record or serve what is read.

#![allow(dead_code, clippy::unwrap_used)]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use pgharden_conf::{Disk, Source};

/// Writes `text` to `dir/name`, creating parent directories.
pub(crate) fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// Makes a FIFO at `dir/name`. Nobody ever writes to it: opening it for reading would block.
pub(crate) fn fifo(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    path
}

/// Runs `f` on a thread and fails the test if it has not returned within 10 s (a read blocked
/// on a FIFO never returns).
pub(crate) fn within_10s<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => panic!("{what}: did not return within 10 s"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

/// One call a `Source` received.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Call {
    Read(PathBuf),
    ReadDir(PathBuf),
    Canonicalize(PathBuf),
}

impl Call {
    /// The call with `base` taken off its path, for comparisons that do not depend on where the
    /// files are.
    pub(crate) fn relative_to(&self, base: &Path) -> Self {
        let strip = |p: &PathBuf| p.strip_prefix(base).unwrap_or(p).to_path_buf();
        match self {
            Self::Read(p) => Self::Read(strip(p)),
            Self::ReadDir(p) => Self::ReadDir(strip(p)),
            Self::Canonicalize(p) => Self::Canonicalize(strip(p)),
        }
    }
}

/// `Disk`, recording every call.
#[derive(Debug, Default)]
pub(crate) struct Recording {
    pub calls: RefCell<Vec<Call>>,
}

impl Recording {
    pub(crate) fn calls_relative_to(&self, base: &Path) -> Vec<Call> {
        self.calls.borrow().iter().map(|c| c.relative_to(base)).collect()
    }
}

impl Source for Recording {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.calls.borrow_mut().push(Call::Read(path.to_path_buf()));
        Disk.read(path)
    }

    fn read_dir(&self, dir: &Path) -> io::Result<Vec<(OsString, bool)>> {
        self.calls.borrow_mut().push(Call::ReadDir(dir.to_path_buf()));
        Disk.read_dir(dir)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        self.calls.borrow_mut().push(Call::Canonicalize(path.to_path_buf()));
        Disk.canonicalize(path)
    }
}

/// Files served from memory under a directory that does not exist on disk: a loader that read
/// anything behind the `Source`'s back would find nothing there.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    files: BTreeMap<PathBuf, Vec<u8>>,
    dirs: BTreeSet<PathBuf>,
    pub calls: RefCell<Vec<Call>>,
}

impl Memory {
    /// Every file under `real` (recursively), served as if it were under `virtual_root`.
    pub(crate) fn copy_of(real: &Path, virtual_root: &Path) -> Self {
        let mut memory = Self::default();
        memory.add_dir(virtual_root);
        let mut stack = vec![real.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let target = virtual_root.join(path.strip_prefix(real).unwrap());
                if path.is_dir() {
                    memory.add_dir(&target);
                    stack.push(path);
                } else {
                    memory.files.insert(target, std::fs::read(&path).unwrap());
                }
            }
        }
        memory
    }

    fn add_dir(&mut self, dir: &Path) {
        self.dirs.insert(dir.to_path_buf());
    }

    fn exists(&self, path: &Path) -> bool {
        self.files.contains_key(path) || self.dirs.contains(path)
    }
}

impl Source for Memory {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.calls.borrow_mut().push(Call::Read(path.to_path_buf()));
        if self.dirs.contains(path) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file (a directory)"));
        }
        self.files.get(path).cloned().ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    fn read_dir(&self, dir: &Path) -> io::Result<Vec<(OsString, bool)>> {
        self.calls.borrow_mut().push(Call::ReadDir(dir.to_path_buf()));
        if !self.dirs.contains(dir) {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        let children = self.files.keys().map(|p| (p, false)).chain(self.dirs.iter().map(|p| (p, true)));
        Ok(children
            .filter(|(p, _)| p.parent() == Some(dir))
            .map(|(p, is_dir)| (p.file_name().unwrap().to_os_string(), is_dir))
            .collect())
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        self.calls.borrow_mut().push(Call::Canonicalize(path.to_path_buf()));
        if self.exists(path) { Ok(path.to_path_buf()) } else { Err(io::Error::from(io::ErrorKind::NotFound)) }
    }
}
