//! TLS for pgharden's connections: a rustls `ClientConfig` that behaves like libpq with OpenSSL.
//!
//! Owns: turning [`Settings`] into client TLS — which verification an sslmode implies (libpq's
//! "a root file makes `require` verify the chain" included), the trust store and CRLs
//! (`trust.rs`), the client certificate and key (`client_cert.rs`), the certificate verifier
//! (`verifier.rs`), protocol versions (TLS 1.2 minimum by default, as libpq), SNI by libpq's rule,
//! and ALPN `postgresql` for `sslnegotiation=direct`. One crypto provider only: aws-lc-rs, passed
//! explicitly, never installed process-wide.
//! Must not: open sockets or speak the PostgreSQL protocol (that is `connect`).

mod client_cert;
mod trust;
mod verifier;

use std::sync::Arc;

use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, SupportedProtocolVersion};
use rustls_pki_types::ServerName;

pub use client_cert::key_mode_ok;
pub use verifier::{CertificateFailure, TlsOutcome, VERIFY_FAILED};

use self::trust::Trust;
use self::verifier::{ClientCertResolver, LibpqVerifier};
use crate::conninfo::{Settings, SslNegotiation, TlsVersion, Verification};
use crate::error::TlsError;

/// ALPN protocol PostgreSQL 17+ requires for direct TLS.
pub(crate) const ALPN_POSTGRESQL: &[u8] = b"postgresql";

/// The crypto provider every config here uses.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The TLS material of one [`Settings`], loaded once and shared by the attempts to each host.
#[derive(Debug)]
pub struct TlsContext {
    provider: Arc<CryptoProvider>,
    verification: Verification,
    trust: Option<Arc<Trust>>,
    identity: Option<Arc<CertifiedKey>>,
    versions: Vec<&'static SupportedProtocolVersion>,
    sni: bool,
    direct: bool,
    warnings: Vec<String>,
}

impl TlsContext {
    /// Read root certificates, CRLs, the client certificate and key, as libpq's `initialize_SSL`.
    pub fn load(settings: &Settings) -> Result<Self, TlsError> {
        let provider = provider();
        let verification = settings.verification();
        let mut warnings = Vec::new();
        let trust = Trust::load(settings, verification != Verification::None, &mut warnings)?.map(Arc::new);
        let identity = client_cert::load(settings, &provider)?;
        Ok(Self {
            versions: versions(settings.ssl_min_protocol_version, settings.ssl_max_protocol_version)?,
            provider,
            verification,
            trust,
            identity,
            sni: settings.sslsni,
            direct: settings.sslnegotiation == SslNegotiation::Direct,
            warnings,
        })
    }

    /// How the server's certificate is checked.
    pub fn verification(&self) -> Verification {
        self.verification
    }

    /// Whether a client certificate is configured (and will be offered when asked for).
    pub fn has_client_cert(&self) -> bool {
        self.identity.is_some()
    }

    /// What libpq would have skipped silently (a missing explicit CRL file, say).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// A config for one connection to `host` — the `host` text as given, never `hostaddr`, since
    /// verify-full compares that — and the outcome its handshake will record.
    pub fn client_config(&self, host: &str) -> Result<(ClientConfig, Arc<TlsOutcome>), TlsError> {
        let outcome = Arc::new(TlsOutcome::default());
        let verifier = LibpqVerifier {
            provider: Arc::clone(&self.provider),
            trust: self.trust.clone(),
            host: (self.verification == Verification::Full).then(|| host.to_owned()),
            outcome: Arc::clone(&outcome),
        };
        let resolver = ClientCertResolver { key: self.identity.clone(), outcome: Arc::clone(&outcome) };
        let mut config = ClientConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_protocol_versions(&self.versions)
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_cert_resolver(Arc::new(resolver));
        config.enable_sni = self.sni && sends_sni(host) && server_name(host).is_some();
        // libpq never resumes sessions; a resumed session would also skip our verifier.
        config.resumption = Resumption::disabled();
        if self.direct {
            config.alpn_protocols = vec![ALPN_POSTGRESQL.to_vec()];
        }
        Ok((config, outcome))
    }
}

/// The server name text to give tokio-postgres-rustls for `host`: the host itself when rustls can
/// parse it, else a placeholder (SNI is then off, and our verifier ignores rustls's name anyway).
pub(crate) fn rustls_server_name(host: &str) -> String {
    server_name(host).map_or_else(|| "localhost".to_owned(), |_| host.to_owned())
}

fn server_name(host: &str) -> Option<ServerName<'static>> {
    ServerName::try_from(host.to_owned()).ok()
}

/// libpq sends SNI unless the host is empty or looks like an address (only digits and dots, or
/// containing a colon).
fn sends_sni(host: &str) -> bool {
    !host.is_empty() && !host.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !host.contains(':')
}

/// The TLS versions rustls offers within libpq's bounds. rustls has only 1.2 and 1.3, so a
/// minimum of TLSv1 or TLSv1.1 still means 1.2.
fn versions(
    min: Option<TlsVersion>,
    max: Option<TlsVersion>,
) -> Result<Vec<&'static SupportedProtocolVersion>, TlsError> {
    let allowed = |v: TlsVersion| min.is_none_or(|m| m <= v) && max.is_none_or(|m| v <= m);
    let mut out = Vec::new();
    if allowed(TlsVersion::Tls1_3) {
        out.push(&rustls::version::TLS13);
    }
    if allowed(TlsVersion::Tls1_2) {
        out.push(&rustls::version::TLS12);
    }
    if out.is_empty() {
        return Err(TlsError::NoProtocolVersion);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_bounds() {
        use TlsVersion::*;
        let names = |min, max| versions(min, max).map(|v| v.iter().map(|v| v.version).collect::<Vec<_>>());
        let both = vec![rustls::ProtocolVersion::TLSv1_3, rustls::ProtocolVersion::TLSv1_2];
        assert_eq!(names(Some(Tls1_2), None), Ok(both.clone()));
        assert_eq!(names(Some(Tls1_0), None), Ok(both));
        assert_eq!(names(Some(Tls1_3), None), Ok(vec![rustls::ProtocolVersion::TLSv1_3]));
        assert_eq!(names(None, Some(Tls1_2)), Ok(vec![rustls::ProtocolVersion::TLSv1_2]));
        assert_eq!(names(None, Some(Tls1_1)), Err(TlsError::NoProtocolVersion));
    }

    #[test]
    fn sni_rule() {
        assert!(sends_sni("db.example.com"));
        assert!(sends_sni("localhost"));
        for no in ["", "127.0.0.1", "127.1", "::1", "fe80::1%eth0"] {
            assert!(!sends_sni(no), "{no}");
        }
        assert_eq!(rustls_server_name(""), "localhost");
        assert_eq!(rustls_server_name("127.0.0.1"), "127.0.0.1");
    }
}
