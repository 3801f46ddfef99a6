//! What the running server uses for a parameter, read so that it compares with the profile, and the
//! comparison itself.
//!
//! Owns: reading the value in force from `pg_settings` over apply's own connection — which is the
//! owner's Unix-socket session, so `tcp_keepalives_*` are read from `reset_val` (their SHOW hooks
//! report 0 on any session that is not TCP); noticing a value that a per-role or per-database
//! setting (`ALTER ROLE … SET`, `ALTER DATABASE … SET`) or the connection's options override in
//! this session, which then says nothing about the files; and the settings the files already have
//! right that the server does not run with yet (judged by [`super::compare`]).
//! Must not: change anything.

use pgharden_conf::postgresql_conf::Value;

use crate::discover::Cluster;
use crate::error::Result;
use crate::plan::SettingChange;
use crate::plan::compare::satisfies;
use crate::profile::Wanted;
use crate::sql::{Sql, literal};

/// Parameters whose SHOW hook reports the socket's value: 0 on a Unix socket, whatever is set.
const SOCKET_SHOWN: &[&str] = &["tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count"];

/// Sources of a session's value that are not the server's configuration (`pg_settings.source`).
const SESSION_SOURCES: &[&str] = &["database", "user", "database user", "client", "session"];

/// A parameter as the server runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Live {
    pub value: String,
    /// `pg_settings.context`: `postmaster` ones change only at a restart.
    pub context: String,
    pub pending_restart: bool,
    /// The `pg_settings.source` that overrides the configuration in this session, if one does.
    pub overridden_by: Option<String>,
}

/// `name` as the server runs it; `None` when the server does not know the parameter (a library's
/// parameter before the library is loaded).
pub(crate) fn live(sql: &mut dyn Sql, name: &str) -> Result<Option<Live>> {
    let value = if SOCKET_SHOWN.contains(&name) { "reset_val" } else { "current_setting(name)" };
    let rows = sql.query(&format!(
        "SELECT {value}, context, pending_restart, source FROM pg_settings WHERE name = {}",
        literal(name)
    ))?;
    let Some(row) = rows.into_iter().next() else { return Ok(None) };
    let col = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    let source = col(3);
    Ok(Some(Live {
        value: col(0),
        context: col(1),
        pending_restart: col(2) == "t",
        overridden_by: SESSION_SOURCES.contains(&source.as_str()).then_some(source),
    }))
}

/// The decoded form of a wanted value (`'1h'` → `1h`).
pub(crate) fn decoded(raw: &str) -> String {
    Value::raw(raw).map(|v| v.decoded()).unwrap_or_else(|_| raw.to_string())
}

/// Settings the files already have right but the server does not run with: an earlier apply was
/// interrupted before its reload or restart, or someone edited the files by hand. They need the
/// reload or restart all the same. Values overridden in this session are not judged; the notes
/// returned say which.
pub(crate) fn not_in_force(
    sql: &mut dyn Sql,
    cluster: &Cluster,
    wanted: &[Wanted],
    changing: &[SettingChange],
) -> Result<(Vec<SettingChange>, Vec<String>)> {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for w in wanted.iter().filter(|w| !changing.iter().any(|c| c.name == w.name)) {
        let Some(live) = live(sql, w.name)? else { continue };
        if let Some(source) = &live.overridden_by {
            notes.push(overridden_note(w.name, source));
            continue;
        }
        if satisfies(w.accept, w.name, &live.value, &decoded(&w.value)) {
            continue;
        }
        out.push(SettingChange {
            name: w.name.to_string(),
            from: Some(live.value),
            to: w.value.clone(),
            file: cluster.config_file.clone(),
            restart: live.context == "postmaster",
            why: format!("already in the files, not yet in force ({})", w.why),
            accept: w.accept,
        });
    }
    Ok((out, notes))
}

/// Why a setting was not confirmed live.
pub(crate) fn overridden_note(name: &str, source: &str) -> String {
    format!(
        "{name} is overridden for the cluster owner's session (pg_settings.source = {source}: ALTER ROLE or \
         ALTER DATABASE … SET, or connection options), so whether the server runs with the files' value \
         was not checked; apply does not change per-role or per-database settings"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_values_are_decoded() {
        assert_eq!(decoded("'1h'"), "1h");
        assert_eq!(decoded("300"), "300");
        assert_eq!(decoded("'it''s'"), "it's");
    }
}
