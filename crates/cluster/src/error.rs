//! The cluster crate's error type. Variants about files name the file; variants about the server
//! carry what it said.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: {reason}")]
    BadCluster { path: PathBuf, reason: String },

    #[error("{command} failed: {output}")]
    Command { command: String, output: String },

    #[error("the server did not accept the new configuration: {reason}")]
    Rejected { reason: String },

    /// A database operation failed or was refused (lock, restore, row-level security, queries).
    #[error("{reason}")]
    Database { reason: String },

    /// A file operation done as the cluster owner (or a home's owner) failed or was refused.
    #[error("{0}")]
    Files(#[from] pgharden_privsep::Error),

    /// An apply failed and was undone; `outcome` says what was restored.
    #[error("{cause}; {outcome}")]
    RolledBack { cause: Box<Error>, outcome: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub(crate) fn bad(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::BadCluster { path: path.into(), reason: reason.into() }
    }
}
