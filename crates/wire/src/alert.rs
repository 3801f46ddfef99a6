//! TLS alerts by their RFC 8446 names.
//!
//! Owns the alert type shared by the hand-written handshake (`hello`) and the rustls-driven ones
//! (`tls`). Must not: do I/O.

use std::fmt;

use serde::{Serialize, Serializer};

/// A TLS alert the server sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Alert {
    /// The AlertDescription code (70 = protocol_version).
    pub description: u8,
}

impl Alert {
    /// 40: no common parameters; what a server without a usable suite or group sends.
    pub const HANDSHAKE_FAILURE: Self = Self { description: 40 };
    /// 70: the offered protocol version is refused (below `ssl_min_protocol_version`, say).
    pub const PROTOCOL_VERSION: Self = Self { description: 70 };
    /// 71: the parameters offered are too weak for the server.
    pub const INSUFFICIENT_SECURITY: Self = Self { description: 71 };
    /// 80: the server failed on its side.
    pub const INTERNAL_ERROR: Self = Self { description: 80 };
    /// 116: TLS 1.3's refusal of a handshake without a client certificate (`clientcert` in pg_hba.conf).
    pub const CERTIFICATE_REQUIRED: Self = Self { description: 116 };
    /// 120: no ALPN protocol in common; PostgreSQL 17 refuses direct TLS without `postgresql`.
    pub const NO_APPLICATION_PROTOCOL: Self = Self { description: 120 };

    /// The RFC name (`protocol_version`), or `unknown` for codes outside the registry.
    pub fn name(self) -> &'static str {
        match self.description {
            0 => "close_notify",
            10 => "unexpected_message",
            20 => "bad_record_mac",
            21 => "decryption_failed",
            22 => "record_overflow",
            30 => "decompression_failure",
            40 => "handshake_failure",
            41 => "no_certificate",
            42 => "bad_certificate",
            43 => "unsupported_certificate",
            44 => "certificate_revoked",
            45 => "certificate_expired",
            46 => "certificate_unknown",
            47 => "illegal_parameter",
            48 => "unknown_ca",
            49 => "access_denied",
            50 => "decode_error",
            51 => "decrypt_error",
            60 => "export_restriction",
            70 => "protocol_version",
            71 => "insufficient_security",
            80 => "internal_error",
            86 => "inappropriate_fallback",
            90 => "user_canceled",
            100 => "no_renegotiation",
            109 => "missing_extension",
            110 => "unsupported_extension",
            111 => "certificate_unobtainable",
            112 => "unrecognized_name",
            113 => "bad_certificate_status_response",
            114 => "bad_certificate_hash_value",
            115 => "unknown_psk_identity",
            116 => "certificate_required",
            120 => "no_application_protocol",
            _ => "unknown",
        }
    }

    pub(crate) fn from_rustls(d: rustls::AlertDescription) -> Self {
        Self { description: u8::from(d) }
    }
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.description)
    }
}

/// Serialised by name, which is what a report shows.
impl Serialize for Alert {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(Alert::PROTOCOL_VERSION.to_string(), "protocol_version (70)");
        assert_eq!(
            Alert::from_rustls(rustls::AlertDescription::NoApplicationProtocol),
            Alert::NO_APPLICATION_PROTOCOL
        );
        assert_eq!(Alert { description: 255 }.name(), "unknown");
    }
}
