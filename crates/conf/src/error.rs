//! The crate's error type and the `Problem` type of validation reports. Every error that concerns a
//! file names the file and line, so the command line can print it as it is.

use std::fmt;
use std::path::PathBuf;

/// A position in a configuration file: the file as it was named, and a 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
}

impl Location {
    pub fn new(file: impl Into<PathBuf>, line: usize) -> Self {
        Self { file: file.into(), line }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read. `std::io::Error` is neither `Clone` nor `PartialEq`, so its kind and
    /// message are kept instead.
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, kind: std::io::ErrorKind, message: String },

    /// The files are edited as text; PostgreSQL accepts any bytes, but pgharden does not guess encodings.
    #[error("{at}: not valid UTF-8")]
    NotUtf8 { at: Location },

    /// A `postgresql.conf` line PostgreSQL would reject ("syntax error in file ... line ...").
    #[error("{at}: {kind}")]
    Syntax { at: Location, kind: SyntaxError },

    /// An include directive (or `@file` reference) that cannot be followed.
    #[error("{at}: {kind}")]
    Include { at: Location, kind: IncludeError },

    /// A parameter name `set` was asked to write that PostgreSQL's lexer would not read as a name.
    #[error("invalid parameter name {0:?}")]
    InvalidName(String),

    /// `include`, `include_if_exists` and `include_dir` are directives, not parameters.
    #[error("{0:?} is an include directive, not a parameter")]
    ReservedName(String),

    /// A value that does not render to a single value token.
    #[error("invalid value {text:?}: {reason}")]
    InvalidValue { text: String, reason: String },

    /// An edit that names a rule or entry that is not (or no longer) in the file.
    #[error("{0}: no such record")]
    NoSuchRecord(Location),

    /// An insertion point given by a predicate matched no rule.
    #[error("no rule matches the insertion point")]
    NoRuleMatched,

    /// A pg_ident.conf regular expression pgharden cannot run (see the `ident` module docs).
    #[error("{at}: {message}")]
    Regex { at: Location, message: String },

    /// A new pg_hba / pg_ident line that would not parse back as intended.
    #[error("invalid record: {0}")]
    InvalidRecord(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, err: &std::io::Error) -> Self {
        Error::Io { path: path.into(), kind: err.kind(), message: err.to_string() }
    }
}

/// Why a `postgresql.conf` line does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyntaxError {
    #[error("unterminated quoted string")]
    UnterminatedString,
    #[error("missing value after parameter name {name:?}")]
    MissingValue { name: String },
    #[error("garbage after value: {found:?}")]
    GarbageAfterValue { found: String },
    #[error("expected a parameter name, found {found:?}")]
    InvalidName { found: String },
    #[error("invalid value {found:?} (quote it with single quotes)")]
    InvalidValue { found: String },
}

/// Why an include directive cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IncludeError {
    #[error("empty include target")]
    EmptyTarget,
    #[error("cannot include {}: {message}", path.display())]
    Unreadable { path: PathBuf, message: String },
    #[error("cannot read include directory {}: {message}", path.display())]
    BadDirectory { path: PathBuf, message: String },
    #[error("include cycle: {} is already being read", path.display())]
    Cycle { path: PathBuf },
    /// PostgreSQL's `CONF_FILE_MAX_DEPTH` is 10.
    #[error("cannot include {}: maximum nesting depth (10) exceeded", path.display())]
    TooDeep { path: PathBuf },
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
    pub at: Location,
    pub severity: Severity,
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
