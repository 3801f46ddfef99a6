//! What can go wrong while renewing, with the file, cluster or certificate it concerns.

use std::path::PathBuf;

/// A renewal error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the PKI, or re-issuing from it, failed.
    #[error(transparent)]
    Pki(#[from] pgharden_pki::Error),

    /// Planning, writing or reloading a cluster's TLS files failed.
    #[error(transparent)]
    Cluster(#[from] pgharden_cluster::Error),

    /// The cluster's server certificate cannot be renewed from this PKI (a run's report names
    /// the data directory before the reason).
    #[error("{reason}")]
    NotFromPki {
        /// The cluster's data directory.
        data_dir: PathBuf,
        /// Why its certificate is not this PKI's to renew, as a sentence.
        reason: String,
    },

    /// The handshake after deploying did not show what was deployed.
    #[error("proof failed: {0}")]
    Proof(String),

    /// The CA passphrase could not be had.
    #[error("{0}")]
    Passphrase(String),
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
