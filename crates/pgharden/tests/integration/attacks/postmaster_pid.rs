//! Review §9: `postgres` writes the pid of a root process into line 1 of `postmaster.pid` and
//! makes apply take its rollback path, where today it "reloads" the server by sending SIGHUP to
//! that pid. Root must never signal a process the file names without knowing it is the server:
//! the root process lives, apply fails, and it does not claim a reload it did not do.

use std::process::{Child, Command};
use std::time::Duration;

use pgharden_testcluster::Cluster;

use crate::support::{Violations, contains_ci, harden};

use super::{apply, fresh};

/// Puts the real `postmaster.pid` back (before the cluster is stopped through it) and kills the
/// root process, however the test ends.
struct Restore<'a> {
    cluster: &'a Cluster,
    original: Vec<u8>,
    sleeper: Child,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        let _ = self.cluster.write_file("postmaster.pid", &self.original, 0o600);
        let _ = self.sleeper.kill();
        let _ = self.sleeper.wait();
    }
}

#[test]
fn a_forged_postmaster_pid_never_gets_a_signal() {
    let (pki, cluster) = fresh();
    harden(&cluster, &pki);
    let data = cluster.data_dir();
    let original = std::fs::read(data.join("postmaster.pid")).unwrap();
    let sleeper = Command::new("sleep").arg("1000").spawn().unwrap();
    let fake_pid = sleeper.id();
    let mut guard = Restore { cluster: &cluster, original: original.clone(), sleeper };

    // A reloadable drift (apply plans a reload), and a postmaster-only value that the reload
    // reports as "contains errors" (apply's log check then rolls back and "reloads" again).
    cluster.append_conf("log_connections = off\nshared_buffers = '64MB'").unwrap();
    // Line 1 forged, the other lines kept. Mode 0400: the postmaster's periodic check of its lock
    // file cannot open it for writing, counts that as harmless, and does not shut down.
    let text = String::from_utf8(original).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[0] = fake_pid.to_string();
    cluster.write_file("postmaster.pid", format!("{}\n", lines.join("\n")).as_bytes(), 0o400).unwrap();

    let out = apply(&cluster, &pki, &["--yes"]);
    std::thread::sleep(Duration::from_millis(300)); // a signal sent at the very end has landed
    let text = out.text();
    let mut v = Violations::default();
    let alive = guard.sleeper.try_wait().unwrap();
    v.check(
        alive.is_none(),
        format!("the root process {fake_pid} named in postmaster.pid was killed: {alive:?}"),
    );
    v.check(
        !out.hung && out.code.is_some_and(|c| c != 0),
        format!("exit code {:?} (hung: {}), wanted a failure", out.code, out.hung),
    );
    v.check(!contains_ci(&text, "server reloaded"), "it claims the server was reloaded");
    v.check(
        !contains_ci(&text, "runs on its previous configuration"),
        "it claims the server runs on its previous configuration",
    );
    v.assert_none(&out.describe());
    drop(guard);
}
