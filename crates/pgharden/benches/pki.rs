//! Benchmark (not a test): pgharden's PKI against the OpenSSL command lines of STIG Appendix G.
//!
//! Prints, in one run:
//! 1. the whole Appendix G hierarchy (root CA, server and client intermediate CAs with encrypted keys,
//!    one server and one client certificate) made with the `openssl` CLI as the appendix does it,
//!    against `pgharden pki init` + `pki server` + `pki client` — for RSA-4096 (the appendix's
//!    choice) and ECDSA P-384 (pgharden's default). pgharden also writes three CRLs, which the
//!    appendix leaves out, so its side does strictly more work;
//! 2. the rate of issuing 1,000 client certificates in one `pki client` run, against one pgharden
//!    process per certificate and against the appendix's two openssl commands per certificate
//!    (both measured on fewer certificates and reported per certificate).
//!
//! Run: `cargo bench -p pgharden --bench pki` (set PGHARDEN_BENCH_ROUNDS to change the repetitions).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const PASS: &str = "bench-passphrase-0123456789";

const OPENSSL_CNF: &str = "\
[req]
distinguished_name = dn
[dn]
[v3_ca]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always,issuer
basicConstraints = critical, CA:true
keyUsage = cRLSign, keyCertSign
[usr_cert]
basicConstraints = CA:FALSE
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
keyUsage = digitalSignature
";

fn main() {
    let rounds: usize = std::env::var("PGHARDEN_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let bin = env!("CARGO_BIN_EXE_pgharden");
    println!("pgharden PKI benchmark ({rounds} rounds each, median wall time; {})", openssl_version());
    println!();
    println!(
        "{:<44} {:>12} {:>12} {:>9}",
        "whole Appendix G hierarchy", "openssl CLI", "pgharden", "speed-up"
    );
    for (label, key, encrypted) in [
        ("RSA-4096 (as Appendix G)", Key::Rsa4096, true),
        ("ECDSA P-384 (pgharden default)", Key::P384, true),
        ("ECDSA P-384, CA keys not encrypted (both)", Key::P384, false),
    ] {
        let ossl = median(rounds, || openssl_hierarchy(key, encrypted));
        let ours = median(rounds, || pgharden_hierarchy(bin, key, encrypted));
        println!(
            "{label:<44} {:>12} {:>12} {:>8.1}x",
            ms(ossl),
            ms(ours),
            ossl.as_secs_f64() / ours.as_secs_f64()
        );
    }
    println!();
    let n = 1000;
    let batch = pgharden_batch(bin, n);
    let per_process_n = 50;
    let per_process = pgharden_per_process(bin, per_process_n);
    let openssl_n = 100;
    let ossl = openssl_clients(openssl_n);
    println!("{:<44} {:>12} {:>14}", "issuing client certificates (P-384)", "wall time", "certs/second");
    println!("{:<44} {:>12} {:>14.0}", format!("pgharden, {n} in one run"), ms(batch), rate(n, batch));
    println!(
        "{:<44} {:>12} {:>14.1}",
        format!("pgharden, one process each ({per_process_n})"),
        ms(per_process),
        rate(per_process_n, per_process)
    );
    println!(
        "{:<44} {:>12} {:>14.1}",
        format!("openssl req + x509 each ({openssl_n})"),
        ms(ossl),
        rate(openssl_n, ossl)
    );
    println!();
    println!("one process per certificate pays the CA key's PBKDF2 (600,000 iterations) every time;");
    println!("openssl pays two process starts and, with -aes256 CA keys, its own (cheaper) PBKDF2.");
}

#[derive(Clone, Copy)]
enum Key {
    Rsa4096,
    P384,
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn median(rounds: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..rounds.max(1)).map(|_| f()).collect();
    times.sort();
    times[times.len() / 2]
}

fn sh(dir: &Path, program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).current_dir(dir).output().expect("spawn");
    assert!(out.status.success(), "{program} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn openssl_version() -> String {
    let out = Command::new("openssl").arg("version").output().expect("openssl is installed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Run one openssl command line (arguments never contain spaces here, so it reads like the appendix).
fn ossl(dir: &Path, line: &str) {
    let args: Vec<&str> = line.split_whitespace().collect();
    sh(dir, "openssl", &args);
}

/// Sign a CSR with a CA, as Appendix G does with `openssl x509 -req`.
fn ossl_sign(dir: &Path, csr: &str, ca: &str, ext: &str, days: u32, md: &str, out: &str) {
    ossl(
        dir,
        &format!(
            "x509 -extfile openssl.cnf -extensions {ext} -req -days {days} {md} -CA {ca}.crt -CAkey {ca}.key \
             -passin pass:{PASS} -CAcreateserial -in {csr} -out {out}"
        ),
    );
}

/// Appendix G 2.7.1, command for command (non-interactive passphrases).
fn openssl_hierarchy(key: Key, encrypted: bool) -> Duration {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    std::fs::write(d.join("openssl.cnf"), OPENSSL_CNF).expect("write cnf");
    let (md, genkey, newkey) = match key {
        Key::Rsa4096 => ("-sha256", "-algorithm RSA -pkeyopt rsa_keygen_bits:4096", "-newkey rsa:4096"),
        Key::P384 => (
            "-sha384",
            "-algorithm EC -pkeyopt ec_paramgen_curve:P-384",
            "-newkey ec -pkeyopt ec_paramgen_curve:P-384",
        ),
    };
    let protect = if encrypted { format!("-aes256 -pass pass:{PASS}") } else { String::new() };
    let start = Instant::now();
    ossl(d, &format!("genpkey {genkey} {protect} -out ca.key"));
    ossl(
        d,
        &format!(
            "req -new -x509 {md} -days 1825 -key ca.key -passin pass:{PASS} -out ca.crt -subj /O=bench/CN=root-ca \
             -config openssl.cnf -extensions v3_ca"
        ),
    );
    for name in ["server-intermediate", "client-intermediate"] {
        ossl(d, &format!("genpkey {genkey} {protect} -out {name}.key"));
        ossl(
            d,
            &format!(
                "req -new {md} -key {name}.key -passin pass:{PASS} -out {name}.csr -subj /O=bench/CN={name} \
                 -config openssl.cnf"
            ),
        );
        ossl_sign(d, &format!("{name}.csr"), "ca", "v3_ca", 1825, md, &format!("{name}.crt"));
    }
    for (leaf, ca, cn) in
        [("server", "server-intermediate", "db.example.com"), ("client", "client-intermediate", "bob")]
    {
        ossl(
            d,
            &format!(
                "req -nodes -new {newkey} {md} -keyout {leaf}.key -out {leaf}.csr -subj /O=bench/CN={cn} -config openssl.cnf"
            ),
        );
        ossl_sign(d, &format!("{leaf}.csr"), ca, "usr_cert", 1825, md, &format!("{leaf}.crt"));
    }
    start.elapsed()
}

fn pass_file(dir: &Path) -> String {
    let path = dir.join("pass");
    std::fs::write(&path, PASS).expect("write passphrase");
    path.to_string_lossy().into_owned()
}

fn pgharden_hierarchy(bin: &str, key: Key, encrypted: bool) -> Duration {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pass = pass_file(tmp.path());
    let dir = tmp.path().join("pki");
    let dir = dir.to_str().expect("utf-8 path");
    let kt = match key {
        Key::Rsa4096 => "rsa4096",
        Key::P384 => "p384",
    };
    let unlock: Vec<&str> = if encrypted { vec!["--passphrase-file", &pass] } else { vec![] };
    let protect: Vec<&str> = if encrypted { unlock.clone() } else { vec!["--no-passphrase"] };
    let start = Instant::now();
    let init = ["pki", "init", "--dir", dir, "--key-type", kt, "--org", "bench"];
    sh(tmp.path(), bin, &[&init[..], &protect].concat());
    let server = ["pki", "server", "--dir", dir, "--host", "db.example.com"];
    sh(tmp.path(), bin, &[&server[..], &unlock].concat());
    let client = ["pki", "client", "--dir", dir, "--role", "bob"];
    sh(tmp.path(), bin, &[&client[..], &unlock].concat());
    start.elapsed()
}

fn pgharden_ready(bin: &str) -> (tempfile::TempDir, String, String) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pass = pass_file(tmp.path());
    let dir = tmp.path().join("pki").to_string_lossy().into_owned();
    sh(tmp.path(), bin, &["pki", "init", "--dir", &dir, "--key-type", "p384", "--passphrase-file", &pass]);
    (tmp, dir, pass)
}

fn pgharden_batch(bin: &str, n: usize) -> Duration {
    let (tmp, dir, pass) = pgharden_ready(bin);
    let mut args =
        vec!["pki".to_string(), "client".into(), "--dir".into(), dir, "--passphrase-file".into(), pass];
    for i in 0..n {
        args.extend(["--role".to_string(), format!("role{i}")]);
    }
    let start = Instant::now();
    let out = Command::new(bin).args(&args).current_dir(tmp.path()).output().expect("spawn");
    let elapsed = start.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    elapsed
}

fn pgharden_per_process(bin: &str, n: usize) -> Duration {
    let (tmp, dir, pass) = pgharden_ready(bin);
    let start = Instant::now();
    for i in 0..n {
        let role = format!("role{i}");
        sh(tmp.path(), bin, &["pki", "client", "--dir", &dir, "--role", &role, "--passphrase-file", &pass]);
    }
    start.elapsed()
}

fn openssl_clients(n: usize) -> Duration {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    std::fs::write(d.join("openssl.cnf"), OPENSSL_CNF).expect("write cnf");
    let p384 = "-pkeyopt ec_paramgen_curve:P-384";
    ossl(d, &format!("genpkey -algorithm EC {p384} -aes256 -pass pass:{PASS} -out ca.key"));
    ossl(
        d,
        &format!(
            "req -new -x509 -sha384 -days 1825 -key ca.key -passin pass:{PASS} -out ca.crt -subj /CN=client-ca \
             -config openssl.cnf -extensions v3_ca"
        ),
    );
    let start = Instant::now();
    for i in 0..n {
        ossl(
            d,
            &format!(
                "req -nodes -new -newkey ec {p384} -sha384 -keyout c{i}.key -out c{i}.csr -subj /CN=role{i} -config openssl.cnf"
            ),
        );
        ossl_sign(d, &format!("c{i}.csr"), "ca", "usr_cert", 365, "-sha384", &format!("c{i}.crt"));
    }
    start.elapsed()
}
