//! renew killed with SIGKILL at points spread across a whole run (every CRL and the server
//! certificate due): the server always starts again with a key that matches its certificate, it
//! serves the certificate in its data directory, no half-written file is in place, and the next
//! run finishes the job.
//!
//! The whole process group is killed, helpers included, as systemd's default `KillMode=control-group`
//! does when a renew service is stopped or times out.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::support::{
    DAY, ROLE, Rig, actions, crl_cas, crls_by_ca, file_serial, key_matches_certificate, only_cluster,
    pem_file, pki_crls, serial,
};

/// How many kills, spread evenly from 0 to the length of one run.
const KILLS: u32 = 10;
/// How far each round moves the clocks: every CRL (30 days) has less than a third left, and the
/// day-long server certificate has expired.
const STEP: i64 = 21 * DAY;
/// The PKI files that must parse whenever renew is not running (temporary files aside).
const PKI_PEMS: [&str; 8] =
    ["ca.crt", "ca.key", "crl.pem", "crls.pem", "server.crt", "server.key", "client.crt", "client.key"];

#[test]
fn renew_killed_at_any_point_leaves_a_startable_server_and_the_next_run_finishes() {
    let mut rig = Rig::new(Some("24h"), None);
    // Two full runs, to measure one: the shorter, so that the kills spread over the whole of a
    // run rather than land after its end.
    let mut offset = 0;
    let mut one_run = Duration::MAX;
    for round in ["the first measured run", "the second measured run"] {
        offset += STEP;
        rig.at(offset);
        let started = Instant::now();
        let report = rig.renew(&[]);
        one_run = one_run.min(started.elapsed());
        assert_eq!(crl_cas(&report), ["client-ca", "root", "server-ca"], "{report:#}");
        assert_eq!(actions(&report, "certificate").len(), 1, "{report:#}");
        assert_consistent(&rig, &report, round);
    }
    eprintln!("one renew with everything due took {one_run:?}");

    let mut interrupted = 0;
    for i in 0..KILLS {
        offset += STEP;
        rig.at(offset);
        let delay = one_run * i / KILLS;
        let context = format!("renew killed after {delay:?} (round {i}, clocks at +{} days)", offset / DAY);
        if kill_renew_after(&rig, delay) {
            interrupted += 1;
        }
        assert!(rig.cluster.is_running(), "{context}: the server must survive");
        rig.restart();
        assert_nothing_half_done(&rig, &context);
        let report = rig.renew(&[]);
        assert_consistent(&rig, &report, &context);
    }
    eprintln!("{interrupted} of {KILLS} kills landed before renew had finished");
    assert!(interrupted > 0, "no kill interrupted a run");
}

/// Start renew, SIGKILL its process group after `delay`, and wait until every process of the
/// group is gone. Whether the kill came before renew had finished.
fn kill_renew_after(rig: &Rig, delay: Duration) -> bool {
    use std::os::unix::process::CommandExt;
    let data = rig.cluster.data_dir().to_str().unwrap().to_owned();
    let mut child: Child = rig
        .pgharden()
        .args(["renew", "--pki", &rig.pki.p(""), "--pgdata", &data, "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let group = Pid::from_raw(child.id() as i32);
    // The point of the test is to kill at a given moment, not to wait for a condition.
    std::thread::sleep(delay);
    let running = child.try_wait().unwrap().is_none();
    let _ = killpg(group, Signal::SIGKILL);
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while killpg(group, None).is_ok() {
        assert!(Instant::now() < deadline, "processes of the killed renew's group are still alive");
        let _ = killpg(group, Signal::SIGKILL);
        std::thread::sleep(Duration::from_millis(20));
    }
    running
}

/// After a kill and a restart: every TLS file in the data directory and every key, certificate
/// and CRL in the PKI parses, server.pem's key matches its certificate, and that certificate is
/// the one served.
fn assert_nothing_half_done(rig: &Rig, context: &str) {
    for name in ["server.pem", "root.crt", "root.crl"] {
        pem_file(&rig.data(name));
    }
    for path in rig.pki_tree().keys() {
        let name = path.file_name().unwrap().to_string_lossy();
        if PKI_PEMS.contains(&name.as_ref()) {
            pem_file(path);
        }
    }
    let ledger = std::fs::read(rig.pki.path("ledger.json")).unwrap();
    serde_json::from_slice::<serde_json::Value>(&ledger)
        .unwrap_or_else(|e| panic!("{context}: ledger.json does not parse: {e}"));
    let pem = rig.data("server.pem");
    key_matches_certificate(&pem).unwrap_or_else(|e| panic!("{context}: {e}"));
    assert_eq!(rig.served_serial(), file_serial(&pem), "{context}: the server serves server.pem");
}

/// After a completed run: the ledger reads, one current server certificate, in server.pem with its
/// key and served; the data directory's CRLs are the PKI's; alice logs in on the moved clock.
fn assert_consistent(rig: &Rig, report: &serde_json::Value, context: &str) {
    assert_eq!(report["errors"], serde_json::json!([]), "{context}: {report:#}");
    let current = rig.current("server", "localhost");
    let current_serial = serial(current["serial"].as_str().unwrap());
    let pem = rig.data("server.pem");
    key_matches_certificate(&pem).unwrap_or_else(|e| panic!("{context}: {e}"));
    assert_eq!(file_serial(&pem), current_serial, "{context}: server.pem holds the current certificate");
    assert_eq!(rig.served_serial(), current_serial, "{context}: the server serves it");
    let cluster = only_cluster(report);
    assert_eq!(serial(cluster["served_serial"].as_str().unwrap()), current_serial, "{context}: {report:#}");
    let deployed: Vec<Vec<u8>> =
        crls_by_ca(&rig.pki, &rig.data("root.crl")).into_values().map(|c| c.der).collect();
    let issued: Vec<Vec<u8>> = pki_crls(&rig.pki).into_values().map(|c| c.der).collect();
    assert!(deployed == issued, "{context}: root.crl holds the PKI's current CRLs");
    let login = rig.login(Some(&rig.pki.p("crls.pem")));
    assert!(login.ok && login.stdout == ROLE, "{context}: alice logs in: {}", login.stderr);
    let leftovers = temp_files(&rig.pki.dir);
    assert!(leftovers.is_empty(), "{context}: a finished run leaves no temp files in the PKI: {leftovers:?}");
}

/// Files named like an interrupted atomic write (`NAME.tmp-PID`) anywhere under `dir`.
fn temp_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if entry.file_name().to_string_lossy().contains(".tmp-") {
                out.push(path);
            }
        }
    }
    out
}
