//! `apply` on a fresh cluster of each major: the server's own reading of every file pgharden wrote,
//! the posture as real libpq clients meet it (direct TLS on 17+), and a second plan with nothing
//! left to do.

use std::fs;

use pgharden_testcluster::{Cluster, Installation};

use super::{Pg, pg_test};
use crate::support::{Psql, TestPki, psql};

/// The verify-full connection string of `user` with `cert_of`'s certificate, plus `extra`.
pub(super) fn conninfo(cluster: &Cluster, pki: &TestPki, user: &str, cert_of: &str, extra: &str) -> String {
    format!(
        "host=localhost port={} dbname=postgres user={user} sslmode=verify-full sslrootcert={} sslcrl={} \
         sslcert={} sslkey={} {extra}",
        cluster.port(),
        pki.p("root/ca.crt"),
        pki.p("crls.pem"),
        pki.p(&format!("clients/{cert_of}/client.crt")),
        pki.p(&format!("clients/{cert_of}/client.key")),
    )
}

const WHO: &str = "SELECT current_user, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

/// psql linked with libpq 18 (the 18 build's own), which speaks `sslnegotiation=direct`.
fn psql_libpq18(cluster: &Cluster, conninfo: &str, sql: &str) -> Psql {
    let lib = Installation::for_major(18)
        .ok()
        .and_then(|i| i.own_libpq_dir())
        .expect("libpq 18 (the PostgreSQL 18 build of scripts/postgres-versions) for a direct-TLS client");
    let mut cmd = cluster.psql_command();
    cmd.env("LD_LIBRARY_PATH", lib);
    crate::support::psql_with(cmd, conninfo, sql)
}

/// Every line of the server's log files (the collector's, in PGDATA/log, and testcluster's own).
fn server_log(cluster: &Cluster) -> String {
    let mut text = cluster.log();
    if let Ok(entries) = fs::read_dir(cluster.data_dir().join("log")) {
        for e in entries.flatten() {
            text.push_str(&fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    text
}

/// The server's verdict on what pgharden wrote: rows that say something is wrong.
fn server_objections(pg: &Pg, cluster: &Cluster) -> Vec<String> {
    let mut sql = vec![
        "SELECT 'pg_hba.conf:' || line_number || ': ' || error FROM pg_hba_file_rules WHERE error IS NOT NULL",
        "SELECT sourcefile || ':' || sourceline || ': ' || error FROM pg_file_settings WHERE error IS NOT NULL",
        "SELECT name || ' is pending a restart' FROM pg_settings WHERE pending_restart",
    ];
    if pg.major() >= 15 {
        sql.push(
            "SELECT 'pg_ident.conf:' || line_number || ': ' || error FROM pg_ident_file_mappings \
             WHERE error IS NOT NULL",
        );
    }
    let mut out: Vec<String> = sql
        .iter()
        .flat_map(|q| cluster.psql(q).unwrap().lines().map(str::to_string).collect::<Vec<_>>())
        .collect();
    out.extend(server_log(cluster).lines().filter(|l| l.contains("WARNING")).map(str::to_string));
    out
}

pg_test!(
    /// apply, then the server and libpq clients judge the result.
    posture,
    "apply: server accepts every file (no error, nothing pending, no WARNING); mutual TLS with psql; plaintext and certificate-less TLS refused; a second plan is empty",
    |pg| {
        let (pki, cluster) = pg.hardened();
        let objections = server_objections(pg, &cluster);
        assert!(objections.is_empty(), "PostgreSQL {} objects: {objections:#?}", pg.install.version());

        let alice = psql(&cluster, &conninfo(&cluster, &pki, "alice", "alice", ""), WHO);
        assert_eq!(alice.stdout, "alice|TLSv1.3", "{}", alice.stderr);
        let plain = psql(&cluster, &conninfo(&cluster, &pki, "bob", "bob", "sslmode=disable"), WHO);
        assert!(!plain.ok && plain.stderr.contains("no encryption"), "{}", plain.stderr);
        let certless = psql(
            &cluster,
            &format!(
                "host=localhost port={} dbname=postgres user=bob sslmode=verify-full sslrootcert={} \
                 sslcert=/nonexistent sslkey=/nonexistent",
                cluster.port(),
                pki.p("root/ca.crt")
            ),
            WHO,
        );
        assert!(!certless.ok && certless.stderr.contains("valid client certificate"), "{}", certless.stderr);

        let direct =
            psql_libpq18(&cluster, &conninfo(&cluster, &pki, "bob", "bob", "sslnegotiation=direct"), WHO);
        if pg.major() >= 17 {
            assert_eq!(direct.stdout, "bob|TLSv1.3", "direct TLS on {}: {}", pg.major(), direct.stderr);
            pg.note("direct TLS (libpq 18, sslnegotiation=direct) connects");
        } else {
            assert!(!direct.ok, "PostgreSQL {} has no direct TLS, yet: {}", pg.major(), direct.stdout);
            pg.note("direct TLS refused, as before 17");
        }

        // `client` installs bob's files and prints a string that works as printed; with --direct-tls
        // (17+) through a libpq 18 client.
        let home = tempfile::tempdir().unwrap();
        let port = cluster.port().to_string();
        let client = ["client", "--pki", &pki.p(""), "--role", "bob", "--host", "localhost", "--port", &port];
        let home_arg = ["--home", home.path().to_str().unwrap(), "--force"];
        let printed = |text: &str| {
            text.lines().find_map(|l| l.trim().strip_prefix("psql '")).unwrap().trim_end_matches('\'').to_string()
        };
        let uri = printed(&crate::support::ok(&[&client[..], &home_arg[..]].concat()));
        assert_eq!(psql(&cluster, &uri, WHO).stdout, "bob|TLSv1.3", "{uri}");
        if pg.major() >= 17 {
            let uri = printed(&crate::support::ok(&[&client[..], &home_arg[..], &["--direct-tls"]].concat()));
            assert!(uri.ends_with("&sslnegotiation=direct"), "{uri}");
            let direct = psql_libpq18(&cluster, &uri, WHO);
            assert_eq!(direct.stdout, "bob|TLSv1.3", "{uri}: {}", direct.stderr);
        }

        let out = pg.apply(&cluster, &pki, &["--plan", "--json"]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("apply --plan --json: {e}: {}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(json["changes"], serde_json::json!([]), "a second plan: {json:#}");
        if !pg.has_pgaudit() {
            pg.note("no pgaudit in this build: applied with --allow-missing-pgaudit");
        }
    }
);
