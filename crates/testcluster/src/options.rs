//! What a test asks for when it creates a cluster: binaries, OS account, initdb arguments, server
//! settings and the server's extra environment.
//!
//! Owns: the options and their builder methods. Must not: validate them against a server (that
//! happens when [`crate::Cluster`] runs initdb and postgres, whose errors say what was wrong).

use crate::{Error, Installation};

/// What to create.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The binaries to use.
    pub install: Installation,
    /// The OS account for the server. `None`: `postgres` when running as root,
    /// else the current user. Only root can name another account.
    pub os_user: Option<String>,
    /// Extra `initdb` arguments, appended after the defaults, so they win
    /// (for example `--locale=...`, `--auth-local=peer`, `--data-checksums`).
    pub initdb_args: Vec<String>,
    /// Server settings passed as `-c name=value` on the postgres command line.
    /// Command-line settings override postgresql.conf and ALTER SYSTEM, so use
    /// [`crate::Cluster::append_conf`] for anything a test wants to change later.
    pub settings: Vec<(String, String)>,
    /// Environment variables for the postgres process, set on every start
    /// (restarts included), after the `PG*` and locale variables of the test
    /// process have been removed, so these win. A server the code under test
    /// restarts itself (with `pg_ctl`) does not get them.
    pub env: Vec<(String, String)>,
}

impl ClusterOptions {
    /// Defaults for `install`: automatic OS user, no extra arguments, settings or environment.
    pub fn new(install: Installation) -> Self {
        Self { install, os_user: None, initdb_args: Vec::new(), settings: Vec::new(), env: Vec::new() }
    }

    /// Defaults with [`Installation::for_tests`].
    pub fn for_tests() -> Result<Self, Error> {
        Ok(Self::new(Installation::for_tests()?))
    }

    /// Add a `-c name=value` server setting.
    pub fn setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((name.into(), value.into()));
        self
    }

    /// Add an initdb argument.
    pub fn initdb_arg(mut self, arg: impl Into<String>) -> Self {
        self.initdb_args.push(arg.into());
        self
    }

    /// Give the server the environment variable `name=value` (see the `env` field).
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Give the server every variable of `vars`, such as [`crate::FakeClock::env`].
    pub fn envs(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        self.env.extend(vars);
        self
    }
}
