//! The token rules of PostgreSQL's `guc-file.l`, applied to one physical line (no token can span a
//! newline, so a line at a time is equivalent). Flex picks the longest match and, between matches
//! of equal length, the rule listed first; `longest` reproduces that.

/// Token kinds, in the order guc-file.l lists them (which breaks ties).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Id,
    QualifiedId,
    String,
    UnquotedString,
    Integer,
    Real,
    Equals,
    /// Any other single character, such as the `'` of an unterminated string or a leading `/`.
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tok {
    pub(crate) kind: Kind,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Lexed {
    /// The first tokens of the line (as many as `lex` was asked for).
    pub(crate) tokens: Vec<Tok>,
    /// Byte offset of the `#` that starts a comment, if any, when the line has no more tokens
    /// than were asked for (otherwise the rest of the line was not scanned: see `comment`).
    pub(crate) comment: Option<usize>,
}

/// Lexes the first `max_tokens` tokens of `line`: callers need only the first few, and a line
/// can be megabytes of tokens.
pub(crate) fn lex(line: &str, max_tokens: usize) -> Lexed {
    let mut lexer = Lexer::new(line, 0);
    let tokens: Vec<Tok> = lexer.by_ref().take(max_tokens).collect();
    if tokens.len() == max_tokens {
        // The comment is only known at the end of the line, which need not be reached.
        return Lexed { tokens, comment: None };
    }
    Lexed { tokens, comment: lexer.comment }
}

/// Where the comment of `line` starts, scanning from `from` (the start of a token).
pub(crate) fn comment(line: &str, from: usize) -> Option<usize> {
    let mut lexer = Lexer::new(line, from);
    lexer.by_ref().for_each(drop);
    lexer.comment
}

/// The tokens of one line, in order; `comment` is known once the iterator is exhausted.
struct Lexer<'a> {
    b: &'a [u8],
    i: usize,
    comment: Option<usize>,
    /// False once a quote was found that no later quote closes: then no later quote can start a
    /// STRING token either (see `string_len`), and rescanning the rest of the line for each of
    /// them would take time quadratic in the line's length.
    strings_close: bool,
}

impl Iterator for Lexer<'_> {
    type Item = Tok;

    fn next(&mut self) -> Option<Tok> {
        while self.i < self.b.len() {
            match self.b[self.i] {
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'#' => {
                    self.comment = Some(self.i);
                    self.i = self.b.len();
                }
                _ => {
                    let (kind, len) = self.longest();
                    let tok = Tok { kind, start: self.i, end: self.i + len };
                    self.i += len;
                    return Some(tok);
                }
            }
        }
        None
    }
}

impl<'a> Lexer<'a> {
    fn new(line: &'a str, from: usize) -> Self {
        Self { b: line.as_bytes(), i: from, comment: None, strings_close: true }
    }

    fn longest(&mut self) -> (Kind, usize) {
        let (b, i) = (self.b, self.i);
        let string = if self.strings_close { string_len(b, i) } else { 0 };
        if string == 0 && b[i] == b'\'' {
            self.strings_close = false;
        }
        let candidates = [
            (Kind::Id, id_len(b, i)),
            (Kind::QualifiedId, qualified_len(b, i)),
            (Kind::String, string),
            (Kind::UnquotedString, unquoted_len(b, i)),
            (Kind::Integer, integer_len(b, i)),
            (Kind::Real, real_len(b, i)),
            (Kind::Equals, usize::from(b[i] == b'=')),
        ];
        let mut best = (Kind::Error, 0);
        for (kind, len) in candidates {
            if len > best.1 {
                best = (kind, len);
            }
        }
        if best.1 == 0 { (Kind::Error, char_len(b[i])) } else { best }
    }
}

/// Length of the UTF-8 sequence a byte starts; an error token is one character.
fn char_len(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

/// `[A-Za-z_\200-\377]`
pub(crate) fn is_letter(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_letter_or_digit(c: u8) -> bool {
    is_letter(c) || c.is_ascii_digit()
}

fn run(b: &[u8], i: usize, pred: impl Fn(u8) -> bool) -> usize {
    b.get(i..).map_or(0, |rest| rest.iter().take_while(|&&c| pred(c)).count())
}

fn id_len(b: &[u8], i: usize) -> usize {
    if b.get(i).is_some_and(|&c| is_letter(c)) { 1 + run(b, i + 1, is_letter_or_digit) } else { 0 }
}

fn qualified_len(b: &[u8], i: usize) -> usize {
    let first = id_len(b, i);
    if first == 0 || b.get(i + first) != Some(&b'.') {
        return 0;
    }
    let second = id_len(b, i + first + 1);
    if second == 0 { 0 } else { first + 1 + second }
}

fn unquoted_len(b: &[u8], i: usize) -> usize {
    if !b.get(i).is_some_and(|&c| is_letter(c)) {
        return 0;
    }
    1 + run(b, i + 1, |c| is_letter_or_digit(c) || matches!(c, b'-' | b'.' | b'_' | b':' | b'/'))
}

/// `\'([^'\\\n]|\\.|\'\')*\'` as a small automaton, remembering the last accepting position (a
/// `''` inside is a closing quote immediately reopened).
///
/// If no quote closes the one at `i` (the result is 0), none closes a later quote either: the scan
/// from `i` passed each later quote as the escaped half of a `\'` (or it would have closed), so
/// it was in the plain state right after it, where a scan from that quote starts too, and the two
/// scans go on identically. `Lexer` relies on this.
fn string_len(b: &[u8], i: usize) -> usize {
    if b.get(i) != Some(&b'\'') {
        return 0;
    }
    let mut j = i + 1;
    let mut last_accept = 0;
    while j < b.len() {
        match b[j] {
            b'\'' => {
                last_accept = j + 1 - i;
                if b.get(j + 1) == Some(&b'\'') {
                    j += 2;
                } else {
                    break;
                }
            }
            b'\\' if j + 1 < b.len() => j += 2,
            b'\\' => break,
            _ => j += 1,
        }
    }
    last_accept
}

/// `{SIGN}?({DIGIT}+|0x{HEXDIGIT}+){UNIT_LETTER}*`
fn integer_len(b: &[u8], i: usize) -> usize {
    let sign = usize::from(matches!(b.get(i), Some(b'-' | b'+')));
    let start = i + sign;
    let digits = run(b, start, |c| c.is_ascii_digit());
    let decimal = if digits > 0 { digits + run(b, start + digits, |c| c.is_ascii_alphabetic()) } else { 0 };
    let hex = if b.get(start..start + 2) == Some(b"0x") {
        let h = run(b, start + 2, |c| c.is_ascii_hexdigit());
        if h > 0 { 2 + h + run(b, start + 2 + h, |c| c.is_ascii_alphabetic()) } else { 0 }
    } else {
        0
    };
    let body = decimal.max(hex);
    if body == 0 { 0 } else { sign + body }
}

/// `{SIGN}?{DIGIT}*"."{DIGIT}*{EXPONENT}?` with `EXPONENT = [Ee]{SIGN}?{DIGIT}+`
fn real_len(b: &[u8], i: usize) -> usize {
    let sign = usize::from(matches!(b.get(i), Some(b'-' | b'+')));
    let mut j = i + sign;
    j += run(b, j, |c| c.is_ascii_digit());
    if b.get(j) != Some(&b'.') {
        return 0;
    }
    j += 1;
    j += run(b, j, |c| c.is_ascii_digit());
    if matches!(b.get(j), Some(b'e' | b'E')) {
        let exp_sign = usize::from(matches!(b.get(j + 1), Some(b'-' | b'+')));
        let exp_digits = run(b, j + 1 + exp_sign, |c| c.is_ascii_digit());
        if exp_digits > 0 {
            j += 1 + exp_sign + exp_digits;
        }
    }
    j - i
}

/// `DeescapeQuotedString`: strips the quotes of a STRING token and undoes `''` and backslash
/// escapes. Octal escapes can produce any byte; bytes that do not form UTF-8 are replaced by
/// U+FFFD (PostgreSQL would pass them on to the parameter's check).
pub(crate) fn dequote(token: &str) -> String {
    let bytes = token.as_bytes();
    // A STRING token starts and ends with a quote; anything shorter has no content.
    let inner = bytes.get(1..bytes.len().saturating_sub(1)).unwrap_or_default();
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        let c = inner[i];
        if c == b'\\' && i + 1 < inner.len() {
            i += 1;
            let (byte, used) = unescape(&inner[i..]);
            out.push(byte);
            i += used;
        } else if c == b'\'' && inner.get(i + 1) == Some(&b'\'') {
            out.push(b'\'');
            i += 2;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One escape after a backslash: the byte it stands for and how many input bytes it used.
fn unescape(rest: &[u8]) -> (u8, usize) {
    match rest[0] {
        b'b' => (0x08, 1),
        b'f' => (0x0c, 1),
        b'n' => (b'\n', 1),
        b'r' => (b'\r', 1),
        b't' => (b'\t', 1),
        b'0'..=b'7' => {
            let digits = rest.iter().take(3).take_while(|c| (b'0'..=b'7').contains(c)).count();
            // Truncation to a byte is what PostgreSQL's `(char) octVal` does for \400 and above.
            let value = rest[..digits].iter().fold(0u32, |acc, &d| (acc << 3) + u32::from(d - b'0'));
            ((value & 0xff) as u8, digits)
        }
        other => (other, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(line: &str) -> Vec<(Kind, &str)> {
        lex(line, usize::MAX).tokens.iter().map(|t| (t.kind, &line[t.start..t.end])).collect()
    }

    #[test]
    fn longest_match_with_rule_order_ties() {
        use Kind::*;
        assert_eq!(kinds("pgaudit.log"), [(QualifiedId, "pgaudit.log")]);
        assert_eq!(kinds("a.b.c"), [(UnquotedString, "a.b.c")]);
        assert_eq!(kinds("on"), [(Id, "on")]);
        assert_eq!(kinds("8MB"), [(Integer, "8MB")]);
        assert_eq!(kinds("0x1Fkb"), [(Integer, "0x1Fkb")]);
        assert_eq!(kinds("-1"), [(Integer, "-1")]);
        assert_eq!(kinds("-1.5e3"), [(Real, "-1.5e3")]);
        assert_eq!(kinds("1e5"), [(Integer, "1e"), (Integer, "5")]);
        assert_eq!(kinds("."), [(Real, ".")]);
        assert_eq!(kinds("/path"), [(Error, "/"), (Id, "path")]);
        assert_eq!(kinds("/var/run"), [(Error, "/"), (UnquotedString, "var/run")]);
        assert_eq!(kinds("'it''s'"), [(String, "'it''s'")]);
        assert_eq!(kinds("'a''"), [(String, "'a'"), (Error, "'")]);
        assert_eq!(kinds("'x\\'y'"), [(String, "'x\\'y'")]);
        assert_eq!(kinds("a=1 # c"), [(Id, "a"), (Equals, "="), (Integer, "1")]);
    }

    /// The lexer without the `strings_close` shortcut: every quote is scanned to its end.
    fn reference(line: &str) -> (Vec<Tok>, Option<usize>) {
        let mut lexer = Lexer::new(line, 0);
        let mut tokens = Vec::new();
        loop {
            lexer.strings_close = true;
            match lexer.next() {
                Some(t) => tokens.push(t),
                None => return (tokens, lexer.comment),
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]

        #[test]
        fn the_unclosed_quote_shortcut_changes_no_token(line in "['\\\\ a1#=.x-]{0,40}") {
            let all = lex(&line, usize::MAX);
            proptest::prop_assert_eq!((all.tokens, comment(&line, 0)), reference(&line));
        }
    }

    #[test]
    fn lex_stops_after_the_tokens_asked_for() {
        let lexed = lex("a = 1 b # c", 2);
        assert_eq!((lexed.tokens.len(), lexed.comment), (2, None));
        let lexed = lex("a = 1 # c", 4);
        assert_eq!((lexed.tokens.len(), lexed.comment), (3, Some(6)));
        assert_eq!(comment("a = 1 b 'x#' # c", 6), Some(13));
    }

    #[test]
    fn dequote_follows_deescape_quoted_string() {
        assert_eq!(dequote(r"'it''s \\ \n \101 \q'"), "it's \\ \n A q");
        assert_eq!(dequote("''"), "");
        assert_eq!(dequote(r"'\'x'"), "'x");
    }
}
