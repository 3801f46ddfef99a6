//! The one error type of the crate. Every variant that concerns a file names it, so the command line
//! can print the error as it is and the user knows where to look.

use std::path::PathBuf;

/// Everything that can go wrong in the PKI crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{0}: no such directory (run `pgharden pki init --dir {0}` first)")]
    NotAPki(PathBuf),

    #[error("{0}: already exists; pass --force to replace it")]
    Exists(PathBuf),

    #[error("{path}: {reason}")]
    BadFile { path: PathBuf, reason: String },

    #[error(
        "{path}: the CA key is encrypted and no passphrase was given (use --passphrase-file, PGHARDEN_CA_PASSPHRASE or a terminal prompt)"
    )]
    PassphraseRequired { path: PathBuf },

    #[error("{path}: wrong passphrase (the key could not be decrypted)")]
    WrongPassphrase { path: PathBuf },

    #[error("{path}: the private key does not belong to the certificate {cert}")]
    KeyMismatch { path: PathBuf, cert: PathBuf },

    #[error("{path}: the issuing CA cannot issue: {reason}")]
    BadIssuer { path: PathBuf, reason: String },

    #[error("invalid {what} {value:?}: {reason}")]
    InvalidInput { what: &'static str, value: String, reason: String },

    #[error("{0}")]
    Ledger(String),

    #[error("{}: {exhausted}", .ledger.display())]
    CrlNumber {
        /// The ledger that holds the exhausted number.
        ledger: PathBuf,
        exhausted: crate::ledger::CrlNumberExhausted,
    },

    #[error("certificate with serial {0} is not in this PKI's ledger")]
    UnknownSerial(String),

    #[error("could not build the certificate: {0}")]
    Generate(#[from] rcgen::Error),

    #[error("key encryption failed: {0}")]
    Encrypt(String),

    #[error(transparent)]
    Inspect(#[from] crate::inspect::InspectError),

    #[error(transparent)]
    Hostname(#[from] crate::hostname::HostnameError),

    /// A file operation done as another account (a home's owner) failed or was refused.
    #[error(transparent)]
    Files(#[from] pgharden_privsep::Error),
}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub(crate) fn bad_file(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::BadFile { path: path.into(), reason: reason.into() }
    }

    pub(crate) fn invalid(what: &'static str, value: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput { what, value: value.into(), reason: reason.into() }
    }
}
