//! Ledgers that someone other than pgharden prepared (review R5, §7): a database owner who is not a
//! superuser creates `pgharden.locked_roles` first, with a trigger that escalates, a row naming a
//! NOLOGIN superuser, or any row to block the lock; a superuser's ledger that grants to others; and
//! every other kind of ledger the trust check refuses. Also what that owner can set for every
//! session of the database, and the advisory key taken by someone else.

use std::time::{Duration, Instant};

use pgharden_testcluster::Cluster;

use super::{conn_as, login_roles, psql_as, run, set, sleeper, wait_for};

/// A ledger as appowner makes it, shaped like pgharden's and open to everyone.
const PREPARED: &str = "CREATE SCHEMA pgharden; \
    CREATE TABLE pgharden.locked_roles (rolname name PRIMARY KEY, locked_at timestamptz NOT NULL DEFAULT now(), \
        locked_by name NOT NULL DEFAULT session_user); \
    GRANT ALL ON SCHEMA pgharden TO PUBLIC; GRANT ALL ON pgharden.locked_roles TO PUBLIC;";

/// The usual ledger's table as a superuser would make it by hand.
const TABLE: &str = "CREATE TABLE pgharden.locked_roles (rolname name PRIMARY KEY, \
    locked_at timestamptz NOT NULL DEFAULT now(), locked_by name NOT NULL DEFAULT session_user);";

/// A cluster with `appowner` (not a superuser, owner of database appdb), three more login roles,
/// and `breakglass`, a superuser that cannot log in.
fn attack_cluster() -> Cluster {
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    cluster
        .psql(
            "CREATE ROLE appowner LOGIN; CREATE ROLE app1 LOGIN; CREATE ROLE app2 LOGIN; CREATE ROLE app3 LOGIN; \
             CREATE ROLE breakglass SUPERUSER NOLOGIN; CREATE DATABASE appdb OWNER appowner;",
        )
        .unwrap();
    cluster
}

fn flag(cluster: &Cluster, column: &str, role: &str) -> bool {
    cluster.psql(&format!("SELECT {column} FROM pg_roles WHERE rolname = '{role}'")).unwrap() == "t"
}

fn is_superuser(cluster: &Cluster, role: &str) -> bool {
    flag(cluster, "rolsuper", role)
}

fn can_login(cluster: &Cluster, role: &str) -> bool {
    flag(cluster, "rolcanlogin", role)
}

/// The ledger of pgharden's own that a lock's text says it used.
fn own_ledger(text: &str) -> String {
    let start = text.find("Recorded in pgharden_").unwrap_or_else(|| panic!("no own ledger in:\n{text}"))
        + "Recorded in ".len();
    let schema = &text[start..start + "pgharden_".len() + 16];
    assert!(schema["pgharden_".len()..].bytes().all(|b| b.is_ascii_hexdigit()), "{text}");
    format!("{schema}.locked_roles")
}

/// Lock `db` (the usual ledger not trusted), check the lock's own ledger, restore, and check that
/// exactly the locked roles came back. Returns the lock's and the restore's text.
fn lock_and_restore_past_an_untrusted_ledger(cluster: &Cluster, db: &str) -> (String, String) {
    let before = login_roles(cluster);
    let conn = conn_as(cluster, "postgres", db);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join(".restore_login");
    let (ok, lock_text) = run(&["lock", &conn, "--restore-file", file.to_str().unwrap()]);
    assert!(ok, "{lock_text}");
    assert!(!is_superuser(cluster, "appowner"), "code ran as the superuser:\n{lock_text}");
    assert!(
        lock_text.contains(&format!("The ledger pgharden.locked_roles of database {db} is not trusted")),
        "{lock_text}"
    );
    let own = own_ledger(&lock_text);
    assert!(
        lock_text.contains(&format!("Recorded in {own} of database {db} (pgharden's own ledger")),
        "{lock_text}"
    );
    assert_eq!(login_roles(cluster), set(&["postgres"]));
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.lines().next().unwrap().contains(&own), "the restore file names the ledger: {written}");
    let schema = own.trim_end_matches(".locked_roles");
    assert_eq!(
        cluster
            .psql_db(
                db,
                &format!(
                    "SELECT n.nspowner::regrole, n.nspacl IS NULL, c.relowner::regrole, c.relacl IS NULL \
                     FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid \
                     WHERE n.nspname = '{schema}' AND c.relname = 'locked_roles'"
                )
            )
            .unwrap(),
        "postgres|t|postgres|t",
        "pgharden's own ledger is the superuser's and private"
    );
    let (ok, restore_text) = run(&["restore", &conn]);
    assert!(ok, "{restore_text}");
    assert!(
        restore_text.contains(&format!(
            "Restored LOGIN for {} role(s) recorded in {own} of database {db}",
            before.len() - 1
        )) && restore_text.contains("is not trusted (its rows were not read"),
        "{restore_text}"
    );
    assert_eq!(login_roles(cluster), before, "exactly the locked roles came back");
    assert!(!is_superuser(cluster, "appowner"), "code ran as the superuser:\n{restore_text}");
    (lock_text, restore_text)
}

/// R5 (a): the trigger on appowner's ledger used to run `ALTER ROLE appowner SUPERUSER` as the
/// superuser who locked.
#[test]
fn a_trigger_on_a_prepared_ledger_never_runs_as_the_superuser() {
    let cluster = attack_cluster();
    psql_as(
        &cluster,
        "appowner",
        "appdb",
        &format!(
            "{PREPARED} \
             CREATE FUNCTION pgharden.escalate() RETURNS trigger LANGUAGE plpgsql AS \
               $$ BEGIN ALTER ROLE appowner SUPERUSER; RETURN NULL; END $$; \
             CREATE TRIGGER escalate AFTER INSERT OR DELETE ON pgharden.locked_roles \
               FOR EACH STATEMENT EXECUTE FUNCTION pgharden.escalate();"
        ),
    );
    let (lock_text, restore_text) = lock_and_restore_past_an_untrusted_ledger(&cluster, "appdb");
    for text in [&lock_text, &restore_text] {
        for reason in [
            "schema pgharden is owned by appowner, which is not a superuser",
            "it is owned by appowner, which is not a superuser",
            "it has trigger(s) escalate",
            "it grants DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE to PUBLIC",
        ] {
            assert!(text.contains(reason), "{reason:?} missing from:\n{text}");
        }
    }
    assert_eq!(
        cluster.psql_db("appdb", "SELECT count(*) FROM pgharden.locked_roles").unwrap(),
        "0",
        "appowner's table was never written"
    );
}

/// R5 (b) and (c): a row naming `breakglass` (a NOLOGIN superuser) used to get it LOGIN from
/// restore, and any row used to make the emergency lock refuse.
#[test]
fn a_row_in_a_prepared_ledger_neither_re_enables_a_superuser_nor_blocks_the_lock() {
    let cluster = attack_cluster();
    psql_as(
        &cluster,
        "appowner",
        "appdb",
        &format!("{PREPARED} INSERT INTO pgharden.locked_roles (rolname) VALUES ('breakglass');"),
    );
    let conn = conn_as(&cluster, "postgres", "appdb");
    let (ok, text) = run(&["restore", &conn]);
    assert!(ok, "{text}");
    assert!(!can_login(&cluster, "breakglass"), "restore gave a NOLOGIN superuser LOGIN:\n{text}");
    assert!(
        text.contains(
            "The ledger pgharden.locked_roles of database appdb is not trusted (its rows were not read"
        ) && text.contains("Nothing to restore: no roles are recorded in a trusted ledger of database appdb"),
        "{text}"
    );
    lock_and_restore_past_an_untrusted_ledger(&cluster, "appdb");
    assert!(!can_login(&cluster, "breakglass"));
}

/// A ledger pgharden made, to which a superuser then granted INSERT for appowner.
#[test]
fn a_superuser_ledger_that_grants_insert_to_another_role_is_not_trusted() {
    let cluster = attack_cluster();
    let conn = conn_as(&cluster, "postgres", "appdb");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join(".restore_login");
    let (ok, text) = run(&["lock", &conn, "--restore-file", file.to_str().unwrap()]);
    assert!(ok && text.contains("Recorded in pgharden.locked_roles of database appdb and in"), "{text}");
    let (ok, text) = run(&["restore", &conn]);
    assert!(ok && text.contains("recorded in pgharden.locked_roles of database appdb"), "{text}");
    cluster
        .psql_db(
            "appdb",
            "GRANT USAGE ON SCHEMA pgharden TO appowner; GRANT INSERT ON pgharden.locked_roles TO appowner;",
        )
        .unwrap();
    psql_as(
        &cluster,
        "appowner",
        "appdb",
        "INSERT INTO pgharden.locked_roles (rolname) VALUES ('breakglass')",
    );
    let (ok, text) = run(&["restore", &conn]);
    assert!(ok, "{text}");
    assert!(!can_login(&cluster, "breakglass"), "restore gave a NOLOGIN superuser LOGIN:\n{text}");
    assert!(text.contains("it grants INSERT to appowner"), "{text}");
    let (lock_text, _) = lock_and_restore_past_an_untrusted_ledger(&cluster, "appdb");
    assert!(lock_text.contains("schema pgharden grants USAGE to appowner"), "{lock_text}");
    assert!(!can_login(&cluster, "breakglass"));
}

/// Every reason the trust check knows, each in a database of its own, and the lock still works.
#[test]
fn every_kind_of_untrusted_ledger_is_refused_with_its_reason() {
    let cluster = attack_cluster();
    // (what a superuser runs, what appowner runs first, a reason the lock must give)
    let variants: &[(&str, &str, &str)] = &[
        (
            "GRANT USAGE ON SCHEMA pgharden TO appowner; GRANT INSERT (rolname) ON pgharden.locked_roles TO appowner;",
            "",
            "its columns grant INSERT on rolname to appowner",
        ),
        ("GRANT SELECT ON pgharden.locked_roles TO PUBLIC;", "", "it grants SELECT to PUBLIC"),
        ("GRANT CREATE ON SCHEMA pgharden TO appowner;", "", "schema pgharden grants CREATE to appowner"),
        (
            "ALTER TABLE pgharden.locked_roles OWNER TO appowner;",
            "",
            "it is owned by appowner, which is not a superuser",
        ),
        (
            "CREATE FUNCTION public.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$; \
             CREATE TRIGGER quiet AFTER INSERT ON pgharden.locked_roles FOR EACH ROW EXECUTE FUNCTION public.noop(); \
             ALTER TABLE pgharden.locked_roles DISABLE TRIGGER quiet;",
            "",
            "it has trigger(s) quiet",
        ),
        (
            "CREATE RULE tell AS ON INSERT TO pgharden.locked_roles DO ALSO NOTIFY pgharden;",
            "",
            "it has rule(s) tell",
        ),
        (
            "CREATE POLICY everyone ON pgharden.locked_roles USING (true);",
            "",
            "it has row-level security policy(ies) everyone",
        ),
        (
            "CREATE FUNCTION public.who() RETURNS name LANGUAGE sql AS 'SELECT session_user'; \
             ALTER TABLE pgharden.locked_roles ALTER locked_by SET DEFAULT public.who();",
            "",
            "use, from outside pg_catalog, function public.who()",
        ),
        (
            "CREATE FUNCTION public.f(name) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT $1::text'; \
             CREATE INDEX ON pgharden.locked_roles (public.f(rolname));",
            "",
            "use, from outside pg_catalog, function public.f(name)",
        ),
        (
            "CREATE TABLE public.more () INHERITS (pgharden.locked_roles);",
            "",
            "it is inherited by public.more",
        ),
        (TABLE, "CREATE SCHEMA pgharden;", "schema pgharden is owned by appowner, which is not a superuser"),
        (
            "DROP SCHEMA pgharden CASCADE; CREATE SCHEMA pgharden; \
             CREATE VIEW pgharden.locked_roles AS SELECT 'x'::name AS rolname;",
            "",
            "it is a view, not a plain table",
        ),
        (
            "DROP SCHEMA pgharden CASCADE; CREATE SCHEMA pgharden; \
             CREATE TABLE pgharden.locked_roles (rolname name) PARTITION BY LIST (rolname);",
            "",
            "it is a partitioned table, not a plain table",
        ),
        (
            "DROP SCHEMA pgharden CASCADE; CREATE SCHEMA pgharden; CREATE TYPE pgharden.locked_roles AS ENUM ('x');",
            "",
            "schema pgharden holds a type named locked_roles",
        ),
        (
            "DROP SCHEMA pgharden CASCADE; CREATE SCHEMA pgharden; \
             CREATE TABLE pgharden.locked_roles (who name, note text NOT NULL);",
            "",
            "it lacks the column rolname of type name",
        ),
    ];
    for (i, (as_superuser, as_owner, reason)) in variants.iter().enumerate() {
        let db = format!("v{i}");
        cluster.psql(&format!("CREATE DATABASE {db} OWNER appowner")).unwrap();
        if !as_owner.is_empty() {
            psql_as(&cluster, "appowner", &db, as_owner);
        }
        // The usual ledger, made by the superuser unless appowner made the schema.
        let usual =
            if as_owner.is_empty() { format!("CREATE SCHEMA pgharden; {TABLE}") } else { String::new() };
        cluster.psql_db(&db, &format!("{usual} {as_superuser}")).unwrap();
        let (lock_text, restore_text) = lock_and_restore_past_an_untrusted_ledger(&cluster, &db);
        assert!(lock_text.contains(reason), "{db}: {reason:?} missing from:\n{lock_text}");
        assert!(restore_text.contains(reason), "{db}: {reason:?} missing from:\n{restore_text}");
    }

    // A superuser's default privileges would grant on the ledger pgharden creates: it revokes them,
    // so the ledger stays trusted and restore uses it.
    cluster.psql("CREATE DATABASE defaults").unwrap();
    cluster
        .psql_db(
            "defaults",
            "ALTER DEFAULT PRIVILEGES FOR ROLE postgres GRANT SELECT, INSERT ON TABLES TO appowner; \
             ALTER DEFAULT PRIVILEGES FOR ROLE postgres GRANT USAGE ON SCHEMAS TO PUBLIC;",
        )
        .unwrap();
    let before = login_roles(&cluster);
    let conn = conn_as(&cluster, "postgres", "defaults");
    let tmp = tempfile::tempdir().unwrap();
    let (ok, text) = run(&["lock", &conn, "--restore-file", tmp.path().join("f").to_str().unwrap()]);
    assert!(ok && text.contains("Recorded in pgharden.locked_roles of database defaults and"), "{text}");
    assert!(!text.contains("not trusted"), "{text}");
    let (ok, text) = run(&["restore", &conn]);
    assert!(ok && text.contains("recorded in pgharden.locked_roles of database defaults"), "{text}");
    assert_eq!(login_roles(&cluster), before);
}

/// A database's owner can set, for every session in it: `role` (a superuser's session then runs as
/// the owner), a search_path that puts its own `current_database()` before pg_catalog, read-only
/// and serializable transactions, and standard_conforming_strings off (which changes what a
/// backslash in a quoted name means).
#[test]
fn what_a_database_owner_sets_for_every_session_does_not_steer_lock_or_restore() {
    let cluster = attack_cluster();
    cluster.psql("CREATE ROLE \"back\\slash'\" LOGIN; CREATE DATABASE appdb2 OWNER appowner;").unwrap();
    psql_as(
        &cluster,
        "appowner",
        "appdb",
        "CREATE SCHEMA evil; GRANT USAGE ON SCHEMA evil TO PUBLIC; \
         CREATE FUNCTION evil.current_database() RETURNS name LANGUAGE plpgsql AS \
           $$ BEGIN ALTER ROLE appowner SUPERUSER; RETURN 'appdb'; EXCEPTION WHEN OTHERS THEN RETURN 'appdb'; END $$; \
         ALTER DATABASE appdb SET search_path = evil, pg_catalog, public; \
         ALTER DATABASE appdb SET default_transaction_read_only = on; \
         ALTER DATABASE appdb SET default_transaction_isolation = serializable; \
         ALTER DATABASE appdb SET standard_conforming_strings = off;",
    );
    psql_as(&cluster, "appowner", "appdb2", "ALTER DATABASE appdb2 SET role = appowner");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join(".restore_login");
    for db in ["appdb", "appdb2"] {
        let before = login_roles(&cluster);
        let conn = conn_as(&cluster, "postgres", db);
        let (ok, text) =
            run(&["lock", &conn, "--keep", "back\\slash'", "--restore-file", file.to_str().unwrap()]);
        assert!(ok, "{db}: {text}");
        assert!(!is_superuser(&cluster, "appowner"), "{db}: code ran as the superuser:\n{text}");
        assert!(text.contains(&format!("Recorded in pgharden.locked_roles of database {db} and")), "{text}");
        assert_eq!(login_roles(&cluster), set(&["back\\slash'", "postgres"]), "{db}: {text}");
        let (ok, text) = run(&["restore", &conn]);
        assert!(ok, "{db}: {text}");
        assert_eq!(login_roles(&cluster), before, "{db}");
        assert!(!is_superuser(&cluster, "appowner"), "{db}: code ran as the superuser:\n{text}");
    }
}

/// Anyone may take an advisory lock: a role that is not a superuser holding pgharden's key must not
/// stall the emergency lock (it waits only for other superusers' runs).
#[test]
fn a_non_superuser_holding_the_advisory_key_does_not_stall_the_lock() {
    let cluster = attack_cluster();
    let before = login_roles(&cluster);
    let mut holder = sleeper(
        &cluster,
        "app1",
        "appdb",
        &format!("SELECT pg_advisory_lock({}); SELECT pg_sleep(60)", pgharden_cluster::lock::ADVISORY_KEY),
    );
    wait_for(&cluster, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted");
    let conn = conn_as(&cluster, "postgres", "appdb");
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (ok, text) = run(&["lock", &conn, "--restore-file", tmp.path().join("f").to_str().unwrap()]);
    assert!(ok, "{text}");
    assert!(started.elapsed() < Duration::from_secs(30), "the lock waited {:?}", started.elapsed());
    assert_eq!(login_roles(&cluster), set(&["postgres"]));
    let _ = holder.kill();
    let _ = holder.wait();
    let (ok, text) = run(&["restore", &conn]);
    assert!(ok, "{text}");
    assert_eq!(login_roles(&cluster), before);
}

/// Any role with CREATE on the database can begin creating schema `pgharden` and keep its
/// transaction open: the lock must not wait for it (it gives up on the usual ledger after a moment
/// and uses one of its own).
#[test]
fn an_uncommitted_schema_of_that_name_does_not_stall_the_lock() {
    let cluster = attack_cluster();
    let before = login_roles(&cluster);
    let mut holder =
        sleeper(&cluster, "appowner", "appdb", "BEGIN; CREATE SCHEMA pgharden; SELECT pg_sleep(60);");
    wait_for(
        &cluster,
        "SELECT count(*) FROM pg_stat_activity WHERE usename = 'appowner' AND wait_event = 'PgSleep'",
    );
    let conn = conn_as(&cluster, "postgres", "appdb");
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (ok, text) = run(&["lock", &conn, "--restore-file", tmp.path().join("f").to_str().unwrap()]);
    assert!(started.elapsed() < Duration::from_secs(30), "the lock waited {:?}", started.elapsed());
    assert!(ok, "{text}");
    assert!(text.contains("creating it failed"), "{text}");
    let own = own_ledger(&text);
    assert_eq!(login_roles(&cluster), set(&["postgres"]));
    let _ = holder.wait(); // appowner is locked and its session ended
    let (ok, text) = run(&["restore", &conn]);
    assert!(ok && text.contains(&format!("recorded in {own}")), "{text}");
    assert_eq!(login_roles(&cluster), before);
}
