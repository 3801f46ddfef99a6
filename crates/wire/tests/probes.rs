//! Every probe against a real PostgreSQL server (the version `pgharden-testcluster` picks, 15 here), with
//! certificates made at test time by `pgharden-pki`, cross-checked against `openssl s_client` where
//! it can speak the same protocol.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too: a failed setup is a failed test
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use pgharden_pki::{ClientRequest, InitOptions, KeyType, Kind, Pki, ServerRequest};
use pgharden_testcluster::Cluster;
use pgharden_wire::{
    ALPN_POSTGRESQL, Alert, AuthRequest, ClientIdentity, DirectTlsAnswer, Error, ProbeTarget, Refusal,
    SslAnswer, StartupReply, TlsVersionName, VersionOutcome,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tempfile::TempDir;

const TLS_CONF: &str = "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n";

/// A running cluster with TLS on, and the PKI its certificate came from.
struct TlsServer {
    cluster: Cluster,
    pki: Pki,
    _dir: TempDir,
}

impl TlsServer {
    /// TLS on with a P-256 server certificate for localhost/127.0.0.1, plus `extra` settings.
    fn start(extra: &str) -> Self {
        let cluster = Cluster::start_default().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut pki =
            Pki::init(dir.path(), &InitOptions { key_type: KeyType::P256, ..Default::default() }).unwrap();
        let hosts = vec!["localhost".into(), "127.0.0.1".into()];
        let issued = pki.issue_server(&ServerRequest { hosts, ..Default::default() }, None).unwrap();
        cluster.write_file("server.crt", &std::fs::read(&issued.cert_path).unwrap(), 0o600).unwrap();
        cluster.write_file("server.key", &std::fs::read(&issued.key_path).unwrap(), 0o600).unwrap();
        cluster.append_conf(&format!("{TLS_CONF}{extra}")).unwrap();
        cluster.reload().unwrap();
        Self { cluster, pki, _dir: dir }
    }

    fn target(&self) -> ProbeTarget {
        target(&self.cluster)
    }

    fn server_chain(&self) -> Vec<Vec<u8>> {
        pem_certs(&self.pki.dir().join("servers/localhost/server.crt"))
    }

    fn root(&self) -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_file_iter(self.pki.ca_cert_path(Kind::Root))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// `ssl_ca_file` with the client CA and the root, then a pg_hba.conf with `cert` over TLS.
    /// Two reloads: the server loads pg_hba.conf before its TLS settings, and refuses a `cert`
    /// line while no CA file is loaded.
    fn require_client_certificates(&self) {
        let mut cas = std::fs::read(self.pki.ca_cert_path(Kind::Root)).unwrap();
        cas.extend(std::fs::read(self.pki.ca_cert_path(Kind::ClientCa)).unwrap());
        self.cluster.write_file("ca.crt", &cas, 0o600).unwrap();
        self.cluster.append_conf("ssl_ca_file = 'ca.crt'").unwrap();
        self.cluster.reload().unwrap();
        self.cluster.write_hba("local all all trust\nhostssl all all 127.0.0.1/32 cert\n").unwrap();
        self.cluster.reload().unwrap();
    }
}

fn target(cluster: &Cluster) -> ProbeTarget {
    let addr: SocketAddr = format!("{}:{}", cluster.host(), cluster.port()).parse().unwrap();
    ProbeTarget::new(addr).with_timeout(Duration::from_secs(10))
}

fn pem_certs(path: &Path) -> Vec<Vec<u8>> {
    CertificateDer::pem_file_iter(path).unwrap().map(|c| c.unwrap().to_vec()).collect()
}

fn set_hba(cluster: &Cluster, hba: &str) {
    cluster.write_hba(&format!("local all all trust\n{hba}")).unwrap();
    cluster.reload().unwrap();
}

/// What `openssl s_client -starttls postgres` saw.
#[derive(Debug)]
struct SClient {
    /// `(version, cipher)` from "New, TLSv1.3, Cipher is …"; `None` when no session was made.
    session: Option<(String, String)>,
    chain: Vec<Vec<u8>>,
    /// The number in "SSL alert number N", if the server sent an alert.
    alert: Option<u8>,
}

fn s_client(addr: SocketAddr, args: &[&str]) -> SClient {
    let out = Command::new("openssl")
        .args(["s_client", "-starttls", "postgres", "-connect", &addr.to_string(), "-showcerts"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("openssl is installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // "New, TLSv1.0, Cipher is X" names the version that introduced the *cipher*; the protocol
    // is in "Protocol  : TLSv1.1", which OpenSSL prints only when the session summary is printed
    // (for TLS 1.3 it is often not, and there both lines agree).
    let new_line = stdout.lines().find_map(|l| {
        let (version, cipher) = l.strip_prefix("New, ")?.split_once(", Cipher is ")?;
        (version != "(NONE)").then(|| (version.to_owned(), cipher.trim().to_owned()))
    });
    let protocol = stdout
        .lines()
        .find_map(|l| Some(l.trim().strip_prefix("Protocol")?.trim().strip_prefix(':')?.trim().to_owned()));
    let session = new_line.map(|(version, cipher)| (protocol.unwrap_or(version), cipher));
    let chain =
        CertificateDer::pem_slice_iter(&out.stdout).filter_map(Result::ok).map(|c| c.to_vec()).collect();
    let alert =
        stderr.split("SSL alert number ").nth(1).and_then(|s| s.split_whitespace().next()?.parse().ok());
    SClient { session, chain, alert }
}

#[test]
fn ssl_request_follows_the_ssl_setting() {
    let cluster = Cluster::start_default().unwrap();
    let t = target(&cluster);
    assert_eq!(pgharden_wire::ssl_request(&t).unwrap(), SslAnswer::Refused);
    // TLS-only probes say so instead of failing obscurely.
    let err = pgharden_wire::server_certificate_chain(&t).unwrap_err();
    assert!(matches!(&err, Error::SslNotAccepted { answer, .. } if **answer == SslAnswer::Refused), "{err}");
    assert!(err.to_string().contains("'N'"), "{err}");

    let server = TlsServer::start("");
    assert_eq!(pgharden_wire::ssl_request(&server.target()).unwrap(), SslAnswer::Accepted);
}

/// PostgreSQL answers `G` on TCP whenever it was built with GSSAPI — keytab or not, pg_hba.conf
/// or not — and `N` otherwise. Debian's packages are built with it.
#[test]
fn gssenc_request_follows_the_build() {
    let cluster = Cluster::start_default().unwrap();
    let configure = Command::new(cluster.install().bin("pg_config")).arg("--configure").output().unwrap();
    let with_gssapi = String::from_utf8_lossy(&configure.stdout).contains("--with-gssapi");
    let expected = if with_gssapi { SslAnswer::Accepted } else { SslAnswer::Refused };
    assert_eq!(pgharden_wire::gssenc_request(&target(&cluster)).unwrap(), expected);
}

#[test]
fn plaintext_is_refused_when_pg_hba_conf_demands_tls() {
    let server = TlsServer::start("");
    let t = server.target();

    set_hba(&server.cluster, "hostnossl all all 127.0.0.1/32 reject\nhostssl all all 127.0.0.1/32 trust\n");
    let refusal =
        pgharden_wire::plaintext_startup(&t, "postgres", "postgres").unwrap().refusal().cloned().unwrap();
    assert_eq!((refusal.code.as_str(), refusal.severity()), ("28000", "FATAL"));
    // A matching `reject` line and no matching line are reported differently.
    assert_eq!(
        refusal.message,
        "pg_hba.conf rejects connection for host \"127.0.0.1\", user \"postgres\", database \"postgres\", no encryption"
    );
    let over_tls = pgharden_wire::tls_startup(&t, "postgres", "postgres", None, None).unwrap();
    assert_eq!(over_tls.answer.reply, StartupReply::Authentication(AuthRequest::Ok));
    assert_eq!(over_tls.tls.negotiated_version, TlsVersionName::Tls1_3);

    set_hba(&server.cluster, "hostssl all all 127.0.0.1/32 trust\n");
    let refusal =
        pgharden_wire::plaintext_startup(&t, "postgres", "postgres").unwrap().refusal().cloned().unwrap();
    assert_eq!(refusal.code, "28000");
    assert_eq!(
        refusal.message,
        "no pg_hba.conf entry for host \"127.0.0.1\", user \"postgres\", database \"postgres\", no encryption"
    );
}

#[test]
fn a_password_method_is_reported_and_nothing_follows() {
    let server = TlsServer::start("");
    let t = server.target();
    set_hba(&server.cluster, "host all all 127.0.0.1/32 scram-sha-256\n");
    let offset = server.cluster.log_len();

    let answer = pgharden_wire::plaintext_startup(&t, "postgres", "postgres").unwrap();
    assert_eq!(
        answer.reply,
        StartupReply::Authentication(AuthRequest::Sasl { mechanisms: vec!["SCRAM-SHA-256".into()] })
    );
    assert!(answer.notices.is_empty());
    // Over TLS the server offers channel binding too.
    let over_tls = pgharden_wire::tls_startup(&t, "postgres", "postgres", None, None).unwrap();
    assert_eq!(
        over_tls.answer.authentication(),
        Some(&AuthRequest::Sasl { mechanisms: vec!["SCRAM-SHA-256-PLUS".into(), "SCRAM-SHA-256".into()] })
    );

    // The probe hung up without a password, a SASL message or a Terminate: the server logged
    // nothing (it would log "expected SASL response, got message type 88" for a Terminate).
    std::thread::sleep(Duration::from_millis(300));
    let log = server.cluster.log_since(offset);
    assert!(!log.contains("FATAL") && !log.contains("ERROR"), "{log}");
}

#[test]
fn cert_authentication_refuses_tls_without_a_client_certificate() {
    let mut server = TlsServer::start("");
    server.require_client_certificates();
    let t = server.target();

    let answer = pgharden_wire::tls_startup(&t, "postgres", "postgres", None, None).unwrap();
    let refusal = answer.answer.refusal().unwrap();
    assert_eq!(refusal.code, "28000");
    assert_eq!(refusal.message, "connection requires a valid client certificate");
    // The server asked for a certificate during the handshake, naming the CAs in ssl_ca_file.
    let request = answer.tls.client_certificate_request.unwrap();
    assert_eq!(request.acceptable_ca_names.len(), 2);
    let ca_file = [
        pem_certs(&server.pki.ca_cert_path(Kind::Root)),
        pem_certs(&server.pki.ca_cert_path(Kind::ClientCa)),
    ];
    for (name, ca) in request.acceptable_ca_names.iter().zip(ca_file.iter().flatten()) {
        assert!(
            ca.windows(name.len()).any(|w| w == name),
            "the CA name is the subject of a CA in ssl_ca_file"
        );
    }

    // With a certificate for the role the server lets us in without a password.
    let client = server
        .pki
        .issue_client(&ClientRequest { role: "postgres".into(), ..Default::default() }, None)
        .unwrap();
    let identity = ClientIdentity::from_pem_files(&client.cert_path, &client.key_path).unwrap();
    let answer = pgharden_wire::tls_startup(&t, "postgres", "postgres", None, Some(&identity)).unwrap();
    assert_eq!(answer.answer.reply, StartupReply::Authentication(AuthRequest::Ok));

    // A certificate from another CA is refused by the TLS layer, after the TLS 1.3 handshake.
    let other_dir = tempfile::tempdir().unwrap();
    let mut other =
        Pki::init(other_dir.path(), &InitOptions { key_type: KeyType::P256, ..Default::default() }).unwrap();
    let stranger =
        other.issue_client(&ClientRequest { role: "postgres".into(), ..Default::default() }, None).unwrap();
    let identity = ClientIdentity::from_pem_files(&stranger.cert_path, &stranger.key_path).unwrap();
    let answer = pgharden_wire::tls_startup(&t, "postgres", "postgres", None, Some(&identity)).unwrap();
    assert_eq!(answer.answer.reply, StartupReply::TlsAlert(Alert { description: 48 }), "unknown_ca");
}

#[test]
fn roots_make_the_probe_verify_the_chain() {
    let server = TlsServer::start("");
    let t = server.target();
    let roots = server.root();
    let answer = pgharden_wire::tls_startup(&t, "postgres", "postgres", Some(&roots), None).unwrap();
    assert!(answer.answer.authentication().is_some());

    // A root from elsewhere: the issuer of the server's intermediate is not among the roots.
    let elsewhere =
        InitOptions { key_type: KeyType::P256, organization: "elsewhere".into(), ..Default::default() };
    let err = pgharden_wire::tls_startup(&t, "postgres", "postgres", Some(&foreign_root(&elsewhere)), None)
        .unwrap_err();
    assert_eq!(invalid_certificate(&err), Some(&rustls::CertificateError::UnknownIssuer), "{err}");
    // A root with the very same name but another key: webpki finds the "issuer" by name and
    // reports the signature as bad (OpenSSL would say "unable to get local issuer certificate").
    let same_name = InitOptions { key_type: KeyType::P256, ..Default::default() };
    let err = pgharden_wire::tls_startup(&t, "postgres", "postgres", Some(&foreign_root(&same_name)), None)
        .unwrap_err();
    assert_eq!(invalid_certificate(&err), Some(&rustls::CertificateError::BadSignature), "{err}");
}

fn foreign_root(opts: &InitOptions) -> Vec<CertificateDer<'static>> {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::init(dir.path(), opts).unwrap();
    CertificateDer::pem_file_iter(pki.ca_cert_path(Kind::Root)).unwrap().map(Result::unwrap).collect()
}

fn invalid_certificate(err: &Error) -> Option<&rustls::CertificateError> {
    match err {
        Error::Tls { error: rustls::Error::InvalidCertificate(e), .. } => Some(e),
        _ => None,
    }
}

#[test]
fn the_served_chain_and_version_match_the_files_and_openssl() {
    let server = TlsServer::start("");
    let offset = server.cluster.log_len();
    let facts = pgharden_wire::server_certificate_chain(&server.target()).unwrap();
    // The probe finished the handshake and said close_notify, so the server had nothing to log.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.cluster.log_since(offset), "");
    let expected = server.server_chain();
    assert_eq!(expected.len(), 2, "leaf and intermediate");
    assert_eq!(facts.chain, expected);
    assert_eq!(facts.negotiated_version, TlsVersionName::Tls1_3);
    assert_eq!(facts.alpn, None);
    assert_eq!(facts.client_certificate_request, None, "no ssl_ca_file, no CertificateRequest");
    // ssl_ecdh_curve (prime256v1) is the only group PostgreSQL 15 allows, for TLS 1.3 too.
    assert_eq!(facts.key_exchange_group.as_deref(), Some("secp256r1"));

    let openssl = s_client(server.target().addr, &[]);
    assert_eq!(openssl.chain, facts.chain);
    assert_eq!(openssl.session, Some(("TLSv1.3".to_owned(), facts.cipher_suite.clone())));
}

#[test]
fn a_tls12_maximum_is_seen_by_both_probes() {
    let server = TlsServer::start("ssl_max_protocol_version = 'TLSv1.2'\n");
    let facts = pgharden_wire::server_certificate_chain(&server.target()).unwrap();
    assert_eq!(facts.negotiated_version, TlsVersionName::Tls1_2);
    assert_eq!(facts.cipher_suite, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384");
    assert_eq!(facts.chain, server.server_chain());

    let openssl = s_client(server.target().addr, &[]);
    assert_eq!(openssl.session, Some(("TLSv1.2".to_owned(), "ECDHE-ECDSA-AES256-GCM-SHA384".to_owned())));
    assert_eq!(openssl.chain, facts.chain);

    let versions = pgharden_wire::tls_versions(&server.target()).unwrap();
    let accepted: Vec<_> = versions.iter().filter(|(_, o)| o.is_accepted()).map(|(v, _)| *v).collect();
    assert_eq!(accepted, [TlsVersionName::Tls1_2]);
    assert_eq!(versions[3].1, VersionOutcome::Refused(Refusal::Alert { alert: Alert::PROTOCOL_VERSION }));
}

#[test]
fn a_tls12_minimum_refuses_tls10_and_tls11_with_protocol_version() {
    let server = TlsServer::start("ssl_min_protocol_version = 'TLSv1.2'\n");
    let versions = pgharden_wire::tls_versions(&server.target()).unwrap();
    let refused = VersionOutcome::Refused(Refusal::Alert { alert: Alert::PROTOCOL_VERSION });
    assert_eq!(versions[0], (TlsVersionName::Tls1_0, refused.clone()));
    assert_eq!(versions[1], (TlsVersionName::Tls1_1, refused));
    assert_eq!(versions[2].0, TlsVersionName::Tls1_2);
    assert!(versions[2].1.is_accepted());
    // PostgreSQL limits TLS 1.3 groups to ssl_ecdh_curve, so our X25519 key share earns a
    // HelloRetryRequest — which is still an acceptance of TLS 1.3.
    assert_eq!(
        versions[3],
        (
            TlsVersionName::Tls1_3,
            VersionOutcome::Accepted { cipher_suite: 0x1302, hello_retry_request: true }
        )
    );

    let openssl = s_client(server.target().addr, &["-tls1_1"]);
    assert_eq!((openssl.session, openssl.alert), (None, Some(70)));
}

/// `ssl_min_protocol_version = 'TLSv1'` does not make PostgreSQL 15 with Debian's OpenSSL 3 speak
/// TLS 1.0/1.1: OpenSSL's default security level (1) forbids the SHA-1 handshake signatures those
/// versions need, so the handshake dies with internal_error ("no suitable signature algorithm" in
/// the server log). Only lowering the security level in ssl_ciphers lets them through.
#[test]
fn a_tls10_minimum_still_refuses_tls10_and_tls11_at_openssl_security_level_1() {
    let server = TlsServer::start("ssl_min_protocol_version = 'TLSv1'\n");
    let addr = server.target().addr;
    let versions = pgharden_wire::tls_versions(&server.target()).unwrap();
    for (i, flag) in [(0, "-tls1"), (1, "-tls1_1")] {
        let openssl = s_client(addr, &[flag]);
        assert_eq!(openssl.session, None);
        let Some(alert) = openssl.alert else { panic!("openssl {flag}: no alert") };
        assert_eq!(
            versions[i].1,
            VersionOutcome::Refused(Refusal::Alert { alert: Alert { description: alert } })
        );
    }
    assert_eq!(versions[0].1, VersionOutcome::Refused(Refusal::Alert { alert: Alert::INTERNAL_ERROR }));
    assert!(versions[2].1.is_accepted() && versions[3].1.is_accepted());

    server.cluster.append_conf("ssl_ciphers = 'DEFAULT:@SECLEVEL=0'").unwrap();
    server.cluster.reload().unwrap();
    let versions = pgharden_wire::tls_versions(&server.target()).unwrap();
    assert!(versions.iter().all(|(_, o)| o.is_accepted()), "{versions:?}");
    // OpenSSL's client refuses SHA-1 signatures too unless told otherwise.
    let openssl = s_client(addr, &["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"]);
    assert_eq!(openssl.session.map(|s| s.0).as_deref(), Some("TLSv1.1"));
}

#[test]
fn direct_tls_before_postgresql_17_is_reported_as_not_supported() {
    let server = TlsServer::start("");
    let answer = pgharden_wire::direct_tls(&server.target(), &[ALPN_POSTGRESQL]).unwrap();
    if server.cluster.install().major() >= 17 {
        let DirectTlsAnswer::Negotiated(facts) = answer else { panic!("{answer:?}") };
        assert_eq!(facts.alpn.as_deref(), Some(ALPN_POSTGRESQL));
        let refused = pgharden_wire::direct_tls(&server.target(), &["http/1.1"]).unwrap();
        assert_eq!(refused, DirectTlsAnswer::Alert { alert: Alert::NO_APPLICATION_PROTOCOL });
    } else {
        let DirectTlsAnswer::NotSupported { reason } = answer else { panic!("{answer:?}") };
        assert!(reason.contains("closed the connection"), "{reason}");
        // The server read our ClientHello as a startup packet with an absurd length.
        assert!(server.cluster.log().contains("invalid length of startup packet"));
    }
}

#[test]
fn a_silent_peer_times_out_on_time() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let t = ProbeTarget::new(listener.local_addr().unwrap()).with_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = pgharden_wire::plaintext_startup(&t, "postgres", "postgres").unwrap_err();
    assert!(matches!(err, Error::Timeout { sent: pgharden_wire::Sent::StartupMessage, .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
}
