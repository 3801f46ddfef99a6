//! Exit codes a CI gate can trust, against real PostgreSQL 15 clusters: an audit or a probe that
//! reached nothing exits 2 naming the cause; NOT CHECKED rules fail the gate unless allowed; a
//! closed pipe keeps a failing verdict; the policy flags are checked as usage; and the coverage
//! report adds up.

use std::io::Read;
use std::os::fd::AsFd;
use std::process::{Output, Stdio};

use pgharden_testcluster::Cluster;

use crate::support::{TestPki, contains_ci, pgharden};

fn start() -> Cluster {
    Cluster::start_default().unwrap_or_else(|e| panic!("{e}"))
}

fn run(args: &[&str]) -> Output {
    pgharden().args(args).stdin(Stdio::null()).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Insist on exit code `code` and return stderr.
fn exits(args: &[&str], code: i32) -> String {
    let out = run(args);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "pgharden {args:?}:\n{err}{}",
        String::from_utf8_lossy(&out.stdout)
    );
    err
}

fn conninfo(cluster: &Cluster, user: &str, dbname: &str) -> String {
    format!("{} user={user} dbname={dbname} sslmode=disable", cluster.tcp_conninfo())
}

/// The rule ids of a JSON report whose findings have `status`, and whether any of them has a
/// severity at or above `threshold` (`low` < `medium` < `high`).
fn with_status(report: &serde_json::Value, status: &str, threshold: &str) -> (Vec<String>, bool) {
    let rank = |s: &str| ["low", "medium", "high"].iter().position(|x| *x == s).unwrap();
    let matching: Vec<&serde_json::Value> =
        report["findings"].as_array().unwrap().iter().filter(|f| f["status"] == status).collect();
    let above = matching.iter().any(|f| rank(f["severity"].as_str().unwrap()) >= rank(threshold));
    (matching.iter().map(|f| f["rule"].as_str().unwrap().to_string()).collect(), above)
}

#[test]
fn an_audit_that_reaches_nothing_exits_2_naming_the_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-pgdata");
    let err = exits(&["audit", "--pgdata", missing.to_str().unwrap()], 2);
    assert!(contains_ci(&err, "no such file"), "{err}");
    assert!(contains_ci(&err, "reached nothing"), "{err}");

    let cluster = start();
    let su = cluster.superuser().to_string();
    // Reachable, so the causes below are the only thing wrong with each target.
    let ok = run(&["audit", &conninfo(&cluster, &su, "postgres"), "--format", "json", "--no-probe"]);
    assert!(matches!(ok.status.code(), Some(0 | 1)), "{}", stderr(&ok));

    let port = pgharden_testcluster::free_port().unwrap();
    let refused = format!("host=127.0.0.1 port={port} user={su} dbname=postgres sslmode=disable");
    let err = exits(&["audit", &refused], 2);
    assert!(contains_ci(&err, "refused"), "{err}");

    let err = exits(&["audit", &conninfo(&cluster, &su, "no_such_db")], 2);
    assert!(contains_ci(&err, "no_such_db") && contains_ci(&err, "does not exist"), "{err}");

    let err = exits(&["audit", &conninfo(&cluster, "no_such_role", "postgres")], 2);
    assert!(contains_ci(&err, "no_such_role") && contains_ci(&err, "does not exist"), "{err}");

    // A role that exists, with a password it is not given: authentication fails.
    cluster.psql("CREATE ROLE auditor LOGIN PASSWORD 'right'").unwrap();
    cluster
        .write_hba(&format!(
            "local all {su} trust\nhost all {su} 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        ))
        .unwrap();
    cluster.reload().unwrap();
    let wrong = format!("{} password=wrong", conninfo(&cluster, "auditor", "postgres"));
    let err = exits(&["audit", &wrong], 2);
    assert!(contains_ci(&err, "authentication failed"), "{err}");
    assert!(!err.contains("wrong"), "the password never reaches the terminal: {err}");

    // The probe: nothing listening is an error naming the cause; a live server is a report.
    let err = exits(&["probe", &format!("127.0.0.1:{port}")], 2);
    assert!(contains_ci(&err, "refused"), "{err}");
    let err = exits(&["probe", "no-such-host.invalid:5432"], 2);
    assert!(contains_ci(&err, "resolve"), "{err}");
    let out = run(&["probe", &format!("127.0.0.1:{}", cluster.port()), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["format"], 2, "{report}");
    assert_eq!(report["targets"][0]["ssl_request"]["answer"], "refused", "ssl=off: {report}");
}

#[test]
fn a_stopped_server_is_judged_on_its_files_and_is_not_a_pass() {
    let mut cluster = start();
    cluster.stop().unwrap();
    let pgdata = cluster.data_dir().to_str().unwrap().to_string();
    let out = run(&["audit", "--pgdata", &pgdata, "--format", "json", "--scope", "cluster"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the server is not running"), "{err}");
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    let (unchecked, _) = with_status(&report, "not-checked", "low");
    assert!(!unchecked.is_empty(), "SQL and network rules cannot be checked on a stopped server");
    assert!(
        err.contains(&format!("the server is not running: {} rules not checked", unchecked.len())),
        "{err}"
    );
    for rule in &unchecked {
        assert!(err.contains(rule.as_str()), "{rule} is named: {err}");
    }
    let (fails, _) = with_status(&report, "fail", "low");
    let (passes, _) = with_status(&report, "pass", "low");
    assert!(!fails.is_empty() || !passes.is_empty(), "the files were still judged: {report}");
}

#[test]
fn not_checked_rules_fail_the_gate_unless_allowed() {
    let pki = TestPki::new("p256");
    let cluster = start();
    crate::support::harden(&cluster, &pki);
    let pgdata = cluster.data_dir().to_str().unwrap().to_string();
    let base = ["audit", "--pgdata", &pgdata, "--scope", "cluster", "--format", "json", "--no-probe"];

    let out = run(&base);
    let err = stderr(&out);
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    let (unchecked, _) = with_status(&report, "not-checked", "low");
    // The rules that need the probe's answer to a plaintext startup cannot be decided without it.
    let network: Vec<&str> = pgharden_audit::catalogue::RULES
        .iter()
        .filter(|r| r.scope == pgharden_audit::Scope::Cluster)
        .filter(|r| r.checks.contains(&pgharden_audit::CheckId::PlaintextRefused))
        .map(|r| r.id)
        .collect();
    assert!(!network.is_empty());
    for rule in &network {
        assert!(unchecked.iter().any(|u| u == rule), "--no-probe leaves {rule} not checked: {unchecked:?}");
    }
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("{} rules in scope were not checked", unchecked.len())), "{err}");
    assert!(err.contains("--allow-not-checked"), "{err}");
    for rule in &unchecked {
        assert!(err.contains(rule.as_str()), "{rule} is named: {err}");
    }

    // Allowed, the code follows the FAIL findings alone.
    let mut allowed = base.to_vec();
    allowed.push("--allow-not-checked");
    let out = run(&allowed);
    let err = stderr(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (_, fails) = with_status(&report, "fail", "low");
    assert_eq!(out.status.code(), Some(i32::from(fails)), "{err}");
    assert!(err.contains("allowed by --allow-not-checked"), "{err}");

    // --fail-on weighs NOT CHECKED as it weighs FAIL: only at or above the threshold.
    for level in ["medium", "high"] {
        let mut args = base.to_vec();
        args.extend(["--fail-on", level]);
        let out = run(&args);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let (_, failing) = with_status(&report, "fail", level);
        let (_, unproven) = with_status(&report, "not-checked", level);
        let want = i32::from(failing || unproven);
        assert_eq!(out.status.code(), Some(want), "--fail-on {level}: {}", stderr(&out));
    }

    // The policy flags are accepted and the report still parses.
    let mut policy = base.to_vec();
    policy.extend([
        "--warn-days",
        "30",
        "--approved-superuser",
        "dba",
        "--approved-mapping",
        "pgharden:alice",
    ]);
    policy.extend(["--approved-admin", "app_owner", "--approved-language", "plperlu"]);
    let out = run(&policy);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["format"], 1);
}

#[test]
fn a_closed_pipe_keeps_a_failing_verdict() {
    // A page-sized pipe, so the report cannot fit in it and the write really meets the closed end.
    const PIPE: usize = 4096;
    let cluster = start();
    cluster.psql_and_reload("ALTER SYSTEM SET ssl = off").unwrap();
    let pgdata = cluster.data_dir().to_str().unwrap().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let saved = tmp.path().join("report.json");
    let args = ["audit", "--pgdata", &pgdata, "--format", "json"];
    let out = run(&[&args[..], &["--output", saved.to_str().unwrap()]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = std::fs::read_to_string(&saved).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(!with_status(&report, "fail", "low").0.is_empty(), "a rule fails: {text}");
    assert!(text.len() > 4 * PIPE, "the report ({} bytes) outgrows the pipe", text.len());

    let (mut reader, writer) = std::io::pipe().unwrap();
    nix::fcntl::fcntl(reader.as_fd(), nix::fcntl::FcntlArg::F_SETPIPE_SZ(PIPE as i32)).unwrap();
    let child =
        pgharden().args(args).stdin(Stdio::null()).stdout(writer).stderr(Stdio::piped()).spawn().unwrap();
    let mut one = [0u8; 1];
    reader.read_exact(&mut one).unwrap();
    assert_eq!(&one, b"{");
    drop(reader);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "a closed pipe must not turn a FAIL into 0: {}", stderr(&out));
    assert!(!contains_ci(&stderr(&out), "broken pipe"), "{}", stderr(&out));
}

#[test]
fn a_mapping_without_a_colon_is_a_usage_error() {
    let err = exits(&["audit", "--pgdata", "/nonexistent", "--approved-mapping", "nocolon"], 2);
    assert!(err.contains("--approved-mapping") && err.contains("MAP:ROLE"), "{err}");
    let err = exits(&["audit", "--pgdata", "/nonexistent", "--approved-mapping", ":role"], 2);
    assert!(err.contains("MAP:ROLE"), "{err}");
    let err = exits(&["audit", "--pgdata", "/nonexistent", "--warn-days", "soon"], 2);
    assert!(err.contains("--warn-days"), "{err}");
}

#[test]
fn the_coverage_report_adds_up_and_needs_no_cluster() {
    let out = run(&["audit", "--coverage", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["format"], 1);
    let families = json["families"].as_array().unwrap();
    let names: Vec<&str> = families.iter().map(|f| f["family"].as_str().unwrap()).collect();
    assert_eq!(names, ["PGS9", "CD12", "CD16"]);
    let n = |f: &serde_json::Value, k: &str| f[k].as_u64().unwrap_or_else(|| panic!("{k} in {f}"));
    for f in families {
        assert_eq!(n(f, "automated") + n(f, "partial") + n(f, "manual"), n(f, "rules"), "{f}");
        let inspec =
            n(f, "inspec_automated") + n(f, "inspec_mixed") + n(f, "inspec_manual") + n(f, "inspec_unmapped");
        assert_eq!(inspec, n(f, "rules"), "{f}");
        // Each family's ids, counted from the catalogue the binary was built with.
        let prefix = format!("{}-", f["family"].as_str().unwrap());
        let ids: std::collections::BTreeSet<&str> = pgharden_audit::catalogue::RULES
            .iter()
            .flat_map(|r| r.stig_ids())
            .filter(|id| id.starts_with(&prefix))
            .collect();
        assert_eq!(n(f, "rules"), ids.len() as u64, "{f}");
    }

    let out = run(&["audit", "--coverage"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for f in families {
        let row = text
            .lines()
            .find(|l| l.starts_with(f["family"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(row.contains(f["inspec_profile"].as_str().unwrap()), "{row}");
        assert_eq!(row.split_whitespace().nth(1), Some(n(f, "rules").to_string().as_str()), "{row}");
    }
    let err = exits(&["audit", "--coverage", "--format", "sarif"], 2);
    assert!(err.contains("text or json"), "{err}");
}
