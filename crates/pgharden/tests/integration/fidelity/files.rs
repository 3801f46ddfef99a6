//! Group C: the files PostgreSQL trusts. The CA and CRL files and the directory holding them, every
//! included configuration file and directory, `postgresql.auto.conf`, the log files on disk, and
//! everything in PGDATA: anything another account can write or read where the STIG says it must
//! not is a finding, and the evidence names the path (review P1, P12, P14, P15).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use pgharden_testcluster::Cluster;

use super::Want::{Fails, Holds};
use super::{
    Cases, chmod, describe, hardened, judge, literal, mended, mode_of, owned_dir, owned_file, reload_ok,
    set_system, setting_path, sql,
};

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Break `path` with mode `bad`, judge `rules` failing with the path named, restore its mode.
fn mode_case(cases: &mut Cases, c: &Cluster, path: &Path, bad: u32, rules: &[&str]) {
    let good = mode_of(path);
    chmod(path, bad);
    let named = [path_str(path)];
    let wants: Vec<(&str, _)> = rules.iter().map(|r| (*r, Fails(&named))).collect();
    cases.check(&format!("{} at {bad:04o}: {}", path.display(), describe(&wants)), || {
        judge(c, &[], &wants);
    });
    chmod(path, good);
    mended(cases, c, &format!("{} back at {good:04o}", path.display()), &wants);
}

#[test]
fn fidelity_files_postgres_trusts() {
    let (_pki, c) = hardened();
    let mut cases = Cases::new("C, files PostgreSQL trusts");
    tls_files(&mut cases, &c);
    included_config(&mut cases, &c);
    log_files(&mut cases, &c);
    data_directory(&mut cases, &c);
    cases.finish();
}

/// P1: the CA and CRL files moved to their own directory, which then is world-writable, or the CA
/// file itself, or the CRL file group-writable.
fn tls_files(cases: &mut Cases, c: &Cluster) {
    let tls = owned_dir(c, "tls");
    let mut moved = Vec::new();
    for setting in ["ssl_ca_file", "ssl_crl_file"] {
        let from = setting_path(c, setting);
        let to = tls.join(from.file_name().unwrap());
        fs::rename(&from, &to)
            .unwrap_or_else(|e| panic!("setup: mv {} {}: {e}", from.display(), to.display()));
        set_system(c, setting, path_str(&to));
        moved.push(to);
    }
    let [ca, crl] = [&moved[0], &moved[1]];
    cases.check("CA and CRL files in their own 0700 directory: PGH-TLS-04 holds", || {
        judge(c, &[], &[("PGH-TLS-04", Holds)]);
    });
    mode_case(cases, c, &tls, 0o777, &["PGH-TLS-04"]);
    mode_case(cases, c, ca, 0o666, &["PGH-TLS-04"]);
    mode_case(cases, c, crl, 0o620, &["PGH-TLS-04"]);
}

/// P12: an `include_dir` with a world-writable file, `postgresql.auto.conf` world-writable, and a
/// world-writable include directory holding a 0600 file.
fn included_config(cases: &mut Cases, c: &Cluster) {
    let dir = owned_dir(c, "conf.d");
    let extra = owned_file(c, &dir, "extra.conf", "log_checkpoints = on\n", 0o600);
    c.append_conf(&format!("include_dir {}", literal(path_str(&dir)))).unwrap();
    reload_ok(c);
    let read = sql(
        c,
        &format!(
            "SELECT count(*) FROM pg_file_settings WHERE sourcefile = {} AND error IS NULL",
            literal(path_str(&extra))
        ),
    );
    assert_eq!(read, "1", "setup: the server reads {}", extra.display());
    let rules = ["PGH-AUD-04", "PGH-FILE-05"];
    mode_case(cases, c, &extra, 0o666, &rules);
    mode_case(cases, c, &c.data_dir().join("postgresql.auto.conf"), 0o666, &rules);
    mode_case(cases, c, &dir, 0o777, &rules);
}

/// P14: a log file whose mode or owner is not what `log_file_mode` and the cluster owner say.
fn log_files(cases: &mut Cases, c: &Cluster) {
    assert_eq!(sql(c, "SHOW log_file_mode"), "0600", "setup: apply sets log_file_mode");
    let rel = sql(c, "SELECT pg_current_logfile()");
    assert!(!rel.is_empty(), "setup: the collector writes a log file");
    let log = c.data_dir().join(rel);
    mode_case(cases, c, &log, 0o644, &["PGH-LOG-01"]);

    let owner = fs::metadata(&log).unwrap();
    std::os::unix::fs::chown(&log, Some(0), Some(0)).unwrap();
    let named = [path_str(&log)];
    let wants = [("PGH-LOG-01", Fails(&named))];
    cases.check(&format!("log file {} owned by root: {}", log.display(), describe(&wants)), || {
        judge(c, &[], &wants);
    });
    std::os::unix::fs::chown(&log, Some(owner.uid()), Some(owner.gid())).unwrap();
    mended(cases, c, "log file owned by the cluster owner again", &wants);
}

/// P15: group access to PGDATA, and a file in it readable by others.
fn data_directory(cases: &mut Cases, c: &Cluster) {
    mode_case(cases, c, c.data_dir(), 0o750, &["PGH-FILE-04"]);
    mode_case(cases, c, &c.data_dir().join("PG_VERSION"), 0o644, &["PGH-FILE-04"]);
}
