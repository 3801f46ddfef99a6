//! The PKI's schedule and renewal, at moments set with an injected clock; cross-checked with the
//! openssl CLI where the files are what servers load.

#![allow(clippy::unwrap_used)] // tests may panic on failure

use std::path::Path;
use std::process::Command;

use pgharden_pki::{
    ClientRequest, Clock, InitOptions, Item, KeyType, Kind, Pki, ServerPair, ServerRequest, Status,
    Threshold, Validity,
};
use time::{Duration, OffsetDateTime};

fn pki_at(dir: &Path) -> Pki {
    let opts = InitOptions { key_type: KeyType::P256, ..Default::default() };
    let mut pki = Pki::init(dir, &opts).unwrap();
    let server = ServerRequest {
        hosts: vec!["db.example.com".into(), "127.0.0.1".into()],
        valid: Some("24h".parse().unwrap()),
        ..Default::default()
    };
    pki.issue_server(&server, None).unwrap();
    let client = ClientRequest { role: "bob".into(), cn: Some("Smith, John".into()), ..Default::default() };
    pki.issue_client(&client, None).unwrap();
    pki
}

fn later(by: Duration) -> Clock {
    let at = OffsetDateTime::now_utc() + by;
    Clock::fixed(at)
}

fn due_kinds(pki: &Pki) -> Vec<Item> {
    pki.schedule(Threshold::default()).unwrap().due.into_iter().map(|d| d.item).collect()
}

#[test]
fn nothing_is_due_at_first_and_the_next_due_is_two_thirds_into_the_shortest_life() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki_at(&tmp.path().join("pki"));
    let schedule = pki.schedule(Threshold::default()).unwrap();
    assert!(schedule.due.is_empty(), "{:?}", schedule.due);
    let next = schedule.next_due.unwrap();
    let server = pki.ledger().certificates.iter().find(|e| e.kind == Kind::Server).unwrap();
    // The 24-hour server certificate falls due 16 hours after it starts, before the 30-day CRLs.
    assert_eq!(next, server.not_before + Duration::hours(16));
    assert!(schedule.warnings.is_empty());
}

#[test]
fn crls_fall_due_with_a_third_of_their_life_left() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    drop(pki_at(&dir));
    // 19 days in: 11 of 30 days left, not yet due (the 24-hour server certificate is, though).
    let pki = Pki::open(&dir).unwrap().with_clock(later(Duration::days(19)));
    let due = due_kinds(&pki);
    assert!(due.iter().all(|i| !matches!(i, Item::Crl { .. })), "{due:?}");
    // 21 days in: 9 days left, every CA's CRL is due.
    let pki = pki.with_clock(later(Duration::days(21)));
    let due = due_kinds(&pki);
    for ca in [Kind::Root, Kind::ServerCa, Kind::ClientCa] {
        assert!(due.contains(&Item::Crl { ca }), "{ca:?} in {due:?}");
    }
    // A threshold in time: with 10 days left required, 9 days left is due, 11 is not.
    let ten_days: Threshold = "10d".parse().unwrap();
    let pki = pki.with_clock(later(Duration::days(19)));
    assert!(!pki.schedule(ten_days).unwrap().due.iter().any(|d| matches!(d.item, Item::Crl { .. })));
}

#[test]
fn renewing_reissues_from_the_recorded_request_with_a_fresh_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    drop(pki_at(&dir));
    let mut pki = Pki::open(&dir).unwrap().with_clock(later(Duration::hours(17)));
    let due = due_kinds(&pki);
    let Some(Item::Certificate { serial, kind: Kind::Server, .. }) =
        due.iter().find(|i| matches!(i, Item::Certificate { kind: Kind::Server, .. })).cloned()
    else {
        panic!("the server certificate is due at 17 of 24 hours: {due:?}")
    };
    let old_key = std::fs::read(dir.join("servers/db.example.com/server.key")).unwrap();
    let old = pki.ledger().find(&serial).unwrap().clone();
    let issued = pki.renew_certificate(&serial, None).unwrap();
    let new = &issued.entry;
    assert_eq!(new.sans, old.sans);
    assert_eq!(new.request, old.request);
    assert_eq!(new.not_after - new.not_before, Duration::hours(24));
    assert_ne!(std::fs::read(&issued.key_path).unwrap(), old_key, "a fresh key");
    assert_eq!(pki.ledger().find(&serial).unwrap().replaced_by.as_deref(), Some(new.serial.as_str()));
    assert_eq!(pki.successor(&serial).unwrap().serial, new.serial);
    let listed = pki.list();
    let status = |s: &str| listed.iter().find(|l| l.entry.serial == s).unwrap().status;
    assert_eq!(status(&serial), Status::Replaced);
    // The new pair belongs together and openssl agrees with the names.
    let pair = ServerPair::read(&issued.cert_path, &issued.key_path).unwrap();
    assert_eq!(pair.chain().len(), 2);
    let text =
        openssl(&["x509", "-noout", "-ext", "subjectAltName", "-in", issued.cert_path.to_str().unwrap()]);
    assert!(text.contains("DNS:db.example.com") && text.contains("IP Address:127.0.0.1"), "{text}");
    // Due again? No: the new certificate starts its life at the renewal.
    assert!(!due_kinds(&pki).iter().any(|i| matches!(i, Item::Certificate { kind: Kind::Server, .. })));
}

#[test]
fn a_client_certificate_keeps_its_cn_and_role() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    drop(pki_at(&dir));
    let mut pki = Pki::open(&dir).unwrap().with_clock(later(Duration::days(250)));
    let bob = pki.ledger().certificates.iter().find(|e| e.kind == Kind::Client).unwrap().clone();
    assert!(
        due_kinds(&pki)
            .iter()
            .any(|i| matches!(i, Item::Certificate { serial, .. } if *serial == bob.serial))
    );
    let issued = pki.renew_certificate(&bob.serial, None).unwrap();
    assert_eq!(issued.entry.role.as_deref(), Some("bob"));
    assert_eq!(issued.entry.request.as_ref().unwrap().cn, "Smith, John");
    let subject = openssl(&[
        "x509",
        "-noout",
        "-subject",
        "-nameopt",
        "RFC2253",
        "-in",
        issued.cert_path.to_str().unwrap(),
    ]);
    assert!(subject.contains("CN=Smith\\, John"), "{subject}");
}

#[test]
fn reissued_crls_have_higher_numbers_and_a_fresh_next_update() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    drop(pki_at(&dir));
    let crl = dir.join("client-ca/crl.pem");
    let number = |p: &Path| openssl(&["crl", "-noout", "-crlnumber", "-in", p.to_str().unwrap()]);
    let before = number(&crl);
    let mut pki = Pki::open(&dir).unwrap().with_clock(later(Duration::days(21)));
    pki.reissue_crls_of(&[Kind::ClientCa], None).unwrap();
    assert_ne!(number(&crl), before);
    assert!(!due_kinds(&pki).contains(&Item::Crl { ca: Kind::ClientCa }));
    assert!(due_kinds(&pki).contains(&Item::Crl { ca: Kind::Root }), "only the client CA's was re-issued");
    let bundle = std::fs::read_to_string(dir.join("crls.pem")).unwrap();
    assert_eq!(bundle.matches("BEGIN X509 CRL").count(), 3);
    assert!(bundle.contains(std::fs::read_to_string(&crl).unwrap().trim()));
}

#[test]
fn a_stale_crl_bundle_is_rebuilt_when_the_pki_is_opened() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    drop(pki_at(&dir));
    // A crash between a CA's CRL and the bundle leaves the bundle behind.
    std::fs::write(dir.join("crls.pem"), "stale").unwrap();
    drop(Pki::open(&dir).unwrap());
    let bundle = std::fs::read_to_string(dir.join("crls.pem")).unwrap();
    assert_eq!(bundle.matches("BEGIN X509 CRL").count(), 3, "{bundle}");
}

#[test]
fn validity_in_hours_is_refused_beyond_the_issuer() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pki = pki_at(&tmp.path().join("pki"));
    let req = ServerRequest {
        hosts: vec!["x.example.com".into()],
        valid: Some(Validity::days(3000).unwrap()),
        ..Default::default()
    };
    let err = pki.issue_server(&req, None).unwrap_err().to_string();
    assert!(err.contains("--valid") && err.contains("cannot outlive its issuer"), "{err}");
}

#[test]
fn keys_from_other_tools_are_matched_with_their_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let p = |n: &str| d.join(n).to_str().unwrap().to_string();
    openssl(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", &p("ec.key")]);
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        &p("ec.key"),
        "-subj",
        "/CN=ec",
        "-days",
        "2",
        "-out",
        &p("ec.crt"),
    ]);
    openssl(&["genrsa", "-traditional", "-out", &p("rsa.key"), "2048"]);
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        &p("rsa.key"),
        "-subj",
        "/CN=rsa",
        "-days",
        "2",
        "-out",
        &p("rsa.crt"),
    ]);
    for (cert, key, tag) in
        [("ec.crt", "ec.key", "EC PRIVATE KEY"), ("rsa.crt", "rsa.key", "RSA PRIVATE KEY")]
    {
        let pair = ServerPair::read(&d.join(cert), &d.join(key)).unwrap();
        let combined = String::from_utf8(pair.combined_pem().to_vec()).unwrap();
        assert!(combined.starts_with(&format!("-----BEGIN {tag}-----")), "{combined}");
        // openssl reads the key and the certificate out of the one file, and they match.
        std::fs::write(d.join("combined.pem"), &combined).unwrap();
        let from_key = openssl(&["pkey", "-in", &p("combined.pem"), "-pubout"]);
        let from_cert = openssl(&["x509", "-in", &p("combined.pem"), "-noout", "-pubkey"]);
        assert_eq!(from_key, from_cert, "{cert}");
    }
    let err = ServerPair::read(&d.join("ec.crt"), &d.join("rsa.key")).unwrap_err().to_string();
    assert!(err.contains("rsa.key") && err.contains("ec.crt"), "{err}");
}

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl").args(args).output().expect("the openssl CLI is needed");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn temp_files_of_a_killed_write_are_removed_when_the_pki_is_opened() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    drop(pki_at(&dir));
    for leftover in ["ledger.json.tmp-4242", "root/crl.pem.tmp-7", "servers/db.example.com/server.key.tmp-9"]
    {
        std::fs::write(dir.join(leftover), "half").unwrap();
    }
    std::fs::write(dir.join("notes.tmp-mine"), "the operator's").unwrap();
    drop(Pki::open(&dir).unwrap());
    for leftover in ["ledger.json.tmp-4242", "root/crl.pem.tmp-7", "servers/db.example.com/server.key.tmp-9"]
    {
        assert!(!dir.join(leftover).exists(), "{leftover} is left");
    }
    assert!(dir.join("notes.tmp-mine").exists(), "only pgharden's own temp names are removed");
}
