//! Terminal output: plain text on a pipe, colour only on a terminal (anstream strips it otherwise and
//! honours NO_COLOR), JSON on request, errors on stderr, and a closed pipe treated as success.

use std::io::{self, Write};

use owo_colors::OwoColorize;
use serde::Serialize;

/// What a successful run found, mapped to exit codes 0 and 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// A check found a problem (exit code 1).
    Found,
}

/// Write bytes to standard output.
pub fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    let mut out = anstream::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// Print text (which may carry colour) to standard output.
pub fn print(text: &str) -> io::Result<()> {
    write_stdout(text.as_bytes())
}

/// Print a value as pretty JSON followed by a newline.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(print(&text)?)
}

/// Print an error and its causes.
pub fn error(err: &anyhow::Error) {
    let mut e = anstream::stderr().lock();
    let _ = write!(e, "{} {err}", "error:".red().bold());
    for cause in err.chain().skip(1) {
        let _ = write!(e, ": {cause}");
    }
    let _ = writeln!(e);
}

/// Whether an error is a closed pipe (`pgharden … | head`), which is not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| c.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}

/// Green "ok" / red "FAIL" style words for terminals.
pub fn good(text: &str) -> String {
    text.green().bold().to_string()
}

pub fn bad(text: &str) -> String {
    text.red().bold().to_string()
}

pub fn dim(text: &str) -> String {
    text.dimmed().to_string()
}
