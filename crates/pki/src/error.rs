//! The one error type of the crate. Every variant that concerns a file names it, so the command line
//! can print the error as it is and the user knows where to look.

use std::path::PathBuf;

/// Everything that can go wrong in the PKI crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading, writing or locking a file in the PKI failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory that was acted on.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },

    /// The directory holds no ledger: it is not a PKI (yet).
    #[error("{0}: no such directory (run `pgharden pki init --dir {0}` first)")]
    NotAPki(PathBuf),

    /// The file would be overwritten and the caller did not ask for `force`.
    #[error("{0}: already exists; pass --force to replace it")]
    Exists(PathBuf),

    #[error("{path}: {reason}")]
    /// A file exists but its contents are unusable (not PEM, wrong type, out of date, ...).
    BadFile {
        /// The file that was read.
        path: PathBuf,
        /// What is wrong with it, as one sentence for the user.
        reason: String,
    },

    #[error(
        "{path}: the CA key is encrypted and no passphrase was given (use --passphrase-file, PGHARDEN_CA_PASSPHRASE or a terminal prompt)"
    )]
    /// An encrypted CA key was needed and the caller passed no passphrase.
    PassphraseRequired {
        /// The encrypted key file.
        path: PathBuf,
    },

    #[error("{path}: wrong passphrase (the key could not be decrypted)")]
    /// The passphrase does not decrypt the key.
    WrongPassphrase {
        /// The encrypted key file.
        path: PathBuf,
    },

    #[error("{path}: the private key does not belong to the certificate {cert}")]
    /// A key file and the certificate next to it hold different public keys.
    KeyMismatch {
        /// The private key file.
        path: PathBuf,
        /// The certificate the key should belong to.
        cert: PathBuf,
    },

    #[error("{path}: the issuing CA cannot issue: {reason}")]
    /// A CA certificate cannot sign: expired, not a CA, or without the key usage for it.
    BadIssuer {
        /// The CA certificate.
        path: PathBuf,
        /// Why it cannot issue, as one sentence for the user.
        reason: String,
    },

    #[error("invalid {what} {value:?}: {reason}")]
    /// A caller-supplied value (a flag, a host name, a serial) is out of range or malformed.
    InvalidInput {
        /// What the value is, usually the flag it came from (`--days`).
        what: &'static str,
        /// The value as given.
        value: String,
        /// Why it is refused.
        reason: String,
    },

    /// The ledger cannot be written, or disagrees with itself or with the files it records.
    #[error("{0}")]
    Ledger(String),

    /// A CA's CRL number has reached `u64::MAX`; its CRL cannot be reissued.
    #[error("{}: {exhausted}", .ledger.display())]
    CrlNumber {
        /// The ledger that holds the exhausted number.
        ledger: PathBuf,
        /// Which CA ran out.
        exhausted: crate::ledger::CrlNumberExhausted,
    },

    /// No certificate in the ledger has this serial (hex, as normalised).
    #[error("certificate with serial {0} is not in this PKI's ledger")]
    UnknownSerial(String),

    /// rcgen refused to build or sign a certificate or CRL.
    #[error("could not build the certificate: {0}")]
    Generate(#[from] rcgen::Error),

    /// A new key could not be encoded or encrypted as PKCS#8.
    #[error("key encryption failed: {0}")]
    Encrypt(String),

    /// A certificate, CRL or key file did not parse.
    #[error(transparent)]
    Inspect(#[from] crate::inspect::InspectError),

    /// libpq would abort its host-name check of a certificate with an error of its own.
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
        Self::Io { path: path.into(), source }
    }

    pub(crate) fn bad_file(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::BadFile { path: path.into(), reason: reason.into() }
    }

    pub(crate) fn invalid(what: &'static str, value: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidInput { what, value: value.into(), reason: reason.into() }
    }
}
