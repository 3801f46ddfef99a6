//! The attacker's test suite: every finding of the security review, reproduced against the real
//! binary and a real PostgreSQL 15, asserting the behaviour the fixed tool must have.
//!
//! The attacker is, unless a test says otherwise, the cluster's OS account `postgres`: it owns
//! PGDATA, runs the server, and can run any command (any SQL superuser can make it). The tests run
//! as root, as an operator runs pgharden. Victims are root-owned files and directories in
//! root-owned temporary directories made by the test; no real system file is ever a target. Fake
//! hostile servers are written in the tests (they are the attacker, not a stand-in for PostgreSQL).
//!
//! This module owns only the harness shared by the areas below; it must not weaken an assertion to
//! suit today's code: a test here that fails names a finding that is not fixed yet.

mod client_home;
mod data_directory;
mod environment;
mod escapes;
mod fifos;
mod hostile_server;
mod pgdata_symlinks;
mod postmaster_pid;
mod quickstart_dir;
mod server_paths;

use std::process::Child;
use std::time::Duration;

use pgharden_testcluster::Cluster;

use crate::support::{Bounded, TestPki, pgharden, run_bounded};

/// The names the test PKI's server certificate carries.
pub(crate) const HOSTS: [&str; 4] = ["--host", "localhost", "--host", "127.0.0.1"];

/// Generous bound for one `apply` (a restart included): a hang is a failure, not a wait.
pub(crate) const APPLY_LIMIT: Duration = Duration::from_secs(180);

/// A PKI and a running fresh cluster with the roles the PKI has certificates for.
pub(crate) fn fresh() -> (TestPki, Cluster) {
    let pki = TestPki::new("p384");
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    cluster.psql("CREATE ROLE bob LOGIN; CREATE ROLE alice LOGIN;").unwrap();
    (pki, cluster)
}

/// `pgharden apply --pgdata … --pki … --host localhost --host 127.0.0.1 EXTRA…`, bounded.
pub(crate) fn apply(cluster: &Cluster, pki: &TestPki, extra: &[&str]) -> Bounded {
    apply_within(cluster, pki, extra, APPLY_LIMIT)
}

/// [`apply`] with its own bound.
pub(crate) fn apply_within(cluster: &Cluster, pki: &TestPki, extra: &[&str], limit: Duration) -> Bounded {
    let mut cmd = pgharden();
    cmd.args(["apply", "--pgdata", cluster.data_dir().to_str().unwrap(), "--pki", &pki.p("")])
        .args(HOSTS)
        .args(extra);
    run_bounded(&mut cmd, limit)
}

/// `pgharden ARGS…`, bounded.
pub(crate) fn pgharden_within(args: &[&str], limit: Duration) -> Bounded {
    let mut cmd = pgharden();
    cmd.args(args);
    run_bounded(&mut cmd, limit)
}

/// A racing attacker process, killed (it is ours) when the test ends however it ends.
#[derive(Debug)]
pub(crate) struct Racer(pub Child);

impl Racer {
    /// Whether it is still running (it must race for the whole test, or the test proves nothing).
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for Racer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
