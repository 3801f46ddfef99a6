//! `pgharden lock` and `pgharden restore`: the emergency lockout of Appendix A, safely.

use anyhow::Context;
use pgharden_cluster::db::Db;
use pgharden_cluster::lock;

use crate::cli::{LockArgs, RestoreArgs};
use crate::output::{self, Outcome};

fn connect(conninfo: &str) -> anyhow::Result<Db> {
    let settings = Db::settings(conninfo)?;
    Db::remote(&settings).context("connecting")
}

pub fn lock(args: &LockArgs) -> anyhow::Result<Outcome> {
    let mut db = connect(&args.conninfo)?;
    let locked = lock::lock(&mut db, &args.keep, args.dry_run)?;
    if !args.dry_run {
        let text = lock::restore_file_text(&locked.roles);
        pgharden_pki::files::write_atomic(
            &args.restore_file,
            text.as_bytes(),
            pgharden_pki::files::KEY_MODE,
            true,
        )
        .with_context(|| {
            format!(
                "the roles are locked and recorded in {}, but writing {} failed",
                lock::LEDGER,
                args.restore_file.display()
            )
        })?;
    }
    if args.json {
        output::json(&locked)?;
        return Ok(Outcome::Success);
    }
    let mut text = if locked.dry_run {
        format!(
            "Would lock {} role(s) and end {} session(s) (database {} would hold the ledger); kept: {}.\n",
            locked.roles.len(),
            locked.sessions_terminated,
            locked.database,
            locked.kept.join(", ")
        )
    } else {
        format!(
            "Locked {} role(s) (NOLOGIN) and ended {} session(s); kept: {}.\nRecorded in {} of database {} and in {} (mode 0600).\nUndo with: pgharden restore CONNINFO (same database)\n",
            locked.roles.len(),
            locked.sessions_terminated,
            locked.kept.join(", "),
            lock::LEDGER,
            locked.database,
            args.restore_file.display()
        )
    };
    for r in locked.roles.iter().take(20) {
        text.push_str(&format!("  {r}\n"));
    }
    if locked.roles.len() > 20 {
        text.push_str(&format!("  … and {} more\n", locked.roles.len() - 20));
    }
    output::print(&text)?;
    Ok(Outcome::Success)
}

pub fn restore(args: &RestoreArgs) -> anyhow::Result<Outcome> {
    let mut db = connect(&args.conninfo)?;
    let restored = lock::restore(&mut db, args.dry_run)?;
    if args.json {
        output::json(&restored)?;
        return Ok(Outcome::Success);
    }
    let verb = if restored.dry_run { "Would restore" } else { "Restored" };
    let mut text = if restored.roles.is_empty() && restored.dropped.is_empty() {
        format!(
            "Nothing to restore: no roles are recorded in {} of database {}.\n",
            lock::LEDGER,
            restored.database
        )
    } else {
        format!("{verb} LOGIN for {} role(s).\n", restored.roles.len())
    };
    if !restored.dropped.is_empty() {
        text.push_str(&format!(
            "{} recorded role(s) no longer exist (dropped while locked): {}\n",
            restored.dropped.len(),
            restored.dropped.join(", ")
        ));
    }
    output::print(&text)?;
    Ok(Outcome::Success)
}
