//! The little SQL the cluster crate needs, behind a trait so that discovery and apply do not care
//! how the connection was made (a Unix socket as the cluster owner, or a CONNINFO with TLS).
//!
//! Owns: the [`Sql`] trait, identifier and literal quoting. Must not: open connections.

use crate::error::{Error, Result};

/// Text rows: one `Vec` per row, `None` for NULL.
pub type Rows = Vec<Vec<Option<String>>>;

/// A connection that runs SQL in the simple query protocol and returns text.
pub trait Sql {
    /// Run one or more statements; rows of the last one that returned rows.
    fn query(&mut self, sql: &str) -> Result<Rows>;

    /// Run statements, ignoring rows.
    fn execute(&mut self, sql: &str) -> Result<()> {
        self.query(sql).map(|_| ())
    }

    /// The first column of the first row.
    fn value(&mut self, sql: &str) -> Result<Option<String>> {
        Ok(self.query(sql)?.into_iter().next().and_then(|r| r.into_iter().next()).flatten())
    }
}

/// Quote an identifier as PostgreSQL's `quote_ident` does (always, so no name is special).
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quote a string literal so the server reads back exactly `value` whatever the session's
/// `standard_conforming_strings` is. A database owner may `ALTER DATABASE … SET
/// standard_conforming_strings = off`, and then a backslash in `'…'` starts an escape: a role name
/// ending in `\` would end the literal early. A value with a backslash is therefore written as an
/// escape string (`E'…'`, read the same way in either mode) with the backslash doubled; one
/// without is the plain form, which both modes read alike.
pub fn literal(value: &str) -> String {
    let quoted = value.replace('\'', "''");
    if value.contains('\\') { format!("E'{}'", quoted.replace('\\', "\\\\")) } else { format!("'{quoted}'") }
}

/// Turn a server error into the crate's error.
pub fn rejected(context: &str, message: impl std::fmt::Display) -> Error {
    Error::Rejected { reason: format!("{context}: {message}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_hostile_names() {
        assert_eq!(ident(r#"we"ird Name"#), r#""we""ird Name""#);
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal(r"a\' OR true --"), r"E'a\\'' OR true --'");
    }
}
