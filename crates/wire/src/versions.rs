//! Which TLS versions does the server agree to? One connection per version.
//!
//! Owns: for each version, SSLRequest, the hand-written single-version ClientHello from `hello`,
//! and the classification of the server's first record (ServerHello for the offered version =
//! accepted; an alert, another version or a hang-up = refused).
//! Must not: finish a handshake or interpret alerts beyond naming them — the server's OpenSSL
//! decides, and this module reports what it said.

use std::fmt;

use serde::Serialize;

use crate::alert::Alert;
use crate::error::{CloseKind, Sent};
use crate::hello::{ServerReply, client_hello, read_server_reply};
use crate::negotiate::start_tls;
use crate::version::TlsVersionName;
use crate::{Error, ProbeTarget};

/// The server's verdict on one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum VersionOutcome {
    /// A ServerHello for the offered version.
    Accepted {
        /// The cipher suite the server picked from our offer (its wire code).
        cipher_suite: u16,
        /// TLS 1.3 only: the server asked for a key share in another group first.
        hello_retry_request: bool,
    },
    /// No ServerHello for the offered version; how the server refused.
    Refused(Refusal),
}

impl VersionOutcome {
    /// Whether the server speaks the version.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Self::Accepted { .. })
    }
}

/// How a version was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum Refusal {
    /// An alert: protocol_version (the version is below the server's minimum or above its
    /// maximum), handshake_failure, insufficient_security, internal_error...
    Alert {
        /// The alert it sent.
        alert: Alert,
    },
    /// A ServerHello for a different version (possible only below the offered one).
    OtherVersion {
        /// The wire code of the version it answered with.
        version: u16,
    },
    /// The server hung up without a word.
    Closed {
        /// `closed` or `reset`.
        how: String,
    },
}

impl fmt::Display for VersionOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Accepted { cipher_suite, hello_retry_request } => {
                write!(f, "accepted (cipher suite 0x{cipher_suite:04x}")?;
                if *hello_retry_request {
                    f.write_str(", after a HelloRetryRequest")?;
                }
                f.write_str(")")
            }
            Self::Refused(Refusal::Alert { alert }) => write!(f, "refused with alert {alert}"),
            Self::Refused(Refusal::OtherVersion { version }) => {
                write!(f, "refused: the server answered with version 0x{version:04x}")
            }
            Self::Refused(Refusal::Closed { how }) => {
                write!(f, "refused: the connection was {how}")
            }
        }
    }
}

/// Probe TLS 1.0, 1.1, 1.2 and 1.3, in that order, one connection each.
pub fn tls_versions(target: &ProbeTarget) -> Result<Vec<(TlsVersionName, VersionOutcome)>, Error> {
    TlsVersionName::ALL.into_iter().map(|v| tls_version(target, v).map(|o| (v, o))).collect()
}

/// Offer `version` alone after an SSLRequest and report whether the server agreed.
pub fn tls_version(target: &ProbeTarget, version: TlsVersionName) -> Result<VersionOutcome, Error> {
    let mut link = start_tls(target)?;
    let hello = client_hello(version, &random()?, &random()?);
    link.send(Sent::ClientHello(version), &hello)?;
    let outcome = match read_server_reply(&mut link) {
        Ok(ServerReply::Alert(alert)) => VersionOutcome::Refused(Refusal::Alert { alert }),
        Ok(ServerReply::Hello(h)) if h.version() == version.code() => VersionOutcome::Accepted {
            cipher_suite: h.cipher_suite,
            hello_retry_request: h.hello_retry_request,
        },
        Ok(ServerReply::Hello(h)) => VersionOutcome::Refused(Refusal::OtherVersion { version: h.version() }),
        Err(e) => match link.fail(e) {
            Error::Closed { how, received, .. } if received.0.is_empty() => {
                let how = if how == CloseKind::Reset { "reset" } else { "closed" };
                VersionOutcome::Refused(Refusal::Closed { how: how.to_owned() })
            }
            other => return Err(other),
        },
    };
    link.close();
    Ok(outcome)
}

/// 32 bytes from the crypto provider's random source, for ClientHello.random and the key share.
fn random() -> Result<[u8; 32], Error> {
    let mut buf = [0u8; 32];
    rustls::crypto::aws_lc_rs::default_provider().secure_random.fill(&mut buf).map_err(|_| Error::Random)?;
    Ok(buf)
}
