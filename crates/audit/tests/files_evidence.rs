//! The file evidence as the server reads its files: pg_hba.conf and pg_ident.conf includes
//! (PostgreSQL 16+) are followed, a `ssl_crl_dir` is read file by file, and a world-writable file
//! anywhere in that set is a finding. Files in a temporary directory, read as this process.
#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use pgharden_audit::CheckId;
use pgharden_audit::checks::run;
use pgharden_audit::evidence::{Evidence, Settings, from_files};
use pgharden_audit::model::Status;
use pgharden_audit::run::Policy;
use pgharden_cluster::discover::{Cluster, Extensions};
use pgharden_cluster::{Account, Files};

fn write(path: &Path, text: &str, mode: u32) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn cluster(dir: &Path) -> Cluster {
    Cluster {
        data_dir: dir.to_path_buf(),
        config_file: dir.join("postgresql.conf"),
        hba_file: dir.join("pg_hba.conf"),
        ident_file: dir.join("pg_ident.conf"),
        auto_conf: dir.join("postgresql.auto.conf"),
        major: 16,
        version_num: Some(160_004),
        owner: Account::current(),
        postmaster: None,
        bindir: None,
        debian: false,
        extensions: Extensions::default(),
    }
}

fn gathered(dir: &Path, settings: &[(&str, &str)]) -> Evidence {
    let mut ev = Evidence::empty();
    ev.settings = Ok(Settings::from_pairs(settings.iter().copied()));
    from_files(&mut ev, &cluster(dir), &Files::as_self());
    ev
}

#[test]
fn an_included_pg_hba_file_is_judged_like_the_main_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
    write(&dir.join("postgresql.conf"), "ssl = on\n", 0o600);
    write(&dir.join("pg_ident.conf"), "", 0o600);
    write(&dir.join("pg_hba.conf"), "local all all peer\ninclude extra.conf\n", 0o600);
    write(&dir.join("extra.conf"), "host all all 0.0.0.0/0 trust\n", 0o600);
    let ev = gathered(dir, &[]);
    let out = run(CheckId::HbaNoTrust, &ev, &Policy::default());
    assert_eq!(out.status, Status::Fail, "{out:?}");
    assert!(out.evidence.iter().any(|e| e.contains("extra.conf:1")), "{out:?}");

    // The included file is trusted like pg_hba.conf itself: writable by others is a finding.
    let ok = run(CheckId::ConfigFileModes, &ev, &Policy::default());
    assert_eq!(ok.status, Status::Pass, "{ok:?}");
    fs::set_permissions(dir.join("extra.conf"), fs::Permissions::from_mode(0o666)).unwrap();
    let ev = gathered(dir, &[]);
    let out = run(CheckId::ConfigFileModes, &ev, &Policy::default());
    assert_eq!(out.status, Status::Fail, "{out:?}");
    assert!(out.evidence.iter().any(|e| e.contains("extra.conf") && e.contains("every account")), "{out:?}");
}

#[test]
fn an_included_pg_ident_file_is_judged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(&dir.join("postgresql.conf"), "", 0o600);
    write(&dir.join("pg_hba.conf"), "hostssl all all 0.0.0.0/0 cert map=m\n", 0o600);
    write(&dir.join("pg_ident.conf"), "include more.conf\n", 0o600);
    write(&dir.join("more.conf"), "m /^.*$ app\n", 0o600);
    let mut ev = gathered(dir, &[]);
    ev.roles = Ok(Vec::new());
    let out = run(CheckId::IdentMappings, &ev, &Policy::default());
    assert_eq!(out.status, Status::Fail, "{out:?}");
    assert!(out.evidence.iter().any(|e| e.contains("more.conf:1")), "{out:?}");
    let approved = Policy { approved_mappings: vec![("m".into(), "app".into())], ..Policy::default() };
    assert_eq!(run(CheckId::IdentMappings, &ev, &approved).status, Status::Pass);
}

#[test]
fn a_crl_directory_is_read_and_a_missing_one_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(&dir.join("postgresql.conf"), "", 0o600);
    write(&dir.join("pg_hba.conf"), "", 0o600);
    write(&dir.join("pg_ident.conf"), "", 0o600);
    let missing = dir.join("no-such-dir");
    let ev = gathered(dir, &[("ssl_crl_file", ""), ("ssl_crl_dir", missing.to_str().unwrap())]);
    let out = run(CheckId::CrlConfigured, &ev, &Policy::default());
    assert_eq!(out.status, Status::Fail, "{out:?}");
    assert!(out.evidence.iter().any(|e| e.contains("no-such-dir")), "{out:?}");

    let empty = dir.join("crls");
    fs::create_dir(&empty).unwrap();
    let ev = gathered(dir, &[("ssl_crl_file", ""), ("ssl_crl_dir", empty.to_str().unwrap())]);
    let out = run(CheckId::CrlConfigured, &ev, &Policy::default());
    assert_eq!(out.status, Status::Fail, "{out:?}");
    assert!(out.evidence.iter().any(|e| e.contains("holds no CRL")), "{out:?}");
}

#[test]
fn a_directory_above_the_files_that_others_can_write_is_a_finding_unless_sticky() {
    let tmp = tempfile::tempdir().unwrap();
    let open = tmp.path().join("open");
    let dir = open.join("cfg");
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    for name in ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"] {
        write(&dir.join(name), "", 0o600);
    }
    // Whoever can write `open` can rename `cfg` away and put a directory of their own there.
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let out = run(CheckId::ConfigFileModes, &gathered(&dir, &[]), &Policy::default());
    assert_eq!(out.status, Status::Fail, "{out:?}");
    let named = open.display().to_string() + " (";
    assert!(out.evidence.iter().any(|e| e.contains(&named) && e.contains("every account")), "{out:?}");
    // With the sticky bit (as /tmp has), others cannot rename what they do not own.
    fs::set_permissions(&open, fs::Permissions::from_mode(0o1777)).unwrap();
    let out = run(CheckId::ConfigFileModes, &gathered(&dir, &[]), &Policy::default());
    assert_eq!(out.status, Status::Pass, "{out:?}");
}
