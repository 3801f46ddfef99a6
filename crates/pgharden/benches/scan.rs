//! Benchmark (not a test): pgharden's full TLS scan against sslyze's versions-and-suites scan, on
//! the same real PostgreSQL 15 servers.
//!
//! Prints, in one run, per server: the median wall time of `pgharden_wire::scan` (in process: the
//! library `pgharden probe` calls — SSLv2, SSLv3, TLS 1.0 to 1.3 with every accepted suite in
//! the server's order, the accepted groups, the chain), the median wall time of `sslyze
//! --starttls postgres --sslv2 --sslv3 --tlsv1 --tlsv1_1 --tlsv1_2 --tlsv1_3` (a process; the
//! Mozilla check disabled), the ratio, and whether both found the same accepted suites per
//! version. A suite only one of them found is named, with what `openssl s_client` offering it
//! alone says. The issue's goal is at least 10× faster with the same findings; this prints, it
//! does not assert. "handshakes" is how many connections pgharden's scan made (sequentially).
//!
//! The servers: hardened ECDSA and hardened RSA (the profile's `ssl_ciphers`, TLS 1.2 minimum),
//! permissive RSA (`ALL:@SECLEVEL=0`, TLS 1.0 minimum), CCM/CAMELLIA/anonymous only, TLS 1.0 only.
//! sslyze comes from the virtual environment `scripts/deps` creates.
//!
//! Run: `cargo bench -p pgharden --bench scan` (rounds: `PGHARDEN_BENCH_ROUNDS`, default 5).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pgharden_cluster::profile::SSL_CIPHERS;
use pgharden_pki::{InitOptions, KeyType, Pki, ServerRequest};
use pgharden_testcluster::Cluster;
use pgharden_wire::{ProbeTarget, Suite, TlsVersionName, scan};

/// Accepted suites (IANA codes) per TLS version, in `TlsVersionName::ALL` order.
type Accepted = [BTreeSet<u16>; 4];

struct Server {
    name: &'static str,
    cluster: Cluster,
    _pki: tempfile::TempDir,
}

fn main() {
    let rounds: usize = std::env::var("PGHARDEN_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let sslyze = sslyze_bin();
    let work = tempfile::tempdir().expect("tempdir");
    let hardened = format!("ssl_min_protocol_version = 'TLSv1.2'\nssl_ciphers = '{SSL_CIPHERS}'");
    let servers = [
        server("hardened ECDSA", KeyType::P384, &hardened),
        server("hardened RSA", KeyType::Rsa2048, &hardened),
        server(
            "permissive RSA",
            KeyType::Rsa2048,
            "ssl_min_protocol_version = 'TLSv1'\nssl_ciphers = 'ALL:@SECLEVEL=0'",
        ),
        server(
            "CCM/CAMELLIA/anon",
            KeyType::P256,
            "ssl_min_protocol_version = 'TLSv1'\nssl_max_protocol_version = 'TLSv1.2'\n\
             ssl_ciphers = 'ECDHE-ECDSA-AES256-CCM:ECDHE-ECDSA-CAMELLIA256-SHA384:ADH-AES256-SHA:@SECLEVEL=0'",
        ),
        server(
            "TLS 1.0 only",
            KeyType::P256,
            "ssl_min_protocol_version = 'TLSv1'\nssl_max_protocol_version = 'TLSv1'\nssl_ciphers = 'ALL:@SECLEVEL=0'",
        ),
    ];

    println!("TLS scan of {} PostgreSQL 15 servers, {rounds} rounds each, median wall time", servers.len());
    println!(
        "pgharden: pgharden_wire::scan in process (SSLv2, SSLv3, TLS 1.0-1.3 suites in server order, groups, chain)"
    );
    println!(
        "sslyze 6.3.1: --starttls postgres --sslv2 --sslv3 --tlsv1 --tlsv1_1 --tlsv1_2 --tlsv1_3, one process"
    );
    println!();
    println!(
        "{:<18} {:>10} {:>10} {:>8} {:>7} {:>11}  same accepted suites",
        "server", "pgharden", "sslyze", "ratio", "suites", "handshakes"
    );
    let mut ratios = Vec::new();
    for s in &servers {
        let target = ProbeTarget::new(addr(s));
        let mut ours = None;
        let our_time = median(rounds, || {
            let start = Instant::now();
            let report = scan(&target).unwrap_or_else(|e| panic!("scan of {}: {e}", s.name));
            let took = start.elapsed();
            ours = Some((accepted_by_pgharden(&report), report.handshakes));
            took
        });
        let json = work.path().join(format!("sslyze-{}.json", s.cluster.port()));
        let their_time = median(rounds, || run_sslyze(&sslyze, addr(s), &json));
        let theirs = parse_sslyze(&std::fs::read(&json).expect("sslyze's JSON"));
        let (ours, handshakes) = ours.expect("at least one round");
        let ratio = their_time.as_secs_f64() / our_time.as_secs_f64();
        ratios.push(ratio);
        let count: usize = ours.iter().map(BTreeSet::len).sum();
        println!(
            "{:<18} {:>10} {:>10} {:>7.1}x {:>7} {:>11}  {}",
            s.name,
            ms(our_time),
            ms(their_time),
            ratio,
            count,
            handshakes,
            compare(addr(s), &ours, &theirs)
        );
    }
    ratios.sort_by(f64::total_cmp);
    println!();
    println!(
        "speed-up: {:.1}x to {:.1}x (goal: at least 10x with the same findings)",
        ratios[0],
        ratios[ratios.len() - 1]
    );
}

fn server(name: &'static str, key_type: KeyType, settings: &str) -> Server {
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut pki = Pki::init(dir.path(), &InitOptions { key_type, ..Default::default() }).expect("pki init");
    let hosts = vec!["localhost".into(), "127.0.0.1".into()];
    let issued = pki.issue_server(&ServerRequest { hosts, ..Default::default() }, None).expect("server cert");
    let read = |p: &Path| std::fs::read(p).expect("issued file");
    cluster.write_file("server.crt", &read(&issued.cert_path), 0o600).expect("server.crt");
    cluster.write_file("server.key", &read(&issued.key_path), 0o600).expect("server.key");
    cluster
        .append_conf(&format!(
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n{settings}\n"
        ))
        .expect("postgresql.conf");
    cluster.reload().expect("reload with TLS");
    Server { name, cluster, _pki: dir }
}

fn addr(s: &Server) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], s.cluster.port()))
}

/// The sslyze of the virtual environment `scripts/deps` creates; exits naming it when missing.
fn sslyze_bin() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|c| !c.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache"));
    let bin = cache.join("pgharden-test-venv/bin/sslyze");
    if !bin.is_file() {
        eprintln!(
            "sslyze 6.3.1 is needed at {}: run scripts/deps, which creates that virtual environment",
            bin.display()
        );
        std::process::exit(2);
    }
    bin
}

fn run_sslyze(bin: &Path, addr: SocketAddr, json: &Path) -> Duration {
    let start = Instant::now();
    let out = Command::new(bin)
        .args([
            "--quiet",
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
        .arg(addr.to_string())
        .stdin(Stdio::null())
        .output()
        .expect("sslyze runs");
    let took = start.elapsed();
    assert!(out.status.success(), "sslyze failed: {}", String::from_utf8_lossy(&out.stderr));
    took
}

fn accepted_by_pgharden(report: &pgharden_wire::Scan) -> Accepted {
    let mut out = Accepted::default();
    for v in &report.versions {
        out[index(v.version)] = v.suites.iter().copied().collect();
    }
    out
}

fn parse_sslyze(json: &[u8]) -> Accepted {
    let doc: serde_json::Value = serde_json::from_slice(json).expect("sslyze JSON");
    let result = &doc["server_scan_results"][0]["scan_result"];
    ["tls_1_0", "tls_1_1", "tls_1_2", "tls_1_3"].map(|key| {
        result[format!("{key}_cipher_suites")]["result"]["accepted_cipher_suites"]
            .as_array()
            .unwrap_or_else(|| panic!("sslyze JSON without {key}: {result}"))
            .iter()
            .map(|c| {
                let name = c["cipher_suite"]["name"].as_str().expect("a suite name");
                Suite::all()
                    .iter()
                    .find(|s| s.name == name)
                    .unwrap_or_else(|| panic!("sslyze reports {name}, unknown to the suite table"))
                    .code
            })
            .collect()
    })
}

fn index(v: TlsVersionName) -> usize {
    TlsVersionName::ALL.iter().position(|x| *x == v).expect("one of the four")
}

/// "yes", or each suite only one side found with s_client's word on it.
fn compare(addr: SocketAddr, ours: &Accepted, theirs: &Accepted) -> String {
    let mut notes = Vec::new();
    for v in TlsVersionName::ALL {
        let (o, t) = (&ours[index(v)], &theirs[index(v)]);
        for code in o.symmetric_difference(t) {
            let suite = Suite::by_code(*code).expect("a known suite");
            let who = if o.contains(code) { "only pgharden" } else { "only sslyze" };
            let arbiter = if s_client_accepts(addr, v, suite) { "accepts" } else { "refuses" };
            notes.push(format!("{v} {}: {who} (s_client {arbiter})", suite.name));
        }
    }
    if notes.is_empty() { "yes".into() } else { format!("no: {}", notes.join("; ")) }
}

/// Whether `openssl s_client` completes a handshake at `v` offering `suite` alone.
fn s_client_accepts(addr: SocketAddr, v: TlsVersionName, suite: &Suite) -> bool {
    let flag = match v {
        TlsVersionName::Tls1_0 => "-tls1",
        TlsVersionName::Tls1_1 => "-tls1_1",
        TlsVersionName::Tls1_2 => "-tls1_2",
        TlsVersionName::Tls1_3 => "-tls1_3",
    };
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-starttls", "postgres", "-connect", &addr.to_string(), flag]);
    if v == TlsVersionName::Tls1_3 {
        cmd.args(["-ciphersuites", suite.openssl]);
    } else {
        cmd.args(["-cipher", &format!("{}:@SECLEVEL=0", suite.openssl)]);
    }
    let out = cmd.stdin(Stdio::null()).output().expect("openssl is installed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim().strip_prefix("Cipher    :").is_some_and(|c| c.trim() == suite.openssl))
}

fn median(rounds: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..rounds.max(1)).map(|_| f()).collect();
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    }
}
