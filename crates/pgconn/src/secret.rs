//! Passwords and other secrets as values that wipe themselves.
//!
//! Owns: the [`Secret`] type, which zeroizes its buffer on drop and prints as `***` in both `Debug`
//! and `Display`, so a secret cannot reach a log line through formatting by accident.
//! Must not: offer any way to format the secret; reading it needs the explicit [`Secret::expose`].

use std::fmt;

use zeroize::Zeroizing;

/// A password, key passphrase or other secret text. Zeroized when dropped; `***` when formatted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wrap a secret (the `String` is moved, so no unwiped copy stays behind).
    pub fn new(secret: impl Into<String>) -> Self {
        Self(Zeroizing::new(secret.into()))
    }

    /// The secret itself. Call this only to hand it to the code that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string (libpq treats an empty password as none).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_formatted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(***)");
        assert_eq!(s.expose(), "hunter2");
    }
}
