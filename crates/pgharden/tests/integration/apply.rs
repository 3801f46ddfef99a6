//! `pgharden apply` on real PostgreSQL 15 clusters: the mutual-TLS posture it promises, pgaudit,
//! idempotence, and the faults it must survive (bad files, a failed restart, being killed).

use std::fs;
use std::process::Stdio;
use std::time::Duration;

use pgharden_testcluster::Cluster;

use crate::support::{Psql, TestPki, pgharden, psql};

const HOSTS: [&str; 4] = ["--host", "localhost", "--host", "127.0.0.1"];

/// `apply --pgdata … --yes`, returning (success, stdout+stderr).
fn apply(cluster: &Cluster, pki: &TestPki, extra: &[&str]) -> (bool, String) {
    let out = pgharden()
        .args(["apply", "--pgdata", cluster.data_dir().to_str().unwrap(), "--pki", &pki.p("")])
        .args(HOSTS)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn plan_changes(cluster: &Cluster, pki: &TestPki) -> Vec<serde_json::Value> {
    let (ok, text) = apply(cluster, pki, &["--plan", "--json"]);
    assert!(ok, "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["changes"].as_array().unwrap().clone()
}

fn connect(cluster: &Cluster, pki: &TestPki, user: &str, cert_of: &str, sslmode: &str) -> Psql {
    let conninfo = format!(
        "host=localhost port={} dbname=postgres user={user} sslmode={sslmode} sslrootcert={} sslcrl={} sslcert={} sslkey={}",
        cluster.port(),
        pki.p("root/ca.crt"),
        pki.p("crls.pem"),
        pki.p(&format!("{cert_of}.crt")),
        pki.p(&format!("{cert_of}.key")),
    );
    psql(cluster, &conninfo, "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
}

fn fresh() -> (TestPki, Cluster) {
    let pki = TestPki::new("p384");
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    cluster.psql("CREATE ROLE bob LOGIN; CREATE ROLE alice LOGIN;").unwrap();
    (pki, cluster)
}

#[test]
fn apply_takes_a_fresh_cluster_to_mutual_tls_and_stays_there() {
    let (pki, cluster) = fresh();
    let (ok, text) = apply(&cluster, &pki, &["--yes"]);
    assert!(ok, "{text}\n{}", cluster.log());
    assert!(text.contains("server restarted") && text.contains("a second plan finds nothing"), "{text}");

    let bob = connect(&cluster, &pki, "bob", "clients/bob/client", "verify-full");
    assert!(bob.ok, "{}", bob.stderr);
    assert_eq!(bob.stdout, "bob|t");
    let alice = connect(&cluster, &pki, "alice", "clients/alice/client", "verify-full");
    assert_eq!(alice.stdout, "alice|t", "CN alice@example.com is mapped by pg_ident: {}", alice.stderr);
    let plain = connect(&cluster, &pki, "bob", "clients/bob/client", "disable");
    assert!(!plain.ok && plain.stderr.contains("no encryption"), "{}", plain.stderr);
    let stolen = connect(&cluster, &pki, "alice", "clients/bob/client", "verify-full");
    assert!(!stolen.ok, "bob's certificate must not log in as alice");
    let server_cert = connect(&cluster, &pki, "bob", "servers/localhost/server", "verify-full");
    assert!(!server_cert.ok, "a server certificate is not a client certificate");
    let no_cert = psql(
        &cluster,
        &format!(
            "host=localhost port={} dbname=postgres user=bob sslmode=verify-full sslrootcert={} sslcert=/nonexistent sslkey=/nonexistent",
            cluster.port(),
            pki.p("root/ca.crt")
        ),
        "SELECT 1",
    );
    assert!(!no_cert.ok && no_cert.stderr.contains("valid client certificate"), "{}", no_cert.stderr);

    // Every setting of the profile is in force, as SHOW reports it (over this Unix socket the
    // keepalives always show 0: their configured value is pg_settings.reset_val).
    let profile = pgharden_cluster::ProfileOptions { pgaudit_installed: true, ..Default::default() };
    for wanted in pgharden_cluster::profile::settings(&profile, 15) {
        let value = wanted.value.trim_matches('\'');
        let sql = if wanted.name.starts_with("tcp_keepalives_") {
            format!("SELECT reset_val FROM pg_settings WHERE name = '{}'", wanted.name)
        } else {
            format!("SHOW {}", wanted.name)
        };
        let shown = cluster.psql(&sql).unwrap();
        if wanted.name == "log_timezone" {
            // initdb's Etc/UTC is the profile's UTC, and is left as it is.
            assert!(["UTC", "Etc/UTC"].contains(&shown.as_str()), "log_timezone = {shown}");
            continue;
        }
        assert_eq!(shown, value, "{}", wanted.name);
    }
    for (name, value) in [
        ("ssl", "on"),
        ("ssl_min_protocol_version", "TLSv1.2"),
        ("ssl_crl_file", "root.crl"),
        ("password_encryption", "scram-sha-256"),
        ("logging_collector", "on"),
        ("log_connections", "on"),
        ("log_disconnections", "on"),
        ("log_line_prefix", "< %m %a %u %d %c %s %r %p >"),
        ("client_min_messages", "error"),
        ("statement_timeout", "1h"),
        ("log_file_mode", "0600"),
        ("shared_preload_libraries", "pgaudit"),
        ("pgaudit.log", "ddl, role, read, write"),
    ] {
        assert_eq!(cluster.psql(&format!("SHOW {name}")).unwrap(), value, "{name}");
    }
    assert_eq!(
        cluster.psql("SELECT count(*) FROM pg_extension WHERE extname IN ('pgcrypto','pgaudit')").unwrap(),
        "2"
    );
    assert!(plan_changes(&cluster, &pki).is_empty(), "a second apply must have nothing to do");
    let mode = crate::support::mode(&cluster.data_dir().join("server.pem"));
    assert_eq!(mode, 0o600);

    // pgaudit writes AUDIT lines for DDL and role statements.
    cluster
        .psql("CREATE TABLE audited (id int); CREATE ROLE carol; GRANT SELECT ON audited TO carol;")
        .unwrap();
    let log_dir = cluster.data_dir().join("log");
    let logs: String = fs::read_dir(&log_dir)
        .unwrap()
        .map(|e| fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect();
    assert!(logs.contains("AUDIT: SESSION") && logs.contains(",DDL,CREATE TABLE,"), "no DDL audit line");
    assert!(logs.contains(",ROLE,CREATE ROLE,") && logs.contains(",ROLE,GRANT,"), "no ROLE audit line");

    // Revocation reaches the server through apply.
    pki.ok(&["pki", "revoke", "--cert", &pki.p("clients/bob/client.crt")]);
    let changes = plan_changes(&cluster, &pki);
    assert_eq!(changes.len(), 1, "{changes:?}");
    let (ok, text) = apply(&cluster, &pki, &["--yes"]);
    assert!(ok && text.contains("server reloaded"), "{text}");
    let revoked = connect(&cluster, &pki, "bob", "clients/bob/client", "verify-full");
    assert!(!revoked.ok && revoked.stderr.contains("certificate revoked"), "{}", revoked.stderr);
    assert!(connect(&cluster, &pki, "alice", "clients/alice/client", "verify-full").ok);
}

#[test]
fn plan_changes_nothing_and_shows_diffs() {
    let (pki, cluster) = fresh();
    let before = fs::read(cluster.data_dir().join("postgresql.conf")).unwrap();
    let (ok, text) = apply(&cluster, &pki, &["--plan"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("+ssl = on") && text.contains("cert clientcert=verify-full map=pgharden"),
        "{text}"
    );
    assert!(text.contains("will be restarted"), "{text}");
    assert_eq!(fs::read(cluster.data_dir().join("postgresql.conf")).unwrap(), before);
    assert!(!cluster.data_dir().join("server.pem").exists());
    let (ok, text) = apply(&cluster, &pki, &[]);
    assert!(!ok && text.contains("--yes"), "no terminal, no --yes: refuse: {text}");
}

/// The server already has a broken line in postgresql.conf it has not loaded: the server's own
/// check of the new files catches it, every file goes back, and the cluster keeps running as before.
#[test]
fn an_invalid_setting_is_refused_and_rolled_back() {
    let (pki, cluster) = fresh();
    cluster.append_conf("work_mem = 'lots'\n").unwrap();
    let conf_before = fs::read(cluster.data_dir().join("postgresql.conf")).unwrap();
    let hba_before = fs::read(cluster.data_dir().join("pg_hba.conf")).unwrap();
    let (ok, text) = apply(&cluster, &pki, &["--yes"]);
    assert!(!ok, "{text}");
    assert!(text.contains("work_mem") && text.contains("every file was restored"), "{text}");
    assert_eq!(fs::read(cluster.data_dir().join("postgresql.conf")).unwrap(), conf_before);
    assert_eq!(fs::read(cluster.data_dir().join("pg_hba.conf")).unwrap(), hba_before);
    assert!(!cluster.data_dir().join("server.pem").exists(), "a new file is removed on rollback");
    assert_eq!(cluster.psql("SHOW ssl").unwrap(), "off");
}

/// A server key that PostgreSQL could not load is refused before anything is touched.
#[test]
fn an_unusable_key_file_is_refused_before_any_change() {
    let (pki, cluster) = fresh();
    fs::write(pki.path("servers/localhost/server.key"), "-----BEGIN PRIVATE KEY-----\nAAAA\n").unwrap();
    let (ok, text) = apply(&cluster, &pki, &["--yes"]);
    assert!(!ok && text.contains("servers/localhost/server.key"), "{text}");
    assert!(!cluster.data_dir().join("server.pem").exists());
    assert_eq!(cluster.psql("SELECT 1").unwrap(), "1");
}

/// A restart that fails (the logging collector cannot create its directory) ends with the old
/// files back and the server started on them.
#[test]
fn a_failed_restart_is_rolled_back_and_the_server_started_again() {
    let (pki, cluster) = fresh();
    cluster.write_file("log", b"not a directory\n", 0o600).unwrap();
    let conf_before = fs::read(cluster.data_dir().join("postgresql.conf")).unwrap();
    let (ok, text) = apply(&cluster, &pki, &["--yes"]);
    assert!(!ok, "{text}");
    assert!(text.contains("pg_ctl restart") && text.contains("runs on its previous configuration"), "{text}");
    let pg_ctl_log = cluster.data_dir().join("pgharden-pg_ctl.log");
    assert!(
        text.contains(&format!(
            "the server said in {}: FATAL:  could not open log file",
            pg_ctl_log.display()
        )),
        "the server's own FATAL line is quoted: {text}"
    );
    assert_eq!(fs::read(cluster.data_dir().join("postgresql.conf")).unwrap(), conf_before);
    assert_eq!(cluster.psql("SHOW logging_collector").unwrap(), "off");
}

/// Killed at any moment, apply leaves files that the next apply finishes.
#[test]
fn an_interrupted_apply_is_repaired_by_the_next() {
    let (pki, cluster) = fresh();
    for delay in [40u64, 400] {
        let mut child = pgharden()
            .args(["apply", "--pgdata", cluster.data_dir().to_str().unwrap(), "--pki", &pki.p(""), "--yes"])
            .args(HOSTS)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        // A pg_ctl restart it started goes on by itself: wait for it, then for the server.
        wait_for_pg_ctl(cluster.data_dir());
        wait_for_server(&cluster);
        let (ok, text) = apply(&cluster, &pki, &["--yes"]);
        assert!(ok, "after a kill at {delay} ms: {text}");
        assert!(plan_changes(&cluster, &pki).is_empty());
        let leftovers: Vec<_> = fs::read_dir(cluster.data_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("pgharden-tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
    assert!(connect(&cluster, &pki, "bob", "clients/bob/client", "verify-full").ok);
}

fn wait_for_pg_ctl(data_dir: &std::path::Path) {
    let needle = data_dir.to_string_lossy().into_owned();
    for _ in 0..600 {
        let running = fs::read_dir("/proc").unwrap().flatten().any(|p| {
            let cmdline = fs::read(p.path().join("cmdline")).unwrap_or_default();
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            text.contains("pg_ctl") && text.contains(&needle)
        });
        if !running {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("pg_ctl did not finish");
}

fn wait_for_server(cluster: &Cluster) {
    for _ in 0..200 {
        if cluster.psql("SELECT 1").is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server did not come back: {}", cluster.log());
}

/// Configuration outside PGDATA, as Debian keeps it (/etc/postgresql/N/NAME): apply finds it through
/// the running server and edits it there; the TLS files still go to PGDATA.
#[test]
fn configuration_kept_outside_pgdata_is_found_and_edited_in_place() {
    use std::os::unix::fs::PermissionsExt;

    let pki = TestPki::new("p256");
    let etc_root = tempfile::tempdir().unwrap();
    fs::set_permissions(etc_root.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let etc = etc_root.path().join("main");
    fs::create_dir(&etc).unwrap();
    let opts = pgharden_testcluster::ClusterOptions::for_tests()
        .unwrap()
        .setting("config_file", etc.join("postgresql.conf").to_str().unwrap());
    let mut cluster = Cluster::init(opts).unwrap();
    let owner = cluster.os_user().clone();
    std::os::unix::fs::chown(&etc, Some(owner.uid), Some(owner.gid)).unwrap();
    for name in ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"] {
        fs::rename(cluster.data_dir().join(name), etc.join(name)).unwrap();
    }
    let mut conf = fs::read_to_string(etc.join("postgresql.conf")).unwrap();
    conf.push_str(&format!(
        "hba_file = '{}'\nident_file = '{}'\n",
        etc.join("pg_hba.conf").display(),
        etc.join("pg_ident.conf").display()
    ));
    fs::write(etc.join("postgresql.conf"), conf).unwrap();
    cluster.start_server().unwrap();
    cluster.psql("CREATE ROLE bob LOGIN").unwrap();

    let (ok, text) = apply(&cluster, &pki, &["--yes"]);
    assert!(ok, "{text}");
    assert!(fs::read_to_string(etc.join("postgresql.conf")).unwrap().contains("ssl = on"));
    assert!(fs::read_to_string(etc.join("pg_hba.conf")).unwrap().contains("map=pgharden"));
    assert!(!cluster.data_dir().join("postgresql.conf").exists());
    assert!(cluster.data_dir().join("server.pem").exists());
    assert_eq!(cluster.psql("SHOW hba_file").unwrap(), etc.join("pg_hba.conf").display().to_string());
    assert!(connect(&cluster, &pki, "bob", "clients/bob/client", "verify-full").ok);
}

/// The cluster owner can run apply itself (no root), with a PKI it can read.
#[test]
fn the_cluster_owner_can_apply_without_root() {
    use std::os::unix::process::CommandExt;

    let (pki, cluster) = fresh();
    let owner = cluster.os_user().clone();
    for entry in walk(&pki.tmp.path().to_path_buf()) {
        std::os::unix::fs::chown(&entry, Some(owner.uid), Some(owner.gid)).unwrap();
    }
    let out = pgharden()
        .args(["apply", "--pgdata", cluster.data_dir().to_str().unwrap(), "--pki", &pki.p(""), "--yes"])
        .args(HOSTS)
        .env("HOME", pki.tmp.path())
        .uid(owner.uid)
        .gid(owner.gid)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(connect(&cluster, &pki, "bob", "clients/bob/client", "verify-full").ok);
}

fn walk(dir: &std::path::PathBuf) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.clone()];
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

/// A CONNINFO instead of --pgdata: discovery through that connection; afterwards the same cluster is
/// reached with a client certificate (the password/trust way in is gone).
#[test]
fn apply_through_a_conninfo_then_plan_through_a_certificate() {
    let (pki, cluster) = fresh();
    pki.ok(&["pki", "client", "--role", "postgres"]);
    let trust = format!(
        "host={} port={} user=postgres dbname=postgres",
        cluster.socket_dir().display(),
        cluster.port()
    );
    let out = pgharden().args(["apply", &trust, "--pki", &pki.p(""), "--yes"]).args(HOSTS).output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let cert = format!(
        "host=localhost port={} user=postgres dbname=postgres sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
        cluster.port(),
        pki.p("root/ca.crt"),
        pki.p("clients/postgres/client.crt"),
        pki.p("clients/postgres/client.key")
    );
    let out = pgharden()
        .args(["apply", &cert, "--pki", &pki.p(""), "--plan", "--json"])
        .args(HOSTS)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["changes"], serde_json::json!([]));
}

#[test]
fn syslog_replaces_the_log_files_when_asked() {
    let (pki, cluster) = fresh();
    let (ok, text) = apply(&cluster, &pki, &["--plan", "--syslog"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("+log_destination = 'syslog'") && text.contains("+syslog_facility = 'LOCAL0'"),
        "{text}"
    );
    assert!(!text.contains("+logging_collector"), "{text}");
}

/// The files already say what the profile wants but the server was never restarted onto them (an
/// apply killed between its writes and its restart): apply still restarts, then creates pgaudit.
#[test]
fn settings_in_the_files_but_not_in_force_are_brought_into_force() {
    let (pki, cluster) = fresh();
    cluster.append_conf("shared_preload_libraries = 'pgaudit'\nlogging_collector = on\n").unwrap();
    let (ok, text) = apply(&cluster, &pki, &["--plan"]);
    assert!(ok && text.contains("not yet in force") && text.contains("will be restarted"), "{text}");
    let (ok, text) = apply(&cluster, &pki, &["--yes"]);
    assert!(ok && text.contains("server restarted"), "{text}");
    assert_eq!(cluster.psql("SELECT count(*) FROM pg_extension WHERE extname = 'pgaudit'").unwrap(), "1");
    assert!(plan_changes(&cluster, &pki).is_empty());
}

/// `--statement-timeout 0` would write a finding into the cluster: refused before anything is
/// read, quoting the STIG.
#[test]
fn a_zero_statement_timeout_is_refused() {
    for extra in [&["--statement-timeout", "0"][..], &["--statement-timeout", "0s", "--plan"][..]] {
        let out = pgharden()
            .args(["apply", "--pgdata", "/nonexistent", "--pki", "/nonexistent"])
            .args(HOSTS)
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("CD16-00-004700")
                && stderr.contains(
                    "If these settings are not set to something other than zero, this is a finding"
                ),
            "{stderr}"
        );
    }
}

/// What the STIG checks read beyond Appendix C: statement_timeout and the TCP keepalives (seen over
/// TCP, where they apply), client_min_messages = error, and every configuration file 0600 owned by
/// the cluster owner — tightened even where the contents are already right. A per-role override
/// in the owner's own session is reported, not mistaken for a failed reload.
#[test]
fn apply_sets_timeouts_keepalives_and_file_modes() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    let (pki, cluster) = fresh();
    let data = cluster.data_dir().to_path_buf();
    let chmod = |name: &str, mode: u32| {
        fs::set_permissions(data.join(name), fs::Permissions::from_mode(mode)).unwrap();
    };
    chmod("postgresql.conf", 0o644);
    chmod("pg_hba.conf", 0o640);
    cluster.psql("ALTER ROLE postgres SET client_min_messages = notice").unwrap();
    let timeout = ["--statement-timeout", "90min"];

    let (ok, text) = apply(&cluster, &pki, &[&timeout[..], &["--plan"]].concat());
    assert!(ok, "{text}");
    assert!(text.contains("mode 0644 \u{2192} 0600") && text.contains("mode 0640 \u{2192} 0600"), "{text}");
    assert!(text.contains("-> '90min'") && text.contains("SET statement_timeout"), "{text}");
    assert!(text.contains("tcp_keepalives_idle") && text.contains("-> 300"), "{text}");

    let (ok, text) = apply(&cluster, &pki, &[&timeout[..], &["--yes"]].concat());
    assert!(ok, "{text}\n{}", cluster.log());
    assert!(text.contains("client_min_messages is overridden"), "{text}");
    for name in ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"] {
        let meta = fs::metadata(data.join(name)).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o600, "{name}");
        assert_eq!(meta.uid(), cluster.os_user().uid, "{name}");
    }
    let tcp = format!(
        "host=localhost port={} dbname=postgres user=bob sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
        cluster.port(),
        pki.p("root/ca.crt"),
        pki.p("clients/bob/client.crt"),
        pki.p("clients/bob/client.key"),
    );
    let live = psql(
        &cluster,
        &tcp,
        "SELECT current_setting('tcp_keepalives_idle') || ' ' || current_setting('tcp_keepalives_interval') \
         || ' ' || current_setting('tcp_keepalives_count') || ' ' || current_setting('statement_timeout') \
         || ' ' || current_setting('client_min_messages')",
    );
    assert!(live.ok, "{}", live.stderr);
    assert_eq!(live.stdout, "300 30 3 90min error");
    let again = |extra: &[&str]| {
        let (ok, text) = apply(&cluster, &pki, &[&timeout[..], &["--plan", "--json"], extra].concat());
        assert!(ok, "{text}");
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["changes"].as_array().unwrap().clone()
    };
    assert!(again(&[]).is_empty(), "a second apply must have nothing to do");

    // Someone loosens the mode again: the plan has exactly that to do, and apply does it.
    chmod("postgresql.conf", 0o644);
    let changes = again(&[]);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["detail"], "permissions only", "{changes:?}");
    let before = fs::read(data.join("postgresql.conf")).unwrap();
    let (ok, text) = apply(&cluster, &pki, &[&timeout[..], &["--yes"]].concat());
    assert!(ok, "{text}");
    assert_eq!(crate::support::mode(&data.join("postgresql.conf")), 0o600);
    assert_eq!(fs::read(data.join("postgresql.conf")).unwrap(), before, "contents untouched");

    // A reload alone (no restart) brings a new timeout and a mended keepalive into force, and the
    // check after it reads them on the session that asked for the reload.
    cluster.append_conf("tcp_keepalives_idle = 600\n").unwrap();
    let (ok, text) = apply(&cluster, &pki, &["--statement-timeout", "2h", "--yes"]);
    assert!(ok && text.contains("server reloaded"), "{text}");
    assert_eq!(psql(&cluster, &tcp, "SELECT current_setting('tcp_keepalives_idle')").stdout, "300");
    assert_eq!(psql(&cluster, &tcp, "SHOW statement_timeout").stdout, "2h");
}

/// CREATE on schema public for PUBLIC (PostgreSQL 14's default, and anyone's GRANT on 15+) is
/// revoked in every database that accepts connections, template1 included, so new databases are
/// born without it.
#[test]
fn public_loses_create_on_schema_public_everywhere() {
    let (pki, cluster) = fresh();
    cluster.psql("CREATE DATABASE app").unwrap();
    let may_create =
        |db: &str| cluster.psql_db(db, "SELECT has_schema_privilege('public', 'public', 'CREATE')").unwrap();
    for db in ["postgres", "template1", "app"] {
        cluster.psql_db(db, "GRANT CREATE ON SCHEMA public TO PUBLIC").unwrap();
        assert_eq!(may_create(db), "t");
    }
    let (ok, text) = apply(&cluster, &pki, &["--plan"]);
    assert!(ok, "{text}");
    for db in ["postgres", "template1", "app"] {
        assert!(text.contains(&format!("[{db}] REVOKE CREATE ON SCHEMA public FROM PUBLIC")), "{text}");
    }
    let (ok, text) = apply(&cluster, &pki, &["--yes"]);
    assert!(ok, "{text}");
    for db in ["postgres", "template1", "app"] {
        assert_eq!(may_create(db), "f", "{db}");
    }
    cluster.psql("CREATE DATABASE later").unwrap();
    assert_eq!(may_create("later"), "f", "a database made from template1 inherits the revoke");
    let err = cluster.psql_db("app", "SET ROLE bob; CREATE TABLE public.t (x int)").unwrap_err();
    assert!(err.to_string().contains("permission denied for schema public"), "{err}");
    assert!(plan_changes(&cluster, &pki).is_empty());
}
