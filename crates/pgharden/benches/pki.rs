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

const PASS: &str = "bench passphrase 0123456789";

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
    let rounds: usize = std::env::var("PGHARDEN_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let bin = env!("CARGO_BIN_EXE_pgharden");
    println!(
        "pgharden PKI benchmark ({rounds} rounds each, median wall time; {})",
        openssl_version()
    );
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
    println!(
        "{:<44} {:>12} {:>14}",
        "issuing client certificates (P-384)", "wall time", "certs/second"
    );
    println!(
        "{:<44} {:>12} {:>14.0}",
        format!("pgharden, {n} in one run"),
        ms(batch),
        rate(n, batch)
    );
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
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn openssl_version() -> String {
    let out = Command::new("openssl")
        .arg("version")
        .output()
        .expect("openssl is installed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Appendix G 2.7.1, command for command (non-interactive passphrases).
fn openssl_hierarchy(key: Key, encrypted: bool) -> Duration {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    std::fs::write(d.join("openssl.cnf"), OPENSSL_CNF).expect("write cnf");
    let pass_out = format!("pass:{PASS}");
    let (md, newkey): (&str, Vec<&str>) = match key {
        Key::Rsa4096 => ("-sha256", vec!["-newkey", "rsa:4096"]),
        Key::P384 => (
            "-sha384",
            vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
        ),
    };
    let genkey = |out: &str| {
        let mut args = match key {
            Key::Rsa4096 => vec!["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"],
            Key::P384 => vec![
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
            ],
        };
        if encrypted {
            args.extend(["-aes256", "-pass", &pass_out]);
        }
        args.extend(["-out", out]);
        sh(d, "openssl", &args);
    };
    let start = Instant::now();
    genkey("ca.key");
    sh(
        d,
        "openssl",
        &[
            "req",
            "-new",
            "-x509",
            md,
            "-days",
            "1825",
            "-key",
            "ca.key",
            "-passin",
            &pass_out,
            "-out",
            "ca.crt",
            "-subj",
            "/O=bench/CN=root-ca",
            "-config",
            "openssl.cnf",
            "-extensions",
            "v3_ca",
        ],
    );
    for name in ["server-intermediate", "client-intermediate"] {
        let key_file = format!("{name}.key");
        let csr = format!("{name}.csr");
        let crt = format!("{name}.crt");
        genkey(&key_file);
        sh(
            d,
            "openssl",
            &[
                "req",
                "-new",
                md,
                "-key",
                &key_file,
                "-passin",
                &pass_out,
                "-out",
                &csr,
                "-subj",
                &format!("/O=bench/CN={name}"),
                "-config",
                "openssl.cnf",
            ],
        );
        sh(
            d,
            "openssl",
            &[
                "x509",
                "-extfile",
                "openssl.cnf",
                "-extensions",
                "v3_ca",
                "-req",
                "-days",
                "1825",
                md,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-passin",
                &pass_out,
                "-CAcreateserial",
                "-in",
                &csr,
                "-out",
                &crt,
            ],
        );
    }
    for (leaf, ca, cn) in [
        ("server", "server-intermediate", "db.example.com"),
        ("client", "client-intermediate", "bob"),
    ] {
        let mut args = vec!["req", "-nodes", "-new"];
        args.extend(&newkey);
        let keyout = format!("{leaf}.key");
        let csr = format!("{leaf}.csr");
        let subj = format!("/O=bench/CN={cn}");
        args.extend([
            md,
            "-keyout",
            &keyout,
            "-out",
            &csr,
            "-subj",
            &subj,
            "-config",
            "openssl.cnf",
        ]);
        sh(d, "openssl", &args);
        let ca_crt = format!("{ca}.crt");
        let ca_key = format!("{ca}.key");
        let crt = format!("{leaf}.crt");
        sh(
            d,
            "openssl",
            &[
                "x509",
                "-extfile",
                "openssl.cnf",
                "-extensions",
                "usr_cert",
                "-req",
                "-days",
                "1825",
                md,
                "-CA",
                &ca_crt,
                "-CAkey",
                &ca_key,
                "-passin",
                &pass_out,
                "-CAcreateserial",
                "-in",
                &csr,
                "-out",
                &crt,
            ],
        );
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
    let unlock: Vec<&str> = if encrypted {
        vec!["--passphrase-file", &pass]
    } else {
        vec![]
    };
    let protect: Vec<&str> = if encrypted {
        unlock.clone()
    } else {
        vec!["--no-passphrase"]
    };
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
    sh(
        tmp.path(),
        bin,
        &[
            "pki",
            "init",
            "--dir",
            &dir,
            "--key-type",
            "p384",
            "--passphrase-file",
            &pass,
        ],
    );
    (tmp, dir, pass)
}

fn pgharden_batch(bin: &str, n: usize) -> Duration {
    let (tmp, dir, pass) = pgharden_ready(bin);
    let mut args = vec![
        "pki".to_string(),
        "client".into(),
        "--dir".into(),
        dir,
        "--passphrase-file".into(),
        pass,
    ];
    for i in 0..n {
        args.extend(["--role".to_string(), format!("role{i}")]);
    }
    let start = Instant::now();
    let out = Command::new(bin)
        .args(&args)
        .current_dir(tmp.path())
        .output()
        .expect("spawn");
    let elapsed = start.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    elapsed
}

fn pgharden_per_process(bin: &str, n: usize) -> Duration {
    let (tmp, dir, pass) = pgharden_ready(bin);
    let start = Instant::now();
    for i in 0..n {
        let role = format!("role{i}");
        sh(
            tmp.path(),
            bin,
            &[
                "pki",
                "client",
                "--dir",
                &dir,
                "--role",
                &role,
                "--passphrase-file",
                &pass,
            ],
        );
    }
    start.elapsed()
}

fn openssl_clients(n: usize) -> Duration {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    std::fs::write(d.join("openssl.cnf"), OPENSSL_CNF).expect("write cnf");
    let pass_out = format!("pass:{PASS}");
    sh(
        d,
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-aes256",
            "-pass",
            &pass_out,
            "-out",
            "ca.key",
        ],
    );
    sh(
        d,
        "openssl",
        &[
            "req",
            "-new",
            "-x509",
            "-sha384",
            "-days",
            "1825",
            "-key",
            "ca.key",
            "-passin",
            &pass_out,
            "-out",
            "ca.crt",
            "-subj",
            "/CN=client-ca",
            "-config",
            "openssl.cnf",
            "-extensions",
            "v3_ca",
        ],
    );
    let start = Instant::now();
    for i in 0..n {
        let key = format!("c{i}.key");
        let csr = format!("c{i}.csr");
        let crt = format!("c{i}.crt");
        let subj = format!("/CN=role{i}");
        sh(
            d,
            "openssl",
            &[
                "req",
                "-nodes",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
                "-sha384",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &subj,
                "-config",
                "openssl.cnf",
            ],
        );
        sh(
            d,
            "openssl",
            &[
                "x509",
                "-extfile",
                "openssl.cnf",
                "-extensions",
                "usr_cert",
                "-req",
                "-days",
                "365",
                "-sha384",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-passin",
                &pass_out,
                "-CAcreateserial",
                "-in",
                &csr,
                "-out",
                &crt,
            ],
        );
    }
    start.elapsed()
}
