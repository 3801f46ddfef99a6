//! `apply --server-key-passphrase-file`: the server key in PGDATA encrypted (PKCS#8, PBES2), the
//! passphrase in an owner-only file that `ssl_passphrase_command` prints — on real PostgreSQL 15,
//! proven with openssl, psql (verify-full with a client certificate), a restart, a reload, a second
//! apply and a deploy of a new certificate; and the passphrase nowhere else: not in `ps` while apply
//! runs, not in postgresql.conf, the server log, pgharden's output or its JSON.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use pgharden_testcluster::Cluster;

use crate::support::{TestPki, mode, openssl, pgharden, psql, served_serial};

/// A passphrase no file, command line or log of the test would hold by chance.
const PASSPHRASE: &str = "kq7-Vandal-Oboe-passphrase-3141";

/// `bob` over TCP with his certificate, the server checked with verify-full against the PKI root.
fn bob_connects(cluster: &Cluster, pki: &TestPki) -> crate::support::Psql {
    let conninfo = format!(
        "host=localhost port={} dbname=postgres user=bob sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
        cluster.port(),
        pki.p("root/ca.crt"),
        pki.p("clients/bob/client.crt"),
        pki.p("clients/bob/client.key"),
    );
    psql(cluster, &conninfo, "SELECT current_user")
}

/// The serial of a certificate file's first certificate, as `served_serial` spells it.
fn file_serial(path: &Path) -> String {
    let (ok, text) = openssl(&["x509", "-in", path.to_str().unwrap(), "-noout", "-serial"]);
    assert!(ok, "{text}");
    text.trim().trim_start_matches("serial=").to_ascii_lowercase()
}

/// `pgharden apply` with the passphrase file, run while `ps` is sampled until it ends: its output
/// and every command line seen.
fn apply_watched(
    cluster: &Cluster,
    pki: &TestPki,
    pass_file: &Path,
    extra: &[&str],
) -> (bool, String, String) {
    let mut child = pgharden()
        .args(["apply", "--pgdata", cluster.data_dir().to_str().unwrap(), "--pki", &pki.p("")])
        .args(["--host", "localhost", "--host", "127.0.0.1", "--yes"])
        .args(["--server-key-passphrase-file", pass_file.to_str().unwrap()])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = String::new();
    // Sampled until apply exits: each sample is a complete process list, so the wait is on the
    // process, never a fixed sleep.
    while child.try_wait().unwrap().is_none() {
        let ps = Command::new("ps").args(["-eww", "-o", "args="]).output().unwrap();
        seen.push_str(&String::from_utf8_lossy(&ps.stdout));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text, seen)
}

/// Every log the server and pgharden's restarts wrote: the test cluster's own log and whatever
/// is under PGDATA/log and PGDATA/pgharden-pg_ctl.log.
fn all_logs(cluster: &Cluster) -> String {
    let mut text = cluster.log();
    let mut paths: Vec<PathBuf> = vec![cluster.data_dir().join("pgharden-pg_ctl.log")];
    if let Ok(dir) = fs::read_dir(cluster.data_dir().join("log")) {
        paths.extend(dir.flatten().map(|e| e.path()));
    }
    for p in paths {
        if let Ok(bytes) = fs::read(&p) {
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    text
}

/// How often the server has logged that it kept its old TLS configuration.
fn not_reloaded(cluster: &Cluster) -> usize {
    all_logs(cluster).matches("SSL configuration was not reloaded").count()
}

/// `pg_reload_conf()`, awaited until the server's configuration load time moves.
fn reload_and_wait(cluster: &Cluster) {
    let before = cluster.psql("SELECT pg_conf_load_time()").unwrap();
    cluster.psql("SELECT pg_reload_conf()").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while cluster.psql("SELECT pg_conf_load_time()").unwrap() == before {
        assert!(std::time::Instant::now() < deadline, "the server did not reload");
    }
}

fn pgharden_ok(args: &[&str]) -> String {
    let out = pgharden().args(args).stdin(Stdio::null()).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "pgharden {args:?}: {text}");
    text
}

#[test]
fn an_encrypted_server_key_serves_tls_survives_restart_reload_and_deploy_and_its_passphrase_stays_secret() {
    let pki = TestPki::new("p256");
    let mut cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    cluster.psql("CREATE ROLE bob LOGIN").unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let pass_file = secrets.path().join("db-key-passphrase");
    fs::write(&pass_file, format!("{PASSPHRASE}\n")).unwrap();
    let data = cluster.data_dir().to_path_buf();
    let pgdata = data.to_str().unwrap().to_string();

    // The plan names the passphrase file and the settings, never the passphrase.
    let plan = pgharden_ok(&[
        "apply",
        "--pgdata",
        &pgdata,
        "--pki",
        &pki.p(""),
        "--host",
        "localhost",
        "--host",
        "127.0.0.1",
        "--server-key-passphrase-file",
        pass_file.to_str().unwrap(),
        "--plan",
        "--json",
    ]);
    assert!(!plan.contains(PASSPHRASE), "the plan shows the passphrase: {plan}");
    assert!(plan.contains("server.key.pass") && plan.contains("ssl_passphrase_command"), "{plan}");

    let (ok, text, ps) = apply_watched(&cluster, &pki, &pass_file, &[]);
    assert!(ok, "apply failed: {text}");
    assert!(text.contains("Checked: a second plan finds nothing left to change"), "{text}");
    assert!(!text.contains(PASSPHRASE), "apply printed the passphrase: {text}");
    assert!(!ps.contains(PASSPHRASE), "the passphrase was on a command line during apply");

    // server.pem: the key encrypted; openssl opens it only with the passphrase.
    let pem = data.join("server.pem");
    let pem_text = fs::read_to_string(&pem).unwrap();
    assert!(pem_text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----"), "{pem_text}");
    assert!(!pem_text.contains("-----BEGIN PRIVATE KEY-----"));
    let stored = data.join("server.key.pass");
    let passin = format!("file:{}", stored.display());
    let (opened, said) = openssl(&["pkey", "-in", pem.to_str().unwrap(), "-passin", &passin, "-noout"]);
    assert!(opened, "openssl cannot open the key with the passphrase file: {said}");
    let (opened, _) =
        openssl(&["pkey", "-in", pem.to_str().unwrap(), "-passin", "pass:not-the-passphrase", "-noout"]);
    assert!(!opened, "a wrong passphrase opened the key");
    let (opened, _) = openssl(&["pkey", "-in", pem.to_str().unwrap(), "-passin", "pass:", "-noout"]);
    assert!(!opened, "the key opened without its passphrase");

    // The passphrase file: the cluster owner's, 0600, holding just the passphrase.
    let meta = fs::metadata(&stored).unwrap();
    assert_eq!(meta.uid(), fs::metadata(&data).unwrap().uid(), "owned by the cluster owner");
    assert_eq!(mode(&stored), 0o600);
    assert_eq!(fs::read_to_string(&stored).unwrap().trim_end(), PASSPHRASE);

    // The configuration names the file, never the passphrase.
    let conf = fs::read_to_string(data.join("postgresql.conf")).unwrap()
        + &fs::read_to_string(data.join("postgresql.auto.conf")).unwrap_or_default();
    assert!(!conf.contains(PASSPHRASE), "postgresql.conf holds the passphrase");
    let command = cluster.psql("SHOW ssl_passphrase_command").unwrap();
    assert_eq!(command.trim(), format!("/bin/cat '{}'", stored.display()));
    assert_eq!(cluster.psql("SHOW ssl_passphrase_command_supports_reload").unwrap().trim(), "on");

    // TLS works: verify-full with a client certificate, and again after a restart (unattended:
    // the server reads the passphrase itself).
    let c = bob_connects(&cluster, &pki);
    assert!(c.ok && c.stdout == "bob", "{}", c.stderr);
    cluster.restart().unwrap_or_else(|e| panic!("the server does not restart with the encrypted key: {e}"));
    let c = bob_connects(&cluster, &pki);
    assert!(c.ok && c.stdout == "bob", "after a restart: {}", c.stderr);

    // A reload unlocks the key again (the log would say "SSL configuration was not reloaded").
    let refusals = not_reloaded(&cluster);
    reload_and_wait(&cluster);
    assert_eq!(not_reloaded(&cluster), refusals, "the reload could not unlock the key");
    let c = bob_connects(&cluster, &pki);
    assert!(c.ok && c.stdout == "bob", "after a reload: {}", c.stderr);

    // A second apply, with the flag or without it, has nothing to do (the key stays encrypted).
    let (ok, text, ps) = apply_watched(&cluster, &pki, &pass_file, &["--plan"]);
    assert!(ok && text.contains("Nothing to change"), "{text}");
    assert!(!ps.contains(PASSPHRASE));
    let again = pgharden_ok(&[
        "apply",
        "--pgdata",
        &pgdata,
        "--pki",
        &pki.p(""),
        "--host",
        "localhost",
        "--host",
        "127.0.0.1",
        "--plan",
        "--json",
    ]);
    let json: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(json["changes"].as_array().unwrap().len(), 0, "{again}");

    // deploy a new certificate: the new key is encrypted under the same passphrase, a reload
    // takes it, and the server serves it.
    pki.ok(&["pki", "server", "--name", "next", "--host", "localhost", "--host", "127.0.0.1"]);
    let next_cert = pki.path("servers/next/server.crt");
    let pid = cluster.pid();
    let out = pgharden_ok(&[
        "deploy",
        "--pgdata",
        &pgdata,
        "--cert",
        next_cert.to_str().unwrap(),
        "--key",
        &pki.p("servers/next/server.key"),
        "--host",
        "localhost",
    ]);
    assert!(!out.contains(PASSPHRASE), "{out}");
    assert_eq!(served_serial(&cluster), file_serial(&next_cert), "deploy: {out}");
    assert_eq!(cluster.pid(), pid, "a reload, not a restart");
    let pem_text = fs::read_to_string(&pem).unwrap();
    assert!(pem_text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----"), "deploy wrote the key in the clear");
    let (opened, said) = openssl(&["pkey", "-in", pem.to_str().unwrap(), "-passin", &passin, "-noout"]);
    assert!(opened, "{said}");
    let c = bob_connects(&cluster, &pki);
    assert!(c.ok && c.stdout == "bob", "after deploy: {}", c.stderr);

    // The audit says the served key is encrypted and a reload can unlock it.
    let (_, report) = crate::support::audit_json(&cluster, &[]);
    let evidence = crate::support::evidence(&report, "PGH-TLS-04");
    assert!(evidence.contains("encrypted") && evidence.contains("supports_reload"), "{evidence}");
    assert!(!report.to_string().contains(PASSPHRASE));
    assert_eq!(crate::support::status(&report, "PGH-TLS-04"), "pass", "{evidence}");

    // Reloads that cannot unlock the key: the server keeps its old TLS configuration, and the
    // audit fails the key rule saying why. Set back, a reload unlocks it again.
    cluster.psql("ALTER SYSTEM SET ssl_passphrase_command_supports_reload = off").unwrap();
    let refusals = not_reloaded(&cluster);
    reload_and_wait(&cluster);
    // The collector writes the log through a pipe: await the line.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while not_reloaded(&cluster) == refusals {
        assert!(std::time::Instant::now() < deadline, "with supports_reload off a reload took the key");
    }
    let (_, report) = crate::support::audit_json(&cluster, &[]);
    assert_eq!(crate::support::status(&report, "PGH-TLS-04"), "fail");
    let evidence = crate::support::evidence(&report, "PGH-TLS-04");
    assert!(
        evidence.contains("supports_reload = off") && evidence.contains("reload cannot unlock"),
        "{evidence}"
    );
    cluster.psql("ALTER SYSTEM RESET ssl_passphrase_command_supports_reload").unwrap();
    reload_and_wait(&cluster);
    let (_, report) = crate::support::audit_json(&cluster, &[]);
    assert_eq!(crate::support::status(&report, "PGH-TLS-04"), "pass");

    assert!(!all_logs(&cluster).contains(PASSPHRASE), "the server log holds the passphrase");
}

#[test]
fn encrypting_the_key_of_a_hardened_cluster_says_which_copy_still_holds_it_in_the_clear() {
    let pki = TestPki::new("p256");
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    cluster.psql("CREATE ROLE bob LOGIN").unwrap();
    crate::support::harden(&cluster, &pki);
    let data = cluster.data_dir().to_path_buf();
    let pem = data.join("server.pem");
    assert!(fs::read_to_string(&pem).unwrap().contains("-----BEGIN PRIVATE KEY-----"));
    let (_, report) = crate::support::audit_json(&cluster, &[]);
    let evidence = crate::support::evidence(&report, "PGH-TLS-04");
    assert!(evidence.contains("not encrypted"), "the evidence says the key is not encrypted: {evidence}");

    let secrets = tempfile::tempdir().unwrap();
    let pass_file = secrets.path().join("pass");
    fs::write(&pass_file, format!("{PASSPHRASE}\n")).unwrap();
    let (ok, text, _) = apply_watched(&cluster, &pki, &pass_file, &[]);
    assert!(ok, "{text}");
    assert!(text.contains("holds the key unencrypted now") && text.contains("delete it"), "{text}");
    assert!(!text.contains(PASSPHRASE), "{text}");
    assert!(fs::read_to_string(&pem).unwrap().contains("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    let c = bob_connects(&cluster, &pki);
    assert!(c.ok && c.stdout == "bob", "a reload took the encrypted key: {}", c.stderr);

    // Without its passphrase file, a later apply cannot encrypt a new key and says so, naming it.
    let stored = data.join("server.key.pass");
    fs::remove_file(&stored).unwrap();
    let out = pgharden()
        .args(["apply", "--pgdata", data.to_str().unwrap(), "--pki", &pki.p(""), "--host", "localhost"])
        .args(["--host", "127.0.0.1", "--plan"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains(stored.to_str().unwrap()) && text.contains("--server-key-passphrase-file"),
        "{text}"
    );
}
