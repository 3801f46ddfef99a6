//! Benchmark (not a test): `pgharden audit` against pgdsat (HexaCluster's PostgreSQL Database
//! Security Assessment Tool, Perl, one psql process per query) on the same hardened cluster.
//!
//! Prints, in one run, each tool's median wall time and how many automated checks each reports.
//! pgdsat is not part of this repository: point PGDSAT_DIR at a checkout of it (its `pgdsat` script
//! and `lib/`), with Perl's bignum module installed. The cluster is a `pgharden quickstart` demo in
//! a temporary directory, stopped at the end.
//!
//! Run: `PGDSAT_DIR=/path/to/pgdsat cargo bench -p pgharden --bench audit`

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let Some(pgdsat) = std::env::var_os("PGDSAT_DIR").map(PathBuf::from) else {
        eprintln!(
            "set PGDSAT_DIR to a checkout of pgdsat (github.com/HexaCluster/pgdsat) to run this comparison"
        );
        std::process::exit(2);
    };
    let rounds: usize = std::env::var("PGHARDEN_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let bin = env!("CARGO_BIN_EXE_pgharden");
    let tmp = tempfile::tempdir().expect("tempdir");
    let demo = tmp.path().join("demo");
    let port = free_port();
    let out = Command::new(bin)
        .args(["quickstart", "--dir", demo.to_str().expect("utf-8"), "--port", &port.to_string(), "--pgbin"])
        .arg(pgharden_testcluster::Installation::for_tests().unwrap_or_else(|e| panic!("{e}")).bindir())
        .output()
        .expect("quickstart");
    assert!(out.status.success(), "quickstart failed: {}", String::from_utf8_lossy(&out.stderr));
    let _stop = Stop(demo.clone());
    let data = demo.join("data");

    let ours = median(rounds, || {
        time(Command::new(bin).args(["audit", "--pgdata", data.to_str().expect("utf-8"), "--format", "json"]))
            .0
    });
    let (_, json) = time(Command::new(bin).args([
        "audit",
        "--pgdata",
        data.to_str().expect("utf-8"),
        "--format",
        "json",
    ]));
    let report: serde_json::Value = serde_json::from_slice(&json).expect("audit JSON");
    let findings = report["findings"].as_array().expect("findings");
    let automated = pgharden_audit::catalogue::RULES.iter().filter(|r| !r.checks.is_empty()).count();
    let decided = findings.iter().filter(|f| f["status"] == "pass" || f["status"] == "fail").count();
    let checks = pgharden_audit::CheckId::ALL.len();

    let pgdsat_cmd = || {
        let mut c = as_postgres("perl");
        c.arg(format!("-I{}", pgdsat.join("lib").display()))
            .arg(pgdsat.join("pgdsat"))
            .args([
                "-D",
                data.to_str().expect("utf-8"),
                "-p",
                &port.to_string(),
                "-U",
                "postgres",
                "-f",
                "text",
                "--no-pg-version-check",
            ])
            .arg("-h")
            .arg(demo.join("run"));
        c
    };
    let theirs = median(rounds, || time(&mut pgdsat_cmd()).0);
    let (_, text) = time(&mut pgdsat_cmd());
    let text = String::from_utf8_lossy(&text);
    let summary = text.split("# Summary Table").nth(1).unwrap_or(&text);
    let summary = summary.split("\n\n\n").next().unwrap_or(summary);
    let pgdsat_automated =
        summary.lines().filter(|l| l.contains("=> SUCCESS") || l.contains("=> FAILURE")).count();

    println!(
        "audit of one hardened PostgreSQL {} cluster, {rounds} rounds, median wall time",
        server_version(bin, &data)
    );
    println!();
    println!("{:<12} {:>10} {:>26}", "tool", "wall time", "automated checks");
    println!(
        "{:<12} {:>10} {:>26}",
        "pgharden",
        ms(ours),
        format!("{automated} rules via {checks} checks ({decided} decided)")
    );
    println!("{:<12} {:>10} {:>26}", "pgdsat", ms(theirs), format!("{pgdsat_automated} checks"));
    println!();
    println!(
        "pgharden: one connection, file reads and a credential-free network probe; pgdsat: a psql process per query."
    );
    println!("speed-up: {:.1}x", theirs.as_secs_f64() / ours.as_secs_f64());
}

fn server_version(bin: &str, data: &Path) -> String {
    let (_, json) = time(Command::new(bin).args([
        "audit",
        "--pgdata",
        data.to_str().expect("utf-8"),
        "--format",
        "json",
        "--no-probe",
    ]));
    let report: serde_json::Value = serde_json::from_slice(&json).unwrap_or_default();
    report["target"]["server_version"].as_str().unwrap_or("?").to_string()
}

fn as_postgres(program: &str) -> Command {
    let mut c = Command::new(program);
    if nix::unistd::Uid::effective().is_root() {
        use std::os::unix::process::CommandExt;
        let pg = nix::unistd::User::from_name("postgres").ok().flatten().expect("a postgres account");
        c.uid(pg.uid.as_raw()).gid(pg.gid.as_raw());
    }
    c
}

fn time(cmd: &mut Command) -> (Duration, Vec<u8>) {
    let start = Instant::now();
    let out = cmd.output().expect("spawn");
    let elapsed = start.elapsed();
    // Exit code 1 is an audit that found something (this host is not in FIPS mode, say), not an error.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (elapsed, out.stdout)
}

fn median(rounds: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut t: Vec<Duration> = (0..rounds.max(1)).map(|_| f()).collect();
    t.sort();
    t[t.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Stops the demo server at the end.
struct Stop(PathBuf);

impl Drop for Stop {
    fn drop(&mut self) {
        let Ok(install) = pgharden_testcluster::Installation::for_tests() else { return };
        let mut c = as_postgres(&install.bin("pg_ctl").to_string_lossy());
        c.args(["stop", "-m", "fast", "-s", "-D"]).arg(self.0.join("data"));
        let _ = c.output();
    }
}
