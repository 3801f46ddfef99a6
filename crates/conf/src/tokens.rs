//! The tokenizer pg_hba.conf and pg_ident.conf share (hba.c: `tokenize_auth_file`, `next_token`,
//! `next_field_expand`): backslash continuation joins physical lines into logical ones, fields are
//! separated by blanks, a field is a comma-separated list, double quotes protect blanks, commas and
//! `#` (and take away the keyword meaning of `all` and friends), `""` inside quotes is one quote,
//! and an unquoted `@file` stands for the tokens of another file.

use std::path::Path;

use crate::error::{Error, Location};
use crate::include::{self, Loader};
use crate::text::{self, Line};

/// One token of an authentication file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Token {
    /// The text with quotes removed.
    pub text: String,
    /// Whether the token began with a double quote (hba.c's `initial_quote`). A quoted `all`,
    /// `sameuser`, `replication` or `+name` is a plain name; quoting does *not* stop a leading `/`
    /// from making a regular expression (PostgreSQL 16+), as `regcomp_auth_token` ignores quoting.
    pub quoted: bool,
}

impl Token {
    /// An unquoted keyword such as `all`, `sameuser`, `replication`, `samehost`.
    pub fn keyword(word: &str) -> Self {
        Self { text: word.to_owned(), quoted: false }
    }

    /// A literal name; quoted when it would otherwise be read as something else.
    pub fn literal(name: &str) -> Self {
        Self { text: name.to_owned(), quoted: needs_quotes(name) }
    }

    /// `+role`: members of `role`.
    pub fn member_of(role: &str) -> Self {
        Self { text: format!("+{role}"), quoted: false }
    }

    /// `/regex` (PostgreSQL 16+ for databases and users).
    pub fn regex(pattern: &str) -> Self {
        Self {
            text: format!("/{pattern}"),
            quoted: pattern.contains(|c| is_blank(c) || c == ',' || c == '#'),
        }
    }

    /// True if this is the unquoted keyword `word`.
    pub fn is_keyword(&self, word: &str) -> bool {
        !self.quoted && self.text == word
    }

    /// `+name` group membership check (only unquoted).
    pub fn member_check(&self) -> Option<&str> {
        if self.quoted { None } else { self.text.strip_prefix('+') }
    }

    /// The pattern of a `/regex` token.
    pub fn regex_pattern(&self) -> Option<&str> {
        self.text.strip_prefix('/')
    }

    /// The token as it must be written so the tokenizer gives it back.
    pub fn render(&self) -> String {
        let must_quote = self.quoted
            || self.text.is_empty()
            || self.text.contains(|c| is_blank(c) || c == ',' || c == '#' || c == '"');
        if must_quote { format!("\"{}\"", self.text.replace('"', "\"\"")) } else { self.text.clone() }
    }
}

/// Names that need quotes to stay plain names.
fn needs_quotes(name: &str) -> bool {
    const KEYWORDS: [&str; 8] =
        ["all", "sameuser", "samerole", "samegroup", "replication", "samehost", "samenet", "include"];
    name.is_empty()
        || KEYWORDS.contains(&name)
        || name.starts_with(['+', '@'])
        || name.contains(|c| is_blank(c) || c == ',' || c == '#' || c == '"')
}

/// One element of a field's comma-separated list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Item {
    /// A token written in the field itself.
    Token(Token),
    /// `@file`: the tokens of every line of another file, relative to the including file's
    /// directory. `tokens` is `None` until the file has been read (see the loaders).
    File {
        /// The file name as written after `@`.
        target: String,
        /// The tokens read from it, in order; `None` until loaded.
        tokens: Option<Vec<Token>>,
    },
}

impl Item {
    /// The item as it must be written so the tokenizer gives it back (`@file` for a file reference).
    pub fn render(&self) -> String {
        match self {
            Self::Token(t) => t.render(),
            // `@"x y"` is a file reference too: only a quote *before* the `@` makes it a name.
            Self::File { target, .. } => format!("@{}", Token::literal(target).render()),
        }
    }

    /// The plain token, if this is not an `@file`.
    pub fn token(&self) -> Option<&Token> {
        match self {
            Self::Token(t) => Some(t),
            Self::File { .. } => None,
        }
    }
}

/// `pg_isblank`: space, tab and carriage return.
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r')
}

/// A record's text after continuation lines are joined, and the physical lines it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Logical {
    /// 0-based index of the first physical line.
    pub(crate) first: usize,
    /// 0-based index of the last physical line.
    pub(crate) last: usize,
    pub(crate) text: String,
}

/// Joins continuation lines as `tokenize_auth_file` does (PostgreSQL 14+): strip trailing CR/LF,
/// and if the buffer then ends with `\` beyond the point of the previous continuation, drop the
/// backslash and append the next line. A backslash in a comment continues the comment. Lazy, so
/// that a parse holds one joined line at a time.
pub(crate) fn logical_lines(lines: &[Line]) -> impl Iterator<Item = Logical> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        if i >= lines.len() {
            return None;
        }
        let first = i;
        let mut buf = String::new();
        let mut last_backslash = 0;
        loop {
            buf.push_str(&lines[i].text);
            buf.truncate(buf.trim_end_matches(['\r', '\n']).len());
            let continues = buf.len() > last_backslash && buf.ends_with('\\') && i + 1 < lines.len();
            if !continues {
                break;
            }
            buf.pop();
            last_backslash = buf.len();
            i += 1;
        }
        // At end of file a trailing backslash has nothing to join and is dropped too.
        if buf.len() > last_backslash && buf.ends_with('\\') {
            buf.pop();
        }
        let logical = Logical { first, last: i, text: buf };
        i += 1;
        Some(logical)
    })
}

/// `next_token`: one token starting at `*pos`, and whether a comma ended it.
fn next_token(line: &str, pos: &mut usize) -> Option<(String, bool, bool)> {
    let rest = &line[*pos..];
    let skipped = rest.len() - rest.trim_start_matches(|c| is_blank(c) || c == ',').len();
    *pos += skipped;
    let (mut buf, mut in_quote, mut was_quote, mut saw_quote, mut initial_quote) =
        (String::new(), false, false, false, false);
    let mut comma = false;
    for (offset, c) in line[*pos..].char_indices() {
        if is_blank(c) && !in_quote {
            *pos += offset;
            return (saw_quote || !buf.is_empty()).then_some((buf, initial_quote, false));
        }
        if c == '#' && !in_quote {
            *pos = line.len();
            return (saw_quote || !buf.is_empty()).then_some((buf, initial_quote, false));
        }
        if c == ',' && !in_quote {
            *pos += offset;
            comma = true;
            break;
        }
        if c != '"' || was_quote {
            buf.push(c);
        }
        was_quote = in_quote && c == '"' && !was_quote;
        if c == '"' {
            in_quote = !in_quote;
            saw_quote = true;
            initial_quote |= buf.is_empty();
        }
    }
    if !comma {
        *pos = line.len();
    }
    (saw_quote || !buf.is_empty()).then_some((buf, initial_quote, comma))
}

/// Splits a logical line into fields, each a list of items.
pub(crate) fn fields(line: &str) -> Vec<Vec<Item>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < line.len() {
        let mut field = Vec::new();
        while let Some((text, quoted, comma)) = next_token(line, &mut pos) {
            field.push(to_item(text, quoted));
            if !comma {
                break;
            }
        }
        if !field.is_empty() {
            // A list can be long; it is kept as long as the record, without the slack of growing.
            field.shrink_to_fit();
            out.push(field);
        }
    }
    out
}

/// `@x` (unquoted, more than the `@`) is a file reference; everything else a token.
fn to_item(text: String, quoted: bool) -> Item {
    match text.strip_prefix('@') {
        Some(target) if !quoted && !target.is_empty() => {
            Item::File { target: target.to_owned(), tokens: None }
        }
        _ => Item::Token(Token { text, quoted }),
    }
}

/// At least the number of tokens in `text`: the runs of characters other than blanks, commas and
/// line ends (every token holds at least one run of its own), if at most `max`; otherwise the
/// 1-based line of the first run over `max`. Nothing is allocated, so a load can refuse a file
/// before tokenizing it.
pub(crate) fn count_tokens(text: &str, max: usize) -> Result<usize, usize> {
    let (mut count, mut line, mut in_run) = (0, 1, false);
    for b in text.bytes() {
        let separator = matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b',');
        if !separator && !in_run {
            count += 1;
            if count > max {
                return Err(line);
            }
        }
        in_run = !separator;
        line += usize::from(b == b'\n');
    }
    Ok(count)
}

/// Reads an `@file` through the load's `loader`: all tokens of all its lines, flattened, nested
/// `@file`s expanded. `depth` is the depth of the file being read (the root pg_hba.conf is 0),
/// limited as PostgreSQL 16+ does.
pub(crate) fn expand_file(
    target: &str,
    including_file: &Path,
    at: &Location,
    depth: usize,
    loader: &mut Loader<'_>,
) -> Result<Vec<Token>, Error> {
    let path = include::resolve(target, including_file);
    if depth > include::MAX_DEPTH {
        return Err(Error::Include { at: at.clone(), kind: crate::error::IncludeError::TooDeep { path } });
    }
    let text = loader.read(&path, Some(at))?;
    let lines = text::split(&text);
    drop(text);
    let mut tokens = Vec::new();
    for logical in logical_lines(&lines) {
        let inner_at = Location::new(&path, logical.first + 1);
        for item in fields(&logical.text).into_iter().flatten() {
            match item {
                Item::Token(t) => tokens.push(t),
                Item::File { target, .. } => {
                    tokens.extend(expand_file(&target, &path, &inner_at, depth + 1, loader)?);
                }
            }
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(text: &str, quoted: bool) -> Item {
        Item::Token(Token { text: text.into(), quoted })
    }

    #[test]
    fn fields_lists_and_quotes() {
        // A blank ends a field even before a comma: `"a b" , "all"` is two fields, as in hba.c.
        let f = fields(r#"host  all,"a b" , "all"  10.0.0.0/8 md5 # comment"#);
        assert_eq!(
            f,
            vec![
                vec![tok("host", false)],
                vec![tok("all", false), tok("a b", true)],
                vec![tok("all", true)],
                vec![tok("10.0.0.0/8", false)],
                vec![tok("md5", false)],
            ]
        );
        assert_eq!(fields(r#"x "a""b" a"ll" "#)[1], vec![tok("a\"b", true)]);
        assert_eq!(fields(r#"x "a""b" a"ll" "#)[2], vec![tok("all", false)]);
        assert_eq!(fields(r#"x "" "#)[1], vec![tok("", true)]);
        assert_eq!(fields(r##"x "#quoted" y"##)[1], vec![tok("#quoted", true)]);
        assert_eq!(
            fields("local @users,bob \"@x\" @")[1],
            vec![Item::File { target: "users".into(), tokens: None }, tok("bob", false)]
        );
        assert_eq!(fields("local @users,bob \"@x\" @")[2], vec![tok("@x", true)]);
        assert_eq!(fields("local @users,bob \"@x\" @")[3], vec![tok("@", false)]);
        assert!(fields("   # only a comment").is_empty());
    }

    #[test]
    fn count_tokens_is_at_least_the_number_of_tokens() {
        let text = "local all,\"a b\",x  @f \"\" trust # c d\nhost\\\n all";
        let tokens: usize = logical_lines(&text::split(text)).map(|l| fields(&l.text).concat().len()).sum();
        let counted = count_tokens(text, usize::MAX).unwrap();
        assert!(counted >= tokens, "{counted} < {tokens}");
        assert_eq!(counted, 13);
        assert_eq!(count_tokens("a b\nc d\ne", 3), Err(2));
        assert_eq!(count_tokens(" , \n", 0), Ok(0));
    }

    #[test]
    fn continuation_lines_join() {
        let lines =
            text::split("host all \\\n  all 0.0.0.0/0 \\\r\n md5\n# c \\\nstill comment\nx\\\\\n\nlast\\");
        let logical: Vec<_> = logical_lines(&lines).collect();
        let texts: Vec<_> = logical.iter().map(|l| (l.first, l.last, l.text.as_str())).collect();
        assert_eq!(
            texts,
            [
                (0, 2, "host all   all 0.0.0.0/0  md5"),
                (3, 4, "# c still comment"),
                (5, 6, "x\\"),
                (7, 7, "last"),
            ]
        );
    }

    #[test]
    fn render_round_trips() {
        for t in [
            Token::literal("all"),
            Token::literal("a b"),
            Token::literal("q\"x"),
            Token::keyword("all"),
            Token::literal(""),
        ] {
            let rendered = format!("x {}", t.render());
            assert_eq!(fields(&rendered)[1], vec![Item::Token(t.clone())], "{rendered}");
        }
    }
}
