//! Does a verdict of `pgharden audit` mean what the STIG text means? The audit-fidelity review's
//! false PASS and false FAIL classes (the review's sections 1a, 1b and 3), each as a
//! misconfiguration made on a real, hardened PostgreSQL 15 cluster, judged, and mended again; each
//! class also with a second instance the review did not try (another setting, role or file).
//!
//! One `#[test]` per group, each with ONE hardened cluster (initdb + `apply`) whose cases run in
//! sequence: break → audit → judge → mend → audit → judge mended. Setup and mending assert their own
//! success (psql exit codes, the reload logged, the new value seen by a new session), and a failure
//! there stops the group: a verdict on a cluster that is not in the state the case describes would
//! prove nothing. The verdicts are collected by [`Cases`] instead, so one run reports every case of a
//! group, and the group fails if any verdict was wrong.
//!
//! This module owns the harness of these groups only. It must not weaken a verdict to suit today's
//! audit: a case that fails here names a misconfiguration the audit still judges wrongly.

mod access;
mod baseline;
mod files;
mod prefix;
mod settings;
mod tls;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pgharden_testcluster::Cluster;

use crate::support::{TestPki, audit_json, evidence, harden, names_path, status};

/// How long a reloaded setting may take to reach new sessions.
const SETTLE: Duration = Duration::from_secs(10);

/// A fresh cluster, hardened as the review's baseline B: a PKI (server certificate for localhost and
/// 127.0.0.1, client certificates for alice and bob) and `pgharden apply`.
pub(crate) fn hardened() -> (TestPki, Cluster) {
    let pki = TestPki::new("p256");
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    harden(&cluster, &pki);
    (pki, cluster)
}

/// Run SQL as the superuser in database `postgres`; it must succeed.
pub(crate) fn sql(c: &Cluster, statements: &str) -> String {
    sql_db(c, "postgres", statements)
}

/// Run SQL as the superuser in database `db`; it must succeed.
pub(crate) fn sql_db(c: &Cluster, db: &str, statements: &str) -> String {
    c.psql_db(db, statements).unwrap_or_else(|e| panic!("setup SQL in {db} failed: {statements}\n{e}"))
}

/// A string as an SQL literal.
pub(crate) fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The value a new session gets for `name` from the server's configuration: `reset_val` (not the
/// show hook, which answers 0 for the `tcp_keepalives_*` over a Unix socket) in `template1`, a
/// database no case overrides settings in.
pub(crate) fn system_value(c: &Cluster, name: &str) -> String {
    // Bracketed, because psql's output is trimmed and a prefix may end in a space.
    let q = format!("SELECT '[' || reset_val || ']' FROM pg_settings WHERE name = {}", literal(name));
    let out = sql_db(c, "template1", &q);
    let value = out.strip_prefix('[').and_then(|v| v.strip_suffix(']'));
    value.unwrap_or_else(|| panic!("setup: no setting {name}: {out:?}")).to_string()
}

/// Wait until new sessions see `name = want`; panics naming both values if they never do.
pub(crate) fn wait_for_value(c: &Cluster, name: &str, want: &str) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let seen = system_value(c, name);
        if seen == want {
            return;
        }
        assert!(Instant::now() < deadline, "setup: {name} should be {want:?} after the reload, is {seen:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `ALTER SYSTEM SET name = 'value'` and a reload, waited for. Returns the value before, for
/// [`reset_system`].
pub(crate) fn set_system(c: &Cluster, name: &str, value: &str) -> String {
    let before = system_value(c, name);
    sql(c, &format!("ALTER SYSTEM SET {name} = {}", literal(value)));
    reload_ok(c);
    wait_for_value(c, name, value);
    before
}

/// `ALTER SYSTEM RESET name` and a reload, waited for until the value is `before` again.
pub(crate) fn reset_system(c: &Cluster, name: &str, before: &str) {
    sql(c, &format!("ALTER SYSTEM RESET {name}"));
    reload_ok(c);
    wait_for_value(c, name, before);
}

/// The log file the server writes now: the collector's current file, or the postmaster's stderr.
fn current_log(c: &Cluster) -> PathBuf {
    let rel = sql(c, "SELECT coalesce(pg_current_logfile(), '')");
    if rel.is_empty() { c.log_path().to_path_buf() } else { c.data_dir().join(rel) }
}

fn log_from(path: &Path, offset: u64) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// `SELECT pg_reload_conf()` and wait until the reload is in force (`pg_conf_load_time()`), and,
/// when the server logs to a file, until its SIGHUP line is there (with syslog only, the callers'
/// value checks are the proof). Returns what the server logged meanwhile, where a refused
/// pg_hba.conf, pg_ident.conf or TLS file is reported: the postmaster writes those lines in the
/// same reload, before any session can see the new load time.
pub(crate) fn reload(c: &Cluster) -> String {
    let log = current_log(c);
    let offset = fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let before = c.conf_load_time().unwrap();
    sql(c, "SELECT pg_reload_conf()");
    c.await_conf_load_after(&before).unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while !log_from(&log, offset).contains("received SIGHUP") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    log_from(&log, offset)
}

/// [`reload`], and the server must have accepted every file.
pub(crate) fn reload_ok(c: &Cluster) {
    let log = reload(c);
    let refused: Vec<&str> =
        log.lines().filter(|l| l.contains("was not reloaded") || l.contains("contains errors")).collect();
    assert!(refused.is_empty(), "setup: the server refused the reload: {refused:#?}");
}

/// A file or directory setting of the server (`ssl_crl_file`, `hba_file`…) as a path; relative
/// ones are in PGDATA.
pub(crate) fn setting_path(c: &Cluster, name: &str) -> PathBuf {
    let value = sql(c, &format!("SHOW {name}"));
    assert!(!value.is_empty(), "setup: {name} is set");
    c.data_dir().join(value)
}

/// Give `path` to the cluster's OS account.
pub(crate) fn chown_to_owner(c: &Cluster, path: &Path) {
    let owner = c.os_user();
    std::os::unix::fs::chown(path, Some(owner.uid), Some(owner.gid))
        .unwrap_or_else(|e| panic!("setup: chown {}: {e}", path.display()));
}

/// A new directory beside PGDATA, owned by the cluster's OS account, mode 0700.
pub(crate) fn owned_dir(c: &Cluster, name: &str) -> PathBuf {
    let dir = c.root_dir().join(name);
    fs::create_dir(&dir).unwrap_or_else(|e| panic!("setup: mkdir {}: {e}", dir.display()));
    chown_to_owner(c, &dir);
    chmod(&dir, 0o700);
    dir
}

/// A new file in `dir` (one of [`owned_dir`]'s), owned by the cluster's OS account, with `mode`.
pub(crate) fn owned_file(c: &Cluster, dir: &Path, name: &str, contents: &str, mode: u32) -> PathBuf {
    let file = dir.join(name);
    fs::write(&file, contents).unwrap_or_else(|e| panic!("setup: writing {}: {e}", file.display()));
    chown_to_owner(c, &file);
    chmod(&file, mode);
    file
}

pub(crate) fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// The permission bits of `path`.
pub(crate) fn mode_of(path: &Path) -> u32 {
    crate::support::mode(path)
}

/// What a rule's verdict must be.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Want<'a> {
    /// `fail`, and the evidence names each of these (see [`names`]).
    Fails(&'a [&'a str]),
    /// `pass` or `manual`: never `fail`, and never `not-checked` on a running cluster.
    Holds,
    /// Anything but `fail`.
    NotFail,
}

/// Whether `text` names `name`: a path (given or canonicalized), or an identifier as a whole word
/// (so `app` is not found in "apply"), or else the text as is.
pub(crate) fn names(text: &str, name: &str) -> bool {
    if name.contains('/') {
        return names_path(text, Path::new(name));
    }
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if !name.chars().all(word) {
        return text.contains(name);
    }
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

/// Every way `report` departs from `wants`, one line each; empty when it meets them all.
pub(crate) fn mismatches(report: &serde_json::Value, wants: &[(&str, Want<'_>)]) -> Vec<String> {
    let mut out = Vec::new();
    for (rule, want) in wants {
        let got = status(report, rule);
        let ev = evidence(report, rule);
        let ok = match want {
            Want::Fails(named) => got == "fail" && named.iter().all(|n| names(&ev, n)),
            Want::Holds => got == "pass" || got == "manual",
            Want::NotFail => got != "fail",
        };
        if !ok {
            out.push(format!("{rule}: wanted {want:?}, got {got}; evidence: {ev:?}"));
        }
    }
    out
}

/// `PGH-AUD-08 fails naming ["alice"], PGH-AUD-05 holds`, for case names.
pub(crate) fn describe(wants: &[(&str, Want<'_>)]) -> String {
    let one = |(rule, want): &(&str, Want<'_>)| match want {
        Want::Fails([]) => format!("{rule} fails"),
        Want::Fails(named) => format!("{rule} fails naming {named:?}"),
        Want::Holds => format!("{rule} holds"),
        Want::NotFail => format!("{rule} not fail"),
    };
    wants.iter().map(one).collect::<Vec<_>>().join(", ")
}

/// After mending `what`: every rule `wants` expected to fail is no longer `fail`.
pub(crate) fn mended(cases: &mut Cases, c: &Cluster, what: &str, wants: &[(&str, Want<'_>)]) {
    let rules: Vec<(&str, Want<'_>)> =
        wants.iter().filter(|(_, w)| matches!(w, Want::Fails(_))).map(|(r, _)| (*r, Want::NotFail)).collect();
    if rules.is_empty() {
        return;
    }
    cases.check(&format!("mended ({what}): {}", describe(&rules)), || {
        judge(c, &[], &rules);
    });
}

/// Audit (with `extra` flags) and judge; panics listing every mismatch. Returns the report.
pub(crate) fn judge(c: &Cluster, extra: &[&str], wants: &[(&str, Want<'_>)]) -> serde_json::Value {
    let (_, report) = audit_json(c, extra);
    let wrong = mismatches(&report, wants);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    report
}

/// The verdicts of one group: each case's judgement runs under `catch_unwind`, so a wrong verdict
/// is recorded and the next case still runs; [`Cases::finish`] fails the test if any was wrong.
#[derive(Debug)]
pub(crate) struct Cases {
    group: &'static str,
    results: Vec<(String, Option<String>)>,
}

impl Cases {
    pub(crate) fn new(group: &'static str) -> Self {
        Self { group, results: Vec::new() }
    }

    /// Run `verdict` (audits and assertions on their reports) and record whether it held. Setup is
    /// never done in here: a broken setup must stop the group, not be counted as a verdict.
    pub(crate) fn check(&mut self, case: &str, verdict: impl FnOnce()) {
        let outcome = catch_unwind(AssertUnwindSafe(verdict)).err().map(|payload| {
            payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_else(|| "panicked".to_string())
        });
        self.results.push((case.to_string(), outcome));
    }

    /// Print every case's outcome and fail if any verdict was wrong.
    pub(crate) fn finish(self) {
        let mut summary = format!("fidelity, {}:\n", self.group);
        for (case, outcome) in &self.results {
            let word = if outcome.is_none() { "ok   " } else { "WRONG" };
            summary.push_str(&format!("  {word} {case}\n"));
        }
        let wrong: Vec<String> = self
            .results
            .iter()
            .filter_map(|(case, outcome)| outcome.as_ref().map(|why| format!("--- {case}\n{why}")))
            .collect();
        assert!(wrong.is_empty(), "{summary}\n{} wrong verdict(s):\n{}", wrong.len(), wrong.join("\n"));
        eprintln!("{summary}");
    }
}

#[test]
fn names_matches_whole_identifiers_and_paths() {
    assert!(names("role app may CREATE", "app"));
    assert!(!names("run pgharden apply", "app"));
    assert!(names("database \"app\", schema scratch", "app"));
    assert!(names("/tmp/x/tls mode 0777", "/tmp/x/tls"));
    assert!(names("next update 2026-11-20T00:00:00Z", "2026-11-20"));
}
