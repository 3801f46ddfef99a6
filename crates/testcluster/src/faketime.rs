//! A moved clock for test servers and commands, with libfaketime.
//!
//! Certificates and CRLs expire; tests of what happens then cannot wait 30 days. A [`FakeClock`]
//! owns an offset file and gives the environment that makes a process preload libfaketime and read
//! its time as the real time plus that offset: hand [`FakeClock::env`] to
//! [`crate::ClusterOptions::envs`] for a server, or to `Command::envs` for any other program. Each
//! read of the clock reads the file again (`FAKETIME_NO_CACHE=1`), so [`FakeClock::set`] moves the
//! clock of every running process at once, without a restart; monotonic clocks are left alone
//! (`FAKETIME_DONT_FAKE_MONOTONIC=1`), so timeouts and deadlines are not thrown by a jump.
//!
//! Owns: finding the library, the offset file (in a directory of its own, removed on drop) and the
//! environment. Must not: skip when libfaketime is missing (that is an error naming the package),
//! or touch the real clock. A process started without the environment, such as a server the code
//! under test restarts with `pg_ctl` and a fixed environment, runs on the real clock: restart it
//! with [`crate::Cluster::restart`] to put it back under the fake one.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tempfile::TempDir;

use crate::Error;
use crate::error::IoContext;

/// Environment variable naming the libfaketime library to use instead of searching for it.
pub const LIBFAKETIME_ENV: &str = "PGHARDEN_TEST_LIBFAKETIME";

/// The library's file name (Debian's package `libfaketime`; `libfaketimeMT` is the variant that
/// serialises threads, which no test needs).
const LIBRARY: &str = "libfaketime.so.1";

/// Where distributions put it, below each root: Debian's multiarch directories
/// (`/usr/lib/<triplet>/faketime`) first, then the plain ones (Fedora, Arch, source builds).
const ROOTS: [&str; 3] = ["/usr/lib", "/usr/lib64", "/usr/local/lib"];

/// A clock `offset` seconds away from the real one, for every process given [`FakeClock::env`].
#[derive(Debug)]
pub struct FakeClock {
    library: PathBuf,
    /// Holds the offset file; mode 0755 and root's (or the caller's), so the server's OS user can
    /// read the file but never change it.
    dir: TempDir,
    file: PathBuf,
    offset: AtomicI64,
}

impl FakeClock {
    /// A clock at the real time (offset 0), preloading `$PGHARDEN_TEST_LIBFAKETIME` if set, else
    /// the first `faketime/libfaketime.so.1` in this machine's multiarch and usual library
    /// directories. None is an error that says what to install.
    pub fn new() -> Result<Self, Error> {
        Self::with_library(find_library()?)
    }

    /// A clock at the real time that preloads `library`.
    pub fn with_library(library: impl Into<PathBuf>) -> Result<Self, Error> {
        let library = library.into();
        if !library.is_file() {
            return Err(not_found(vec![library], "does not exist"));
        }
        let dir = tempfile::Builder::new()
            .prefix("pgharden-faketime-")
            .tempdir_in(std::env::temp_dir())
            .ctx(|| format!("creating a temporary directory in {}", std::env::temp_dir().display()))?;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))
            .ctx(|| format!("setting mode 755 on {}", dir.path().display()))?;
        let file = dir.path().join("offset");
        let clock = Self { library, file, dir, offset: AtomicI64::new(0) };
        clock.set(0)?;
        Ok(clock)
    }

    /// Move the clock to the real time plus `offset_seconds` (negative: into the past). The file
    /// is replaced by a rename, so a process reading it sees the old offset or the new one, never
    /// a partial write; every read of the clock after this returns sees the new one.
    pub fn set(&self, offset_seconds: i64) -> Result<(), Error> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let tmp = self.dir.path().join(format!(".offset-{}", COUNTER.fetch_add(1, Ordering::Relaxed)));
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(&tmp)
                .ctx(|| format!("creating {}", tmp.display()))?;
            // The umask may have taken the read bits the server's OS user needs.
            f.set_permissions(fs::Permissions::from_mode(0o644))
                .ctx(|| format!("setting mode 644 on {}", tmp.display()))?;
            f.write_all(offset_text(offset_seconds).as_bytes())
                .ctx(|| format!("writing {}", tmp.display()))?;
            drop(f);
            fs::rename(&tmp, &self.file)
                .ctx(|| format!("renaming {} to {}", tmp.display(), self.file.display()))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result?;
        self.offset.store(offset_seconds, Ordering::SeqCst);
        Ok(())
    }

    /// The offset last set, in seconds.
    pub fn offset(&self) -> i64 {
        self.offset.load(Ordering::SeqCst)
    }

    /// The time processes under this clock read now: the real time plus the offset.
    pub fn now(&self) -> SystemTime {
        let offset = self.offset();
        let real = SystemTime::now();
        let delta = Duration::from_secs(offset.unsigned_abs());
        if offset >= 0 { real + delta } else { real - delta }
    }

    /// The environment that puts a process under this clock: `LD_PRELOAD`,
    /// `FAKETIME_TIMESTAMP_FILE`, `FAKETIME_NO_CACHE=1` and `FAKETIME_DONT_FAKE_MONOTONIC=1`.
    /// `LD_PRELOAD` is replaced, not extended: test processes preload nothing else.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("LD_PRELOAD".to_owned(), self.library.to_string_lossy().into_owned()),
            ("FAKETIME_TIMESTAMP_FILE".to_owned(), self.file.to_string_lossy().into_owned()),
            ("FAKETIME_NO_CACHE".to_owned(), "1".to_owned()),
            ("FAKETIME_DONT_FAKE_MONOTONIC".to_owned(), "1".to_owned()),
        ]
    }

    /// The offset file libfaketime reads.
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// The libfaketime library preloaded.
    pub fn library(&self) -> &Path {
        &self.library
    }
}

/// libfaketime's relative format: a sign and a number of seconds.
fn offset_text(offset_seconds: i64) -> String {
    if offset_seconds < 0 { format!("{offset_seconds}\n") } else { format!("+{offset_seconds}\n") }
}

/// The libfaketime library: `$PGHARDEN_TEST_LIBFAKETIME` if set, else the first of this machine's
/// multiarch directories and the usual library directories that has `faketime/libfaketime.so.1`.
/// None is an error that says what to install; tests that need a moved clock fail, never skip.
pub(crate) fn find_library() -> Result<PathBuf, Error> {
    match std::env::var_os(LIBFAKETIME_ENV) {
        Some(path) if !path.is_empty() => {
            let path = PathBuf::from(path);
            if path.is_file() {
                Ok(path)
            } else {
                Err(not_found(vec![path], &format!("named by ${LIBFAKETIME_ENV}, does not exist")))
            }
        }
        _ => find_library_in(&ROOTS.map(PathBuf::from)),
    }
}

/// [`find_library`] below `roots` instead of the system's library directories: for each root,
/// `ROOT/<this machine's triplet>/faketime/` (Debian multiarch), then `ROOT/faketime/`.
pub(crate) fn find_library_in(roots: &[PathBuf]) -> Result<PathBuf, Error> {
    let mut searched = Vec::new();
    for root in roots {
        for dir in multiarch_dirs(root).into_iter().chain([root.clone()]) {
            let candidate = dir.join("faketime").join(LIBRARY);
            if candidate.is_file() {
                return Ok(candidate);
            }
            searched.push(candidate);
        }
    }
    Err(not_found(searched, "not found"))
}

/// `root`'s subdirectories named for this machine's architecture (`x86_64-linux-gnu`, …). A
/// library of another architecture would be refused by the dynamic loader with only a warning,
/// and the process would run on the real clock, so those are never candidates.
fn multiarch_dirs(root: &Path) -> Vec<PathBuf> {
    let prefix = match std::env::consts::ARCH {
        "x86" => "i386-",
        "powerpc64" => "powerpc64",
        arch => arch,
    };
    let Ok(entries) = fs::read_dir(root) else { return Vec::new() };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(prefix) && name.contains("-linux-")
        })
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

fn not_found(searched: Vec<PathBuf>, reason: &str) -> Error {
    Error::FakeTimeNotFound {
        searched,
        reason: reason.to_owned(),
        hint: format!(
            "Install libfaketime (Debian/Ubuntu: `apt-get install libfaketime`; `scripts/deps` does it), \
             or set {LIBFAKETIME_ENV} to the path of {LIBRARY}."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_written_in_the_relative_format() {
        assert_eq!(offset_text(0), "+0\n");
        assert_eq!(offset_text(90_000), "+90000\n");
        assert_eq!(offset_text(-3600), "-3600\n");
    }

    #[test]
    fn the_library_is_found_in_this_architectures_multiarch_directory() {
        let roots = tempfile::tempdir().unwrap();
        let root = roots.path().to_path_buf();
        let arch = std::env::consts::ARCH;
        let other = if arch == "x86_64" { "aarch64" } else { "x86_64" };
        // Another architecture's copy is never taken.
        let foreign = root.join(format!("{other}-linux-gnu/faketime"));
        fs::create_dir_all(&foreign).unwrap();
        fs::write(foreign.join(LIBRARY), b"").unwrap();
        let err = find_library_in(std::slice::from_ref(&root)).unwrap_err().to_string();
        assert!(err.contains("apt-get install libfaketime"), "{err}");
        assert!(err.contains(&root.join("faketime").join(LIBRARY).display().to_string()), "{err}");

        let plain = root.join("faketime");
        fs::create_dir_all(&plain).unwrap();
        fs::write(plain.join(LIBRARY), b"").unwrap();
        assert_eq!(find_library_in(std::slice::from_ref(&root)).unwrap(), plain.join(LIBRARY));

        // Ours wins over the plain directory.
        let own = root.join(format!("{arch}-linux-gnu/faketime"));
        fs::create_dir_all(&own).unwrap();
        fs::write(own.join(LIBRARY), b"").unwrap();
        assert_eq!(find_library_in(&[root]).unwrap(), own.join(LIBRARY));
    }

    #[test]
    fn a_missing_library_is_an_error_naming_the_package() {
        let err = FakeClock::with_library("/nonexistent/libfaketime.so.1").unwrap_err().to_string();
        assert!(err.contains("/nonexistent/libfaketime.so.1"), "{err}");
        assert!(err.contains("apt-get install libfaketime"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = find_library_in(&[empty.path().to_path_buf()]).unwrap_err().to_string();
        assert!(err.contains("libfaketime"), "{err}");
    }
}
