//! `keyword=value` connection strings, as libpq's `conninfo_parse` reads them.
//!
//! Owns: the grammar — whitespace around `=`, bare values ending at whitespace, single-quoted
//! values, and backslash escapes in both (`\'`, `\\`, and `\x` for any other `x`).
//! Must not: percent-decode (only URIs are percent-encoded) or apply defaults.

use super::Conninfo;
use crate::error::ConninfoError;

/// C's `isspace` in the C locale, which is what libpq uses.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r')
}

/// Parse `s` into `info`, in order, so later values override earlier ones.
pub(super) fn parse(s: &str, info: &mut Conninfo) -> Result<(), ConninfoError> {
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| is_space(*c)).is_some() {}
        if chars.peek().is_none() {
            return Ok(());
        }
        let name = keyword(&mut chars);
        if chars.next() != Some('=') {
            return Err(ConninfoError::MissingEquals(name));
        }
        while chars.next_if(|c| is_space(*c)).is_some() {}
        let value = if chars.next_if_eq(&'\'').is_some() {
            quoted(&mut chars).ok_or_else(|| ConninfoError::UnterminatedQuote(name.clone()))?
        } else {
            bare(&mut chars)
        };
        if info.store(&name, &value).is_none() {
            return Err(ConninfoError::InvalidOption(name));
        }
    }
}

/// The keyword runs to `=` or whitespace; whitespace before the `=` is skipped.
fn keyword(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut name = String::new();
    while let Some(c) = chars.next_if(|c| *c != '=' && !is_space(*c)) {
        name.push(c);
    }
    while chars.next_if(|c| is_space(*c)).is_some() {}
    name
}

/// An unquoted value ends at whitespace (which is consumed); `\x` stands for `x`.
fn bare(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut value = String::new();
    while let Some(c) = chars.next() {
        if is_space(c) {
            break;
        }
        if c == '\\' {
            // A trailing lone backslash is dropped, as in libpq.
            if let Some(escaped) = chars.next() {
                value.push(escaped);
            }
        } else {
            value.push(c);
        }
    }
    value
}

/// A quoted value, after its opening quote: ends at an unescaped `'`. `None` if it never does.
fn quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
    let mut value = String::new();
    loop {
        match chars.next()? {
            '\\' => value.push(chars.next()?),
            '\'' => return Some(value),
            c => value.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(s: &str) -> Vec<(String, String)> {
        let info = Conninfo::parse(s).unwrap();
        info.iter().map(|(k, v)| (k.name.to_owned(), v.to_owned())).collect()
    }

    fn p(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn keyword_value_table() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("", &[]),
            ("   ", &[]),
            (
                "host=localhost port=5432 dbname=mydb connect_timeout=10",
                &[("connect_timeout", "10"), ("dbname", "mydb"), ("host", "localhost"), ("port", "5432")],
            ),
            ("host = localhost\tport =5432\n", &[("host", "localhost"), ("port", "5432")]),
            ("password='it\\'s a secret'", &[("password", "it's a secret")]),
            ("dbname='back\\\\slash'", &[("dbname", "back\\slash")]),
            ("dbname=''", &[("dbname", "")]),
            ("dbname=", &[("dbname", "")]),
            ("dbname= user=bob", &[("dbname", "user=bob")]),
            ("dbname=a\\ b", &[("dbname", "a b")]),
            ("dbname=a'b", &[("dbname", "a'b")]),
            ("host=/var/run/postgresql", &[("host", "/var/run/postgresql")]),
            ("host=a,b,c port=1,,3", &[("host", "a,b,c"), ("port", "1,,3")]),
            ("application_name='x y z'user=u", &[("user", "u"), ("application_name", "x y z")]),
            ("options='-c search_path=pg_catalog'", &[("options", "-c search_path=pg_catalog")]),
        ];
        for (input, want) in cases {
            assert_eq!(pairs(input), p(want), "{input:?}");
        }
    }

    #[test]
    fn keyword_value_errors() {
        let cases: &[(&str, ConninfoError)] = &[
            ("postgre://", ConninfoError::MissingEquals("postgre://".into())),
            ("host", ConninfoError::MissingEquals("host".into())),
            ("host localhost", ConninfoError::MissingEquals("host".into())),
            ("dbname='abc", ConninfoError::UnterminatedQuote("dbname".into())),
            ("dbname='abc\\", ConninfoError::UnterminatedQuote("dbname".into())),
            ("x=1", ConninfoError::InvalidOption("x".into())),
            ("Host=h", ConninfoError::InvalidOption("Host".into())),
            ("=1", ConninfoError::InvalidOption(String::new())),
            ("dbname='a'b", ConninfoError::MissingEquals("b".into())),
        ];
        for (input, want) in cases {
            assert_eq!(Conninfo::parse(input), Err(want.clone().into()), "{input:?}");
        }
    }
}
