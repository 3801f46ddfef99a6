//! `pgharden lock` / `restore` on a real cluster: 2,000 roles with hostile names, open sessions,
//! hand-locked roles, a second lock, and crashes of pgharden and of the server mid-lock; ledgers
//! that a database owner prepared (a trigger that escalates, rows that would re-enable a superuser
//! or block the lock, grants, rules, policies, foreign code, odd relation kinds), hostile database
//! settings, a non-superuser lock, unknown `--keep` roles, failures after the COMMIT, concurrent
//! first-time locks, and names that would drive the terminal.

use std::collections::BTreeSet;
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use pgharden_testcluster::Cluster;

use crate::support::pgharden;

mod ledger;

const LEDGER: &str = "pgharden.locked_roles";

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
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
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

/// A connection string for `role` to database `db` through the cluster's socket.
fn conn_as(cluster: &Cluster, role: &str, db: &str) -> String {
    let quote = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
    format!(
        "host={} port={} user={} dbname={}",
        cluster.socket_dir().display(),
        cluster.port(),
        quote(role),
        quote(db)
    )
}

/// Run `sql` as `role` in `db` with psql; it must succeed.
fn psql_as(cluster: &Cluster, role: &str, db: &str, sql: &str) -> String {
    let out = crate::support::psql(cluster, &conn_as(cluster, role, db), sql);
    assert!(out.ok, "psql as {role} in {db} failed: {}\n{sql}", out.stderr);
    out.stdout
}

/// A session of `role` that sleeps until terminated.
fn session(cluster: &Cluster, role: &str) -> Child {
    sleeper(cluster, role, "postgres", "SELECT pg_sleep(60)")
}

/// psql as `role` in `db` running `sql` (which should end in a long sleep), in the background.
fn sleeper(cluster: &Cluster, role: &str, db: &str, sql: &str) -> Child {
    cluster
        .psql_command()
        .args(["-X", "-d", &conn_as(cluster, role, db), "-c", sql])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn run(args: &[&str]) -> (bool, String) {
    let (code, text) = run_code(args);
    (code == Some(0), text)
}

/// The exit code and stdout + stderr.
fn run_code(args: &[&str]) -> (Option<i32>, String) {
    let out = pgharden().args(args).output().unwrap();
    (out.status.code(), text_of(&out))
}

fn text_of(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
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
    let file = std::fs::read_to_string(&restore_file).unwrap();
    assert!(file.starts_with("# pgharden lock of database \"postgres\"") && file.contains(LEDGER), "{file}");
    assert_eq!(file.lines().count(), 1 + 2000 + HOSTILE.len(), "a comment line, then one role a line");

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

/// Poll until `query` returns a non-zero count (for up to 30 s).
fn wait_for(cluster: &Cluster, query: &str) {
    for _ in 0..1500 {
        if cluster.psql(query).map(|c| c != "0").unwrap_or(false) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for: {query}");
}

/// The roles in the JSON that `lock --json` printed on stdout.
fn json_roles(out: &Output) -> Vec<String> {
    let value: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: not JSON:\n{}", text_of(out)));
    value["roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect()
}

fn schemas_named_pgharden(cluster: &Cluster) -> String {
    cluster.psql("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'pgharden%'").unwrap()
}

/// Review R14: a CREATEROLE role's lock used to commit half way; a `--keep` typo was accepted and
/// locked the role meant to be kept; a dry run listed superusers a non-superuser cannot lock.
#[test]
fn a_lock_by_a_non_superuser_or_with_an_unknown_keep_role_changes_nothing() {
    let cluster = setup(20);
    cluster.psql("CREATE ROLE admin_cr LOGIN CREATEROLE; CREATE ROLE admin2 LOGIN SUPERUSER;").unwrap();
    let before = login_roles(&cluster);
    let mut app = session(&cluster, "user_1");
    let tmp = tempfile::tempdir().unwrap();
    let restore_file = tmp.path().join(".restore_login");
    let file = restore_file.to_str().unwrap();
    let createrole = conn_as(&cluster, "admin_cr", "postgres");
    let superuser = conninfo(&cluster);
    for dry_run in [false, true] {
        let mut args =
            vec!["lock", &createrole, "--keep", "admin2", "--keep", "no_such_role", "--restore-file", file];
        if dry_run {
            args.push("--dry-run");
        }
        let (code, text) = run_code(&args);
        assert_eq!(code, Some(2), "{text}");
        assert!(
            text.contains("role admin_cr is not a superuser") && text.contains("nothing was changed"),
            "{text}"
        );
        assert_eq!(login_roles(&cluster), before, "dry run: {dry_run}");
        assert_eq!(schemas_named_pgharden(&cluster), "0", "no ledger was created");
        assert!(!restore_file.exists());

        args[1] = &superuser;
        let (code, text) = run_code(&args);
        assert_eq!(code, Some(2), "{text}");
        assert!(text.contains("no such role to keep: \"no_such_role\"; nothing was changed"), "{text}");
        assert_eq!(login_roles(&cluster), before, "dry run: {dry_run}");
        assert_eq!(schemas_named_pgharden(&cluster), "0");
        assert!(!restore_file.exists());
    }
    assert_eq!(
        cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'user_1'").unwrap(),
        "1",
        "no session was ended"
    );

    // A superuser's dry run lists exactly what its lock then locks, other superusers included.
    let dry =
        pgharden().args(["lock", &superuser, "--dry-run", "--json", "--keep", "keeper"]).output().unwrap();
    assert!(dry.status.success(), "{}", text_of(&dry));
    let real = pgharden()
        .args(["lock", &superuser, "--json", "--keep", "keeper", "--restore-file", file])
        .output()
        .unwrap();
    assert!(real.status.success(), "{}", text_of(&real));
    let locked = json_roles(&real);
    assert_eq!(json_roles(&dry), locked);
    assert!(locked.contains(&"admin2".to_string()) && locked.contains(&"admin_cr".to_string()), "{locked:?}");
    assert_eq!(login_roles(&cluster), set(&["keeper", "postgres"]));
    assert!(!app.wait().unwrap().success(), "the locked role's session was ended");
    let (ok, text) = run(&["restore", &superuser]);
    assert!(ok, "{text}");
    assert_eq!(login_roles(&cluster), before);
}

/// A restore file the user named that cannot be written is refused before anything is locked.
#[test]
fn a_named_restore_file_that_cannot_be_written_is_refused_before_anything_is_locked() {
    let cluster = setup(20);
    let before = login_roles(&cluster);
    let conn = conninfo(&cluster);
    let tmp = tempfile::tempdir().unwrap();
    let restore_file = tmp.path().join("missing-dir").join(".restore_login");
    let (code, text) = run_code(&["lock", &conn, "--restore-file", restore_file.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{text}");
    for expected in ["the restore file", "missing-dir", "cannot be written", "nothing was changed"] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
    assert_eq!(text.matches("No such file or directory").count(), 1, "the cause once:\n{text}");
    assert_eq!(login_roles(&cluster), before, "nothing was locked");
    assert_eq!(schemas_named_pgharden(&cluster), "0", "no ledger was made");
}

/// The emergency as the cluster's owner meets it: run as `postgres` from a directory it cannot
/// write (/, root's), the lock succeeds (exit 0), writes the restore file in its XDG state
/// directory and says so; with a HOME it cannot write either, it warns and still exits 0. A dry
/// run while the lock is in force says since when and that a lock would refuse.
#[test]
fn the_owner_locks_from_a_directory_it_cannot_write_and_is_told_where_the_file_went() {
    let cluster = setup(3);
    let owner = crate::support::attacker();
    let tmp = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(tmp.path(), Some(owner.uid), Some(owner.gid)).unwrap();
    let home = crate::support::owned_dir(&owner, tmp.path(), "home");
    let conn = conninfo(&cluster);
    let as_owner = |home: &std::path::Path, args: &[&str]| {
        let mut cmd = crate::support::as_user(&owner, env!("CARGO_BIN_EXE_pgharden"));
        cmd.env("HOME", home).env("NO_COLOR", "1").args(args);
        let out = crate::support::run_bounded(&mut cmd, Duration::from_secs(60));
        (out.code, out.text())
    };

    let (code, text) = as_owner(&home, &["lock", &conn]);
    assert_eq!(code, Some(0), "{text}");
    let state = home.join(".local/state/pgharden");
    let written: Vec<_> = std::fs::read_dir(&state).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(written.len(), 1, "{written:?}");
    let file = &written[0];
    let name = file.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("restore_login-postgres-20"), "{name}");
    assert!(text.contains(&format!("and in {} (mode 0600", file.display())), "{text}");
    assert!(text.contains(".restore_login could not be written"), "{text}");
    assert_eq!(crate::support::mode(file), 0o600);
    let listed: BTreeSet<String> =
        std::fs::read_to_string(file).unwrap().lines().skip(1).map(str::to_string).collect();
    assert_eq!(listed, login_roles_before_lock(), "the file lists the locked roles");

    let (code, text) = as_owner(&home, &["lock", &conn, "--dry-run"]);
    assert_eq!(code, Some(2), "{text}");
    let today = time::OffsetDateTime::now_utc().year().to_string();
    for expected in [
        format!("{} role(s) are already locked by an earlier `pgharden lock` since {today}-", listed.len()),
        format!("(recorded in {LEDGER}): a lock now would refuse"),
        format!("restore {}", quoted(&conn)),
    ] {
        assert!(text.contains(&expected), "{expected:?} missing from:\n{text}");
    }
    let (code, text) = as_owner(&home, &["restore", &conn]);
    assert_eq!(code, Some(0), "{text}");

    // Neither the current directory nor HOME (/) is writable: a warning, exit 0, restore works.
    let (code, text) = as_owner(std::path::Path::new("/"), &["lock", &conn]);
    assert_eq!(code, Some(0), "{text}");
    for expected in [
        "warning: no restore file could be written",
        "recorded in pgharden.locked_roles of database postgres; `pgharden restore` reads them there and needs no file",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
    assert_eq!(login_roles(&cluster), set(&["postgres"]));
    let (code, text) = as_owner(&home, &["restore", &conn]);
    assert!(
        code == Some(0) && text.contains(&format!("Restored LOGIN for {} role(s)", listed.len())),
        "{text}"
    );
}

/// The roles `setup(3)` makes that a lock takes.
fn login_roles_before_lock() -> BTreeSet<String> {
    let mut roles: BTreeSet<String> = (1..=3).map(|i| format!("user_{i}")).collect();
    roles.extend(HOSTILE.iter().map(|h| quoted_in_file(h)));
    roles.insert("keeper".to_string());
    roles
}

/// A name as the restore file writes it (odd ones quoted as identifiers).
fn quoted_in_file(name: &str) -> String {
    let odd = name.contains(['\n', '\r']) || name.starts_with(['#', '"']) || name.trim() != name;
    if odd { format!("\"{}\"", name.replace('"', "\"\"")) } else { name.to_string() }
}

/// `value` as a printed command quotes it (the conninfo has spaces).
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// Root without a role is refused by the server; the error names the owner's command, which runs
/// as printed.
#[test]
fn root_without_a_role_is_told_the_owners_exact_command_and_it_runs() {
    let cluster = setup(2);
    let before = login_roles(&cluster);
    let conn = format!("host={} port={} dbname=postgres", cluster.socket_dir().display(), cluster.port());
    let (code, text) = run_code(&["lock", &conn, "--dry-run"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("as root it logs in as role root, which the server refused"), "{text}");
    let printed = text.lines().find_map(|l| l.split_once(": runuser ").map(|(_, c)| c)).unwrap();
    let printed = format!("runuser {printed}");
    assert!(printed.starts_with("runuser -u postgres -- "), "{printed}");
    assert!(printed.ends_with(&format!("lock {} --dry-run", quoted(&conn))), "{printed}");
    let out = std::process::Command::new("sh").args(["-c", &printed]).output().unwrap();
    let said = text_of(&out);
    assert!(out.status.success() && said.contains("Would lock"), "{printed}:\n{said}");
    assert_eq!(login_roles(&cluster), before, "a dry run changes nothing");
}

/// Review R14 (the session part): ending sessions fails after the lock committed. The lock is made
/// to stop half way (another session holds a role's catalog row) while it holds the ledger; a
/// second session then queues for the ledger, so after the COMMIT ending sessions (which reads
/// the ledger) waits, and the test breaks pgharden's connection right there.
#[test]
fn a_failure_to_end_sessions_after_the_commit_still_writes_the_restore_file() {
    let cluster = setup(50);
    let before = login_roles(&cluster);
    let conn = conninfo(&cluster);
    let tmp = tempfile::tempdir().unwrap();
    let restore_file = tmp.path().join(".restore_login");
    let file = restore_file.to_str().unwrap();
    // A first lock and restore make the (trusted) usual ledger, which the queued session locks.
    assert!(run(&["lock", &conn, "--restore-file", file]).0);
    assert!(run(&["restore", &conn]).0);
    std::fs::remove_file(&restore_file).unwrap();
    let mut app = session(&cluster, "user_2");

    let mut row_holder = sleeper(
        &cluster,
        "postgres",
        "postgres",
        "BEGIN; ALTER ROLE user_25 CONNECTION LIMIT 5; SELECT pg_sleep(60); COMMIT;",
    );
    wait_for(
        &cluster,
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%CONNECTION LIMIT%' AND wait_event = 'PgSleep'",
    );
    let child = pgharden()
        .args(["lock", &conn, "--restore-file", file])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(
        &cluster,
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%ALTER ROLE%NOLOGIN%'",
    );
    let mut queued = sleeper(
        &cluster,
        "postgres",
        "postgres",
        "BEGIN; LOCK TABLE pgharden.locked_roles IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT;",
    );
    wait_for(
        &cluster,
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%ACCESS EXCLUSIVE MODE%'",
    );
    cluster
        .psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%CONNECTION LIMIT%' AND pid <> pg_backend_pid()")
        .unwrap();
    let _ = row_holder.wait();
    let ending = "FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%pg_terminate_backend(a.pid)%' \
                  AND pid <> pg_backend_pid()";
    wait_for(&cluster, &format!("SELECT count(*) {ending}"));
    cluster.psql(&format!("SELECT pg_terminate_backend(pid) {ending}")).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = text_of(&out);
    cluster
        .psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%ACCESS EXCLUSIVE MODE%' AND pid <> pg_backend_pid()")
        .unwrap();
    let _ = queued.wait();

    assert_eq!(out.status.code(), Some(2), "{text}");
    let locked = before.len() - 1;
    for expected in [
        &format!("{locked} role(s) ARE LOCKED (NOLOGIN), but ending their sessions failed"),
        "may still be running",
        &format!("recorded in pgharden.locked_roles of database postgres and in {file} (mode 0600)"),
        // The binary is not on PATH: the command names it by its path, as it runs.
        &format!(
            "Undo with: {} restore {}",
            std::fs::canonicalize(env!("CARGO_BIN_EXE_pgharden")).unwrap().display(),
            quoted(&conn)
        ),
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
    let written = std::fs::read_to_string(&restore_file).expect("the restore file is written");
    assert_eq!(written.lines().count(), 1 + locked, "{written}");
    assert!(written.lines().any(|l| l == "user_25"), "{written}");
    assert_eq!(crate::support::mode(&restore_file), 0o600);
    assert_eq!(login_roles(&cluster), set(&["postgres"]));
    assert_eq!(
        cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'user_2'").unwrap(),
        "1",
        "the session that was not ended is still there, as the message says"
    );
    let _ = app.kill();
    let _ = app.wait();
    let (ok, text) = run(&["restore", &conn]);
    assert!(ok, "{text}");
    assert_eq!(login_roles(&cluster), before);
}

/// Review §16: two first-time locks at once used to give the loser raw catalog errors
/// (`duplicate key value violates unique constraint "pg_namespace_nspname_index"`). In odd rounds
/// another session is creating schema `pgharden` and has not committed, so both locks reach their
/// CREATE SCHEMA and wait for it, the moment that error came from; it then rolls back.
#[test]
fn concurrent_first_time_locks_take_turns() {
    let cluster = setup(100);
    let before = login_roles(&cluster);
    let tmp = tempfile::tempdir().unwrap();
    for round in 0..6 {
        let db = format!("round_{round}");
        cluster.psql(&format!("CREATE DATABASE {db}")).unwrap();
        let holder = (round % 2 == 1).then(|| {
            let child =
                sleeper(&cluster, "postgres", &db, "BEGIN; CREATE SCHEMA pgharden; SELECT pg_sleep(60);");
            wait_for(
                &cluster,
                &format!(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' AND wait_event = 'PgSleep'"
                ),
            );
            child
        });
        let conn = conn_as(&cluster, "postgres", &db);
        let mut children: Vec<Child> = (0..2)
            .map(|i| {
                let file = tmp.path().join(format!("{db}-{i}"));
                pgharden()
                    .args(["lock", &conn, "--restore-file", file.to_str().unwrap()])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        if let Some(mut holder) = holder {
            // Both wait: for the schema, or (with the fix) one for the other's advisory lock.
            let waiting = format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid() \
                 AND query NOT LIKE '%pg_sleep(60)%' AND (wait_event_type = 'Lock' OR state = 'idle in transaction')"
            );
            let started = std::time::Instant::now();
            while cluster.psql(&waiting).unwrap() != "2"
                && !children.iter_mut().any(|c| c.try_wait().unwrap().is_some())
            {
                assert!(started.elapsed() < Duration::from_secs(30), "round {round}: the locks never met");
                std::thread::sleep(Duration::from_millis(10));
            }
            cluster
                .psql(&format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}' \
                     AND query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()"
                ))
                .unwrap();
            let _ = holder.wait();
        }
        let outs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
        let texts: Vec<String> = outs.iter().map(text_of).collect();
        let winners = outs.iter().filter(|o| o.status.success()).count();
        assert_eq!(winners, 1, "round {round}: {texts:#?}");
        let loser = outs.iter().position(|o| !o.status.success()).unwrap();
        assert_eq!(outs[loser].status.code(), Some(2), "{texts:#?}");
        assert!(
            texts[loser].contains("are already locked by an earlier `pgharden lock`")
                && !texts[loser].contains("ERROR"),
            "round {round}: the loser should get a clear message: {}",
            texts[loser]
        );
        assert_eq!(login_roles(&cluster), set(&["postgres"]));
        let (ok, text) = run(&["restore", &conn]);
        assert!(ok, "{text}");
        assert_eq!(login_roles(&cluster), before, "round {round}");
    }
}

/// Review §13 for lock/restore: role and owner names are the catalog's, and may hold escapes and
/// line breaks; text output shows them escaped.
#[test]
fn names_from_the_catalog_cannot_drive_the_terminal_or_fake_lines() {
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    cluster
        .psql(
            "CREATE ROLE \"a\x1b[2Jb\" LOGIN; CREATE ROLE \"x\nLocked 0 role(s) (NOLOGIN)\" LOGIN; \
             CREATE ROLE \"own\x1b]0;t\x07er\" NOLOGIN; \
             CREATE SCHEMA pgharden AUTHORIZATION \"own\x1b]0;t\x07er\";",
        )
        .unwrap();
    let conn = conninfo(&cluster);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join(".restore_login");
    for args in [
        vec!["lock", &conn, "--dry-run"],
        vec!["lock", &conn, "--restore-file", file.to_str().unwrap()],
        vec!["restore", &conn],
    ] {
        let (code, text) = run_code(&args);
        assert_eq!(code, Some(0), "{text}");
        assert!(
            !text.contains(['\x1b', '\x07']),
            "raw control characters in the output of {args:?}:\n{text:?}"
        );
        assert!(!text.lines().any(|l| l.starts_with("Locked 0")), "a name made a line of its own:\n{text}");
        assert!(
            text.contains("schema pgharden is owned by \"own\\x1b]0;t\\x07er\", which is not a superuser"),
            "{text}"
        );
        if args[0] == "lock" {
            assert!(
                text.contains("  a\\x1b[2Jb\n") && text.contains("  x\\nLocked 0 role(s) (NOLOGIN)\n"),
                "{text}"
            );
        }
    }
}
