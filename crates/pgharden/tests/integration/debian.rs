//! A cluster made the Debian way (`pg_createcluster`: configuration in /etc/postgresql, PGDATA in
//! /var/lib/postgresql, the snakeoil certificate, `pg_ctlcluster`), hardened with `apply` and then
//! audited: the audit must be clean in cluster scope, with the stricter rules.
//!
//! Needs root (pg_createcluster writes /etc/postgresql) and Debian's postgresql-common; CI runs as
//! root on Debian. Without them the test fails and says so.

use std::process::Command;

use crate::support::{TestPki, pgharden};

/// A Debian cluster removed again (`pg_dropcluster --stop`) when the test ends, however it ends.
struct DebianCluster {
    version: &'static str,
    name: String,
}

impl Drop for DebianCluster {
    fn drop(&mut self) {
        let _ = Command::new("pg_dropcluster").args(["--stop", self.version, &self.name]).status();
    }
}

fn must(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e} (is postgresql-common installed?)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_debian_cluster_after_apply_audits_clean() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test creates a Debian cluster with pg_createcluster, which needs root (CI runs as root)"
    );
    let port = pgharden_testcluster::free_port().unwrap().to_string();
    let cluster = DebianCluster { version: "15", name: format!("pgh{port}") };
    must(Command::new("pg_createcluster").args([cluster.version, &cluster.name, "--port", &port]));
    must(Command::new("pg_ctlcluster").args([cluster.version, &cluster.name, "start"]));
    let data = format!("/var/lib/postgresql/15/{}", cluster.name);

    let pki = TestPki::new("p256");
    crate::support::harden_data_dir(std::path::Path::new(&data), &pki);

    let out = pgharden()
        .args(["audit", "--pgdata", &data, "--scope", "cluster", "--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let bad: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| matches!(f["status"].as_str(), Some("fail" | "not-checked")))
        .map(|f| format!("{} {} {}", f["rule"], f["status"], f["evidence"]))
        .collect();
    assert!(bad.is_empty(), "a Debian cluster after apply must audit clean:\n{}", bad.join("\n"));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let conf = format!("/etc/postgresql/15/{}/postgresql.conf", cluster.name);
    assert_eq!(crate::support::mode(std::path::Path::new(&conf)), 0o600, "{conf}");
}
