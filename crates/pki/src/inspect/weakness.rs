//! The cryptographic weaknesses of a certificate, request, CRL or key, as typed values.
//!
//! Owns: the one decision of what counts as weak — an RSA modulus under 2048 bits, an elliptic
//! curve under 224 bits, a DSA key, a signature over MD2, MD4, MD5 or SHA-1 — and the words for
//! each. The inspector's notes are rendered from these values, so a judge reading `weaknesses` and
//! a person reading the notes see the same thing.
//! Must not: parse certificates or keys (it is given the key summary and the signature algorithm
//! name the inspector made), or decide what a weakness means for a particular rule.

use std::fmt;

use serde::Serialize;

use super::KeySummary;

/// The shortest RSA modulus OpenSSL accepts at security level 2 (112-bit security).
pub const MIN_RSA_BITS: u32 = 2048;

/// The smallest elliptic curve OpenSSL accepts at security level 2 (112-bit security).
pub const MIN_EC_BITS: u32 = 224;

/// One weakness of a key or a signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Weakness {
    /// An RSA (or RSA-PSS) modulus shorter than [`MIN_RSA_BITS`].
    ShortRsaKey {
        /// The modulus length.
        bits: u32,
    },
    /// A signature over a broken digest (MD2, MD4, MD5, SHA-1); `algorithm` is OpenSSL's name.
    WeakSignature {
        /// OpenSSL's name of the signature algorithm, e.g. "sha1WithRSAEncryption".
        algorithm: String,
    },
    /// An elliptic curve smaller than [`MIN_EC_BITS`].
    SmallEcCurve {
        /// The curve's name, e.g. "P-192".
        curve: String,
        /// The curve size.
        bits: u32,
    },
    /// A DSA key, of any size.
    DsaKey,
}

impl fmt::Display for Weakness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ShortRsaKey { bits } => write!(
                f,
                "RSA key shorter than {MIN_RSA_BITS} bits ({bits} bits): OpenSSL refuses it at security level 2 and above (the default on Debian and Ubuntu)"
            ),
            Self::WeakSignature { algorithm } => write!(
                f,
                "weak signature algorithm {algorithm}: OpenSSL 3 rejects MD5 and SHA-1 signatures at security level 1 and above (Debian and Ubuntu default to 2)"
            ),
            Self::SmallEcCurve { curve, bits } => write!(
                f,
                "EC curve {curve} ({bits} bits) is smaller than {MIN_EC_BITS} bits: OpenSSL refuses it at security level 2 and above (the default on Debian and Ubuntu)"
            ),
            Self::DsaKey => f.write_str(
                "DSA key: FIPS 186-5 no longer approves DSA for signatures, and TLS 1.3 cannot use it",
            ),
        }
    }
}

/// The weaknesses of something signed with `signature_algorithm` over `key`: the signature's
/// first, then the key's.
pub(super) fn signed(signature_algorithm: &str, key: &KeySummary) -> Vec<Weakness> {
    let mut found: Vec<Weakness> = signature(signature_algorithm).into_iter().collect();
    found.extend(key_weakness(key));
    found
}

/// The weakness of a signature algorithm (OpenSSL's name, as `signature_algorithm_name` gives it).
pub(super) fn signature(algorithm: &str) -> Option<Weakness> {
    let lower = algorithm.to_ascii_lowercase();
    ["md2", "md4", "md5", "sha1"]
        .iter()
        .any(|digest| lower.contains(digest))
        .then(|| Weakness::WeakSignature { algorithm: algorithm.to_owned() })
}

/// The weakness of a key, if it has one.
pub(super) fn key_weakness(key: &KeySummary) -> Option<Weakness> {
    match (key.algorithm.as_str(), key.bits) {
        ("RSA" | "RSA-PSS", Some(bits)) if bits < MIN_RSA_BITS => Some(Weakness::ShortRsaKey { bits }),
        ("EC", Some(bits)) if bits < MIN_EC_BITS => Some(Weakness::SmallEcCurve {
            curve: key.curve.clone().unwrap_or_else(|| "unnamed".to_owned()),
            bits,
        }),
        ("DSA", _) => Some(Weakness::DsaKey),
        _ => None,
    }
}

/// The notes for `weaknesses`, in order.
pub(super) fn notes(weaknesses: &[Weakness]) -> impl Iterator<Item = String> + '_ {
    weaknesses.iter().map(ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(algorithm: &str, bits: Option<u32>, curve: Option<&str>) -> KeySummary {
        KeySummary {
            algorithm: algorithm.to_owned(),
            bits,
            curve: curve.map(str::to_owned),
            description: String::new(),
        }
    }

    #[test]
    fn keys() {
        assert_eq!(key_weakness(&key("RSA", Some(1024), None)), Some(Weakness::ShortRsaKey { bits: 1024 }));
        assert_eq!(
            key_weakness(&key("RSA-PSS", Some(2047), None)),
            Some(Weakness::ShortRsaKey { bits: 2047 })
        );
        assert_eq!(key_weakness(&key("RSA", Some(2048), None)), None);
        assert_eq!(
            key_weakness(&key("EC", Some(192), Some("P-192"))),
            Some(Weakness::SmallEcCurve { curve: "P-192".into(), bits: 192 })
        );
        assert_eq!(key_weakness(&key("EC", Some(224), Some("P-224"))), None);
        assert_eq!(key_weakness(&key("DSA", None, None)), Some(Weakness::DsaKey));
        assert_eq!(key_weakness(&key("Ed25519", None, None)), None);
        assert_eq!(key_weakness(&key("RSA", None, None)), None, "an unread modulus is not judged");
    }

    #[test]
    fn signatures() {
        for weak in [
            "sha1WithRSAEncryption",
            "ecdsa-with-SHA1",
            "md5WithRSAEncryption",
            "dsa-with-SHA1",
            "md2WithRSAEncryption",
        ] {
            assert_eq!(signature(weak), Some(Weakness::WeakSignature { algorithm: weak.into() }), "{weak}");
        }
        for fine in
            ["sha256WithRSAEncryption", "ecdsa-with-SHA384", "ED25519", "rsassaPss", "dsa_with_SHA256"]
        {
            assert_eq!(signature(fine), None, "{fine}");
        }
    }

    #[test]
    fn signature_first_then_key_and_display() {
        let found = signed("sha1WithRSAEncryption", &key("RSA", Some(1024), None));
        assert_eq!(
            found,
            vec![
                Weakness::WeakSignature { algorithm: "sha1WithRSAEncryption".into() },
                Weakness::ShortRsaKey { bits: 1024 }
            ]
        );
        let notes: Vec<String> = notes(&found).collect();
        assert!(notes[0].starts_with("weak signature algorithm sha1WithRSAEncryption"), "{}", notes[0]);
        assert!(notes[1].starts_with("RSA key shorter than 2048 bits (1024 bits)"), "{}", notes[1]);
        assert!(Weakness::DsaKey.to_string().starts_with("DSA key"));
    }

    #[test]
    fn serialized_with_a_kind() {
        let json = serde_json::to_string(&Weakness::ShortRsaKey { bits: 1024 }).unwrap_or_default();
        assert_eq!(json, r#"{"kind":"short_rsa_key","bits":1024}"#);
        let json = serde_json::to_string(&Weakness::DsaKey).unwrap_or_default();
        assert_eq!(json, r#"{"kind":"dsa_key"}"#);
    }
}
