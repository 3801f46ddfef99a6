//! `pgharden lock` and `pgharden restore`: the emergency lockout of Appendix A, safely.
//!
//! Owns: the restore file (where it goes, checked before anything is locked when the user named
//! it), the text and JSON reports, and what a failure says. Once the lock has committed, roles ARE
//! locked whatever fails next: a restore file that cannot be written anywhere is a warning (the
//! ledger is the record restore reads), a failure to end sessions an error that says plainly where
//! the roles are recorded and how to undo. Names come from the catalog and may hold control
//! characters: everything printed as text goes through [`escape_line`].
//! Must not: choose roles or ledgers (that is `pgharden_cluster::lock`).

mod restore_file;

use std::fmt::Write as _;

use anyhow::anyhow;
use pgharden_cluster::db::Db;
use pgharden_cluster::lock::{self, LockError, Locked, Untrusted};

use crate::cli::{LockArgs, RestoreArgs};
use crate::invocation;
use crate::output::{self, Outcome};
use restore_file::Written;

/// Shown roles; the rest are counted.
const LISTED_ROLES: usize = 20;

fn connect(conninfo: &str) -> anyhow::Result<Db> {
    let settings = Db::settings(conninfo).map_err(|e| anyhow!(escape_line(&e.to_string())))?;
    // The error names what was being reached ("connecting to role@db: …").
    Db::remote(&settings).map_err(|e| {
        let hint = if e.sqlstate() == Some(INVALID_AUTHORIZATION) { owner_hint(&settings) } else { None };
        anyhow!("{}{}", escape_line(&e.to_string()), hint.unwrap_or_default())
    })
}

/// SQLSTATE 28000: no pg_hba.conf line admits the connection, peer authentication failed, or the
/// role does not exist.
const INVALID_AUTHORIZATION: &str = "28000";

/// When root was refused as the role named after it (no `user=` given) on a local socket: the
/// command again, run as the owner of that socket, whom peer authentication admits as the role of
/// the same name (the bootstrap superuser of a usual cluster).
fn owner_hint(settings: &pgharden_pgconn::Settings) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let me = pgharden_privsep::Account::current();
    if !me.is_root() || settings.user != me.name {
        return None;
    }
    let socket = settings.hosts.iter().find_map(|h| h.socket_path())?;
    let meta = std::fs::metadata(&socket).ok()?;
    let owner = pgharden_privsep::Account::by_uid(meta.uid(), meta.gid());
    if owner.is_root() {
        return None;
    }
    let words: Vec<String> = std::env::args().skip(1).collect();
    Some(format!(
        "; as root it logs in as role {root}, which the server refused: run it as the cluster's owner {owner}, \
         the OS user that owns {socket} (peer authentication admits it as role {owner}): runuser -u {user} -- {this}",
        root = escape_line(&me.name),
        owner = escape_line(&owner.name),
        socket = escape_line(&socket.display().to_string()),
        user = invocation::quote(&owner.name),
        this = invocation::command(&words),
    ))
}

/// `pgharden COMMAND CONNINFO` as it runs, or with `CONNINFO` when the conninfo holds a password
/// that must not be echoed.
fn again(command: &[&str], conninfo: &str) -> String {
    if conninfo.to_ascii_lowercase().contains("password") {
        format!("{} CONNINFO", invocation::command(command))
    } else {
        let mut words = command.to_vec();
        words.push(conninfo);
        invocation::command(&words)
    }
}

pub(crate) fn lock(args: &LockArgs) -> anyhow::Result<Outcome> {
    // A file the user named must be writable before anything is locked.
    if let (Some(path), false) = (&args.restore_file, args.dry_run) {
        restore_file::check(path).map_err(|cause| {
            anyhow!(
                "the restore file {} cannot be written ({}); nothing was changed",
                escape_line(&path.display().to_string()),
                escape_line(&cause)
            )
        })?;
    }
    let mut db = connect(&args.conninfo)?;
    let (locked, sessions_failed) = match lock::lock(&mut db, &args.keep, args.dry_run) {
        Ok(locked) => (locked, None),
        Err(LockError::Committed { locked, cause }) => (*locked, Some(cause.to_string())),
        Err(LockError::CommitUncertain { locked, cause }) => {
            return Err(anyhow!(uncertain(&locked, &cause.to_string(), &args.conninfo)));
        }
        Err(e @ LockError::AlreadyLocked { .. }) => {
            return Err(anyhow!("{}: {}", escape_line(&e.to_string()), again(&["restore"], &args.conninfo)));
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
    let written = restore_file::write(args.restore_file.as_deref(), &locked.database, text.as_bytes());
    if args.json {
        output::json(&locked)?;
    }
    if let Some(cause) = sessions_failed {
        // Several lines, each escaped: printed as they are, then a one-line error for the exit code.
        anstream::eprintln!("{}", locked_anyway(&locked, &args.conninfo, &cause, &written));
        return Err(anyhow!("the roles are locked, but ending their sessions failed (see above)"));
    }
    if !args.json {
        output::print(&locked_text(&locked, &args.conninfo, &written))?;
    }
    if let Written::Nowhere(tried) = &written {
        anstream::eprintln!("{}", nowhere_warning(&locked, tried, &args.conninfo));
    }
    Ok(Outcome::Success)
}

/// The warning when no restore file could be written: the ledger has the list, restore needs no file.
fn nowhere_warning(locked: &Locked, tried: &[(std::path::PathBuf, String)], conninfo: &str) -> String {
    let mut text = String::from("warning: no restore file could be written:\n");
    for (path, cause) in tried {
        let _ = writeln!(text, "  {}: {}", escape_line(&path.display().to_string()), escape_line(cause));
    }
    let _ = write!(
        text,
        "The locked roles are recorded in {}; `pgharden restore` reads them there and needs no file:\n  {}",
        recorded_in(locked),
        again(&["restore"], conninfo)
    );
    text
}

/// Where the restore file went, for "Recorded in the ledger{this}".
fn and_in_file(written: &Written) -> String {
    match written {
        Written::At(path) => format!(" and in {} (mode 0600)", escape_line(&path.display().to_string())),
        Written::Fallback { path, wanted, cause } => format!(
            " and in {} (mode 0600; {} could not be written: {})",
            escape_line(&path.display().to_string()),
            escape_line(&wanted.display().to_string()),
            escape_line(cause)
        ),
        Written::Nowhere(_) => " (no restore file: see the warning)".to_string(),
    }
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

fn locked_text(locked: &Locked, conninfo: &str, written: &Written) -> String {
    let mut text = untrusted_lines(
        &locked.untrusted,
        locked.untrusted_not_listed,
        &locked.database,
        "it was neither read nor written",
    );
    let _ = write!(
        text,
        "Locked {} role(s) (NOLOGIN) and ended {} session(s); kept: {}.\n\
         Recorded in {}{}.\n\
         Undo with: {}\n",
        locked.roles.len(),
        locked.sessions_terminated,
        names(&locked.kept),
        recorded_in(locked),
        and_in_file(written),
        again(&["restore"], conninfo)
    );
    text + &role_lines(&locked.roles)
}

/// The report when ending sessions failed after the COMMIT: the roles ARE locked; where they are
/// recorded, how to undo.
fn locked_anyway(locked: &Locked, conninfo: &str, cause: &str, written: &Written) -> String {
    let mut text = format!(
        "error: {} role(s) ARE LOCKED (NOLOGIN), but ending their sessions failed ({}).\n\
         Sessions they had open may still be running.\n",
        locked.roles.len(),
        escape_line(cause)
    );
    let _ = write!(
        text,
        "The locked roles are recorded in {}{}.\nUndo with: {}\n",
        recorded_in(locked),
        and_in_file(written),
        again(&["restore"], conninfo)
    );
    text.push_str("Locked:\n");
    text.push_str(&role_lines(&locked.roles));
    text.push_str(&untrusted_lines(
        &locked.untrusted,
        locked.untrusted_not_listed,
        &locked.database,
        "it was neither read nor written",
    ));
    if let Written::Nowhere(tried) = written {
        text.push_str(&nowhere_warning(locked, tried, conninfo));
    }
    text.trim_end().to_string()
}

fn uncertain(locked: &Locked, cause: &str, conninfo: &str) -> String {
    format!(
        "the COMMIT of the lock of {} role(s) failed ({}), so whether they are locked is not known; \
         check with: {} (database {}); if they are, they are recorded in {} \
         and `pgharden restore` undoes it; no restore file was written",
        locked.roles.len(),
        escape_line(cause),
        again(&["restore", "--dry-run"], conninfo),
        escape_line(&locked.database),
        escape_line(&locked.ledger)
    )
}

pub(crate) fn restore(args: &RestoreArgs) -> anyhow::Result<Outcome> {
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
