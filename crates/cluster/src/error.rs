//! The cluster crate's error type. Variants about files name the file; variants about the server
//! carry what it said, and the connection and query failures keep pgconn's error as their source,
//! so a caller can read the SQLSTATE ([`Error::sqlstate`]) instead of matching on words: 42501
//! (permission denied), 3D000 (no such database), 28000/28P01 (refused by pg_hba.conf or a wrong
//! password) are told apart from a server that is down ([`Error::Socket`], or a `Connect` without
//! a SQLSTATE).

use std::path::PathBuf;

/// The most of a server's error message kept in a rendered query error: pgconn already caps what a
/// hostile server may send, this cuts it to a readable size.
const MAX_MESSAGE_TEXT: usize = 2000;

/// The most of a statement shown in a query error (its first line only).
const MAX_SQL_TEXT: usize = 200;

/// Everything that can go wrong acting on a cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file pgharden reads or writes itself could not be.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory acted on.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },

    /// The cluster's files, or what is needed to act on them (a port, an OS account, a server
    /// directory), are not as pgharden needs them.
    #[error("{path}: {reason}")]
    BadCluster {
        /// The file, directory or thing at fault.
        path: PathBuf,
        /// What is wrong, as one sentence for the user.
        reason: String,
    },

    /// A server tool (`initdb`, `pg_ctl`, `pg_ctlcluster`) could not run or exited with a failure.
    #[error("{command} failed: {output}")]
    Command {
        /// The command as it ran, for the user to repeat.
        command: String,
        /// What it printed (capped), or why it could not be started.
        output: String,
    },

    /// pg_ctl could not start (or restart) the server; `said` holds the server's own FATAL and
    /// PANIC lines from what this start wrote to `log`.
    #[error("{command} failed: {output}; {}", said_in(.log, .said))]
    StartFailed {
        /// The pg_ctl command as it ran.
        command: String,
        /// What pg_ctl printed (capped).
        output: String,
        /// The log file pg_ctl was told to write the server's output to.
        log: PathBuf,
        /// The server's FATAL and PANIC lines from this start, oldest first.
        said: Vec<String>,
    },

    /// The server reports errors in the configuration files pgharden wrote (its file views, read
    /// before a reload or restart), or gave discovery an answer it cannot use.
    #[error("the server did not accept the new configuration: {reason}")]
    Rejected {
        /// What the server reported.
        reason: String,
    },

    /// A database operation failed or was refused for a reason of pgharden's own (a ledger that
    /// cannot be trusted, a connection that is not a superuser's). Failures the server or the
    /// connection reported are [`Error::Connect`] and [`Error::Query`].
    #[error("{reason}")]
    Database {
        /// Why, as one sentence for the user.
        reason: String,
    },

    /// The server's Unix socket could not be connected as the cluster owner: no server listens
    /// there (it stopped, or listens in another directory), or the owner may not reach it.
    #[error("connecting to {target}: {}", .source.detail())]
    Socket {
        /// What was being reached: database, role, socket path and OS user.
        target: String,
        /// Why the socket could not be reached.
        #[source]
        source: pgharden_privsep::Error,
    },

    /// A connection was refused or failed; `source` says why in libpq's words, with the server's
    /// SQLSTATE when the server itself refused (28000, 28P01, 3D000, 53300 …).
    #[error("connecting to {target}: {source}{}", .hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Connect {
        /// What was being reached (`role@dbname`, and the way for a local connection).
        target: String,
        /// Boxed: pgconn's error is large, and every `Result` of this crate would carry its size.
        #[source]
        source: Box<pgharden_pgconn::Error>,
        /// What the operator can do about it, when pgharden knows.
        hint: Option<String>,
    },

    /// A statement failed; the message is the server's, with its SQLSTATE, the statement's first
    /// line and the connection it ran on.
    #[error("{}", query_message(.source, .sql, .via))]
    Query {
        /// The statement that failed.
        sql: String,
        /// The connection (`role@dbname via …`).
        via: String,
        /// The server's error (with its SQLSTATE) or the connection failure.
        #[source]
        source: Box<pgharden_pgconn::Error>,
    },

    /// Certificates, keys or CRLs that cannot be used; the PKI's message names the file.
    #[error(transparent)]
    Pki(#[from] pgharden_pki::Error),

    /// A CONNINFO that libpq would not accept either.
    #[error("CONNINFO: {0}")]
    Conninfo(#[source] Box<pgharden_pgconn::Error>),

    /// A file operation done as the cluster owner (or a home's owner) failed or was refused.
    #[error("{0}")]
    Files(#[from] pgharden_privsep::Error),

    /// An apply failed and was undone; `outcome` says what was restored.
    #[error("{cause}; {outcome}")]
    RolledBack {
        /// What made the apply fail.
        cause: Box<Self>,
        /// What the rollback restored, or what it could not.
        outcome: String,
    },
}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    pub(crate) fn bad(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::BadCluster { path: path.into(), reason: reason.into() }
    }

    /// The SQLSTATE the server sent with this failure, if the server sent one: for a refused
    /// connection, a failed statement, or the cause of a rolled-back apply. `None` for everything
    /// the server did not say (a server that is down, a file problem, pgharden's own refusals).
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Self::Connect { source, .. } | Self::Query { source, .. } => source.sqlstate(),
            Self::RolledBack { cause, .. } => cause.sqlstate(),
            _ => None,
        }
    }
}

/// What the server said in its log when a start failed, naming the log.
fn said_in(log: &std::path::Path, said: &[String]) -> String {
    if said.is_empty() {
        format!("{} holds no FATAL or PANIC line from this start (the server's own log may)", log.display())
    } else {
        format!("the server said in {}: {}", log.display(), said.join(" | "))
    }
}

/// `message (SQLSTATE) [first line of the statement; via connection]`, each part cut to size.
fn query_message(source: &pgharden_pgconn::Error, sql: &str, via: &str) -> String {
    let message = match source.sqlstate() {
        Some(code) => format!("{source} ({code})"),
        None => source.to_string(),
    };
    let first_line = sql.lines().next().unwrap_or(sql);
    format!(
        "{} [{}; via {via}]",
        pgharden_text::cut(&message, MAX_MESSAGE_TEXT),
        pgharden_text::cut(first_line, MAX_SQL_TEXT)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(code: &str) -> Box<pgharden_pgconn::Error> {
        Box::new(
            pgharden_pgconn::QueryError {
                sqlstate: Some(code.to_string()),
                message: "ERROR:  permission denied for table secret".to_string(),
            }
            .into(),
        )
    }

    #[test]
    fn the_sqlstate_survives_wrapping() {
        let query = Error::Query {
            sql: "SELECT * FROM secret\nWHERE true".into(),
            via: "postgres@postgres".into(),
            source: server_error("42501"),
        };
        assert_eq!(query.sqlstate(), Some("42501"));
        assert_eq!(
            query.to_string(),
            "ERROR:  permission denied for table secret (42501) [SELECT * FROM secret; via postgres@postgres]"
        );
        let rolled = Error::RolledBack { cause: Box::new(query), outcome: "every file was restored".into() };
        assert_eq!(rolled.sqlstate(), Some("42501"));
        let timeout = Error::Query {
            sql: "SELECT pg_sleep(60)".into(),
            via: "x".into(),
            source: Box::new(pgharden_pgconn::Error::QueryTimeout(std::time::Duration::from_secs(5))),
        };
        assert_eq!(timeout.sqlstate(), None, "a timeout is not the server's verdict");
        assert_eq!(Error::Database { reason: "no".into() }.sqlstate(), None);
    }

    #[test]
    fn a_hint_follows_the_connection_failure() {
        let err =
            Error::Connect { target: "postgres as bob".into(), source: server_error("28000"), hint: None };
        assert!(!err.to_string().contains('('), "{err}");
        let err = Error::Connect {
            target: "postgres as bob".into(),
            source: server_error("28000"),
            hint: Some("pg_hba.conf must allow it".into()),
        };
        assert!(err.to_string().starts_with("connecting to postgres as bob: ERROR:"), "{err}");
        assert!(err.to_string().ends_with(" (pg_hba.conf must allow it)"), "{err}");
        assert_eq!(err.sqlstate(), Some("28000"));
    }
}
