//! `quickstart --pgbin DIR` with each major's server: the demo is built, proven, and the psql
//! command it prints works as printed (with `sslnegotiation=direct` when both the server and the
//! psql on PATH are 17+). Without pgaudit, quickstart says so and exits 1 unless told to accept it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pgharden_testcluster::Installation;

use super::pg_test;
use crate::support::pgharden;

/// Stops the demo server however the test ends.
struct Stop(PathBuf, PathBuf);

impl Drop for Stop {
    fn drop(&mut self) {
        let data = self.0.join("data");
        if data.join("postmaster.pid").exists() {
            let mut cmd = Command::new(self.1.join("pg_ctl"));
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

/// A directory with a `psql` that runs Debian's psql with libpq 18, for a PATH that speaks direct TLS.
fn psql_with_libpq18(dir: &Path) -> PathBuf {
    let lib = Installation::for_major(18).unwrap().own_libpq_dir().expect("libpq 18");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("psql");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nLD_LIBRARY_PATH='{}' exec /usr/bin/psql \"$@\"\n", lib.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn quickstart(dir: &Path, port: u16, pgbin: &Path, path: &str, extra: &[&str]) -> Output {
    pgharden()
        .args(["quickstart", "--dir", dir.to_str().unwrap(), "--port", &port.to_string(), "--pgbin"])
        .arg(pgbin)
        .args(extra)
        .env("PATH", path)
        .output()
        .unwrap()
}

pg_test!(
    /// The README's main command on each major.
    quickstart,
    "quickstart --pgbin: demo cluster hardened and proven; its printed psql command works as printed (direct TLS with a 17+ psql on 17+)",
    |pg| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("demo");
        let _stop = Stop(dir.clone(), pg.install.bindir().to_path_buf());
        let port = pgharden_testcluster::free_port().unwrap();
        let path = format!("{}:/usr/bin:/bin", psql_with_libpq18(tmp.path()).display());
        let accept: &[&str] = if pg.has_pgaudit() { &[] } else { &["--allow-missing-pgaudit"] };
        let out = quickstart(&dir, port, pg.install.bindir(), &path, accept);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(stderr.contains(&pg.install.bindir().display().to_string()), "names the server used: {stderr}");
        assert!(stdout.contains("alice connected: alice over TLSv1.3"), "{stdout}");
        let uri = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("psql '"))
            .unwrap_or_else(|| panic!("no psql command in {stdout}"))
            .trim_end_matches('\'')
            .to_string();
        assert_eq!(uri.contains("sslnegotiation=direct"), pg.major() >= 17, "{uri}");
        let psql = Command::new("sh")
            .env("PATH", &path)
            .env("HOME", tmp.path())
            .args(["-c", &format!("psql '{uri}' -X -A -t -c 'SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'")])
            .output()
            .unwrap();
        assert!(psql.status.success(), "{}", String::from_utf8_lossy(&psql.stderr));
        assert_eq!(String::from_utf8_lossy(&psql.stdout).trim(), "alice|t");
        if pg.has_pgaudit() {
            assert!(!stdout.contains("NOT MET"), "{stdout}");
        } else {
            assert!(stdout.contains("NOT MET: STIG Appendix B"), "{stdout}");
            // Without the flag the same run is a failure, and says what to install.
            let again = quickstart(&dir, port, pg.install.bindir(), &path, &[]);
            let text = String::from_utf8_lossy(&again.stdout);
            assert_eq!(again.status.code(), Some(1), "{text}");
            assert!(text.contains(&format!("apt-get install postgresql-{}-pgaudit", pg.major())), "{text}");
            pg.note("no pgaudit: NOT MET said, exit 1 unless --allow-missing-pgaudit");
        }
    }
);
