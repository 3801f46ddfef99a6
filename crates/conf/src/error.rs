//! The crate's error type and the `Problem` type of validation reports. Every error that concerns a
//! file names the file and line, so the command line can print it as it is.
//!
//! Text quoted from a file (a token, a value, a line, a path named by an include) is cut to about
//! [`EXCERPT_CHARS`] when an error or problem is made (see [`excerpt`]): a file line can be
//! megabytes long, and callers copy messages into reports. This module does not escape control
//! characters; the renderers that print messages do.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

/// How much of a text from a file a message quotes: about 200 characters, counted as the text
/// shows when `{:?}`-escaped, so that even a line of control characters gives a short message.
pub(crate) const EXCERPT_CHARS: usize = 200;

/// At most [`EXCERPT_CHARS`] of `text`, cut at a char boundary, followed by "… (N more bytes)"
/// when something was cut. Borrowed when nothing needs to be cut.
pub(crate) fn excerpt(text: &str) -> Cow<'_, str> {
    let mut shown = 0;
    for (i, c) in text.char_indices() {
        shown += c.escape_debug().count();
        if shown > EXCERPT_CHARS {
            return Cow::Owned(format!("{}… ({} more bytes)", &text[..i], text.len() - i));
        }
    }
    Cow::Borrowed(text)
}

/// `excerpt` as an owned string, for error fields.
pub(crate) fn excerpt_owned(text: &str) -> String {
    excerpt(text).into_owned()
}

/// A path for a message: as `Path::display`, cut like [`excerpt`] (a path can come from an
/// include directive, so it is text from a file too).
pub(crate) fn shown(path: &Path) -> String {
    excerpt(&path.to_string_lossy()).into_owned()
}

/// A position in a configuration file: the file as it was named, and a 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    /// The file the line is in, as it was named to the loader or resolved from an include.
    pub file: PathBuf,
    /// 1-based line number; 0 when the error concerns the file as a whole.
    pub line: usize,
}

impl Location {
    /// Line `line` (1-based) of `file`.
    pub fn new(file: impl Into<PathBuf>, line: usize) -> Self {
        Self { file: file.into(), line }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", shown(&self.file), self.line)
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read. `std::io::Error` is neither `Clone` nor `PartialEq`, so its kind and
    /// message are kept instead.
    #[error("{}: {}", shown(path), excerpt(message))]
    Io {
        /// The file.
        path: PathBuf,
        /// What kind of error, to tell a missing file from a refused one without parsing text.
        kind: std::io::ErrorKind,
        /// The operating system's message.
        message: String,
    },

    /// The files are edited as text; PostgreSQL accepts any bytes, but pgharden does not guess encodings.
    #[error("{at}: not valid UTF-8")]
    NotUtf8 {
        /// The first line that is not UTF-8.
        at: Location,
    },

    /// A `postgresql.conf` line PostgreSQL would reject ("syntax error in file ... line ...").
    #[error("{at}: {kind}")]
    Syntax {
        /// The line.
        at: Location,
        /// What PostgreSQL's lexer would stop at.
        kind: SyntaxError,
    },

    /// An include directive (or `@file` reference) that cannot be followed.
    #[error("{at}: {kind}")]
    Include {
        /// The directive (or the line holding the `@file` reference).
        at: Location,
        /// Why it cannot be followed.
        kind: IncludeError,
    },

    /// A load holding more lines or tokens than pgharden parses; `at` is where the limit was
    /// crossed (a line of a file, or a reference to an `@file` counted again).
    #[error("{at}: {kind}")]
    Limit {
        /// Where the limit was crossed.
        at: Location,
        /// Which limit.
        kind: LimitError,
    },

    /// A parameter name `set` was asked to write that PostgreSQL's lexer would not read as a name
    /// (cut to about 200 characters, as every quoted text).
    #[error("invalid parameter name {0:?}")]
    InvalidName(String),

    /// `include`, `include_if_exists` and `include_dir` are directives, not parameters.
    #[error("{0:?} is an include directive, not a parameter")]
    ReservedName(String),

    /// A value that does not render to a single value token (`text` cut to about 200 characters).
    #[error("invalid value {text:?}: {reason}")]
    InvalidValue {
        /// The value as given.
        text: String,
        /// Why it cannot be written, as a phrase.
        reason: String,
    },

    /// An edit that names a rule or entry that is not (or no longer) in the file.
    #[error("{0}: no such record")]
    NoSuchRecord(Location),

    /// An insertion point given by a predicate matched no rule.
    #[error("no rule matches the insertion point")]
    NoRuleMatched,

    /// A pg_ident.conf regular expression pgharden cannot run (see the `ident` module docs).
    #[error("{at}: {}", excerpt(message))]
    Regex {
        /// The pg_ident.conf line.
        at: Location,
        /// What pgharden's regex engine refused.
        message: String,
    },

    /// A new pg_hba / pg_ident line that would not parse back as intended.
    #[error("invalid record: {}", excerpt(.0))]
    InvalidRecord(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, err: &std::io::Error) -> Self {
        Self::Io { path: path.into(), kind: err.kind(), message: err.to_string() }
    }
}

/// Why a `postgresql.conf` line does not parse. The `found` and `name` texts are the start of
/// the text, at most about 200 characters, followed by "… (N more bytes)" when it was cut.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyntaxError {
    /// A `'` with no closing quote on its line.
    #[error("unterminated quoted string")]
    UnterminatedString,
    /// A name with nothing after it (or only `=`).
    #[error("missing value after parameter name {name:?}")]
    MissingValue {
        /// The parameter name.
        name: String,
    },
    /// More than one value on a line (an unquoted value with a space, say).
    #[error("garbage after value: {found:?}")]
    GarbageAfterValue {
        /// The text after the value.
        found: String,
    },
    /// The line starts with something that is not a parameter name.
    #[error("expected a parameter name, found {found:?}")]
    InvalidName {
        /// The text found instead.
        found: String,
    },
    /// A value PostgreSQL's lexer does not read as one token.
    #[error("invalid value {found:?} (quote it with single quotes)")]
    InvalidValue {
        /// The text found.
        found: String,
    },
}

/// Why an include directive cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IncludeError {
    /// `include ''`: the directive names no file.
    #[error("empty include target")]
    EmptyTarget,
    /// The included file cannot be read (a missing file for `include`; `include_if_exists` skips it).
    #[error("cannot include {}: {}", shown(path), excerpt(message))]
    Unreadable {
        /// The file, resolved against the including file's directory.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// The directory of `include_dir` cannot be listed.
    #[error("cannot read include directory {}: {}", shown(path), excerpt(message))]
    BadDirectory {
        /// The directory.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// A file includes itself, directly or through others: PostgreSQL would recurse until its depth limit.
    #[error("include cycle: {} is already being read", shown(path))]
    Cycle {
        /// The file included again.
        path: PathBuf,
    },
    /// PostgreSQL's `CONF_FILE_MAX_DEPTH` is 10.
    #[error("cannot include {}: maximum nesting depth (10) exceeded", shown(path))]
    TooDeep {
        /// The file that would be nested too deep.
        path: PathBuf,
    },
    /// A load reads at most [`MAX_LOAD_FILES`](crate::MAX_LOAD_FILES) files.
    #[error(
        "cannot include {}: one load reads at most {limit} files (directory listings included)",
        shown(path)
    )]
    TooManyFiles {
        /// The file that would cross the limit.
        path: PathBuf,
        /// The limit.
        limit: usize,
    },
    /// A load reads at most [`MAX_LOAD_BYTES`](crate::MAX_LOAD_BYTES) bytes.
    #[error("cannot include {}: one load reads at most {limit} bytes (64 MiB) in all", shown(path))]
    TooManyBytes {
        /// The file that would cross the limit.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
}

/// Which limit of a load was crossed. They bound the memory of a load: every line and every
/// pg_hba/pg_ident token becomes a structure of its own, many times the size of its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// [`MAX_LOAD_LINES`](crate::MAX_LOAD_LINES).
    #[error("one load reads at most {limit} lines (pgharden's limit, which keeps its memory bounded)")]
    Lines {
        /// The limit.
        limit: usize,
    },
    /// [`MAX_LOAD_TOKENS`](crate::MAX_LOAD_TOKENS).
    #[error(
        "one load reads at most {limit} pg_hba/pg_ident tokens, @file lists included (pgharden's limit, which keeps its memory bounded)"
    )]
    Tokens {
        /// The limit.
        limit: usize,
    },
}

/// How serious a validation problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// PostgreSQL still loads the file, but the line does not do what it seems to (or pgharden
    /// cannot check it).
    Warning,
    /// PostgreSQL refuses the file: at startup the server does not start; on reload it keeps the
    /// previous version of the file.
    Error,
}

/// One finding of a `validate` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The line it concerns.
    pub at: Location,
    /// Whether PostgreSQL refuses the file or only misreads the line.
    pub severity: Severity,
    /// What is wrong, as a sentence (quoted text cut to about 200 characters).
    pub message: String,
}

impl Problem {
    pub(crate) fn error(at: Location, message: impl Into<String>) -> Self {
        Self { at, severity: Severity::Error, message: message.into() }
    }

    pub(crate) fn warning(at: Location, message: impl Into<String>) -> Self {
        Self { at, severity: Severity::Warning, message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{}: {level}: {}", self.at, self.message)
    }
}
