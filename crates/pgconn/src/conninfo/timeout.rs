//! `connect_timeout`: libpq's reading of the value, kept apart from "not given" so that pgharden
//! can apply its own default ([`DEFAULT_CONNECT_TIMEOUT`]) only where libpq would wait forever
//! for lack of a value.
//!
//! Owns: [`ConnectTimeout`] and its parsing.
//! Must not: time anything; the connection code applies [`ConnectTimeout::effective`].

use std::fmt;
use std::time::Duration;

use super::settings::parse_int;
use crate::error::{ConninfoError, Error};

/// How long each connection attempt of pgharden's own sessions may take when neither
/// `connect_timeout` nor `PGCONNECT_TIMEOUT` is given: 15 s.
///
/// libpq waits indefinitely in that case. pgharden does not, because it runs unattended as root
/// (audit, lock, restore) and a server that accepts connections and then says nothing would hang
/// it forever. Fifteen seconds is far more than any reachable server needs for TLS and
/// authentication, and short enough that a silent one is reported promptly.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// `connect_timeout` (or `PGCONNECT_TIMEOUT`) as resolved, per connection attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectTimeout {
    /// Neither was given (or the value was empty): pgharden uses [`DEFAULT_CONNECT_TIMEOUT`]
    /// where libpq would wait indefinitely.
    NotGiven,
    /// Zero or negative: wait indefinitely, as in libpq.
    Indefinite,
    /// A positive number of seconds (libpq raises 1 to 2, since its clock has one-second
    /// granularity and could otherwise expire almost at once).
    After(Duration),
}

impl ConnectTimeout {
    /// How long an attempt may take; `None` is without limit.
    pub fn effective(self) -> Option<Duration> {
        match self {
            Self::NotGiven => Some(DEFAULT_CONNECT_TIMEOUT),
            Self::Indefinite => None,
            Self::After(limit) => Some(limit),
        }
    }

    /// libpq's `pqParseIntParam` and `connectDBComplete` rules for the text of the value.
    pub(super) fn parse(text: Option<&str>) -> Result<Self, Error> {
        let Some(text) = text.filter(|t| !t.is_empty()) else {
            return Ok(Self::NotGiven);
        };
        let secs = parse_int(text).ok_or_else(|| ConninfoError::InvalidInteger {
            keyword: "connect_timeout",
            value: text.to_owned(),
        })?;
        Ok(match secs {
            ..=0 => Self::Indefinite,
            1 => Self::After(Duration::from_secs(2)),
            n => Self::After(Duration::from_secs(n.unsigned_abs().into())),
        })
    }
}

impl fmt::Display for ConnectTimeout {
    /// The effective value in seconds, `0` for none — what `connect_timeout` would have to say to
    /// get the same behaviour from pgharden.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.effective().map_or(0, |d| d.as_secs()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn absent_and_zero_differ() {
        use ConnectTimeout as T;
        let parse = |t: Option<&str>| T::parse(t).unwrap();
        assert_eq!(parse(None), T::NotGiven);
        assert_eq!(parse(Some("")), T::NotGiven);
        assert_eq!(parse(None).effective(), Some(DEFAULT_CONNECT_TIMEOUT));
        assert_eq!(parse(Some("0")), T::Indefinite);
        assert_eq!(parse(Some("-5")), T::Indefinite);
        assert_eq!(parse(Some("0")).effective(), None);
        assert_eq!(parse(Some("1")), T::After(Duration::from_secs(2)));
        assert_eq!(parse(Some(" 30 ")).effective(), Some(Duration::from_secs(30)));
        assert_eq!(
            (parse(None).to_string(), parse(Some("0")).to_string(), parse(Some("7")).to_string()),
            ("15".to_owned(), "0".to_owned(), "7".to_owned())
        );
        assert!(T::parse(Some("5s")).is_err());
    }
}
