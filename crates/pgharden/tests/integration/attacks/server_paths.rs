//! Review §2: the paths the server reports (`ident_file`, `hba_file`) and the targets of `include`
//! lines are chosen by `postgres`. Root must not create, replace, hard-link or clean up files
//! outside the data directory (or a configuration directory the cluster owner already owns): apply
//! exits 2 and names the path.

use std::fs;

use pgharden_testcluster::{Cluster, ClusterOptions};

use crate::support::{RootDir, TestPki, Violations, contains_ci, names_path, snapshot_changes};

use super::{apply, fresh};

/// A cluster initialised, given `conf` (as `postgres` would append it before the server starts),
/// and started.
fn started_with(conf: &str) -> (TestPki, Cluster) {
    let pki = TestPki::new("p384");
    let mut cluster = Cluster::init(ClusterOptions::for_tests().unwrap()).unwrap_or_else(|e| panic!("{e}"));
    cluster.append_conf(conf).unwrap();
    cluster.start_server().unwrap();
    cluster.psql("CREATE ROLE bob LOGIN; CREATE ROLE alice LOGIN;").unwrap();
    (pki, cluster)
}

/// Apply must exit 2 naming `path` (and, when `outside` is set, saying it lies outside), and leave
/// `root` as it was.
fn refused(
    cluster: &Cluster,
    pki: &TestPki,
    root: &RootDir,
    path: &std::path::Path,
    outside: bool,
    round: &str,
) {
    let before = root.snapshot();
    let out = apply(cluster, pki, &["--yes"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut v = Violations::default();
    v.check(out.code == Some(2), format!("{round}: exit code {:?} (hung: {}), wanted 2", out.code, out.hung));
    v.check(names_path(&stderr, path), format!("{round}: stderr does not name {}", path.display()));
    if outside {
        v.check(contains_ci(&stderr, "outside"), format!("{round}: stderr does not say the path is outside"));
    }
    if let Some(changes) = snapshot_changes(&before, &root.snapshot()) {
        v.0.push(format!("{round}: the root-owned directory {} changed: {changes}", root.path().display()));
    }
    v.assert_none(&out.describe());
}

/// (a) `ident_file` names a file of the attacker's choosing in a root directory, where a root file
/// whose name looks like a pgharden temp file waits to be "cleaned up".
#[test]
fn an_ident_file_outside_pgdata_is_neither_created_nor_cleaned_around() {
    let root = RootDir::new();
    let keep = root.file("keep.pgharden-tmp-root", b"ROOT-KEEP\n", 0o644);
    let target = root.path().join("attacker-chosen-name");
    let (pki, cluster) = started_with(&format!("ident_file = '{}'", target.display()));
    assert_eq!(cluster.psql("SHOW ident_file").unwrap(), target.display().to_string());
    for round in ["first apply", "second apply"] {
        refused(&cluster, &pki, &root, &target, true, round);
        assert!(!target.exists(), "{round}: {} was created", target.display());
        assert!(keep.exists(), "{round}: root's {} was deleted", keep.display());
    }
}

/// (b) An `include` of a root-owned file holding a setting apply changes.
#[test]
fn an_included_root_file_is_not_rewritten() {
    let root = RootDir::new();
    let victim = root.file("victim-include.conf", b"log_disconnections = off\n", 0o644);
    let (pki, cluster) = fresh();
    cluster.append_conf(&format!("include '{}'", victim.display())).unwrap();
    cluster.reload().unwrap();
    assert_eq!(cluster.psql("SHOW log_disconnections").unwrap(), "off", "the include is in force");
    refused(&cluster, &pki, &root, &victim, false, "apply");
    assert_eq!(fs::read(&victim).unwrap(), b"log_disconnections = off\n");
}

/// (c) `hba_file` names a root-owned file outside PGDATA.
#[test]
fn an_hba_file_outside_pgdata_is_not_rewritten() {
    let root = RootDir::new();
    let pki = TestPki::new("p384");
    let mut cluster = Cluster::init(ClusterOptions::for_tests().unwrap()).unwrap_or_else(|e| panic!("{e}"));
    // The server must be able to read it (0644 in a 0755 directory) and keep its trust lines.
    let hba = fs::read(cluster.data_dir().join("pg_hba.conf")).unwrap();
    let victim = root.file("victim-hba.conf", &hba, 0o644);
    cluster.append_conf(&format!("hba_file = '{}'", victim.display())).unwrap();
    cluster.start_server().unwrap();
    cluster.psql("CREATE ROLE bob LOGIN; CREATE ROLE alice LOGIN;").unwrap();
    assert_eq!(cluster.psql("SHOW hba_file").unwrap(), victim.display().to_string());
    refused(&cluster, &pki, &root, &victim, true, "apply");
}
