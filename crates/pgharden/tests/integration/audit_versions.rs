//! The audit's version rules on real PostgreSQL 14, 15, 16, 17 and 18 servers: what each version
//! does with pg_hba.conf include directives and regular expressions, PostgreSQL 18's `oauth`
//! lines and list-valued `log_connections`, the TLS settings of each version — the server shows
//! what it does (logins, `pg_hba_file_rules`), and the audit must say the same.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use pgharden_audit::CheckId;
use pgharden_audit::catalogue::RULES;
use pgharden_testcluster::{Cluster, ClusterOptions, Installation};
use serde_json::Value;

use crate::support::{TestPki, harden, pgharden};

fn start(major: u32) -> Cluster {
    let install = Installation::for_major(major)
        .unwrap_or_else(|e| panic!("PostgreSQL {major} must be installed (scripts/postgres-versions): {e}"));
    Cluster::start(ClusterOptions::new(install)).unwrap()
}

/// A cluster of `major` taken to the profile by `pgharden apply`, with the roles `alice` and
/// `app_x` (LOGIN, no password).
fn hardened(major: u32, pki: &TestPki) -> Cluster {
    let cluster = start(major);
    harden(&cluster, pki);
    cluster.psql("CREATE ROLE alice LOGIN; CREATE ROLE app_x LOGIN;").unwrap();
    cluster
}

/// `pgharden audit --format json` with `args` (the source included): the findings.
fn audit(args: &[&str]) -> Vec<Value> {
    let out =
        pgharden().arg("audit").args(args).args(["--format", "json"]).stdin(Stdio::null()).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    report["findings"].as_array().unwrap().clone()
}

/// The audit of a cluster by its data directory, without the network probe.
fn audit_files(cluster: &Cluster) -> Vec<Value> {
    audit(&["--pgdata", cluster.data_dir().to_str().unwrap(), "--no-probe"])
}

/// (status, evidence) of every cluster rule using `check`.
fn rules_using(findings: &[Value], check: CheckId) -> Vec<(String, String, String)> {
    let ids: Vec<&str> = RULES
        .iter()
        .filter(|r| r.checks.contains(&check) && r.scope == pgharden_audit::Scope::Cluster)
        .map(|r| r.id)
        .collect();
    assert!(!ids.is_empty(), "{check:?} is used by no cluster rule");
    let found: Vec<(String, String, String)> = findings
        .iter()
        .filter(|f| ids.contains(&f["rule"].as_str().unwrap()))
        .map(|f| {
            let evidence: Vec<&str> =
                f["evidence"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
            (
                f["rule"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
                evidence.join("\n"),
            )
        })
        .collect();
    assert_eq!(found.len(), ids.len(), "every rule using {check:?} is reported");
    found
}

/// Every rule using `check` has `status`, and its evidence contains `needle`.
fn assert_rules(findings: &[Value], check: CheckId, status: &str, needle: &str) {
    for (rule, got, evidence) in rules_using(findings, check) {
        assert_eq!(got, status, "{rule} ({check:?}): {evidence}");
        assert!(evidence.contains(needle), "{rule} ({check:?}) evidence lacks {needle:?}:\n{evidence}");
    }
}

/// Whatever their status, the evidence of every rule using `check` contains `needle`.
fn assert_evidence(findings: &[Value], check: CheckId, needle: &str) {
    for (rule, status, evidence) in rules_using(findings, check) {
        assert!(
            evidence.contains(needle),
            "{rule} ({check:?}, {status}) evidence lacks {needle:?}:\n{evidence}"
        );
    }
}

/// One rule's status and evidence.
fn rule<'a>(findings: &'a [Value], id: &str) -> (&'a str, String) {
    let f = findings.iter().find(|f| f["rule"] == id).unwrap_or_else(|| panic!("{id} missing"));
    let evidence: Vec<&str> = f["evidence"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    (f["status"].as_str().unwrap(), evidence.join("\n"))
}

/// Append `lines` to pg_hba.conf (kept 0600) and reload; returns the number of the first line added.
fn append_hba(cluster: &Cluster, lines: &str) -> usize {
    let path = cluster.data_dir().join("pg_hba.conf");
    let old = fs::read_to_string(&path).unwrap();
    let first = old.lines().count() + 1;
    let mut text = old;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(lines);
    cluster.write_hba(&text).unwrap();
    cluster.psql_and_reload("SELECT 1").unwrap();
    first
}

/// A credential-less login over the Unix socket as `user`, by root (no peer line matches root):
/// what the server's pg_hba.conf in force lets through. Ok(current_user) or Err(psql's message).
fn login(cluster: &Cluster, user: &str) -> Result<String, String> {
    let conninfo = format!(
        "host={} port={} user={user} dbname=postgres connect_timeout=10",
        cluster.socket_dir().display(),
        cluster.port()
    );
    let out = cluster
        .psql_command()
        .args(["-X", "-A", "-t", "-d", &conninfo, "-c", "SELECT current_user"])
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `pg_hba_file_rules` rows as `file:line method` (16+) or `line method`, and the error rows.
fn server_rules(cluster: &Cluster) -> (Vec<String>, Vec<String>) {
    let file = if cluster.install().major() >= 16 { "file_name || ':' || " } else { "" };
    let ok = cluster
        .psql(&format!(
            "SELECT {file}line_number || ' ' || auth_method FROM pg_hba_file_rules WHERE error IS NULL"
        ))
        .unwrap();
    let errors = cluster
        .psql(&format!(
            "SELECT {file}line_number || ' ' || error FROM pg_hba_file_rules WHERE error IS NOT NULL"
        ))
        .unwrap();
    let lines = |s: String| s.lines().map(str::to_string).collect::<Vec<_>>();
    (lines(ok), lines(errors))
}

fn chmod(path: &std::path::Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

// ---------------------------------------------------------------------------------------------
// pg_hba.conf include directives and regular expressions
// ---------------------------------------------------------------------------------------------

/// 16+: the server follows `include_if_exists`, and a trust line in the included file lets a
/// credential-less login in; the audit must fail the trust rules naming that file and line, judge
/// the included file's mode, and read a `/regex` user as the server does.
fn included_files_are_in_force(major: u32) {
    let pki = TestPki::new("p256");
    let cluster = hardened(major, &pki);
    let extra = cluster.write_file("extra_hba.conf", b"local all all trust\n", 0o600).unwrap();
    let regex_line = append_hba(&cluster, "local all /^app_.*$ reject\ninclude_if_exists extra_hba.conf\n");

    let (rules, errors) = server_rules(&cluster);
    assert!(errors.is_empty(), "PostgreSQL {major} accepts the file: {errors:?}");
    assert!(rules.iter().any(|r| r.ends_with("extra_hba.conf:1 trust")), "{rules:?}");
    assert_eq!(login(&cluster, "alice").as_deref(), Ok("alice"), "the included trust line lets alice in");
    let refused = login(&cluster, "app_x").unwrap_err();
    assert!(refused.contains("rejects connection"), "the regex matches app_x on {major}: {refused}");

    let findings = audit_files(&cluster);
    assert_rules(&findings, CheckId::HbaNoTrust, "fail", "extra_hba.conf:1: allows trust");
    assert_evidence(&findings, CheckId::HbaFileAccepted, "the server reads pg_hba.conf without error");
    for (rule, _, evidence) in rules_using(&findings, CheckId::HbaFileAccepted) {
        assert!(!evidence.contains("refuses"), "{rule}: {evidence}");
    }
    // (ConfigFileModes names a file by its role; DataDirectoryMode judges everything in PGDATA.)
    let judged_as_hba = format!("pg_hba.conf {}", extra.display());
    for (rule, _, evidence) in rules_using(&findings, CheckId::ConfigFileModes) {
        assert!(!evidence.contains(&judged_as_hba), "{rule}: 0600 and the owner's, no finding\n{evidence}");
    }

    // The included file is a file the server trusts: its mode is judged like pg_hba.conf's.
    chmod(&extra, 0o644);
    let findings = audit_files(&cluster);
    for (rule, status, evidence) in rules_using(&findings, CheckId::ConfigFileModes) {
        assert_eq!(status, "fail", "{rule}: {evidence}");
        assert!(evidence.contains(&format!("{judged_as_hba} (mode 0644")), "{rule}: {evidence}");
    }
    chmod(&extra, 0o600);

    // A regular expression PostgreSQL cannot compile makes 16+ refuse the file, and the old
    // one stays in force: alice still gets in through it.
    let hba = cluster.data_dir().join("pg_hba.conf");
    let text = fs::read_to_string(&hba).unwrap().replace("/^app_.*$", "/^app_(.*$");
    cluster.write_hba(&text).unwrap();
    cluster.psql_and_reload("SELECT 1").unwrap();
    let (_, errors) = server_rules(&cluster);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains(&format!(":{regex_line} invalid regular expression")), "{errors:?}");
    assert_eq!(login(&cluster, "alice").as_deref(), Ok("alice"), "the file read before is in force");
    let findings = audit_files(&cluster);
    assert_rules(
        &findings,
        CheckId::HbaFileAccepted,
        "fail",
        &format!("pg_hba.conf:{regex_line}: invalid regular expression"),
    );
    assert_rules(&findings, CheckId::HbaFileAccepted, "fail", "a restart fails");
}

#[test]
fn included_pg_hba_files_are_judged_on_16() {
    included_files_are_in_force(16);
}

#[test]
fn included_pg_hba_files_are_judged_on_17() {
    included_files_are_in_force(17);
}

#[test]
fn included_pg_hba_files_are_judged_on_18() {
    included_files_are_in_force(18);
}

/// 14 and 15: an include line is a line the server refuses, so the whole file is refused and the
/// one read before stays in force; the audit must say so and not take the included rules for
/// rules in force. A `/regex` user is a literal name there.
fn includes_are_refused(major: u32) {
    let pki = TestPki::new("p256");
    let cluster = hardened(major, &pki);
    let extra = cluster.write_file("extra_hba.conf", b"local all all trust\n", 0o666).unwrap();
    let include_line = append_hba(&cluster, "include_if_exists extra_hba.conf\n");

    let (_, errors) = server_rules(&cluster);
    assert_eq!(errors, [format!("{include_line} invalid connection type \"include_if_exists\"")]);
    let refused = login(&cluster, "alice").unwrap_err();
    assert!(refused.contains("no pg_hba.conf entry"), "the hardened file stays in force: {refused}");

    let findings = audit_files(&cluster);
    let at = format!("pg_hba.conf:{include_line}: invalid connection type \"include_if_exists\"");
    assert_rules(&findings, CheckId::HbaFileAccepted, "fail", &at);
    for (rule, _, evidence) in rules_using(&findings, CheckId::HbaNoTrust) {
        assert!(
            !evidence.contains("extra_hba.conf"),
            "{rule}: the included file is not read on {major}\n{evidence}"
        );
        assert!(evidence.contains("not the ones in force"), "{rule}: {evidence}");
    }
    // The server never reads extra_hba.conf: it is not judged as an included pg_hba.conf (the
    // data directory's check still finds it open to others).
    let judged_as_hba = format!("pg_hba.conf {}", extra.display());
    for (rule, _, evidence) in rules_using(&findings, CheckId::ConfigFileModes) {
        assert!(!evidence.contains(&judged_as_hba), "{rule}: {evidence}");
    }
    chmod(&extra, 0o600);

    // A `/regex` user is a literal role name before 16: the line matches no app_x.
    let hba = cluster.data_dir().join("pg_hba.conf");
    let text = fs::read_to_string(&hba)
        .unwrap()
        .replace("include_if_exists extra_hba.conf", "local all /^app_(.*$ trust");
    cluster.write_hba(&text).unwrap();
    cluster.psql_and_reload("SELECT 1").unwrap();
    let (rules, errors) = server_rules(&cluster);
    assert!(errors.is_empty(), "not a regex on {major}, so not an invalid one: {errors:?}");
    assert!(rules.iter().any(|r| r == &format!("{include_line} trust")), "{rules:?}");
    assert!(login(&cluster, "app_x").unwrap_err().contains("no pg_hba.conf entry"));
    let findings = audit_files(&cluster);
    assert_evidence(&findings, CheckId::HbaFileAccepted, "the server reads pg_hba.conf without error");
    assert_rules(
        &findings,
        CheckId::HbaNoTrust,
        "fail",
        &format!("pg_hba.conf:{include_line}: allows trust"),
    );
}

#[test]
fn an_include_line_is_refused_on_14() {
    includes_are_refused(14);
}

#[test]
fn an_include_line_is_refused_on_15() {
    includes_are_refused(15);
}

// ---------------------------------------------------------------------------------------------
// The server's own reading, and PostgreSQL 18's oauth lines
// ---------------------------------------------------------------------------------------------

/// A cluster whose pg_hba.conf holds no trust line: the owner by peer, and `auditor` (a role that
/// may read the settings but not pg_hba_file_rules) by password over TCP. PGH-PRIV-01 then judges
/// nothing but the file's acceptance (no trust line, one superuser): FAIL when refused, MANUAL
/// (its review) when accepted by the server's reading, NOT CHECKED when only pgharden's is had.
fn with_auditor(major: u32) -> (Cluster, String) {
    let cluster = start(major);
    cluster.psql("CREATE ROLE auditor LOGIN PASSWORD 'audit-secret' IN ROLE pg_read_all_settings").unwrap();
    cluster.write_hba("local all all peer\nhost all auditor 127.0.0.1/32 scram-sha-256\n").unwrap();
    cluster.psql_and_reload("SELECT 1").unwrap();
    let conninfo = format!(
        "host=127.0.0.1 port={} user=auditor password=audit-secret dbname=postgres sslmode=disable",
        cluster.port()
    );
    (cluster, conninfo)
}

/// 18 refuses an oauth line unless `oauth_validator_libraries` names its validator. The audit
/// says so from the server's reading (as a superuser) and from its own reading with the server's
/// settings (as a role that may not read pg_hba_file_rules), in each case as the server does.
#[test]
fn oauth_lines_need_oauth_validator_libraries_on_18() {
    let (cluster, conninfo) = with_auditor(18);
    let line =
        append_hba(&cluster, "host all all 127.0.0.1/32 oauth issuer=https://issuer.example scope=openid\n");
    let set_line = |options: &str| {
        let hba = cluster.data_dir().join("pg_hba.conf");
        let text = fs::read_to_string(&hba).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines[line - 1] =
            format!("host all all 127.0.0.1/32 oauth issuer=https://issuer.example scope=openid{options}");
        cluster.write_hba(&(lines.join("\n") + "\n")).unwrap();
    };
    // (oauth_validator_libraries, the line's options, the server's error)
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("DEFAULT", "", Some("oauth_validator_libraries must be set for authentication method oauth")),
        (
            "DEFAULT",
            " validator=v1",
            Some("oauth_validator_libraries must be set for authentication method oauth"),
        ),
        // ALTER SYSTEM writes a list setting's '' as one quoted empty name: a validator named "".
        ("''", "", None),
        ("v1", "", None),
        ("v1", " validator=v2", Some("validator \"v2\" is not permitted by oauth_validator_libraries")),
        (
            "v1, v2",
            "",
            Some(
                "requires argument \"validator\" to be set when oauth_validator_libraries contains multiple options",
            ),
        ),
        ("v1, v2", " validator=v2", None),
        ("'v2/'", " validator=v2", None),
    ];
    for (libraries, options, error) in cases {
        set_line(options);
        cluster
            .psql_and_reload(&format!("ALTER SYSTEM SET oauth_validator_libraries = {libraries}"))
            .unwrap();
        let case = format!("oauth_validator_libraries = {libraries}, options {options:?}");
        let (_, errors) = server_rules(&cluster);
        match error {
            Some(e) => {
                assert_eq!(errors.len(), 1, "{case}: {errors:?}");
                assert!(
                    errors[0].contains(&format!("pg_hba.conf:{line} ")) && errors[0].contains(e),
                    "{case}: {errors:?}"
                );
            }
            None => assert!(errors.is_empty(), "{case}: {errors:?}"),
        }
        let mine = audit(&[&conninfo, "--no-probe"]);
        let (my_status, my_evidence) = rule(&mine, "PGH-PRIV-01");
        let theirs = audit_files(&cluster);
        let (status, evidence) = rule(&theirs, "PGH-PRIV-01");
        match error {
            Some(e) => {
                assert_eq!(status, "fail", "{case}: {evidence}");
                assert!(
                    evidence.contains("the server refuses pg_hba.conf as it is on disk (pg_hba_file_rules)"),
                    "{case}: {evidence}"
                );
                assert!(
                    evidence.contains(&format!("pg_hba.conf:{line}: ")) && evidence.contains(e),
                    "{case}: {evidence}"
                );
                assert_eq!(my_status, "fail", "{case}: {my_evidence}");
                assert!(
                    my_evidence.contains("pgharden's reading: PostgreSQL 18 would refuse pg_hba.conf"),
                    "{case}: {my_evidence}"
                );
                assert!(
                    my_evidence.contains(&format!("pg_hba.conf:{line}: error: ")) && my_evidence.contains(e),
                    "{case}: {my_evidence}"
                );
            }
            None => {
                assert_eq!(status, "manual", "{case}: {evidence}");
                assert!(
                    evidence.contains("the server reads pg_hba.conf without error"),
                    "{case}: {evidence}"
                );
                assert_eq!(
                    my_status, "not-checked",
                    "{case}: never a pass without the server's reading\n{my_evidence}"
                );
                assert!(
                    my_evidence
                        .contains("pg_hba_file_rules: permission denied: reading it needs a superuser"),
                    "{case}: {my_evidence}"
                );
                assert!(my_evidence.contains("audit as a superuser"), "{case}: {my_evidence}");
            }
        }
    }

    // Blanks alone in oauth_validator_libraries: 18 dies reading an oauth line without validator=.
    // The server runs (it read no such line) when one is written to disk; the audit must not make
    // it read the file, and must say what a reload would do.
    set_line(" validator=v1");
    cluster.psql("ALTER SYSTEM RESET oauth_validator_libraries").unwrap();
    cluster.append_conf("oauth_validator_libraries = '  '").unwrap();
    cluster.psql_and_reload("SELECT 1").unwrap();
    assert_eq!(
        cluster.psql("SELECT '[' || current_setting('oauth_validator_libraries') || ']'").unwrap(),
        "[  ]"
    );
    set_line("");
    let log_before = cluster.log_len();
    let findings = audit_files(&cluster);
    let (status, evidence) = rule(&findings, "PGH-PRIV-01");
    assert_eq!(status, "fail", "{evidence}");
    assert!(evidence.contains("pg_hba_file_rules: not asked"), "{evidence}");
    assert!(
        evidence.contains(&format!("pg_hba.conf:{line}: error: ")) && evidence.contains("crashes"),
        "{evidence}"
    );
    assert!(cluster.is_running(), "the audit left the server running");
    let log = cluster.log_since(log_before);
    assert!(!log.contains("signal 11"), "{log}");
    // What the audit did not do: a backend that reads that pg_hba.conf dies, and every session
    // with it (the postmaster restarts them all).
    assert!(cluster.psql("SELECT count(*) FROM pg_hba_file_rules").is_err());
    let crashed = || cluster.log_since(log_before).contains("terminated by signal 11");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !crashed() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(crashed(), "{}", cluster.log_since(log_before));
    set_line(" validator=v1");
}

/// Without a superuser the server's reading is not had: the acceptance check is not checked,
/// never a pass — on 14 as on 18. pg_ident.conf on 14 has no view at all: pgharden's reading
/// is then the evidence, and says so.
#[test]
fn the_servers_reading_needs_a_superuser() {
    let (cluster, conninfo) = with_auditor(14);
    let findings = audit(&[&conninfo, "--no-probe"]);
    let (status, evidence) = rule(&findings, "PGH-PRIV-01");
    assert_eq!(status, "not-checked", "{evidence}");
    assert!(
        evidence.contains("pg_hba_file_rules: permission denied: reading it needs a superuser"),
        "{evidence}"
    );
    let findings = audit_files(&cluster);
    let (status, evidence) = rule(&findings, "PGH-PRIV-01");
    assert_eq!(status, "manual", "{evidence}");
    assert!(
        evidence.contains("the server reads pg_hba.conf without error (2 rules, pg_hba_file_rules)"),
        "{evidence}"
    );
    let (_, evidence) = rule(&findings, "PGH-AUTH-08");
    assert!(evidence.contains("PostgreSQL 14 cannot show how it reads pg_ident.conf"), "{evidence}");
    assert!(
        evidence.contains("pgharden's reading of pg_ident.conf for PostgreSQL 14 finds nothing"),
        "{evidence}"
    );
}

/// A pg_ident.conf line the server refuses makes it refuse the whole file; a reload keeps the maps
/// read before. The map rules must fail, naming the line, and not judge the maps on disk.
#[test]
fn a_refused_pg_ident_conf_fails_the_map_rules() {
    let pki = TestPki::new("p256");
    let cluster = hardened(16, &pki);
    let ident = cluster.data_dir().join("pg_ident.conf");
    let old = fs::read_to_string(&ident).unwrap();
    let line = old.lines().count() + 1;
    cluster.write_ident(&format!("{old}pgharden /^(.*)$ postgres\npgharden onlytwo\n")).unwrap();
    cluster.psql_and_reload("SELECT 1").unwrap();
    let errors = cluster
        .psql("SELECT line_number || ' ' || error FROM pg_ident_file_mappings WHERE error IS NOT NULL")
        .unwrap();
    assert_eq!(errors, format!("{} missing entry at end of line", line + 1));

    let findings = audit_files(&cluster);
    assert_rules(
        &findings,
        CheckId::IdentFileAccepted,
        "fail",
        &format!("pg_ident.conf:{}: missing entry at end of line", line + 1),
    );
    assert_rules(&findings, CheckId::IdentFileAccepted, "fail", "a restart starts without any map");
    // The regex-to-superuser line on disk is not what is in force, so it is not judged either.
    assert_evidence(&findings, CheckId::IdentMappings, "the server refuses pg_ident.conf as it is on disk");
    for (rule, _, evidence) in rules_using(&findings, CheckId::IdentMappings) {
        assert!(!evidence.contains("a regular expression to a fixed role"), "{rule}: {evidence}");
    }

    // Mended, the file is read and the map on disk is judged.
    cluster.write_ident(&format!("{old}pgharden /^(.*)$ postgres\n")).unwrap();
    cluster.psql_and_reload("SELECT 1").unwrap();
    let findings = audit_files(&cluster);
    assert_evidence(&findings, CheckId::IdentFileAccepted, "the server reads pg_ident.conf without error");
    assert_rules(
        &findings,
        CheckId::IdentMappings,
        "fail",
        &format!("pg_ident.conf:{line}: map pgharden maps /^(.*)$ to postgres"),
    );
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL 18's log_connections
// ---------------------------------------------------------------------------------------------

/// Every rule judging `log_connections` passes for the values that log receipt, authentication
/// and authorization, and fails for those that do not, on a real 18 that reads them.
#[test]
fn log_connections_lists_are_read_as_18_reads_them() {
    let pki = TestPki::new("p256");
    let cluster = hardened(18, &pki);
    let rules = ["PGH-LOG-10", "PGH-LOG-11", "PGH-LOG-12", "PGH-LOG-13", "PGH-LOG-19", "PGH-AUD-33"];
    let with = |value: &str, disconnections: &str| -> (String, Vec<(String, String, String)>) {
        cluster
            .psql_and_reload(&format!(
                "ALTER SYSTEM SET log_connections = {value}; ALTER SYSTEM SET log_disconnections = {disconnections}"
            ))
            .unwrap();
        let shown = cluster.psql("SHOW log_connections").unwrap();
        let findings = audit_files(&cluster);
        let statuses = rules
            .iter()
            .map(|r| {
                let (s, e) = rule(&findings, r);
                (r.to_string(), s.to_string(), e)
            })
            .collect();
        (shown, statuses)
    };
    for value in [
        "on",
        "'all'",
        "'receipt,authentication,authorization'",
        "'all, setup_durations'",
        "'setup_durations, receipt, authorization, authentication'",
    ] {
        let (shown, statuses) = with(value, "on");
        for (r, status, evidence) in statuses {
            assert_eq!(status, "pass", "log_connections = {value} (server: {shown:?}): {r}\n{evidence}");
        }
    }
    for value in ["'authentication'", "''", "'receipt, authentication'"] {
        let (shown, statuses) = with(value, "on");
        for (r, status, evidence) in statuses {
            if r == "PGH-LOG-19" {
                // CD16-00-001000: log_connections or log_disconnections; the latter is on.
                assert_eq!(status, "pass", "{value}: {r}\n{evidence}");
                continue;
            }
            assert_eq!(status, "fail", "log_connections = {value} (server: {shown:?}): {r}\n{evidence}");
            assert!(
                evidence.contains("log_connections = ") && evidence.contains("does not log"),
                "{r}: {evidence}"
            );
        }
    }
    let (_, statuses) = with("''", "off");
    let (_, status, evidence) = statuses.iter().find(|(r, _, _)| r == "PGH-LOG-19").unwrap();
    assert_eq!(status, "fail", "neither connections nor disconnections: {evidence}");
    let (_, statuses) = with("'all'", "off");
    let (_, status, evidence) = statuses.iter().find(|(r, _, _)| r == "PGH-LOG-19").unwrap();
    assert_eq!(status, "pass", "connections are logged: {evidence}");
}

// ---------------------------------------------------------------------------------------------
// The TLS settings each version has, beside the scan's verdicts
// ---------------------------------------------------------------------------------------------

/// The suite and group verdicts come from the scan; beside them stand the settings that decide
/// them, as the server's version names them.
fn tls_settings_are_named(major: u32) {
    let pki = TestPki::new("p256");
    let cluster = hardened(major, &pki);
    let findings = audit(&["--pgdata", cluster.data_dir().to_str().unwrap()]);
    let suites = rules_using(&findings, CheckId::TlsSuitesAccepted);
    let groups = rules_using(&findings, CheckId::TlsGroupsAccepted);
    let setting = |name: &str| cluster.psql(&format!("SELECT current_setting('{name}')")).unwrap();
    let shown = |name: &str| format!("{name} = '{}'", setting(name));
    for (rule, _, evidence) in &suites {
        assert!(evidence.contains("accepted cipher suites"), "{rule}: the scan ran\n{evidence}");
        assert!(evidence.contains(&shown("ssl_ciphers")), "{rule}: {evidence}");
        assert_eq!(evidence.contains("ssl_tls13_ciphers = "), major >= 18, "{rule}: {evidence}");
        if major >= 18 {
            assert!(evidence.contains(&shown("ssl_tls13_ciphers")), "{rule}: {evidence}");
        }
    }
    let curve = if major >= 18 { "ssl_groups" } else { "ssl_ecdh_curve" };
    for (rule, _, evidence) in &groups {
        assert!(evidence.contains("accepted groups"), "{rule}: the scan ran\n{evidence}");
        assert!(evidence.contains(&shown(curve)), "{rule}: {evidence}");
        assert!(evidence.contains(&shown("ssl_dh_params_file")), "{rule}: {evidence}");
        let other = if major >= 18 { "ssl_ecdh_curve" } else { "ssl_groups" };
        assert!(!evidence.contains(other), "{rule}: {evidence}");
    }
}

#[test]
fn tls_settings_are_named_on_14() {
    tls_settings_are_named(14);
}

#[test]
fn tls_settings_are_named_on_17() {
    tls_settings_are_named(17);
}

#[test]
fn tls_settings_are_named_on_18() {
    tls_settings_are_named(18);
}
