//! `pgharden_audit::values` compared with a running PostgreSQL 15 (and pgaudit): whatever the
//! parsers say a value means, the server must say too, and what they refuse it must refuse.
//!
//! One cluster for the whole file, in one test: a cluster started by one test thread would get
//! its parent-death signal when that thread ends.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::os::unix::process::CommandExt as _;

use pgharden_audit::values::{
    AuditClass, DurationUnit, UTC_ZONE_NAMES, duration_ms, file_mode, is_utc_zone, parse_bool,
    pgaudit_classes,
};
use pgharden_testcluster::{Cluster, ClusterOptions, OsUser};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

#[test]
fn the_server_reads_values_as_the_parsers_do() {
    let opts = ClusterOptions::for_tests().unwrap().setting("shared_preload_libraries", "pgaudit");
    let cluster = Cluster::start(opts).unwrap();
    cluster.psql(TRY_SET).unwrap();
    durations_in_milliseconds(&cluster);
    durations_in_seconds_and_minutes(&cluster);
    file_modes(&cluster);
    booleans(&cluster);
    time_zones(&cluster);
    pgaudit_lists(&cluster);
}

/// `try_set(name, value)`: the setting as pg_settings shows it after `set_config`, or `ERROR`.
const TRY_SET: &str = r#"
CREATE FUNCTION public.try_set(p_name text, p_value text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM set_config(p_name, p_value, false);
  RETURN (SELECT s.setting FROM pg_settings s WHERE s.name = p_name);
EXCEPTION WHEN others THEN
  RETURN 'ERROR';
END $f$;
CREATE FUNCTION public.try_zone(p_value text) RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM set_config('timezone', p_value, false);
  RETURN extract(timezone FROM '2026-01-15 12:00+00'::timestamptz)::text || ' '
      || extract(timezone FROM '2026-07-15 12:00+00'::timestamptz)::text;
EXCEPTION WHEN others THEN
  RETURN 'ERROR';
END $f$;
"#;

/// One call of `function` per value in one query, results in order (`ERROR` for a refusal).
fn server_results(cluster: &Cluster, call: &str, values: &[String]) -> Vec<String> {
    for v in values {
        assert!(!v.contains("$v$") && !v.contains('\n'), "test value {v:?} cannot be quoted here");
    }
    let array = values.iter().map(|v| format!("$v${v}$v$")).collect::<Vec<_>>().join(",");
    let sql =
        format!("SELECT {call} FROM unnest(ARRAY[{array}]::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n;");
    let out = cluster.psql(&sql).unwrap();
    let lines: Vec<String> = out.lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), values.len(), "{out}");
    lines
}

/// `n` values drawn from `strategy` with a fixed seed, so a failure reproduces.
fn sample(strategy: impl Strategy<Value = String>, n: usize) -> Vec<String> {
    let mut runner = TestRunner::deterministic();
    (0..n).map(|_| strategy.new_tree(&mut runner).unwrap().current()).collect()
}

/// What a parser's answer means for a setting with range `range`: the value the server would
/// store, or `None` where it refuses.
fn in_range(result: Result<i64, impl std::fmt::Debug>, range: std::ops::RangeInclusive<i64>) -> Option<i64> {
    result.ok().filter(|v| range.contains(v))
}

fn durations_in_milliseconds(cluster: &Cluster) {
    let mut values: Vec<String> = [
        "0",
        "300",
        "5min",
        "5 min",
        "1h",
        "1d",
        "1.5s",
        "1500us",
        "1499us",
        "2500us",
        " 30s ",
        "1e3",
        "0x10",
        "010",
        "08",
        ".5s",
        "-.5s",
        " .5s",
        "1e999",
        "3000000000",
        "25d",
        "5MIN",
        "5 m",
        "5minutes",
        "5s x",
        "",
        "s",
        "0x1.8p1s",
        "1e-400",
        "2.5ms",
        "3.5ms",
        "0.0005s",
        "-0",
        "+7",
        "1.5",
        "1.5e3us",
        "24.855d",
        "24.856d",
    ]
    .map(String::from)
    .into();
    values.extend(sample(
        "[ ]?[+-]?(0x|0)?[0-9]{0,4}(\\.[0-9]{0,3})?([eE][+-]?[0-9]{1,2})?[ ]?(us|ms|s|min|h|d|MIN|m|x)?[ ]?",
        400,
    ));
    let server = server_results(cluster, "public.try_set('statement_timeout', v)", &values);
    for (value, server) in values.iter().zip(&server) {
        let ours = in_range(duration_ms(value, DurationUnit::Milliseconds), 0..=i64::from(i32::MAX));
        assert_eq!(
            ours.map(|v| v.to_string()).unwrap_or_else(|| "ERROR".into()),
            *server,
            "statement_timeout = {value:?}"
        );
    }
}

/// `postgres -C name -c name=value`: the value the server would run with (its base unit), or
/// `None` where it refuses it. Read-only: it never touches the running server.
fn postgres_c(cluster: &Cluster, name: &str, value: &str) -> Option<String> {
    let mut cmd = cluster.install().command("postgres");
    if OsUser::current().unwrap().uid != cluster.os_user().uid {
        cmd.uid(cluster.os_user().uid).gid(cluster.os_user().gid);
    }
    cmd.current_dir(cluster.root_dir()).arg("-D").arg(cluster.data_dir()).args(["-C", name, "-c"]);
    let out = cmd.arg(format!("{name}={value}")).output().unwrap();
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn durations_in_seconds_and_minutes(cluster: &Cluster) {
    let seconds = [
        "30.5s",
        "31.5s",
        "90500ms",
        "91500ms",
        "1.5min",
        "0.51min",
        "1h",
        "45",
        "0x40",
        "1e2",
        "2d",
        "86400001ms",
        "86400.5",
        "29",
        "30000000us",
        "1.5 h",
    ];
    for value in seconds {
        let ours = in_range(duration_ms(value, DurationUnit::Seconds), 30_000..=86_400_000);
        let server = postgres_c(cluster, "checkpoint_timeout", value);
        assert_eq!(ours.map(|ms| (ms / 1000).to_string()), server, "checkpoint_timeout = {value:?}");
    }
    let minutes = ["90s", "150s", "1.5h", "1d", "0", "30000ms", "89999ms", "1.25", "35791394", "35791395"];
    for value in minutes {
        let ours = in_range(duration_ms(value, DurationUnit::Minutes), 0..=35_791_394 * 60_000);
        let server = postgres_c(cluster, "log_rotation_age", value);
        assert_eq!(ours.map(|ms| (ms / 60_000).to_string()), server, "log_rotation_age = {value:?}");
    }
}

fn file_modes(cluster: &Cluster) {
    let values = [
        "0600", "384", "0x180", "600", "0o600", "0600.0", "0777", "01000", "-1", "08", " 0640 ", "0",
        "384.4", "1e2", "0640s",
    ];
    for value in values {
        let ours = file_mode(value).ok();
        let server = postgres_c(cluster, "log_file_mode", value);
        assert_eq!(ours.map(|m| m.to_string()), server, "log_file_mode = {value:?}");
    }
}

fn booleans(cluster: &Cluster) {
    let mut values: Vec<String> =
        ["on", "ON", "of", "o", "t", "tr", "truex", "yes", "y", "N", "1", "0", "10", " on", ""]
            .map(String::from)
            .into();
    values.extend(sample("(t|tr|tru|true|f|fa|false|y|ye|yes|n|no|o|on|of|off|1|0)[ x]?", 150));
    values.extend(sample("[tfyno01][a-zA-Z]{0,5}", 150));
    let server = server_results(cluster, "public.try_set('enable_seqscan', v)", &values);
    for (value, server) in values.iter().zip(&server) {
        let ours = match parse_bool(value) {
            Some(true) => "on",
            Some(false) => "off",
            None => "ERROR",
        };
        assert_eq!(ours, server, "enable_seqscan = {value:?}");
    }
}

fn time_zones(cluster: &Cluster) {
    let mut values: Vec<String> = UTC_ZONE_NAMES.iter().map(|n| n.to_string()).collect();
    values.extend(UTC_ZONE_NAMES.iter().map(|n| n.to_ascii_lowercase()));
    values.extend(UTC_ZONE_NAMES.iter().map(|n| format!("posix/{}", n.to_ascii_uppercase())));
    values.extend(["America/New_York", "Etc/GMT+5", "Europe/London", "Asia/Kolkata"].map(String::from));
    let server = server_results(cluster, "public.try_zone(v)", &values);
    for (value, server) in values.iter().zip(&server) {
        // UTC all year round, or (for the others) accepted with an offset at some time of the year.
        let utc_all_year = server == "0 0";
        assert_eq!(is_utc_zone(value), utc_all_year, "timezone = {value:?}: the server says {server}");
        assert_ne!(server, "ERROR", "timezone = {value:?}");
    }
}

/// One statement per class, and the class pgaudit logs it under (with `SET`, logged as MISC,
/// standing for MISC_SET).
const PROBES: [(&str, AuditClass); 7] = [
    ("SELECT * FROM probe_{n}", AuditClass::Read),
    ("INSERT INTO probe_{n} VALUES (1)", AuditClass::Write),
    ("DO $$BEGIN PERFORM 1; END$$", AuditClass::Function),
    ("CREATE ROLE probe_{n}", AuditClass::Role),
    ("CREATE INDEX probe_{n}_i ON probe_{n} (i)", AuditClass::Ddl),
    ("CHECKPOINT", AuditClass::Misc),
    ("SET work_mem = '5MB'", AuditClass::MiscSet),
];

/// The classes pgaudit logged for the probes of one session with `pgaudit.log = value`, or
/// `None` when the server refused the value.
fn audited_classes(cluster: &Cluster, n: usize, value: &str) -> Option<BTreeSet<AuditClass>> {
    cluster.psql(&format!("CREATE TABLE probe_{n} (i int);")).unwrap();
    let offset = cluster.log_len();
    let probes: String =
        PROBES.iter().map(|(sql, _)| format!("{};\n", sql.replace("{n}", &n.to_string()))).collect();
    let session = format!("SET pgaudit.log = $v${value}$v$;\nSELECT pg_backend_pid();\n{probes}");
    let pid = cluster.psql(&session).ok()?;
    let log = cluster.log_since(offset);
    let mut classes = BTreeSet::new();
    for line in log.lines().filter(|l| l.contains(&format!("[{pid}]"))) {
        let Some(audit) = line.split("AUDIT: SESSION,").nth(1) else { continue };
        let fields: Vec<&str> = audit.splitn(5, ',').collect();
        let (class, command) = (fields[2], fields[3]);
        let found = match (class, command) {
            ("MISC", "SET") if line.contains("work_mem") => AuditClass::MiscSet,
            ("MISC", "CHECKPOINT") => AuditClass::Misc,
            ("READ", _) => AuditClass::Read,
            ("WRITE", _) => AuditClass::Write,
            ("FUNCTION", _) => AuditClass::Function,
            ("ROLE", _) => AuditClass::Role,
            ("DDL", _) => AuditClass::Ddl,
            _ => continue,
        };
        classes.insert(found);
    }
    cluster.psql(&format!("DROP TABLE probe_{n}; DROP ROLE IF EXISTS probe_{n};")).unwrap();
    Some(classes)
}

fn pgaudit_lists(cluster: &Cluster) {
    let values = [
        "all",
        "all, -role",
        "read, none",
        "none",
        "misc",
        "all, -misc",
        "misc, -misc_set",
        "\"DDL\", Write",
        "-all, function",
        "-role, all",
        " ROLE ,read ",
        "ddl, rol",
        "read,",
        "read write",
        "\"read",
        "",
    ];
    for (n, value) in values.iter().enumerate() {
        let ours = pgaudit_classes(value).ok();
        let server = audited_classes(cluster, n, value);
        assert_eq!(ours, server, "pgaudit.log = {value:?}");
    }
}
