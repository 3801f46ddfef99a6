//! The part of the outside world libpq consults for defaults.
//!
//! Owns: [`Env`] — the `PG*` environment variables, the home directory, the OS user name and the
//! default Unix socket directory — captured once from the process ([`Env::from_process`]) or
//! built by hand in tests, so resolving a conninfo never reads global state behind the caller's back.
//! Must not: read files or the process environment anywhere but in [`Env::from_process`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Debian's and Ubuntu's libpq default Unix socket directory (`DEFAULT_PGSOCKET_DIR` as Debian
/// builds it).
pub const DEBIAN_SOCKET_DIR: &str = "/var/run/postgresql";
/// Upstream libpq's compiled-in default Unix socket directory.
pub const LIBPQ_SOCKET_DIR: &str = "/tmp";
/// libpq's default port (`DEF_PGPORT`).
pub const DEFAULT_PORT: u16 = 5432;

/// Environment variables, home directory, OS user and socket directory, as libpq would see them.
#[derive(Clone, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, String>,
    home: Option<PathBuf>,
    os_user: Option<String>,
    euid: u32,
    socket_dir: PathBuf,
}

impl Env {
    /// Nothing set: no variables, no home directory, no OS user, Debian's socket directory.
    pub fn new() -> Self {
        Self {
            vars: BTreeMap::new(),
            home: None,
            os_user: None,
            euid: 0,
            socket_dir: PathBuf::from(DEBIAN_SOCKET_DIR),
        }
    }

    /// The process's view, as libpq takes it:
    /// * every environment variable whose name starts with `PG` (non-UTF-8 values are skipped);
    /// * the home directory: `$HOME` if set and non-empty, else the passwd entry of the effective
    ///   uid (current libpq's `pqGetHomeDirectory`; older releases consulted only passwd);
    /// * the OS user: the passwd name of the effective uid (`pg_fe_getauthname`);
    /// * the socket directory: [`DEBIAN_SOCKET_DIR`] if it exists, else [`LIBPQ_SOCKET_DIR`].
    pub fn from_process() -> Self {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| k.starts_with("PG"))
            .collect();
        let euid = nix::unistd::geteuid();
        let passwd = nix::unistd::User::from_uid(euid).ok().flatten();
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .or_else(|| passwd.as_ref().map(|u| u.dir.clone()));
        let socket_dir =
            if Path::new(DEBIAN_SOCKET_DIR).is_dir() { DEBIAN_SOCKET_DIR } else { LIBPQ_SOCKET_DIR };
        Self {
            vars,
            home,
            os_user: passwd.map(|u| u.name),
            euid: euid.as_raw(),
            socket_dir: PathBuf::from(socket_dir),
        }
    }

    /// Set an environment variable (an empty value counts as set, as with `getenv`).
    pub fn with_var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Set the home directory (where `.pgpass` and `.postgresql/` are looked for).
    pub fn with_home(mut self, home: impl Into<PathBuf>) -> Self {
        self.home = Some(home.into());
        self
    }

    /// Set the OS user name (the default `user`).
    pub fn with_os_user(mut self, name: &str) -> Self {
        self.os_user = Some(name.to_owned());
        self
    }

    /// Set the default Unix socket directory.
    pub fn with_socket_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.socket_dir = dir.into();
        self
    }

    /// An environment variable.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The home directory, if known.
    pub fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }

    /// The OS user name, if known.
    pub fn os_user(&self) -> Option<&str> {
        self.os_user.as_deref()
    }

    /// The effective uid the OS user was looked up for.
    pub fn euid(&self) -> u32 {
        self.euid
    }

    /// The default Unix socket directory.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Env {
    /// Variable names only: `PGPASSWORD`'s value must not reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .field("home", &self.home)
            .field("os_user", &self.os_user)
            .field("socket_dir", &self.socket_dir)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_values() {
        let env = Env::new().with_var("PGPASSWORD", "hunter2");
        assert!(!format!("{env:?}").contains("hunter2"));
        assert_eq!(env.var("PGPASSWORD"), Some("hunter2"));
    }

    #[test]
    fn from_process_finds_a_user_and_socket_dir() {
        let env = Env::from_process();
        assert!(env.os_user().is_some());
        assert!(
            env.socket_dir() == Path::new(DEBIAN_SOCKET_DIR)
                || env.socket_dir() == Path::new(LIBPQ_SOCKET_DIR)
        );
    }
}
