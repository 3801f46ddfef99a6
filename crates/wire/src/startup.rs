//! StartupMessage without credentials: would the server let this user in from here, and how?
//!
//! Owns: sending a StartupMessage (in plaintext, or inside TLS after an SSLRequest), reading the
//! server's first real answer — an authentication request or an ErrorResponse, skipping and keeping
//! NoticeResponses — and leaving politely.
//! Must not: send a password, a SASL response or anything else that authenticates. After an
//! authentication request the probe simply hangs up: PostgreSQL treats a client that disconnects
//! at that point as normal (psql does it before prompting for a password) and logs nothing, while
//! a Terminate there would be logged as a protocol violation ("expected password response, got
//! message type 88"). Only after AuthenticationOk, when the session exists, is Terminate sent.

use std::io::{self, Read, Write};

use rustls_pki_types::CertificateDer;
use serde::Serialize;

use crate::alert::Alert;
use crate::backend::{AuthRequest, ServerMessage, read_message};
use crate::error::{Malformed, Sent};
use crate::link::Link;
use crate::negotiate::start_tls;
use crate::tls::{ClientIdentity, Options, TlsFacts, handshake};
use crate::{Error, ProbeTarget, frontend};

/// At most this many NoticeResponses are skipped before the answer; a server sending more is
/// treated as misbehaving rather than read forever.
const MAX_NOTICES: usize = 16;

/// The server's first answer to a StartupMessage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StartupAnswer {
    /// The answer.
    pub reply: StartupReply,
    /// NoticeResponses that came before the reply (normally none).
    pub notices: Vec<ServerMessage>,
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reply", content = "detail", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum StartupReply {
    /// An authentication request: a pg_hba.conf line admits this address/user/database over this
    /// transport (plaintext or TLS), with this method.
    Authentication(AuthRequest),
    /// An ErrorResponse: refused (SQLSTATE 28000 "no pg_hba.conf entry … no encryption", 28000
    /// "connection requires a valid client certificate", 3D000 unknown database, 53300 too many
    /// connections…).
    Refused(ServerMessage),
    /// Over TLS only: the server ended the session with an alert instead of answering (an
    /// untrusted or revoked client certificate is reported this way, after the handshake in TLS 1.3).
    TlsAlert(Alert),
}

impl StartupAnswer {
    /// The authentication request, if the server sent one.
    pub fn authentication(&self) -> Option<&AuthRequest> {
        match &self.reply {
            StartupReply::Authentication(a) => Some(a),
            _ => None,
        }
    }

    /// The ErrorResponse, if the server refused.
    pub fn refusal(&self) -> Option<&ServerMessage> {
        match &self.reply {
            StartupReply::Refused(m) => Some(m),
            _ => None,
        }
    }
}

/// The TLS facts of the session and the server's answer inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsStartupAnswer {
    /// What the handshake negotiated.
    pub tls: TlsFacts,
    /// The server's answer to the StartupMessage sent inside TLS.
    pub answer: StartupAnswer,
}

/// Send a StartupMessage in plaintext (no SSLRequest) and report the first answer.
pub fn plaintext_startup(target: &ProbeTarget, user: &str, database: &str) -> Result<StartupAnswer, Error> {
    let msg = frontend::startup_message(user, database)?;
    let mut link = Link::connect(target)?;
    link.send(Sent::StartupMessage, &msg)?;
    let answer = read_answer(&mut link).map_err(|e| link.fail(e))?;
    if answer.authentication() == Some(&AuthRequest::Ok) {
        // Best effort: the answer is known; Terminate only spares the log an "unexpected EOF".
        let _ = link.send(Sent::StartupMessage, &frontend::terminate());
    }
    link.close();
    Ok(answer)
}

/// SSLRequest, TLS handshake (any server certificate accepted unless `roots` is given — then the
/// chain must lead to one of them; the host name is not checked), an optional client certificate,
/// then a StartupMessage inside TLS; report the session's facts and the first answer.
pub fn tls_startup(
    target: &ProbeTarget,
    user: &str,
    database: &str,
    roots: Option<&[CertificateDer<'_>]>,
    client: Option<&ClientIdentity>,
) -> Result<TlsStartupAnswer, Error> {
    let msg = frontend::startup_message(user, database)?;
    let link = start_tls(target)?;
    let opts = Options { roots, identity: client, alpn: &[] };
    let mut session = handshake(link, target, &opts, Sent::TlsHandshake)?;
    session.link.mark(Sent::StartupMessage);
    let result = {
        let mut stream = rustls::Stream::new(&mut session.conn, &mut session.link);
        exchange(&mut stream, &msg)
    };
    let answer = match result {
        Ok(answer) => answer,
        Err(e) => match alert_in(&e) {
            Some(alert) => StartupAnswer { reply: StartupReply::TlsAlert(alert), notices: Vec::new() },
            None => return Err(session.link.fail(e)),
        },
    };
    Ok(TlsStartupAnswer { tls: session.close(), answer })
}

/// Write the StartupMessage, read the answer, say Terminate after AuthenticationOk.
fn exchange(stream: &mut (impl Read + Write), msg: &[u8]) -> io::Result<StartupAnswer> {
    stream.write_all(msg)?;
    stream.flush()?;
    let answer = read_answer(stream)?;
    if answer.authentication() == Some(&AuthRequest::Ok) {
        let _ = stream.write_all(&frontend::terminate()).and_then(|()| stream.flush());
    }
    Ok(answer)
}

/// A TLS alert the server sent, if that is what `e` carries.
fn alert_in(e: &io::Error) -> Option<Alert> {
    match e.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::AlertReceived(d) => Some(Alert::from_rustls(*d)),
        _ => None,
    }
}

/// Read messages until an `R` or `E`, keeping the `N`s before it.
pub(crate) fn read_answer(r: &mut impl Read) -> io::Result<StartupAnswer> {
    let mut notices = Vec::new();
    loop {
        let raw = read_message(r)?;
        let reply = match raw.tag {
            b'R' => StartupReply::Authentication(AuthRequest::parse(&raw.body).map_err(Malformed::into_io)?),
            b'E' => {
                StartupReply::Refused(ServerMessage::parse(raw.tag, &raw.body).map_err(Malformed::into_io)?)
            }
            b'N' if notices.len() < MAX_NOTICES => {
                notices.push(ServerMessage::parse(raw.tag, &raw.body).map_err(Malformed::into_io)?);
                continue;
            }
            tag => return Err(Malformed::UnexpectedMessage { tag, expected: "'R' or 'E'" }.into_io()),
        };
        return Ok(StartupAnswer { reply, notices });
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

    #[test]
    fn notices_before_the_answer_are_kept() {
        let mut bytes = frame(b'N', b"SNOTICE\0C00000\0Mhello\0\0");
        bytes.extend(frame(b'R', b"\0\0\0\x03"));
        let answer = read_answer(&mut Cursor::new(bytes)).unwrap();
        assert_eq!(answer.authentication(), Some(&AuthRequest::Cleartext));
        assert_eq!(answer.notices[0].message, "hello");
    }

    #[test]
    fn endless_notices_and_other_messages_are_malformed() {
        let bytes: Vec<u8> =
            (0..=MAX_NOTICES).flat_map(|_| frame(b'N', b"SNOTICE\0C00000\0Mx\0\0")).collect();
        let err = read_answer(&mut Cursor::new(bytes)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let err = read_answer(&mut Cursor::new(frame(b'Z', b"I"))).unwrap_err();
        assert!(err.to_string().contains("'Z'"), "{err}");
    }

    #[test]
    fn json_shape() {
        let answer = StartupAnswer {
            reply: StartupReply::Authentication(AuthRequest::Sasl {
                mechanisms: vec!["SCRAM-SHA-256".into()],
            }),
            notices: vec![],
        };
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(json["reply"]["reply"], "authentication");
        assert_eq!(json["reply"]["detail"]["method"], "sasl");
        assert_eq!(json["reply"]["detail"]["mechanisms"][0], "SCRAM-SHA-256");
    }
}
