//! Checking the server's certificate the way libpq (built with OpenSSL) does.
//!
//! Owns: the rustls [`ServerCertVerifier`] for every sslmode — chain, validity, serverAuth purpose
//! and CRLs of the whole chain (the root's own CRL included, which webpki does not check) when a
//! root file is in use, libpq's host-name rules for verify-full, and nothing but the handshake
//! signatures otherwise — and the client-certificate resolver that records whether the server asked
//! for a certificate and whether one was sent. Outcomes land in a shared [`TlsOutcome`] so the
//! caller can report libpq's message instead of a rustls alert name.
//! Must not: read files; everything it trusts was loaded by `trust.rs` and `client_cert.rs`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use webpki::{CertRevocationList, EndEntityCert, KeyUsage};
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

use super::trust::Trust;

/// libpq's text when OpenSSL refuses the chain.
pub const VERIFY_FAILED: &str = "SSL error: certificate verify failed";

/// Why the server's certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CertificateFailure {
    /// libpq's message: [`VERIFY_FAILED`], or its host-name mismatch text.
    pub message: String,
    /// What exactly failed, in OpenSSL's verify-error words where there are some.
    pub reason: Option<String>,
}

/// What happened during one TLS handshake, shared between the verifier, the certificate resolver
/// and the code that reports the result.
#[derive(Debug, Default)]
pub struct TlsOutcome {
    failure: Mutex<Option<CertificateFailure>>,
    cert_requested: AtomicBool,
    cert_sent: AtomicBool,
}

impl TlsOutcome {
    /// The certificate failure, if the server's certificate was refused.
    pub fn certificate_failure(&self) -> Option<CertificateFailure> {
        self.failure.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether the server sent a CertificateRequest.
    pub fn client_cert_requested(&self) -> bool {
        self.cert_requested.load(Ordering::SeqCst)
    }

    /// Whether a client certificate was sent.
    pub fn client_cert_sent(&self) -> bool {
        self.cert_sent.load(Ordering::SeqCst)
    }

    fn record(&self, failure: CertificateFailure) {
        // The Option is replaced whole, so a poisoned lock holds nothing half-written.
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(failure);
    }
}

/// libpq's server certificate check.
#[derive(Debug)]
pub(crate) struct LibpqVerifier {
    pub(crate) provider: Arc<CryptoProvider>,
    /// `None`: accept any certificate (sslmode require/prefer/allow without a root file).
    pub(crate) trust: Option<Arc<Trust>>,
    /// `Some`: verify-full against this `host` (never `hostaddr`).
    pub(crate) host: Option<String>,
    pub(crate) outcome: Arc<TlsOutcome>,
}

impl LibpqVerifier {
    fn check(
        &self,
        ee: &CertificateDer<'_>,
        sent: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), CertificateFailure> {
        // libpq lets OpenSSL check the chain during the handshake and compares names afterwards,
        // so a chain failure is what gets reported when both would fail.
        if let Some(trust) = &self.trust {
            verify_chain(trust, &self.provider, ee, sent, now)?;
        }
        if let Some(host) = &self.host {
            verify_name(ee, host)?;
        }
        Ok(())
    }
}

impl ServerCertVerifier for LibpqVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.check(end_entity, intermediates, now) {
            Ok(()) => Ok(ServerCertVerified::assertion()),
            Err(failure) => {
                self.outcome.record(failure.clone());
                Err(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(failure)))))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

fn failure(reason: impl Into<String>) -> CertificateFailure {
    CertificateFailure { message: VERIFY_FAILED.to_owned(), reason: Some(reason.into()) }
}

/// Chain to a trust anchor, validity, serverAuth, and with CRLs on, revocation of every
/// certificate including the root (OpenSSL's `X509_V_FLAG_CRL_CHECK_ALL`).
fn verify_chain(
    trust: &Trust,
    provider: &CryptoProvider,
    ee: &CertificateDer<'_>,
    sent: &[CertificateDer<'_>],
    now: UnixTime,
) -> Result<(), CertificateFailure> {
    let cert = EndEntityCert::try_from(ee).map_err(|e| failure(openssl_reason(&e)))?;
    let mut helpers: Vec<CertificateDer<'_>> = sent.to_vec();
    helpers.extend(trust.intermediates.iter().map(|c| CertificateDer::from(c.as_ref())));
    let crls: Vec<&CertRevocationList<'_>> = trust.crls.iter().map(|(crl, _)| crl).collect();
    let revocation = if trust.check_crls {
        // OpenSSL with CRL checking on and no CRL at all fails every certificate the same way.
        Some(
            pgharden_pki::verify::strict_revocation(&crls)
                .ok_or_else(|| failure("unable to get certificate CRL"))?,
        )
    } else {
        None
    };
    let path = cert
        .verify_for_usage(
            provider.signature_verification_algorithms.all,
            &trust.anchors,
            &helpers,
            now,
            KeyUsage::server_auth(),
            revocation,
            None,
        )
        .map_err(|e| match e {
            // OpenSSL skips a same-named issuer whose key identifier differs from the
            // certificate's authorityKeyIdentifier, and so reports no issuer at all.
            webpki::Error::InvalidSignatureForPublicKey if issuer_key_unknown(trust, ee, sent) => {
                failure("unable to get local issuer certificate")
            }
            e => failure(openssl_reason(&e)),
        })?;
    if trust.check_crls {
        check_root_crl(trust, path.anchor(), now)?;
    }
    Ok(())
}

/// Whether some certificate of the chain names, by authorityKeyIdentifier, an issuer key that no
/// available certificate with the issuer's name has (two CAs with one name, different keys).
fn issuer_key_unknown(trust: &Trust, ee: &CertificateDer<'_>, sent: &[CertificateDer<'_>]) -> bool {
    let chain: Vec<X509Certificate<'_>> =
        std::iter::once(ee.as_ref()).chain(sent.iter().map(|c| c.as_ref())).filter_map(parse_cert).collect();
    let pool: Vec<X509Certificate<'_>> = sent
        .iter()
        .map(|c| c.as_ref())
        .chain(trust.intermediates.iter().map(|c| c.as_ref()))
        .chain(trust.anchor_certs.iter().map(|c| c.as_ref()))
        .filter_map(parse_cert)
        .collect();
    chain.iter().any(|cert| {
        let Some(aki) = authority_key_id(cert) else {
            return false;
        };
        let issuers: Vec<&X509Certificate<'_>> =
            pool.iter().filter(|c| c.subject().as_raw() == cert.issuer().as_raw()).collect();
        !issuers.is_empty() && issuers.iter().all(|c| subject_key_id(c) != Some(aki))
    })
}

fn parse_cert(der: &[u8]) -> Option<X509Certificate<'_>> {
    X509Certificate::from_der(der).ok().map(|(_, c)| c)
}

fn authority_key_id<'a>(cert: &'a X509Certificate<'_>) -> Option<&'a [u8]> {
    cert.extensions().iter().find_map(|ext| match ext.parsed_extension() {
        ParsedExtension::AuthorityKeyIdentifier(aki) => aki.key_identifier.as_ref().map(|k| k.0),
        _ => None,
    })
}

fn subject_key_id<'a>(cert: &'a X509Certificate<'_>) -> Option<&'a [u8]> {
    cert.extensions().iter().find_map(|ext| match ext.parsed_extension() {
        ParsedExtension::SubjectKeyIdentifier(ski) => Some(ski.0),
        _ => None,
    })
}

/// webpki checks each certificate against its issuer's CRL but never the anchor itself; OpenSSL
/// does: the root needs a current CRL signed by itself that does not list it.
fn check_root_crl(trust: &Trust, anchor: &TrustAnchor<'_>, now: UnixTime) -> Result<(), CertificateFailure> {
    let Some(i) = trust.anchors.iter().position(|a| a == anchor) else {
        return Ok(());
    };
    let bad_root = |e| failure(format!("trusted root is unreadable: {e}"));
    let (_, root) = X509Certificate::from_der(&trust.anchor_certs[i]).map_err(bad_root)?;
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let crl = trust
        .crls
        .iter()
        .filter_map(|(_, der)| CertificateRevocationList::from_der(der).ok().map(|(_, crl)| crl))
        .find(|crl| {
            crl.issuer().as_raw() == root.subject().as_raw()
                && crl.verify_signature(root.public_key()).is_ok()
        })
        .ok_or_else(|| failure("unable to get certificate CRL"))?;
    if crl.last_update().timestamp() > now {
        return Err(failure("CRL is not yet valid"));
    }
    if crl.next_update().is_some_and(|next| next.timestamp() < now) {
        return Err(failure("CRL has expired"));
    }
    if crl.iter_revoked_certificates().any(|r| r.raw_serial() == root.raw_serial()) {
        return Err(failure("certificate revoked"));
    }
    Ok(())
}

/// verify-full: libpq's host-name rules, implemented in `pgharden_pki::hostname`.
fn verify_name(ee: &CertificateDer<'_>, host: &str) -> Result<(), CertificateFailure> {
    let (_, cert) = X509Certificate::from_der(ee).map_err(|e| CertificateFailure {
        message: format!("could not parse server certificate: {e}"),
        reason: None,
    })?;
    match pgharden_pki::hostname::check_host(&cert, host) {
        Ok(check) if check.matched => Ok(()),
        Ok(check) => Err(CertificateFailure {
            message: check
                .libpq_message
                .unwrap_or_else(|| format!("server certificate does not match host name \"{host}\"")),
            reason: None,
        }),
        Err(e) => Err(CertificateFailure { message: e.to_string(), reason: None }),
    }
}

/// webpki's error in the words of OpenSSL's `X509_verify_cert_error_string`, which is what libpq
/// users see in server logs and search for.
fn openssl_reason(e: &webpki::Error) -> String {
    use webpki::Error as E;
    match e {
        E::UnknownIssuer => "unable to get local issuer certificate".into(),
        E::CertExpired { .. } => "certificate has expired".into(),
        E::CertNotValidYet { .. } => "certificate is not yet valid".into(),
        E::CertRevoked => "certificate revoked".into(),
        E::UnknownRevocationStatus => "unable to get certificate CRL".into(),
        E::CrlExpired { .. } => "CRL has expired".into(),
        E::InvalidSignatureForPublicKey => "certificate signature failure".into(),
        E::InvalidCrlSignatureForPublicKey => "CRL signature failure".into(),
        E::RequiredEkuNotFoundContext(_) | E::CaUsedAsEndEntity => "unsupported certificate purpose".into(),
        E::EndEntityUsedAsCa => "invalid CA certificate".into(),
        E::PathLenConstraintViolated => "path length constraint exceeded".into(),
        other => format!("{other:?}"),
    }
}

/// Offers the client certificate when the server asks, and records that it asked.
#[derive(Debug)]
pub(crate) struct ClientCertResolver {
    pub(crate) key: Option<Arc<CertifiedKey>>,
    pub(crate) outcome: Arc<TlsOutcome>,
}

impl ResolvesClientCert for ClientCertResolver {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.outcome.cert_requested.store(true, Ordering::SeqCst);
        let key = self.key.as_ref()?;
        key.key.choose_scheme(sigschemes)?;
        self.outcome.cert_sent.store(true, Ordering::SeqCst);
        Some(Arc::clone(key))
    }

    /// Always true, so that rustls answers a CertificateRequest (with an empty certificate list
    /// when there is no certificate, as OpenSSL does) and `resolve` sees the request.
    fn has_certs(&self) -> bool {
        true
    }
}
