//! TLS protocol versions by the names PostgreSQL uses for them.
//!
//! Owns the mapping between wire codes (`0x0303`), rustls' `ProtocolVersion` and the names
//! `ssl_min_protocol_version` accepts (`TLSv1`, `TLSv1.1`, `TLSv1.2`, `TLSv1.3` — OpenSSL prints
//! the same names). Must not: do I/O.

use std::fmt;

use serde::Serialize;

/// A TLS version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum TlsVersionName {
    /// TLS 1.0 (`TLSv1`).
    #[serde(rename = "TLSv1")]
    Tls1_0,
    /// TLS 1.1 (`TLSv1.1`).
    #[serde(rename = "TLSv1.1")]
    Tls1_1,
    /// TLS 1.2 (`TLSv1.2`).
    #[serde(rename = "TLSv1.2")]
    Tls1_2,
    /// TLS 1.3 (`TLSv1.3`).
    #[serde(rename = "TLSv1.3")]
    Tls1_3,
}

impl TlsVersionName {
    /// Every version, oldest first.
    pub const ALL: [Self; 4] = [Self::Tls1_0, Self::Tls1_1, Self::Tls1_2, Self::Tls1_3];

    /// The name as in `ssl_min_protocol_version`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tls1_0 => "TLSv1",
            Self::Tls1_1 => "TLSv1.1",
            Self::Tls1_2 => "TLSv1.2",
            Self::Tls1_3 => "TLSv1.3",
        }
    }

    /// The two-byte code on the wire.
    pub fn code(self) -> u16 {
        match self {
            Self::Tls1_0 => 0x0301,
            Self::Tls1_1 => 0x0302,
            Self::Tls1_2 => 0x0303,
            Self::Tls1_3 => 0x0304,
        }
    }

    /// The version with this wire code, if it is one of the four.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.code() == code)
    }

    pub(crate) fn from_rustls(v: rustls::ProtocolVersion) -> Option<Self> {
        Self::from_code(u16::from(v))
    }
}

impl fmt::Display for TlsVersionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for v in TlsVersionName::ALL {
            assert_eq!(TlsVersionName::from_code(v.code()), Some(v));
        }
        assert_eq!(TlsVersionName::Tls1_0.to_string(), "TLSv1");
        assert_eq!(
            TlsVersionName::from_rustls(rustls::ProtocolVersion::TLSv1_3),
            Some(TlsVersionName::Tls1_3)
        );
        assert_eq!(TlsVersionName::from_code(0x0300), None);
        assert_eq!(serde_json::to_string(&TlsVersionName::Tls1_2).unwrap(), "\"TLSv1.2\"");
    }
}
