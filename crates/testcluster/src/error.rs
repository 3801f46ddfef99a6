//! The crate's error type.
//!
//! Every variant carries enough context to debug a failed test from the message
//! alone: the command that was run, what it printed on stderr, and, when the
//! server is involved, the tail of the server log. Test output is often the only
//! artefact a CI failure leaves behind.

use std::path::PathBuf;

/// Everything that can go wrong while finding, creating, running or talking to a
/// cluster.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable PostgreSQL installation. The message says what to install.
    #[error("PostgreSQL installation not found at {path}: {reason}\n{hint}")]
    InstallationNotFound {
        /// The bin directory that was looked at.
        path: PathBuf,
        /// What exactly was missing or broken.
        reason: String,
        /// How to fix it (which package to install, which variable to set).
        hint: String,
    },

    /// No usable libfaketime for a [`crate::FakeClock`]. The message says what to install.
    #[error("libfaketime {reason}: {}\n{hint}", searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    FakeTimeNotFound {
        /// Every path that was looked at.
        searched: Vec<PathBuf>,
        /// What was wrong.
        reason: String,
        /// How to fix it.
        hint: String,
    },

    /// An external program (initdb, `postgres --version`, ...) failed.
    #[error("command failed ({status}): {command}\n--- stderr ---\n{stderr}\n--- stdout ---\n{stdout}")]
    Command {
        /// The command line, shell-quoted for copy and paste.
        command: String,
        /// Exit status or the reason it could not be spawned.
        status: String,
        /// Its standard error.
        stderr: String,
        /// Its standard output.
        stdout: String,
    },

    /// `psql` failed (connection refused, SQL error, ...).
    #[error("psql failed ({status}): {command}\n--- SQL ---\n{sql}\n--- stderr ---\n{stderr}")]
    Psql {
        /// The command line, shell-quoted.
        command: String,
        /// Exit status.
        status: String,
        /// The SQL that was sent on standard input.
        sql: String,
        /// psql's standard error (the server's error message is in here).
        stderr: String,
    },

    /// The server did not come up (exited early, or never became ready).
    #[error(
        "PostgreSQL server failed to start: {reason}\ncommand: {command}\n--- last lines of {log} ---\n{log_tail}"
    )]
    StartFailed {
        /// The postgres command line.
        command: String,
        /// Why we gave up.
        reason: String,
        /// Path of the server log.
        log: PathBuf,
        /// The last lines of the server log.
        log_tail: String,
    },

    /// The server did not stop within the fast and immediate shutdown timeouts
    /// and had to be killed, or could not be signalled.
    #[error(
        "PostgreSQL server (pid {pid}) failed to stop: {reason}\n--- last lines of server log ---\n{log_tail}"
    )]
    StopFailed {
        /// The postmaster's pid.
        pid: u32,
        /// What happened.
        reason: String,
        /// The last lines of the server log.
        log_tail: String,
    },

    /// A configuration reload was rejected by the server (in whole or in part).
    #[error("configuration reload failed: {reason}\n--- server log since SIGHUP ---\n{log}")]
    Reload {
        /// Summary of the failure.
        reason: String,
        /// The server log lines written since the SIGHUP was sent.
        log: String,
    },

    /// The operation needs a running server and there is none.
    #[error("PostgreSQL server is not running (data directory {data_dir})")]
    NotRunning {
        /// The cluster's data directory.
        data_dir: PathBuf,
    },

    /// `start_server` was called while the server is running.
    #[error("PostgreSQL server is already running (pid {pid})")]
    AlreadyRunning {
        /// The postmaster's pid.
        pid: u32,
    },

    /// The OS account for the server cannot be used.
    #[error("OS user for the cluster: {0}")]
    OsUser(String),

    /// A path given to a file helper is not a plain relative path inside the data
    /// directory.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The rejected path.
        path: String,
        /// Why.
        reason: String,
    },

    /// A filesystem or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, including the path.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }
}

/// Attach a context string to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|e| Error::io(context(), e))
    }
}

impl<T> IoContext<T> for nix::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|e| Error::io(context(), std::io::Error::from(e)))
    }
}
