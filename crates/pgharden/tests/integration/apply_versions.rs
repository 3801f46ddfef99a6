//! `pgharden apply` on each supported major (14 to 18): what it writes, the server reads without a
//! complaint; PostgreSQL 18's list-valued `log_connections`, `ssl_groups` and `ssl_tls13_ciphers`;
//! a cluster without pgaudit said NOT MET in the text, the JSON and the exit status; a failed
//! restart, twice, that leaves the server's command line as it was and quotes its FATAL line.

use std::fs;
use std::process::Stdio;

use pgharden_testcluster::{Cluster, ClusterOptions, Installation};

use crate::support::{TestPki, pgharden, psql};

const HOSTS: [&str; 4] = ["--host", "localhost", "--host", "127.0.0.1"];

/// A running cluster of `major` with the roles the test PKI has certificates for.
fn cluster_of(major: u32) -> Cluster {
    let install = Installation::for_major(major)
        .unwrap_or_else(|e| panic!("PostgreSQL {major} must be installed (scripts/postgres-versions): {e}"));
    let cluster = Cluster::start(ClusterOptions::new(install)).unwrap();
    cluster.psql("CREATE ROLE bob LOGIN").unwrap();
    cluster
}

/// `apply --pgdata … --pki …` with `extra`: (exit code, stdout, stderr).
fn apply(cluster: &Cluster, pki: &TestPki, extra: &[&str]) -> (i32, String, String) {
    let out = pgharden()
        .args(["apply", "--pgdata", cluster.data_dir().to_str().unwrap(), "--pki", &pki.p("")])
        .args(HOSTS)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `apply --plan --json`, which must exit `code`.
fn plan_json(cluster: &Cluster, pki: &TestPki, extra: &[&str], code: i32) -> serde_json::Value {
    let (status, stdout, stderr) = apply(cluster, pki, &[&["--plan", "--json"], extra].concat());
    assert_eq!(status, code, "{stdout}{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

/// Everything the server wrote: the test harness's own log, pg_ctl's (where a restart by apply
/// writes until the logging collector starts) and the collector's files.
fn server_logs(cluster: &Cluster) -> String {
    let mut all = cluster.log();
    all.push_str(&fs::read_to_string(cluster.data_dir().join("pgharden-pg_ctl.log")).unwrap_or_default());
    if let Ok(dir) = fs::read_dir(cluster.data_dir().join("log")) {
        for entry in dir {
            all.push_str(&fs::read_to_string(entry.unwrap().path()).unwrap());
        }
    }
    all
}

/// The server's own reading of the files apply wrote: no error in pg_hba_file_rules,
/// pg_ident_file_mappings (15+) or pg_file_settings, nothing waiting for a restart, no WARNING in
/// any log; every profile value in force; a second plan with nothing to do; and a client that
/// still connects over TLS 1.3 with its certificate.
fn apply_is_read_cleanly(major: u32) {
    let pki = TestPki::new("p256");
    let cluster = cluster_of(major);
    let extra: &[&str] = if major == 14 || major == 16 { &["--allow-missing-pgaudit"] } else { &[] };
    let (status, stdout, stderr) = apply(&cluster, &pki, &[extra, &["--yes"]].concat());
    assert_eq!(status, 0, "PostgreSQL {major}: {stdout}{stderr}\n{}", server_logs(&cluster));

    let count = |sql: &str| cluster.psql(&format!("SELECT count(*) FROM ({sql}) t")).unwrap();
    assert_eq!(count("SELECT * FROM pg_hba_file_rules WHERE error IS NOT NULL"), "0", "{major}");
    if major >= 15 {
        assert_eq!(count("SELECT * FROM pg_ident_file_mappings WHERE error IS NOT NULL"), "0", "{major}");
    }
    let errors = cluster
        .psql("SELECT string_agg(sourcefile || ':' || sourceline || ' ' || error, '; ') FROM pg_file_settings WHERE error IS NOT NULL")
        .unwrap();
    assert_eq!(errors, "", "PostgreSQL {major}: pg_file_settings");
    let pending =
        cluster.psql("SELECT string_agg(name, ', ') FROM pg_settings WHERE pending_restart").unwrap();
    assert_eq!(pending, "", "PostgreSQL {major}: pending_restart");
    let logs = server_logs(&cluster);
    let warnings: Vec<&str> = logs.lines().filter(|l| l.contains("WARNING")).collect();
    assert!(warnings.is_empty(), "PostgreSQL {major}: {warnings:#?}");

    let show = |name: &str| cluster.psql(&format!("SHOW {name}")).unwrap();
    assert_eq!(show("log_connections"), "on", "{major}");
    if major >= 18 {
        assert_eq!(show("ssl_groups"), "X25519:P-256:P-384:P-521");
        assert_eq!(
            show("ssl_tls13_ciphers"),
            "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
        );
    } else {
        assert_eq!(show("ssl_ecdh_curve"), "prime256v1", "{major}");
    }
    let changes = plan_json(&cluster, &pki, extra, 0);
    assert_eq!(changes["changes"], serde_json::json!([]), "PostgreSQL {major}: a second plan");

    let conninfo = format!(
        "host=localhost port={} dbname=postgres user=bob sslmode=verify-full sslrootcert={} sslcrl={} sslcert={} sslkey={}",
        cluster.port(),
        pki.p("root/ca.crt"),
        pki.p("crls.pem"),
        pki.p("clients/bob/client.crt"),
        pki.p("clients/bob/client.key"),
    );
    let tls = psql(
        &cluster,
        &conninfo,
        "SELECT version || ' ' || cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    );
    assert!(tls.ok, "PostgreSQL {major}: {}", tls.stderr);
    let (version, cipher) = tls.stdout.split_once(' ').unwrap();
    assert_eq!(version, "TLSv1.3", "{major}");
    assert!(
        ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"]
            .contains(&cipher),
        "PostgreSQL {major}: {cipher}"
    );
}

#[test]
fn postgresql_14_reads_what_apply_wrote_cleanly() {
    apply_is_read_cleanly(14);
}

#[test]
fn postgresql_15_reads_what_apply_wrote_cleanly() {
    apply_is_read_cleanly(15);
}

#[test]
fn postgresql_16_reads_what_apply_wrote_cleanly() {
    apply_is_read_cleanly(16);
}

#[test]
fn postgresql_17_reads_what_apply_wrote_cleanly() {
    apply_is_read_cleanly(17);
}

#[test]
fn postgresql_18_reads_what_apply_wrote_cleanly() {
    apply_is_read_cleanly(18);
}

/// PostgreSQL 18's `log_connections` is a list: a value that logs at least what `on` logs is left
/// alone, and one that logs less gains what it lacks without losing what it has.
#[test]
fn postgresql_18_log_connections_lists_are_kept_or_raised() {
    let pki = TestPki::new("p256");
    let cluster = cluster_of(18);
    let set = |value: &str| {
        cluster.append_conf(&format!("log_connections = '{value}'")).unwrap();
        cluster.psql_and_reload("SELECT 1").unwrap();
    };
    let planned = || -> Vec<serde_json::Value> {
        let plan = plan_json(&cluster, &pki, &[], 0);
        plan["plan"]["settings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["name"] == "log_connections")
            .cloned()
            .collect()
    };

    set("all");
    assert!(planned().is_empty(), "all logs more than on");
    let (status, stdout, stderr) = apply(&cluster, &pki, &["--yes"]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    assert_eq!(cluster.psql("SHOW log_connections").unwrap(), "all", "setup_durations kept");
    assert!(plan_json(&cluster, &pki, &[], 0)["changes"].as_array().unwrap().is_empty());

    set("receipt,authentication,authorization");
    assert!(planned().is_empty(), "exactly what on means");

    set("authentication");
    let change = planned();
    assert_eq!(change.len(), 1, "{change:?}");
    assert_eq!(change[0]["from"], "authentication");
    assert_eq!(change[0]["to"], "on");

    set("setup_durations,authentication");
    let change = planned();
    assert_eq!(change.len(), 1, "{change:?}");
    assert_eq!(change[0]["to"], "all", "the missing aspects are added, setup_durations stays");
    let (status, stdout, stderr) = apply(&cluster, &pki, &["--yes"]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    assert_eq!(cluster.psql("SHOW log_connections").unwrap(), "all");
    assert!(planned().is_empty());
}

/// Without pgaudit (PostgreSQL 14 has none here), the plan, the result, a later run with nothing
/// to change, and the JSON all say Appendix B is NOT met, and apply exits 1 — unless the operator
/// accepts it with --allow-missing-pgaudit. The rest of the profile is applied all the same.
#[test]
fn a_cluster_without_pgaudit_is_not_called_hardened() {
    let pki = TestPki::new("p256");
    let cluster = cluster_of(14);
    let not_met = |text: &str| {
        assert!(text.contains("NOT MET: STIG Appendix B"), "{text}");
        assert!(text.contains("apt-get install postgresql-14-pgaudit"), "{text}");
        assert!(text.contains("dnf install pgaudit16_14"), "{text}");
    };

    let (status, stdout, stderr) = apply(&cluster, &pki, &["--plan"]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    not_met(&stdout);
    assert!(stderr.contains("--allow-missing-pgaudit"), "{stderr}");
    let plan = plan_json(&cluster, &pki, &[], 1);
    assert_eq!(plan["unmet"][0]["kind"], "pgaudit", "{plan}");
    assert_eq!(plan["unmet"], plan["plan"]["unmet"]);
    assert!(!plan["changes"].as_array().unwrap().is_empty());

    let (status, stdout, stderr) = apply(&cluster, &pki, &["--yes"]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    assert!(stdout.contains("server restarted") && stdout.contains("NOT complete"), "{stdout}");
    not_met(&stdout);
    assert_eq!(cluster.psql("SHOW ssl").unwrap(), "on", "the rest of the profile is applied");

    let (status, stdout, stderr) = apply(&cluster, &pki, &["--yes"]);
    assert_eq!(status, 1, "{stdout}{stderr}");
    assert!(!stdout.contains("already has the stig profile"), "{stdout}");
    assert!(stdout.contains("does NOT have the whole stig profile"), "{stdout}");
    not_met(&stdout);

    let (status, stdout, stderr) = apply(&cluster, &pki, &["--yes", "--allow-missing-pgaudit"]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    not_met(&stdout);
    assert!(stderr.contains("although STIG Appendix B (pgaudit) is NOT met"), "{stderr}");
    let plan = plan_json(&cluster, &pki, &["--allow-missing-pgaudit"], 0);
    assert_eq!(plan["changes"], serde_json::json!([]));
    assert_eq!(plan["unmet"][0]["install"][0]["command"], "apt-get install postgresql-14-pgaudit");
}

/// A restart that fails (the logging collector cannot open its file: `log` is a file, not a
/// directory), twice in a row: each time every file is put back, the server is started again on
/// the command line it had — postmaster.opts unchanged, same port and socket — and the error
/// quotes the server's FATAL line and names pg_ctl's log.
#[test]
fn failed_restarts_bring_the_server_back_exactly_as_it_was() {
    let pki = TestPki::new("p256");
    let cluster = cluster_of(18);
    cluster.write_file("log", b"not a directory\n", 0o600).unwrap();
    let opts = cluster.data_dir().join("postmaster.opts");
    let before = fs::read_to_string(&opts).unwrap();
    assert_eq!(before.matches("\"-D\"").count(), 1, "{before}");
    for attempt in 1..=2 {
        let (status, stdout, stderr) = apply(&cluster, &pki, &["--yes"]);
        assert_eq!(status, 2, "attempt {attempt}: {stdout}{stderr}");
        assert!(stderr.contains("pg_ctl restart failed"), "attempt {attempt}: {stderr}");
        assert!(stderr.contains("runs on its previous configuration"), "attempt {attempt}: {stderr}");
        let log = cluster.data_dir().join("pgharden-pg_ctl.log");
        assert!(
            stderr.contains(&format!("the server said in {}: FATAL:", log.display())),
            "attempt {attempt}: {stderr}"
        );
        assert!(stderr.contains("could not open log file"), "attempt {attempt}: {stderr}");
        assert_eq!(fs::read_to_string(&opts).unwrap(), before, "attempt {attempt}: postmaster.opts");
        assert_eq!(cluster.psql("SHOW port").unwrap(), cluster.port().to_string());
        assert_eq!(
            cluster.psql("SHOW unix_socket_directories").unwrap(),
            cluster.socket_dir().display().to_string()
        );
        assert_eq!(cluster.psql("SHOW logging_collector").unwrap(), "off");
    }
}
