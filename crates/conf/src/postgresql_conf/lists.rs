//! Setting values that are lists, read the way the server reads them: varlena.c's
//! `SplitIdentifierString` (which pgaudit's `pgaudit.log` and PostgreSQL 18's `log_connections`
//! use), and the aspects a PostgreSQL 18 `log_connections` value logs.
//!
//! Owns: the grammar of those lists and what `log_connections` makes of its elements, following
//! `check_log_connections` in src/backend/tcop/backend_startup.c (REL_18_STABLE). The audit judges
//! a cluster with these functions and apply plans with them, so that both read a value alike.
//! Must not: judge a value against a policy (which aspects are enough is the caller's business).

use std::collections::BTreeSet;
use std::fmt;

use crate::error::excerpt_owned;

/// Why a list value would be refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListError {
    /// `SplitIdentifierString` refuses it: an empty element, an unbalanced double quote, or text
    /// after a quoted name.
    #[error("not a valid comma-separated list")]
    Syntax,
    /// `check_log_connections` knows no such option (quoted as given, cut to about 200 characters).
    #[error("log_connections knows no option \"{0}\"")]
    UnknownConnectionOption(String),
    /// A boolean spelling of `log_connections` must stand alone.
    #[error("log_connections option \"{0}\" cannot be combined with other options")]
    ConnectionOptionNotAlone(String),
}

/// `scanner_isspace` of PostgreSQL 15 (16 adds `\v`).
fn scanner_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

fn skip_scanner_space(b: &[u8], mut i: usize) -> usize {
    while b.get(i).copied().is_some_and(scanner_space) {
        i += 1;
    }
    i
}

/// varlena.c's `SplitIdentifierString(value, ',')`: elements separated by commas with optional
/// whitespace, unquoted ones lower-cased, `"..."` kept as written with `""` for a quote; the empty
/// string (or only whitespace) is the empty list.
///
/// The server also cuts names to 63 bytes; every name compared with these is far shorter, so a cut
/// name matches nothing either way.
pub fn split_identifiers(value: &str) -> Result<Vec<String>, ListError> {
    let b = value.as_bytes();
    let mut names = Vec::new();
    let mut i = skip_scanner_space(b, 0);
    if i == b.len() {
        return Ok(names);
    }
    loop {
        let (name, next) =
            if b.get(i) == Some(&b'"') { quoted_name(b, i)? } else { unquoted_name(value, i)? };
        names.push(name);
        i = skip_scanner_space(b, next);
        match b.get(i) {
            None => return Ok(names),
            Some(b',') => i = skip_scanner_space(b, i + 1),
            Some(_) => return Err(ListError::Syntax),
        }
    }
}

/// A `"..."` name starting at `start`; returns it and the index after the closing quote.
fn quoted_name(b: &[u8], start: usize) -> Result<(String, usize), ListError> {
    let mut name = Vec::new();
    let mut i = start + 1;
    loop {
        match b.get(i) {
            None => return Err(ListError::Syntax),
            Some(b'"') if b.get(i + 1) == Some(&b'"') => {
                name.push(b'"');
                i += 2;
            }
            Some(b'"') => return Ok((String::from_utf8_lossy(&name).into_owned(), i + 1)),
            Some(&c) => {
                name.push(c);
                i += 1;
            }
        }
    }
}

/// An unquoted name: up to a comma or whitespace, lower-cased; it may not be empty.
fn unquoted_name(value: &str, start: usize) -> Result<(String, usize), ListError> {
    let b = value.as_bytes();
    let mut i = start;
    while i < b.len() && b[i] != b',' && !scanner_space(b[i]) {
        i += 1;
    }
    if i == start {
        return Err(ListError::Syntax);
    }
    // `i` and `start` sit at ASCII bytes or the ends, so they are character boundaries.
    Ok((value[start..i].to_ascii_lowercase(), i))
}

/// One aspect of connection set-up that PostgreSQL 18's `log_connections` can log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConnectionLogAspect {
    /// `receipt`: the connection was received.
    Receipt,
    /// `authentication`: the client was authenticated, and how.
    Authentication,
    /// `authorization`: the session was authorized for a database (and the TLS or GSS facts).
    Authorization,
    /// `setup_durations`: how long each step of connection set-up took.
    SetupDurations,
}

impl ConnectionLogAspect {
    /// Every aspect, which is what `all` turns on.
    pub const ALL: [Self; 4] =
        [Self::Receipt, Self::Authentication, Self::Authorization, Self::SetupDurations];

    /// What `on` meant before PostgreSQL 18, and still means.
    pub const ON: [Self; 3] = [Self::Receipt, Self::Authentication, Self::Authorization];

    /// The name as `log_connections` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Receipt => "receipt",
            Self::Authentication => "authentication",
            Self::Authorization => "authorization",
            Self::SetupDurations => "setup_durations",
        }
    }
}

impl fmt::Display for ConnectionLogAspect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The aspects a PostgreSQL 18 `log_connections` value logs, as backend_startup.c's
/// `check_log_connections` reads it.
///
/// The empty string logs nothing. The old boolean spellings are accepted whole and alone (`on`,
/// `true`, `yes`, `1` = receipt, authentication and authorization; `off`, `false`, `no`, `0` =
/// nothing; unlike `parse_bool`, no prefixes). Otherwise a list of `receipt`, `authentication`,
/// `authorization`, `setup_durations` and `all`, case-insensitive.
///
/// Before PostgreSQL 18 the setting is a boolean (the server shows `on`/`off`, which both readings
/// agree on).
pub fn log_connections(v: &str) -> Result<BTreeSet<ConnectionLogAspect>, ListError> {
    use ConnectionLogAspect as A;
    let names = split_identifiers(v)?;
    if let Some(first) = names.first()
        && let Some(on) = connection_compat_option(first)
    {
        if names.len() > 1 {
            return Err(ListError::ConnectionOptionNotAlone(excerpt_owned(first)));
        }
        return Ok(if on { A::ON.into_iter().collect() } else { BTreeSet::new() });
    }
    let mut aspects = BTreeSet::new();
    for name in &names {
        let members: &[A] = match name.to_ascii_lowercase().as_str() {
            "receipt" => &[A::Receipt],
            "authentication" => &[A::Authentication],
            "authorization" => &[A::Authorization],
            "setup_durations" => &[A::SetupDurations],
            "all" => &A::ALL,
            _ => return Err(ListError::UnknownConnectionOption(excerpt_owned(name))),
        };
        aspects.extend(members.iter().copied());
    }
    Ok(aspects)
}

/// The backwards-compatible spellings of `log_connections`, compared whole and case-insensitively.
fn connection_compat_option(name: &str) -> Option<bool> {
    const COMPAT: [(&str, bool); 8] = [
        ("off", false),
        ("false", false),
        ("no", false),
        ("0", false),
        ("on", true),
        ("true", true),
        ("yes", true),
        ("1", true),
    ];
    COMPAT.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, on)| *on)
}

/// The shortest PostgreSQL 18 `log_connections` value that logs exactly `aspects`: `on` for
/// receipt, authentication and authorization, `all` for every aspect, else the list in the
/// server's order (`''` for none).
pub fn log_connections_value(aspects: &BTreeSet<ConnectionLogAspect>) -> String {
    use ConnectionLogAspect as A;
    if aspects.iter().eq(A::ON.iter()) {
        return "on".to_string();
    }
    if aspects.iter().eq(A::ALL.iter()) {
        return "all".to_string();
    }
    let names: Vec<&str> = aspects.iter().map(|a| a.name()).collect();
    names.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnectionLogAspect::*;

    fn aspects(list: &[ConnectionLogAspect]) -> BTreeSet<ConnectionLogAspect> {
        list.iter().copied().collect()
    }

    #[test]
    fn identifier_lists_split_as_the_server_splits_them() {
        assert_eq!(split_identifiers("  ").unwrap(), Vec::<String>::new());
        assert_eq!(split_identifiers("DDL, \"Role\" ,read").unwrap(), ["ddl", "Role", "read"]);
        assert_eq!(split_identifiers("\"a\"\"b\"").unwrap(), ["a\"b"]);
        for bad in ["a,", ",a", "a,,b", "\"open", "\"a\"b", "a b"] {
            assert_eq!(split_identifiers(bad), Err(ListError::Syntax), "{bad:?}");
        }
    }

    #[test]
    fn log_connections_lists_and_booleans() {
        assert_eq!(log_connections("").unwrap(), aspects(&[]));
        assert_eq!(log_connections("receipt, Authorization").unwrap(), aspects(&[Receipt, Authorization]));
        assert_eq!(log_connections("ALL").unwrap(), aspects(&ConnectionLogAspect::ALL));
        assert_eq!(log_connections("YES").unwrap(), aspects(&ConnectionLogAspect::ON));
        assert_eq!(log_connections("0").unwrap(), aspects(&[]));
        assert_eq!(log_connections("tr"), Err(ListError::UnknownConnectionOption("tr".into())));
        assert_eq!(log_connections("receipt, on"), Err(ListError::UnknownConnectionOption("on".into())));
        assert_eq!(log_connections("on, receipt"), Err(ListError::ConnectionOptionNotAlone("on".into())));
    }

    #[test]
    fn values_are_spelled_as_briefly_as_the_server_allows() {
        assert_eq!(log_connections_value(&aspects(&ConnectionLogAspect::ON)), "on");
        assert_eq!(log_connections_value(&aspects(&ConnectionLogAspect::ALL)), "all");
        assert_eq!(log_connections_value(&aspects(&[SetupDurations, Receipt])), "receipt,setup_durations");
        assert_eq!(log_connections_value(&aspects(&[])), "");
        for set in [aspects(&[Authentication]), aspects(&[Receipt, Authorization, SetupDurations])] {
            assert_eq!(log_connections(&log_connections_value(&set)).unwrap(), set);
        }
    }
}
