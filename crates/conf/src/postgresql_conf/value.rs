//! Values as written into `postgresql.conf`. A `Value` is always the text of exactly one value token
//! of guc-file.l, so writing it can never produce a line PostgreSQL would reject.

use std::fmt;

use super::lexer::{self, Kind};
use crate::error::Error;

/// A parameter value ready to be written: `render()` is the text that goes into the file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Value {
    text: String,
}

impl Value {
    /// A single-quoted string: `'` doubled, backslash and line breaks escaped. Always quoted, even
    /// when PostgreSQL would accept the bare word, so the value can't be read as another token kind.
    pub fn string(s: &str) -> Self {
        let mut text = String::with_capacity(s.len() + 2);
        text.push('\'');
        for c in s.chars() {
            match c {
                '\'' => text.push_str("''"),
                '\\' => text.push_str("\\\\"),
                '\n' => text.push_str("\\n"),
                '\r' => text.push_str("\\r"),
                other => text.push(other),
            }
        }
        text.push('\'');
        Self { text }
    }

    /// `on` or `off`.
    pub fn bool(b: bool) -> Self {
        Self { text: if b { "on" } else { "off" }.to_owned() }
    }

    /// A decimal integer (negative numbers lex as one INTEGER token, `-1`).
    pub fn int(i: i64) -> Self {
        Self { text: i.to_string() }
    }

    /// Text written exactly as given, which must be one value token: an identifier (`on`), a number with an optional unit (`8MB`, `0600`, `0x1F`, `-1`,
    /// `1.5`), an unquoted string (`scram-sha-256`, `foo-bar:baz/q.r`) or a complete quoted string.
    pub fn raw(text: &str) -> Result<Self, Error> {
        if single_value_token(text) {
            Ok(Self { text: text.to_owned() })
        } else {
            Err(Error::InvalidValue {
                text: crate::error::excerpt_owned(text),
                reason: "not a single postgresql.conf value token (quote it with Value::string)".into(),
            })
        }
    }

    /// The bare word when PostgreSQL reads it back unchanged, otherwise a quoted string.
    pub fn auto(s: &str) -> Self {
        let bare = single_value_token(s) && !s.starts_with('\'');
        if bare { Self { text: s.to_owned() } } else { Self::string(s) }
    }

    /// The text that goes into the file.
    pub fn render(&self) -> &str {
        &self.text
    }

    /// The value PostgreSQL sees: quotes and escapes removed.
    pub fn decoded(&self) -> String {
        decode(&self.text)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What PostgreSQL makes of a value token's text.
pub(crate) fn decode(raw: &str) -> String {
    if raw.starts_with('\'') { lexer::dequote(raw) } else { raw.to_owned() }
}

/// True if `text` lexes as exactly one token of a kind accepted in value position. A qualified
/// name such as `a.b` is a name token, which ParseConfigFp refuses as a value.
pub(crate) fn single_value_token(text: &str) -> bool {
    let lexed = lexer::lex(text, 2);
    lexed.comment.is_none()
        && matches!(lexed.tokens.as_slice(), [t] if t.start == 0 && t.end == text.len() && is_value_kind(t.kind))
}

pub(crate) fn is_value_kind(kind: Kind) -> bool {
    matches!(kind, Kind::Id | Kind::String | Kind::Integer | Kind::Real | Kind::UnquotedString)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_and_escaped() {
        assert_eq!(Value::string("it's").render(), "'it''s'");
        assert_eq!(Value::string("a\\b\nc").render(), "'a\\\\b\\nc'");
        assert_eq!(Value::string("a\\b\nc").decoded(), "a\\b\nc");
        assert_eq!(Value::string("").render(), "''");
    }

    #[test]
    fn raw_accepts_one_value_token_only() {
        for ok in ["on", "8MB", "0600", "0x1F", "-1", "1.5", "'x y'", "foo-bar:baz/q.r", "a.b.c"] {
            assert!(Value::raw(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a.b", "/tmp", "'x", "1 # c", "*", "1e5"] {
            assert!(Value::raw(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn auto_quotes_only_when_needed() {
        assert_eq!(Value::auto("on").render(), "on");
        assert_eq!(Value::auto("scram-sha-256").render(), "scram-sha-256");
        assert_eq!(Value::auto("a b").render(), "'a b'");
        assert_eq!(Value::auto("/var/run").render(), "'/var/run'");
        assert_eq!(Value::auto("'q'").render(), "'''q'''");
    }
}
