//! `lock` and `restore` on a hardened cluster of each major, over mutual TLS as the superuser with
//! its own client certificate: roles locked, their sessions ended, the kept role untouched, and
//! everything back after restore.

use std::process::Stdio;
use std::time::{Duration, Instant};

use super::pg_test;
use super::posture::conninfo;
use crate::support::{ok, psql};

const WHO: &str = "SELECT current_user";

pg_test!(
    /// The emergency lockout and its undoing.
    lock_restore,
    "lock and restore over mutual TLS: roles locked and their sessions ended, kept roles untouched, all back after restore",
    |pg| {
        let (pki, cluster) = pg.hardened();
        cluster.psql("CREATE ROLE carol LOGIN CONNECTION LIMIT 10").unwrap();
        let session = cluster
            .psql_command()
            .args(["-X", "-d", &conninfo(&cluster, &pki, "alice", "alice", ""), "-c", "SELECT pg_sleep(60)"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'alice'").unwrap() != "1" {
            assert!(Instant::now() < deadline, "alice's session did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let tmp = tempfile::tempdir().unwrap();
        let restore_file = tmp.path().join("restore_login");
        let superuser = conninfo(&cluster, &pki, "postgres", "postgres", "");
        let text = ok(&["lock", &superuser, "--keep", "bob", "--restore-file", restore_file.to_str().unwrap()]);
        assert!(text.contains("Locked 2 role(s)") && text.contains("ended 1 session(s)"), "{text}");
        let ended = session.wait_with_output().unwrap();
        assert!(
            String::from_utf8_lossy(&ended.stderr).contains("terminating connection due to administrator command"),
            "{}",
            String::from_utf8_lossy(&ended.stderr)
        );
        let alice = psql(&cluster, &conninfo(&cluster, &pki, "alice", "alice", ""), WHO);
        assert!(!alice.ok && alice.stderr.contains("not permitted to log in"), "{}", alice.stderr);
        let bob = psql(&cluster, &conninfo(&cluster, &pki, "bob", "bob", ""), WHO);
        assert_eq!(bob.stdout, "bob", "a kept role still logs in: {}", bob.stderr);
        assert_eq!(
            cluster.psql("SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE NOT rolcanlogin AND rolname IN ('alice','bob','carol')").unwrap(),
            "alice,carol"
        );

        let text = ok(&["restore", &superuser]);
        assert!(text.contains("Restored LOGIN for 2 role(s)"), "{text}");
        let alice = psql(&cluster, &conninfo(&cluster, &pki, "alice", "alice", ""), WHO);
        assert_eq!(alice.stdout, "alice", "{}", alice.stderr);
    }
);
