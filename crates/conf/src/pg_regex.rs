//! PostgreSQL regular expressions (POSIX "advanced" REs, `REG_ADVANCED`, C collation) as far as the
//! `regex` crate can express them, for `/regex` tokens of pg_hba.conf and pg_ident.conf.
//!
//! Translated: the ARE escapes `\m` `\M` (start/end of word), `\y` `\Y` (word boundary or not),
//! `\Z` (end of string), and the `***:` / `***=` directors.
//! Not supported (compiling fails, and callers report the rule as undecidable): back-references
//! (`\1` inside a pattern), lookahead and lookbehind constraints, collating elements `[[.x.]]` and
//! equivalence classes `[[=x=]]`, ARE-only escapes such as `\e`, and ARE embedded options other
//! than those Rust shares (`(?i)`, `(?x)`, ...; `(?n)`/`(?m)` differ and are refused).
//! Different: ARE picks the leftmost-*longest* match, Rust the leftmost-first, which can change
//! what the first capture group (`\1` in pg_ident.conf) holds for ambiguous patterns; and Rust's
//! `\w`, `\d` and case folding are Unicode-aware where PostgreSQL's C collation is ASCII.
//! Patterns longer than [`MAX_PATTERN_BYTES`] are refused unread, to bound compile memory.

use regex::Regex;

use crate::error::excerpt;

/// The longest pattern pgharden compiles: 64 KiB. Compiling takes about a hundred times the
/// pattern's length in memory, and a pg_hba or pg_ident regex is rarely longer than a line.
pub(crate) const MAX_PATTERN_BYTES: usize = 64 << 10;

/// Compiles a PostgreSQL regex (without its leading `/`), or says why it cannot be used.
pub(crate) fn compile(pattern: &str) -> Result<Regex, String> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(format!(
            "regular expression {:?} is longer than pgharden compiles ({MAX_PATTERN_BYTES} bytes)",
            excerpt(pattern)
        ));
    }
    let translated = translate(pattern)?;
    Regex::new(&translated).map_err(|e| {
        format!("regular expression {:?} is not supported by pgharden: {}", excerpt(pattern), reason(&e))
    })
}

/// What the `regex` crate says is wrong, without the copy of the whole pattern its syntax errors
/// carry (the pattern is quoted, cut, by the caller): the message's last line.
fn reason(err: &regex::Error) -> String {
    let text = err.to_string();
    let last = text.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or_default();
    excerpt(last).into_owned()
}

fn translate(pattern: &str) -> Result<String, String> {
    if let Some(literal) = pattern.strip_prefix("***=") {
        return Ok(regex::escape(literal));
    }
    let pattern = pattern.strip_prefix("***:").unwrap_or(pattern);
    if pattern.contains("[[.") || pattern.contains("[[=") {
        return Err(format!(
            "regular expression {:?} uses collating elements, which pgharden does not support",
            excerpt(pattern)
        ));
    }
    if pattern.starts_with("(?") && pattern[2..].starts_with(|c: char| "bcenpqtw".contains(c)) {
        return Err(format!(
            "regular expression {:?} uses ARE embedded options pgharden does not support",
            excerpt(pattern)
        ));
    }
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('m') => out.push_str(r"\b{start}"),
            Some('M') => out.push_str(r"\b{end}"),
            Some('y') => out.push_str(r"\b"),
            Some('Y') => out.push_str(r"\B"),
            Some('Z') => out.push_str(r"\z"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_patterns_compile_and_search_unanchored() {
        let re = compile(r"^(.*)@EXAMPLE\.COM$").unwrap();
        assert_eq!(&re.captures("bob@EXAMPLE.COM").unwrap()[1], "bob");
        assert!(compile("db").unwrap().is_match("mydb1"));
        assert!(compile(r"\mdb\M").unwrap().is_match("a db b"));
        assert!(compile("***=a.b").unwrap().is_match("xa.b"));
        assert!(!compile("***=a.b").unwrap().is_match("axb"));
    }

    #[test]
    fn patterns_over_the_limit_are_refused_before_compiling() {
        assert!(compile(&"a".repeat(MAX_PATTERN_BYTES)).is_ok());
        let err = compile(&"a".repeat(MAX_PATTERN_BYTES + 1)).unwrap_err();
        assert!(
            err.ends_with("… (65337 more bytes)\" is longer than pgharden compiles (65536 bytes)"),
            "{err}"
        );
    }

    #[test]
    fn unsupported_constructs_are_refused() {
        for bad in [r"(a)\1", "a(?=b)", "[[.a.]]", "(?n)a", r"\e"] {
            assert!(compile(bad).is_err(), "{bad}");
        }
    }
}
