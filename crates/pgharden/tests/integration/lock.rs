//! `pgharden lock` / `restore` on a real cluster: 2,000 roles with hostile names, open sessions,
//! hand-locked roles, a second lock, and crashes of pgharden and of the server mid-lock.

use std::collections::BTreeSet;
use std::process::{Child, Stdio};
use std::time::Duration;

use testcluster::Cluster;

use crate::support::pgharden;

const HOSTILE: &[&str] = &[
    "a\"b",
    "Mixed Case",
    "spaced name",
    "ünïcødé",
    "semi;colon",
    "dollar$$",
    "quote'single",
    "back\\slash",
    "drop table x; --",
];

fn conninfo(cluster: &Cluster) -> String {
    format!("host={} port={} user=postgres dbname=postgres", cluster.socket_dir().display(), cluster.port())
}

fn setup(roles: usize) -> Cluster {
    let cluster =
        Cluster::start_default().expect("PostgreSQL 15 must be installed (apt-get install postgresql-15)");
    let mut sql = format!(
        "DO $$ BEGIN FOR i IN 1..{roles} LOOP EXECUTE format('CREATE ROLE %I LOGIN', 'user_' || i); END LOOP; END $$;"
    );
    for name in HOSTILE {
        sql.push_str(&format!("CREATE ROLE \"{}\" LOGIN;", name.replace('"', "\"\"")));
    }
    sql.push_str("CREATE ROLE keeper LOGIN; CREATE ROLE hand_locked NOLOGIN;");
    cluster.psql(&sql).unwrap();
    cluster
}

fn login_roles(cluster: &Cluster) -> BTreeSet<String> {
    cluster
        .psql("SELECT rolname FROM pg_roles WHERE rolcanlogin ORDER BY 1")
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A session of `role` that sleeps until terminated.
fn session(cluster: &Cluster, role: &str) -> Child {
    let conn = format!(
        "host={} port={} user='{}' dbname=postgres",
        cluster.socket_dir().display(),
        cluster.port(),
        role.replace('\\', "\\\\").replace('\'', "\\'")
    );
    cluster
        .psql_command()
        .args(["-X", "-d", &conn, "-c", "SELECT pg_sleep(60)"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn run(args: &[&str]) -> (bool, String) {
    let out = pgharden().args(args).output().unwrap();
    (
        out.status.success(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

#[test]
fn lock_and_restore_two_thousand_roles_with_hostile_names() {
    let cluster = setup(2000);
    let before = login_roles(&cluster);
    assert_eq!(before.len(), 2000 + HOSTILE.len() + 2); // + keeper + postgres
    let mut sessions: Vec<Child> = ["user_1", "user_2000", "Mixed Case", "quote'single", "keeper"]
        .iter()
        .map(|r| session(&cluster, r))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()").unwrap(), "5");

    let tmp = tempfile::tempdir().unwrap();
    let restore_file = tmp.path().join(".restore_login");
    let conn = conninfo(&cluster);
    let (ok, text) = run(&["lock", &conn, "--dry-run", "--keep", "keeper"]);
    assert!(ok && text.contains(&format!("Would lock {} role(s)", 2000 + HOSTILE.len())), "{text}");
    assert_eq!(login_roles(&cluster), before, "a dry run changes nothing");

    let (ok, text) =
        run(&["lock", &conn, "--keep", "keeper", "--restore-file", restore_file.to_str().unwrap()]);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("Locked {} role(s)", 2000 + HOSTILE.len()))
            && text.contains("ended 4 session(s)"),
        "{text}"
    );
    let after: BTreeSet<String> = login_roles(&cluster);
    assert_eq!(after, ["keeper", "postgres"].iter().map(|s| s.to_string()).collect());
    for (i, child) in sessions.iter_mut().enumerate() {
        if i < 4 {
            let status = child.wait().unwrap();
            assert!(!status.success(), "a locked role's session must be terminated");
        }
    }
    assert_eq!(
        cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE usename LIKE 'user_%'").unwrap(),
        "0"
    );
    let _ = sessions[4].kill();
    assert_eq!(crate::support::mode(&restore_file), 0o600);
    assert_eq!(std::fs::read_to_string(&restore_file).unwrap().lines().count(), 2000 + HOSTILE.len());

    // A locked role cannot log in (so it cannot run lock either).
    let conn_user1 = format!(
        "host={} port={} user=user_1 dbname=postgres",
        cluster.socket_dir().display(),
        cluster.port()
    );
    let (ok, text) = run(&["lock", &conn_user1]);
    assert!(!ok && text.contains("not permitted to log in"), "{text}");
    // A second lock refuses and says how to restore.
    let (ok, text) = run(&["lock", &conn]);
    assert!(!ok && text.contains("already locked") && text.contains("restore"), "{text}");

    cluster.psql("DROP ROLE user_7").unwrap();
    let (ok, text) = run(&["restore", &conn]);
    assert!(
        ok && text.contains(&format!("Restored LOGIN for {} role(s)", 2000 + HOSTILE.len() - 1))
            && text.contains("user_7"),
        "{text}"
    );
    let mut expected = before.clone();
    expected.remove("user_7");
    assert_eq!(login_roles(&cluster), expected, "exactly the locked roles come back");
    assert_eq!(cluster.psql("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'hand_locked'").unwrap(), "f");
    let (ok, text) = run(&["restore", &conn]);
    assert!(ok && text.contains("Nothing to restore"), "{text}");
}

/// No role is ever locked and unrecorded: pgharden, or the server, is killed while the lock's
/// transaction has already set some roles NOLOGIN (it waits on a row another session holds), and
/// afterwards every role is either able to log in or recorded, and restore brings all back.
#[test]
fn a_crash_mid_lock_leaves_nothing_locked_and_unrecorded() {
    let mut cluster = setup(3000);
    let before = login_roles(&cluster);
    let conn = conninfo(&cluster);
    let unrecorded = "SELECT count(*) FROM pg_roles r WHERE NOT r.rolcanlogin AND r.rolname LIKE 'user_%' \
                      AND NOT EXISTS (SELECT 1 FROM pgharden.locked_roles l WHERE l.rolname = r.rolname)";
    let tmp = tempfile::tempdir().unwrap();
    let restore_file = tmp.path().join(".restore_login");
    for kill_server in [false, true] {
        // Another session holds user_2500's catalog row, so the lock stops half way through its ALTERs.
        let mut blocker = cluster
            .psql_command()
            .args([
                "-X",
                "-d",
                &conn,
                "-c",
                "BEGIN; ALTER ROLE user_2500 CONNECTION LIMIT 5; SELECT pg_sleep(60); COMMIT;",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(
            &cluster,
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND state = 'active' AND pid <> pg_backend_pid()",
        );
        let mut child = pgharden()
            .args(["lock", &conn, "--restore-file", restore_file.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(
            &cluster,
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%ALTER ROLE%NOLOGIN%'",
        );
        if kill_server {
            let pid = cluster.pid().unwrap();
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL)
                .unwrap();
            let _ = child.wait();
            let _ = blocker.wait();
            let _ = cluster.stop();
            cluster.start_server().unwrap();
        } else {
            child.kill().unwrap();
            let _ = child.wait();
            cluster.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()").unwrap();
            let _ = blocker.wait();
        }
        std::thread::sleep(Duration::from_millis(200));
        if cluster.psql("SELECT to_regclass('pgharden.locked_roles') IS NOT NULL").unwrap() == "t" {
            assert_eq!(
                cluster.psql(unrecorded).unwrap(),
                "0",
                "a role was locked but not recorded (server killed: {kill_server})"
            );
        }
        assert_eq!(
            login_roles(&cluster),
            before,
            "the interrupted transaction locked nobody (server killed: {kill_server})"
        );
        let (ok, text) = run(&["restore", &conn]);
        assert!(ok, "{text}");
        assert_eq!(login_roles(&cluster), before);
    }
}

/// Poll until `query` returns a non-zero count.
fn wait_for(cluster: &Cluster, query: &str) {
    for _ in 0..300 {
        if cluster.psql(query).map(|c| c != "0").unwrap_or(false) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for: {query}");
}
