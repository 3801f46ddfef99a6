//! Backend (server-to-client) messages a probe may receive, parsed strictly.
//!
//! Owns: framing (type byte, length, body) with a maximum size, and the bodies of
//! AuthenticationRequest (`R`) and ErrorResponse/NoticeResponse (`E`/`N`).
//! Must not: do I/O beyond the `Read` it is handed, or trust a length before checking it — a
//! garbage or hostile length never makes it allocate more than [`MAX_MESSAGE`] bytes or wait for
//! more than the link's deadline.

use std::fmt;
use std::io::{self, Read};

use serde::Serialize;

use crate::error::Malformed;

/// The largest backend message a probe accepts (length field included). Startup-phase answers are
/// a few hundred bytes; the limit only bounds what garbage can cost.
pub const MAX_MESSAGE: u32 = 1 << 20;

/// One framed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawMessage {
    pub(crate) tag: u8,
    pub(crate) body: Vec<u8>,
}

/// Read one message: its type byte, then the rest.
pub(crate) fn read_message(r: &mut impl Read) -> io::Result<RawMessage> {
    let mut tag = [0u8; 1];
    r.read_exact(&mut tag)?;
    read_after_tag(tag[0], r)
}

/// Read a message whose type byte has already been consumed.
pub(crate) fn read_after_tag(tag: u8, r: &mut impl Read) -> io::Result<RawMessage> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let length = u32::from_be_bytes(len);
    if !(4..=MAX_MESSAGE).contains(&length) {
        return Err(Malformed::Length { length, max: MAX_MESSAGE }.into_io());
    }
    let want = u64::from(length - 4);
    // `take` + `read_to_end` grows the buffer as bytes arrive instead of trusting the length up front.
    let mut body = Vec::new();
    r.take(want).read_to_end(&mut body)?;
    if body.len() as u64 != want {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the message body was cut short"));
    }
    Ok(RawMessage { tag, body })
}

/// An ErrorResponse or NoticeResponse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerMessage {
    /// `S`: the severity, possibly translated (`FATAL`, `FATAL` in another language...).
    pub severity: String,
    /// `V`: the untranslated severity (PostgreSQL 9.6 and later).
    pub severity_untranslated: Option<String>,
    /// `C`: the SQLSTATE, such as `28000`.
    pub code: String,
    /// `M`: the primary message.
    pub message: String,
    /// `D`: detail.
    pub detail: Option<String>,
    /// `H`: hint.
    pub hint: Option<String>,
    /// Every field as sent, in order (field type, value) — including the ones above and any
    /// a future server adds.
    pub fields: Vec<(char, String)>,
}

impl ServerMessage {
    /// Parse the body of an `E` or `N` message.
    pub(crate) fn parse(tag: u8, body: &[u8]) -> Result<Self, Malformed> {
        let fields = parse_fields(tag, body)?;
        let field = |t: char| fields.iter().find(|(k, _)| *k == t).map(|(_, v)| v.clone());
        let required = |t: char, problem: &'static str| field(t).ok_or(Malformed::Body { tag, problem });
        Ok(Self {
            severity: required('S', "no severity (S) field")?,
            code: required('C', "no SQLSTATE (C) field")?,
            message: required('M', "no message (M) field")?,
            severity_untranslated: field('V'),
            detail: field('D'),
            hint: field('H'),
            fields,
        })
    }

    /// The severity as the server wrote it in its own log (`FATAL`), preferring the untranslated one.
    pub fn severity(&self) -> &str {
        self.severity_untranslated.as_deref().unwrap_or(&self.severity)
    }
}

impl fmt::Display for ServerMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.severity(), self.code, self.message)
    }
}

/// Field type byte + NUL-terminated string, repeated, ending with a zero byte.
fn parse_fields(tag: u8, body: &[u8]) -> Result<Vec<(char, String)>, Malformed> {
    let mut fields = Vec::new();
    let mut rest = body;
    loop {
        let Some((&kind, after)) = rest.split_first() else {
            return Err(Malformed::Body { tag, problem: "the field list has no terminating zero byte" });
        };
        if kind == 0 {
            return if after.is_empty() {
                Ok(fields)
            } else {
                Err(Malformed::Body { tag, problem: "bytes follow the field list's terminator" })
            };
        }
        let Some(end) = after.iter().position(|&b| b == 0) else {
            return Err(Malformed::Body { tag, problem: "a field value has no terminating zero byte" });
        };
        // Messages sent before the client encoding is known are in the server's encoding, which
        // need not be UTF-8; a lossy rendering is what a report can show anyway.
        fields.push((kind as char, String::from_utf8_lossy(&after[..end]).into_owned()));
        rest = &after[end + 1..];
    }
}

/// An AuthenticationRequest: the method the server wants for this connection.
///
/// Receiving one at all means a pg_hba.conf line other than `reject` matched the connection's
/// address, user, database and encryption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum AuthRequest {
    /// AuthenticationOk: no password needed (`trust`, or `cert`/`peer` already satisfied).
    Ok,
    /// AuthenticationKerberosV5 (code 2): no server since PostgreSQL 9.3 sends it.
    KerberosV5,
    /// A password in clear text.
    Cleartext,
    /// An MD5-hashed password with this salt.
    Md5 {
        /// The salt the password hash is combined with.
        salt: [u8; 4],
    },
    /// AuthenticationSCMCredential (code 6), from servers before PostgreSQL 9.1.
    ScmCredential,
    /// GSSAPI (Kerberos) authentication.
    Gss,
    /// SSPI, Windows' GSSAPI.
    Sspi,
    /// SASL with these mechanisms (`SCRAM-SHA-256`, `SCRAM-SHA-256-PLUS`).
    Sasl {
        /// The mechanisms in the server's order.
        mechanisms: Vec<String>,
    },
    /// A code this crate does not know (or one that cannot come first, such as SASLContinue).
    Other {
        /// The authentication request code.
        code: u32,
    },
}

impl AuthRequest {
    /// Parse the body of an `R` message.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, Malformed> {
        let bad = |problem| Malformed::Body { tag: b'R', problem };
        let (code, rest) = body.split_first_chunk::<4>().ok_or(bad("shorter than its 4-byte code"))?;
        Ok(match u32::from_be_bytes(*code) {
            0 => Self::Ok,
            2 => Self::KerberosV5,
            3 => Self::Cleartext,
            5 => Self::Md5 { salt: *rest.first_chunk::<4>().ok_or(bad("MD5 request without a salt"))? },
            6 => Self::ScmCredential,
            7 => Self::Gss,
            9 => Self::Sspi,
            10 => Self::Sasl { mechanisms: parse_mechanisms(rest).ok_or(bad("bad SASL mechanism list"))? },
            code => Self::Other { code },
        })
    }

    /// A short name: `ok`, `md5`, `SASL (SCRAM-SHA-256)`...
    pub fn describe(&self) -> String {
        match self {
            Self::Ok => "ok (no password asked)".into(),
            Self::KerberosV5 => "Kerberos V5".into(),
            Self::Cleartext => "clear-text password".into(),
            Self::Md5 { .. } => "MD5 password".into(),
            Self::ScmCredential => "SCM credential".into(),
            Self::Gss => "GSSAPI".into(),
            Self::Sspi => "SSPI".into(),
            Self::Sasl { mechanisms } => format!("SASL ({})", mechanisms.join(", ")),
            Self::Other { code } => format!("authentication request code {code}"),
        }
    }
}

/// NUL-terminated names ending with an empty one.
fn parse_mechanisms(mut rest: &[u8]) -> Option<Vec<String>> {
    let mut names = Vec::new();
    loop {
        let end = rest.iter().position(|&b| b == 0)?;
        if end == 0 {
            return rest.len().eq(&1).then_some(names);
        }
        names.push(String::from_utf8_lossy(&rest[..end]).into_owned());
        rest = &rest[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        v.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    /// What PostgreSQL 15 sends for a `hostnossl ... reject` match, byte for byte.
    const NO_ENCRYPTION: &[u8] = b"SFATAL\0VFATAL\0C28000\0Mno pg_hba.conf entry for host \"127.0.0.1\", user \"postgres\", database \"postgres\", no encryption\0Fauth.c\0L543\0RClientAuthentication\0\0";

    #[test]
    fn error_response_fields() {
        let raw = read_message(&mut Cursor::new(frame(b'E', NO_ENCRYPTION))).unwrap();
        let m = ServerMessage::parse(raw.tag, &raw.body).unwrap();
        assert_eq!(m.severity(), "FATAL");
        assert_eq!(m.code, "28000");
        assert!(m.message.ends_with("no encryption"));
        assert_eq!(m.detail, None);
        assert_eq!(m.fields.len(), 7);
        assert_eq!(m.fields[4], ('F', "auth.c".to_owned()));
        assert!(m.to_string().starts_with("FATAL 28000: no pg_hba.conf entry"));
    }

    #[test]
    fn notice_with_translated_severity() {
        let m = ServerMessage::parse(b'N', b"SAVIS\0VWARNING\0C01000\0Mx\0Dd\0Hh\0\0").unwrap();
        assert_eq!(m.severity, "AVIS");
        assert_eq!(m.severity(), "WARNING");
        assert_eq!((m.detail.as_deref(), m.hint.as_deref()), (Some("d"), Some("h")));
    }

    #[test]
    fn broken_field_lists_are_refused() {
        for body in [
            &b"SFATAL\0C28000\0Mx\0"[..],
            b"SFATAL\0C28000\0Mx",
            b"SFATAL\0Mx\0\0",
            b"SFATAL\0C1\0Mx\0\0junk",
        ] {
            assert!(ServerMessage::parse(b'E', body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn authentication_requests() {
        let sasl = AuthRequest::parse(b"\0\0\0\x0aSCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0").unwrap();
        assert_eq!(
            sasl,
            AuthRequest::Sasl { mechanisms: vec!["SCRAM-SHA-256-PLUS".into(), "SCRAM-SHA-256".into()] }
        );
        assert_eq!(AuthRequest::parse(&[0, 0, 0, 0]).unwrap(), AuthRequest::Ok);
        assert_eq!(
            AuthRequest::parse(&[0, 0, 0, 5, 1, 2, 3, 4]).unwrap(),
            AuthRequest::Md5 { salt: [1, 2, 3, 4] }
        );
        assert_eq!(AuthRequest::parse(&[0, 0, 0, 11]).unwrap(), AuthRequest::Other { code: 11 });
        assert!(AuthRequest::parse(&[0, 0, 0, 5, 1]).is_err());
        assert!(AuthRequest::parse(b"\0\0\0\x0aSCRAM-SHA-256\0").is_err());
        assert!(AuthRequest::parse(&[0, 0]).is_err());
    }

    #[test]
    fn lengths_are_bounded() {
        let huge = [b'E', 0x7f, 0xff, 0xff, 0xff];
        let err = read_message(&mut Cursor::new(huge)).unwrap_err();
        let inner = err.get_ref().unwrap().downcast_ref::<Malformed>().unwrap();
        assert_eq!(inner, &Malformed::Length { length: 0x7fff_ffff, max: MAX_MESSAGE });
        assert!(read_message(&mut Cursor::new([b'E', 0, 0, 0, 3])).is_err());
        let short = read_message(&mut Cursor::new([b'E', 0, 0, 0, 9, 1])).unwrap_err();
        assert_eq!(short.kind(), io::ErrorKind::UnexpectedEof);
    }
}
