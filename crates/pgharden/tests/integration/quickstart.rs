//! `pgharden quickstart`, the README's main command, end to end: it must leave a running cluster
//! with the posture it claims, and the psql command it prints must work as printed.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::pgharden;

/// Stops the demo server however the test ends.
struct Stop(PathBuf);

impl Drop for Stop {
    fn drop(&mut self) {
        let data = self.0.join("data");
        if data.join("postmaster.pid").exists() {
            let install = pgharden_testcluster::Installation::for_tests().unwrap();
            let mut cmd = Command::new(install.bin("pg_ctl"));
            cmd.args(["stop", "-m", "immediate", "-s", "-D"]).arg(&data);
            if nix::unistd::Uid::effective().is_root() {
                use std::os::unix::process::CommandExt;
                let pg = nix::unistd::User::from_name("postgres").unwrap().unwrap();
                cmd.uid(pg.uid.as_raw()).gid(pg.gid.as_raw());
            }
            let _ = cmd.output();
        }
    }
}

fn quickstart(dir: &Path, port: u16) -> (bool, String, String) {
    let out = pgharden()
        .args(["quickstart", "--dir", dir.to_str().unwrap(), "--port", &port.to_string(), "--pgbin"])
        .arg(pgharden_testcluster::Installation::for_tests().unwrap().bindir())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn quickstart_hardens_a_demo_cluster_and_proves_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let _stop = Stop(dir.clone());
    let port = pgharden_testcluster::free_port().unwrap();
    let (ok, stdout, stderr) = quickstart(&dir, port);
    assert!(ok, "{stdout}\n{stderr}");
    for step in 1..=8 {
        assert!(stderr.contains(&format!("[{step}/8]")), "{stderr}");
    }
    assert!(!stderr.contains('\u{1b}'), "no colour on a pipe: {stderr:?}");
    assert!(stdout.contains("alice connected: alice over TLSv1.3"), "{stdout}");
    assert!(stdout.contains("plaintext refused") && stdout.contains("no encryption"), "{stdout}");
    assert!(
        stdout.contains("no certificate refused") && stdout.contains("valid client certificate"),
        "{stdout}"
    );
    let uri = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("psql '"))
        .unwrap()
        .trim_end_matches('\'')
        .to_string();
    let psql = Command::new("psql")
        .env("HOME", tmp.path())
        .args([
            "-X",
            "-A",
            "-t",
            "-d",
            &uri,
            "-c",
            "SELECT current_user, ssl, (SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user), \
             current_setting('statement_timeout'), current_setting('client_min_messages') \
             FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ])
        .output()
        .unwrap();
    assert!(psql.status.success(), "{}", String::from_utf8_lossy(&psql.stderr));
    // The demo role has a connection limit (CD16-00-000100: -1 is a finding), and the session
    // runs under the profile's statement_timeout and client_min_messages.
    assert_eq!(String::from_utf8_lossy(&psql.stdout).trim(), "alice|t|10|1h|error");
    for name in ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"] {
        assert_eq!(crate::support::mode(&dir.join("data").join(name)), 0o600, "{name}");
    }

    // The next steps run as printed, from a shell whose PATH has no pgharden.
    let binary = std::fs::canonicalize(env!("CARGO_BIN_EXE_pgharden")).unwrap();
    let plan = next_step(&stdout, "Plan again");
    assert!(plan.starts_with(&format!("{} apply --pgdata ", binary.display())), "{plan}");
    let out = shell(&plan, tmp.path());
    assert!(out.0, "{plan}:\n{}", out.1);
    let audit = next_step(&stdout, "Audit again");
    assert!(audit.ends_with("--scope cluster"), "{audit}");
    assert!(stdout.contains("FIPS mode rules fail on a host not in FIPS mode"), "{stdout}");
    let out = shell(&audit, tmp.path());
    assert!(out.0, "{audit}:\n{}", out.1);
    let client = next_step(&stdout, "Install alice's certificate");
    assert!(client.ends_with(&format!("--port {port}")), "{client}");
    let out = shell(&client, tmp.path());
    assert!(out.0 && out.1.contains(&format!("@localhost:{port}/")), "{client}:\n{}", out.1);
    let short = out.1.lines().find_map(|l| l.trim().strip_prefix("psql '")).unwrap().trim_end_matches('\'');
    let psql = Command::new("psql")
        .env("HOME", tmp.path())
        .args(["-X", "-A", "-t", "-d", short, "-c", "SELECT current_user"])
        .output()
        .unwrap();
    assert!(psql.status.success(), "{short}: {}", String::from_utf8_lossy(&psql.stderr));
    assert_eq!(String::from_utf8_lossy(&psql.stdout).trim(), "alice");

    // A second run reuses the cluster and finds nothing to change.
    let (ok, stdout, stderr) = quickstart(&dir, port);
    assert!(ok && stdout.contains("already applied"), "{stdout}\n{stderr}");

    let stop = next_step(&stdout, "Stop the server");
    let out = shell(&stop, tmp.path());
    assert!(out.0, "{stop}:\n{}", out.1);
    assert!(!dir.join("data/postmaster.pid").exists(), "{stop} left the server running");
}

/// The command on the line after the line that starts with `heading`.
fn next_step(stdout: &str, heading: &str) -> String {
    let mut lines = stdout.lines();
    lines.find(|l| l.starts_with(heading)).unwrap_or_else(|| panic!("no {heading:?} in:\n{stdout}"));
    lines.next().unwrap().trim().to_string()
}

/// Run `line` with `sh -c`, PATH without pgharden, HOME `home`: success and stdout + stderr.
fn shell(line: &str, home: &Path) -> (bool, String) {
    let out = Command::new("sh")
        .args(["-c", line])
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}
