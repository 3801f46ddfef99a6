//! The crate's errors.
//!
//! Owns: one [`Error`] for the whole crate, whose variants wrap the typed error of each stage —
//! reading a conninfo ([`ConninfoError`]), preparing TLS ([`TlsError`]), connecting
//! ([`ConnectError`], one [`Attempt`] per host tried), running SQL ([`QueryError`]), and the
//! bounds pgharden puts on a server ([`LimitExceeded`], [`Error::QueryTimeout`]).
//! Where libpq has a message for a condition, `Display` prints libpq's text, so that what pgharden
//! reports can be searched for in PostgreSQL's documentation and mailing lists.
//! Must not: hold secrets. No variant carries a password, and values quoted back in messages are
//! never those of `password` or `sslpassword`.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::connect::{MAX_MESSAGE, MAX_RESPONSE};

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection string or the environment is unusable.
    #[error(transparent)]
    Conninfo(#[from] ConninfoError),
    /// Client-side TLS material (root certificates, CRLs, client certificate or key) is unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// No host accepted the connection.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// A statement failed, or the connection broke while running one.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The server sent more than pgharden accepts while a statement ran; the connection is closed.
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
    /// The server did not answer a statement within the query timeout
    /// ([`BlockingClient::set_query_timeout`](crate::BlockingClient::set_query_timeout)).
    #[error("the server did not answer within {}", seconds(*.0))]
    QueryTimeout(Duration),
    /// The blocking facade could not start its runtime.
    #[error("could not start the tokio runtime: {0}")]
    Runtime(String),
}

impl Error {
    /// The SQLSTATE the server sent, if this error came from the server.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Self::Connect(e) => e.sqlstate(),
            Self::Query(e) => e.sqlstate.as_deref(),
            _ => None,
        }
    }
}

/// A connection string or environment problem. Messages are libpq's where libpq has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConninfoError {
    /// A keyword without `=`; holds the keyword.
    #[error("missing \"=\" after \"{0}\" in connection info string")]
    MissingEquals(String),
    /// libpq's message, plus the keyword whose value is unterminated (libpq names none).
    #[error("unterminated quoted string in connection info string (the value of \"{0}\")")]
    UnterminatedQuote(String),
    /// A keyword libpq does not know; holds it.
    #[error("invalid connection option \"{0}\"")]
    InvalidOption(String),
    /// A URI query parameter libpq does not know; holds it.
    #[error("invalid URI query parameter: \"{0}\"")]
    InvalidUriParameter(String),
    /// A URI query parameter without `=`; holds the parameter.
    #[error("missing key/value separator \"=\" in URI query parameter: \"{0}\"")]
    UriMissingSeparator(String),
    /// A URI query parameter with a second `=`; holds the parameter.
    #[error("extra key/value separator \"=\" in URI query parameter: \"{0}\"")]
    UriExtraSeparator(String),
    /// A `[` without its `]` in a URI; holds the URI.
    #[error("end of string reached when looking for matching \"]\" in IPv6 host address in URI: \"{0}\"")]
    UriUnterminatedIpv6(String),
    /// `[]` in a URI; holds the URI.
    #[error("IPv6 host address may not be empty in URI: \"{0}\"")]
    UriEmptyIpv6(String),
    /// A character after the host part of a URI that is neither `:` nor `/`.
    #[error(
        "unexpected character \"{ch}\" at position {position} in URI (expected \":\" or \"/\"): \"{uri}\""
    )]
    UriUnexpectedChar {
        /// The character.
        ch: char,
        /// Its byte offset in `uri`.
        position: usize,
        /// The URI (passwords in it are not shown).
        uri: String,
    },
    /// A `%` not followed by two hex digits; holds the token.
    #[error("invalid percent-encoded token: \"{0}\"")]
    InvalidPercentEncoding(String),
    /// `%00` in a URI: a NUL cannot be passed to the server; holds the token.
    #[error("forbidden value %00 in percent-encoded value: \"{0}\"")]
    PercentEncodedNul(String),
    /// Not a libpq error: libpq quotes the encoded password back; this crate never prints it.
    #[error("invalid percent-encoding in the {0} in URI (the value is not shown)")]
    UriSecretEncoding(&'static str),
    /// Not a libpq error: libpq works on bytes, this crate on UTF-8 text.
    #[error("percent-decoded value is not valid UTF-8: \"{0}\"")]
    NotUtf8(String),
    /// A value a keyword does not accept (an unknown `sslmode`, say).
    #[error("invalid {keyword} value: \"{value}\"")]
    InvalidValue {
        /// The keyword.
        keyword: &'static str,
        /// The value given (never that of `password` or `sslpassword`).
        value: String,
    },
    /// A value that should be an integer and is not.
    #[error("invalid integer value \"{value}\" for connection option \"{keyword}\"")]
    InvalidInteger {
        /// The keyword.
        keyword: &'static str,
        /// The value given.
        value: String,
    },
    /// A port that is an integer but not in 1..=65535; holds it.
    #[error("invalid port number: \"{0}\"")]
    InvalidPort(String),
    /// `host` and `hostaddr` list different numbers of entries.
    #[error("could not match {hosts} host names to {hostaddrs} hostaddr values")]
    HostCountMismatch {
        /// Entries in `host`.
        hosts: usize,
        /// Entries in `hostaddr`.
        hostaddrs: usize,
    },
    /// `port` lists more than one entry, but not one per host.
    #[error("could not match {ports} port numbers to {hosts} hosts")]
    PortCountMismatch {
        /// Entries in `port`.
        ports: usize,
        /// Hosts to connect to.
        hosts: usize,
    },
    /// A `hostaddr` that is not an IP address; holds it.
    #[error("could not parse network address \"{0}\"")]
    InvalidHostaddr(String),
    /// `sslrootcert=system` with an sslmode below `verify-full`; holds the sslmode.
    #[error("weak sslmode \"{0}\" may not be used with sslrootcert=system (use \"verify-full\")")]
    WeakSslModeWithSystemRoots(String),
    /// `sslnegotiation=direct` with an sslmode that allows plaintext; holds the sslmode.
    #[error(
        "weak sslmode \"{0}\" may not be used with sslnegotiation=direct (use \"require\", \"verify-ca\", or \"verify-full\")"
    )]
    WeakSslModeWithDirect(String),
    /// libpq's message, plus the two values (libpq names none).
    #[error(
        "invalid SSL protocol version range: ssl_min_protocol_version={min} is above ssl_max_protocol_version={max}"
    )]
    InvalidProtocolRange {
        /// `ssl_min_protocol_version` as given.
        min: &'static str,
        /// `ssl_max_protocol_version` as given.
        max: &'static str,
    },
    /// No user name was given and this process's uid has no passwd entry to default to.
    #[error("could not look up local user ID {uid}: {reason}")]
    NoOsUser {
        /// The effective uid whose name was looked up.
        uid: u32,
        /// Why the lookup failed.
        reason: String,
    },
    /// A keyword libpq knows whose behaviour this crate does not implement, set to a value that
    /// would change what a connection does. Ignoring it silently could weaken security.
    #[error("{keyword}={value:?} is not supported by pgharden: {reason}")]
    Unsupported {
        /// The keyword.
        keyword: &'static str,
        /// Its value.
        value: String,
        /// Why pgharden refuses it (what it lacks), as a phrase.
        reason: &'static str,
    },
}

/// A problem with client-side TLS material, found before any byte is sent to a server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The root certificate file a verifying sslmode needs does not exist; holds its path.
    #[error(
        "root certificate file \"{}\" does not exist\nEither provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification.",
        .0.display()
    )]
    RootCertMissing(PathBuf),
    /// No `sslrootcert` was given and there is no home directory to find `~/.postgresql/root.crt` in.
    #[error(
        "could not get home directory to locate root certificate file\nEither provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification."
    )]
    NoHomeForRootCert,
    /// The root certificate file could not be read or holds no certificate.
    #[error("could not read root certificate file \"{}\": {reason}", path.display())]
    ReadRootCert {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// `sslrootcert=system`, but the system's trust store could not be loaded; holds why.
    #[error("could not load system root certificate paths: {0}")]
    SystemRoots(String),
    /// Stricter than libpq, which silently skips CRL checking when a CRL file cannot be parsed.
    #[error("could not read CRL \"{}\": {reason}", path.display())]
    ReadCrl {
        /// The CRL file (or the file in `sslcrldir`).
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The client certificate file exists but cannot be opened.
    #[error("could not open certificate file \"{}\": {reason}", path.display())]
    OpenCert {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The client certificate file holds no usable certificate.
    #[error("could not read certificate file \"{}\": {reason}", path.display())]
    ReadCert {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A client certificate without its key file; holds the key's path.
    #[error("certificate present, but not private key file \"{}\"", .0.display())]
    KeyMissing(PathBuf),
    /// The key file's owner and mode could not be read.
    #[error("could not stat private key file \"{}\": {reason}", path.display())]
    StatKey {
        /// The key file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The key file is not a regular file; holds its path.
    #[error("private key file \"{}\" is not a regular file", .0.display())]
    KeyNotRegular(PathBuf),
    /// The key file is readable by others than its owner (libpq's rule); holds its path.
    #[error(
        "private key file \"{}\" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root",
        .0.display()
    )]
    KeyPermissions(PathBuf),
    /// The key file could not be decrypted or parsed.
    #[error("could not load private key file \"{}\": {reason}", path.display())]
    LoadKey {
        /// The key file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The key does not belong to the client certificate.
    #[error("certificate does not match private key file \"{}\": {reason}", path.display())]
    KeyMismatch {
        /// The key file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// An `sslkey` of libpq's `engine:key` form; holds the value.
    #[error(
        "OpenSSL engine keys are not supported (sslkey \"{0}\" contains \":\", which libpq reads as engine:key)"
    )]
    EngineKey(String),
    /// The protocol range allows neither TLS 1.2 nor TLS 1.3.
    #[error(
        "no TLS protocol version allowed by ssl_min_protocol_version/ssl_max_protocol_version is supported (TLSv1.2 and TLSv1.3 are)"
    )]
    NoProtocolVersion,
    /// rustls refused the configuration; holds its message.
    #[error("could not set up TLS: {0}")]
    Setup(String),
}

/// Where a connection attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// A TCP connection to `host` (as given) at `addr`.
    Tcp {
        /// The host name or address as given (empty when only `hostaddr` was).
        host: String,
        /// The address connected to; `None` when name resolution failed.
        addr: Option<IpAddr>,
        /// The TCP port.
        port: u16,
    },
    /// A Unix-domain socket.
    Unix {
        /// The socket file, `DIR/.s.PGSQL.PORT`.
        socket: PathBuf,
    },
}

impl fmt::Display for Endpoint {
    /// libpq's prefix for connection errors (PostgreSQL 14+).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix { socket } => write!(f, "connection to server on socket \"{}\"", socket.display()),
            Self::Tcp { host, addr: Some(addr), port } if *host != addr.to_string() && !host.is_empty() => {
                write!(f, "connection to server at \"{host}\" ({addr}), port {port}")
            }
            Self::Tcp { host, addr, port } => {
                let shown = if host.is_empty() {
                    addr.map(|a| a.to_string()).unwrap_or_default()
                } else {
                    host.clone()
                };
                write!(f, "connection to server at \"{shown}\", port {port}")
            }
        }
    }
}

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The server sent an ErrorResponse (authentication refused, no pg_hba.conf entry, …).
    Server {
        /// `FATAL`, `ERROR`, … as the server sent it (localised when `lc_messages` is).
        severity: String,
        /// The five-character SQLSTATE (`28000` for an authentication refusal).
        sqlstate: String,
        /// The primary message.
        message: String,
        /// The DETAIL line, when the server sent one.
        detail: Option<String>,
        /// The HINT line, when the server sent one.
        hint: Option<String>,
    },
    /// The server's certificate was refused: `message` is libpq's text, `reason` what exactly failed
    /// (OpenSSL's verify error string where there is one).
    Certificate {
        /// libpq's message.
        message: String,
        /// The verifier's reason; `None` when there is nothing beyond the message.
        reason: Option<String>,
    },
    /// The TLS layer failed for another reason (handshake alert, server refused TLS, …).
    Tls(String),
    /// Name resolution failed.
    Resolve(String),
    /// The socket could not be opened or broke.
    Io(String),
    /// `connect_timeout` expired.
    Timeout,
    /// The server sent more than pgharden accepts.
    Limit(LimitExceeded),
    /// The connection worked, but is not what `target_session_attrs`, `requirepeer` or
    /// `sslcertmode` ask for.
    Rejected(String),
    /// Anything else tokio-postgres reported.
    Protocol(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Server { severity, message, detail, hint, .. } => {
                write!(f, "{severity}:  {message}")?;
                if let Some(d) = detail {
                    write!(f, "\nDETAIL:  {d}")?;
                }
                if let Some(h) = hint {
                    write!(f, "\nHINT:  {h}")?;
                }
                Ok(())
            }
            Self::Certificate { message, reason: Some(r) } => write!(f, "{message} ({r})"),
            Self::Certificate { message, reason: None } => f.write_str(message),
            Self::Tls(m) | Self::Resolve(m) | Self::Io(m) | Self::Rejected(m) | Self::Protocol(m) => {
                f.write_str(m)
            }
            Self::Timeout => f.write_str("timeout expired"),
            Self::Limit(limit) => write!(f, "{limit}"),
        }
    }
}

/// One failed attempt: where, whether TLS was in use, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Where it went.
    pub target: Endpoint,
    /// Whether this attempt used TLS (sslmode `allow` and `prefer` try both ways).
    pub tls: bool,
    /// Why it failed.
    pub failure: Failure,
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.target, self.failure)
    }
}

/// Every attempt failed. libpq prints one line per attempt, in order; so does `Display`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    /// Each attempt in the order tried; libpq's order of hosts and sslmode's tries.
    pub attempts: Vec<Attempt>,
}

impl ConnectError {
    /// The last attempt, which decided the outcome.
    pub fn last(&self) -> Option<&Attempt> {
        self.attempts.last()
    }

    /// The SQLSTATE of the last server error among the attempts.
    pub fn sqlstate(&self) -> Option<&str> {
        self.attempts.iter().rev().find_map(|a| match &a.failure {
            Failure::Server { sqlstate, .. } => Some(sqlstate.as_str()),
            _ => None,
        })
    }
}

impl std::error::Error for ConnectError {}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.attempts.is_empty() {
            return f.write_str("no host to connect to");
        }
        for (i, a) in self.attempts.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

/// The server sent more than pgharden is willing to hold (see [`MAX_MESSAGE`] and
/// [`MAX_RESPONSE`]). The connection is closed when this happens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitExceeded {
    /// One message declared more than [`MAX_MESSAGE`] bytes; `size` counts the type byte.
    #[error(
        "the server sent a message of {size} bytes (type {kind}); pgharden accepts at most {} MiB",
        MAX_MESSAGE >> 20
    )]
    Message {
        /// The declared size in bytes, type byte included.
        size: u64,
        /// The message's type byte.
        kind: MessageType,
    },
    /// The messages since the last ReadyForQuery, up to and including one of type `kind`, declared
    /// `size` bytes in all, more than [`MAX_RESPONSE`].
    #[error(
        "the server sent {size} bytes in one response (the last message of type {kind}); pgharden accepts at most {} MiB per response",
        MAX_RESPONSE >> 20
    )]
    Response {
        /// Bytes declared since the last ReadyForQuery.
        size: u64,
        /// Type byte of the message that crossed the limit.
        kind: MessageType,
    },
}

/// A backend message type byte, printed as a quoted character when it is printable ASCII and in
/// hex otherwise (it comes from the server and may be anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageType(pub u8);

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "'{}'", char::from(self.0))
        } else {
            write!(f, "0x{:02x}", self.0)
        }
    }
}

/// `120 s`, `0.5 s`: whole seconds without decimals.
pub(crate) fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// A failed statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    /// Set when the server reported the error.
    pub sqlstate: Option<String>,
    /// `SEVERITY:  message` for server errors, tokio-postgres's text otherwise.
    pub message: String,
}

impl From<tokio_postgres::Error> for QueryError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => Self {
                sqlstate: Some(db.code().code().to_owned()),
                message: format!("{}:  {}", db.severity(), db.message()),
            },
            None => Self { sqlstate: None, message: describe(&e) },
        }
    }
}

/// An error and its causes, `outer: inner: innermost`. tokio-postgres prints only the outer text,
/// and `io::Error` hides the error it wraps from `source()`, so both are unwrapped here.
pub(crate) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut next = inner(e);
    while let Some(cause) = next {
        let text = cause.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        next = inner(cause);
    }
    parts.join(": ")
}

/// The error `e` wraps: an `io::Error`'s payload, else `source()`.
pub(crate) fn inner<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    if let Some(io) = e.downcast_ref::<std::io::Error>()
        && let Some(payload) = io.get_ref()
    {
        return Some(payload as &(dyn std::error::Error + 'static));
    }
    e.source()
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Query(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_print_like_libpq() {
        let unix = Endpoint::Unix { socket: "/tmp/.s.PGSQL.5432".into() };
        assert_eq!(unix.to_string(), "connection to server on socket \"/tmp/.s.PGSQL.5432\"");
        let ip = Endpoint::Tcp { host: "127.0.0.1".into(), addr: Some([127, 0, 0, 1].into()), port: 5432 };
        assert_eq!(ip.to_string(), "connection to server at \"127.0.0.1\", port 5432");
        let name = Endpoint::Tcp { host: "localhost".into(), addr: Some([127, 0, 0, 1].into()), port: 5432 };
        assert_eq!(name.to_string(), "connection to server at \"localhost\" (127.0.0.1), port 5432");
    }
}
