//! Setting values read the way the server (or pgaudit) reads them.
//!
//! Owns: turning the text of a setting — as `current_setting()`, `pg_settings`, `pg_db_role_setting`
//! or a configuration file gives it — into what the server makes of it: the `log_line_prefix`
//! escapes that `log_status_format` (elog.c) really expands, the `pgaudit.log` classes after
//! pgaudit's `check_pgaudit_log` has added and subtracted them, booleans as `parse_bool` reads them,
//! PostgreSQL 18's list-valued `log_connections`, the tz-database names that mean UTC; the message
//! levels and the two orders elog.c compares them in (submodule `levels`); integers, with or without
//! time units, as guc.c's `parse_int` reads them (submodule `number`).
//!
//! Why: a rule that matches a setting by substring or by an allow-list of spellings passes `%%m` as
//! `%m`, `all, -role` as "every class", and fails `Zulu` as "not UTC". Each function here follows
//! the server's own parser, with the C source it follows named, so a spelling the server accepts
//! means here what it means there, and one it refuses is a [`ValueError`].
//!
//! Must not: judge STIG rules (which escapes or classes a rule wants is the catalogue's business),
//! or do I/O.

mod levels;
mod number;

use std::collections::BTreeSet;
use std::fmt;

pub use levels::{MessageLevel, client_receives, server_log_includes};
pub use number::{DurationUnit, duration_ms, file_mode};

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// A value the server (or pgaudit) would refuse, and why.
///
/// The message quotes the value escaped and cut (it comes from the cluster), the fields keep it as
/// it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{}': {problem}", pgharden_text::line(&pgharden_text::cut(.value, 200)))]
pub struct ValueError {
    /// The value as given.
    pub value: String,
    /// What the server would object to.
    pub problem: Problem,
}

impl ValueError {
    fn new(value: &str, problem: Problem) -> Self {
        Self { value: value.to_owned(), problem }
    }
}

/// What is wrong with a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// `SplitIdentifierString` refuses it: an empty element, an unbalanced double quote, or text
    /// after a quoted name.
    #[error("not a valid comma-separated list")]
    ListSyntax,
    /// pgaudit's `check_pgaudit_log` knows no such class.
    #[error("pgaudit knows no class \"{}\"", pgharden_text::line(.0))]
    UnknownAuditClass(String),
    /// `check_log_connections` (PostgreSQL 18) knows no such option.
    #[error("log_connections knows no option \"{}\"", pgharden_text::line(.0))]
    UnknownConnectionOption(String),
    /// A boolean spelling of `log_connections` must stand alone.
    #[error("log_connections option \"{}\" cannot be combined with other options", pgharden_text::line(.0))]
    ConnectionOptionNotAlone(String),
    /// Not one of the names `log_min_messages` and its siblings take.
    #[error("not a message level (debug5..debug1, log, info, notice, warning, error, fatal, panic)")]
    UnknownMessageLevel,
    /// No number where `parse_int` wants one (or `strtod` reported a range error).
    #[error("not a number")]
    NotANumber,
    /// Text after the number that is not a time unit of this setting.
    #[error("invalid unit \"{}\": the valid units are us, ms, s, min, h and d", pgharden_text::line(.0))]
    InvalidUnit(String),
    /// Text after the number of a setting that takes no unit.
    #[error("unexpected text \"{}\" after the number", pgharden_text::line(.0))]
    TrailingText(String),
    /// Outside the range of a C `int`, which every integer setting is.
    #[error("outside the integer range")]
    OutOfIntRange,
    /// A file mode outside 0000..=0777, which `log_file_mode` and `unix_socket_permissions` allow.
    #[error("not a file mode: the server takes 0000 to 0777")]
    ModeOutOfRange,
}

// ---------------------------------------------------------------------------
// log_line_prefix
// ---------------------------------------------------------------------------

/// The escape letters `log_status_format` acts on (PostgreSQL 15; `%b`, `%P` and `%Q` included).
const PREFIX_LETTERS: &[u8] = b"abudcpPlmtnsirhqvxeQ";

/// The escapes a `log_line_prefix` really uses, as elog.c's `log_status_format` reads it.
///
/// `%%` is a literal percent (so `%%m` uses nothing), a padding number (`%-10u`, `%5p`) may sit
/// between `%` and the letter, an unknown letter is ignored, and a trailing `%`, `%-` or `%10` ends
/// the prefix. `%q` is returned like any escape: the server stops there in processes without a
/// session (see [`prefix_escapes_outside_sessions`]) and ignores it in sessions.
pub fn prefix_escapes(prefix: &str) -> BTreeSet<char> {
    scan_prefix(prefix).into_iter().collect()
}

/// The escapes expanded in processes without a session (postmaster, checkpointer, autovacuum...):
/// those before the first `%q`.
pub fn prefix_escapes_outside_sessions(prefix: &str) -> BTreeSet<char> {
    scan_prefix(prefix).into_iter().take_while(|&c| c != 'q').collect()
}

/// The letters of `wanted` that `prefix` does not use, in `wanted`'s order, each once.
pub fn missing_escapes(prefix: &str, wanted: &[char]) -> Vec<char> {
    let used = prefix_escapes(prefix);
    let mut missing = Vec::new();
    for &c in wanted {
        if !used.contains(&c) && !missing.contains(&c) {
            missing.push(c);
        }
    }
    missing
}

/// The escapes in the order the server meets them. Works on bytes as the C code does: every byte
/// that matters is ASCII, so a multi-byte character is passed over like any literal.
fn scan_prefix(prefix: &str) -> Vec<char> {
    let b = prefix.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            i += 1;
            continue;
        }
        i += 1;
        match b.get(i) {
            None => break,
            Some(b'%') => {
                i += 1;
                continue;
            }
            Some(_) => {}
        }
        // process_log_prefix_padding: an optional '-', then digits; ending there is a format
        // error that stops the whole prefix.
        if b[i] == b'-' {
            i += 1;
        }
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let Some(&letter) = b.get(i) else { break };
        if PREFIX_LETTERS.contains(&letter) {
            found.push(char::from(letter));
        }
        i += 1;
    }
    found
}

// ---------------------------------------------------------------------------
// Comma-separated identifier lists
// ---------------------------------------------------------------------------

/// varlena.c's `SplitIdentifierString(value, ',')`, which both pgaudit and `log_connections` use
/// ([`pgharden_conf::postgresql_conf::split_identifiers`], shared with apply).
fn split_identifiers(value: &str) -> Result<Vec<String>, Problem> {
    pgharden_conf::postgresql_conf::split_identifiers(value).map_err(Problem::from)
}

// ---------------------------------------------------------------------------
// pgaudit.log
// ---------------------------------------------------------------------------

/// A pgaudit statement class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AuditClass {
    /// `read`: SELECT, and COPY from a relation or query.
    Read,
    /// `write`: INSERT, UPDATE, DELETE, TRUNCATE and COPY to a relation.
    Write,
    /// `function`: function calls and DO blocks.
    Function,
    /// `role`: GRANT, REVOKE and CREATE/ALTER/DROP ROLE.
    Role,
    /// `ddl`: every other DDL statement.
    Ddl,
    /// `misc`: DISCARD, FETCH, CHECKPOINT, VACUUM, SET and the like.
    Misc,
    /// `misc_set`: SET commands (SET ROLE and the like), on their own.
    MiscSet,
}

impl AuditClass {
    /// Every class, which is what `all` turns on.
    pub const ALL: [Self; 7] =
        [Self::Read, Self::Write, Self::Function, Self::Role, Self::Ddl, Self::Misc, Self::MiscSet];

    /// The name as `pgaudit.log` spells it: `read`, `write`, ..., `misc_set`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Function => "function",
            Self::Role => "role",
            Self::Ddl => "ddl",
            Self::Misc => "misc",
            Self::MiscSet => "misc_set",
        }
    }
}

impl fmt::Display for AuditClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The classes a `pgaudit.log` value turns on, as pgaudit.c's `check_pgaudit_log` computes them.
///
/// Left to right, each element adds its classes, or with a leading `-` removes them. Names are
/// case-insensitive. `all` is every class; `misc` is `misc` *and* `misc_set` (so `-misc` removes
/// both); `none` is the empty set, so it adds or removes nothing: it does not clear what came
/// before (`read, none` is `read`). A class pgaudit does not know makes it refuse the whole value.
pub fn pgaudit_classes(value: &str) -> Result<BTreeSet<AuditClass>, ValueError> {
    let names = split_identifiers(value).map_err(|p| ValueError::new(value, p))?;
    let mut classes = BTreeSet::new();
    for name in &names {
        let (subtract, class) = match name.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, name.as_str()),
        };
        let Some(members) = audit_class_members(class) else {
            return Err(ValueError::new(value, Problem::UnknownAuditClass(class.to_owned())));
        };
        for member in members {
            if subtract {
                classes.remove(member);
            } else {
                classes.insert(*member);
            }
        }
    }
    Ok(classes)
}

/// The classes one `pgaudit.log` name stands for (pgaudit compares with `pg_strcasecmp`).
fn audit_class_members(name: &str) -> Option<&'static [AuditClass]> {
    use AuditClass::*;
    const TABLE: [(&str, &[AuditClass]); 9] = [
        ("none", &[]),
        ("all", &AuditClass::ALL),
        ("ddl", &[Ddl]),
        ("function", &[Function]),
        ("misc", &[Misc, MiscSet]),
        ("misc_set", &[MiscSet]),
        ("read", &[Read]),
        ("role", &[Role]),
        ("write", &[Write]),
    ];
    TABLE.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, members)| *members)
}

// ---------------------------------------------------------------------------
// Booleans
// ---------------------------------------------------------------------------

/// A boolean as bool.c's `parse_bool` reads it: `true false yes no on off 1 0`, case-insensitive,
/// and any prefix of the words that is unique (`t`, `fa`, `y`; `on` and `of` need two letters).
/// No surrounding whitespace. `None` when the server would refuse it.
pub fn parse_bool(v: &str) -> Option<bool> {
    let b = v.as_bytes();
    let is_prefix_of = |word: &str, at_least: usize| {
        b.len() >= at_least && b.len() <= word.len() && word.as_bytes()[..b.len()].eq_ignore_ascii_case(b)
    };
    match b.first()?.to_ascii_lowercase() {
        b't' if is_prefix_of("true", 1) => Some(true),
        b'f' if is_prefix_of("false", 1) => Some(false),
        b'y' if is_prefix_of("yes", 1) => Some(true),
        b'n' if is_prefix_of("no", 1) => Some(false),
        b'o' if is_prefix_of("on", 2) => Some(true),
        b'o' if is_prefix_of("off", 2) => Some(false),
        b'1' if b.len() == 1 => Some(true),
        b'0' if b.len() == 1 => Some(false),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// log_connections (PostgreSQL 18)
// ---------------------------------------------------------------------------

pub(crate) use pgharden_conf::postgresql_conf::ConnectionLogAspect;

/// The aspects a PostgreSQL 18 `log_connections` value logs, as backend_startup.c's
/// `check_log_connections` reads it ([`pgharden_conf::postgresql_conf::log_connections`], shared
/// with apply, which plans by the same reading).
///
/// Before PostgreSQL 18 the setting is a boolean: use [`parse_bool`] (the server shows `on`/`off`,
/// which both readings agree on).
pub(crate) fn log_connections(v: &str) -> Result<BTreeSet<ConnectionLogAspect>, ValueError> {
    pgharden_conf::postgresql_conf::log_connections(v).map_err(|e| ValueError::new(v, e.into()))
}

impl From<pgharden_conf::postgresql_conf::ListError> for Problem {
    fn from(e: pgharden_conf::postgresql_conf::ListError) -> Self {
        use pgharden_conf::postgresql_conf::ListError as L;
        match e {
            L::UnknownConnectionOption(name) => Self::UnknownConnectionOption(name),
            L::ConnectionOptionNotAlone(name) => Self::ConnectionOptionNotAlone(name),
            _ => Self::ListSyntax,
        }
    }
}

// ---------------------------------------------------------------------------
// Time zones
// ---------------------------------------------------------------------------

pub use pgharden_conf::postgresql_conf::{UTC_ZONE_NAMES, is_utc_zone};

#[cfg(test)]
mod tests;
