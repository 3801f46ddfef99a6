//! A short-lived client certificate (`--valid 48h`): renew re-issues it and says who must install
//! it, with a command that works as printed; the new certificate logs in after the old one has
//! expired, and the old one no longer does.

use super::support::{HOUR, ROLE, Rig, actions, only_cluster, path_with_pgharden};
use crate::support::run_bounded;

#[test]
fn a_two_day_client_certificate_is_reissued_and_its_install_command_works() {
    let rig = Rig::new(None, Some("48h"));
    let old = rig.current("client", ROLE);
    let old_serial = old["serial"].as_str().unwrap().to_string();

    // alice's machine, set up the usual way before the renewal.
    let homes = tempfile::tempdir().unwrap();
    let old_home = homes.path().join("old");
    std::fs::create_dir(&old_home).unwrap();
    let pki = rig.pki.p("");
    rig.ok(&["client", "--pki", &pki, "--role", ROLE, "--home", old_home.to_str().unwrap()]);
    let login = rig.login_from_home(&old_home);
    assert!(login.ok && login.stdout == ROLE, "{}", login.stderr);

    rig.at(33 * HOUR);
    let data_before = rig.data_files();
    let report = rig.renew(&[]);
    let certs = actions(&report, "certificate");
    assert_eq!(certs.len(), 1, "{report:#}");
    assert_eq!(certs[0]["kind"], "client", "{report:#}");
    assert_eq!(certs[0]["name"], ROLE, "{report:#}");
    assert_eq!(certs[0]["serial"], old_serial.as_str(), "the action names the old serial: {report:#}");
    // The server trusts the CA, not the certificate: nothing in the data directory changes.
    assert!(actions(&report, "deploy").is_empty(), "{report:#}");
    assert_eq!(only_cluster(&report)["changed"], serde_json::json!([]), "{report:#}");
    assert!(rig.data_files() == data_before, "a client certificate's renewal changed the data directory");

    let new = rig.current("client", ROLE);
    let new_serial = new["serial"].as_str().unwrap();
    assert_ne!(new_serial, old_serial);
    assert_eq!(rig.entry(&old_serial)["status"], "replaced");
    let redistribute = report["redistribute"].as_array().unwrap();
    assert_eq!(redistribute.len(), 1, "{report:#}");
    let entry = &redistribute[0];
    assert_eq!(entry["role"], ROLE, "{report:#}");
    assert_eq!(entry["name"], ROLE, "{report:#}");
    assert_eq!(entry["serial"], new_serial, "the serial to install is the new one: {report:#}");
    let command = entry["command"].as_str().unwrap();

    // The command, run as printed by a shell on alice's machine, installs the new certificate.
    let new_home = homes.path().join("new");
    std::fs::create_dir(&new_home).unwrap();
    let mut sh = std::process::Command::new("/bin/sh");
    sh.args(["-c", command])
        .env_remove("PGHARDEN_CA_PASSPHRASE")
        .env_remove("PGHARDEN_PKI_DIR")
        .env("PATH", path_with_pgharden(homes.path()))
        .env("HOME", &new_home)
        .envs(rig.clock.env());
    let out = run_bounded(&mut sh, super::support::RUN_LIMIT);
    assert_eq!(out.code, Some(0), "{command}: {}", out.describe());
    let login = rig.login_from_home(&new_home);
    assert!(login.ok && login.stdout == ROLE, "the new certificate logs in: {}", login.stderr);

    // Past the old certificate's expiry, only the new one gets in.
    rig.at(49 * HOUR);
    let login = rig.login_from_home(&new_home);
    assert!(login.ok && login.stdout == ROLE, "at +49 h the new certificate logs in: {}", login.stderr);
    let stale = rig.login_from_home(&old_home);
    assert!(!stale.ok, "the old certificate has expired");
    assert!(stale.stderr.contains("alert certificate expired"), "{}", stale.stderr);
}
