//! `ledger.json`: the record of every certificate a PKI directory has issued.
//!
//! Owns: the ledger's schema (versioned), reading it with errors that name the file, and writing it
//! atomically. Revocation and CRL numbering read from here, so the ledger is written *before* a new
//! certificate is moved into place: a certificate that exists is always one the ledger knows.
//! Must not: generate keys or certificates.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::files;
use crate::key::KeyType;
use crate::validity::Validity;

/// The ledger's schema version; bumped on incompatible change.
pub(crate) const FORMAT: u32 = 1;

/// What a certificate is for, which decides where it lives and who issued it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The self-signed root CA (`root/`).
    Root,
    /// The intermediate CA that signs server certificates (`server-ca/`).
    ServerCa,
    /// The intermediate CA that signs client certificates (`client-ca/`).
    ClientCa,
    /// A server certificate (`servers/NAME/`), signed by the server CA.
    Server,
    /// A client certificate (`clients/NAME/`), signed by the client CA.
    Client,
}

impl Kind {
    /// The CA that issues certificates of this kind (the root issues itself).
    pub fn issuer(self) -> Self {
        match self {
            Self::Root | Self::ServerCa | Self::ClientCa => Self::Root,
            Self::Server => Self::ServerCa,
            Self::Client => Self::ClientCa,
        }
    }

    /// Whether this kind is a certificate authority.
    pub fn is_ca(self) -> bool {
        matches!(self, Self::Root | Self::ServerCa | Self::ClientCa)
    }

    /// The directory of a CA kind, relative to the PKI directory.
    pub fn ca_dir(self) -> &'static str {
        match self {
            Self::ServerCa => "server-ca",
            Self::ClientCa => "client-ca",
            _ => "root",
        }
    }

    /// A plain-words name.
    pub fn label(self) -> &'static str {
        match self {
            Self::Root => "root CA",
            Self::ServerCa => "server intermediate CA",
            Self::ClientCa => "client intermediate CA",
            Self::Server => "server",
            Self::Client => "client",
        }
    }
}

/// Why a certificate was revoked (RFC 5280 reason codes pgharden offers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Reason {
    /// No reason given (code 0).
    Unspecified,
    /// The certificate's private key was, or may have been, disclosed (code 1).
    KeyCompromise,
    /// The issuing CA's private key was, or may have been, disclosed (code 2).
    CaCompromise,
    /// The subject's name or affiliation changed (code 3).
    AffiliationChanged,
    /// A new certificate replaces this one (code 4).
    Superseded,
    /// The certificate is no longer needed (code 5).
    CessationOfOperation,
}

impl Reason {
    /// Every reason, with its command-line spelling.
    pub const ALL: [(Self, &'static str); 6] = [
        (Self::Unspecified, "unspecified"),
        (Self::KeyCompromise, "key-compromise"),
        (Self::CaCompromise, "ca-compromise"),
        (Self::AffiliationChanged, "affiliation-changed"),
        (Self::Superseded, "superseded"),
        (Self::CessationOfOperation, "cessation-of-operation"),
    ];

    /// Parse the command-line spelling.
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL.iter().find(|(_, name)| name.eq_ignore_ascii_case(s)).map(|(r, _)| *r).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|(_, n)| *n).collect();
            Error::invalid("revocation reason", s, format!("expected one of {}", names.join(", ")))
        })
    }

    /// The command-line spelling.
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(r, _)| *r == self).map(|(_, n)| *n).unwrap_or("unspecified")
    }

    pub(crate) fn to_rcgen(self) -> rcgen::RevocationReason {
        match self {
            Self::Unspecified => rcgen::RevocationReason::Unspecified,
            Self::KeyCompromise => rcgen::RevocationReason::KeyCompromise,
            Self::CaCompromise => rcgen::RevocationReason::CaCompromise,
            Self::AffiliationChanged => rcgen::RevocationReason::AffiliationChanged,
            Self::Superseded => rcgen::RevocationReason::Superseded,
            Self::CessationOfOperation => rcgen::RevocationReason::CessationOfOperation,
        }
    }
}

/// A revocation, once recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// When it was revoked (the CRL's revocationDate).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The reason code the CRL carries.
    pub reason: Reason,
}

/// One issued certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Serial number, lowercase hex without separators.
    pub serial: String,
    /// What the certificate is for, which also says who issued it.
    pub kind: Kind,
    /// Directory name under `servers/` or `clients/` (the CA directory name for CAs).
    pub name: String,
    /// Subject, RFC 4514 style.
    pub subject: String,
    /// Host names and addresses (server certificates).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sans: Vec<String>,
    /// The role the certificate logs in as (client certificates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Algorithm of the certificate's key.
    pub key_type: KeyType,
    /// Start of validity (a little before issue, to absorb clock skew).
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// SHA-256 of the certificate DER, uppercase hex with colons (as `openssl x509 -fingerprint`).
    pub sha256: String,
    /// Certificate file, relative to the PKI directory.
    pub path: PathBuf,
    /// When and why it was revoked; `None` while it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Revocation>,
    /// Serial of the certificate that replaced this one at the same path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    /// What was asked for, so that renewal issues the same certificate again (absent in ledgers
    /// written before pgharden recorded it, and for CAs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Requested>,
}

/// The request a leaf certificate was issued from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requested {
    /// The subject CN as given (the first host, the role, or `--cn`).
    pub cn: String,
    /// Host names and addresses (server certificates), in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// The role (client certificates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The key algorithm used.
    pub key_type: KeyType,
    /// The lifetime asked for, in seconds.
    pub valid: Validity,
}

/// Per-CA CRL bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrlNumbers {
    /// The number of the root CA's latest CRL (0 before the first).
    pub root: u64,
    /// The number of the server CA's latest CRL.
    pub server_ca: u64,
    /// The number of the client CA's latest CRL.
    pub client_ca: u64,
}

/// A CA has used every CRL number: the next one would wrap to 0, and CRL numbers must increase
/// (RFC 5280 §5.2.3; a relying party keeps the highest it saw and refuses a lower one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the CRL number of {} has reached {}; it cannot grow further: start a new CA", .ca.ca_dir(), u64::MAX)]
pub struct CrlNumberExhausted {
    /// The CA whose numbers ran out.
    pub ca: Kind,
}

impl CrlNumbers {
    fn slot(&mut self, ca: Kind) -> &mut u64 {
        match ca {
            Kind::ServerCa => &mut self.server_ca,
            Kind::ClientCa => &mut self.client_ca,
            _ => &mut self.root,
        }
    }

    /// The number the next CRL of `ca` would carry, without taking it.
    pub fn peek(&self, ca: Kind) -> Result<u64, CrlNumberExhausted> {
        let n = match ca {
            Kind::ServerCa => self.server_ca,
            Kind::ClientCa => self.client_ca,
            _ => self.root,
        };
        n.checked_add(1).ok_or(CrlNumberExhausted { ca })
    }

    /// Take the next CRL number of a CA (CRL numbers must increase monotonically). Refuses, and
    /// changes nothing, once the number has reached `u64::MAX`.
    pub fn next(&mut self, ca: Kind) -> Result<u64, CrlNumberExhausted> {
        let next = self.peek(ca)?;
        *self.slot(ca) = next;
        Ok(next)
    }
}

/// The whole ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// Version of the file layout; this build reads only its own.
    pub format: u32,
    /// Subject O of every certificate, from [`InitOptions::organization`](crate::InitOptions::organization).
    pub organization: String,
    /// Key type used for new certificates unless `--key-type` says otherwise.
    pub key_type: KeyType,
    /// Whether the CA keys are encrypted (so a passphrase is needed to issue).
    pub ca_keys_encrypted: bool,
    /// Days a CRL stays valid when (re)issued.
    pub crl_days: u32,
    /// The latest CRL number of each CA.
    pub crl_numbers: CrlNumbers,
    /// Every certificate ever issued, in issue order; revoked and replaced ones stay.
    pub certificates: Vec<Entry>,
}

impl Ledger {
    /// File name inside the PKI directory.
    pub const FILE: &'static str = "ledger.json";

    /// Read and check `DIR/ledger.json`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(Self::FILE);
        if !path.exists() {
            return Err(Error::NotAPki(dir.to_path_buf()));
        }
        let bytes = files::read(&path)?;
        let ledger: Self = serde_json::from_slice(&bytes)
            .map_err(|e| Error::bad_file(&path, format!("corrupt ledger: {e}")))?;
        if ledger.format != FORMAT {
            return Err(Error::bad_file(
                &path,
                format!("ledger format {} is not supported (this pgharden reads {FORMAT})", ledger.format),
            ));
        }
        Ok(ledger)
    }

    /// Write the ledger atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| Error::Ledger(e.to_string()))?;
        json.push(b'\n');
        files::write_atomic(&dir.join(Self::FILE), &json, files::PUBLIC_MODE, true)
    }

    /// The entry with this serial.
    pub fn find(&self, serial: &str) -> Option<&Entry> {
        self.certificates.iter().find(|e| e.serial == serial)
    }

    /// The current (not replaced) entry of a CA.
    pub fn ca(&self, kind: Kind) -> Option<&Entry> {
        self.certificates.iter().rev().find(|e| e.kind == kind && e.replaced_by.is_none())
    }

    /// Revoked entries issued by `ca`.
    pub fn revoked_by(&self, ca: Kind) -> impl Iterator<Item = &Entry> {
        self.certificates
            .iter()
            .filter(move |e| e.kind != Kind::Root && e.kind.issuer() == ca && e.revoked.is_some())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use super::*;

    #[test]
    fn reasons_parse_and_print() {
        assert_eq!(Reason::parse("key-compromise").unwrap(), Reason::KeyCompromise);
        assert_eq!(Reason::KeyCompromise.name(), "key-compromise");
        let err = Reason::parse("because").unwrap_err().to_string();
        assert!(err.contains("because") && err.contains("superseded"), "{err}");
    }

    #[test]
    fn crl_numbers_increase_per_ca() {
        let mut n = CrlNumbers::default();
        assert_eq!(n.next(Kind::Root).unwrap(), 1);
        assert_eq!(n.next(Kind::Root).unwrap(), 2);
        assert_eq!(n.next(Kind::ClientCa).unwrap(), 1);
        assert_eq!(n.peek(Kind::ServerCa).unwrap(), 1);
        assert_eq!(n, CrlNumbers { root: 2, server_ca: 0, client_ca: 1 });
    }

    #[test]
    fn crl_numbers_refuse_to_wrap() {
        let mut n = CrlNumbers { root: u64::MAX - 1, server_ca: u64::MAX, client_ca: 7 };
        assert_eq!(n.next(Kind::Root).unwrap(), u64::MAX);
        let err = n.next(Kind::Root).unwrap_err();
        assert_eq!(err, CrlNumberExhausted { ca: Kind::Root });
        assert_eq!(
            err.to_string(),
            "the CRL number of root has reached 18446744073709551615; it cannot grow further: start a new CA"
        );
        assert_eq!(n.peek(Kind::ServerCa).unwrap_err().to_string().split(' ').nth(4), Some("server-ca"));
        assert!(n.next(Kind::ServerCa).is_err());
        // Nothing moved: the exhausted numbers stay at the top, the others are untouched.
        assert_eq!(n, CrlNumbers { root: u64::MAX, server_ca: u64::MAX, client_ca: 7 });
        assert_eq!(n.next(Kind::ClientCa).unwrap(), 8);
    }

    #[test]
    fn a_missing_ledger_says_to_init() {
        let dir = tempfile::tempdir().unwrap();
        let err = Ledger::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("pki init"), "{err}");
    }

    #[test]
    fn a_corrupt_ledger_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(Ledger::FILE), "{not json").unwrap();
        let err = Ledger::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("ledger.json") && err.contains("corrupt"), "{err}");
    }
}
