//! SSLRequest and GSSENCRequest: does the server offer an encrypted channel at all?
//!
//! Owns sending the 8-byte request and reading the one-byte answer (or the ErrorResponse a server
//! may send instead). Must not: start TLS itself — it hands the link on to `tls` and `versions`
//! right after an `S`, and leaves without a word otherwise (PostgreSQL logs nothing for a client
//! that disconnects after a refused request).

use std::fmt;

use serde::Serialize;

use crate::backend::{ServerMessage, read_after_tag};
use crate::error::{Malformed, Sent};
use crate::link::Link;
use crate::{Error, ProbeTarget, frontend};

/// The server's answer to an SSLRequest (`S`/`N`) or a GSSENCRequest (`G`/`N`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "answer", content = "error", rename_all = "kebab-case")]
pub enum SslAnswer {
    /// `S` (or `G`): the server is ready for the TLS (or GSSAPI) handshake.
    Accepted,
    /// `N`: no encryption of that kind here; the client may continue in plaintext.
    Refused,
    /// An ErrorResponse instead of a one-byte answer (very old servers, or a server out of slots).
    Error(ServerMessage),
}

impl fmt::Display for SslAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Accepted => f.write_str("accepted"),
            Self::Refused => f.write_str("'N' (refused)"),
            Self::Error(m) => write!(f, "an error: {m}"),
        }
    }
}

/// Send an SSLRequest and report the answer.
pub fn ssl_request(target: &ProbeTarget) -> Result<SslAnswer, Error> {
    let mut link = Link::connect(target)?;
    let answer = request(&mut link, Sent::SslRequest, &frontend::ssl_request(), b'S')?;
    link.close();
    Ok(answer)
}

/// Send a GSSENCRequest and report the answer (`Accepted` means `G`).
pub fn gssenc_request(target: &ProbeTarget) -> Result<SslAnswer, Error> {
    let mut link = Link::connect(target)?;
    let answer = request(&mut link, Sent::GssEncRequest, &frontend::gssenc_request(), b'G')?;
    link.close();
    Ok(answer)
}

/// Connect and send an SSLRequest; the link is ready for a TLS ClientHello when this returns.
pub(crate) fn start_tls(target: &ProbeTarget) -> Result<Link, Error> {
    let mut link = Link::connect(target)?;
    match request(&mut link, Sent::SslRequest, &frontend::ssl_request(), b'S')? {
        SslAnswer::Accepted => Ok(link),
        answer => {
            link.close();
            Err(Error::SslNotAccepted { addr: target.addr, answer: Box::new(answer) })
        }
    }
}

fn request(link: &mut Link, sent: Sent, msg: &[u8], yes: u8) -> Result<SslAnswer, Error> {
    link.send(sent, msg)?;
    let mut byte = [0u8; 1];
    link.read_exact_or_fail(&mut byte)?;
    match byte[0] {
        b if b == yes => Ok(SslAnswer::Accepted),
        b'N' => Ok(SslAnswer::Refused),
        b'E' => {
            let raw = read_after_tag(b'E', link).map_err(|e| link.fail(e))?;
            let message = ServerMessage::parse(raw.tag, &raw.body).map_err(|p| link.fail(p.into_io()))?;
            Ok(SslAnswer::Error(message))
        }
        tag => {
            let expected = if yes == b'S' { "'S', 'N' or 'E'" } else { "'G', 'N' or 'E'" };
            Err(link.fail(Malformed::UnexpectedMessage { tag, expected }.into_io()))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::thread;

    use super::*;

    /// A one-shot fake server that checks the request and answers with `reply`.
    fn fake(reply: &'static [u8]) -> ProbeTarget {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = [0u8; 8];
            s.read_exact(&mut req).unwrap();
            s.write_all(reply).unwrap();
        });
        ProbeTarget::new(addr)
    }

    #[test]
    fn one_byte_answers() {
        assert_eq!(ssl_request(&fake(b"S")).unwrap(), SslAnswer::Accepted);
        assert_eq!(ssl_request(&fake(b"N")).unwrap(), SslAnswer::Refused);
        assert_eq!(gssenc_request(&fake(b"G")).unwrap(), SslAnswer::Accepted);
    }

    #[test]
    fn an_error_response_is_parsed() {
        let answer = ssl_request(&fake(b"E\0\0\0\x1dSFATAL\0C53300\0Mtoo many\0\0")).unwrap();
        match answer {
            SslAnswer::Error(m) => assert_eq!((m.code.as_str(), m.message.as_str()), ("53300", "too many")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn garbage_is_malformed_and_says_what_came_back() {
        let err = ssl_request(&fake(b"HTTP/1.1 400")).unwrap_err();
        match err {
            Error::Malformed { sent: Sent::SslRequest, received, .. } => assert_eq!(received.0, b"H"),
            other => panic!("{other}"),
        }
        let err = gssenc_request(&fake(b"S")).unwrap_err();
        assert!(err.to_string().contains("'G', 'N' or 'E'"), "{err}");
    }
}
