//! Errors: to whom, after sending what, and what came back.
//!
//! Owns the crate's one error enum and the small types it is built from. Every network error says
//! which message was last sent ([`Sent`]) and shows the first bytes the server answered with
//! ([`Received`]), because "the server closed the connection" means very different things after an
//! SSLRequest and after a ClientHello.
//! Must not: decide what a server answer *means* — refusals the server expresses in the protocol
//! (an `N`, an ErrorResponse, a TLS alert to a ClientHello) are answers, not errors.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::negotiate::SslAnswer;
use crate::version::TlsVersionName;

/// Everything that can go wrong while probing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TCP connection could not be made.
    #[error("could not connect to {addr} within {timeout:?}: {reason}")]
    Connect {
        /// The address tried.
        addr: SocketAddr,
        /// The probe's whole time limit.
        timeout: Duration,
        /// Why the connection failed.
        reason: IoFailure,
    },
    /// The probe's time ran out while waiting for (or sending to) the server.
    #[error("{addr} did not answer {sent} within {timeout:?} (received: {received})")]
    Timeout {
        /// The server.
        addr: SocketAddr,
        /// What was sent last.
        sent: Sent,
        /// The probe's whole time limit.
        timeout: Duration,
        /// What came back before the time ran out.
        received: Received,
    },
    /// The server closed (or reset) the connection before a complete answer.
    #[error("{addr} {how} the connection after {sent} (received: {received})")]
    Closed {
        /// The server.
        addr: SocketAddr,
        /// What was sent last.
        sent: Sent,
        /// Closed or reset.
        how: CloseKind,
        /// What came back before it.
        received: Received,
    },
    /// Reading or writing failed for another reason.
    #[error("talking to {addr} after {sent} failed: {reason} (received: {received})")]
    Io {
        /// The server.
        addr: SocketAddr,
        /// What was sent last.
        sent: Sent,
        /// The operating system's error.
        reason: IoFailure,
        /// What came back before it.
        received: Received,
    },
    /// The server sent bytes that are not a valid answer.
    #[error("{addr} answered {sent} with something invalid: {problem} (received: {received})")]
    Malformed {
        /// The server.
        addr: SocketAddr,
        /// What was sent last.
        sent: Sent,
        /// What is wrong with the answer.
        problem: Malformed,
        /// The answer's first bytes.
        received: Received,
    },
    /// A TLS-only probe found the server unwilling to start TLS.
    #[error("{addr} does not offer TLS: it answered the SSLRequest with {answer}")]
    SslNotAccepted {
        /// The server.
        addr: SocketAddr,
        /// Its answer to the SSLRequest (`N`, an ErrorResponse, …).
        answer: Box<SslAnswer>,
    },
    /// The TLS layer failed (handshake, certificate, alert, decryption).
    #[error("TLS with {addr} failed after {sent}: {error} (received: {received})")]
    Tls {
        /// The server.
        addr: SocketAddr,
        /// The handshake that failed.
        sent: Sent,
        /// rustls's reason (an alert the server sent is one).
        error: rustls::Error,
        /// The first bytes the server sent.
        received: Received,
    },
    /// A caller-supplied argument cannot be sent (a NUL byte in a user name, say).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The client certificate or key is unusable.
    #[error("invalid client certificate or key: {0}")]
    ClientIdentity(String),
    /// A root certificate is unusable as a trust anchor.
    #[error("invalid root certificate: {0}")]
    RootCertificate(String),
    /// The system's random source failed (needed for ClientHello.random).
    #[error("the system random source failed")]
    Random,
}

/// The message a probe sent last, for error texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sent {
    /// Only the TCP connection was made.
    Nothing,
    /// The SSLRequest that asks the server to start TLS.
    SslRequest,
    /// The GSSENCRequest that asks for GSSAPI encryption.
    GssEncRequest,
    /// The StartupMessage naming user and database (in plaintext or inside TLS).
    StartupMessage,
    /// The rustls handshake after the server accepted an SSLRequest.
    TlsHandshake,
    /// The rustls handshake without SSLRequest (PostgreSQL 17 direct TLS).
    DirectTlsHandshake,
    /// A hand-written ClientHello offering exactly one version.
    ClientHello(TlsVersionName),
}

impl fmt::Display for Sent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nothing => f.write_str("connecting"),
            Self::SslRequest => f.write_str("an SSLRequest"),
            Self::GssEncRequest => f.write_str("a GSSENCRequest"),
            Self::StartupMessage => f.write_str("a StartupMessage"),
            Self::TlsHandshake => f.write_str("starting the TLS handshake"),
            Self::DirectTlsHandshake => f.write_str("a direct TLS ClientHello"),
            Self::ClientHello(v) => write!(f, "a ClientHello offering only {v}"),
        }
    }
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind {
    /// An orderly close (FIN).
    Closed,
    /// A reset (RST) — what a server does when it closes with unread input.
    Reset,
}

impl fmt::Display for CloseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "closed",
            Self::Reset => "reset",
        })
    }
}

/// An I/O error in comparable form (`std::io::Error` is neither `Clone` nor `PartialEq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoFailure {
    /// What kind of error (`ConnectionRefused`, `TimedOut`, …), to tell them apart without parsing text.
    pub kind: io::ErrorKind,
    /// The operating system's message.
    pub message: String,
}

impl From<&io::Error> for IoFailure {
    fn from(e: &io::Error) -> Self {
        Self { kind: e.kind(), message: e.to_string() }
    }
}

impl fmt::Display for IoFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The first bytes the server sent after the last message of ours (at most
/// [`Received::LIMIT`]), shown as hex with an ASCII rendering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Received(pub Vec<u8>);

impl Received {
    /// How many bytes are kept.
    pub const LIMIT: usize = 64;

    pub(crate) fn record(&mut self, bytes: &[u8]) {
        let room = Self::LIMIT.saturating_sub(self.0.len());
        self.0.extend_from_slice(&bytes[..room.min(bytes.len())]);
    }
}

impl fmt::Display for Received {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("nothing");
        }
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{b:02x}")?;
        }
        let ascii: String =
            self.0.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }).collect();
        write!(f, " \"{ascii}\"")
    }
}

/// Why bytes from the server were not a valid answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// A message declared a length this probe does not accept for it.
    #[error("a message length of {length} bytes is outside 4..={max}")]
    Length {
        /// The declared length, in bytes, including itself.
        length: u32,
        /// The most this probe accepts for it.
        max: u32,
    },
    /// A message of a type the protocol does not allow here.
    #[error("message type {} where {expected} was expected", show_tag(*tag))]
    UnexpectedMessage {
        /// Its type byte.
        tag: u8,
        /// What was allowed, in words.
        expected: &'static str,
    },
    /// A message of the right type whose body does not parse.
    #[error("message type {}: {problem}", show_tag(*tag))]
    Body {
        /// Its type byte.
        tag: u8,
        /// What is wrong, in words.
        problem: &'static str,
    },
    /// A TLS record or handshake message that does not parse; holds what is wrong.
    #[error("TLS record: {0}")]
    Record(&'static str),
}

/// `'E' (0x45)` for printable tags, `0x16` otherwise.
fn show_tag(tag: u8) -> String {
    if tag.is_ascii_graphic() { format!("'{}' (0x{tag:02x})", tag as char) } else { format!("0x{tag:02x}") }
}

impl Malformed {
    /// Wrap into an `io::Error`, so parsers can sit behind `Read` and the connection can still
    /// classify the failure (see `Link::fail`).
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_shows_hex_and_ascii_and_stops_at_the_limit() {
        let mut r = Received::default();
        assert_eq!(r.to_string(), "nothing");
        r.record(b"N\x00");
        assert_eq!(r.to_string(), "4e 00 \"N.\"");
        r.record(&[0u8; 100]);
        assert_eq!(r.0.len(), Received::LIMIT);
    }

    #[test]
    fn malformed_names_the_tag() {
        let m = Malformed::UnexpectedMessage { tag: b'Z', expected: "'R' or 'E'" };
        assert_eq!(m.to_string(), "message type 'Z' (0x5a) where 'R' or 'E' was expected");
        assert_eq!(Malformed::Body { tag: 0x16, problem: "x" }.to_string(), "message type 0x16: x");
    }
}
