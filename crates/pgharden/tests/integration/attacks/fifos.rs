//! Review §10: root opens files that `postgres` names. A FIFO there must not hang apply or audit,
//! and a check that cannot read its file must say so rather than pass silently.

use std::time::Duration;

use crate::support::{FifoGuard, Violations, attacker, attacker_fifo, contains_ci, harden, run_bounded};

use super::{apply_within, fresh};

/// `audit --pgdata … --no-probe`, bounded.
fn audit(data: &std::path::Path, limit: Duration) -> crate::support::Bounded {
    let mut cmd = crate::support::pgharden();
    cmd.args(["audit", "--pgdata", data.to_str().unwrap(), "--no-probe"]);
    run_bounded(&mut cmd, limit)
}

/// (a) `current_logfiles` names a FIFO: apply's check of the server log after a reload.
#[test]
fn a_fifo_named_in_current_logfiles_does_not_hang_apply_or_silence_the_log_check() {
    let (pki, cluster) = fresh();
    harden(&cluster, &pki);
    let data = cluster.data_dir();
    let fifo = data.join("evil-fifo");
    attacker_fifo(&attacker(), &fifo);
    let _release = FifoGuard(fifo.clone());
    cluster.write_file("current_logfiles", format!("stderr {}\n", fifo.display()).as_bytes(), 0o600).unwrap();
    cluster.append_conf("log_connections = off").unwrap();

    let out = apply_within(&cluster, &pki, &["--yes"], Duration::from_secs(60));
    let mut v = Violations::default();
    v.check(!out.hung, "apply hung on the FIFO (still running after 60 s)");
    v.check(
        out.text().contains("evil-fifo"),
        "the output does not name the FIFO: the log check was skipped silently",
    );
    v.assert_none(&out.describe());
}

/// (b) `ssl_cert_file` is a FIFO (the server has ssl off, so it never opens it itself).
#[test]
fn a_fifo_as_ssl_cert_file_does_not_hang_audit() {
    let (_pki, cluster) = fresh();
    let data = cluster.data_dir();
    let fifo = data.join("fifo-cert");
    attacker_fifo(&attacker(), &fifo);
    // A key in place, so the certificate rule goes on to read the certificate file.
    cluster.write_file("server.key", b"key", 0o600).unwrap();
    let _release = FifoGuard(fifo.clone());
    cluster.psql(&format!("ALTER SYSTEM SET ssl_cert_file = '{}'", fifo.display())).unwrap();
    cluster.reload().unwrap();
    assert_eq!(cluster.psql("SHOW ssl_cert_file").unwrap(), fifo.display().to_string());

    let out = audit(data, Duration::from_secs(30));
    let text = out.text();
    let mut v = Violations::default();
    v.check(!out.hung, "audit hung on the FIFO (still running after 30 s)");
    v.check(
        text.contains("fifo-cert") && contains_ci(&text, "not a regular file"),
        "the output does not name fifo-cert as not a regular file",
    );
    v.assert_none(&out.describe());
}

/// (c) `include 'evil.conf'`, a FIFO in PGDATA (not reloaded: the server itself would block on it).
#[test]
fn a_fifo_included_from_postgresql_conf_does_not_hang_plan_or_audit() {
    let (pki, cluster) = fresh();
    let data = cluster.data_dir();
    let fifo = data.join("evil.conf");
    attacker_fifo(&attacker(), &fifo);
    let _release = FifoGuard(fifo.clone());
    cluster.append_conf("include 'evil.conf'").unwrap();

    let plan = apply_within(&cluster, &pki, &["--plan"], Duration::from_secs(30));
    let audit = audit(data, Duration::from_secs(30));
    let mut v = Violations::default();
    v.check(!plan.hung, "apply --plan hung on the FIFO (still running after 30 s)");
    v.check(plan.code == Some(2), format!("apply --plan exit code {:?}, wanted 2", plan.code));
    v.check(plan.text().contains("evil.conf"), "apply --plan does not name evil.conf");
    v.check(!audit.hung, "audit hung on the FIFO (still running after 30 s)");
    v.assert_none(&format!("apply --plan: {}\naudit: {}", plan.describe(), audit.describe()));
}
