#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! Every file pgharden's PKI makes is accepted by parsers that are not ours: Python `cryptography`
//! (a strict DER parser; sslyze reads certificates with it) and the openssl CLI. Covered: the root,
//! both intermediates, server and client leaves, for each key type; every CRL, empty and with
//! entries of every revocation reason; the CA keys (encrypted and plain) and the leaf keys. And the
//! regression itself: a leaf's basicConstraints is DER, `30 00`, with no encoded `cA FALSE`.

#[path = "support/venv.rs"]
mod venv;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use pgharden_pki::{
    ClientRequest, Entry, InitOptions, KeyType, Kind, Ledger, Passphrase, Pki, Reason, ServerRequest,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

/// The Python side: parses each file with `cryptography` and prints what it read.
const CRYPTOGRAPHY_CHECK: &str = include_str!("support/cryptography_check.py");
const CAS: [Kind; 3] = [Kind::Root, Kind::ServerCa, Kind::ClientCa];
const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
/// basicConstraints as OpenSSL writes `CA:FALSE`: an empty SEQUENCE.
const LEAF_BASIC_CONSTRAINTS: [u8; 2] = [0x30, 0x00];

/// A PKI with everything it can make: certificates of every kind, and revocations of every reason.
struct Made {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    /// Copies of the CRLs `init` wrote, before anything was revoked: (CA, copy).
    empty_crls: Vec<(Kind, PathBuf)>,
    pass: Option<String>,
}

fn make(key_type: KeyType, pass: Option<&str>) -> Made {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let passphrase = pass.map(|p| Passphrase::new(p).unwrap());
    let opts = InitOptions { key_type, passphrase: passphrase.clone(), ..InitOptions::default() };
    let mut pki = Pki::init(&dir, &opts).unwrap();
    let pass_ref = passphrase.as_ref();
    let mut empty_crls = Vec::new();
    for kind in CAS {
        let copy = tmp.path().join(format!("empty-{}.crl.pem", kind.ca_dir()));
        fs::copy(pki.crl_path(kind), &copy).unwrap();
        empty_crls.push((kind, copy));
    }
    let hosts = ["db.example.com", "*.db.example.org", "127.0.0.1", "::1"].map(String::from).to_vec();
    pki.issue_server(&ServerRequest { hosts, name: Some("db".into()), ..Default::default() }, pass_ref)
        .unwrap();
    let victim = ServerRequest { hosts: vec!["old.example.com".into()], ..Default::default() };
    let victim = pki.issue_server(&victim, pass_ref).unwrap().entry.serial;
    let mut clients = vec![
        ClientRequest { role: "bob".into(), ..Default::default() },
        ClientRequest { role: "alice".into(), cn: Some("alice@example.com".into()), ..Default::default() },
    ];
    for (_, name) in Reason::ALL {
        clients.push(ClientRequest { role: format!("revoked-{name}"), ..Default::default() });
    }
    let issued = pki.issue_clients(&clients, pass_ref, &mut |_| {}).unwrap();
    for ((reason, _), client) in Reason::ALL.iter().zip(&issued[2..]) {
        pki.revoke(&client.entry.serial, *reason, pass_ref).unwrap();
    }
    pki.revoke(&victim, Reason::KeyCompromise, pass_ref).unwrap();
    // Last: with its intermediate revoked, the client CA signs nothing more.
    let client_ca = pki.ledger().ca(Kind::ClientCa).unwrap().serial.clone();
    pki.revoke(&client_ca, Reason::CaCompromise, pass_ref).unwrap();
    Made { _tmp: tmp, dir, empty_crls, pass: pass.map(String::from) }
}

fn ca_cert(dir: &Path, kind: Kind) -> PathBuf {
    dir.join(kind.ca_dir()).join("ca.crt")
}

/// Every file to hand to `cryptography`, with what it needs to check signatures and keys.
fn jobs(made: &Made, ledger: &Ledger) -> Vec<Value> {
    let dir = &made.dir;
    let mut jobs = Vec::new();
    for kind in CAS {
        let cert = ca_cert(dir, kind);
        let issuer = ca_cert(dir, kind.issuer());
        jobs.push(json!({"kind": "cert", "path": cert, "issuer": issuer}));
        jobs.push(json!({"kind": "key", "path": dir.join(kind.ca_dir()).join("ca.key"), "cert": cert, "password": made.pass}));
        jobs.push(json!({"kind": "crl", "path": dir.join(kind.ca_dir()).join("crl.pem"), "issuer": cert}));
    }
    for (kind, copy) in &made.empty_crls {
        jobs.push(json!({"kind": "crl", "path": copy, "issuer": ca_cert(dir, *kind)}));
    }
    for leaf in ledger.certificates.iter().filter(|e| !e.kind.is_ca()) {
        let cert = dir.join(&leaf.path);
        let key = cert.with_extension("key");
        jobs.push(json!({"kind": "cert", "path": cert, "issuer": ca_cert(dir, Kind::Root)}));
        jobs.push(json!({"kind": "key", "path": key, "cert": cert}));
    }
    jobs
}

/// Run the `cryptography` checks; every file must be accepted.
fn cryptography(jobs: &[Value]) -> Vec<Value> {
    let out = Command::new(venv::python())
        .args(["-c", CRYPTOGRAPHY_CHECK, &Value::from(jobs.to_vec()).to_string()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the cryptography check failed to run: {stderr}");
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(results.len(), jobs.len(), "{stderr}");
    let refused: Vec<String> = results
        .iter()
        .filter(|r| r.get("error").is_some())
        .map(|r| format!("{}: {}", r["path"], r["error"]))
        .collect();
    assert!(refused.is_empty(), "Python cryptography refuses:\n{}", refused.join("\n"));
    results
}

fn result_for<'a>(results: &'a [Value], path: &Path) -> &'a Value {
    let path = path.to_str().unwrap();
    results.iter().find(|r| r["path"] == path).unwrap_or_else(|| panic!("no result for {path}"))
}

/// What `cryptography` read from each certificate agrees with the ledger: serial, basicConstraints
/// (critical; CA with its path length, or not a CA), and every signature checked.
fn check_certificates(results: &[Value], dir: &Path, ledger: &Ledger) {
    for entry in &ledger.certificates {
        let chain = result_for(results, &dir.join(&entry.path))["certificates"].as_array().unwrap();
        let first = &chain[0];
        assert_eq!(first["serial"], entry.serial.trim_start_matches('0'), "{}", entry.name);
        let expected = match entry.kind {
            Kind::Root => json!({"ca": true, "path_length": 1, "critical": true}),
            Kind::ServerCa | Kind::ClientCa => json!({"ca": true, "path_length": 0, "critical": true}),
            Kind::Server | Kind::Client => json!({"ca": false, "path_length": null, "critical": true}),
        };
        assert_eq!(first["basic_constraints"], expected, "{}", entry.name);
        assert_eq!(
            chain.len(),
            if entry.kind.is_ca() { 1 } else { 2 },
            "{}: leaf and its intermediate",
            entry.name
        );
        assert!(chain.iter().all(|c| c["signature_checked"] == true), "{}", entry.name);
        assert!(
            first["extensions"].as_array().unwrap().len() >= 3,
            "{}: {}",
            entry.name,
            first["extensions"]
        );
    }
}

/// The revoked entries `cryptography` read from `crl`, as (serial, reason).
fn revoked_in(crl: &Value) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = crl["revoked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["serial"].as_str().unwrap().to_string(), r["reason"].clone()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The entries a CA's CRL must hold. RFC 5280 (5.3.1): the reason code SHOULD be absent rather than
/// `unspecified`; the other reasons appear under `cryptography`'s names.
fn expected_revoked(ledger: &Ledger, ca: Kind) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = ledger
        .revoked_by(ca)
        .map(|e: &Entry| {
            let reason = e.revoked.as_ref().unwrap().reason;
            let name = (reason != Reason::Unspecified).then(|| reason.name().replace('-', "_"));
            (e.serial.trim_start_matches('0').to_string(), json!(name))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn check_crls(results: &[Value], made: &Made, ledger: &Ledger) {
    let numbers = &ledger.crl_numbers;
    for kind in CAS {
        let crl = result_for(results, &made.dir.join(kind.ca_dir()).join("crl.pem"));
        let number = match kind {
            Kind::Root => numbers.root,
            Kind::ServerCa => numbers.server_ca,
            _ => numbers.client_ca,
        };
        assert_eq!(crl["number"], number, "{kind:?}");
        assert_eq!(crl["signature_valid"], true, "{kind:?}");
        assert_eq!(crl["aki_is_issuer_ski"], true, "{kind:?}");
        let revoked = revoked_in(crl);
        assert!(!revoked.is_empty(), "{kind:?}: the test revokes something under every CA");
        assert_eq!(revoked, expected_revoked(ledger, kind), "{kind:?}");
    }
    let reasons: Vec<Value> = revoked_in(result_for(results, &made.dir.join("client-ca/crl.pem")))
        .into_iter()
        .map(|(_, reason)| reason)
        .collect();
    assert_eq!(reasons.len(), Reason::ALL.len(), "one client revoked for every reason: {reasons:?}");
    for (kind, copy) in &made.empty_crls {
        let crl = result_for(results, copy);
        assert_eq!(crl["number"], 1, "{kind:?}");
        assert_eq!(crl["signature_valid"], true, "{kind:?}");
        assert_eq!(crl["revoked"], json!([]), "{kind:?}");
    }
}

fn check_keys(results: &[Value], jobs: &[Value]) {
    for job in jobs.iter().filter(|j| j["kind"] == "key") {
        let result = result_for(results, Path::new(job["path"].as_str().unwrap()));
        assert_eq!(result["matches_cert"], true, "{}", job["path"]);
    }
}

/// Run `openssl` and insist on success; returns stdout.
fn openssl(args: &[&str], pass: Option<&str>) -> String {
    let mut cmd = Command::new("openssl");
    cmd.args(args);
    if let Some(pass) = pass {
        cmd.env("PGHARDEN_TEST_PASS", pass);
    }
    let out = cmd.output().expect("openssl is installed (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?} refuses: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every PEM block of `path` through `openssl asn1parse -strictpem` and the reader for its type.
/// Returns the `-text` output of the certificates and CRLs, concatenated.
fn openssl_accepts(path: &Path, scratch: &Path, pass: Option<&str>) -> String {
    let blocks = pem::parse_many(fs::read(path).unwrap()).unwrap();
    assert!(!blocks.is_empty(), "{} holds no PEM block", path.display());
    let mut text = String::new();
    for (i, block) in blocks.iter().enumerate() {
        let one = scratch.join(format!("block-{i}.pem"));
        fs::write(&one, pem::encode(block)).unwrap();
        let one = one.to_str().unwrap();
        openssl(&["asn1parse", "-strictpem", "-in", one], None);
        text += &match block.tag() {
            "CERTIFICATE" => openssl(&["x509", "-noout", "-text", "-in", one], None),
            "X509 CRL" => openssl(&["crl", "-noout", "-text", "-in", one], None),
            // `pkey -noout` prints nothing; success is the check.
            "PRIVATE KEY" => openssl(&["pkey", "-noout", "-in", one], None),
            "ENCRYPTED PRIVATE KEY" => {
                openssl(&["pkey", "-noout", "-in", one, "-passin", "env:PGHARDEN_TEST_PASS"], pass)
            }
            other => panic!("{}: unexpected PEM block {other}", path.display()),
        };
    }
    text
}

fn check_with_openssl(made: &Made, jobs: &[Value]) {
    let scratch = tempfile::tempdir().unwrap();
    for job in jobs {
        let path = Path::new(job["path"].as_str().unwrap());
        let text = openssl_accepts(path, scratch.path(), made.pass.as_deref());
        let name = path.strip_prefix(&made.dir).unwrap_or(path).display().to_string();
        match job["kind"].as_str().unwrap() {
            "cert" if name.starts_with("servers/") || name.starts_with("clients/") => {
                // The leaf, then its intermediate.
                let leaf = text.find("CA:FALSE").unwrap_or_else(|| panic!("{name}: no CA:FALSE\n{text}"));
                assert!(text[leaf..].contains("CA:TRUE, pathlen:0"), "{name}\n{text}");
            }
            "cert" => assert!(text.contains("CA:TRUE"), "{name}\n{text}"),
            "crl" => assert!(text.contains("X509v3 CRL Number"), "{name}\n{text}"),
            _ => {}
        }
    }
    // The bundle PostgreSQL reads: one CRL per CA, each accepted on its own.
    let bundle = openssl_accepts(&made.dir.join("crls.pem"), scratch.path(), None);
    assert_eq!(bundle.matches("Certificate Revocation List (CRL):").count(), 3, "{bundle}");
}

fn everything_parses(key_type: KeyType, pass: Option<&str>) {
    let made = make(key_type, pass);
    let ledger = Ledger::load(&made.dir).unwrap();
    let jobs = jobs(&made, &ledger);
    let results = cryptography(&jobs);
    check_certificates(&results, &made.dir, &ledger);
    check_crls(&results, &made, &ledger);
    check_keys(&results, &jobs);
    check_with_openssl(&made, &jobs);
}

#[test]
fn everything_a_p256_pki_makes_parses() {
    everything_parses(KeyType::P256, None);
}

/// The default key type, with encrypted CA keys (PBES2) as `pki init --passphrase-file` makes them.
#[test]
fn everything_a_p384_pki_with_encrypted_ca_keys_makes_parses() {
    everything_parses(KeyType::P384, Some("correct horse battery staple"));
}

#[test]
fn everything_an_rsa2048_pki_makes_parses() {
    everything_parses(KeyType::Rsa2048, None);
}

#[test]
fn everything_an_ed25519_pki_makes_parses() {
    everything_parses(KeyType::Ed25519, None);
}

/// A CRL number with its top bit set needs a leading zero byte to stay a positive INTEGER.
#[test]
fn the_largest_crl_numbers_parse() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    drop(Pki::init(&dir, &InitOptions { key_type: KeyType::P256, ..InitOptions::default() }).unwrap());
    let path = dir.join(Ledger::FILE);
    let mut doc: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    for ca in ["root", "server_ca", "client_ca"] {
        doc["crl_numbers"][ca] = json!(u64::MAX - 1);
    }
    fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    Pki::open(&dir).unwrap().reissue_crls(None).unwrap();
    let jobs: Vec<Value> = CAS
        .iter()
        .map(|k| json!({"kind": "crl", "path": dir.join(k.ca_dir()).join("crl.pem"), "issuer": ca_cert(&dir, *k)}))
        .collect();
    for result in cryptography(&jobs) {
        assert_eq!(result["number"], u64::MAX, "{}", result["path"]);
        assert_eq!(result["signature_valid"], true, "{}", result["path"]);
    }
}

/// The regression: rcgen's `IsCa::ExplicitNoCa` wrote `30 03 01 01 00` (an encoded DEFAULT), which
/// `cryptography` refuses. A leaf now carries what OpenSSL writes for `critical,CA:FALSE`, a CA its
/// `cA TRUE` and path length, and a leaf keeps its subject key identifier.
#[test]
fn a_leaf_basic_constraints_is_der() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let mut pki =
        Pki::init(&dir, &InitOptions { key_type: KeyType::P256, ..InitOptions::default() }).unwrap();
    let server = ServerRequest { hosts: vec!["localhost".into()], ..Default::default() };
    let server = pki.issue_server(&server, None).unwrap();
    let client = pki.issue_client(&ClientRequest { role: "bob".into(), ..Default::default() }, None).unwrap();
    for path in [&server.cert_path, &client.cert_path] {
        let der = first_der(path);
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        let (critical, value) = extension(&cert, OID_BASIC_CONSTRAINTS);
        assert!(critical, "{}: basicConstraints is critical", path.display());
        assert_eq!(value, LEAF_BASIC_CONSTRAINTS, "{}: basicConstraints must be DER", path.display());
        let spki = Sha256::digest(cert.public_key().raw);
        let ski = cert.iter_extensions().find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        });
        assert_eq!(ski.as_deref(), Some(&spki[..20]), "{}: subject key identifier", path.display());
    }
    for (kind, path_len) in [(Kind::Root, 1), (Kind::ServerCa, 0), (Kind::ClientCa, 0)] {
        let der = first_der(&ca_cert(&dir, kind));
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        let (critical, value) = extension(&cert, OID_BASIC_CONSTRAINTS);
        assert!(critical, "{kind:?}");
        // SEQUENCE { BOOLEAN TRUE (DER's 0xFF), INTEGER path length }.
        assert_eq!(value, [0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, path_len], "{kind:?}");
    }
}

fn first_der(path: &Path) -> Vec<u8> {
    pem::parse_many(fs::read(path).unwrap()).unwrap().remove(0).into_contents()
}

/// (critical, extnValue contents) of the one extension `oid` of `cert`.
fn extension(cert: &X509Certificate<'_>, oid: &str) -> (bool, Vec<u8>) {
    let mut found = cert.iter_extensions().filter(|e| e.oid.to_id_string() == oid);
    let ext = found.next().unwrap_or_else(|| panic!("no extension {oid}"));
    assert!(found.next().is_none(), "extension {oid} appears twice");
    (ext.critical, ext.value.to_vec())
}
