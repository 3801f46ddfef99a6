//! The time a PKI reads: the system clock, or one a caller sets (tests, and plans made for a
//! given moment), so that "what is due by when" can be asked of any instant.
//!
//! Owns: nothing but the source of `now`. Must not: round or shift the time (issuance backdates
//! certificates itself).

use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

/// A source of the current time.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> OffsetDateTime + Send + Sync>);

impl Clock {
    /// The system clock (UTC).
    pub fn system() -> Self {
        Self(Arc::new(OffsetDateTime::now_utc))
    }

    /// A clock stopped at `at`.
    pub fn fixed(at: OffsetDateTime) -> Self {
        Self(Arc::new(move || at))
    }

    /// Any function of the caller's.
    pub fn from_fn(f: impl Fn() -> OffsetDateTime + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// The time now.
    pub fn now(&self) -> OffsetDateTime {
        (self.0)()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}
