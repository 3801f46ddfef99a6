//! Review §1: `postgres` swaps a file that `apply` writes in PGDATA for a symbolic link to a
//! root-owned file elsewhere. Root must refuse to write through it (exit 2, naming the link and
//! saying it is a symbolic link) and leave the victim and its directory exactly as they were.
//! Also: a failed apply without any link puts every file back byte for byte, and the backups a
//! successful one keeps are regular files with the old content (a hard link of a symlink keeps
//! nothing).

use std::collections::BTreeMap;
use std::fs;

use pgharden_testcluster::Cluster;

use crate::support::{
    Bounded, EntryState, RootDir, TestPki, Violations, attacker, attacker_symlink, contains_ci, entry_state,
    names_path, snapshot_changes,
};

use super::{apply, fresh};

/// The files a first apply writes in PGDATA, each attacked in its own test.
const WRITTEN: [&str; 7] = [
    "server.pem",
    "root.crt",
    "root.crl",
    "pg_hba.conf",
    "pg_ident.conf",
    "postgresql.conf",
    "postgresql.auto.conf",
];

/// `postgres` replaces PGDATA/`name` (server running) with a link to a root-owned victim, then
/// root runs `apply --yes`.
fn link_attack(name: &str) {
    assert!(WRITTEN.contains(&name));
    let (pki, cluster) = fresh();
    let pg = attacker();
    let root = RootDir::new();
    if name == "postgresql.auto.conf" {
        // Make ALTER SYSTEM hold a line apply must change, so it wants to write this file.
        cluster.psql("ALTER SYSTEM SET log_connections = off").unwrap();
        cluster.reload().unwrap();
    }
    let link = cluster.data_dir().join(name);
    // A configuration file keeps its meaning behind the link (a valid file with a marker), so that
    // only the link, not a parse error, can stop the write; other victims are a marker line.
    let contents = match fs::read(&link) {
        Ok(old) if name.ends_with(".conf") => [b"# ROOT-VICTIM\n".as_slice(), &old].concat(),
        _ => b"ROOT-VICTIM\n".to_vec(),
    };
    let victim = root.file(&format!("victim-{name}"), &contents, 0o644);
    attacker_symlink(&pg, &victim, &link);
    let before = root.snapshot();

    let out = apply(&cluster, &pki, &["--yes"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut v = Violations::default();
    v.check(out.code == Some(2), format!("exit code {:?} (hung: {}), wanted 2", out.code, out.hung));
    v.check(names_path(&stderr, &link), format!("stderr does not name the link {}", link.display()));
    v.check(
        contains_ci(&stderr, "symbolic link") || contains_ci(&stderr, "symlink"),
        "stderr does not say the file is a symbolic link",
    );
    if let Some(changes) = snapshot_changes(&before, &root.snapshot()) {
        v.0.push(format!("the root-owned victim directory {} changed: {changes}", root.path().display()));
    }
    v.assert_none(&out.describe());
}

#[test]
fn a_symlinked_server_pem_is_refused() {
    link_attack("server.pem");
}

#[test]
fn a_symlinked_root_crt_is_refused() {
    link_attack("root.crt");
}

#[test]
fn a_symlinked_root_crl_is_refused() {
    link_attack("root.crl");
}

#[test]
fn a_symlinked_pg_hba_conf_is_refused() {
    link_attack("pg_hba.conf");
}

#[test]
fn a_symlinked_pg_ident_conf_is_refused() {
    link_attack("pg_ident.conf");
}

#[test]
fn a_symlinked_postgresql_conf_is_refused() {
    link_attack("postgresql.conf");
}

#[test]
fn a_symlinked_postgresql_auto_conf_is_refused() {
    link_attack("postgresql.auto.conf");
}

/// Apply locks the data directory itself and opens no lock file: a `pgharden.lock` link the owner
/// planted (where older releases kept their lock) is never followed, and apply goes on.
#[test]
fn a_planted_lock_file_link_is_never_followed() {
    let (pki, cluster) = fresh();
    let pg = attacker();
    let root = RootDir::new();
    let victim = root.file("victim-pgharden.lock", b"ROOT-VICTIM\n", 0o644);
    let link = cluster.data_dir().join("pgharden.lock");
    attacker_symlink(&pg, &victim, &link);
    let before = root.snapshot();
    let out = apply(&cluster, &pki, &["--yes"]);
    let mut v = Violations::default();
    v.check(out.code == Some(0), format!("exit code {:?} (hung: {}), wanted 0", out.code, out.hung));
    if let Some(changes) = snapshot_changes(&before, &root.snapshot()) {
        v.0.push(format!("the root-owned victim directory {} changed: {changes}", root.path().display()));
    }
    v.check(fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()), "the link was replaced");
    v.assert_none(&out.describe());
}

/// The files a failed first apply must leave exactly as they were (those that did not exist must
/// not exist afterwards).
const TOUCHED: [&str; 7] = [
    "postgresql.conf",
    "postgresql.auto.conf",
    "pg_hba.conf",
    "pg_ident.conf",
    "server.pem",
    "root.crt",
    "root.crl",
];

fn states(dir: &std::path::Path) -> BTreeMap<&'static str, Option<EntryState>> {
    TOUCHED.iter().map(|name| (*name, entry_state(&dir.join(name)))).collect()
}

/// A first apply that fails, and what was there before it.
struct FailedApply {
    _pki: TestPki,
    cluster: Cluster,
    /// [`TOUCHED`] before the apply.
    before: BTreeMap<&'static str, Option<EntryState>>,
    out: Bounded,
}

/// A value the server rejects once the new files are on disk, so apply takes its rollback path.
fn failing_apply() -> FailedApply {
    let (pki, cluster) = fresh();
    cluster.append_conf("work_mem = 'banana'").unwrap();
    let plan = apply(&cluster, &pki, &["--plan", "--json"]);
    assert_eq!(plan.code, Some(0), "{}", plan.describe());
    let json: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let planned: Vec<String> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "file")
        .map(|c| c["target"].as_str().unwrap().to_string())
        .collect();
    assert!(planned.len() >= 3, "a first apply writes the configuration files: {planned:?}");
    let before = states(cluster.data_dir());
    let out = apply(&cluster, &pki, &["--yes"]);
    assert!(
        !out.hung && out.code.is_some_and(|c| c != 0) && contains_ci(&out.text(), "work_mem"),
        "apply must fail on work_mem: {}",
        out.describe()
    );
    FailedApply { _pki: pki, cluster, before, out }
}

#[test]
fn a_failed_apply_restores_every_file_byte_for_byte() {
    let FailedApply { cluster, before, out, .. } = failing_apply();
    let after = states(cluster.data_dir());
    let mut v = Violations::default();
    for name in TOUCHED {
        let show = |e: &Option<EntryState>| e.as_ref().map_or("(absent)".to_string(), EntryState::summary);
        v.check(
            before[name] == after[name],
            format!("{name}: was {}, is now {}", show(&before[name]), show(&after[name])),
        );
    }
    v.assert_none(&out.describe());
}

#[test]
fn a_successful_apply_keeps_backups_that_are_regular_files_with_the_old_content() {
    let (_pki, cluster) = fresh();
    let before = states(cluster.data_dir());
    let out = apply(&cluster, &_pki, &["--yes"]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    let data = cluster.data_dir();
    let entries: Vec<String> =
        fs::read_dir(data).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    let mut v = Violations::default();
    for name in ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"] {
        let Some(old) = before[name].as_ref() else { panic!("initdb writes {name}") };
        let backups: Vec<&String> = entries
            .iter()
            .filter(|e| {
                e.starts_with(&format!("{name}.")) && e.contains("pgharden") && !e.contains("pgharden-tmp")
            })
            .collect();
        v.check(!backups.is_empty(), format!("no backup of {name} was kept (entries: {entries:?})"));
        for b in backups {
            let state = entry_state(&data.join(b));
            let ok = state.as_ref().is_some_and(|s| s.kind == "file" && s.content == old.content);
            v.check(
                ok,
                format!(
                    "backup {b} of {name} is {}, wanted a regular file holding the old content",
                    state.as_ref().map_or("(gone)".to_string(), EntryState::summary)
                ),
            );
        }
    }
    v.assert_none(&out.describe());
}
