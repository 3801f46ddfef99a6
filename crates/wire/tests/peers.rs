//! The scan agrees with its peers: sslyze 6.3.1 and testssl.sh (Debian's 3.0.8) are run against
//! the same real PostgreSQL 15 servers as `pgharden_wire::scan` — hardened ECDSA, hardened RSA,
//! permissive, CCM/CAMELLIA/anonymous only, TLS 1.0 only — and the accepted suites are compared
//! per protocol version, by IANA name.
//!
//! Where a peer and pgharden disagree on a (version, suite), `openssl s_client` offering that
//! suite alone is the arbiter, and pgharden must side with it. Each server's test lists the
//! disagreements it expects, with their reasons; the set observed must be exactly that list, so a
//! new disagreement fails the test and so does a documented one that stopped happening.
//!
//! How the peers are run, and why:
//! * sslyze: `--starttls postgres --sslv2 --sslv3 --tlsv1 --tlsv1_1 --tlsv1_2 --tlsv1_3
//!   --mozilla_config disable --json_out FILE` — every suite per version, nothing else (the
//!   Mozilla check is off: it only judges, and would exit non-zero on the weak servers).
//! * testssl: `-t postgres -E --jsonfile FILE` — `-E` alone tests each suite of its list at every
//!   protocol. Not `--fast` (one suite per protocol via openssl only), and not `-p -E`: with `-p`,
//!   `-E` skips the protocols the protocol probe judged "not offered", and that probe offers no
//!   anonymous suite, so a server speaking TLS 1.0 with `ADH-AES256-SHA` only is reported as not
//!   speaking TLS 1.0 at all. testssl's own sockets are used (the default), so suites the local
//!   openssl lacks are still tried.
//! * sslyze comes from the virtual environment `scripts/deps` creates
//!   (`${XDG_CACHE_HOME:-$HOME/.cache}/pgharden-test-venv/bin/sslyze`); testssl from the Debian
//!   package `testssl.sh`. A missing peer fails the test, naming how to get it.
//!
//! PostgreSQL 15 has no setting for TLS 1.3 suites, so the server offers OpenSSL's default three
//! (no TLS 1.3 CCM): the peers' known gaps there cannot show on these servers.

#![allow(clippy::unwrap_used)] // a failed setup is a failed test

use std::collections::BTreeSet;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pgharden_pki::{InitOptions, KeyType, Pki, ServerRequest};
use pgharden_testcluster::Cluster;
use pgharden_wire::{ProbeTarget, Suite, TlsVersionName, scan};
use tempfile::TempDir;

/// `crates/cluster/src/profile.rs` `SSL_CIPHERS`: what `apply` sets.
const HARDENED_CIPHERS: &str = "HIGH:!aNULL:!eNULL:!MD5:!3DES:!RC4:!SHA1:!kRSA:!PSK:!SRP:!CAMELLIA:!ARIA";
/// A peer that runs longer than this is hung (testssl takes about 100 s on the permissive RSA
/// server on a loaded 2-core machine).
const PEER_DEADLINE: Duration = Duration::from_secs(900);

struct Server {
    cluster: Cluster,
    dir: TempDir,
}

fn server(key_type: KeyType, settings: &str) -> Server {
    let cluster = Cluster::start_default().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut pki =
        Pki::init(&dir.path().join("pki"), &InitOptions { key_type, ..Default::default() }).unwrap();
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
    Server { cluster, dir }
}

fn addr(s: &Server) -> SocketAddr {
    format!("127.0.0.1:{}", s.cluster.port()).parse().unwrap()
}

/// What one tool found: whether SSLv2 and SSLv3 are spoken, and the accepted suites (IANA codes)
/// per TLS version, in [`TlsVersionName::ALL`] order.
#[derive(Debug, Default, PartialEq, Eq)]
struct Findings {
    sslv2: bool,
    sslv3: bool,
    tls: [BTreeSet<u16>; 4],
}

impl Findings {
    fn at(&self, v: TlsVersionName) -> &BTreeSet<u16> {
        &self.tls[index(v)]
    }
}

fn index(v: TlsVersionName) -> usize {
    TlsVersionName::ALL.iter().position(|x| *x == v).unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Peer {
    Sslyze,
    Testssl,
}

/// A disagreement a server's test expects: `peer` reports `suite` (IANA name) at `version`
/// differently from pgharden, for `reason`.
#[derive(Debug, Clone, Copy)]
struct Known {
    peer: Peer,
    version: TlsVersionName,
    suite: &'static str,
    reason: &'static str,
}

/// sslyze's TLS 1.2 list has the anonymous DH CAMELLIA suites only with SHA-1 MACs
/// (`TLS_DH_anon_WITH_CAMELLIA_*_CBC_SHA`); the SHA-256 ones (0x00bf, 0x00c5) are never offered,
/// so a server accepting them is not seen to (the review's §1.4.1, confirmed by s_client).
const SSLYZE_LACKS_ADH_CAMELLIA_SHA256: [Known; 2] = [
    Known {
        peer: Peer::Sslyze,
        version: TlsVersionName::Tls1_2,
        suite: "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256",
        reason: "not in sslyze 6.3.1's TLS 1.2 suite list",
    },
    Known {
        peer: Peer::Sslyze,
        version: TlsVersionName::Tls1_2,
        suite: "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256",
        reason: "not in sslyze 6.3.1's TLS 1.2 suite list",
    },
];

/// The sslyze of the test virtual environment; fails, naming `scripts/deps`, when it is missing.
fn sslyze_bin() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|c| !c.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache"));
    let bin = cache.join("pgharden-test-venv/bin/sslyze");
    assert!(
        bin.is_file(),
        "sslyze 6.3.1 is needed at {}: run scripts/deps, which creates that virtual environment \
         (python3 -m venv … && bin/pip install sslyze==6.3.1 cryptography)",
        bin.display()
    );
    bin
}

fn testssl_bin() -> PathBuf {
    let bin = PathBuf::from("/usr/bin/testssl");
    assert!(bin.is_file(), "testssl is needed at {}: apt-get install testssl.sh", bin.display());
    bin
}

/// Run `cmd` with its output in `log`, killing it past [`PEER_DEADLINE`]; returns its exit code.
fn run_logged(mut cmd: Command, log: &Path) -> i32 {
    let out = File::create(log).unwrap();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let deadline = Instant::now() + PEER_DEADLINE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "{cmd:?} ran past {PEER_DEADLINE:?}; its output: {}",
                std::fs::read_to_string(log).unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The suite whose IANA name is `name`; a peer naming one the table lacks fails the test.
fn by_name(peer: Peer, name: &str) -> u16 {
    Suite::all()
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{peer:?} reports {name}, which the suite table does not know"))
        .code
}

fn sslyze(s: &Server) -> Findings {
    let json = s.dir.path().join("sslyze.json");
    let log = s.dir.path().join("sslyze.log");
    let mut cmd = Command::new(sslyze_bin());
    cmd.args([
        "--starttls",
        "postgres",
        "--sslv2",
        "--sslv3",
        "--tlsv1",
        "--tlsv1_1",
        "--tlsv1_2",
        "--tlsv1_3",
    ])
    .args(["--mozilla_config", "disable"])
    .arg(format!("--json_out={}", json.display()))
    .arg(addr(s).to_string());
    let rc = run_logged(cmd, &log);
    assert_eq!(rc, 0, "sslyze failed: {}", std::fs::read_to_string(&log).unwrap());
    parse_sslyze(&std::fs::read(&json).unwrap())
}

/// sslyze's JSON: `server_scan_results[0].scan_result.<version>_cipher_suites.result
/// .accepted_cipher_suites[].cipher_suite.name`.
fn parse_sslyze(json: &[u8]) -> Findings {
    let doc: serde_json::Value = serde_json::from_slice(json).unwrap();
    let result = &doc["server_scan_results"][0];
    assert_eq!(result["scan_status"], "COMPLETED", "sslyze: {result}");
    let accepted = |key: &str| -> BTreeSet<u16> {
        let scan = &result["scan_result"][format!("{key}_cipher_suites")];
        assert_eq!(scan["status"], "COMPLETED", "sslyze {key}: {scan}");
        scan["result"]["accepted_cipher_suites"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| by_name(Peer::Sslyze, c["cipher_suite"]["name"].as_str().unwrap()))
            .collect()
    };
    Findings {
        sslv2: !accepted("ssl_2_0").is_empty(),
        sslv3: !accepted("ssl_3_0").is_empty(),
        tls: ["tls_1_0", "tls_1_1", "tls_1_2", "tls_1_3"].map(accepted),
    }
}

fn testssl(s: &Server) -> Findings {
    let json = s.dir.path().join("testssl.json");
    let log = s.dir.path().join("testssl.log");
    let mut cmd = Command::new(testssl_bin());
    cmd.args(["--quiet", "--color", "0", "--nodns", "none", "--warnings", "off"])
        .args(["--connect-timeout", "10", "--openssl-timeout", "10"])
        .args(["-t", "postgres", "-E", "--jsonfile"])
        .arg(&json)
        .arg(addr(s).to_string());
    let rc = run_logged(cmd, &log);
    // testssl's exit code counts what it ran into, not whether it ran; the JSON says that.
    let text = std::fs::read(&json).unwrap_or_else(|e| {
        panic!("testssl (rc {rc}) wrote no JSON ({e}): {}", std::fs::read_to_string(&log).unwrap())
    });
    parse_testssl(&text)
}

/// testssl's flat JSON: one object per accepted suite, `id` `cipher-<proto>_x<hex code>` with
/// proto `ssl2`, `ssl3`, `tls1`, `tls1_1`, `tls1_2`, `tls1_3`, and the IANA name last in `finding`.
fn parse_testssl(json: &[u8]) -> Findings {
    let doc: serde_json::Value = serde_json::from_slice(json).unwrap();
    let mut found = Findings::default();
    let mut suites = 0;
    for item in doc.as_array().unwrap() {
        let id = item["id"].as_str().unwrap();
        assert_ne!(item["severity"], "FATAL", "testssl: {item}");
        let Some((proto, hex)) = id.strip_prefix("cipher-").and_then(|r| r.rsplit_once("_x")) else {
            continue;
        };
        let code = u16::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("testssl id {id}"));
        let finding = item["finding"].as_str().unwrap();
        let name = finding.split_whitespace().last().unwrap();
        assert_eq!(by_name(Peer::Testssl, name), code, "testssl names {id} {name}");
        match proto {
            "ssl2" => found.sslv2 = true,
            "ssl3" => found.sslv3 = true,
            "tls1" => _ = found.tls[0].insert(code),
            "tls1_1" => _ = found.tls[1].insert(code),
            "tls1_2" => _ = found.tls[2].insert(code),
            "tls1_3" => _ = found.tls[3].insert(code),
            other => panic!("testssl protocol {other} in {id}"),
        }
        suites += 1;
    }
    assert!(suites > 0, "testssl reported no accepted suite at all: {doc}");
    found
}

fn pgharden(s: &Server) -> Findings {
    let report = scan(&ProbeTarget::new(addr(s))).unwrap();
    let mut found =
        Findings { sslv2: report.sslv2.accepted, sslv3: report.sslv3.accepted, ..Default::default() };
    for v in &report.versions {
        assert_eq!(
            v.is_accepted(),
            !v.suites.is_empty(),
            "a verdict without suites, or suites without one: {v:?}"
        );
        found.tls[index(v.version)] = v.suites.iter().copied().collect();
    }
    found
}

fn s_client_flag(v: TlsVersionName) -> &'static str {
    match v {
        TlsVersionName::Tls1_0 => "-tls1",
        TlsVersionName::Tls1_1 => "-tls1_1",
        TlsVersionName::Tls1_2 => "-tls1_2",
        TlsVersionName::Tls1_3 => "-tls1_3",
    }
}

/// The arbiter: whether `openssl s_client` completes a handshake at `v` offering `suite` alone.
fn s_client_accepts(addr: SocketAddr, v: TlsVersionName, suite: &Suite) -> bool {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-starttls", "postgres", "-connect", &addr.to_string(), s_client_flag(v)]);
    if v == TlsVersionName::Tls1_3 {
        cmd.args(["-ciphersuites", suite.openssl]);
    } else {
        cmd.args(["-cipher", &format!("{}:@SECLEVEL=0", suite.openssl)]);
    }
    let out = cmd.stdin(Stdio::null()).output().expect("openssl is installed");
    let text = String::from_utf8_lossy(&out.stdout);
    let negotiated = text.lines().find_map(|l| {
        let cipher =
            l.trim().strip_prefix("Cipher    :").or_else(|| l.split_once("Cipher is ").map(|(_, c)| c))?;
        let c = cipher.trim();
        (c != "0000" && c != "(NONE)").then(|| c.to_string())
    });
    match negotiated {
        Some(c) if c == suite.openssl => true,
        Some(other) => panic!("s_client offered {} alone at {v} and got {other}", suite.openssl),
        None => false,
    }
}

/// One (peer, version, suite) on which a peer and pgharden differ.
type Disagreement = (Peer, TlsVersionName, u16);

fn disagreements(peer: Peer, ours: &Findings, theirs: &Findings) -> Vec<Disagreement> {
    let mut out = Vec::new();
    for v in TlsVersionName::ALL {
        for code in ours.at(v).symmetric_difference(theirs.at(v)) {
            out.push((peer, v, *code));
        }
    }
    out
}

/// Run both peers and the scan against `s`, and check they agree but for `known`, where
/// `openssl s_client` sides with pgharden.
fn agree(s: &Server, known: &[Known]) -> Findings {
    let ours = pgharden(s);
    let peers = [(Peer::Sslyze, sslyze(s)), (Peer::Testssl, testssl(s))];
    for (peer, theirs) in &peers {
        assert_eq!(
            (theirs.sslv2, theirs.sslv3),
            (ours.sslv2, ours.sslv3),
            "{peer:?} and pgharden on SSLv2 and SSLv3"
        );
    }
    let observed: BTreeSet<Disagreement> =
        peers.iter().flat_map(|(peer, theirs)| disagreements(*peer, &ours, theirs)).collect();
    for (peer, v, code) in &observed {
        let suite = Suite::by_code(*code).unwrap();
        let arbiter = s_client_accepts(addr(s), *v, suite);
        assert_eq!(
            ours.at(*v).contains(code),
            arbiter,
            "{v} {}: pgharden says {}, {peer:?} says {}, s_client says {}",
            suite.name,
            word(ours.at(*v).contains(code)),
            word(!ours.at(*v).contains(code)),
            word(arbiter),
        );
    }
    let expected: BTreeSet<Disagreement> =
        known.iter().map(|k| (k.peer, k.version, by_name(k.peer, k.suite))).collect();
    let explained: Vec<String> =
        known.iter().map(|k| format!("{:?} {} {}: {}", k.peer, k.version, k.suite, k.reason)).collect();
    assert_eq!(
        observed,
        expected,
        "disagreements observed: [{}]; explained: {explained:?}",
        describe(&observed)
    );
    ours
}

fn word(accepted: bool) -> &'static str {
    if accepted { "accepted" } else { "refused" }
}

fn describe(d: &BTreeSet<Disagreement>) -> String {
    d.iter()
        .map(|(p, v, c)| format!("{p:?} {v} {}", Suite::by_code(*c).unwrap().name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn names(set: &BTreeSet<u16>) -> Vec<&'static str> {
    set.iter().map(|c| Suite::by_code(*c).unwrap().name).collect()
}

#[test]
fn a_hardened_ecdsa_server() {
    let s = server(
        KeyType::P384,
        &format!("ssl_min_protocol_version = 'TLSv1.2'\nssl_ciphers = '{HARDENED_CIPHERS}'"),
    );
    let found = agree(&s, &[]);
    assert!(found.at(TlsVersionName::Tls1_0).is_empty() && found.at(TlsVersionName::Tls1_1).is_empty());
    let tls12 = found.at(TlsVersionName::Tls1_2);
    assert!(tls12.contains(&0xc02c), "ECDHE-ECDSA-AES256-GCM-SHA384: {:?}", names(tls12));
    assert!(tls12.iter().all(|c| Suite::by_code(*c).unwrap().forward_secrecy()), "{:?}", names(tls12));
    assert_eq!(found.at(TlsVersionName::Tls1_3).len(), 3);
}

#[test]
fn a_hardened_rsa_server() {
    let s = server(
        KeyType::Rsa2048,
        &format!("ssl_min_protocol_version = 'TLSv1.2'\nssl_ciphers = '{HARDENED_CIPHERS}'"),
    );
    let found = agree(&s, &[]);
    let tls12 = found.at(TlsVersionName::Tls1_2);
    assert!(tls12.contains(&0xc030), "ECDHE-RSA-AES256-GCM-SHA384: {:?}", names(tls12));
    assert!(
        tls12.iter().all(|c| Suite::by_code(*c).unwrap().forward_secrecy()),
        "no static RSA under the profile's ciphers: {:?}",
        names(tls12)
    );
}

#[test]
fn a_permissive_server() {
    let s = server(KeyType::Rsa2048, "ssl_min_protocol_version = 'TLSv1'\nssl_ciphers = 'ALL:@SECLEVEL=0'");
    let found = agree(&s, &SSLYZE_LACKS_ADH_CAMELLIA_SHA256);
    for v in TlsVersionName::ALL {
        assert!(!found.at(v).is_empty(), "{v} is spoken");
    }
    let tls12 = found.at(TlsVersionName::Tls1_2);
    assert!(
        tls12.contains(&0x009d) && tls12.contains(&0x00c5),
        "static RSA and ADH-CAMELLIA256-SHA256: {:?}",
        names(tls12)
    );
}

#[test]
fn a_server_with_only_ccm_camellia_and_anonymous_suites() {
    let s = server(
        KeyType::P256,
        "ssl_min_protocol_version = 'TLSv1'\nssl_max_protocol_version = 'TLSv1.2'\n\
         ssl_ciphers = 'ECDHE-ECDSA-AES256-CCM:ECDHE-ECDSA-CAMELLIA256-SHA384:ADH-AES256-SHA:@SECLEVEL=0'",
    );
    let found = agree(&s, &[]);
    let adh: BTreeSet<u16> = [0x003a].into();
    assert_eq!(found.at(TlsVersionName::Tls1_0), &adh, "ADH-AES256-SHA alone at TLS 1.0");
    assert_eq!(found.at(TlsVersionName::Tls1_1), &adh, "ADH-AES256-SHA alone at TLS 1.1");
    let tls12: BTreeSet<u16> = [0x003a, 0xc073, 0xc0ad].into();
    assert_eq!(found.at(TlsVersionName::Tls1_2), &tls12);
    assert!(found.at(TlsVersionName::Tls1_3).is_empty());
}

#[test]
fn a_tls10_only_server() {
    let s = server(
        KeyType::P256,
        "ssl_min_protocol_version = 'TLSv1'\nssl_max_protocol_version = 'TLSv1'\nssl_ciphers = 'ALL:@SECLEVEL=0'",
    );
    let found = agree(&s, &[]);
    assert!(!found.at(TlsVersionName::Tls1_0).is_empty());
    for v in [TlsVersionName::Tls1_1, TlsVersionName::Tls1_2, TlsVersionName::Tls1_3] {
        assert!(found.at(v).is_empty(), "{v}: {:?}", names(found.at(v)));
    }
}
