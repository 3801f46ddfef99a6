//! Checks that the server accepts pg_hba.conf and pg_ident.conf as they are on disk.
//!
//! Why these are checks of their own, mapped to every rule that judges pg_hba.conf (or the
//! pg_ident.conf maps): one line the server refuses makes it refuse the whole file. A reload then
//! keeps the file it read before, so the lines on disk are not what is in force, and a restart
//! fails (pg_hba.conf) or starts without any map, so every `map=` login fails (pg_ident.conf). The
//! rules' other checks read the file on disk; when it is refused they say "not checked" (see
//! [`refusal`]), and this check fails the rule, naming each refused line. Said once per rule, as
//! its own check, rather than repeated inside each line check.
//!
//! Evidence: the server's own reading (`pg_hba_file_rules`, `pg_ident_file_mappings`) decides.
//! Without it (no superuser, no connection, PostgreSQL 14's pg_ident.conf, which no view shows)
//! pgharden's reading for the server's version and settings can show a refusal, never an
//! acceptance: the check is then "not checked" — except for PostgreSQL 14's pg_ident.conf, which
//! the server has no way to show, where a reading without any problem is all the evidence there
//! can be, and passes saying so.
//!
//! Owns: those two judgements. Must not: gather evidence.

use pgharden_conf::Severity;

use crate::evidence::{Evidence, Missing, Reading};

use super::{Outcome, fail, not_checked, pass};

/// pg_hba.conf (with what it includes) as the server reads it.
pub(super) fn hba_file(ev: &Evidence) -> Outcome {
    accepted(
        ev,
        &ev.hba_reading,
        "pg_hba.conf",
        "a reload keeps the file it read before, and a restart fails",
    )
}

/// pg_ident.conf (with what it includes) as the server reads it.
pub(super) fn ident_file(ev: &Evidence) -> Outcome {
    accepted(
        ev,
        &ev.ident_reading,
        "pg_ident.conf",
        "a reload keeps the maps it read before, and a restart starts without any map (every map= login fails)",
    )
}

/// "Not checked" for a check reading `file` on disk when the server refuses it, `None` otherwise.
pub(super) fn refusal(reading: &Reading, file: &str) -> Option<Outcome> {
    reading.refused().map(|_| {
        not_checked(format!(
            "not judged: the server refuses {file} as it is on disk, so its lines are not the ones in force"
        ))
    })
}

fn accepted(ev: &Evidence, reading: &Reading, file: &str, consequence: &str) -> Outcome {
    match &reading.server {
        Ok(server) => {
            let mut errors: Vec<String> = server.errors.iter().map(ToString::to_string).collect();
            // load_hba refuses a file without a single rule (there would be no way in).
            if file == "pg_hba.conf" && errors.is_empty() && server.entries == 0 {
                errors.push(format!("{file}: configuration file contains no entries"));
            }
            if errors.is_empty() {
                let what = if file == "pg_hba.conf" { "rules" } else { "map lines" };
                return pass(format!(
                    "the server reads {file} without error ({} {what}, {})",
                    server.entries, server.view
                ));
            }
            refused(
                format!("the server refuses {file} as it is on disk ({}): {consequence}", server.view),
                errors,
            )
        }
        Err(why) => without_server(ev, reading, file, consequence, why),
    }
}

/// pgharden's reading when the server's is missing: a refusal fails, anything else is not checked
/// (but see the module docs for PostgreSQL 14's pg_ident.conf).
fn without_server(ev: &Evidence, reading: &Reading, file: &str, consequence: &str, why: &Missing) -> Outcome {
    let major = ev.major.as_ref().ok().copied();
    let problems = match &reading.pgharden {
        Ok(p) => p,
        // The files' absence is said once in the report's problems; here only that it matters.
        Err(Missing::NoFiles) => {
            return not_checked(format!(
                "{why}; pgharden's own reading needs the files, which were not read"
            ));
        }
        Err(read) => return not_checked(format!("{why}; and the files could not be read: {read}")),
    };
    let version = major.map_or_else(|| "the server".to_string(), |m| format!("PostgreSQL {m}"));
    if let Some(errors) = reading.refused() {
        return refused(
            format!("pgharden's reading: {version} would refuse {file} ({why}): {consequence}"),
            errors,
        );
    }
    let no_view = file == "pg_ident.conf" && major.is_some_and(|m| m < 15);
    if no_view && problems.is_empty() {
        return pass(format!(
            "{why}; pgharden's reading of {file} for {version} finds nothing the server could refuse"
        ));
    }
    let warnings: Vec<String> =
        problems.iter().filter(|p| p.severity == Severity::Warning).map(ToString::to_string).collect();
    let mut out = not_checked(format!(
        "{why}; pgharden's reading for {version} finds no line the server refuses, but only the server's own reading \
         shows that it accepts {file} (audit as a superuser)"
    ));
    out.evidence.extend(warnings);
    out
}

fn refused(head: String, errors: Vec<String>) -> Outcome {
    let mut out = fail(head);
    out.evidence.extend(errors);
    out
}
