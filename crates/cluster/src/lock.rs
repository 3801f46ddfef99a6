//! Emergency lockout of logins (STIG PGS9-00-011600, supplement Appendix A), done safely.
//!
//! Owns: choosing the roles to lock (every role that can log in, except the connecting role, the
//! bootstrap superuser and the kept ones), recording them in `pgharden.locked_roles` *in the same
//! transaction* that sets them NOLOGIN (so a crash anywhere leaves no role locked and unrecorded),
//! ending their sessions in every database, and restoring exactly the recorded roles.
//! Appendix A's script interpolated names unquoted, read `username` (the column is `usename`),
//! ran its ALTERs against the default database, and recorded a role only after altering it; here
//! every name is quoted with `format('%I')` on the server and the ledger is transactional.
//! Must not: connect (it is given a [`Sql`]) or touch roles that could not log in before.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::sql::{Sql, literal};

/// Schema and table of the ledger.
pub const LEDGER: &str = "pgharden.locked_roles";

/// What a lock did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Serialize)]
pub struct Locked {
    pub database: String,
    pub roles: Vec<String>,
    pub sessions_terminated: u64,
    pub kept: Vec<String>,
    pub dry_run: bool,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub database: String,
    pub roles: Vec<String>,
    /// Recorded roles that no longer exist (dropped while locked): reported, not fatal.
    pub dropped: Vec<String>,
    pub dry_run: bool,
}

/// A second lock while roles are locked is refused.
#[derive(Debug, Clone)]
pub struct AlreadyLocked {
    pub count: usize,
}

fn ensure_ledger(sql: &mut dyn Sql) -> Result<()> {
    sql.execute(
        "CREATE SCHEMA IF NOT EXISTS pgharden; \
         REVOKE ALL ON SCHEMA pgharden FROM PUBLIC; \
         CREATE TABLE IF NOT EXISTS pgharden.locked_roles ( \
             rolname name PRIMARY KEY, \
             locked_at timestamptz NOT NULL DEFAULT now(), \
             locked_by name NOT NULL DEFAULT session_user); \
         REVOKE ALL ON pgharden.locked_roles FROM PUBLIC",
    )
}

/// The array literal of `names`, for `<> ALL(...)`.
fn name_array(names: &[String]) -> String {
    let items: Vec<String> = names.iter().map(|n| literal(n)).collect();
    format!("ARRAY[{}]::name[]", items.join(", "))
}

fn first_column(rows: Vec<Vec<Option<String>>>) -> Vec<String> {
    rows.into_iter().filter_map(|r| r.into_iter().next().flatten()).collect()
}

/// Lock every login role but ours, the bootstrap superuser and `keep`.
pub fn lock(sql: &mut dyn Sql, keep: &[String], dry_run: bool) -> Result<Locked> {
    let database = sql.value("SELECT current_database()")?.unwrap_or_default();
    let me = sql.value("SELECT current_user")?.unwrap_or_default();
    let bootstrap = sql.value("SELECT rolname FROM pg_roles WHERE oid = 10")?.unwrap_or_default();
    let mut kept: Vec<String> = vec![me, bootstrap];
    kept.extend(keep.iter().cloned());
    kept.sort();
    kept.dedup();
    let candidates = format!(
        "SELECT rolname FROM pg_roles WHERE rolcanlogin AND rolname <> ALL({}) ORDER BY rolname",
        name_array(&kept)
    );
    if dry_run {
        let roles = first_column(sql.query(&candidates)?);
        let sessions = sql
            .value(&format!("SELECT count(*) FROM pg_stat_activity WHERE usename IN ({candidates})"))?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        return Ok(Locked { database, roles, sessions_terminated: sessions, kept, dry_run });
    }
    ensure_ledger(sql)?;
    sql.execute("BEGIN; LOCK TABLE pgharden.locked_roles IN EXCLUSIVE MODE")?;
    let result = lock_in_transaction(sql, &candidates);
    match result {
        Ok(roles) => {
            sql.execute("COMMIT")?;
            // After the commit: the roles are locked and recorded, so ending sessions is safe to retry.
            let ended = sql
                .value(
                    "SELECT count(pg_terminate_backend(a.pid)) FROM pg_stat_activity a \
                     JOIN pgharden.locked_roles l ON l.rolname = a.usename WHERE a.pid <> pg_backend_pid()",
                )?
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            Ok(Locked { database, roles, sessions_terminated: ended, kept, dry_run })
        }
        Err(e) => {
            let _ = sql.execute("ROLLBACK");
            Err(e)
        }
    }
}

fn lock_in_transaction(sql: &mut dyn Sql, candidates: &str) -> Result<Vec<String>> {
    let already: usize =
        sql.value("SELECT count(*) FROM pgharden.locked_roles")?.and_then(|c| c.parse().ok()).unwrap_or(0);
    if already > 0 {
        return Err(Error::Database {
            reason: format!(
                "{already} role(s) are already locked by an earlier `pgharden lock`; run `pgharden restore` first, then lock again"
            ),
        });
    }
    // Record and alter in one statement batch of this transaction; the server quotes each name.
    let roles = first_column(
        sql.query(&format!("INSERT INTO pgharden.locked_roles (rolname) {candidates} RETURNING rolname"))?,
    );
    sql.execute(
        "DO $$ DECLARE r name; BEGIN \
           FOR r IN SELECT rolname FROM pgharden.locked_roles LOOP \
             EXECUTE format('ALTER ROLE %I NOLOGIN', r); \
           END LOOP; END $$",
    )?;
    Ok(roles)
}

/// Re-enable exactly the recorded roles, in one transaction, and clear the ledger.
pub fn restore(sql: &mut dyn Sql, dry_run: bool) -> Result<Restored> {
    let database = sql.value("SELECT current_database()")?.unwrap_or_default();
    let exists =
        sql.value("SELECT to_regclass('pgharden.locked_roles') IS NOT NULL")?.as_deref() == Some("t");
    if !exists {
        return Ok(Restored { database, roles: vec![], dropped: vec![], dry_run });
    }
    let present =
        "SELECT l.rolname FROM pgharden.locked_roles l JOIN pg_roles r ON r.rolname = l.rolname ORDER BY 1";
    let missing = "SELECT l.rolname FROM pgharden.locked_roles l LEFT JOIN pg_roles r ON r.rolname = l.rolname \
                   WHERE r.rolname IS NULL ORDER BY 1";
    if dry_run {
        let roles = first_column(sql.query(present)?);
        let dropped = first_column(sql.query(missing)?);
        return Ok(Restored { database, roles, dropped, dry_run });
    }
    sql.execute("BEGIN; LOCK TABLE pgharden.locked_roles IN EXCLUSIVE MODE")?;
    let result = (|| -> Result<(Vec<String>, Vec<String>)> {
        let roles = first_column(sql.query(present)?);
        let dropped = first_column(sql.query(missing)?);
        sql.execute(
            "DO $$ DECLARE r name; BEGIN \
               FOR r IN SELECT l.rolname FROM pgharden.locked_roles l JOIN pg_roles p ON p.rolname = l.rolname LOOP \
                 EXECUTE format('ALTER ROLE %I LOGIN', r); \
               END LOOP; END $$; \
             DELETE FROM pgharden.locked_roles",
        )?;
        Ok((roles, dropped))
    })();
    match result {
        Ok((roles, dropped)) => {
            sql.execute("COMMIT")?;
            Ok(Restored { database, roles, dropped, dry_run })
        }
        Err(e) => {
            let _ = sql.execute("ROLLBACK");
            Err(e)
        }
    }
}

/// The restore file's text: one role per line; a name with a line break is written quoted.
pub fn restore_file_text(roles: &[String]) -> String {
    roles
        .iter()
        .map(|r| if r.contains(['\n', '\r']) { crate::sql::ident(r) } else { r.clone() })
        .map(|r| r + "\n")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_as_literals_in_arrays() {
        assert_eq!(name_array(&["a'b".into(), "C D".into()]), "ARRAY['a''b', 'C D']::name[]");
    }

    #[test]
    fn the_restore_file_keeps_odd_names_readable() {
        assert_eq!(restore_file_text(&["bob".into(), "two\nlines".into()]), "bob\n\"two\nlines\"\n");
    }
}
