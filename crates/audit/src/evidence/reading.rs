//! Whether the server would accept pg_hba.conf and pg_ident.conf as they are on disk.
//!
//! Owns: asking the server for its own reading of the files (`pg_hba_file_rules`, and from 15
//! `pg_ident_file_mappings`: the rows with an error, which only a superuser may read; 16 added the
//! file name), with the view's columns chosen by `server_version_num`; and pgharden's reading of
//! the same files for the server's version and settings, for when the server cannot be asked.
//! The server's reading is not asked for when asking would crash it (PostgreSQL 18 with blanks in
//! `oauth_validator_libraries`, see [`ServerSettings::oauth_crashes_the_server`]).
//! Must not: judge.

use std::path::{Path, PathBuf};

use pgharden_cluster::Sql;
use pgharden_conf::hba::ServerSettings;

use super::{Evidence, Fact, LineError, Missing, ServerReading};

/// The settings pg_hba.conf validation needs, from what the server said (`major` from
/// `server_version_num`, or the data directory when the server could not be asked).
pub(super) fn server_settings(ev: &Evidence, major: u32) -> ServerSettings {
    let oauth = ev.setting("oauth_validator_libraries").ok().map(str::to_string);
    ServerSettings { major, oauth_validator_libraries: oauth.filter(|_| major >= 18) }
}

/// The server's own reading of both files, through a connection whose settings are in `ev`.
pub(super) fn from_server(ev: &mut Evidence, sql: &mut dyn Sql) {
    let major = match &ev.major {
        Ok(m) => *m,
        Err(why) => {
            ev.hba_reading.server = Err(why.clone());
            ev.ident_reading.server = Err(why.clone());
            return;
        }
    };
    let hba_file = ev.setting("hba_file").ok().map(PathBuf::from);
    let ident_file = ev.setting("ident_file").ok().map(PathBuf::from);
    ev.hba_reading.server = if server_settings(ev, major).oauth_crashes_the_server() {
        Err(Missing::failed(
            "pg_hba_file_rules",
            "not asked: oauth_validator_libraries holds only blanks, and PostgreSQL 18 crashes reading an oauth \
             line without validator= then",
        ))
    } else {
        view(sql, "pg_hba_file_rules", major, hba_file.as_deref())
    };
    ev.ident_reading.server = if major >= 15 {
        view(sql, "pg_ident_file_mappings", major, ident_file.as_deref())
    } else {
        Err(Missing::failed(
            "pg_ident_file_mappings",
            format!("PostgreSQL {major} cannot show how it reads pg_ident.conf (the view came in 15)"),
        ))
    };
}

/// The error rows of `view` and how many rows have none. Before 16 the views have no file name:
/// every row is of `file` (the server's `hba_file` or `ident_file`).
fn view(sql: &mut dyn Sql, name: &'static str, major: u32, file: Option<&Path>) -> Fact<ServerReading> {
    // A role that may not read the view gets SQLSTATE 42501; the query and server text add nothing
    // then, and the line is repeated in every rule that needs the reading.
    let failed =
        |e: &dyn std::fmt::Display| super::sql::denied(name, &e.to_string(), "reading it needs a superuser");
    let file_column = if major >= 16 { "file_name" } else { "NULL::text" };
    let rows = sql
        .query(&format!(
            "SELECT {file_column}, line_number, error FROM {name} WHERE error IS NOT NULL ORDER BY 1, 2"
        ))
        .map_err(|e| failed(&e))?;
    let entries = sql
        .value(&format!("SELECT count(*) FROM {name} WHERE error IS NULL"))
        .map_err(|e| failed(&e))?
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let errors = rows
        .into_iter()
        .map(|r| {
            let col = |i: usize| r.get(i).cloned().flatten();
            LineError {
                file: col(0).map(PathBuf::from).or_else(|| file.map(Path::to_path_buf)).unwrap_or_default(),
                line: col(1).and_then(|l| l.parse().ok()).unwrap_or(0),
                message: col(2).unwrap_or_default(),
            }
        })
        .collect();
    Ok(ServerReading { view: name, errors, entries })
}
