//! A server key kept encrypted (`apply --server-key-passphrase-file`): renew re-issues the
//! certificate, writes the fresh key encrypted under the same passphrase, and the reload unlocks it
//! through `ssl_passphrase_command` — no restart, and clients get in past the old expiry.

use super::support::{HOUR, ROLE, Rig, actions, only_cluster, serial};

#[test]
fn renew_keeps_an_encrypted_server_key_encrypted_and_the_reload_unlocks_it() {
    let mut rig = Rig::new(Some("24h"), None);
    let secrets = tempfile::tempdir().unwrap();
    let pass = secrets.path().join("key-passphrase");
    std::fs::write(&pass, "renewal keeps me secret\n").unwrap();
    let data = rig.cluster.data_dir().to_str().unwrap().to_owned();
    let pki = rig.pki.p("");
    rig.ok(&[
        "apply",
        "--pgdata",
        &data,
        "--pki",
        &pki,
        "--host",
        "localhost",
        "--host",
        "127.0.0.1",
        "--server-key-passphrase-file",
        pass.to_str().unwrap(),
        "--yes",
    ]);
    rig.restart();
    let encrypted = |what: &str| {
        let pem = std::fs::read_to_string(rig.data("server.pem")).unwrap();
        assert!(pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----"), "{what}: the key is not encrypted");
        assert!(!pem.contains("-----BEGIN PRIVATE KEY-----"), "{what}: a plain key is in server.pem");
    };
    encrypted("after apply");
    let pid = rig.pid();

    rig.at(17 * HOUR);
    let report = rig.renew(&[]);
    assert_eq!(actions(&report, "certificate").len(), 1, "{report:#}");
    let new_serial = rig.current("server", "localhost")["serial"].as_str().unwrap().to_string();
    let cluster = only_cluster(&report);
    assert_eq!(cluster["reloaded"], true, "{report:#}");
    assert_eq!(serial(cluster["served_serial"].as_str().unwrap()), serial(&new_serial), "{report:#}");
    encrypted("after renew");
    assert!(
        !serde_json::to_string(&report).unwrap().contains("renewal keeps me secret"),
        "the passphrase is in renew's report"
    );

    rig.at(25 * HOUR);
    let login = rig.login(Some(&rig.pki.p("crls.pem")));
    assert!(login.ok && login.stdout == ROLE, "at +25 h alice logs in: {}", login.stderr);
    assert_eq!(rig.served_serial(), serial(&new_serial), "openssl s_client sees the new certificate");
    assert_eq!(rig.pid(), pid, "a reload, never a restart");
}
