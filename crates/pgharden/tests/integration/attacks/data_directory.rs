//! Review §18: a server started through a `postgres`-owned link to its data directory reports the
//! link as `data_directory`. Every write apply plans must go to the canonical directory, never
//! through the link (which `postgres` could repoint between the plan and the writes).

use std::time::Duration;

use crate::support::{RootDir, as_user, attacker, attacker_symlink, owned_dir, run_bounded};

use super::{apply, fresh};

#[test]
fn planned_writes_target_the_canonical_data_directory_not_a_link_to_it() {
    let (pki, mut cluster) = fresh();
    let pg = attacker();
    let base = RootDir::new();
    let pgown = owned_dir(&pg, base.path(), "pgown");
    let link = pgown.join("link-data");
    attacker_symlink(&pg, cluster.data_dir(), &link);

    // Restart the server as its owner would, through the link; testcluster adopts it.
    cluster.stop().unwrap();
    let options = format!(
        "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
        cluster.port(),
        cluster.socket_dir().display()
    );
    let mut cmd = as_user(&pg, cluster.install().bin("pg_ctl").to_str().unwrap());
    cmd.args(["start", "-w", "-t", "60", "-s", "-D"])
        .arg(&link)
        .arg("-l")
        .arg(pgown.join("server.log"))
        .arg("-o")
        .arg(&options);
    let started = run_bounded(&mut cmd, Duration::from_secs(90));
    assert_eq!(started.code, Some(0), "pg_ctl start through the link: {}", started.describe());
    assert!(cluster.is_running(), "testcluster adopts the server pg_ctl started");
    assert_eq!(cluster.psql("SHOW data_directory").unwrap(), link.display().to_string());

    let out = apply(&cluster, &pki, &["--plan", "--json"]);
    assert_eq!(out.code, Some(0), "{}", out.describe());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let canonical = cluster.data_dir().canonicalize().unwrap();
    let files: Vec<&str> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "file")
        .map(|c| c["target"].as_str().unwrap())
        .collect();
    assert!(files.len() >= 3, "a first plan writes files: {}", out.describe());
    let through_link: Vec<&&str> =
        files.iter().filter(|t| !std::path::Path::new(t).starts_with(&canonical)).collect();
    assert!(
        through_link.is_empty(),
        "planned writes outside the canonical data directory {} (through the link {}?): {through_link:?}",
        canonical.display(),
        link.display()
    );
}
