//! The TLS scan against real PostgreSQL servers configured to be hard, permissive, exotic and old,
//! with `openssl s_client` as the arbiter: every suite the scan reports is negotiated by s_client
//! alone, and an s_client offering every other suite of that version fails — so the scan missed
//! nothing openssl could have found.

#![allow(clippy::unwrap_used)] // a failed setup is a failed test

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use pgharden_pki::{InitOptions, KeyType, Pki, ServerRequest};
use pgharden_testcluster::Cluster;
use pgharden_wire::{ProbeTarget, Suite, TlsVersionName, Verdict, scan};
use tempfile::TempDir;

struct Server {
    cluster: Cluster,
    _dir: TempDir,
}

fn server(key_type: KeyType, settings: &str) -> Server {
    let cluster = Cluster::start_default().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut pki = Pki::init(dir.path(), &InitOptions { key_type, ..Default::default() }).unwrap();
    let hosts = vec!["localhost".into(), "127.0.0.1".into()];
    let issued = pki.issue_server(&ServerRequest { hosts, ..Default::default() }, None).unwrap();
    cluster.write_file("server.crt", &std::fs::read(&issued.cert_path).unwrap(), 0o600).unwrap();
    cluster.write_file("server.key", &std::fs::read(&issued.key_path).unwrap(), 0o600).unwrap();
    cluster
        .append_conf(&format!(
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n{settings}\n"
        ))
        .unwrap();
    cluster.reload().unwrap();
    Server { cluster, _dir: dir }
}

fn addr(s: &Server) -> SocketAddr {
    format!("127.0.0.1:{}", s.cluster.port()).parse().unwrap()
}

fn s_client_flag(v: TlsVersionName) -> &'static str {
    match v {
        TlsVersionName::Tls1_0 => "-tls1",
        TlsVersionName::Tls1_1 => "-tls1_1",
        TlsVersionName::Tls1_2 => "-tls1_2",
        TlsVersionName::Tls1_3 => "-tls1_3",
    }
}

/// Whether `openssl s_client` completes a handshake at `v` offering only `suites` (OpenSSL names),
/// and with which suite.
fn s_client(addr: SocketAddr, v: TlsVersionName, suites: &[&str]) -> Option<String> {
    let list = suites.join(":");
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-starttls", "postgres", "-connect", &addr.to_string(), s_client_flag(v)]);
    if v == TlsVersionName::Tls1_3 {
        cmd.args(["-ciphersuites", &list]);
    } else {
        cmd.args(["-cipher", &format!("{list}:@SECLEVEL=0")]);
    }
    let out = cmd.stdin(Stdio::null()).output().expect("openssl is installed");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| {
        let cipher =
            l.trim().strip_prefix("Cipher    :").or_else(|| l.split_once("Cipher is ").map(|(_, c)| c))?;
        let c = cipher.trim();
        (c != "0000" && c != "(NONE)").then(|| c.to_string())
    })
}

/// The suites openssl's client can offer at `v` (its names), for the completeness check.
fn openssl_knows(v: TlsVersionName) -> Vec<&'static Suite> {
    let out = Command::new("openssl")
        .args(["ciphers", "-V", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"])
        .output()
        .expect("openssl is installed");
    let text = String::from_utf8_lossy(&out.stdout);
    let codes: Vec<u16> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|c| u16::from_str_radix(&c.replace("0x", "").replace(',', ""), 16).ok())
        .collect();
    let mut out: Vec<&Suite> =
        Suite::for_version(v).into_iter().filter(|s| codes.contains(&s.code)).collect();
    if v == TlsVersionName::Tls1_3 {
        // OpenSSL's client offers the CCM suites only when named.
        out = Suite::for_version(v);
    }
    out
}

/// The arbiter: each reported suite alone is negotiated; everything else together is refused.
fn agrees_with_openssl(s: &Server) {
    let addr = addr(s);
    let report = scan(&ProbeTarget::new(addr)).unwrap();
    for v in &report.versions {
        let accepted: Vec<&Suite> = v.suites.iter().map(|c| Suite::by_code(*c).unwrap()).collect();
        for suite in &accepted {
            let got = s_client(addr, v.version, &[suite.openssl]);
            assert_eq!(
                got.as_deref(),
                Some(suite.openssl),
                "{}: s_client with {} alone",
                v.version,
                suite.openssl
            );
        }
        let rest: Vec<&str> = openssl_knows(v.version)
            .iter()
            .filter(|k| !v.suites.contains(&k.code))
            .map(|k| k.openssl)
            .collect();
        if !rest.is_empty() {
            let got = s_client(addr, v.version, &rest);
            assert_eq!(got, None, "{}: s_client found a suite the scan missed", v.version);
        }
        assert_eq!(v.is_accepted(), !accepted.is_empty(), "{v:?}");
    }
}

fn version(scan: &pgharden_wire::Scan, v: TlsVersionName) -> &pgharden_wire::VersionScan {
    scan.versions.iter().find(|s| s.version == v).unwrap()
}

#[test]
fn a_hardened_server_offers_tls12_and_13_only_and_the_scan_finds_every_suite() {
    let s = server(
        KeyType::P256,
        "ssl_min_protocol_version = 'TLSv1.2'\nssl_ciphers = 'HIGH:!aNULL:!eNULL:!MD5:!3DES:!RC4:!SHA1'",
    );
    agrees_with_openssl(&s);
    let report = scan(&ProbeTarget::new(addr(&s))).unwrap();
    for v in [TlsVersionName::Tls1_0, TlsVersionName::Tls1_1] {
        assert!(matches!(version(&report, v).verdict, Verdict::Refused { .. }), "{:?}", version(&report, v));
    }
    let tls12 = version(&report, TlsVersionName::Tls1_2);
    assert!(
        tls12.suites.contains(&0xc02c) && tls12.suites.iter().all(|c| *c != 0x009d),
        "{:?}",
        tls12.suites
    );
    let tls13 = version(&report, TlsVersionName::Tls1_3);
    assert_eq!(tls13.suites.len(), 3, "{tls13:?}");
    assert_eq!(tls13.groups, [0x0017], "PostgreSQL's ssl_ecdh_curve is prime256v1: {tls13:?}");
    assert!(!report.sslv2.accepted && !report.sslv3.accepted);
    let tls12_chain = &tls12.chain;
    assert_eq!(tls12_chain.len(), 2, "the chain read from the TLS 1.2 handshake");
    // Cost grows with what is accepted, not with the table: one handshake per accepted suite and
    // group, one per refusal, per version.
    let accepted: u32 = report.versions.iter().map(|v| (v.suites.len() + v.groups.len()) as u32).sum();
    assert!(
        report.handshakes <= accepted + 2 * 4 + 2 + 2,
        "{} handshakes for {accepted} accepted",
        report.handshakes
    );
}

#[test]
fn a_permissive_rsa_server_is_enumerated_down_to_tls10() {
    let s = server(KeyType::Rsa2048, "ssl_min_protocol_version = 'TLSv1'\nssl_ciphers = 'ALL:@SECLEVEL=0'");
    agrees_with_openssl(&s);
    let report = scan(&ProbeTarget::new(addr(&s))).unwrap();
    let tls10 = version(&report, TlsVersionName::Tls1_0);
    assert!(
        tls10.is_accepted() && tls10.suites.contains(&0x002f),
        "AES128-SHA at TLS 1.0: {:?}",
        tls10.suites
    );
    assert_eq!(tls10.chain.len(), 2, "the chain is read from the TLS 1.0 handshake itself");
    let tls12 = version(&report, TlsVersionName::Tls1_2);
    assert!(tls12.suites.contains(&0x009d), "static RSA AES256-GCM-SHA384 is accepted: {:?}", tls12.suites);
    assert!(
        tls12
            .suites
            .iter()
            .any(|c| Suite::by_code(*c).unwrap().auth == pgharden_wire::suites::Auth::Anonymous)
    );
    assert!(tls12.dhe_bits.is_some_and(|b| b >= 2048), "the DHE prime: {:?}", tls12.dhe_bits);
}

#[test]
fn a_server_with_only_exotic_suites_is_not_called_refused() {
    let s = server(
        KeyType::P256,
        "ssl_min_protocol_version = 'TLSv1'\nssl_max_protocol_version = 'TLSv1.2'\n\
         ssl_ciphers = 'ECDHE-ECDSA-AES256-CCM:ECDHE-ECDSA-CAMELLIA256-SHA384:ADH-AES256-SHA:@SECLEVEL=0'",
    );
    agrees_with_openssl(&s);
    let report = scan(&ProbeTarget::new(addr(&s))).unwrap();
    for v in [TlsVersionName::Tls1_0, TlsVersionName::Tls1_1, TlsVersionName::Tls1_2] {
        assert!(version(&report, v).is_accepted(), "{v}: {:?}", version(&report, v));
    }
    let tls12: Vec<&str> = version(&report, TlsVersionName::Tls1_2)
        .suites
        .iter()
        .map(|c| Suite::by_code(*c).unwrap().openssl)
        .collect();
    assert_eq!(tls12.len(), 3, "{tls12:?}");
    assert!(matches!(version(&report, TlsVersionName::Tls1_3).verdict, Verdict::Refused { .. }));
}

#[test]
fn a_tls10_only_server() {
    let s = server(
        KeyType::P256,
        "ssl_min_protocol_version = 'TLSv1'\nssl_max_protocol_version = 'TLSv1'\nssl_ciphers = 'ALL:@SECLEVEL=0'",
    );
    agrees_with_openssl(&s);
    let report = scan(&ProbeTarget::new(addr(&s))).unwrap();
    assert!(version(&report, TlsVersionName::Tls1_0).is_accepted());
    for v in [TlsVersionName::Tls1_1, TlsVersionName::Tls1_2, TlsVersionName::Tls1_3] {
        assert!(!version(&report, v).is_accepted(), "{v}");
    }
}
