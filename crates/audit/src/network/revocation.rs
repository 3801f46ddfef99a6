//! Revocation of each certificate a server serves, against the CRLs of `--sslcrl`.
//!
//! Owns: the per-certificate status — revoked, not revoked, or why it cannot be told (no CRL from
//! its issuer, a CRL whose signature does not verify, an issuer neither served nor given) — with a
//! stale CRL (past its next update) said as such, as OpenSSL refuses one. A CRL counts for a
//! certificate only when it is signed by that certificate's issuer, checked with the issuer's key:
//! a CRL that merely names the issuer proves nothing. The whole-chain verdict libpq would give is
//! `chain`'s (pki's `verify_chain` with the CRLs); this says which certificate is the problem.
//! Must not: render.

use std::path::Path;

use pgharden_pki::inspect::{CertificateInfo, CrlInfo, Inspection, Item};
use serde::Serialize;

use super::Probed;
use super::chain::pem_of;

/// One served certificate's revocation status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertRevocation {
    /// Its position in the chain served, from 1 (the leaf).
    pub position: usize,
    /// Its subject's distinguished name.
    pub subject: String,
    /// Lowercase hex, as `pgharden pki list` and `openssl x509 -serial` (in upper case) show it.
    pub serial: String,
    /// What the CRLs say about it.
    #[serde(flatten)]
    pub status: RevocationStatus,
}

/// What the CRLs say about one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum RevocationStatus {
    /// On its issuer's CRL (revocation is final: a stale CRL still proves it).
    Revoked {
        /// The CRL issuer's distinguished name.
        crl_issuer: String,
        /// RFC 3339.
        revoked_at: String,
        /// The CRL entry's reason code; `None` when it gives none.
        reason: Option<String>,
        /// Whether the CRL is past its next update.
        crl_stale: bool,
    },
    /// Its issuer's CRL is current and does not list it.
    NotRevoked {
        /// The CRL issuer's distinguished name.
        crl_issuer: String,
        /// RFC 3339; `None` when the CRL names no next update.
        next_update: Option<String>,
    },
    /// Its issuer's CRL does not list it, but is past its next update: OpenSSL (and so PostgreSQL
    /// and libpq) refuses the chain.
    CrlStale {
        /// The CRL issuer's distinguished name.
        crl_issuer: String,
        /// The CRL's next update (RFC 3339), now past.
        next_update: String,
    },
    /// No CRL from its issuer was given: with CRL checking on, the chain is refused.
    NoCrl {
        /// The issuer's distinguished name.
        issuer: String,
    },
    /// A CRL names its issuer, but its signature does not verify with the issuer's key.
    CrlNotVerified {
        /// The issuer's distinguished name.
        issuer: String,
    },
    /// Its issuer is neither served nor in `--sslrootcert`, so no CRL can be checked.
    IssuerUnknown {
        /// The issuer's distinguished name.
        issuer: String,
    },
}

impl RevocationStatus {
    /// Whether a CRL lists the certificate.
    pub fn is_revoked(&self) -> bool {
        matches!(self, Self::Revoked { .. })
    }
}

/// Check each certificate of `chain` (DER, leaf first) against the CRLs in `crl_file`, the issuers
/// taken from the chain and from `roots`.
pub(super) fn check(chain: &[Vec<u8>], roots: Option<&Path>, crl_file: &Path) -> Probed<Vec<CertRevocation>> {
    let mut certs: Vec<Vec<u8>> = Vec::new();
    for der in chain {
        if !certs.contains(der) {
            certs.push(der.clone());
        }
    }
    let served = certs.len();
    if let Some(roots) = roots {
        for der in pem_blocks(roots, "CERTIFICATE")? {
            if !certs.contains(&der) {
                certs.push(der);
            }
        }
    }
    let crls = pem_blocks(crl_file, "X509 CRL")?;
    if crls.is_empty() {
        return Err(format!("{}: no X509 CRL in the file", crl_file.display()));
    }
    let mut text = pem_of(&certs);
    text.extend(crls.iter().map(|d| pem::encode(&pem::Pem::new("X509 CRL", d.clone()))));
    let inspection = pgharden_pki::inspect::inspect_bytes("served chain with the CRLs", text.as_bytes())
        .map_err(|e| e.to_string())?;
    Ok((1..=served).filter_map(|i| status_of(&inspection, i)).collect())
}

fn pem_blocks(path: &Path, tag: &str) -> Probed<Vec<Vec<u8>>> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let blocks = pem::parse_many(&bytes).map_err(|e| format!("{}: not a PEM file ({e})", path.display()))?;
    Ok(blocks.into_iter().filter(|b| b.tag() == tag).map(|b| b.contents().to_vec()).collect())
}

fn certificate(inspection: &Inspection, index: usize) -> Option<&CertificateInfo> {
    match inspection.items.get(index.checked_sub(1)?)? {
        Item::Certificate(c) => Some(c),
        _ => None,
    }
}

/// The status of item `index` (a served certificate).
fn status_of(inspection: &Inspection, index: usize) -> Option<CertRevocation> {
    let cert = certificate(inspection, index)?;
    let status = match issuer_index(cert) {
        None => RevocationStatus::IssuerUnknown { issuer: cert.issuer.clone() },
        Some(issuer) => judge(cert, crls_signed_by(inspection, issuer), inspection),
    };
    Some(CertRevocation {
        position: index,
        subject: cert.subject.clone(),
        serial: cert.serial.clone(),
        status,
    })
}

/// The item that issued `cert`, its signature verified (a self-signed root issued itself).
fn issuer_index(cert: &CertificateInfo) -> Option<usize> {
    if cert.self_signed {
        return (cert.self_signature_verifies != Some(false)).then_some(cert.index);
    }
    let link = cert.issued_by.as_ref()?;
    (link.signature_verified == Some(true)).then_some(link.item)
}

fn crls_signed_by(inspection: &Inspection, issuer: usize) -> Vec<&CrlInfo> {
    inspection
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Crl(c) => Some(c),
            _ => None,
        })
        .filter(|c| {
            c.issued_by.as_ref().is_some_and(|l| l.item == issuer && l.signature_verified == Some(true))
        })
        .collect()
}

fn judge(cert: &CertificateInfo, crls: Vec<&CrlInfo>, inspection: &Inspection) -> RevocationStatus {
    if crls.is_empty() {
        let named = inspection.items.iter().any(|i| matches!(i, Item::Crl(c) if c.issuer == cert.issuer));
        return if named {
            RevocationStatus::CrlNotVerified { issuer: cert.issuer.clone() }
        } else {
            RevocationStatus::NoCrl { issuer: cert.issuer.clone() }
        };
    }
    for crl in &crls {
        if let Some(entry) = crl.revoked.iter().find(|r| r.serial == cert.serial) {
            return RevocationStatus::Revoked {
                crl_issuer: crl.issuer.clone(),
                revoked_at: entry.revocation_date.clone(),
                reason: entry.reason.clone(),
                crl_stale: crl.stale,
            };
        }
    }
    // The freshest CRL decides (several files may carry older issues of the same CRL).
    let newest = crls.iter().max_by_key(|c| c.this_update_unix).copied().unwrap_or(crls[0]);
    match (&newest.next_update, newest.stale) {
        (Some(next), true) => {
            RevocationStatus::CrlStale { crl_issuer: newest.issuer.clone(), next_update: next.clone() }
        }
        (next, _) => {
            RevocationStatus::NotRevoked { crl_issuer: newest.issuer.clone(), next_update: next.clone() }
        }
    }
}
