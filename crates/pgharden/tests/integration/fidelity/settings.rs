//! Group A: settings as every session sees them. A role or database override
//! (`pg_db_role_setting`), an `ALTER SYSTEM` value masked for the auditor's own database, pgaudit
//! class lists with `-class`, `client_min_messages` (must be `error`), `pgaudit.log_level` (only
//! matters with `log_client`), partial class lists, one connection setting off, UTC aliases and
//! `statement_timeout` / `tcp_keepalives_*` (review P2, P3, P4, P8, P9, P17, F3, F4, F6, F7).

use pgharden_testcluster::Cluster;

use super::Want::{Fails, Holds};
use super::{
    Cases, Want, describe, hardened, judge, literal, mended, reset_system, set_system, sql, system_value,
};

/// The value `role` (optionally only in database `db`) has for `name` in `pg_db_role_setting`.
fn role_setting(c: &Cluster, role: Option<&str>, db: Option<&str>, name: &str) -> String {
    let role = role
        .map_or("0".to_string(), |r| format!("(SELECT oid FROM pg_roles WHERE rolname = {})", literal(r)));
    let db = db
        .map_or("0".to_string(), |d| format!("(SELECT oid FROM pg_database WHERE datname = {})", literal(d)));
    sql(
        c,
        &format!(
            "SELECT coalesce((SELECT substr(s, length({n}) + 2) FROM pg_db_role_setting, unnest(setconfig) s \
             WHERE setrole = {role} AND setdatabase = {db} AND s LIKE {n} || '=%'), '')",
            n = literal(name)
        ),
    )
}

/// `ALTER target SET name = 'value'` (target: `ROLE alice`, `DATABASE app`, `ROLE alice IN DATABASE
/// app`), checked in the catalogue.
fn set_override(c: &Cluster, target: &str, name: &str, value: &str) {
    sql(c, &format!("ALTER {target} SET {name} = {}", literal(value)));
    let (role, db) = parse_target(target);
    let stored = role_setting(c, role, db, name);
    assert_eq!(stored, value, "setup: ALTER {target} SET {name} is not in pg_db_role_setting");
}

fn reset_override(c: &Cluster, target: &str, name: &str) {
    sql(c, &format!("ALTER {target} RESET {name}"));
    let (role, db) = parse_target(target);
    assert_eq!(role_setting(c, role, db, name), "", "setup: ALTER {target} RESET {name} left it in place");
}

fn parse_target(target: &str) -> (Option<&str>, Option<&str>) {
    let words: Vec<&str> = target.split_whitespace().collect();
    match words.as_slice() {
        ["ROLE", r] => (Some(r), None),
        ["DATABASE", d] => (None, Some(d)),
        ["ROLE", r, "IN", "DATABASE", d] => (Some(r), Some(d)),
        _ => panic!("unknown override target {target}"),
    }
}

/// One override, judged broken and mended.
fn override_case(
    cases: &mut Cases,
    c: &Cluster,
    target: &str,
    name: &str,
    value: &str,
    want: (&str, Want<'_>),
) {
    set_override(c, target, name, value);
    cases.check(&format!("{target} SET {name}={value}: {}", describe(&[want])), || {
        judge(c, &[], &[want]);
    });
    reset_override(c, target, name);
    mended(cases, c, &format!("{target} RESET {name}"), &[want]);
}

/// One server-wide value, judged, reset, and judged mended.
fn system_case(cases: &mut Cases, c: &Cluster, name: &str, value: &str, wants: &[(&str, Want<'_>)]) {
    let was = set_system(c, name, value);
    cases.check(&format!("ALTER SYSTEM SET {name}={value}: {}", describe(wants)), || {
        judge(c, &[], wants);
    });
    reset_system(c, name, &was);
    mended(cases, c, &format!("ALTER SYSTEM RESET {name}"), wants);
}

#[test]
fn fidelity_settings_every_session_sees() {
    let (_pki, c) = hardened();
    sql(&c, "CREATE ROLE alice LOGIN CONNECTION LIMIT 10");
    sql(&c, "CREATE DATABASE app");
    let mut cases = Cases::new("A, settings as every session sees them");

    // P9: client_min_messages must be `error`, and apply sets it.
    cases.check("P9 baseline: client_min_messages is error after apply, PGH-LOG-02 holds", || {
        assert_eq!(system_value(&c, "client_min_messages"), "error", "apply sets client_min_messages");
        judge(&c, &[], &[("PGH-LOG-02", Holds)]);
    });
    for bad in ["notice", "debug5"] {
        system_case(&mut cases, &c, "client_min_messages", bad, &[("PGH-LOG-02", Fails(&[bad]))]);
    }

    // P2: per-role overrides, each in another rule's setting.
    for (name, value, rule) in [
        ("pgaudit.log", "none", "PGH-AUD-08"),
        ("log_min_error_statement", "panic", "PGH-AUD-06"),
        ("password_encryption", "md5", "PGH-AUTH-04"),
        ("client_min_messages", "debug5", "PGH-LOG-02"),
    ] {
        override_case(&mut cases, &c, "ROLE alice", name, value, (rule, Fails(&["alice"])));
    }

    // P3: per-database and per-role-in-database overrides.
    override_case(&mut cases, &c, "DATABASE app", "pgaudit.log", "none", ("PGH-AUD-08", Fails(&["app"])));
    let both = ("PGH-AUD-08", Fails(&["alice", "app"]));
    override_case(&mut cases, &c, "ROLE alice IN DATABASE app", "pgaudit.log", "none", both);

    // P4: ALTER SYSTEM hidden from the auditor's own database by an override there.
    masked_case(&mut cases, &c, "pgaudit.log", "none", "ddl, role, read, write", "PGH-AUD-08");
    masked_case(&mut cases, &c, "client_min_messages", "notice", "error", "PGH-LOG-02");

    // P8: pgaudit's `-class` subtracts from `all`.
    system_case(&mut cases, &c, "pgaudit.log", "all, -role", &[("PGH-AUD-08", Fails(&[]))]);
    system_case(
        &mut cases,
        &c,
        "pgaudit.log",
        "all, -read",
        &[("PGH-AUD-09", Fails(&[])), ("PGH-AUD-05", Holds)],
    );

    // F4: log_level only matters when pgaudit also tells the client.
    system_case(
        &mut cases,
        &c,
        "pgaudit.log_level",
        "notice",
        &[("PGH-AUD-13", Holds), ("PGH-AUD-18", Holds), ("PGH-AUD-23", Holds)],
    );
    let was_client = set_system(&c, "pgaudit.log_client", "on");
    system_case(&mut cases, &c, "pgaudit.log_level", "notice", &[("PGH-AUD-13", Fails(&[]))]);
    reset_system(&c, "pgaudit.log_client", &was_client);

    // F6: the rules whose text asks only for ddl, write and role.
    system_case(
        &mut cases,
        &c,
        "pgaudit.log",
        "ddl, write, role",
        &[
            ("PGH-AUD-05", Holds),
            ("PGH-AUD-17", Holds),
            ("PGH-AUD-21", Holds),
            ("PGH-LOG-14", Holds),
            ("PGH-LOG-16", Holds),
            ("PGH-LOG-19", Holds),
            ("PGH-AUD-29", Holds),
            ("PGH-AUD-09", Fails(&[])),
        ],
    );

    // F7: LOG-19 is a finding only when both connection settings are off.
    system_case(
        &mut cases,
        &c,
        "log_disconnections",
        "off",
        &[("PGH-LOG-19", Holds), ("PGH-LOG-11", Fails(&[]))],
    );
    system_case(
        &mut cases,
        &c,
        "log_connections",
        "off",
        &[("PGH-LOG-19", Holds), ("PGH-LOG-12", Fails(&[]))],
    );

    // F3: every name of UTC is UTC; another zone is not the one the profile wants.
    for zone in ["Zulu", "Etc/Universal"] {
        system_case(&mut cases, &c, "log_timezone", zone, &[("PGH-LOG-05", Holds)]);
    }
    system_case(&mut cases, &c, "log_timezone", "America/New_York", &[("PGH-LOG-05", Fails(&[]))]);

    timeouts(&mut cases, &c);
    cases.finish();
}

/// P4: `ALTER SYSTEM SET name = bad` while database `postgres` (the auditor's) overrides it with
/// `good`: the rule fails, and the evidence points at postgresql.auto.conf.
fn masked_case(cases: &mut Cases, c: &Cluster, name: &str, bad: &str, good: &str, rule: &str) {
    let was = set_system(c, name, bad);
    set_override(c, "DATABASE postgres", name, good);
    let in_postgres = sql(c, &format!("SELECT current_setting({})", literal(name)));
    assert_eq!(in_postgres, good, "setup: database postgres sees the override");
    let named: &[&str] = if name == "pgaudit.log" { &["postgresql.auto.conf"] } else { &[] };
    cases.check(&format!("ALTER SYSTEM {name}={bad} masked in db postgres by {good}: {rule} fails"), || {
        judge(c, &[], &[(rule, Fails(named))]);
    });
    reset_override(c, "DATABASE postgres", name);
    reset_system(c, name, &was);
    mended(cases, c, &format!("{name} reset system-wide and in db postgres"), &[(rule, Fails(named))]);
}

/// P17: statement_timeout must not be 0 (apply sets it), for nobody; nor the TCP keepalives.
fn timeouts(cases: &mut Cases, c: &Cluster) {
    cases.check("P17 baseline: statement_timeout non-zero after apply, PGH-OTH-08 not fail", || {
        assert_ne!(system_value(c, "statement_timeout"), "0", "apply sets a statement_timeout");
        judge(c, &[], &[("PGH-OTH-08", Want::NotFail)]);
    });
    system_case(cases, c, "statement_timeout", "0", &[("PGH-OTH-08", Fails(&[]))]);
    override_case(cases, c, "ROLE alice", "statement_timeout", "0", ("PGH-OTH-08", Fails(&["alice"])));
    system_case(cases, c, "tcp_keepalives_idle", "0", &[("PGH-OTH-08", Fails(&[]))]);
}
