//! How long a certificate lives, and when something is due for renewal.
//!
//! Owns: reading `--valid` (`24h`, `30d`, or plain days) and `--threshold` (`1/3`, `0.25`, `25%`, or a
//! time left such as `7d`), and the one rule for "due": less than the threshold of the lifetime left.
//! Must not: read files or the clock (callers pass `now`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::error::{Error, Result};

/// The shortest validity accepted: renewal on a timer needs time to act.
const MIN_SECONDS: u64 = 3600;
/// The longest validity accepted (100 years).
const MAX_SECONDS: u64 = 36_500 * 86_400;

/// A certificate's lifetime, in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Validity {
    seconds: u64,
}

impl Validity {
    /// A validity of `days` days (checked like `--days`).
    pub fn days(days: u32) -> Result<Self> {
        Self::checked(u64::from(days) * 86_400, &days.to_string())
    }

    /// The lifetime as a `time` duration.
    pub fn duration(self) -> Duration {
        Duration::seconds(i64::try_from(self.seconds).unwrap_or(i64::MAX))
    }

    /// A validity of `seconds` (at least an hour).
    pub fn from_seconds(seconds: u64) -> Result<Self> {
        Self::checked(seconds, &format!("{seconds}s"))
    }

    /// Whole seconds.
    pub fn seconds(self) -> u64 {
        self.seconds
    }

    fn checked(seconds: u64, given: &str) -> Result<Self> {
        if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) {
            return Err(Error::invalid("--valid", given, "must be between 1h and 36500d"));
        }
        Ok(Self { seconds })
    }
}

impl FromStr for Validity {
    type Err = Error;

    /// `24h`, `90d`, or a plain number of days.
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
            Some((i, _)) => t.split_at(i),
            None => (t, "d"),
        };
        let per = match unit.trim() {
            "h" | "hour" | "hours" => 3600,
            "d" | "day" | "days" => 86_400,
            _ => return Err(Error::invalid("--valid", s, "expected hours or days, such as 24h or 90d")),
        };
        let n: u64 = digits
            .parse()
            .map_err(|_| Error::invalid("--valid", s, "expected hours or days, such as 24h or 90d"))?;
        Self::checked(n.saturating_mul(per), s)
    }
}

impl fmt::Display for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.seconds.is_multiple_of(86_400) {
            write!(f, "{}d", self.seconds / 86_400)
        } else {
            write!(f, "{}h", self.seconds.div_ceil(3600))
        }
    }
}

/// When something is renewed: with less than a share of its lifetime left, or less than a time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// A share of the lifetime, in (0, 1).
    Share(f64),
    /// A time left.
    Left(Duration),
}

impl Default for Threshold {
    /// A third of the lifetime, as cert-manager and step-ca renew.
    fn default() -> Self {
        Self::Share(1.0 / 3.0)
    }
}

impl Threshold {
    /// The moment something valid from `from` to `until` becomes due (clamped to `from`).
    pub fn due_at(self, from: OffsetDateTime, until: OffsetDateTime) -> OffsetDateTime {
        let life = until - from;
        let before = match self {
            Self::Share(share) => life * share,
            Self::Left(left) => left,
        };
        (until - before).max(from)
    }
}

impl FromStr for Threshold {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        let bad = || {
            Error::invalid(
                "--threshold",
                s,
                "expected a share of the lifetime (1/3, 0.25, 25%) or a time left (7d, 12h)",
            )
        };
        let share = if let Some((a, b)) = t.split_once('/') {
            let (a, b): (f64, f64) =
                (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
            a / b
        } else if let Some(p) = t.strip_suffix('%') {
            p.trim().parse::<f64>().map_err(|_| bad())? / 100.0
        } else if t.ends_with(['h', 'd']) {
            let left: Validity = t.parse().map_err(|_| bad())?;
            return Ok(Self::Left(left.duration()));
        } else {
            t.parse::<f64>().map_err(|_| bad())?
        };
        if !(share > 0.0 && share < 1.0) {
            return Err(Error::invalid("--threshold", s, "a share must be more than 0 and less than 1"));
        }
        Ok(Self::Share(share))
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Share(s) if (s - 1.0 / 3.0).abs() < 1e-9 => write!(f, "1/3"),
            Self::Share(s) => write!(f, "{}%", (s * 100.0 * 1000.0).round() / 1000.0),
            Self::Left(d) => write!(f, "{}h left", d.whole_hours()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn validity_reads_hours_days_and_plain_days() {
        assert_eq!("24h".parse::<Validity>().unwrap().seconds(), 86_400);
        assert_eq!("90d".parse::<Validity>().unwrap().seconds(), 90 * 86_400);
        assert_eq!("397".parse::<Validity>().unwrap().seconds(), 397 * 86_400);
        assert_eq!("36h".parse::<Validity>().unwrap().to_string(), "36h");
        assert_eq!("2d".parse::<Validity>().unwrap().to_string(), "2d");
        for bad in ["0h", "30m", "h", "-1d", "36501d", "1w"] {
            let err = bad.parse::<Validity>().unwrap_err().to_string();
            assert!(err.contains(bad) && err.contains("--valid"), "{bad}: {err}");
        }
    }

    #[test]
    fn thresholds_read_shares_and_times() {
        assert_eq!("1/3".parse::<Threshold>().unwrap(), Threshold::default());
        assert_eq!("25%".parse::<Threshold>().unwrap(), Threshold::Share(0.25));
        assert_eq!("0.5".parse::<Threshold>().unwrap(), Threshold::Share(0.5));
        assert_eq!("7d".parse::<Threshold>().unwrap(), Threshold::Left(Duration::days(7)));
        for bad in ["0", "1", "3/3", "150%", "soon", "1/0"] {
            assert!(bad.parse::<Threshold>().is_err(), "{bad}");
        }
    }

    #[test]
    fn due_at_is_two_thirds_through_by_default() {
        let from = datetime!(2026-12-01 00:00 UTC);
        let until = from + Duration::days(30);
        assert_eq!(Threshold::default().due_at(from, until), from + Duration::days(20));
        let day = Threshold::default().due_at(from, from + Duration::hours(24));
        assert_eq!(day, from + Duration::hours(16));
        // A time left longer than the lifetime is due at once, never before it starts.
        assert_eq!(Threshold::Left(Duration::days(60)).due_at(from, until), from);
    }
}
