//! Untrusted text made safe to show.
//!
//! Owns: turning a string that came from a file, a catalog or the network into one that cannot
//! drive a terminal or fake a line of a report. [`line()`] is for one value on one line, [`block`] for
//! multi-line text whose line breaks are meant, [`cut`] bounds a value's length, [`shell_word`]
//! quotes a value for a printed shell command.
//!
//! Why: colour is stripped on a pipe by `anstream`, but a CR or LF in a certificate's subject still
//! starts a new line there, and on a terminal ESC sequences clear the screen or hide text, and
//! bidirectional overrides show text in an order other than the bytes'. Every renderer of pgharden
//! passes what it did not write itself through this crate, after laying it out and before adding
//! its own colour.
//!
//! Hand-written because it is a few dozen lines and no crate does exactly this: `str::escape_debug`
//! also escapes quotes and backslashes and leaves the bidirectional controls alone, and the terminal
//! sanitisers on crates.io strip rather than show, so a DBA would not see that something was hidden.
//!
//! Must not: strip anything (an escaped character is shown, not dropped), touch backslashes in
//! [`line()`] and [`block`] (so escaping is idempotent: text escaped twice reads the same as text
//! escaped once), or depend on anything beyond `std`.

#![warn(missing_docs, unreachable_pub)]

mod shell;

use std::borrow::Cow;

pub use shell::shell_word;
use std::fmt::Write as _;

/// One value on one line: every control character is escaped — C0 including `\n` `\r` `\t`, DEL,
/// C1 (U+0080..=U+009F) — and the Unicode format characters that reorder or hide text (U+061C,
/// U+200B..=U+200F, U+202A..=U+202E, U+2060..=U+2064, U+2066..=U+2069, U+FEFF), as well as the line
/// and paragraph separators U+2028 and U+2029, at which some viewers break lines.
///
/// Escapes: `\n` `\r` `\t`, `\x1b` style for other C0 and DEL, `\u{202e}` style for the rest.
/// Backslashes are left alone. Borrowed when nothing needs escaping.
///
/// ```
/// assert_eq!(pgharden_text::line("O=x\r\nSubject: CN=trusted"), "O=x\\r\\nSubject: CN=trusted");
/// assert_eq!(pgharden_text::line("\u{1b}[2J"), "\\x1b[2J");
/// assert_eq!(pgharden_text::line("abc\u{202e}def"), "abc\\u{202e}def");
/// ```
pub fn line(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// Multi-line text (a file's lines, a diff): as [`line()`] but `\n` and `\t` are kept.
///
/// ```
/// assert_eq!(pgharden_text::block("a\tb\nc\r\n\u{1b}[8m"), "a\tb\nc\\r\n\\x1b[8m");
/// ```
pub fn block(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

/// At most `max` bytes of `s` (cut at a char boundary, so possibly fewer) followed by
/// `… (N more bytes)`; `s` itself, borrowed, when it is no longer than `max`.
///
/// Cut before escaping: the note counts bytes of the original value.
///
/// ```
/// assert_eq!(pgharden_text::cut("abcdef", 4), "abcd… (2 more bytes)");
/// assert_eq!(pgharden_text::cut("abc", 4), "abc");
/// ```
pub fn cut(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = String::with_capacity(end + 24);
    out.push_str(&s[..end]);
    let _ = write!(out, "… ({} more bytes)", s.len() - end);
    Cow::Owned(out)
}

/// The format characters that reorder text (bidirectional marks, embeddings, overrides and
/// isolates) or hide it (zero-width characters, the byte order mark), and the Unicode line and
/// paragraph separators.
fn is_deceptive_format(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{2029}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

fn needs_escape(c: char, keep_layout: bool) -> bool {
    if keep_layout && (c == '\n' || c == '\t') {
        return false;
    }
    c.is_control() || is_deceptive_format(c)
}

fn escape(s: &str, keep_layout: bool) -> Cow<'_, str> {
    let Some(first) = s.find(|c| needs_escape(c, keep_layout)) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if needs_escape(c, keep_layout) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if u32::from(c) < 0x20 || c == '\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every character the crate promises to escape in `line`.
    fn forbidden_in_line(c: char) -> bool {
        c.is_control() || is_deceptive_format(c)
    }

    #[test]
    fn clean_text_is_borrowed() {
        for s in ["", "plain", "CN=db.example.com,O=Example", "é ü 日本 \\ \\x1b", "a\\nb"] {
            assert!(matches!(line(s), Cow::Borrowed(_)), "{s:?}");
            assert!(matches!(block(s), Cow::Borrowed(_)), "{s:?}");
            assert_eq!(line(s), s);
        }
        assert!(matches!(block("a\nb\tc"), Cow::Borrowed(_)));
    }

    #[test]
    fn c0_del_and_c1_are_escaped() {
        assert_eq!(line("a\nb\rc\td"), "a\\nb\\rc\\td");
        assert_eq!(line("\u{0}\u{1}\u{1b}[2J\u{1f}"), "\\x00\\x01\\x1b[2J\\x1f");
        assert_eq!(line("x\u{7f}y"), "x\\x7fy");
        assert_eq!(line("\u{80}\u{9b}31m\u{9f}"), "\\u{80}\\u{9b}31m\\u{9f}");
    }

    #[test]
    fn format_characters_that_reorder_or_hide_are_escaped() {
        let cases = [
            ('\u{061c}', "\\u{61c}"),
            ('\u{200b}', "\\u{200b}"),
            ('\u{200e}', "\\u{200e}"),
            ('\u{200f}', "\\u{200f}"),
            ('\u{2028}', "\\u{2028}"),
            ('\u{2029}', "\\u{2029}"),
            ('\u{202a}', "\\u{202a}"),
            ('\u{202e}', "\\u{202e}"),
            ('\u{2060}', "\\u{2060}"),
            ('\u{2064}', "\\u{2064}"),
            ('\u{2066}', "\\u{2066}"),
            ('\u{2069}', "\\u{2069}"),
            ('\u{feff}', "\\u{feff}"),
        ];
        for (c, escaped) in cases {
            let s = format!("a{c}b");
            assert_eq!(line(&s), format!("a{escaped}b"));
            assert_eq!(block(&s), format!("a{escaped}b"));
        }
        // Neighbours of the ranges are ordinary text.
        for c in ['\u{2010}', '\u{2065}', '\u{206a}', '\u{fefe}', '\u{a0}'] {
            let s = format!("a{c}b");
            assert_eq!(line(&s), s.as_str(), "{:x}", u32::from(c));
        }
    }

    #[test]
    fn block_keeps_newlines_and_tabs_only() {
        assert_eq!(block("a\n\tb\r\nc\u{b}\u{c}"), "a\n\tb\\r\nc\\x0b\\x0c");
        assert_eq!(block("\u{1b}[2J\u{1b}[H"), "\\x1b[2J\\x1b[H");
    }

    #[test]
    fn backslashes_are_left_alone_so_escaping_is_idempotent() {
        let once = line("a\\b\u{1b}c\n");
        assert_eq!(once, "a\\b\\x1bc\\n");
        assert_eq!(line(&once), once);
        assert!(matches!(line(&once), Cow::Borrowed(_)));
    }

    #[test]
    fn an_injected_line_stays_on_its_line() {
        let o = "Example\r\nSubject: CN=trusted";
        let shown = format!("  Subject: O={}\n", line(o));
        assert_eq!(shown.lines().count(), 1);
        assert!(!shown.lines().any(|l| l.starts_with("Subject: CN=trusted")));
    }

    #[test]
    fn cut_respects_char_boundaries() {
        assert_eq!(cut("", 0), "");
        assert_eq!(cut("abc", 3), "abc");
        assert!(matches!(cut("abc", 3), Cow::Borrowed(_)));
        assert_eq!(cut("abcd", 3), "abc… (1 more bytes)");
        assert_eq!(cut("abc", 0), "… (3 more bytes)");
        // "é" is two bytes: a cut inside it keeps the whole character out.
        assert_eq!(cut("aéb", 2), "a… (3 more bytes)");
        assert_eq!(cut("aéb", 3), "aé… (1 more bytes)");
        assert_eq!(cut("日本", 4), "日… (3 more bytes)");
    }

    #[test]
    fn cut_is_bounded_for_huge_input() {
        let huge = "x".repeat(10_000_000);
        let short = cut(&huge, 100);
        assert!(short.len() < 130, "{}", short.len());
        assert!(short.ends_with("… (9999900 more bytes)"), "{short}");
    }

    proptest! {
        #[test]
        fn line_output_has_no_control_or_deceptive_character(s in any::<String>()) {
            let out = line(&s);
            prop_assert!(!out.chars().any(forbidden_in_line), "{:?} -> {:?}", s, out);
            prop_assert!(!out.contains('\n'));
            prop_assert_eq!(out == s.as_str(), !s.chars().any(forbidden_in_line));
        }

        #[test]
        fn line_output_with_the_listed_characters_has_none_of_them(
            parts in proptest::collection::vec(
                prop_oneof![
                    any::<String>(),
                    proptest::char::ranges(vec![
                        '\u{0}'..='\u{1f}', '\u{7f}'..='\u{9f}', '\u{61c}'..='\u{61c}',
                        '\u{200b}'..='\u{200f}', '\u{202a}'..='\u{202e}', '\u{2060}'..='\u{2064}',
                        '\u{2066}'..='\u{2069}', '\u{feff}'..='\u{feff}',
                    ].into()).prop_map(String::from),
                ],
                0..20,
            )
        ) {
            let s: String = parts.concat();
            let out = line(&s);
            prop_assert!(!out.chars().any(forbidden_in_line), "{:?} -> {:?}", s, out);
            // Idempotent: escaping escaped text changes nothing.
            prop_assert_eq!(line(&out), out.clone());
        }

        #[test]
        fn block_output_has_no_control_character_but_newline_and_tab(s in any::<String>()) {
            let out = block(&s);
            prop_assert!(
                !out.chars().any(|c| (c.is_control() && c != '\n' && c != '\t') || is_deceptive_format(c)),
                "{:?} -> {:?}", s, out
            );
            prop_assert_eq!(out.matches('\n').count(), s.matches('\n').count());
        }

        #[test]
        fn cut_never_exceeds_its_bound(s in any::<String>(), max in 0usize..64) {
            let out = cut(&s, max);
            if s.len() <= max {
                prop_assert_eq!(out, s.as_str());
            } else {
                let kept = out.split("… (").next().unwrap();
                prop_assert!(kept.len() <= max);
                prop_assert!(s.starts_with(kept));
                let note = format!("… ({} more bytes)", s.len() - kept.len());
                prop_assert!(out.ends_with(&note));
            }
        }
    }
}
