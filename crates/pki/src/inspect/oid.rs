//! Object identifiers and the names pgharden shows for them: key algorithms, named curves,
//! signature algorithms, PBES1/PBES2/PKCS#12 encryption schemes, PBKDF2 PRFs, ciphers and the
//! attribute types of distinguished names.
//!
//! Tables only, keyed by the dotted-decimal form: nothing here parses DER or judges strength
//! (that is `weakness`).

use x509_parser::objects::{oid_registry, oid2sn};

pub(super) const OID_RSA: &str = "1.2.840.113549.1.1.1";
pub(super) const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
pub(super) const OID_EC: &str = "1.2.840.10045.2.1";
pub(super) const OID_ED25519: &str = "1.3.101.112";
pub(super) const OID_ED448: &str = "1.3.101.113";
pub(super) const OID_X25519: &str = "1.3.101.110";
pub(super) const OID_X448: &str = "1.3.101.111";
pub(super) const OID_DSA: &str = "1.2.840.10040.4.1";

pub(super) const OID_PBES2: &str = "1.2.840.113549.1.5.13";
pub(super) const OID_PBKDF2: &str = "1.2.840.113549.1.5.12";
pub(super) const OID_SCRYPT: &str = "1.3.6.1.4.1.11591.4.11";

/// A named curve: (OID, name, bits, OpenSSL name).
pub(super) const CURVES: &[(&str, &str, u32, &str)] = &[
    ("1.2.840.10045.3.1.7", "P-256", 256, "prime256v1"),
    ("1.3.132.0.34", "P-384", 384, "secp384r1"),
    ("1.3.132.0.35", "P-521", 521, "secp521r1"),
    ("1.3.132.0.33", "P-224", 224, "secp224r1"),
    ("1.2.840.10045.3.1.1", "P-192", 192, "prime192v1"),
    ("1.3.132.0.10", "secp256k1", 256, "secp256k1"),
    ("1.3.36.3.3.2.8.1.1.7", "brainpoolP256r1", 256, "brainpoolP256r1"),
    ("1.3.36.3.3.2.8.1.1.11", "brainpoolP384r1", 384, "brainpoolP384r1"),
    ("1.3.36.3.3.2.8.1.1.13", "brainpoolP512r1", 512, "brainpoolP512r1"),
];

/// OpenSSL's name of a signature algorithm, e.g. "ecdsa-with-SHA384".
pub(super) fn signature_algorithm_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.2" => "md2WithRSAEncryption",
        "1.2.840.113549.1.1.3" => "md4WithRSAEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "ED25519",
        "1.3.101.113" => "ED448",
        "1.2.840.10040.4.3" => "dsa-with-SHA1",
        "2.16.840.1.101.3.4.3.2" => "dsa_with_SHA256",
        other => return format!("unknown ({other})"),
    }
    .to_string()
}

/// A certificate extension's or key purpose's name with its OID, from x509-parser's registry.
pub(super) fn oid_name(oid: &x509_parser::asn1_rs::Oid<'_>) -> String {
    match oid2sn(oid, oid_registry()) {
        Ok(sn) => format!("{sn} ({})", oid.to_id_string()),
        Err(_) => oid.to_id_string(),
    }
}

/// The short name of a distinguished-name attribute type, as OpenSSL's RFC 2253 printing uses.
pub(super) fn attribute_short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.12" => "title",
        "2.5.4.17" => "postalCode",
        "2.5.4.42" => "GN",
        "2.5.4.46" => "dnQualifier",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "emailAddress",
        _ => return None,
    })
}

/// The PBKDF2 pseudo-random function.
pub(super) fn prf_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.2.7" => "HMAC-SHA1".to_string(),
        "1.2.840.113549.2.8" => "HMAC-SHA224".to_string(),
        "1.2.840.113549.2.9" => "HMAC-SHA256".to_string(),
        "1.2.840.113549.2.10" => "HMAC-SHA384".to_string(),
        "1.2.840.113549.2.11" => "HMAC-SHA512".to_string(),
        other => format!("PRF {other}"),
    }
}

/// The PBES2 encryption scheme (cipher and mode).
pub(super) fn cipher_name(oid: &str) -> String {
    match oid {
        "2.16.840.1.101.3.4.1.2" => "AES-128-CBC".to_string(),
        "2.16.840.1.101.3.4.1.22" => "AES-192-CBC".to_string(),
        "2.16.840.1.101.3.4.1.42" => "AES-256-CBC".to_string(),
        "2.16.840.1.101.3.4.1.6" => "AES-128-GCM".to_string(),
        "2.16.840.1.101.3.4.1.26" => "AES-192-GCM".to_string(),
        "2.16.840.1.101.3.4.1.46" => "AES-256-GCM".to_string(),
        "1.2.840.113549.3.7" => "DES-EDE3-CBC".to_string(),
        "1.3.14.3.2.7" => "DES-CBC".to_string(),
        "1.2.840.113549.3.2" => "RC2-CBC".to_string(),
        "1.2.392.200011.61.1.1.1.4" => "CAMELLIA-256-CBC".to_string(),
        other => format!("cipher {other}"),
    }
}

/// PBES1 (PKCS#5 v1.5): (digest, cipher).
pub(super) fn pbes1_scheme(oid: &str) -> Option<(&'static str, &'static str)> {
    match oid {
        "1.2.840.113549.1.5.1" => Some(("MD2", "DES-CBC")),
        "1.2.840.113549.1.5.3" => Some(("MD5", "DES-CBC")),
        "1.2.840.113549.1.5.4" => Some(("MD2", "RC2-CBC")),
        "1.2.840.113549.1.5.6" => Some(("MD5", "RC2-CBC")),
        "1.2.840.113549.1.5.10" => Some(("SHA1", "DES-CBC")),
        "1.2.840.113549.1.5.11" => Some(("SHA1", "RC2-CBC")),
        _ => None,
    }
}

/// PKCS#12 password-based encryption (always SHA-1): the cipher.
pub(super) fn pkcs12_scheme(oid: &str) -> Option<&'static str> {
    match oid {
        "1.2.840.113549.1.12.1.1" => Some("RC4-128"),
        "1.2.840.113549.1.12.1.2" => Some("RC4-40"),
        "1.2.840.113549.1.12.1.3" => Some("DES-EDE3-CBC"),
        "1.2.840.113549.1.12.1.4" => Some("DES-EDE-CBC (two-key)"),
        "1.2.840.113549.1.12.1.5" => Some("RC2-128-CBC"),
        "1.2.840.113549.1.12.1.6" => Some("RC2-40-CBC"),
        _ => None,
    }
}

/// A CRL entry's reason code (RFC 5280 5.3.1).
pub(super) fn reason_name(code: u8) -> String {
    match code {
        0 => "unspecified".to_string(),
        1 => "key compromise (keyCompromise)".to_string(),
        2 => "CA compromise (cACompromise)".to_string(),
        3 => "affiliation changed (affiliationChanged)".to_string(),
        4 => "superseded".to_string(),
        5 => "cessation of operation (cessationOfOperation)".to_string(),
        6 => "certificate on hold (certificateHold)".to_string(),
        8 => "remove from CRL (removeFromCRL)".to_string(),
        9 => "privilege withdrawn (privilegeWithdrawn)".to_string(),
        10 => "attribute authority compromise (aACompromise)".to_string(),
        n => format!("reason code {n}"),
    }
}
