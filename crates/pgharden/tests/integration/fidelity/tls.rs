//! Group D: TLS and CRL data judged from the certificates and CRLs themselves: a CRL past (or
//! within a warning window of) its next update, in `ssl_crl_file` or in `ssl_crl_dir`, or a CRL
//! directory that does not exist; a weak or nearly expired server certificate; and a server that
//! refused a new certificate and still serves the old one (review P5, P6, P11).
//!
//! Every broken state is proven on the server before it is judged: alice's certificate login is
//! refused once her CA's CRL is stale or missing, and `openssl s_client` shows which certificate
//! the server serves.

use std::fs;
use std::path::Path;

use pgharden_testcluster::Cluster;
use rcgen::{
    CertificateParams, CertificateRevocationListParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use super::Want::{Fails, Holds};
use super::{
    Cases, describe, hardened, judge, mended, owned_dir, owned_file, reload, reload_ok, reset_system,
    set_system, setting_path, sql,
};
use crate::support::{TestPki, as_user_ok, ca_issuer, evidence, openssl, psql};

#[test]
fn fidelity_tls_and_crl_data() {
    let (pki, c) = hardened();
    sql(&c, "CREATE ROLE alice LOGIN CONNECTION LIMIT 10");
    assert!(alice_logs_in(&c, &pki), "setup: alice logs in with her certificate on the baseline");
    let mut cases = Cases::new("D, TLS and CRL data");
    crl_file(&mut cases, &c, &pki);
    crl_dir(&mut cases, &c, &pki);
    server_certificate(&mut cases, &c, &pki);
    cases.finish();
}

/// Whether alice's certificate (client CA, CRLs checked by the server) gets her in.
fn alice_logs_in(c: &Cluster, pki: &TestPki) -> bool {
    let conninfo = format!(
        "host=localhost hostaddr=127.0.0.1 port={} user=alice dbname=postgres sslmode=verify-full \
         sslrootcert={} sslcert={} sslkey={}",
        c.port(),
        pki.p("root/ca.crt"),
        pki.p("clients/alice/client.crt"),
        pki.p("clients/alice/client.key")
    );
    psql(c, &conninfo, "SELECT current_user").ok
}

/// The subject key identifier of a CA of the PKI, which its CRLs must name as their authority.
fn ca_key_id(pki: &TestPki, ca: &str) -> Vec<u8> {
    use x509_parser::extensions::ParsedExtension;
    let pem = fs::read(pki.path(&format!("{ca}/ca.crt"))).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let cert = pem.parse_x509().unwrap();
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        })
        .expect("the PKI's CAs carry a subject key identifier")
}

/// An empty CRL of `ca` whose next update is `next` (this update a day before it, or earlier).
fn crl_of(pki: &TestPki, ca: &str, next: OffsetDateTime) -> String {
    let now = OffsetDateTime::now_utc();
    let params = CertificateRevocationListParams {
        this_update: (next - Duration::days(1)).min(now - Duration::hours(1)),
        next_update: next,
        crl_number: SerialNumber::from(1_000_000u64),
        issuing_distribution_point: None,
        revoked_certs: Vec::new(),
        key_identifier_method: KeyIdMethod::PreSpecified(ca_key_id(pki, ca)),
    };
    params.signed_by(&ca_issuer(pki, ca)).unwrap().pem().unwrap()
}

/// The baseline's CRL bundle with the client CA's CRL replaced by one due at `next`: the root's and
/// the server CA's CRLs are kept, so only the staleness of one CRL differs.
fn bundle_with_client_crl(pki: &TestPki, next: OffsetDateTime) -> String {
    let read = |rel: &str| fs::read_to_string(pki.path(rel)).unwrap();
    format!("{}{}{}", read("root/crl.pem"), read("server-ca/crl.pem"), crl_of(pki, "client-ca", next))
}

/// Replace the contents of `path` (keeping its owner and mode) and reload.
fn install(c: &Cluster, path: &Path, contents: &[u8]) {
    fs::write(path, contents).unwrap_or_else(|e| panic!("setup: writing {}: {e}", path.display()));
    reload_ok(c);
}

/// P5: the CRL file holds a CRL past its next update, or one due within the warning window.
fn crl_file(cases: &mut Cases, c: &Cluster, pki: &TestPki) {
    let path = setting_path(c, "ssl_crl_file");
    let original = fs::read(&path).unwrap();
    let text = String::from_utf8_lossy(&original);
    for ca in ["root", "server-ca", "client-ca"] {
        let crl = fs::read_to_string(pki.path(&format!("{ca}/crl.pem"))).unwrap();
        assert!(text.contains(crl.trim()), "setup: the baseline's ssl_crl_file holds the {ca} CRL");
    }
    let path_s = path.to_str().unwrap();

    let expired = OffsetDateTime::now_utc() - Duration::days(10);
    install(c, &path, bundle_with_client_crl(pki, expired).as_bytes());
    assert!(!alice_logs_in(c, pki), "setup: the server refuses alice once her CA's CRL is stale");
    let date = expired.date().to_string();
    let wants = [("PGH-TLS-02", Fails(&[path_s, &date]))];
    cases.check(&format!("ssl_crl_file with a CRL expired {date}: {}", describe(&wants)), || {
        judge(c, &[], &wants);
    });
    install(c, &path, &original);
    assert!(alice_logs_in(c, pki), "setup: alice logs in again with the baseline's CRLs");
    mended(cases, c, "the baseline's CRLs back", &wants);

    let soon = OffsetDateTime::now_utc() + Duration::days(3);
    install(c, &path, bundle_with_client_crl(pki, soon).as_bytes());
    assert!(alice_logs_in(c, pki), "setup: a CRL due in 3 days is still current");
    let date = soon.date().to_string();
    let wants = [("PGH-TLS-02", Fails(&[&date]))];
    cases.check(&format!("ssl_crl_file with a CRL due {date} (3 days): {}", describe(&wants)), || {
        judge(c, &[], &wants);
    });
    cases.check("the same with --warn-days 1: PGH-TLS-02 holds", || {
        judge(c, &["--warn-days", "1"], &[("PGH-TLS-02", Holds)]);
    });
    install(c, &path, &original);
    mended(cases, c, "the baseline's CRLs back", &wants);
}

/// P6: `ssl_crl_dir` instead of a file: missing, holding a stale CRL, holding current ones.
fn crl_dir(cases: &mut Cases, c: &Cluster, pki: &TestPki) {
    let missing = c.root_dir().join("no-such-crl-dir");
    let was_file = set_system(c, "ssl_crl_file", "");
    let was_dir = set_system(c, "ssl_crl_dir", missing.to_str().unwrap());
    assert!(!alice_logs_in(c, pki), "setup: without any CRL the server refuses alice");
    let missing_s = missing.to_str().unwrap();
    let wants = [("PGH-TLS-02", Fails(&[missing_s]))];
    cases.check(&format!("ssl_crl_dir {missing_s} missing: {}", describe(&wants)), || {
        judge(c, &[], &wants);
    });

    let dir = owned_dir(c, "crls");
    let owner = c.os_user();
    let expired = OffsetDateTime::now_utc() - Duration::days(10);
    let put = |name: &str, pem: &str| owned_file(c, &dir, name, pem, 0o600);
    put("root.pem", &fs::read_to_string(pki.path("root/crl.pem")).unwrap());
    put("server-ca.pem", &fs::read_to_string(pki.path("server-ca/crl.pem")).unwrap());
    put("client-ca.pem", &crl_of(pki, "client-ca", expired));
    as_user_ok(owner, "openssl", &["rehash", dir.to_str().unwrap()]);
    set_system(c, "ssl_crl_dir", dir.to_str().unwrap());
    assert!(
        !alice_logs_in(c, pki),
        "setup: the server refuses alice with her CA's CRL stale in the directory"
    );
    let date = expired.date().to_string();
    let wants = [("PGH-TLS-02", Fails(&[&date]))];
    cases.check(&format!("ssl_crl_dir with a CRL expired {date}: {}", describe(&wants)), || {
        judge(c, &[], &wants);
    });

    put("client-ca.pem", &fs::read_to_string(pki.path("client-ca/crl.pem")).unwrap());
    as_user_ok(owner, "openssl", &["rehash", dir.to_str().unwrap()]);
    reload_ok(c);
    assert!(alice_logs_in(c, pki), "setup: with current CRLs in the directory alice logs in");
    cases.check("ssl_crl_dir with current CRLs: PGH-TLS-02 holds", || {
        judge(c, &[], &[("PGH-TLS-02", Holds)]);
    });

    reset_system(c, "ssl_crl_dir", &was_dir);
    reset_system(c, "ssl_crl_file", &was_file);
    assert!(alice_logs_in(c, pki), "setup: the baseline's ssl_crl_file is back");
    mended(cases, c, "ssl_crl_file back", &wants);
}

/// The first certificate in PEM text, without line breaks, to compare certificates by content.
fn first_cert(pem: &str) -> String {
    let start = pem.find("-----BEGIN CERTIFICATE-----").expect("a PEM certificate");
    let end = pem[start..].find("-----END CERTIFICATE-----").expect("a complete PEM certificate") + start;
    pem[start..end].split_whitespace().collect()
}

/// The leaf certificate the server serves now, as `openssl s_client` receives it.
fn served_leaf(c: &Cluster) -> String {
    let connect = format!("127.0.0.1:{}", c.port());
    let (_, out) =
        openssl(&["s_client", "-starttls", "postgres", "-connect", &connect, "-servername", "localhost"]);
    assert!(out.contains("BEGIN CERTIFICATE"), "setup: s_client got no certificate: {out}");
    first_cert(&out)
}

/// A server certificate for localhost and 127.0.0.1 from the server CA, P-256/SHA-256, valid until
/// `not_after`; its PEM chain (leaf and the server CA) and key.
fn good_server_cert(pki: &TestPki, not_after: OffsetDateTime) -> (String, String) {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "localhost");
    params.subject_alt_names = vec![
        SanType::DnsName("localhost".to_string().try_into().unwrap()),
        SanType::IpAddress("127.0.0.1".parse().unwrap()),
    ];
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = OffsetDateTime::now_utc() - Duration::hours(1);
    params.not_after = not_after;
    let cert = params.signed_by(&key, &ca_issuer(pki, "server-ca")).unwrap();
    let chain = format!("{}{}", cert.pem(), fs::read_to_string(pki.path("server-ca/ca.crt")).unwrap());
    (chain, key.serialize_pem())
}

/// The review's weak certificate: RSA-1024, signed with SHA-1 by the server CA, 4 days left.
fn weak_server_cert(pki: &TestPki) -> (String, String) {
    let dir = pki.tmp.path().join("weak");
    fs::create_dir_all(&dir).unwrap();
    let p = |name: &str| dir.join(name).to_str().unwrap().to_string();
    fs::write(p("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        .unwrap();
    let steps: [&[&str]; 3] = [
        &["genrsa", "-out", &p("weak.key"), "1024"],
        &["req", "-new", "-key", &p("weak.key"), "-subj", "/CN=localhost", "-out", &p("weak.csr")],
        &[
            "x509",
            "-req",
            "-in",
            &p("weak.csr"),
            "-CA",
            &pki.p("server-ca/ca.crt"),
            "-CAkey",
            &pki.p("server-ca/ca.key"),
            "-set_serial",
            "0x5eed1024",
            "-sha1",
            "-days",
            "4",
            "-extfile",
            &p("ext.cnf"),
            "-out",
            &p("weak.crt"),
        ],
    ];
    for args in steps {
        let (ok, out) = openssl(args);
        assert!(ok, "setup: openssl {args:?}: {out}");
    }
    let chain = format!(
        "{}{}",
        fs::read_to_string(p("weak.crt")).unwrap(),
        fs::read_to_string(pki.path("server-ca/ca.crt")).unwrap()
    );
    (chain, fs::read_to_string(p("weak.key")).unwrap())
}

/// P11: a weak certificate (refused by the server), one about to expire, and a file the server
/// refused so that it serves another certificate than `ssl_cert_file` holds.
fn server_certificate(cases: &mut Cases, c: &Cluster, pki: &TestPki) {
    let cert_path = setting_path(c, "ssl_cert_file");
    let key_path = setting_path(c, "ssl_key_file");
    let (orig_cert, orig_key) = (fs::read(&cert_path).unwrap(), fs::read(&key_path).unwrap());
    let orig_leaf = first_cert(&String::from_utf8_lossy(&orig_cert));
    assert_eq!(served_leaf(c), orig_leaf, "setup: the server serves ssl_cert_file");
    let restore = |c: &Cluster| {
        fs::write(&cert_path, &orig_cert).unwrap();
        fs::write(&key_path, &orig_key).unwrap();
        reload_ok(c);
        assert_eq!(served_leaf(c), orig_leaf, "setup: the baseline's certificate is served again");
    };

    let (chain, key) = weak_server_cert(pki);
    install_pair(&cert_path, &key_path, &chain, &key);
    let log = reload(c);
    assert!(log.contains("was not reloaded"), "setup: the server refuses RSA-1024/SHA-1: {log}");
    cases.check(
        "RSA-1024/SHA-1 server certificate, 4 days left: PGH-TLS-04 fails naming the weakness",
        || {
            let report = judge(c, &[], &[("PGH-TLS-04", Fails(&[]))]);
            let ev = evidence(&report, "PGH-TLS-04").to_ascii_lowercase();
            assert!(
                ["1024", "sha-1", "sha1"].iter().any(|w| ev.contains(w)),
                "PGH-TLS-04 evidence names neither the key size nor the signature algorithm: {ev}"
            );
        },
    );
    restore(c);
    mended(cases, c, "the baseline's certificate back", &[("PGH-TLS-04", Fails(&[]))]);

    let soon = OffsetDateTime::now_utc() + Duration::days(3);
    let (chain, key) = good_server_cert(pki, soon);
    install_pair(&cert_path, &key_path, &chain, &key);
    reload_ok(c);
    assert_eq!(served_leaf(c), first_cert(&chain), "setup: the server serves the new certificate");
    let date = soon.date().to_string();
    let wants = [("PGH-TLS-04", Fails(&[&date]))];
    cases.check(&format!("P-256 server certificate expiring {date} (3 days): {}", describe(&wants)), || {
        judge(c, &[], &wants);
    });
    cases.check("the same with --warn-days 1: PGH-TLS-04 holds", || {
        judge(c, &["--warn-days", "1"], &[("PGH-TLS-04", Holds)]);
    });
    restore(c);
    mended(cases, c, "the baseline's certificate back", &wants);

    // Another valid certificate for the same names, but the key stays the old one: the server
    // refuses the pair on reload and keeps serving the baseline's certificate.
    let (chain, _other_key) = good_server_cert(pki, OffsetDateTime::now_utc() + Duration::days(90));
    fs::write(&cert_path, &chain).unwrap();
    let log = reload(c);
    assert!(
        log.contains("was not reloaded"),
        "setup: the server refuses a certificate without its key: {log}"
    );
    assert_eq!(served_leaf(c), orig_leaf, "setup: the server still serves the old certificate");
    let wants = [("PGH-TLS-04", Fails(&["served"]))];
    cases.check("ssl_cert_file not the certificate the server serves: PGH-TLS-04 fails saying so", || {
        judge(c, &[], &wants);
    });
    restore(c);
    mended(cases, c, "the baseline's certificate back", &wants);
}

/// Put a certificate chain and its key where the server's settings name them: one file (the
/// profile's `server.pem`, key first) when both settings name the same file, else two.
fn install_pair(cert_path: &Path, key_path: &Path, chain: &str, key: &str) {
    if cert_path == key_path {
        fs::write(cert_path, format!("{key}{chain}")).unwrap();
    } else {
        fs::write(cert_path, chain).unwrap();
        fs::write(key_path, key).unwrap();
    }
}
