//! Message levels, and the two orders elog.c compares them in.
//!
//! Owns: the level names `log_min_messages`, `log_min_error_statement` and `client_min_messages`
//! take, and whether a message of one level passes a threshold, for the server log
//! (`is_log_level_output`) and for the client (`should_output_to_client`).
//! Must not: say which threshold a rule wants.

use std::fmt;

use super::{Problem, ValueError};

/// A message level, as `log_min_messages`, `log_min_error_statement` and `client_min_messages`
/// name them.
///
/// There is deliberately no `Ord`: the server log and the client order `LOG` differently
/// ([`server_log_includes`], [`client_receives`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageLevel {
    /// `debug5`, the most verbose.
    Debug5,
    /// `debug4`.
    Debug4,
    /// `debug3`.
    Debug3,
    /// `debug2` (`debug` is its alias).
    Debug2,
    /// `debug1`.
    Debug1,
    /// `log`: between `error` and `fatal` in the server log, between `debug1` and `notice` for the client.
    Log,
    /// `info`.
    Info,
    /// `notice`.
    Notice,
    /// `warning`.
    Warning,
    /// `error`.
    Error,
    /// `fatal`.
    Fatal,
    /// `panic`.
    Panic,
}

impl MessageLevel {
    /// Every level, in elog.h's numeric order.
    pub const ALL: [Self; 12] = [
        Self::Debug5,
        Self::Debug4,
        Self::Debug3,
        Self::Debug2,
        Self::Debug1,
        Self::Log,
        Self::Info,
        Self::Notice,
        Self::Warning,
        Self::Error,
        Self::Fatal,
        Self::Panic,
    ];

    /// A level name, case-insensitive; `debug` is `debug2`, as guc_tables.c's hidden alias says.
    pub fn parse(value: &str) -> Result<Self, ValueError> {
        if value.eq_ignore_ascii_case("debug") {
            return Ok(Self::Debug2);
        }
        Self::ALL
            .into_iter()
            .find(|level| level.name().eq_ignore_ascii_case(value))
            .ok_or_else(|| ValueError::new(value, Problem::UnknownMessageLevel))
    }

    /// The name the server shows: `debug5`, ..., `panic`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Debug5 => "debug5",
            Self::Debug4 => "debug4",
            Self::Debug3 => "debug3",
            Self::Debug2 => "debug2",
            Self::Debug1 => "debug1",
            Self::Log => "log",
            Self::Info => "info",
            Self::Notice => "notice",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Fatal => "fatal",
            Self::Panic => "panic",
        }
    }

    /// The `elevel` number of elog.h, which both orders start from.
    fn elevel(self) -> u8 {
        match self {
            Self::Debug5 => 10,
            Self::Debug4 => 11,
            Self::Debug3 => 12,
            Self::Debug2 => 13,
            Self::Debug1 => 14,
            Self::Log => 15,
            Self::Info => 17,
            Self::Notice => 18,
            Self::Warning => 19,
            Self::Error => 21,
            Self::Fatal => 22,
            Self::Panic => 23,
        }
    }
}

impl fmt::Display for MessageLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Does a server log with threshold `threshold` (`log_min_messages`, or `log_min_error_statement`
/// for the STATEMENT line) take a message of `level`? elog.c's `is_log_level_output`: in this order
/// LOG sits between ERROR and FATAL (debug5 < ... < debug1 < info < notice < warning < error < log
/// < fatal < panic).
pub fn server_log_includes(threshold: MessageLevel, level: MessageLevel) -> bool {
    let error = MessageLevel::Error.elevel();
    if level == MessageLevel::Log {
        threshold == MessageLevel::Log || threshold.elevel() <= error
    } else if threshold == MessageLevel::Log {
        level.elevel() >= MessageLevel::Fatal.elevel()
    } else {
        level.elevel() >= threshold.elevel()
    }
}

/// Does a client with `client_min_messages = threshold` receive a message of `level`, once
/// authenticated? elog.c's `should_output_to_client`: elog.h's numeric order, where LOG is below
/// NOTICE, and INFO always goes to the client. (During authentication only ERROR and above do.)
pub fn client_receives(threshold: MessageLevel, level: MessageLevel) -> bool {
    level == MessageLevel::Info || level.elevel() >= threshold.elevel()
}
