//! Emergency lockout of logins (STIG PGS9-00-011600, supplement Appendix A), done safely.
//!
//! Owns: choosing the roles to lock (every role that can log in, except the connecting role, the
//! bootstrap superuser and the kept ones), recording them in a ledger table *in the same
//! transaction* that sets them NOLOGIN (so a crash anywhere leaves no role locked and unrecorded),
//! ending their sessions in every database, and restoring exactly the recorded roles.
//! Appendix A's script interpolated names unquoted, read `username` (the column is `usename`),
//! ran its ALTERs against the default database, and recorded a role only after altering it; here
//! every name is quoted with `format('%I')` on the server and the ledger is transactional.
//!
//! The ledger is `pgharden.locked_roles` when the checks of the `ledger` submodule find it
//! trusted. Anyone with CREATE on the database may have made it first, so when it is not trusted
//! the lock goes into a ledger of pgharden's own, and restore reads only trusted ledgers. Each
//! transaction here first undoes what a database's owner can set for every session (`ALTER
//! DATABASE … SET`: role, search_path, read-only and isolation defaults, timeouts,
//! standard_conforming_strings), and lock and restore take one advisory lock so that concurrent
//! runs take turns.
//!
//! Must not: connect (it is given a [`Sql`]), touch roles that could not log in before, act for a
//! role that is not a superuser, or escape names for a terminal (they are returned as the catalog
//! has them; the caller escapes what it prints).

mod ledger;

use serde::Serialize;

use crate::error::Error;
use crate::sql::{Sql, ident, literal};
use ledger::{Ledger, Usual, count, first_column};

pub use ledger::ADVISORY_KEY;

/// The usual ledger.
pub const LEDGER: &str = "pgharden.locked_roles";

/// What [`Locked::ledger`] says in a dry run that would create a ledger of pgharden's own.
pub const NEW_OWN_LEDGER: &str = "pgharden_<16 random hex digits>.locked_roles";

/// A ledger that was neither read nor written, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Untrusted {
    /// The table, `schema.locked_roles`.
    pub ledger: String,
    /// One sentence each, naming owners, grantees, triggers as the catalog has them.
    pub reasons: Vec<String>,
}

/// What a lock did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Serialize)]
pub struct Locked {
    /// The database the lock ran in (its ledger lives there).
    pub database: String,
    /// The roles set NOLOGIN (or that would be), sorted.
    pub roles: Vec<String>,
    /// How many of their sessions were ended, in every database (0 in a dry run).
    pub sessions_terminated: u64,
    /// Login roles left alone: the connecting role, the bootstrap superuser and the `--keep` ones.
    pub kept: Vec<String>,
    /// True when nothing was changed, only reported.
    pub dry_run: bool,
    /// The ledger the roles are recorded in ([`NEW_OWN_LEDGER`] in a dry run that would make one).
    pub ledger: String,
    /// Whether this run created (or would create) that ledger's table.
    pub ledger_created: bool,
    /// Ledgers found and not trusted (at most 20).
    pub untrusted: Vec<Untrusted>,
    /// How many more untrusted ledgers there are than `untrusted` lists.
    pub untrusted_not_listed: u64,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    /// The database the restore ran in.
    pub database: String,
    /// The recorded roles given LOGIN back (or that would be).
    pub roles: Vec<String>,
    /// Recorded roles that no longer exist (dropped while locked): reported, not fatal.
    pub dropped: Vec<String>,
    /// True when nothing was changed, only reported.
    pub dry_run: bool,
    /// The trusted ledgers that recorded roles (now emptied, unless `dry_run`).
    pub ledgers: Vec<String>,
    /// Ledgers found and ignored because they are not trusted (at most 20); their rows were not read.
    pub untrusted: Vec<Untrusted>,
    /// How many more untrusted ledgers there are than `untrusted` lists.
    pub untrusted_not_listed: u64,
}

/// Why a lock or restore did not (fully) happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Refused before any change.
    #[error(
        "role {role} is not a superuser: only a superuser can lock every login role and end their sessions; nothing was changed"
    )]
    NotSuperuser {
        /// The connecting role.
        role: String,
    },

    /// A `--keep` role does not exist (a typo would lock the role meant to be kept); before any change.
    #[error("no such role to keep: {}; nothing was changed", names.iter().map(|n| ident(n)).collect::<Vec<_>>().join(", "))]
    UnknownKeep {
        /// The `--keep` names that match no role.
        names: Vec<String>,
    },

    /// A trusted ledger already records locked roles; before any change (in a dry run too, which
    /// says that the lock would refuse).
    #[error("{}", already_locked(*count, ledger, since.as_deref(), *dry_run))]
    AlreadyLocked {
        /// How many roles the ledger records.
        count: u64,
        /// The ledger table that records them.
        ledger: String,
        /// When the earliest recorded role was locked (UTC, from the ledger's `locked_at`), when
        /// the ledger has that column.
        since: Option<String>,
        /// Whether this was a dry run (the message then says the lock would refuse).
        dry_run: bool,
    },

    /// Another superuser session held the advisory lock all along; before any change.
    #[error(
        "another superuser session (another pgharden lock or restore?) held the ledger lock for {seconds} s; nothing was changed, try again when it has finished"
    )]
    Busy {
        /// How long pgharden waited for the advisory lock.
        seconds: u64,
    },

    /// The lock COMMITTED: the roles are locked and recorded, but ending their sessions failed.
    #[error("{} role(s) are locked (NOLOGIN) and recorded in {}, but ending their sessions failed: {cause}", locked.roles.len(), locked.ledger)]
    Committed {
        /// What was locked and recorded.
        locked: Box<Locked>,
        /// Why ending the sessions failed.
        cause: Error,
    },

    /// The COMMIT itself failed (the connection broke, say): the lock may or may not have taken effect.
    #[error("the COMMIT of the lock of {} role(s) failed, so whether they are locked is not known: {cause}", locked.roles.len())]
    CommitUncertain {
        /// What the lock would have locked and recorded.
        locked: Box<Locked>,
        /// How the COMMIT failed.
        cause: Error,
    },

    /// A statement or the connection failed: inside the transaction, which was rolled back, or (for
    /// a restore) at its COMMIT, when whether the roles got LOGIN back is not known.
    #[error(transparent)]
    Sql(#[from] Error),
}

fn already_locked(count: u64, ledger: &str, since: Option<&str>, dry_run: bool) -> String {
    let since = since.map(|t| format!(" since {t}")).unwrap_or_default();
    let what = format!(
        "{count} role(s) are already locked by an earlier `pgharden lock`{since} (recorded in {ledger})"
    );
    if dry_run {
        format!("{what}: a lock now would refuse; run `pgharden restore` first")
    } else {
        format!("{what}; nothing was changed: run `pgharden restore` first, then lock again")
    }
}

/// Opens every transaction here. A database's owner can set any of these for every session
/// (`ALTER DATABASE … SET role = owner` even makes a superuser's session run as the owner), so the
/// transaction sets them itself: this role, catalog names first, writable, READ COMMITTED (each
/// statement sees what a run that held the advisory lock before committed), no timeouts, and
/// literals as [`literal`] writes them.
const BEGIN: &str = "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE; SET LOCAL ROLE NONE; \
     SET LOCAL search_path = pg_catalog, pg_temp; SET LOCAL standard_conforming_strings = on; \
     SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0; \
     SET LOCAL idle_in_transaction_session_timeout = 0";

fn begin(sql: &mut dyn Sql) -> Result<(), Error> {
    sql.execute(BEGIN).inspect_err(|_| rollback(sql))
}

fn rollback(sql: &mut dyn Sql) {
    // Best effort: after a broken connection there is nothing to roll back.
    let _ = sql.execute("ROLLBACK");
}

/// The connection's database and role, and the bootstrap superuser.
struct Me {
    database: String,
    role: String,
    superuser: bool,
    bootstrap: String,
}

fn me(sql: &mut dyn Sql) -> Result<Me, LockError> {
    let row = sql
        .query(
            "SELECT pg_catalog.current_database(), r.rolname, r.rolsuper, \
                    (SELECT b.rolname FROM pg_catalog.pg_roles b WHERE b.oid = 10) \
             FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
        )?
        .into_iter()
        .next()
        .unwrap_or_default();
    let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    let me = Me { database: cell(0), role: cell(1), superuser: cell(2) == "t", bootstrap: cell(3) };
    if !me.superuser {
        return Err(LockError::NotSuperuser { role: me.role });
    }
    Ok(me)
}

/// `names` as SQL string literals, comma-separated.
fn literals(names: &[String]) -> String {
    names.iter().map(|n| literal(n)).collect::<Vec<_>>().join(", ")
}

/// The array literal of `names`, for `<> ALL(...)`.
fn name_array(names: &[String]) -> String {
    format!("ARRAY[{}]::pg_catalog.name[]", literals(names))
}

/// Refuse `--keep` names that are no role. Compared as text: a longer name is not truncated to
/// match another role.
fn check_keep(sql: &mut dyn Sql, keep: &[String]) -> Result<(), LockError> {
    if keep.is_empty() {
        return Ok(());
    }
    let names = first_column(sql.query(&format!(
        "SELECT k.name FROM pg_catalog.unnest(ARRAY[{}]::pg_catalog.text[]) WITH ORDINALITY AS k(name, n) \
         WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname::pg_catalog.text = k.name) ORDER BY k.n",
        literals(keep)
    ))?);
    if names.is_empty() { Ok(()) } else { Err(LockError::UnknownKeep { names }) }
}

/// Refuse when a trusted ledger already records roles, saying since when (a ledger someone else
/// made may lack the `locked_at` column pgharden's have: then without the time).
fn refuse_if_locked(sql: &mut dyn Sql, trusted: &[Ledger], dry_run: bool) -> Result<(), LockError> {
    for ledger in trusted {
        let table = ledger.table();
        let timed = sql.value(&format!(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = {}::pg_catalog.regclass \
             AND attname = 'locked_at' AND NOT attisdropped AND atttypid = 'pg_catalog.timestamptz'::pg_catalog.regtype)",
            literal(&table)
        ))?;
        let since = if timed.as_deref() == Some("t") {
            "pg_catalog.to_char(pg_catalog.min(locked_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC'"
        } else {
            "NULL"
        };
        let rows = sql.query(&format!("SELECT pg_catalog.count(*), {since} FROM {table}"))?;
        let n = rows.first().map(|r| count(r.first())).unwrap_or(0);
        if n > 0 {
            let since = rows.first().and_then(|r| r.get(1).cloned().flatten());
            return Err(LockError::AlreadyLocked { count: n, ledger: ledger.name(), since, dry_run });
        }
    }
    Ok(())
}

/// Where a lock records its roles.
enum Target {
    Existing(Ledger),
    CreateUsual { with_schema: bool },
    CreateOwn,
}

/// Lock every login role but ours, the bootstrap superuser and `keep`.
///
/// Refused before any change: a connection that is not a superuser's, a `keep` role that does not
/// exist, roles already recorded in a trusted ledger. An untrusted `pgharden.locked_roles` is
/// reported in [`Locked::untrusted`] and the roles go into a ledger of pgharden's own instead.
/// After the COMMIT, a failure to end sessions is [`LockError::Committed`], which carries what
/// was locked.
pub fn lock(sql: &mut dyn Sql, keep: &[String], dry_run: bool) -> Result<Locked, LockError> {
    begin(sql)?;
    let (locked, ledger) = lock_in_transaction(sql, keep, dry_run).inspect_err(|_| rollback(sql))?;
    let Some(ledger) = ledger else {
        // A dry run: nothing to keep.
        rollback(sql);
        return Ok(locked);
    };
    if let Err(cause) = sql.execute("COMMIT") {
        return Err(LockError::CommitUncertain { locked: Box::new(locked), cause });
    }
    // Committed: the roles are locked and recorded. Ending their sessions comes after, so that a
    // failure here leaves a consistent, restorable state.
    match end_sessions(sql, &ledger) {
        Ok(ended) => Ok(Locked { sessions_terminated: ended, ..locked }),
        Err(cause) => Err(LockError::Committed { locked: Box::new(locked), cause }),
    }
}

fn lock_in_transaction(
    sql: &mut dyn Sql,
    keep: &[String],
    dry_run: bool,
) -> Result<(Locked, Option<Ledger>), LockError> {
    let me = me(sql)?;
    check_keep(sql, keep)?;
    let mut kept: Vec<String> = vec![me.role, me.bootstrap];
    kept.extend(keep.iter().cloned());
    kept.sort();
    kept.dedup();
    if !dry_run {
        ledger::serialise(sql)?;
    }
    let survey = ledger::survey(sql)?;
    refuse_if_locked(sql, &survey.trusted, dry_run)?;
    let target = match survey.usual {
        Usual::Trusted => Target::Existing(Ledger::usual()),
        Usual::NoSchema => Target::CreateUsual { with_schema: true },
        Usual::NoTable => Target::CreateUsual { with_schema: false },
        Usual::Untrusted => survey.trusted.first().cloned().map_or(Target::CreateOwn, Target::Existing),
    };
    let candidates = format!(
        "SELECT rolname FROM pg_catalog.pg_roles WHERE rolcanlogin AND rolname <> ALL({}) ORDER BY rolname",
        name_array(&kept)
    );
    let mut locked = Locked {
        database: me.database,
        roles: vec![],
        sessions_terminated: 0,
        kept,
        dry_run,
        ledger: String::new(),
        ledger_created: !matches!(target, Target::Existing(_)),
        untrusted: survey.untrusted,
        untrusted_not_listed: survey.unlisted,
    };
    if dry_run {
        locked.ledger = match &target {
            Target::Existing(l) => l.name(),
            Target::CreateUsual { .. } => LEDGER.to_string(),
            Target::CreateOwn => NEW_OWN_LEDGER.to_string(),
        };
        locked.roles = first_column(sql.query(&candidates)?);
        let sessions = format!(
            "SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_activity WHERE usename IN ({candidates})"
        );
        locked.sessions_terminated = sql.query(&sessions)?.first().map(|r| count(r.first())).unwrap_or(0);
        return Ok((locked, None));
    }
    let ledger = match target {
        Target::Existing(l) => l,
        Target::CreateUsual { with_schema } => match ledger::create_usual(sql, with_schema)? {
            Ok(usual) => usual,
            Err(reason) => {
                locked.untrusted.insert(0, Untrusted { ledger: LEDGER.to_string(), reasons: vec![reason] });
                ledger::create_own(sql)?
            }
        },
        Target::CreateOwn => ledger::create_own(sql)?,
    };
    locked.ledger = ledger.name();
    let table = ledger.table();
    sql.execute(&format!("LOCK TABLE {table} IN EXCLUSIVE MODE"))?;
    // Record and alter in one statement batch of this transaction; the server quotes each name.
    locked.roles =
        first_column(sql.query(&format!("INSERT INTO {table} (rolname) {candidates} RETURNING rolname"))?);
    sql.execute(&format!(
        "DO $$ DECLARE r pg_catalog.name; BEGIN \
           FOR r IN SELECT rolname FROM {table} LOOP \
             EXECUTE pg_catalog.format('ALTER ROLE %I NOLOGIN', r); \
           END LOOP; END $$"
    ))?;
    Ok((locked, Some(ledger)))
}

/// End the sessions of the roles recorded in `ledger`, in every database, in a transaction of its own.
fn end_sessions(sql: &mut dyn Sql, ledger: &Ledger) -> Result<u64, Error> {
    begin(sql)?;
    let ended = sql
        .query(&format!(
            "SELECT pg_catalog.count(pg_catalog.pg_terminate_backend(a.pid)) FROM pg_catalog.pg_stat_activity a \
             JOIN {} l ON l.rolname = a.usename WHERE a.pid <> pg_catalog.pg_backend_pid()",
            ledger.table()
        ))
        .inspect_err(|_| rollback(sql))?;
    sql.execute("COMMIT")?;
    Ok(ended.first().map(|r| count(r.first())).unwrap_or(0))
}

/// Re-enable exactly the roles recorded in the trusted ledgers, in one transaction, and empty them.
/// Untrusted ledgers are reported in [`Restored::untrusted`], never read.
pub fn restore(sql: &mut dyn Sql, dry_run: bool) -> Result<Restored, LockError> {
    begin(sql)?;
    let restored = restore_in_transaction(sql, dry_run).inspect_err(|_| rollback(sql))?;
    if dry_run {
        rollback(sql);
    } else {
        sql.execute("COMMIT")?;
    }
    Ok(restored)
}

fn restore_in_transaction(sql: &mut dyn Sql, dry_run: bool) -> Result<Restored, LockError> {
    let me = me(sql)?;
    if !dry_run {
        ledger::serialise(sql)?;
    }
    let survey = ledger::survey(sql)?;
    let mut restored = Restored {
        database: me.database,
        roles: vec![],
        dropped: vec![],
        dry_run,
        ledgers: vec![],
        untrusted: survey.untrusted,
        untrusted_not_listed: survey.unlisted,
    };
    for ledger in &survey.trusted {
        let table = ledger.table();
        if !dry_run {
            sql.execute(&format!("LOCK TABLE {table} IN EXCLUSIVE MODE"))?;
        }
        let present = first_column(sql.query(&format!(
            "SELECT l.rolname FROM {table} l JOIN pg_catalog.pg_roles r ON r.rolname = l.rolname ORDER BY 1"
        ))?);
        let missing = first_column(sql.query(&format!(
            "SELECT l.rolname FROM {table} l LEFT JOIN pg_catalog.pg_roles r ON r.rolname = l.rolname \
             WHERE r.rolname IS NULL ORDER BY 1"
        ))?);
        if present.is_empty() && missing.is_empty() {
            continue;
        }
        if !dry_run {
            sql.execute(&format!(
                "DO $$ DECLARE r pg_catalog.name; BEGIN \
                   FOR r IN SELECT l.rolname FROM {table} l JOIN pg_catalog.pg_roles p ON p.rolname = l.rolname LOOP \
                     EXECUTE pg_catalog.format('ALTER ROLE %I LOGIN', r); \
                   END LOOP; END $$; \
                 DELETE FROM {table}"
            ))?;
        }
        restored.ledgers.push(ledger.name());
        restored.roles.extend(present);
        restored.dropped.extend(missing);
    }
    for list in [&mut restored.roles, &mut restored.dropped] {
        list.sort();
        list.dedup();
    }
    Ok(restored)
}

/// The restore file's text: a comment line naming the database and the ledger, then one role per
/// line. A name that could be misread (a line break, a leading `#` or `"`, spaces at either end)
/// is written quoted as an identifier.
pub fn restore_file_text(locked: &Locked) -> String {
    let mut text = format!(
        "# pgharden lock of database {:?}: these roles are NOLOGIN and recorded in {}; undo with `pgharden restore` on that database\n",
        locked.database, locked.ledger
    );
    for role in &locked.roles {
        let odd = role.contains(['\n', '\r']) || role.starts_with(['#', '"']) || role.trim() != role;
        text.push_str(&if odd { ident(role) } else { role.clone() });
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locked(roles: &[&str]) -> Locked {
        Locked {
            database: "app\ndb".into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            sessions_terminated: 0,
            kept: vec![],
            dry_run: false,
            ledger: "pgharden_0123456789abcdef.locked_roles".into(),
            ledger_created: true,
            untrusted: vec![],
            untrusted_not_listed: 0,
        }
    }

    #[test]
    fn names_are_quoted_as_literals_in_arrays() {
        assert_eq!(name_array(&["a'b".into(), "C D".into()]), "ARRAY['a''b', 'C D']::pg_catalog.name[]");
    }

    #[test]
    fn the_restore_file_names_the_ledger_and_keeps_odd_names_readable() {
        let text = restore_file_text(&locked(&["bob", "two\nlines", "#hash", " pad", "\"q"]));
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default();
        assert!(header.starts_with("# pgharden lock of database \"app\\ndb\""), "{header}");
        assert!(header.contains("pgharden_0123456789abcdef.locked_roles"), "{header}");
        assert_eq!(
            text.split_once('\n').map(|(_, rest)| rest),
            Some("bob\n\"two\nlines\"\n\"#hash\"\n\" pad\"\n\"\"\"q\"\n")
        );
    }

    #[test]
    fn a_committed_lock_says_the_roles_are_locked() {
        let e = LockError::Committed {
            locked: Box::new(locked(&["a", "b"])),
            cause: Error::Database { reason: "connection closed".into() },
        };
        let text = e.to_string();
        assert!(
            text.starts_with("2 role(s) are locked (NOLOGIN)") && text.contains("connection closed"),
            "{text}"
        );
    }

    #[test]
    fn an_earlier_lock_is_named_with_its_time_and_what_a_dry_run_means() {
        let e = |dry_run| LockError::AlreadyLocked {
            count: 3,
            ledger: LEDGER.into(),
            since: Some("2026-12-02 13:19:42 UTC".into()),
            dry_run,
        };
        assert_eq!(
            e(true).to_string(),
            "3 role(s) are already locked by an earlier `pgharden lock` since 2026-12-02 13:19:42 UTC \
             (recorded in pgharden.locked_roles): a lock now would refuse; run `pgharden restore` first"
        );
        assert!(
            e(false)
                .to_string()
                .ends_with("nothing was changed: run `pgharden restore` first, then lock again")
        );
    }

    #[test]
    fn unknown_keep_roles_are_named_quoted() {
        let e = LockError::UnknownKeep { names: vec!["does_not_exist".into(), "a, b".into()] };
        assert_eq!(e.to_string(), "no such role to keep: \"does_not_exist\", \"a, b\"; nothing was changed");
    }
}
