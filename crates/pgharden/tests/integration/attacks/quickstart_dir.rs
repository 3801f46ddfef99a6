//! Review §6: `quickstart --dir DIR` where the owner of DIR made `DIR/data` or `DIR/run` a link to
//! a root-owned directory. Root must not chmod, chown or fill that directory: quickstart fails.

use std::path::PathBuf;
use std::time::Duration;

use crate::support::{
    RootDir, Violations, attacker, attacker_symlink, owned_dir, snapshot, snapshot_changes,
};

use super::pgharden_within;

/// Stops whatever server the run may have started in DIR/data (through the link, if it is one).
struct StopDemo(PathBuf);

impl Drop for StopDemo {
    fn drop(&mut self) {
        let data = self.0.join("data");
        if data.join("postmaster.pid").exists() {
            let mut cmd = crate::support::as_user(&attacker(), "/usr/lib/postgresql/15/bin/pg_ctl");
            cmd.args(["stop", "-m", "immediate", "-s", "-w", "-D"]).arg(&data);
            let _ = crate::support::run_bounded(&mut cmd, Duration::from_secs(60));
        }
    }
}

fn linked_component(component: &str) {
    let pg = attacker();
    let base = RootDir::new();
    let dir = owned_dir(&pg, base.path(), "demo");
    let root = RootDir::new();
    let victim = root.subdir("victim");
    // Declared after the directories, so it runs before they are removed.
    let _stop = StopDemo(dir.clone());
    attacker_symlink(&pg, &victim, &dir.join(component));
    let before = snapshot(&victim);
    let before_root = root.snapshot();

    let port = pgharden_testcluster::free_port().unwrap().to_string();
    let out = pgharden_within(
        &["quickstart", "--dir", dir.to_str().unwrap(), "--port", &port],
        Duration::from_secs(240),
    );
    let mut v = Violations::default();
    v.check(
        !out.hung && out.code != Some(0),
        format!("exit code {:?} (hung: {}), wanted a failure", out.code, out.hung),
    );
    if let Some(changes) = snapshot_changes(&before, &snapshot(&victim)) {
        v.0.push(format!("the root-owned victim {} changed: {changes}", victim.display()));
    }
    if let Some(changes) = snapshot_changes(&before_root, &root.snapshot()) {
        v.0.push(format!("the root-owned directory {} changed: {changes}", root.path().display()));
    }
    v.assert_none(&out.describe());
}

#[test]
fn a_symlinked_data_directory_is_refused() {
    linked_component("data");
}

#[test]
fn a_symlinked_socket_directory_is_refused() {
    linked_component("run");
}
