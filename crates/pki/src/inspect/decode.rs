//! Which decoder explains a block: by PEM label, or for a DER file by trying each structure in
//! turn; and the intermediate [`Decoded`] the linking step needs.
//!
//! It owns the dispatch only, not the decoding of any structure.

use time::OffsetDateTime;

use super::certificate::certificate;
use super::crl::crl;
use super::csr::csr;
use super::encrypted::{encrypted_pkcs8_key, legacy_encrypted_key};
use super::key::{pkcs1_key, pkcs8_key, sec1_key};
use super::pem::PemBlock;
use super::public_key::{pkcs1_public_key, spki_public_key};
use super::{Item, UnknownBlock};

/// An item plus what linking needs.
pub(super) struct Decoded {
    pub(super) item: Item,
    /// DER of certificates and CRLs, kept to check signatures across items.
    pub(super) der: Option<Vec<u8>>,
    pub(super) spki_sha256: Option<String>,
}

type DecodeResult = Result<Decoded, (String, String)>;

fn want(what: &'static str) -> impl Fn(String) -> (String, String) {
    move |detail| (what.to_string(), detail)
}

pub(super) fn decode_pem_block(index: usize, block: &PemBlock, now: OffsetDateTime) -> DecodeResult {
    let label = Some(block.label.clone());
    let der = block.der.as_slice();
    match block.label.as_str() {
        "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => {
            certificate(index, label, der, now).map_err(want("certificate"))
        }
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => {
            csr(index, label, der).map_err(want("certificate request"))
        }
        "X509 CRL" => crl(index, label, der, now).map_err(want("CRL")),
        "PRIVATE KEY" => pkcs8_key(index, label, der).map_err(want("PKCS#8 private key")),
        "ENCRYPTED PRIVATE KEY" => {
            encrypted_pkcs8_key(index, label, der).map_err(want("encrypted PKCS#8 private key"))
        }
        "EC PRIVATE KEY" if block.legacy_encrypted => {
            Ok(legacy_encrypted_key(index, label, "SEC1 (EC PRIVATE KEY)", "EC", block.dek_info.as_deref()))
        }
        "RSA PRIVATE KEY" if block.legacy_encrypted => Ok(legacy_encrypted_key(
            index,
            label,
            "PKCS#1 (RSA PRIVATE KEY)",
            "RSA",
            block.dek_info.as_deref(),
        )),
        "EC PRIVATE KEY" => sec1_key(index, label, der).map_err(want("SEC1 EC private key")),
        "RSA PRIVATE KEY" => pkcs1_key(index, label, der).map_err(want("PKCS#1 RSA private key")),
        "PUBLIC KEY" => spki_public_key(index, label, der).map_err(want("public key")),
        "RSA PUBLIC KEY" => pkcs1_public_key(index, label, der).map_err(want("PKCS#1 RSA public key")),
        other => {
            let description = known_other_block(other)
                .map_or_else(|| format!("unknown PEM block type \"{other}\""), str::to_string);
            Ok(Decoded {
                item: Item::Unknown(UnknownBlock { index, pem_label: label, description }),
                der: None,
                spki_sha256: None,
            })
        }
    }
}

/// PEM block types that are neither certificates nor keys but are expected
/// in the wild (and so deserve no warning).
pub(super) fn known_other_block(label: &str) -> Option<&'static str> {
    match label {
        "EC PARAMETERS" => Some("EC curve parameters (as `openssl ecparam` writes them), not a key"),
        "DH PARAMETERS" => Some("Diffie-Hellman parameters, not a key"),
        "PKCS7" | "CMS" => Some("a PKCS#7/CMS structure, not explained here"),
        _ => None,
    }
}

/// A DER file: try each structure in turn.
pub(super) fn decode_der(der: &[u8], now: OffsetDateTime) -> Option<Decoded> {
    if der.first() != Some(&0x30) {
        return None;
    }
    certificate(1, None, der, now)
        .ok()
        .or_else(|| crl(1, None, der, now).ok())
        .or_else(|| csr(1, None, der).ok())
        .or_else(|| pkcs8_key(1, None, der).ok())
        .or_else(|| encrypted_pkcs8_key(1, None, der).ok())
        .or_else(|| sec1_key(1, None, der).ok())
        .or_else(|| pkcs1_key(1, None, der).ok())
        .or_else(|| spki_public_key(1, None, der).ok())
        .or_else(|| pkcs1_public_key(1, None, der).ok())
}
