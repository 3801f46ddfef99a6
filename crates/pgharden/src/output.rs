//! Terminal output: plain text on a pipe, colour only on a terminal (anstream strips it otherwise and
//! honours NO_COLOR), JSON on request, errors and notes on stderr, and a closed pipe treated as
//! success — except by the commands that give a verdict (audit, probe): they print with
//! [`print_keeping_verdict`], so `pgharden audit | head -c1` still exits with the audit's code.
//!
//! anstream strips colour on a pipe but lets CR and LF through, so text that came from a file, a
//! ledger, a catalog or the network is escaped with [`shown`] (or `pgharden_text` directly) before
//! it is laid out and coloured; JSON needs nothing, serde_json escapes control characters.
//! Must not: escape the colour this module adds itself (values first, then colour).

use std::borrow::Cow;
use std::io::{self, Write};

use owo_colors::OwoColorize;
use serde::Serialize;

/// What a successful run found, mapped to exit codes 0 and 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    /// A check found a problem (exit code 1).
    Found,
}

/// Write bytes to standard output.
pub(crate) fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    let mut out = anstream::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// Print text (which may carry colour) to standard output.
pub(crate) fn print(text: &str) -> io::Result<()> {
    write_stdout(text.as_bytes())
}

/// Print a verdict's report. A reader that went away (`| head`) is not an error and does not make
/// one: the caller's exit code stays the verdict it computed before printing.
pub(crate) fn print_keeping_verdict(text: &str) -> io::Result<()> {
    match print(text) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Print a note (what a verdict rests on, or why it is what it is) to standard error, on one line.
pub(crate) fn note(text: &str) {
    let mut e = anstream::stderr().lock();
    let _ = writeln!(e, "{} {}", "note:".yellow().bold(), pgharden_text::line(text));
}

/// Print a value as pretty JSON followed by a newline.
pub(crate) fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut text = json_text(value)?;
    text.push('\n');
    Ok(print(&text)?)
}

/// Pretty JSON that holds no control character but its own line breaks (see [`safe_json`]).
pub(crate) fn json_text<T: Serialize>(value: &T) -> anyhow::Result<String> {
    Ok(safe_json(serde_json::to_string_pretty(value)?))
}

/// JSON text with every character that [`pgharden_text::block`] would escape written as a `\uXXXX`
/// escape. serde_json escapes C0 controls in strings but writes DEL, C1 controls (U+009B is a CSI to
/// some terminals) and the bidirectional overrides raw; escaped, they parse back to the same
/// characters. JSON has only spaces, tabs and line breaks outside strings, so every character
/// changed here is inside a string, and all of them are in the Basic Multilingual Plane.
pub(crate) fn safe_json(text: String) -> String {
    if matches!(pgharden_text::block(&text), Cow::Borrowed(_)) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        let mut one = [0u8; 4];
        if matches!(pgharden_text::block(c.encode_utf8(&mut one)), Cow::Owned(_)) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Print an error and its causes.
pub(crate) fn error(err: &anyhow::Error) {
    let mut e = anstream::stderr().lock();
    let _ = writeln!(e, "{} {}", "error:".red().bold(), error_text(err));
}

/// An error and its causes on one line, `: ` between them. Each message is escaped
/// ([`pgharden_text::line`]): a chain carries server messages and text quoted from files, which
/// must neither add lines to the output nor drive the terminal.
pub(crate) fn error_text(err: &anyhow::Error) -> String {
    let mut text = pgharden_text::line(&err.to_string()).into_owned();
    for cause in err.chain().skip(1) {
        text.push_str(": ");
        text.push_str(&pgharden_text::line(&cause.to_string()));
    }
    text
}

/// A value from a file, a ledger or the network, escaped to stay on its line (paths included:
/// a directory name may hold a newline).
pub(crate) fn shown(value: impl std::fmt::Display) -> String {
    let text = value.to_string();
    pgharden_text::line(&text).into_owned()
}

/// Whether an error is a closed pipe (`pgharden … | head`), which is not a failure.
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| c.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}

/// Green "ok" / red "FAIL" style words for terminals.
pub(crate) fn good(text: &str) -> String {
    text.green().bold().to_string()
}

pub(crate) fn bad(text: &str) -> String {
    text.red().bold().to_string()
}

pub(crate) fn dim(text: &str) -> String {
    text.dimmed().to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use super::*;

    #[test]
    fn error_text_escapes_every_cause() {
        let root = anyhow::anyhow!("server said: \u{1b}[2Jfine\r\nerror: nothing");
        let err = root.context("probing db\n:5432");
        let text = error_text(&err);
        assert_eq!(text, "probing db\\n:5432: server said: \\x1b[2Jfine\\r\\nerror: nothing");
        assert!(!text.chars().any(char::is_control));
    }

    #[test]
    fn shown_escapes_paths_and_values() {
        assert_eq!(shown(std::path::Path::new("/tmp/a\nb").display()), "/tmp/a\\nb");
        assert_eq!(shown("CN=x\u{202e}"), "CN=x\\u{202e}");
        assert_eq!(shown("plain"), "plain");
    }

    #[test]
    fn json_holds_no_control_character_and_parses_back() {
        let value = serde_json::json!({ "subject": "CN=\u{1b}[2J\r\nSubject: CN=trusted\u{202e}\u{9b}" });
        let text = json_text(&value).unwrap();
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        assert!(!text.chars().any(|c| matches!(c, '\u{202a}'..='\u{202e}')), "{text:?}");
        assert!(!text.lines().any(|l| l.trim_start().starts_with("Subject")), "{text}");
        assert!(text.contains("\\u001b[2J\\r\\nSubject: CN=trusted\\u202e\\u009b"), "{text}");
        // Plain JSON is left exactly as serde_json writes it.
        let plain = serde_json::json!({ "a": [1, "b\tc"] });
        assert_eq!(json_text(&plain).unwrap(), serde_json::to_string_pretty(&plain).unwrap());
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value, "the original characters survive");
    }
}
