//! A cluster made the Debian way (`pg_createcluster`: configuration in ROOT/15/NAME, `pg_ctlcluster`,
//! `pg_lsclusters`), under a temporary configuration root (`PG_CLUSTER_CONF_ROOT`), hardened with
//! `apply`: Debian's tools keep working, the log stays where they say, the plan names the Debian
//! conventions it keeps and what each costs in the audit, logins with awkward CNs work, and
//! re-applying neither piles up pg_hba.conf lines nor runs twice at once.
//!
//! Needs root (pg_createcluster switches to the owner) and Debian's postgresql-common; CI runs as
//! root on Debian. Without them the test fails and says so.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{TestPki, pgharden};

/// A Debian cluster removed again (`pg_dropcluster --stop`) when the test ends, however it ends.
struct DebianCluster {
    root: PathBuf,
    name: String,
}

impl DebianCluster {
    fn tool(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("PG_CLUSTER_CONF_ROOT", &self.root);
        c
    }
}

impl Drop for DebianCluster {
    fn drop(&mut self) {
        let _ = self.tool("pg_dropcluster").args(["--stop", "15", &self.name]).status();
    }
}

fn must(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e} (is postgresql-common installed?)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The CNs a user meets: a comma (RFC 4514 escapes it), a quote, a plus sign, non-ASCII.
const CLIENTS: &[(&str, &str)] = &[
    ("smith", "Smith, John"),
    ("obrien", "Dan \"The Man\" O'Brien"),
    ("plus", "a+b=c"),
    ("juergen", "Jürgen Groß"),
];

#[test]
fn a_debian_cluster_keeps_debian_conventions_after_apply() {
    assert!(nix::unistd::geteuid().is_root(), "pg_createcluster -u postgres needs root (CI runs as root)");
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path();
    std::fs::set_permissions(base, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let postgres = nix::unistd::User::from_name("postgres").unwrap().expect("a postgres account");
    let (root, logdir, sock) = (base.join("etc"), base.join("log"), base.join("run"));
    for d in [&root, &logdir, &sock] {
        std::fs::create_dir(d).unwrap();
    }
    nix::unistd::chown(&sock, Some(postgres.uid), Some(postgres.gid)).unwrap();
    // As Debian makes /var/log/postgresql: root:postgres 1775.
    nix::unistd::chown(&logdir, Some(nix::unistd::Uid::from_raw(0)), Some(postgres.gid)).unwrap();
    std::fs::set_permissions(&logdir, std::os::unix::fs::PermissionsExt::from_mode(0o1775)).unwrap();
    let port = pgharden_testcluster::free_port().unwrap().to_string();
    let name = format!("pgh{port}");
    let logfile = logdir.join(format!("postgresql-15-{name}.log"));
    let data = base.join("data");
    let cluster = DebianCluster { root: root.clone(), name: name.clone() };
    must(cluster.tool("pg_createcluster").args(["15", &name, "-u", "postgres", "-p", &port]).args([
        "-d".as_ref(),
        data.as_os_str(),
        "-s".as_ref(),
        sock.as_os_str(),
        "-l".as_ref(),
        logfile.as_os_str(),
    ]));
    must(cluster.tool("pg_ctlcluster").args(["15", &name, "start"]));
    let conf_dir = root.join("15").join(&name);
    let sql = |statement: &str| {
        must(
            Command::new("runuser").args(["-u", "postgres", "--", "/usr/lib/postgresql/15/bin/psql"]).args([
                "-X",
                "-h",
                sock.to_str().unwrap(),
                "-p",
                &port,
                "-d",
                "postgres",
                "-c",
                statement,
            ]),
        )
    };
    for (role, _) in CLIENTS {
        sql(&format!("CREATE ROLE {role} LOGIN CONNECTION LIMIT 5"));
    }
    let pki = TestPki::bare("p256");
    pki.ok(&["pki", "server", "--host", "localhost", "--host", "127.0.0.1"]);
    for (role, cn) in CLIENTS {
        pki.ok(&["pki", "client", "--role", role, "--cn", cn]);
    }
    let d = data.to_str().unwrap();
    let apply = |extra: &[&str]| {
        pgharden()
            .args(["apply", "--pgdata", d, "--pki", &pki.p(""), "--host", "localhost", "--host", "127.0.0.1"])
            .args(extra)
            .output()
            .unwrap()
    };

    // The plan: Debian recognised, its conventions and their cost named, Debian's Etc/UTC kept.
    let out = apply(&["--plan", "--json"]);
    let plan: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    let plan = &plan["plan"];
    assert_eq!(plan["cluster"]["debian"], true, "{plan}");
    let kept = plan["debian_conventions"].as_array().unwrap();
    let costs: Vec<String> = kept
        .iter()
        .flat_map(|c| c["costs"].as_array().unwrap())
        .map(|r| r.as_str().unwrap().into())
        .collect();
    assert!(kept.iter().any(|c| c["kept"].as_str().unwrap().contains(logfile.to_str().unwrap())), "{kept:?}");
    assert!(kept.iter().any(|c| c["kept"].as_str().unwrap().contains("0644")), "{kept:?}");
    let settings = plan["settings"].as_array().unwrap();
    assert!(!settings.iter().any(|s| s["name"] == "log_timezone"), "Etc/UTC is UTC: {settings:?}");
    let hba_diff = plan["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("pg_hba.conf"))
        .map(|f| f["diff"].as_str().unwrap().to_string())
        .unwrap();
    for line in hba_diff.lines().filter(|l| l.starts_with('+') && l.contains("disabled by pgharden")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(
            words[1..5] != ["local", "all", "postgres", "peer"],
            "a disabled copy of a kept line: {line}"
        );
    }
    // Where the second field starts: every line's databases in the same column.
    let column = |l: &str| l.find(' ').map(|i| i + l[i..].find(|c| c != ' ').unwrap()).unwrap();
    let added: Vec<&str> =
        hba_diff.lines().filter(|l| l.starts_with("+host") || l.starts_with("+local")).collect();
    assert!(added.iter().all(|l| column(l) == column(added[0])), "columns misaligned:\n{}", added.join("\n"));
    let out = apply(&["--plan"]);
    assert!(text(&out).contains("Debian conventions kept:"), "{}", text(&out));

    let out = apply(&["--yes"]);
    assert!(out.status.success(), "apply failed: {}", text(&out));
    assert!(!data.join("pgharden.lock").exists(), "apply left its lock file behind");
    assert_eq!(crate::support::mode(&conf_dir.join("postgresql.conf")) & 0o777, 0o644);

    // Debian's tools: online, the log where they say it is, and the server writing it.
    let ls = must(cluster.tool("pg_lsclusters").args(["15", &name, "--no-header"]));
    assert!(ls.contains("online") && ls.contains(logfile.to_str().unwrap()), "pg_lsclusters: {ls}");
    for (role, cn) in CLIENTS {
        let conninfo = format!(
            "host=localhost port={port} dbname=postgres user={role} sslmode=verify-full sslrootcert={} \
             sslcert={} sslkey={}",
            pki.p("root/ca.crt"),
            pki.p(&format!("clients/{role}/client.crt")),
            pki.p(&format!("clients/{role}/client.key")),
        );
        let psql = Command::new("/usr/lib/postgresql/15/bin/psql")
            .args(["-X", "-A", "-t", "-d", &conninfo, "-c", "SELECT current_user"])
            .output()
            .unwrap();
        assert!(psql.status.success(), "{role} (CN {cn:?}) cannot log in: {}", text(&psql));
        assert_eq!(String::from_utf8_lossy(&psql.stdout).trim(), *role);
    }
    // doctor finds the server's own files (postgresql.conf and pg_hba.conf in the Debian
    // configuration directory, not in PGDATA) and judges the login that just worked as sound.
    let conninfo = format!(
        "host=localhost port={port} dbname=postgres user=smith sslmode=verify-full sslrootcert={} \
         sslcert={} sslkey={} sslcrl={}",
        pki.p("root/ca.crt"),
        pki.p("clients/smith/client.crt"),
        pki.p("clients/smith/client.key"),
        pki.p("crls.pem"),
    );
    let doctor = pgharden().args(["doctor", &conninfo, "--pgdata", data.to_str().unwrap()]).output().unwrap();
    let said = text(&doctor);
    assert!(said.contains(&format!("{}:", conf_dir.join("pg_hba.conf").display())), "doctor: {said}");
    assert_eq!(doctor.status.code(), Some(0), "doctor: {said}");

    let log = std::fs::read_to_string(&logfile).unwrap();
    assert!(
        log.contains("connection authorized: user=smith"),
        "the collector writes {}: {log}",
        logfile.display()
    );
    // logrotate's copytruncate: the file is cut to nothing under the running server, which must go
    // on writing from the start (it appends), not at its old offset behind a hole of NUL bytes.
    std::fs::OpenOptions::new().write(true).open(&logfile).unwrap().set_len(0).unwrap();
    sql("SELECT 'after copytruncate'");
    let log = std::fs::read(&logfile).unwrap();
    assert!(!log.is_empty() && !log.contains(&0), "after truncation: {:?}", String::from_utf8_lossy(&log));

    // pg_ctlcluster restarts it, and the posture survives: a second plan is empty.
    must(cluster.tool("pg_ctlcluster").args(["15", &name, "restart"]));
    let out = apply(&["--plan", "--json"]);
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["changes"], serde_json::json!([]), "{}", text(&out));

    // The audit fails only rules the plan said the conventions cost, and does fail them.
    let out =
        pgharden().args(["audit", "--pgdata", d, "--scope", "cluster", "--format", "json"]).output().unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    let failed: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fail")
        .map(|f| f["rule"].as_str().unwrap_or_default().to_string())
        .collect();
    let unexplained: Vec<&String> = failed.iter().filter(|r| !costs.contains(r)).collect();
    assert!(unexplained.is_empty(), "failed without the plan saying so: {unexplained:?} (all: {failed:?})");
    assert!(
        failed.iter().any(|r| r == "PGH-PRIV-13"),
        "postgresql.conf 0644 must cost PGH-PRIV-13: {failed:?}"
    );

    // Two applies cannot run at once: the data directory is locked.
    let hba = conf_dir.join("pg_hba.conf");
    let settled = std::fs::read_to_string(&hba).unwrap();
    {
        let held =
            std::fs::OpenOptions::new().read(true).custom_flags(nix::libc::O_DIRECTORY).open(&data).unwrap();
        held.try_lock().unwrap();
        let out = apply(&["--allow", "10.0.0.0/8", "--yes"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains("another pgharden apply is running"), "{}", text(&out));
    }
    assert_eq!(std::fs::read_to_string(&hba).unwrap(), settled, "a refused apply changed pg_hba.conf");

    // Re-planning with another network and back does not pile up lines.
    for extra in [&["--allow", "10.0.0.0/8", "--yes"][..], &["--yes"][..]] {
        let out = apply(extra);
        assert!(out.status.success(), "{}", text(&out));
    }
    let now = std::fs::read_to_string(&hba).unwrap();
    assert_eq!(now, settled, "after another --allow and back, pg_hba.conf must be as it was");
    assert!(!now.contains("10.0.0.0/8"), "{now}");

    // The operator can take the STIG's layout instead, and Debian's tools say so.
    let out = apply(&["--no-debian-conventions", "--plan"]);
    assert!(
        text(&out).contains("log_directory") && text(&out).contains("0644 \u{2192} 0600"),
        "{}",
        text(&out)
    );
    let out = apply(&["--no-debian-conventions", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(crate::support::mode(&conf_dir.join("postgresql.conf")) & 0o777, 0o600);
    let ls = must(cluster.tool("pg_lsclusters").args(["15", &name, "--no-header"]));
    assert!(ls.contains("online") && ls.contains("log/postgresql-%a.log"), "pg_lsclusters: {ls}");
    let out = apply(&["--no-debian-conventions", "--plan", "--json"]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kept = plan["plan"]["debian_conventions"].as_array().unwrap();
    assert!(
        kept.iter().all(|c| c["costs"] == serde_json::json!([])),
        "nothing kept costs a rule now: {kept:?}"
    );
    assert!(Path::new(&logfile).exists());
}
