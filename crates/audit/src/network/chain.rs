//! The chain a server serves, and its verdicts.
//!
//! Owns: reading the chain — from a rustls handshake (TLS 1.2/1.3), or, when that fails, from the
//! handshake of the scan at the newest version that sent one (a TLS 1.0/1.1-only server) — and
//! judging it against `--sslrootcert` as libpq's verify-ca and verify-full would, with the CRLs of
//! `--sslcrl` when given. Must not: render (that is `words` and `json`).

use std::path::Path;

use pgharden_pki::{Purpose, Trust};
use pgharden_wire::{ProbeTarget, Scan, TlsVersionName};
use serde::Serialize;

use super::revocation::{self, CertRevocation};
use super::{ProbeOptions, Probed};

/// Where the chain was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum ChainSource {
    /// A completed TLS 1.2/1.3 handshake, with what it negotiated.
    Handshake {
        /// The version negotiated.
        version: TlsVersionName,
        /// IANA name of the suite negotiated.
        cipher_suite: String,
        /// The key-exchange group, when one was used.
        group: Option<String>,
    },
    /// The ServerHello flight of the scan at this version (the handshake was not completed).
    Scan {
        /// The version offered.
        version: TlsVersionName,
    },
}

/// One check of verify-ca / verify-full that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedCheck {
    /// `validity`, `purpose`, `chain`, `crls`, `revocation`, `host name`.
    pub check: String,
    /// Why it failed, in a sentence.
    pub detail: String,
}

/// verify-ca or verify-full, as libpq would judge the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainVerdict {
    /// Whether libpq would accept the chain.
    pub accepted: bool,
    /// Whether revocation was part of the verdict (CRLs were given with `--sslcrl`).
    pub crls_checked: bool,
    /// The checks that failed; empty when accepted.
    pub failed: Vec<FailedCheck>,
}

/// The certificate chain as served, explained.
#[derive(Debug, Clone, Serialize)]
pub struct ChainFacts {
    /// Where the chain was read.
    pub source: ChainSource,
    /// The certificates, DER, leaf first, exactly as sent.
    #[serde(skip)]
    pub der: Vec<Vec<u8>>,
    /// `pgharden pki show` of the chain, as data.
    #[serde(serialize_with = "super::json::probed")]
    pub inspection: Probed<pgharden_pki::inspect::Inspection>,
    /// Against `--sslrootcert`, when given.
    #[serde(serialize_with = "super::json::probed_opt")]
    pub verify_ca: Option<Probed<ChainVerdict>>,
    /// Against `--sslrootcert` and the host name probed, when a root was given.
    #[serde(serialize_with = "super::json::probed_opt")]
    pub verify_full: Option<Probed<ChainVerdict>>,
    /// Each certificate against `--sslcrl`, when given.
    #[serde(serialize_with = "super::json::probed_opt")]
    pub revocation: Option<Probed<Vec<CertRevocation>>>,
}

/// Read and judge the chain.
pub(super) fn read(target: &ProbeTarget, scan: &Probed<Scan>, opts: &ProbeOptions) -> Probed<ChainFacts> {
    let (source, der) = match pgharden_wire::server_certificate_chain(target) {
        Ok(f) => {
            let source = ChainSource::Handshake {
                version: f.negotiated_version,
                cipher_suite: f.cipher_suite.clone(),
                group: f.key_exchange_group.clone(),
            };
            (source, f.chain)
        }
        Err(e) => from_scan(scan).ok_or_else(|| e.to_string())?,
    };
    let pem = pem_of(&der);
    let inspection =
        pgharden_pki::inspect::inspect_bytes("served chain", pem.as_bytes()).map_err(|e| e.to_string());
    let trust = trust(opts);
    let verdict = |host: Option<&str>| {
        let trust = trust.as_ref()?;
        Some(trust.as_ref().map_err(Clone::clone).and_then(|t| verify(t, &der, host, opts.sslcrl.is_some())))
    };
    Ok(ChainFacts {
        source,
        verify_ca: verdict(None),
        verify_full: verdict(Some(&opts.host)),
        revocation: opts
            .sslcrl
            .as_deref()
            .map(|crl| revocation::check(&der, opts.sslrootcert.as_deref(), crl)),
        inspection,
        der,
    })
}

/// The chain the scan saw at the newest version that sent one.
fn from_scan(scan: &Probed<Scan>) -> Option<(ChainSource, Vec<Vec<u8>>)> {
    let scan = scan.as_ref().ok()?;
    let v = scan.versions.iter().rev().find(|v| !v.chain.is_empty())?;
    Some((ChainSource::Scan { version: v.version }, v.chain.clone()))
}

pub(super) fn pem_of(der: &[Vec<u8>]) -> String {
    der.iter().map(|d| pem::encode(&pem::Pem::new("CERTIFICATE", d.clone()))).collect()
}

/// The roots of `--sslrootcert` and the CRLs of `--sslcrl`; `None` without a root.
fn trust(opts: &ProbeOptions) -> Option<Probed<Trust>> {
    let root = opts.sslrootcert.as_ref()?;
    let mut trust = Trust::default();
    let loaded = trust.add_certs(root, true).and_then(|()| match &opts.sslcrl {
        Some(crl) => trust.add_crls(crl),
        None => Ok(()),
    });
    Some(loaded.map(|()| trust).map_err(|e| e.to_string()))
}

fn verify(trust: &Trust, der: &[Vec<u8>], host: Option<&str>, with_crls: bool) -> Probed<ChainVerdict> {
    let report = pgharden_pki::verify_chain(trust, Path::new("served chain"), der, Purpose::Server, host)
        .map_err(|e| e.to_string())?;
    // Without CRLs libpq checks no revocation: pki's CRL checks then say only that none was given.
    let counts = |name: &str| with_crls || (name != "crls" && name != "revocation");
    let failed: Vec<FailedCheck> = report
        .checks
        .iter()
        .filter(|c| !c.ok && counts(c.name))
        .map(|c| FailedCheck { check: c.name.to_string(), detail: c.detail.clone() })
        .collect();
    Ok(ChainVerdict { accepted: failed.is_empty(), crls_checked: with_crls, failed })
}
