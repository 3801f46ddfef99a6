//! `pgharden lock` and `pgharden restore`: the emergency lockout of Appendix A, safely.
//!
//! Owns: the restore file, the text and JSON reports, and what a failure says. Once the lock has
//! committed, roles ARE locked whatever fails next (ending their sessions, writing the restore
//! file): the restore file is still written when it can be, and the error says so plainly, where
//! the roles are recorded, and how to undo. Names come from the catalog and may hold control
//! characters: everything printed as text goes through [`escape_line`].
//! Must not: choose roles or ledgers (that is `pgharden_cluster::lock`).

use std::fmt::Write as _;

use anyhow::anyhow;
use pgharden_cluster::db::Db;
use pgharden_cluster::lock::{self, LockError, Locked, Untrusted};

use crate::cli::{LockArgs, RestoreArgs};
use crate::output::{self, Outcome};

/// Shown roles; the rest are counted.
const LISTED_ROLES: usize = 20;

fn connect(conninfo: &str) -> anyhow::Result<Db> {
    let settings = Db::settings(conninfo).map_err(|e| anyhow!(escape_line(&e.to_string())))?;
    // The error names what was being reached ("connecting to role@db: …").
    Db::remote(&settings).map_err(|e| anyhow!(escape_line(&e.to_string())))
}

pub fn lock(args: &LockArgs) -> anyhow::Result<Outcome> {
    let mut db = connect(&args.conninfo)?;
    let (locked, sessions_failed) = match lock::lock(&mut db, &args.keep, args.dry_run) {
        Ok(locked) => (locked, None),
        Err(LockError::Committed { locked, cause }) => (*locked, Some(cause.to_string())),
        Err(LockError::CommitUncertain { locked, cause }) => {
            return Err(anyhow!(uncertain(&locked, &cause.to_string())));
        }
        Err(e) => return Err(anyhow!(escape_line(&e.to_string()))),
    };
    if locked.dry_run {
        if args.json {
            output::json(&locked)?;
        } else {
            output::print(&dry_run_text(&locked))?;
        }
        return Ok(Outcome::Success);
    }
    let text = lock::restore_file_text(&locked);
    let written = write_restore_file(&args.restore_file, text.as_bytes());
    if args.json {
        output::json(&locked)?;
    }
    if sessions_failed.is_none() && written.is_ok() {
        if !args.json {
            output::print(&locked_text(&locked, args))?;
        }
        return Ok(Outcome::Success);
    }
    Err(anyhow!(locked_anyway(&locked, args, sessions_failed.as_deref(), written.err().as_deref())))
}

/// Write the restore file atomically, mode 0600, never through a link (the operator named the
/// path, not whatever a link planted there points to).
fn write_restore_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    pgharden_privsep::local::write_named(path, bytes, 0o600).map(drop).map_err(|e| e.to_string())
}

/// `(a, b, c)` escaped and joined.
fn names(list: &[String]) -> String {
    list.iter().map(|n| escape_line(n)).collect::<Vec<_>>().join(", ")
}

/// The first roles of `roles`, indented, one a line.
fn role_lines(roles: &[String]) -> String {
    let mut text = String::new();
    for r in roles.iter().take(LISTED_ROLES) {
        let _ = writeln!(text, "  {}", escape_line(r));
    }
    if roles.len() > LISTED_ROLES {
        let _ = writeln!(text, "  … and {} more", roles.len() - LISTED_ROLES);
    }
    text
}

/// The untrusted ledgers, each with its reasons; `consequence` says what that meant.
fn untrusted_lines(untrusted: &[Untrusted], not_listed: u64, database: &str, consequence: &str) -> String {
    let mut text = String::new();
    for u in untrusted {
        let _ = writeln!(
            text,
            "The ledger {} of database {} is not trusted ({consequence}):",
            escape_line(&u.ledger),
            escape_line(database)
        );
        for reason in &u.reasons {
            let _ = writeln!(text, "  - {}", escape_line(reason));
        }
    }
    if not_listed > 0 {
        let _ = writeln!(
            text,
            "… and {not_listed} more untrusted ledger(s) in schemas owned by roles that are not superusers."
        );
    }
    text
}

/// Where the roles are recorded, with why it is not the usual ledger.
fn recorded_in(locked: &Locked) -> String {
    let own = if locked.ledger == lock::LEDGER {
        String::new()
    } else {
        format!(" (pgharden's own ledger: {} is not trusted)", lock::LEDGER)
    };
    format!("{} of database {}{own}", escape_line(&locked.ledger), escape_line(&locked.database))
}

fn dry_run_text(locked: &Locked) -> String {
    let mut text = untrusted_lines(
        &locked.untrusted,
        locked.untrusted_not_listed,
        &locked.database,
        "a lock would neither read nor write it",
    );
    let created = if locked.ledger_created { ", which the lock would create" } else { "" };
    let _ = writeln!(
        text,
        "Would lock {} role(s) and end {} session(s); the ledger would be {}{created}; kept: {}.",
        locked.roles.len(),
        locked.sessions_terminated,
        recorded_in(locked),
        names(&locked.kept)
    );
    text + &role_lines(&locked.roles)
}

fn locked_text(locked: &Locked, args: &LockArgs) -> String {
    let mut text = untrusted_lines(
        &locked.untrusted,
        locked.untrusted_not_listed,
        &locked.database,
        "it was neither read nor written",
    );
    let _ = write!(
        text,
        "Locked {} role(s) (NOLOGIN) and ended {} session(s); kept: {}.\n\
         Recorded in {} and in {} (mode 0600).\n\
         Undo with: pgharden restore CONNINFO (same database)\n",
        locked.roles.len(),
        locked.sessions_terminated,
        names(&locked.kept),
        recorded_in(locked),
        escape_line(&args.restore_file.display().to_string())
    );
    text + &role_lines(&locked.roles)
}

/// The error after the COMMIT: the roles ARE locked; what failed, where they are recorded, how to undo.
fn locked_anyway(locked: &Locked, args: &LockArgs, sessions: Option<&str>, write: Option<&str>) -> String {
    let file = escape_line(&args.restore_file.display().to_string());
    let mut failed = Vec::new();
    if let Some(cause) = sessions {
        failed.push(format!("ending their sessions failed ({})", escape_line(cause)));
    }
    if let Some(cause) = write {
        failed.push(format!("writing the restore file failed ({})", escape_line(cause)));
    }
    let mut text =
        format!("{} role(s) ARE LOCKED (NOLOGIN), but {}.\n", locked.roles.len(), failed.join(", and "));
    if sessions.is_some() {
        text.push_str("Sessions they had open may still be running.\n");
    } else {
        let _ = writeln!(text, "Their {} session(s) were ended.", locked.sessions_terminated);
    }
    let also = if write.is_none() { format!(" and in {file} (mode 0600)") } else { String::new() };
    let _ = write!(
        text,
        "The locked roles are recorded in {}{also}.\nUndo with: pgharden restore CONNINFO (database {})\n",
        recorded_in(locked),
        escape_line(&locked.database)
    );
    text.push_str("Locked:\n");
    text.push_str(&role_lines(&locked.roles));
    text.push_str(&untrusted_lines(
        &locked.untrusted,
        locked.untrusted_not_listed,
        &locked.database,
        "it was neither read nor written",
    ));
    text.trim_end().to_string()
}

fn uncertain(locked: &Locked, cause: &str) -> String {
    format!(
        "the COMMIT of the lock of {} role(s) failed ({}), so whether they are locked is not known.\n\
         Check with: pgharden restore --dry-run CONNINFO (database {}); if they are, they are recorded in {}\n\
         and `pgharden restore` undoes it. No restore file was written.",
        locked.roles.len(),
        escape_line(cause),
        escape_line(&locked.database),
        escape_line(&locked.ledger)
    )
}

pub fn restore(args: &RestoreArgs) -> anyhow::Result<Outcome> {
    let mut db = connect(&args.conninfo)?;
    let restored = lock::restore(&mut db, args.dry_run).map_err(|e| anyhow!(escape_line(&e.to_string())))?;
    if args.json {
        output::json(&restored)?;
        return Ok(Outcome::Success);
    }
    let mut text = untrusted_lines(
        &restored.untrusted,
        restored.untrusted_not_listed,
        &restored.database,
        "its rows were not read, and roles recorded only there stay locked",
    );
    let verb = if restored.dry_run { "Would restore" } else { "Restored" };
    if restored.roles.is_empty() && restored.dropped.is_empty() {
        let _ = writeln!(
            text,
            "Nothing to restore: no roles are recorded in a trusted ledger of database {}.",
            escape_line(&restored.database)
        );
    } else {
        let _ = writeln!(
            text,
            "{verb} LOGIN for {} role(s) recorded in {} of database {}.",
            restored.roles.len(),
            names(&restored.ledgers),
            escape_line(&restored.database)
        );
    }
    if !restored.dropped.is_empty() {
        let _ = writeln!(
            text,
            "{} recorded role(s) no longer exist (dropped while locked): {}",
            restored.dropped.len(),
            names(&restored.dropped)
        );
    }
    output::print(&text)?;
    Ok(Outcome::Success)
}

/// A value from the catalog, escaped for one line of text output.
fn escape_line(text: &str) -> String {
    pgharden_text::line(text).into_owned()
}
