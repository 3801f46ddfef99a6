//! A short-lived server certificate (`--valid 24h`): renew re-issues it two thirds through its life
//! with a fresh key, deploys key and chain in one file with a reload, and after the old one has
//! expired, clients that check the time (verify-full on the same clock) still connect.

use std::os::unix::fs::MetadataExt;

use super::support::{
    HOUR, ROLE, Rig, actions, file_names, file_serial, key_matches_certificate, only_cluster, serial,
};

#[test]
fn a_day_long_server_certificate_is_replaced_before_it_expires() {
    let rig = Rig::new(Some("24h"), None);
    let old = rig.current("server", "localhost");
    let old_serial = old["serial"].as_str().unwrap().to_string();
    let old_key = key_matches_certificate(&rig.data("server.pem")).unwrap();
    assert_eq!(rig.served_serial(), serial(&old_serial));
    let pid = rig.pid();

    rig.at(17 * HOUR);
    let report = rig.renew(&[]);
    let certs = actions(&report, "certificate");
    assert_eq!(certs.len(), 1, "{report:#}");
    assert_eq!(certs[0]["kind"], "server", "{report:#}");
    assert_eq!(certs[0]["name"], "localhost", "{report:#}");
    assert_eq!(certs[0]["serial"], old_serial.as_str(), "the action names the old serial: {report:#}");
    assert!(actions(&report, "crl").is_empty(), "the CRLs have 29 days left: {report:#}");
    let deploys = actions(&report, "deploy");
    assert_eq!(deploys.len(), 1, "{report:#}");
    assert!(file_names(deploys[0]).contains(&"server.pem".to_string()), "{report:#}");

    // The ledger: a new current certificate with the same names and lifetime; the old replaced.
    let new = rig.current("server", "localhost");
    let new_serial = new["serial"].as_str().unwrap().to_string();
    assert_ne!(new_serial, old_serial);
    assert_eq!(rig.entry(&old_serial)["status"], "replaced");
    assert_eq!(new["sans"], old["sans"]);
    let life = |e: &serde_json::Value| {
        super::support::unix(&e["not_after"]) - super::support::unix(&e["not_before"])
    };
    assert_eq!(life(&new), life(&old), "the same lifetime as requested");
    let cluster = only_cluster(&report);
    assert_eq!(serial(cluster["served_serial"].as_str().unwrap()), serial(&new_serial), "{report:#}");
    assert_eq!(cluster["reloaded"], true, "{report:#}");
    assert_eq!(cluster["postmaster_pid"], pid, "{report:#}");

    // Past the old certificate's expiry: verify-full on the moved clock still gets in, because the
    // server serves the new certificate.
    rig.at(25 * HOUR);
    let login = rig.login(Some(&rig.pki.p("crls.pem")));
    assert!(login.ok && login.stdout == ROLE, "at +25 h alice logs in: {}", login.stderr);
    assert_eq!(rig.served_serial(), serial(&new_serial), "openssl s_client sees the new certificate");
    assert_eq!(rig.pid(), pid, "a reload, never a restart");

    // server.pem: the cluster owner's, 0600, the new certificate with its own (fresh) key.
    let pem = rig.data("server.pem");
    assert_eq!(file_serial(&pem), serial(&new_serial));
    let new_key = key_matches_certificate(&pem).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(new_key, old_key, "a fresh key");
    let meta = std::fs::metadata(&pem).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!(meta.uid(), rig.cluster.os_user().uid);
}
