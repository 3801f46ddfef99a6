//! The few frontend (client-to-server) messages a probe sends.
//!
//! Owns the byte layout of SSLRequest, GSSENCRequest, StartupMessage (protocol 3.0) and Terminate.
//! Must not: send anything that carries a credential — there is deliberately no PasswordMessage
//! or SASL response here.

use crate::Error;

/// SSLRequest's "protocol version": 1234 in the high 16 bits, 5679 in the low.
pub(crate) const SSL_REQUEST_CODE: u32 = 80_877_103;
/// GSSENCRequest's code: 1234/5680.
pub(crate) const GSSENC_REQUEST_CODE: u32 = 80_877_104;
/// Protocol 3.0. A newer minor version would make PostgreSQL 18 answer NegotiateProtocolVersion
/// on some servers and not others; 3.0 is understood by every supported release.
const PROTOCOL_3_0: u32 = 3 << 16;
/// The `application_name` every probe announces, so probes are recognisable in server logs.
pub const APPLICATION_NAME: &str = "pgharden-probe";

/// The 8-byte SSLRequest.
pub(crate) fn ssl_request() -> [u8; 8] {
    code_message(SSL_REQUEST_CODE)
}

/// The 8-byte GSSENCRequest.
pub(crate) fn gssenc_request() -> [u8; 8] {
    code_message(GSSENC_REQUEST_CODE)
}

fn code_message(code: u32) -> [u8; 8] {
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&8u32.to_be_bytes());
    msg[4..].copy_from_slice(&code.to_be_bytes());
    msg
}

/// A StartupMessage for `user` and `database`, naming the probe in `application_name`.
pub(crate) fn startup_message(user: &str, database: &str) -> Result<Vec<u8>, Error> {
    let params = [("user", user), ("database", database), ("application_name", APPLICATION_NAME)];
    let mut body = Vec::with_capacity(64);
    body.extend_from_slice(&PROTOCOL_3_0.to_be_bytes());
    for (name, value) in params {
        if value.contains('\0') {
            return Err(Error::InvalidArgument(format!("the startup parameter {name} contains a NUL byte")));
        }
        body.extend_from_slice(name.as_bytes());
        body.push(0);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    // The server's limit is 10000 bytes (MAX_STARTUP_PACKET_LENGTH); longer names are the
    // caller's mistake and would only earn a protocol-violation log line.
    let len = body.len() + 4;
    if len > 10_000 {
        return Err(Error::InvalidArgument(format!("the StartupMessage would be {len} bytes, over 10000")));
    }
    let mut msg = Vec::with_capacity(len);
    // `len` is at most 10000, so it fits in four bytes.
    msg.extend_from_slice(&(len as u32).to_be_bytes());
    msg.extend_from_slice(&body);
    Ok(msg)
}

/// Terminate: `X` and a length of 4.
pub(crate) fn terminate() -> [u8; 5] {
    [b'X', 0, 0, 0, 4]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_and_gss_requests_match_the_documented_bytes() {
        assert_eq!(ssl_request(), [0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f]);
        assert_eq!(gssenc_request(), [0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x30]);
    }

    #[test]
    fn startup_message_layout() {
        let msg = startup_message("alice", "db").unwrap();
        let mut expected = Vec::new();
        expected.extend_from_slice(&[0, 3, 0, 0]);
        expected.extend_from_slice(b"user\0alice\0database\0db\0application_name\0pgharden-probe\0\0");
        let len = (expected.len() + 4) as u32;
        assert_eq!(msg[..4], len.to_be_bytes());
        assert_eq!(msg[4..], expected[..]);
    }

    #[test]
    fn nul_bytes_and_huge_names_are_refused() {
        assert!(matches!(startup_message("a\0b", "db"), Err(Error::InvalidArgument(_))));
        assert!(matches!(startup_message(&"x".repeat(20_000), "db"), Err(Error::InvalidArgument(_))));
    }
}
