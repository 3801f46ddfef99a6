//! The rendered units as systemd itself reads them: `systemd-analyze verify` loads both files,
//! checks every directive and that `ExecStart=` names an executable.

#![allow(clippy::unwrap_used)] // tests may panic on failure

use std::path::{Path, PathBuf};
use std::process::Command;

use super::unit::{Credential, Spec};
use super::*;

/// Where this test binary keeps its fixtures.
fn fixture_dirs(root: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let dirs = [root.join("pki"), root.join("data dir%1"), root.join(r#"conf "q" \b"#)];
    for d in &dirs {
        std::fs::create_dir_all(d).unwrap();
    }
    let [pki, data, conf] = dirs;
    (pki, data, conf)
}

/// A spec whose program is this test binary, reached through a directory whose name needs quoting
/// and escaping (a space, a `%` specifier) and holds a `$`, which systemd keeps as it is in a
/// program path. Data paths also hold a double quote and a backslash.
fn spec_in(root: &Path) -> Spec {
    let odd = root.join("bin dir %n $USER");
    std::fs::create_dir_all(&odd).unwrap();
    let program = odd.join("pgharden");
    std::os::unix::fs::symlink(std::env::current_exe().unwrap(), &program).unwrap();
    let (pki, data, conf) = fixture_dirs(root);
    let credential = root.join("ca pass");
    std::fs::write(&credential, "not used by verify\n").unwrap();
    Spec {
        program,
        pki: pki.clone(),
        pgdata: vec![data.clone()],
        conninfo: vec!["host=/var/run/postgresql dbname=postgres user=$USER".into()],
        threshold: Some("25%".into()),
        write_dirs: Vec::new(),
        credential: Some(Credential { path: credential, encrypted: false }),
        writable: vec![pki, data, conf],
        sockets: vec![PathBuf::from("/var/run/postgresql")],
        on_calendar: "*-*-* 03:00:00".into(),
    }
}

/// `systemd-analyze verify` of both units in `dir`: its exit status and what it printed.
fn verify(dir: &Path) -> (bool, String) {
    let out = Command::new("systemd-analyze")
        // The man page is not installed where the units are verified; everything else is checked.
        .args(["verify", "--man=no"])
        .arg(dir.join(SERVICE))
        .arg(dir.join(TIMER))
        .output()
        .expect("systemd-analyze is installed (apt-get install systemd)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Lines where systemd complains about one of our units.
fn complaints(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.contains(SERVICE) || l.contains(TIMER))
        .filter(|l| {
            ["Unknown", "Failed", "Invalid", "not executable", "ignoring"].iter().any(|w| l.contains(w))
        })
        .collect()
}

fn write_units(dir: &Path, service: String, timer: String) {
    std::fs::create_dir_all(dir).unwrap();
    install::install(dir, &[(SERVICE, service), (TIMER, timer)]).unwrap();
}

#[test]
fn systemd_reads_both_units_without_a_complaint() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = spec_in(tmp.path());
    let units = tmp.path().join("units");
    write_units(&units, unit::service(&spec).unwrap(), unit::timer(&spec).unwrap());
    let (ok, text) = verify(&units);
    assert!(ok, "systemd-analyze verify failed:\n{text}");
    assert!(complaints(&text).is_empty(), "systemd complains:\n{text}");
}

#[test]
fn the_escaping_is_what_lets_systemd_find_the_program() {
    // The control: the same service with the program's path written raw. systemd splits it at the
    // spaces and expands `%n`, so the command it finds is not executable; verify must say so, or
    // the test above proves nothing about quoting.
    let tmp = tempfile::tempdir().unwrap();
    let spec = spec_in(tmp.path());
    let service = unit::service(&spec).unwrap();
    let quoted = unit::program_word(&spec.program).unwrap();
    assert!(service.contains(&quoted), "{service}");
    let raw = service.replace(&quoted, spec.program.to_str().unwrap());
    let units = tmp.path().join("units");
    write_units(&units, raw, unit::timer(&spec).unwrap());
    let (ok, text) = verify(&units);
    assert!(!ok, "an unquoted program path passed verify:\n{text}");
    assert!(text.contains("not executable"), "{text}");
}

#[test]
fn an_unknown_directive_is_caught_by_the_same_check() {
    // verify exits 0 for an unknown key and only says so: that is why `complaints` reads its lines.
    let tmp = tempfile::tempdir().unwrap();
    let spec = spec_in(tmp.path());
    let service = unit::service(&spec).unwrap().replace("LockPersonality=yes", "LockPersonalty=yes");
    let units = tmp.path().join("units");
    write_units(&units, service, unit::timer(&spec).unwrap());
    let (_, text) = verify(&units);
    assert!(!complaints(&text).is_empty(), "a misspelt directive went unnoticed:\n{text}");
}

#[test]
fn the_printed_form_names_each_file_and_ends_with_the_enable_commands() {
    let units = [(SERVICE, "[Unit]\nA=1\n".to_string()), (TIMER, "[Timer]\nB=2\n".to_string())];
    let text = printed_text(Path::new("/etc/systemd/system"), &units);
    assert_eq!(
        text,
        "# /etc/systemd/system/pgharden-renew.service\n[Unit]\nA=1\n\n\
         # /etc/systemd/system/pgharden-renew.timer\n[Timer]\nB=2\n\n\
         # Then, to start the timer:\n\
         #   systemctl daemon-reload\n\
         #   systemctl enable --now pgharden-renew.timer\n"
    );
}
