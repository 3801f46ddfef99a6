#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! `open_local` and the typed errors of `Db` against real PostgreSQL 15 clusters: the running
//! server's own files win over what the files on disk say, a stopped server is read offline, and a
//! refusal keeps its SQLSTATE. Its own `main` (no libtest harness): run as root, the cluster owner's
//! file helper is this executable started again, so `serve_if_helper` must come first.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use pgharden_cluster::db::Db;
use pgharden_cluster::{Error, Files, Sql, discover, open_local};
use pgharden_testcluster::{Cluster, ClusterOptions};

fn main() {
    pgharden_privsep::serve_if_helper();
    let tests: &[(&str, fn())] = &[
        ("a_running_server_names_the_files_it_loaded", a_running_server_names_the_files_it_loaded),
        (
            "a_stopped_server_is_read_offline_without_a_connection",
            a_stopped_server_is_read_offline_without_a_connection,
        ),
        (
            "a_running_server_that_refuses_the_owner_is_an_error_with_its_sqlstate",
            a_running_server_that_refuses_the_owner_is_an_error_with_its_sqlstate,
        ),
        ("an_unreachable_socket_has_no_sqlstate", an_unreachable_socket_has_no_sqlstate),
        ("connection_and_query_failures_keep_the_sqlstate", connection_and_query_failures_keep_the_sqlstate),
        (
            "literals_read_back_whatever_standard_conforming_strings_is",
            literals_read_back_whatever_standard_conforming_strings_is,
        ),
    ];
    // `cargo test --test open_local -- FILTER`: libtest's flags are ignored, words are filters.
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let chosen: Vec<_> = tests
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f)))
        .collect();
    let mut failed = 0;
    for (name, test) in &chosen {
        match std::panic::catch_unwind(test) {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {failed} failed; {} filtered out",
        if failed == 0 { "ok" } else { "FAILED" },
        chosen.len() - failed,
        tests.len() - chosen.len()
    );
    std::process::exit(if failed == 0 { 0 } else { 1 });
}

fn start() -> Cluster {
    Cluster::start_default().unwrap_or_else(|e| panic!("{e}"))
}

fn files_of(cluster: &Cluster) -> Files {
    Files::for_data_dir(cluster.data_dir()).unwrap()
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap()
}

/// The server was started with `-c hba_file=…` (as Debian's and many service units' command lines
/// do): the offline reading of postgresql.conf names PGDATA/pg_hba.conf, the server another file.
/// `open_local` must judge the one the server loaded.
fn a_running_server_names_the_files_it_loaded() {
    let etc = tempfile::tempdir().unwrap();
    fs::set_permissions(etc.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let alt_hba = etc.path().join("alt_hba.conf");
    let opts = ClusterOptions::for_tests().unwrap().setting("hba_file", alt_hba.to_str().unwrap());
    let mut cluster = Cluster::init(opts).unwrap();
    fs::copy(cluster.data_dir().join("pg_hba.conf"), &alt_hba).unwrap();
    fs::set_permissions(&alt_hba, fs::Permissions::from_mode(0o600)).unwrap();
    let owner = cluster.os_user().clone();
    std::os::unix::fs::chown(&alt_hba, Some(owner.uid), Some(owner.gid)).unwrap();
    cluster.start_server().unwrap();
    let files = files_of(&cluster);

    let offline = discover::from_data_dir(cluster.data_dir(), &files).unwrap();
    assert_eq!(offline.hba_file, canonical(&cluster.data_dir().join("pg_hba.conf")));

    let opened = open_local(cluster.data_dir(), &files).unwrap();
    assert_eq!(opened.cluster.hba_file, canonical(&alt_hba), "the server's hba_file wins");
    assert_eq!(opened.cluster.config_file, canonical(&cluster.data_dir().join("postgresql.conf")));
    assert_eq!(opened.cluster.version_num.map(|v| v / 10000), Some(15));
    let mut db = opened.db.expect("a running server comes with its connection");
    assert_eq!(db.value("SELECT current_setting('hba_file')").unwrap(), Some(alt_hba.display().to_string()));
    assert_eq!(db.value("SELECT current_user").unwrap().as_deref(), Some(owner.name.as_str()));
}

fn a_stopped_server_is_read_offline_without_a_connection() {
    let mut cluster = start();
    cluster.stop().unwrap();
    let files = files_of(&cluster);
    let opened = open_local(cluster.data_dir(), &files).unwrap();
    assert!(opened.db.is_none());
    assert!(opened.cluster.postmaster.is_none());
    assert_eq!(opened.cluster.hba_file, canonical(&cluster.data_dir().join("pg_hba.conf")));
    assert_eq!(opened.cluster.major, 15);
    assert_eq!(opened.cluster.version_num, None, "only a server reports its exact version");
}

/// A server that runs but refuses the owner is an error with the server's SQLSTATE, not an
/// offline guess.
fn a_running_server_that_refuses_the_owner_is_an_error_with_its_sqlstate() {
    let cluster = start();
    cluster.write_hba("local all all reject\n").unwrap();
    cluster.reload().unwrap();
    let err = open_local(cluster.data_dir(), &files_of(&cluster)).unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert_eq!(err.sqlstate(), Some("28000"), "{err}");
    let text = err.to_string();
    assert!(text.contains("pg_hba.conf rejects connection") && text.contains("local all"), "{text}");
}

/// The socket is gone (as when the server died): no SQLSTATE, and the error says what was tried.
fn an_unreachable_socket_has_no_sqlstate() {
    let cluster = start();
    fs::remove_file(cluster.socket_path()).unwrap();
    let err = open_local(cluster.data_dir(), &files_of(&cluster)).unwrap_err();
    assert!(matches!(err, Error::Socket { .. }), "{err:?}");
    assert_eq!(err.sqlstate(), None);
    assert!(err.to_string().contains(&*cluster.socket_path().to_string_lossy()), "{err}");
}

fn connection_and_query_failures_keep_the_sqlstate() {
    let cluster = start();
    cluster.psql("CREATE ROLE nobody_here NOLOGIN; CREATE TABLE secret (x int);").unwrap();
    let files = files_of(&cluster);
    let opened = open_local(cluster.data_dir(), &files).unwrap();
    let owner = opened.cluster.owner.name.clone();

    let missing = Db::local(&opened.cluster, &files, &owner, "no_such_database").unwrap_err();
    assert_eq!(missing.sqlstate(), Some("3D000"), "{missing}");
    assert!(missing.to_string().contains("no_such_database"), "{missing}");

    let mut db = opened.db.unwrap();
    let err = db.query("SELECT * FROM no_such_table").unwrap_err();
    assert!(matches!(&err, Error::Query { sql, .. } if sql.contains("no_such_table")), "{err:?}");
    assert_eq!(err.sqlstate(), Some("42P01"));
    let text = err.to_string();
    assert!(text.contains("does not exist") && text.contains("(42P01)"), "{text}");

    db.execute("SET ROLE nobody_here").unwrap();
    let denied = db.query("SELECT * FROM secret").unwrap_err();
    assert_eq!(denied.sqlstate(), Some("42501"), "{denied}");
    assert!(denied.to_string().contains("permission denied"), "{denied}");
}

/// A database owner can turn `standard_conforming_strings` off for its database; what pgharden
/// quotes must still reach the server as written, backslashes and quotes included.
fn literals_read_back_whatever_standard_conforming_strings_is() {
    let cluster = start();
    let files = files_of(&cluster);
    let mut db = open_local(cluster.data_dir(), &files).unwrap().db.unwrap();
    let hostile = ["plain", "it's", r"ends in \", r"a\' OR true --", r"\x41\n", "\\", "é'\\'"];
    for setting in ["on", "off"] {
        db.execute(&format!("SET standard_conforming_strings = {setting}")).unwrap();
        for value in hostile {
            let sql = format!("SELECT {}", pgharden_cluster::sql::literal(value));
            let back = db.value(&sql).unwrap_or_else(|e| panic!("{sql} with scs {setting}: {e}"));
            assert_eq!(back.as_deref(), Some(value), "{sql} with standard_conforming_strings = {setting}");
        }
    }
}
