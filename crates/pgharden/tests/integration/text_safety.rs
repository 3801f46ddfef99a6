//! Output cannot lie: a certificate whose CN, O= and DNS SAN carry terminal escapes and a
//! "\r\nSubject: CN=trusted" line, shown by `pki show` from a file and by `probe` as a real
//! PostgreSQL 15 server serves it, comes out escaped on one line each, on a pipe (no ESC, no CR, no
//! forged line); `--json` keeps the original characters. Errors and `pki list` escape what they
//! quote too.

use std::fs;
use std::path::PathBuf;

use pgharden_testcluster::Cluster;
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType};

use crate::support::{TestPki, ca_issuer, install_server_tls, pgharden, run};

const CLEAR: &str = "\u{1b}[2J\u{1b}[H";
const FORGED: &str = "\r\nSubject: CN=trusted";

/// A server certificate for 127.0.0.1 with hostile text in its subject and SANs, signed by the
/// PKI's server CA, written as `servers/evil/server.{crt,key}` (leaf then intermediate).
fn hostile_certificate(pki: &TestPki) -> PathBuf {
    let issuer = ca_issuer(pki, "server-ca");
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::OrganizationName, format!("Example{FORGED}"));
    params.distinguished_name.push(DnType::CommonName, format!("evil{CLEAR}"));
    params.subject_alt_names = vec![
        SanType::IpAddress("127.0.0.1".parse().unwrap()),
        SanType::DnsName(format!("db{CLEAR}.example.com{FORGED}").try_into().unwrap()),
    ];
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(30);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let dir = pki.path("servers/evil");
    fs::create_dir_all(&dir).unwrap();
    let chain = format!("{}{}", cert.pem(), fs::read_to_string(pki.path("server-ca/ca.crt")).unwrap());
    fs::write(dir.join("server.crt"), chain).unwrap();
    fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    dir.join("server.crt")
}

/// What every text rendering of the hostile certificate must satisfy.
fn assert_escaped(what: &str, text: &str) {
    assert!(!text.contains('\u{1b}'), "{what}: a raw ESC reached the output:\n{text:?}");
    assert!(!text.contains('\r'), "{what}: a raw CR reached the output:\n{text:?}");
    let bad = text.chars().find(|c| c.is_control() && *c != '\n');
    assert!(bad.is_none(), "{what}: control character {bad:?} in\n{text:?}");
    for line in text.lines() {
        assert!(
            !line.starts_with("Subject: CN=trusted") && !line.trim_start().starts_with("Subject: CN=trusted"),
            "{what}: a forged line: {line:?}\nin\n{text}"
        );
    }
    // The escapes are shown, not dropped.
    assert!(text.contains("CN=evil\\x1b[2J\\x1b[H"), "{what}: the CN escapes are shown:\n{text}");
    assert!(text.contains("O=Example\\r\\nSubject: CN=trusted"), "{what}: the O= escapes are shown:\n{text}");
    assert!(
        text.contains("DNS:db\\x1b[2J\\x1b[H.example.com\\r\\nSubject: CN=trusted"),
        "{what}: the SAN escapes are shown:\n{text}"
    );
}

fn stdout_of(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "pgharden {args:?}: {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the output is UTF-8")
}

#[test]
fn pki_show_escapes_a_hostile_certificate() {
    let pki = TestPki::bare("p256");
    let file = hostile_certificate(&pki);
    let text = stdout_of(&["pki", "show", file.to_str().unwrap()]);
    assert_escaped("pki show", &text);
    assert_eq!(
        text.lines().filter(|l| l.trim_start().starts_with("Subject:")).count(),
        2,
        "leaf and CA:\n{text}"
    );

    // JSON keeps what the certificate says, character for character.
    let json = stdout_of(&["pki", "show", file.to_str().unwrap(), "--json"]);
    assert!(!json.contains('\u{1b}') && !json.contains('\r'), "{json:?}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let subject = v["items"][0]["subject"].as_str().unwrap();
    assert!(subject.contains(&format!("CN=evil{CLEAR}")), "{subject:?}");
    assert!(subject.contains(&format!("O=Example{FORGED}")), "{subject:?}");
    let sans: Vec<&str> =
        v["items"][0]["subject_alt_names"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(sans.contains(&format!("DNS:db{CLEAR}.example.com{FORGED}").as_str()), "{sans:?}");
}

#[test]
fn errors_escape_what_they_quote() {
    let pki = TestPki::bare("p256");
    let file = pki.tmp.path().join("label.pem");
    // A label cannot hold a newline, but a lone CR sends the cursor back over "error:".
    fs::write(&file, format!("-----BEGIN X{CLEAR}\rSubject: CN=trusted-----\nAAAA\n")).unwrap();
    let out = run(&["pki", "show", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains('\u{1b}') && !stderr.contains('\r'), "{stderr:?}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.starts_with("error: "), "{stderr:?}");
    assert!(
        stderr.contains("label.pem: truncated PEM: BEGIN X\\x1b[2J\\x1b[H\\rSubject: CN=trusted"),
        "{stderr}"
    );
}

#[test]
fn pki_list_escapes_a_hand_edited_ledger() {
    let pki = TestPki::bare("p256");
    let path = pki.path("ledger.json");
    let mut doc: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    doc["certificates"][0]["subject"] = serde_json::Value::from(format!("CN=root{CLEAR}{FORGED}"));
    doc["certificates"][1]["name"] = serde_json::Value::from(format!("x{FORGED}"));
    fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let text = pki.ok(&["pki", "list"]);
    assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text:?}");
    assert!(!text.lines().any(|l| l.trim_start().starts_with("Subject: CN=trusted")), "{text}");
    assert_eq!(text.lines().count(), 4, "a header and one line per CA:\n{text}");
    assert!(text.contains("CN=root\\x1b[2J\\x1b[H\\r\\nSubject: CN=trusted"), "{text}");
}

#[test]
fn probe_escapes_what_a_server_sends() {
    let pki = TestPki::bare("p256");
    hostile_certificate(&pki);
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    install_server_tls(&cluster, &pki, "evil");
    cluster
        .write_hba(
            "local all all trust\nhostssl all all 127.0.0.1/32 cert\nhostnossl all all 0.0.0.0/0 reject\n",
        )
        .unwrap();
    cluster.reload().unwrap_or_else(|e| panic!("reload: {e}\n{}", cluster.log()));
    let target = format!("127.0.0.1:{}", cluster.port());

    let out = pgharden().args(["probe", &target, "--sslrootcert", &pki.p("root/ca.crt")]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Certificates served:"), "the chain was read:\n{text}");
    assert_escaped("probe", &text);
    // The probe's own lines are still there, once each.
    assert_eq!(text.lines().filter(|l| l.trim_start().starts_with("verify-full:")).count(), 1, "{text}");

    let out = pgharden().args(["probe", &target, "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json = String::from_utf8(out.stdout).unwrap();
    assert!(!json.contains('\u{1b}') && !json.contains('\r'), "{json:?}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let leaf = &v["targets"][0]["chain"]["inspection"]["items"][0];
    let subject = leaf["subject"].as_str().unwrap_or_else(|| panic!("{v:#}"));
    assert!(subject.contains(&format!("CN=evil{CLEAR}")) && subject.contains(FORGED), "{subject:?}");
    let sans = leaf["subject_alt_names"].as_array().unwrap();
    assert!(sans.iter().any(|s| s == &format!("DNS:db{CLEAR}.example.com{FORGED}")), "{sans:?}");
}
