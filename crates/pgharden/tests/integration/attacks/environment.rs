//! Review §8: the postmaster that `apply` restarts runs as `postgres` for its whole life, and
//! `postgres` can read its environment. Root's environment (the CA passphrase, PGPASSWORD, anything
//! else) must not end up there.

use std::collections::BTreeSet;
use std::fs;

use crate::support::Violations;

use super::{HOSTS, fresh};

/// What a server legitimately has in its environment when started cleanly.
const ALLOWED: [&str; 14] = [
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "PGDATA",
    "PGSYSCONFDIR",
    "PG_GRANDPARENT_PID",
    "PG_OOM_ADJUST_FILE",
    "PG_OOM_ADJUST_VALUE",
    "TZ",
    "SHELL",
    "PWD",
];

const SECRETS: [(&str, &str); 3] = [
    ("PGHARDEN_CA_PASSPHRASE", "Pa55-CA-SECRET-XYZZY"),
    ("PGPASSWORD", "root-pgpass-123"),
    ("PGHARDEN_TEST_MARKER_XYZ", "marker-value-4711"),
];

fn postmaster_pid(data: &std::path::Path) -> u32 {
    let text = fs::read_to_string(data.join("postmaster.pid")).unwrap();
    text.lines().next().unwrap().trim().parse().unwrap()
}

#[test]
fn the_restarted_server_inherits_nothing_from_roots_environment() {
    let (pki, cluster) = fresh();
    let old_pid = postmaster_pid(cluster.data_dir());
    let mut cmd = crate::support::pgharden();
    cmd.args(["apply", "--pgdata", cluster.data_dir().to_str().unwrap(), "--pki", &pki.p("")])
        .args(HOSTS)
        .arg("--yes");
    for (name, value) in SECRETS {
        cmd.env(name, value);
    }
    let out = crate::support::run_bounded(&mut cmd, super::APPLY_LIMIT);
    assert_eq!(out.code, Some(0), "the first apply must succeed: {}", out.describe());
    let pid = postmaster_pid(cluster.data_dir());
    assert_ne!(pid, old_pid, "the first apply restarts the server: {}", out.describe());

    let raw = fs::read(format!("/proc/{pid}/environ")).unwrap();
    let environ: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|v| !v.is_empty())
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    let names: BTreeSet<&str> =
        environ.iter().map(|v| v.split_once('=').map_or(v.as_str(), |(n, _)| n)).collect();
    // What apply was given: the test's own environment, plus what the command set.
    let mut given: BTreeSet<String> =
        std::env::vars_os().map(|(k, _)| k.to_string_lossy().into_owned()).collect();
    given.extend(cmd.get_envs().filter(|(_, v)| v.is_some()).map(|(k, _)| k.to_string_lossy().into_owned()));

    let mut v = Violations::default();
    for (name, value) in SECRETS {
        v.check(!names.contains(name), format!("{name} reached the postmaster"));
        v.check(
            !environ.iter().any(|e| e.contains(value)),
            format!("the value of {name} reached the postmaster"),
        );
    }
    for name in &names {
        v.check(
            ALLOWED.contains(name) || !given.contains(*name),
            format!("{name}, from root's environment, reached the postmaster"),
        );
    }
    v.assert_none(&format!("environ of the postmaster (pid {pid}):\n{}", environ.join("\n")));
}
