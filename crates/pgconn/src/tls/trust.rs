//! What the client trusts: root certificates (`sslrootcert`) and CRLs (`sslcrl`, `sslcrldir`).
//!
//! Owns: reading those files the way libpq's `initialize_SSL` does with OpenSSL — every
//! certificate of the root file is loaded, self-issued ones as trust anchors and the others as
//! chain helpers (OpenSSL trusts only self-signed roots unless partial chains are allowed), and
//! CRL checking of the whole chain is switched on as soon as a CRL source loads. The default
//! `~/.postgresql/root.crl` and a missing explicit CRL file are skipped silently, as in libpq
//! (we add a warning for the explicit one).
//! Must not: verify anything (that is `verifier.rs`).

use std::path::{Path, PathBuf};

use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, TrustAnchor};
use webpki::{CertRevocationList, OwnedCertRevocationList};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::conninfo::{RootCert, Settings};
use crate::error::TlsError;

/// Trust anchors, helper intermediates and CRLs.
#[derive(Debug)]
pub(crate) struct Trust {
    pub(crate) anchors: Vec<TrustAnchor<'static>>,
    /// The anchors' certificates, index for index (CRL checks of the root need them).
    pub(crate) anchor_certs: Vec<CertificateDer<'static>>,
    /// Non-self-issued certificates found in the root file.
    pub(crate) intermediates: Vec<CertificateDer<'static>>,
    /// CRLs, for webpki, and their DER, for the checks webpki does not make.
    pub(crate) crls: Vec<(CertRevocationList<'static>, Vec<u8>)>,
    /// Whether CRL checking is on (a CRL file or directory was loaded, even an empty directory).
    pub(crate) check_crls: bool,
}

impl Trust {
    /// Load the root certificates and CRLs `settings` name. `Ok(None)` when there is no root file
    /// and the mode does not need one.
    pub(crate) fn load(
        settings: &Settings,
        required: bool,
        warnings: &mut Vec<String>,
    ) -> Result<Option<Self>, TlsError> {
        match &settings.sslrootcert {
            Some(RootCert::System) => system_roots().map(Some),
            Some(RootCert::File(path)) if path.exists() => {
                let mut trust = roots_from_file(path)?;
                load_crls(settings, &mut trust, warnings)?;
                Ok(Some(trust))
            }
            Some(RootCert::File(path)) if required => Err(TlsError::RootCertMissing(path.clone())),
            None if required => Err(TlsError::NoHomeForRootCert),
            _ => Ok(None),
        }
    }

    fn new() -> Self {
        Self {
            anchors: Vec::new(),
            anchor_certs: Vec::new(),
            intermediates: Vec::new(),
            crls: Vec::new(),
            check_crls: false,
        }
    }

    fn add_cert(&mut self, der: CertificateDer<'static>) -> Result<(), String> {
        let (_, cert) = X509Certificate::from_der(&der).map_err(|e| format!("bad certificate: {e}"))?;
        if cert.subject().as_raw() == cert.issuer().as_raw() {
            let anchor = webpki::anchor_from_trusted_cert(&der)
                .map_err(|e| format!("unusable root: {e:?}"))?
                .to_owned();
            self.anchors.push(anchor);
            self.anchor_certs.push(der);
        } else {
            self.intermediates.push(der);
        }
        Ok(())
    }
}

/// Every CERTIFICATE block of a PEM file.
fn roots_from_file(path: &Path) -> Result<Trust, TlsError> {
    let err = |reason: String| TlsError::ReadRootCert { path: path.to_path_buf(), reason };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let blocks = pem::parse_many(&bytes).map_err(|e| err(format!("not a PEM file: {e}")))?;
    let mut trust = Trust::new();
    for block in blocks.into_iter().filter(|b| b.tag() == "CERTIFICATE") {
        trust.add_cert(CertificateDer::from(block.into_contents())).map_err(err)?;
    }
    if trust.anchors.is_empty() && trust.intermediates.is_empty() {
        return Err(err("no certificate in the file".to_owned()));
    }
    Ok(trust)
}

/// OpenSSL's default verify paths (`SSL_CERT_FILE`, `SSL_CERT_DIR`, the distribution's bundle),
/// which is what libpq's `sslrootcert=system` uses. No CRLs, as in libpq.
fn system_roots() -> Result<Trust, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    if found.certs.is_empty() {
        let reasons: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        return Err(TlsError::SystemRoots(if reasons.is_empty() {
            "no certificates found".to_owned()
        } else {
            reasons.join("; ")
        }));
    }
    // rustls's store drops unparsable entries, as OpenSSL skips them.
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(found.certs);
    let mut trust = Trust::new();
    trust.anchors = store.roots;
    Ok(trust)
}

/// `sslcrl` (default `~/.postgresql/root.crl` when neither is set) and `sslcrldir`.
fn load_crls(settings: &Settings, trust: &mut Trust, warnings: &mut Vec<String>) -> Result<(), TlsError> {
    if let Some(file) = &settings.sslcrl {
        if file.is_file() {
            let crls = crls_from_file(file)?;
            if crls.is_empty() {
                return Err(TlsError::ReadCrl {
                    path: file.clone(),
                    reason: "no X509 CRL in the file".to_owned(),
                });
            }
            trust.crls.extend(crls);
            trust.check_crls = true;
        } else if !is_default_crl(settings, file) {
            warnings.push(format!(
                "CRL file \"{}\" does not exist; like libpq, revocation is not checked against it",
                file.display()
            ));
        }
    }
    if let Some(dir) = &settings.sslcrldir {
        match std::fs::read_dir(dir) {
            Ok(entries) => {
                trust.check_crls = true;
                for path in entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()) {
                    // Like OpenSSL's hashed directory lookup, files that hold no CRL are skipped.
                    trust.crls.extend(crls_from_file(&path).unwrap_or_default());
                }
            }
            Err(e) => warnings.push(format!(
                "CRL directory \"{}\" cannot be read ({e}); like libpq, revocation is not checked against it",
                dir.display()
            )),
        }
    }
    Ok(())
}

/// Whether `file` is the implicit `~/.postgresql/root.crl` (whose absence is normal).
fn is_default_crl(settings: &Settings, file: &Path) -> bool {
    file.ends_with(".postgresql/root.crl") && settings.sslcrldir.is_none()
}

fn crls_from_file(path: &Path) -> Result<Vec<(CertRevocationList<'static>, Vec<u8>)>, TlsError> {
    let err = |reason: String| TlsError::ReadCrl { path: PathBuf::from(path), reason };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let blocks = pem::parse_many(&bytes).map_err(|e| err(format!("not a PEM file: {e}")))?;
    blocks
        .into_iter()
        .filter(|b| b.tag() == "X509 CRL")
        .map(|b| {
            let der = b.into_contents();
            let crl = OwnedCertRevocationList::from_der(&der).map_err(|e| err(format!("bad CRL: {e:?}")))?;
            Ok((CertRevocationList::Owned(crl), der))
        })
        .collect()
}
