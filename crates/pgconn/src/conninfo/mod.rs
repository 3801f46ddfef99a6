//! libpq connection strings: parsing, defaults, and the typed [`Settings`] they resolve to.
//!
//! Owns: reading exactly what libpq's `PQconnectdb` reads — `keyword=value` strings
//! (`parse.rs`) and `postgresql://` / `postgres://` URIs (`uri.rs`) — and then
//! applying defaults in libpq's order (explicit value, then `PG*` environment variable, then the
//! compiled-in default, then the special cases of `connectOptions2`), including `~/.pgpass` and the
//! `~/.postgresql/` certificate files. The environment and home directory come in through [`Env`],
//! so all of this is testable without touching the process environment.
//! Must not: open network connections or read TLS material (that is `tls`); the only files read
//! here are the password file and, for existence, the default `~/.postgresql/root.crt`.

mod env;
mod keywords;
mod parse;
mod pgpass;
mod settings;
mod timeout;
mod uri;

use std::collections::BTreeMap;
use std::fmt;

use zeroize::Zeroizing;

pub use env::{DEBIAN_SOCKET_DIR, DEFAULT_PORT, Env, LIBPQ_SOCKET_DIR};
pub use keywords::{KEYWORDS, Keyword};
pub use settings::{
    ChannelBinding, Host, HostName, RootCert, Settings, SslCertMode, SslMode, SslNegotiation,
    TargetSessionAttrs, TlsVersion, Verification,
};
pub use timeout::{ConnectTimeout, DEFAULT_CONNECT_TIMEOUT};

use crate::error::{ConninfoError, Error};

/// The options a connection string set explicitly, before any default is applied.
///
/// Values are kept as text, exactly as libpq keeps them, and are wiped from memory on drop.
/// Setting a keyword twice keeps the last value (libpq does the same).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Conninfo {
    /// Index into [`KEYWORDS`] → value. Ordered by index, which is libpq's order.
    values: BTreeMap<usize, Zeroizing<String>>,
}

impl Conninfo {
    /// Parse a connection string: a URI if it starts with `postgresql://` or `postgres://`
    /// (case-sensitively, as in libpq), otherwise `keyword=value` pairs.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let mut info = Self::default();
        if let Some(rest) = uri::strip_prefix(s) {
            uri::parse(s, rest, &mut info)?;
        } else {
            parse::parse(s, &mut info)?;
        }
        Ok(info)
    }

    /// An empty conninfo: everything comes from the environment and libpq's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value set for `keyword`, if any.
    pub fn get(&self, keyword: &str) -> Option<&str> {
        keywords::lookup(keyword).and_then(|i| self.values.get(&i)).map(|v| v.as_str())
    }

    /// Set `keyword` (libpq's `requiressl` alias included). Unknown keywords are refused with
    /// libpq's message.
    pub fn set(&mut self, keyword: &str, value: &str) -> Result<(), Error> {
        self.store(keyword, value).ok_or_else(|| ConninfoError::InvalidOption(keyword.to_owned()).into())
    }

    /// Builder form of [`Conninfo::set`].
    pub fn with(mut self, keyword: &str, value: &str) -> Result<Self, Error> {
        self.set(keyword, value)?;
        Ok(self)
    }

    /// Forget `keyword`'s value, so the environment or default applies again.
    pub fn unset(&mut self, keyword: &str) {
        if let Some(i) = keywords::lookup(keyword) {
            self.values.remove(&i);
        }
    }

    /// The explicitly set options, in libpq's order. Secret values are included: this is for code
    /// that needs them, not for printing (use `Display` for that).
    pub fn iter(&self) -> impl Iterator<Item = (&'static Keyword, &str)> {
        self.values.iter().map(|(i, v)| (&KEYWORDS[*i], v.as_str()))
    }

    /// Apply defaults and checks: see [`Settings`].
    pub fn resolve(self, env: &Env) -> Result<Settings, Error> {
        settings::resolve(&self, env)
    }

    /// The options as a `keyword=value` string libpq would read back, values quoted where needed,
    /// secrets shown as `***`.
    pub fn to_conninfo_string(&self) -> String {
        self.to_string()
    }

    /// libpq's `conninfo_storeval`: `None` when the keyword is unknown.
    fn store(&mut self, keyword: &str, value: &str) -> Option<()> {
        // libpq's deprecated alias: requiressl=1 means sslmode=require, anything else prefer.
        let (keyword, value) = if keyword == "requiressl" {
            ("sslmode", if value.starts_with('1') { "require" } else { "prefer" })
        } else {
            (keyword, value)
        };
        let i = keywords::lookup(keyword)?;
        self.values.insert(i, Zeroizing::new(value.to_owned()));
        Some(())
    }
}

impl fmt::Display for Conninfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut w = ConninfoWriter::new(f);
        for (kw, value) in self.iter() {
            w.pair(kw.name, if kw.secret { None } else { Some(value) })?;
        }
        Ok(())
    }
}

impl fmt::Debug for Conninfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Conninfo({self})")
    }
}

/// Writes `keyword=value` pairs separated by spaces, quoting like libpq's `appendConnStrVal`.
pub(crate) struct ConninfoWriter<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    first: bool,
}

impl<'a, 'b> ConninfoWriter<'a, 'b> {
    pub(crate) fn new(f: &'a mut fmt::Formatter<'b>) -> Self {
        ConninfoWriter { f, first: true }
    }

    /// `None` writes `keyword=***` (a secret).
    pub(crate) fn pair(&mut self, keyword: &str, value: Option<&str>) -> fmt::Result {
        if !self.first {
            self.f.write_str(" ")?;
        }
        self.first = false;
        match value {
            Some(v) => write!(self.f, "{keyword}={}", quote(v)),
            None => write!(self.f, "{keyword}=***"),
        }
    }
}

/// Quote a value the way libpq's `appendConnStrVal` does: bare if it is non-empty and made only of
/// `[A-Za-z0-9_.]`, otherwise in single quotes with `'` and `\` backslash-escaped.
pub(crate) fn quote(value: &str) -> String {
    let bare =
        !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
    if bare {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_round_trips() {
        for v in ["", "plain", "a b", "it's", "back\\slash", "/var/run/postgresql", "x=y"] {
            let s = format!("application_name={}", quote(v));
            let back = Conninfo::parse(&s).unwrap();
            assert_eq!(back.get("application_name"), Some(v), "{s}");
        }
        assert_eq!(quote("db_1.x"), "db_1.x");
        assert_eq!(quote("it's"), "'it\\'s'");
    }

    #[test]
    fn display_hides_secrets() {
        let c = Conninfo::parse("host=h password='s3cret pw' sslpassword=k user=bob").unwrap();
        let shown = c.to_string();
        assert_eq!(shown, "user=bob password=*** host=h sslpassword=***");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(c.get("password"), Some("s3cret pw"));
    }

    #[test]
    fn later_values_win_and_requiressl_maps() {
        let c = Conninfo::parse("port=1 port=2 requiressl=1").unwrap();
        assert_eq!(c.get("port"), Some("2"));
        assert_eq!(c.get("sslmode"), Some("require"));
        let c = Conninfo::parse("requiressl=0").unwrap();
        assert_eq!(c.get("sslmode"), Some("prefer"));
    }

    #[test]
    fn set_refuses_unknown_keywords() {
        let mut c = Conninfo::new();
        assert_eq!(c.set("x", "1"), Err(ConninfoError::InvalidOption("x".into()).into()));
        c.set("dbname", "d").unwrap();
        c.unset("dbname");
        assert_eq!(c.get("dbname"), None);
    }
}
