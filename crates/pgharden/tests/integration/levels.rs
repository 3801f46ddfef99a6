//! `apply --level`: each protection level on a fresh PostgreSQL 15 cluster, proved from libpq's side
//! (psql): what connects and what is refused; the audit fails exactly the rules the plan says a
//! lower level costs; and going from a lower level to `mutual` and back leaves pg_hba.conf and
//! pg_ident.conf as they were, with nothing piled up.

use std::collections::BTreeSet;
use std::process::Stdio;

use pgharden_cluster::plan::Level;
use pgharden_testcluster::Cluster;

use crate::support::{Psql, TestPki, audit_json, pgharden, psql_with};

const PASSWORD: &str = "correct horse battery staple";

/// `apply --pgdata … --level LEVEL EXTRA…`: (exit code, stdout, stderr).
fn apply(cluster: &Cluster, pki: &TestPki, level: Level, extra: &[&str]) -> (i32, String, String) {
    let out = pgharden()
        .args(["apply", "--pgdata", cluster.data_dir().to_str().unwrap(), "--pki", &pki.p("")])
        .args(["--host", "localhost", "--host", "127.0.0.1", "--level", level.name()])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// Apply `level`, which must succeed; returns what it printed.
fn apply_ok(cluster: &Cluster, pki: &TestPki, level: Level) -> String {
    let (code, stdout, stderr) = apply(cluster, pki, level, &["--yes"]);
    assert_eq!(code, 0, "apply --level {level}:\n{stdout}{stderr}\n{}", cluster.log());
    assert!(stdout.contains("a second plan finds nothing left to change"), "{stdout}");
    format!("{stdout}{stderr}")
}

/// psql with a password (never prompted for: -w) and no client certificate of root's own.
fn login(cluster: &Cluster, conninfo: &str, password: Option<&str>) -> Psql {
    let mut cmd = cluster.psql_command();
    cmd.arg("-w");
    match password {
        Some(p) => cmd.env("PGPASSWORD", p),
        None => cmd.env_remove("PGPASSWORD"),
    };
    psql_with(cmd, conninfo, "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
}

fn tcp(cluster: &Cluster, rest: &str) -> String {
    format!(
        "host=localhost port={} dbname=postgres sslcert=/nonexistent sslkey=/nonexistent {rest}",
        cluster.port()
    )
}

/// The conninfo apply printed for clients (`  psql 'CONNINFO'`).
fn printed_conninfo(output: &str) -> String {
    let line = output
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("psql "))
        .unwrap_or_else(|| panic!("apply printed no psql command:\n{output}"));
    line.trim().trim_matches('\'').to_string()
}

/// The rules the audit fails on the cluster as it is now.
fn failing_rules(cluster: &Cluster) -> BTreeSet<String> {
    let (_, report) = audit_json(cluster, &[]);
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fail")
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

/// The rules the plan (`--plan --json`) says the level costs, and its text.
fn planned_costs(cluster: &Cluster, pki: &TestPki, level: Level) -> (BTreeSet<String>, String) {
    let (code, stdout, stderr) = apply(cluster, pki, level, &["--plan", "--json"]);
    assert!(code == 0 || code == 1, "{stdout}{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let summary = &json["plan"]["level"];
    assert_eq!(summary["level"], level.name(), "{summary}");
    let costs =
        summary["costs"].as_array().unwrap().iter().map(|c| c["rule"].as_str().unwrap().into()).collect();
    let (_, text, _) = apply(cluster, pki, level, &["--plan"]);
    (costs, text)
}

/// The active (not commented) lines of a file.
fn active_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn fresh() -> (TestPki, Cluster) {
    let pki = TestPki::new("p256");
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    cluster.psql(&format!("CREATE ROLE bob LOGIN PASSWORD '{PASSWORD}'")).unwrap();
    // A password stored the old way: scram-sha-256 lines must not accept it.
    cluster
        .psql(&format!("SET password_encryption = 'md5'; CREATE ROLE old LOGIN PASSWORD '{PASSWORD}'"))
        .unwrap();
    (pki, cluster)
}

/// A lower level: libpq's view, the audit against the plan's list, and a round trip through
/// `mutual` that leaves the authentication files as they were.
fn lower_level(level: Level) {
    let (pki, cluster) = fresh();
    let (costs, plan_text) = planned_costs(&cluster, &pki, level);
    assert!(plan_text.contains(&format!("Protection level: {level} -- LOWER")), "{plan_text}");
    assert!(plan_text.contains("scram-sha-256") && !plan_text.contains("map=pgharden"), "{plan_text}");
    let out = apply_ok(&cluster, &pki, level);
    assert!(out.contains(&format!("--level {level}: the audit fails")), "the exit note: {out}");
    let hba_path = cluster.data_dir().join("pg_hba.conf");
    let ident_path = cluster.data_dir().join("pg_ident.conf");
    let hba_low = std::fs::read_to_string(&hba_path).unwrap();
    let ident_low = std::fs::read_to_string(&ident_path).unwrap();
    assert!(
        !active_lines(&ident_low).iter().any(|l| l.starts_with("pgharden ")),
        "a lower level maps no certificates: {ident_low}"
    );

    // What apply printed is what a client runs: a password over TLS connects.
    let printed = printed_conninfo(&out);
    let sslmode = format!("sslmode={}", level.client_sslmode());
    assert!(printed.contains(&sslmode), "{printed}");
    // The same client settings, for the refusals below.
    let sslmode = match level {
        Level::VerifyServer => format!("{sslmode} sslrootcert={}", pki.p("root/ca.crt")),
        _ => sslmode,
    };
    if level == Level::VerifyServer {
        assert!(printed.contains(&format!("sslrootcert={}", pki.p("root/ca.crt"))), "{printed}");
    } else {
        assert!(out.contains("does NOT authenticate the server"), "{out}");
    }
    let bob = login(
        &cluster,
        &format!("{printed} user=bob sslcert=/nonexistent sslkey=/nonexistent"),
        Some(PASSWORD),
    );
    assert!(bob.ok, "{printed}: {}", bob.stderr);
    assert_eq!(bob.stdout, "bob|t", "encrypted, as bob");
    // Refused: plaintext (even with the right password), a wrong password, no password, an MD5 hash.
    let plain = login(&cluster, &tcp(&cluster, "user=bob sslmode=disable"), Some(PASSWORD));
    assert!(!plain.ok && plain.stderr.contains("no encryption"), "{}", plain.stderr);
    let wrong = login(&cluster, &tcp(&cluster, &format!("user=bob {sslmode}")), Some("guess"));
    assert!(!wrong.ok && wrong.stderr.contains("password authentication failed"), "{}", wrong.stderr);
    let none = login(&cluster, &tcp(&cluster, &format!("user=bob {sslmode}")), None);
    assert!(!none.ok, "no password must not log in: {}", none.stdout);
    let md5 = login(&cluster, &tcp(&cluster, &format!("user=old {sslmode}")), Some(PASSWORD));
    assert!(!md5.ok, "an MD5-hashed password must not pass scram-sha-256: {}", md5.stdout);

    // The audit fails exactly what the plan said the level costs, beyond what mutual fails.
    let at_level = failing_rules(&cluster);
    let out = apply_ok(&cluster, &pki, Level::Mutual);
    assert!(!out.contains("the audit fails"), "{out}");
    let hba_mutual = std::fs::read_to_string(&hba_path).unwrap();
    let ident_mutual = std::fs::read_to_string(&ident_path).unwrap();
    let at_mutual = failing_rules(&cluster);
    let extra: BTreeSet<String> = at_level.difference(&at_mutual).cloned().collect();
    assert_eq!(
        extra, costs,
        "what --level {level} fails beyond mutual (level: {at_level:?}, mutual: {at_mutual:?})"
    );
    assert!(costs.is_disjoint(&at_mutual), "mutual must pass what a lower level costs: {at_mutual:?}");
    let (mutual_costs, mutual_text) = planned_costs(&cluster, &pki, Level::Mutual);
    assert!(
        mutual_costs.is_empty() && mutual_text.contains("Protection level: mutual (the STIG's)"),
        "{mutual_text}"
    );

    // Back at mutual: certificates, not passwords.
    let cert = login(
        &cluster,
        &format!(
            "host=localhost port={} dbname=postgres user=bob sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
            cluster.port(),
            pki.p("root/ca.crt"),
            pki.p("clients/bob/client.crt"),
            pki.p("clients/bob/client.key")
        ),
        None,
    );
    assert!(cert.ok && cert.stdout == "bob|t", "{}", cert.stderr);
    let password_only = login(
        &cluster,
        &tcp(&cluster, &format!("user=bob sslmode=verify-full sslrootcert={}", pki.p("root/ca.crt"))),
        Some(PASSWORD),
    );
    assert!(
        !password_only.ok,
        "mutual must refuse a password without a certificate: {}",
        password_only.stdout
    );
    assert!(
        active_lines(&hba_mutual).iter().all(|l| !l.ends_with("scram-sha-256")),
        "the lower level's scram lines are gone: {hba_mutual}"
    );
    assert!(active_lines(&ident_mutual).iter().any(|l| l.starts_with("pgharden ")), "{ident_mutual}");

    // Down and up again: the same files, nothing piled up.
    apply_ok(&cluster, &pki, level);
    assert_eq!(
        std::fs::read_to_string(&hba_path).unwrap(),
        hba_low,
        "pg_hba.conf after {level} -> mutual -> {level}"
    );
    assert_eq!(std::fs::read_to_string(&ident_path).unwrap(), ident_low);
    apply_ok(&cluster, &pki, Level::Mutual);
    let hba = std::fs::read_to_string(&hba_path).unwrap();
    assert_eq!(hba, hba_mutual, "pg_hba.conf after mutual -> {level} -> mutual");
    assert_eq!(std::fs::read_to_string(&ident_path).unwrap(), ident_mutual);
    let active = active_lines(&hba);
    let unique: BTreeSet<&String> = active.iter().collect();
    assert_eq!(unique.len(), active.len(), "duplicate lines: {hba}");
    assert_eq!(active.len(), 7, "local peer, 4 hostssl, 2 hostnossl reject: {hba}");
}

#[test]
fn verify_server_takes_passwords_over_verified_tls_and_costs_what_the_plan_says() {
    lower_level(Level::VerifyServer);
}

#[test]
fn encrypt_takes_passwords_over_tls_and_costs_what_the_plan_says() {
    lower_level(Level::Encrypt);
}

#[test]
fn mutual_is_the_default_and_refuses_every_login_without_a_certificate() {
    let (pki, cluster) = fresh();
    let (costs, text) = planned_costs(&cluster, &pki, Level::Mutual);
    assert!(costs.is_empty(), "{costs:?}");
    assert!(text.contains("Protection level: mutual (the STIG's)"), "{text}");
    let out = apply_ok(&cluster, &pki, Level::Mutual);
    assert!(
        out.contains("pgharden client") && out.contains("--role ROLE"),
        "the client certificate flow: {out}"
    );
    let root = pki.p("root/ca.crt");
    let cert = login(
        &cluster,
        &format!(
            "host=localhost port={} dbname=postgres user=bob sslmode=verify-full sslrootcert={root} sslcert={} sslkey={}",
            cluster.port(),
            pki.p("clients/bob/client.crt"),
            pki.p("clients/bob/client.key")
        ),
        None,
    );
    assert!(cert.ok && cert.stdout == "bob|t", "{}", cert.stderr);
    let no_cert = login(
        &cluster,
        &tcp(&cluster, &format!("user=bob sslmode=verify-full sslrootcert={root}")),
        Some(PASSWORD),
    );
    assert!(!no_cert.ok && no_cert.stderr.contains("valid client certificate"), "{}", no_cert.stderr);
    let plain = login(&cluster, &tcp(&cluster, "user=bob sslmode=disable"), Some(PASSWORD));
    assert!(!plain.ok && plain.stderr.contains("no encryption"), "{}", plain.stderr);
    let failing = failing_rules(&cluster);
    for cost in pgharden_cluster::plan::level::LOWER_LEVEL_COSTS {
        assert!(!failing.contains(cost.rule), "{} fails at mutual: {failing:?}", cost.rule);
    }
    // Without --level, the plan is mutual's: nothing to change.
    let out = pgharden()
        .args(["apply", "--pgdata", cluster.data_dir().to_str().unwrap(), "--pki", &pki.p("")])
        .args(["--host", "localhost", "--host", "127.0.0.1", "--plan", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["changes"], serde_json::json!([]), "{json}");
    assert_eq!(json["plan"]["level"]["level"], "mutual");
}

#[test]
fn an_unknown_level_is_refused_with_the_three_named() {
    let out = pgharden()
        .args([
            "apply",
            "--pgdata",
            "/nonexistent",
            "--pki",
            "/nonexistent",
            "--host",
            "x",
            "--level",
            "verify-full",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("verify-server") && text.contains("mutual") && text.contains("encrypt"), "{text}");
}
