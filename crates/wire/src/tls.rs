//! TLS handshakes driven by rustls, and the facts they reveal.
//!
//! Owns: the rustls client configuration for probes (aws-lc-rs only, TLS 1.2 and 1.3), a server
//! certificate verifier that *records* the chain and accepts it — unless roots are given, then it
//! checks the chain against them (verify-ca: chain, validity, serverAuth; no host-name check, whose
//! libpq rules live in `pgharden-pki`) — while always checking the handshake signatures, a
//! client-certificate resolver that records whether the server asked for a certificate and which
//! CAs it named, the handshake loop, [`server_certificate_chain`] and [`direct_tls`].
//! Must not: send anything after the handshake (that is `startup`'s job), read files other than the
//! PEM files handed to [`ClientIdentity::from_pem_files`], or install a process-wide provider.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, OtherError, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, TrustAnchor, UnixTime};
use serde::{Serialize, Serializer};

use crate::alert::Alert;
use crate::error::Sent;
use crate::link::Link;
use crate::negotiate::start_tls;
use crate::version::TlsVersionName;
use crate::{Error, ProbeTarget};

/// The ALPN protocol name PostgreSQL 17+ requires for direct TLS.
pub const ALPN_POSTGRESQL: &str = "postgresql";

/// What a completed handshake showed about the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsFacts {
    /// The protocol version agreed on.
    pub negotiated_version: TlsVersionName,
    /// IANA name (`TLS_AES_256_GCM_SHA384`, `TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384`).
    pub cipher_suite: String,
    /// The key exchange group (`X25519`, `secp256r1`), when rustls reports one.
    pub key_exchange_group: Option<String>,
    /// The certificates the server sent, DER, leaf first, exactly as sent.
    #[serde(serialize_with = "hex_list")]
    pub chain: Vec<Vec<u8>>,
    /// The ALPN protocol the server selected.
    pub alpn: Option<String>,
    /// `Some` when the server sent a CertificateRequest.
    pub client_certificate_request: Option<CertificateRequest>,
}

/// A server's CertificateRequest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateRequest {
    /// The `certificate_authorities` the server named (DER-encoded distinguished names; PostgreSQL
    /// sends the subjects of the certificates in `ssl_ca_file`).
    #[serde(serialize_with = "hex_list")]
    pub acceptable_ca_names: Vec<Vec<u8>>,
}

/// A client certificate chain (leaf first) and its private key.
#[derive(Debug)]
pub struct ClientIdentity {
    /// The certificates to send, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

impl ClientIdentity {
    /// Read a PEM certificate file (leaf first) and an unencrypted PEM key file.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, Error> {
        let what = |p: &Path, e: rustls_pki_types::pem::Error| {
            Error::ClientIdentity(format!("{}: {e}", p.display()))
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| what(cert, e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| what(cert, e))?;
        if chain.is_empty() {
            return Err(Error::ClientIdentity(format!("{}: no certificate", cert.display())));
        }
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| what(key, e))?;
        Ok(Self { chain, key: key_der })
    }
}

/// How a direct TLS attempt (PostgreSQL 17+, no SSLRequest) went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum DirectTlsAnswer {
    /// The handshake completed.
    Negotiated(TlsFacts),
    /// The server speaks TLS here but refused the handshake with an alert (PostgreSQL 17 sends
    /// `no_application_protocol` for an ALPN other than `postgresql`).
    Alert {
        /// The alert it sent.
        alert: Alert,
    },
    /// The server did not answer in TLS: it closed the connection (releases before 17 read the
    /// ClientHello as a startup packet with an absurd length) or sent something else.
    NotSupported {
        /// What happened instead, in words.
        reason: String,
    },
}

/// SSLRequest, then a TLS 1.2/1.3 handshake accepting any certificate; report what was negotiated
/// and served. The session is closed with close_notify right after the handshake.
pub fn server_certificate_chain(target: &ProbeTarget) -> Result<TlsFacts, Error> {
    let link = start_tls(target)?;
    let session = handshake(link, target, &Options::default(), Sent::TlsHandshake)?;
    Ok(session.close())
}

/// Start TLS without an SSLRequest, offering `alpn` (pass `&[ALPN_POSTGRESQL]` to act as libpq's
/// `sslnegotiation=direct`), and report what the server did.
pub fn direct_tls(target: &ProbeTarget, alpn: &[&str]) -> Result<DirectTlsAnswer, Error> {
    let link = Link::connect(target)?;
    let opts = Options { alpn, ..Options::default() };
    match handshake(link, target, &opts, Sent::DirectTlsHandshake) {
        Ok(session) => Ok(DirectTlsAnswer::Negotiated(session.close())),
        Err(Error::Tls { error: rustls::Error::AlertReceived(d), .. }) => {
            Ok(DirectTlsAnswer::Alert { alert: Alert::from_rustls(d) })
        }
        Err(e @ Error::Closed { .. }) => Ok(DirectTlsAnswer::NotSupported { reason: e.to_string() }),
        Err(e @ Error::Tls { error: rustls::Error::InvalidMessage(_), .. }) => {
            Ok(DirectTlsAnswer::NotSupported { reason: format!("the answer is not TLS: {e}") })
        }
        Err(e) => Err(e),
    }
}

/// What a handshake offers besides the defaults.
#[derive(Debug, Default)]
pub(crate) struct Options<'a> {
    /// Verify the chain against these roots instead of accepting any.
    pub(crate) roots: Option<&'a [CertificateDer<'a>]>,
    pub(crate) identity: Option<&'a ClientIdentity>,
    pub(crate) alpn: &'a [&'a str],
}

/// A completed handshake on its link.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) conn: ClientConnection,
    pub(crate) link: Link,
    pub(crate) facts: TlsFacts,
}

impl Session {
    /// Say close_notify (so the server logs nothing) and hang up; return the facts.
    pub(crate) fn close(mut self) -> TlsFacts {
        self.conn.send_close_notify();
        // Best effort: the facts are already known, and a server that went away is no news.
        let _ = flush(&mut self.conn, &mut self.link);
        self.link.close();
        self.facts
    }
}

/// Write everything rustls has queued. Each write either moves bytes, fails, or reports zero
/// (then we stop), and the link's deadline bounds the waiting.
fn flush(conn: &mut ClientConnection, link: &mut Link) -> std::io::Result<()> {
    while conn.wants_write() {
        if conn.write_tls(link)? == 0 {
            break;
        }
    }
    Ok(())
}

/// Run the TLS handshake on `link` (whatever preceded it) and collect the facts.
pub(crate) fn handshake(
    mut link: Link,
    target: &ProbeTarget,
    opts: &Options<'_>,
    sent: Sent,
) -> Result<Session, Error> {
    let recorder = Arc::new(Recorder::default());
    let config = client_config(opts, &recorder)?;
    let mut conn = ClientConnection::new(Arc::new(config), server_name(target))
        .map_err(|e| Error::InvalidArgument(format!("TLS client setup: {e}")))?;
    link.mark(sent);
    // Every round of complete_io reads or writes through the link, whose deadline bounds it; a
    // round that moved no bytes at all is treated as a hang-up rather than retried.
    while conn.is_handshaking() {
        let (read, written) = conn.complete_io(&mut link).map_err(|e| link.fail(e))?;
        if read == 0 && written == 0 && conn.is_handshaking() {
            let eof = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
            return Err(link.fail(eof));
        }
    }
    // complete_io may return as soon as the server's Finished is processed, with ours still queued.
    flush(&mut conn, &mut link).map_err(|e| link.fail(e))?;
    let facts = facts(&conn, &recorder).map_err(|e| link.fail(std::io::Error::other(e)))?;
    Ok(Session { conn, link, facts })
}

fn server_name(target: &ProbeTarget) -> ServerName<'static> {
    target
        .server_name
        .as_deref()
        .and_then(|n| ServerName::try_from(n.to_owned()).ok())
        // An IP address as the name means rustls sends no SNI, like libpq with a numeric host.
        .unwrap_or_else(|| ServerName::IpAddress(target.addr.ip().into()))
}

fn facts(conn: &ClientConnection, recorder: &Recorder) -> Result<TlsFacts, String> {
    let version = conn
        .protocol_version()
        .and_then(TlsVersionName::from_rustls)
        .ok_or("the handshake ended without a known protocol version")?;
    let suite = conn.negotiated_cipher_suite().ok_or("the handshake ended without a cipher suite")?.suite();
    Ok(TlsFacts {
        negotiated_version: version,
        cipher_suite: iana_suite_name(suite),
        key_exchange_group: conn
            .negotiated_key_exchange_group()
            // A group rustls has no name for is shown by its code, never as Rust debug text.
            .map(|g| {
                g.name().as_str().map_or_else(|| crate::hello::group_name(u16::from(g.name())), str::to_owned)
            }),
        chain: lock(&recorder.chain).clone(),
        alpn: conn.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned()),
        client_certificate_request: lock(&recorder.cert_request).clone(),
    })
}

/// rustls names TLS 1.3 suites `TLS13_…`; the registry (and OpenSSL) say `TLS_…`.
fn iana_suite_name(suite: rustls::CipherSuite) -> String {
    match suite.as_str() {
        Some(name) => {
            name.strip_prefix("TLS13_").map_or_else(|| name.to_owned(), |rest| format!("TLS_{rest}"))
        }
        None => format!("0x{:04x}", u16::from(suite)),
    }
}

fn client_config(opts: &Options<'_>, recorder: &Arc<Recorder>) -> Result<ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let roots = match opts.roots {
        Some(certs) => Some(trust_anchors(certs)?),
        None => None,
    };
    let key = match opts.identity {
        Some(id) => Some(certified_key(id, &provider)?),
        None => None,
    };
    let verifier =
        RecordingVerifier { provider: Arc::clone(&provider), roots, recorder: Arc::clone(recorder) };
    let resolver = RecordingResolver { key, recorder: Arc::clone(recorder) };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| Error::InvalidArgument(format!("TLS versions: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = opts.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Ok(config)
}

fn trust_anchors(certs: &[CertificateDer<'_>]) -> Result<Vec<TrustAnchor<'static>>, Error> {
    certs
        .iter()
        .map(|c| {
            webpki::anchor_from_trusted_cert(c)
                .map(|a| a.to_owned())
                .map_err(|e| Error::RootCertificate(e.to_string()))
        })
        .collect()
}

fn certified_key(id: &ClientIdentity, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, Error> {
    let signing_key = provider
        .key_provider
        .load_private_key(id.key.clone_key())
        .map_err(|e| Error::ClientIdentity(e.to_string()))?;
    Ok(Arc::new(CertifiedKey::new(id.chain.clone(), signing_key)))
}

/// What the verifier and the resolver saw during one handshake.
#[derive(Debug, Default)]
struct Recorder {
    chain: Mutex<Vec<Vec<u8>>>,
    cert_request: Mutex<Option<CertificateRequest>>,
}

/// A poisoned lock still holds a whole value (each is replaced in one assignment).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug)]
struct RecordingVerifier {
    provider: Arc<CryptoProvider>,
    roots: Option<Vec<TrustAnchor<'static>>>,
    recorder: Arc<Recorder>,
}

impl RecordingVerifier {
    fn verify_chain(
        &self,
        roots: &[TrustAnchor<'static>],
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let ee = webpki::EndEntityCert::try_from(end_entity).map_err(certificate_error)?;
        ee.verify_for_usage(
            self.provider.signature_verification_algorithms.all,
            roots,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map(drop)
        .map_err(certificate_error)
    }
}

/// The common webpki failures as rustls' own certificate errors, the rest wrapped.
fn certificate_error(e: webpki::Error) -> rustls::Error {
    let kind = match e {
        webpki::Error::UnknownIssuer => CertificateError::UnknownIssuer,
        webpki::Error::CertExpired { .. } => CertificateError::Expired,
        webpki::Error::CertNotValidYet { .. } => CertificateError::NotValidYet,
        webpki::Error::InvalidSignatureForPublicKey => CertificateError::BadSignature,
        webpki::Error::CertRevoked => CertificateError::Revoked,
        other => CertificateError::Other(OtherError(Arc::new(other))),
    };
    rustls::Error::InvalidCertificate(kind)
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = std::iter::once(end_entity).chain(intermediates).map(|c| c.to_vec()).collect();
        *lock(&self.recorder.chain) = chain;
        if let Some(roots) = &self.roots {
            self.verify_chain(roots, end_entity, intermediates, now)?;
        }
        Ok(ServerCertVerified::assertion())
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

#[derive(Debug)]
struct RecordingResolver {
    key: Option<Arc<CertifiedKey>>,
    recorder: Arc<Recorder>,
}

impl ResolvesClientCert for RecordingResolver {
    /// rustls calls this exactly when a CertificateRequest arrived, with or without a key to offer.
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let names = root_hint_subjects.iter().map(|n| n.to_vec()).collect();
        *lock(&self.recorder.cert_request) = Some(CertificateRequest { acceptable_ca_names: names });
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        self.key.is_some()
    }
}

/// DER blobs as hex strings: arrays of numbers help no one reading JSON.
fn hex_list<S: Serializer>(items: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(items.iter().map(|der| der.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_names_follow_the_registry() {
        assert_eq!(iana_suite_name(rustls::CipherSuite::TLS13_AES_256_GCM_SHA384), "TLS_AES_256_GCM_SHA384");
        assert_eq!(
            iana_suite_name(rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
        );
        assert_eq!(iana_suite_name(rustls::CipherSuite::from(0xabcd)), "0xabcd");
    }

    #[test]
    fn garbage_roots_are_refused_before_connecting() {
        let bogus = [CertificateDer::from(vec![1u8, 2, 3])];
        let opts = Options { roots: Some(&bogus), ..Options::default() };
        let err = client_config(&opts, &Arc::new(Recorder::default())).unwrap_err();
        assert!(matches!(err, Error::RootCertificate(_)), "{err}");
    }

    #[test]
    fn facts_serialise_chains_as_hex() {
        let facts = TlsFacts {
            negotiated_version: TlsVersionName::Tls1_3,
            cipher_suite: "TLS_AES_128_GCM_SHA256".into(),
            key_exchange_group: None,
            chain: vec![vec![0x30, 0x82]],
            alpn: None,
            client_certificate_request: None,
        };
        let json = serde_json::to_value(&facts).unwrap();
        assert_eq!(json["chain"][0], "3082");
        assert_eq!(json["negotiated_version"], "TLSv1.3");
    }
}
