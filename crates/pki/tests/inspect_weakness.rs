#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! The typed facts of `pki show`: weaknesses (RSA-1024, SHA-1, P-192, DSA) of certificates,
//! requests, CRLs and keys that OpenSSL made, and validity times as seconds since the epoch,
//! compared with what `openssl` prints for the same files and with the dates rcgen was given.

use std::path::{Path, PathBuf};
use std::process::Command;

use pgharden_pki::inspect::{self, CertificateInfo, CrlInfo, CsrInfo, Inspection, Item, KeyInfo, Weakness};
use rcgen::{
    CertificateParams, CertificateRevocationListParams, IsCa, Issuer, KeyIdMethod, KeyPair, SerialNumber,
};
use time::macros::datetime;
use time::{Date, Month, PrimitiveDateTime, Time};

/// Run openssl in `dir`; its output, or a panic with what it said.
fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed (apt-get install openssl)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "openssl {args:?}: {text}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `openssl ... -enddate` style output, `notAfter=Jan  1 01:38:25 2027 GMT`, as Unix time.
fn openssl_time(output: &str, field: &str) -> i64 {
    let line = output
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}=")))
        .unwrap_or_else(|| panic!("{field} in {output}"));
    let parts: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(parts.len(), 5, "{line}");
    assert_eq!(parts[4], "GMT", "{line}");
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| *m == parts[0]).unwrap();
    let month = Month::try_from(u8::try_from(month + 1).unwrap()).unwrap();
    let hms: Vec<u8> = parts[2].split(':').map(|n| n.parse().unwrap()).collect();
    let date = Date::from_calendar_date(parts[3].parse().unwrap(), month, parts[1].parse().unwrap()).unwrap();
    let time = Time::from_hms(hms[0], hms[1], hms[2]).unwrap();
    PrimitiveDateTime::new(date, time).assume_utc().unix_timestamp()
}

fn show(path: &Path) -> Inspection {
    inspect::inspect_file(path).unwrap()
}

fn only_cert(i: &Inspection) -> &CertificateInfo {
    match i.items.as_slice() {
        [Item::Certificate(c)] => c,
        other => panic!("{other:?}"),
    }
}

fn only_key(i: &Inspection) -> &KeyInfo {
    match i.items.as_slice() {
        [Item::PrivateKey(k)] => k,
        other => panic!("{other:?}"),
    }
}

fn only_csr(i: &Inspection) -> &CsrInfo {
    match i.items.as_slice() {
        [Item::CertificateRequest(r)] => r,
        other => panic!("{other:?}"),
    }
}

fn only_crl(i: &Inspection) -> &CrlInfo {
    match i.items.as_slice() {
        [Item::Crl(c)] => c,
        other => panic!("{other:?}"),
    }
}

/// Each weakness is also a note, in the words of its `Display`.
fn assert_notes_render(weaknesses: &[Weakness], notes: &[String]) {
    for w in weaknesses {
        assert!(notes.contains(&w.to_string()), "{w:?} not among {notes:?}");
    }
}

/// The certificate's validity as `openssl x509` prints it.
fn assert_cert_times_match_openssl(dir: &Path, file: &str, cert: &CertificateInfo) {
    let dates = openssl(dir, &["x509", "-in", file, "-noout", "-startdate", "-enddate"]);
    assert_eq!(cert.not_before_unix, openssl_time(&dates, "notBefore"), "{dates}");
    assert_eq!(cert.not_after_unix, openssl_time(&dates, "notAfter"), "{dates}");
}

fn sha1_weakness() -> Weakness {
    Weakness::WeakSignature { algorithm: "sha1WithRSAEncryption".into() }
}

/// An RSA-1024 key and a self-signed SHA-1 certificate on it, valid for 30 days.
fn weak_rsa(dir: &Path) {
    openssl(
        dir,
        &[
            "req", "-x509", "-newkey", "rsa:1024", "-sha1", "-nodes", "-keyout", "weak.key", "-out",
            "weak.crt", "-days", "30", "-subj", "/CN=weak",
        ],
    );
}

#[test]
fn rsa_1024_sha1_certificate_key_and_request() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    weak_rsa(dir);

    let inspection = show(&dir.join("weak.crt"));
    let cert = only_cert(&inspection);
    assert_eq!(cert.weaknesses, vec![sha1_weakness(), Weakness::ShortRsaKey { bits: 1024 }]);
    assert_notes_render(&cert.weaknesses, &cert.notes);
    assert_cert_times_match_openssl(dir, "weak.crt", cert);
    assert_eq!(cert.not_after_unix - cert.not_before_unix, 30 * 86_400);

    let key = show(&dir.join("weak.key"));
    let key = only_key(&key);
    assert_eq!(key.weaknesses, vec![Weakness::ShortRsaKey { bits: 1024 }]);
    assert_notes_render(&key.weaknesses, &key.notes);

    openssl(dir, &["req", "-new", "-key", "weak.key", "-sha1", "-out", "weak.csr", "-subj", "/CN=weak"]);
    let csr = show(&dir.join("weak.csr"));
    let csr = only_csr(&csr);
    assert_eq!(csr.weaknesses, vec![sha1_weakness(), Weakness::ShortRsaKey { bits: 1024 }]);
    assert_notes_render(&csr.weaknesses, &csr.notes);

    // `pki show --json` carries the typed values.
    let json = serde_json::to_value(&inspection).unwrap();
    let item = &json["items"][0];
    assert_eq!(item["not_after_unix"], serde_json::json!(cert.not_after_unix));
    assert_eq!(
        item["weaknesses"],
        serde_json::json!([
            {"kind": "weak_signature", "algorithm": "sha1WithRSAEncryption"},
            {"kind": "short_rsa_key", "bits": 1024}
        ])
    );
}

/// A minimal `openssl ca` configuration that can sign CRLs with `weak.crt`'s key.
fn ca_config(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("crlnumber"), "01\n").unwrap();
    let conf = dir.join("ca.cnf");
    std::fs::write(
        &conf,
        "[ca]\ndefault_ca = weak\n[weak]\ndatabase = index.txt\ncrlnumber = crlnumber\n\
         certificate = weak.crt\nprivate_key = weak.key\ndefault_md = sha1\ndefault_crl_days = 7\n",
    )
    .unwrap();
    conf
}

#[test]
fn sha1_crl_weakness_and_update_times() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    weak_rsa(dir);
    let conf = ca_config(dir);
    openssl(
        dir,
        &[
            "ca",
            "-config",
            conf.to_str().unwrap(),
            "-gencrl",
            "-md",
            "sha1",
            "-crldays",
            "7",
            "-out",
            "weak.crl",
        ],
    );

    let inspection = show(&dir.join("weak.crl"));
    let crl = only_crl(&inspection);
    assert_eq!(crl.weaknesses, vec![sha1_weakness()]);
    assert_notes_render(&crl.weaknesses, &crl.notes);
    let dates = openssl(dir, &["crl", "-in", "weak.crl", "-noout", "-lastupdate", "-nextupdate"]);
    assert_eq!(crl.this_update_unix, openssl_time(&dates, "lastUpdate"), "{dates}");
    assert_eq!(crl.next_update_unix, Some(openssl_time(&dates, "nextUpdate")), "{dates}");
    assert_eq!(crl.next_update_unix.unwrap() - crl.this_update_unix, 7 * 86_400);
    assert!(!crl.stale);
}

#[test]
fn p192_certificate_has_a_small_curve() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime192v1",
            "-sha256",
            "-nodes",
            "-keyout",
            "p192.key",
            "-out",
            "p192.crt",
            "-days",
            "2",
            "-subj",
            "/CN=small",
        ],
    );
    let inspection = show(&dir.join("p192.crt"));
    let cert = only_cert(&inspection);
    assert_eq!(cert.weaknesses, vec![Weakness::SmallEcCurve { curve: "P-192".into(), bits: 192 }]);
    assert_notes_render(&cert.weaknesses, &cert.notes);
    assert_cert_times_match_openssl(dir, "p192.crt", cert);
    let key = show(&dir.join("p192.key"));
    assert_eq!(only_key(&key).weaknesses, cert.weaknesses);
}

#[test]
fn dsa_certificate_is_weak_whatever_its_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    openssl(
        dir,
        &[
            "genpkey",
            "-genparam",
            "-algorithm",
            "DSA",
            "-pkeyopt",
            "dsa_paramgen_bits:1024",
            "-out",
            "dsa.param",
        ],
    );
    openssl(dir, &["genpkey", "-paramfile", "dsa.param", "-out", "dsa.key"]);
    openssl(
        dir,
        &["req", "-x509", "-key", "dsa.key", "-sha256", "-out", "dsa.crt", "-days", "1", "-subj", "/CN=dsa"],
    );
    let inspection = show(&dir.join("dsa.crt"));
    let cert = only_cert(&inspection);
    assert_eq!(cert.signature_algorithm, "dsa_with_SHA256");
    assert_eq!(cert.weaknesses, vec![Weakness::DsaKey]);
    assert_notes_render(&cert.weaknesses, &cert.notes);
    assert_cert_times_match_openssl(dir, "dsa.crt", cert);
}

#[test]
fn strong_certificate_and_crl_carry_rcgen_dates_and_no_weakness() {
    let not_before = datetime!(2025-03-01 12:30:00 UTC);
    let not_after = datetime!(2027-03-01 12:30:00 UTC);
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(vec!["db.example.com".to_string()]).unwrap();
    params.not_before = not_before;
    params.not_after = not_after;
    params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).unwrap();
    let shown = inspect::inspect_bytes("strong.crt", cert.pem().as_bytes()).unwrap();
    let info = only_cert(&shown);
    assert!(info.weaknesses.is_empty(), "{:?}", info.weaknesses);
    assert_eq!(info.not_before_unix, not_before.unix_timestamp());
    assert_eq!(info.not_after_unix, not_after.unix_timestamp());
    assert_eq!(info.not_before_unix, 1_740_832_200);

    let this_update = datetime!(2025-03-02 00:00:00 UTC);
    let next_update = datetime!(2025-03-09 00:00:00 UTC);
    let crl = CertificateRevocationListParams {
        this_update,
        next_update,
        crl_number: SerialNumber::from(7u64),
        issuing_distribution_point: None,
        revoked_certs: Vec::new(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&Issuer::from_params(&params, &key))
    .unwrap();
    let shown = inspect::inspect_bytes("strong.crl", crl.pem().unwrap().as_bytes()).unwrap();
    let info = only_crl(&shown);
    assert!(info.weaknesses.is_empty(), "{:?}", info.weaknesses);
    assert_eq!(info.this_update_unix, this_update.unix_timestamp());
    assert_eq!(info.next_update_unix, Some(next_update.unix_timestamp()));
    assert!(info.stale, "next update 2025-03-09 has passed");
}
