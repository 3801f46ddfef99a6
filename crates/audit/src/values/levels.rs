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
    Debug5,
    Debug4,
    Debug3,
    Debug2,
    Debug1,
    Log,
    Info,
    Notice,
    Warning,
    Error,
    Fatal,
    Panic,
}

impl MessageLevel {
    /// Every level, in elog.h's numeric order.
    pub const ALL: [MessageLevel; 12] = [
        MessageLevel::Debug5,
        MessageLevel::Debug4,
        MessageLevel::Debug3,
        MessageLevel::Debug2,
        MessageLevel::Debug1,
        MessageLevel::Log,
        MessageLevel::Info,
        MessageLevel::Notice,
        MessageLevel::Warning,
        MessageLevel::Error,
        MessageLevel::Fatal,
        MessageLevel::Panic,
    ];

    /// A level name, case-insensitive; `debug` is `debug2`, as guc_tables.c's hidden alias says.
    pub fn parse(value: &str) -> Result<MessageLevel, ValueError> {
        if value.eq_ignore_ascii_case("debug") {
            return Ok(MessageLevel::Debug2);
        }
        MessageLevel::ALL
            .into_iter()
            .find(|level| level.name().eq_ignore_ascii_case(value))
            .ok_or_else(|| ValueError::new(value, Problem::UnknownMessageLevel))
    }

    /// The name the server shows: `debug5`, ..., `panic`.
    pub fn name(self) -> &'static str {
        match self {
            MessageLevel::Debug5 => "debug5",
            MessageLevel::Debug4 => "debug4",
            MessageLevel::Debug3 => "debug3",
            MessageLevel::Debug2 => "debug2",
            MessageLevel::Debug1 => "debug1",
            MessageLevel::Log => "log",
            MessageLevel::Info => "info",
            MessageLevel::Notice => "notice",
            MessageLevel::Warning => "warning",
            MessageLevel::Error => "error",
            MessageLevel::Fatal => "fatal",
            MessageLevel::Panic => "panic",
        }
    }

    /// The `elevel` number of elog.h, which both orders start from.
    fn elevel(self) -> u8 {
        match self {
            MessageLevel::Debug5 => 10,
            MessageLevel::Debug4 => 11,
            MessageLevel::Debug3 => 12,
            MessageLevel::Debug2 => 13,
            MessageLevel::Debug1 => 14,
            MessageLevel::Log => 15,
            MessageLevel::Info => 17,
            MessageLevel::Notice => 18,
            MessageLevel::Warning => 19,
            MessageLevel::Error => 21,
            MessageLevel::Fatal => 22,
            MessageLevel::Panic => 23,
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
