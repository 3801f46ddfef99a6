//! `pgharden pki show FILE`: explain a certificate, certificate request, CRL
//! or key file in plain words.
//!
//! PEM files may hold any number of blocks (a chain file shows every
//! certificate, numbered, and which one issued which); DER files are tried as
//! a certificate, a CRL, a certificate request and the key formats in turn.
//! Nothing here needs a passphrase: for an encrypted key we report the
//! encryption scheme, not the key.
//!
//! The structured result keeps every value as the file has it; the text
//! rendering and the error messages escape each value with `pgharden_text`, so
//! a hostile certificate (or a server serving one to `probe`) can neither add a
//! line to the report nor send a control sequence to the terminal.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::asn1_rs::{Any, Class};
use x509_parser::certificate::X509Certificate;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::error::X509Error;
use x509_parser::extensions::{
    DistributionPointName, ExtendedKeyUsage, GeneralName, KeyUsage, ParsedExtension,
};
use x509_parser::objects::{oid_registry, oid2sn};
use x509_parser::prelude::FromDer;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

mod weakness;

pub use weakness::{MIN_EC_BITS, MIN_RSA_BITS, Weakness};

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/// Everything found in one file.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The file name (or other origin) as given.
    pub file: String,
    /// The items in file order; `index` fields count from 1.
    pub items: Vec<Item>,
    /// File-level warnings (key file permissions, unknown blocks, ...).
    pub warnings: Vec<String>,
}

/// One certificate, request, CRL or key.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // a file holds a handful of items; boxing buys nothing
pub enum Item {
    Certificate(CertificateInfo),
    CertificateRequest(CsrInfo),
    Crl(CrlInfo),
    PrivateKey(KeyInfo),
    PublicKey(PublicKeyInfo),
    /// A PEM block of a type this tool does not explain.
    Unknown(UnknownBlock),
}

/// A public key's algorithm and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeySummary {
    /// "RSA", "RSA-PSS", "EC", "Ed25519", "Ed448", "X25519", "X448", "DSA", or an OID.
    pub algorithm: String,
    /// Modulus size for RSA, curve size for EC.
    pub bits: Option<u32>,
    /// "P-256", "P-384", "P-521", ... for EC keys.
    pub curve: Option<String>,
    /// Plain words, e.g. "EC P-256 (prime256v1)" or "RSA 2048 bits".
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BasicConstraintsInfo {
    pub ca: bool,
    pub path_len: Option<u32>,
    pub critical: bool,
}

/// A link to the item (in the same file) that signed this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuerLink {
    /// The issuer's `index` in this file.
    pub item: usize,
    /// `Some(true)` if the signature checks out with the issuer's key,
    /// `None` if the algorithm could not be checked here.
    pub signature_verified: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CertificateInfo {
    pub index: usize,
    /// The PEM block type, or `None` for a DER file.
    pub pem_label: Option<String>,
    /// "root CA", "intermediate CA", "TLS server certificate", ...
    pub role: String,
    /// RFC 4514 form (most specific attribute first), as PostgreSQL prints DNs.
    pub subject: String,
    pub issuer: String,
    /// Lowercase hex without colons.
    pub serial: String,
    pub version: u32,
    /// RFC 3339, UTC.
    pub not_before: String,
    pub not_after: String,
    /// `not_before` and `not_after` in seconds since the Unix epoch, for judging without
    /// parsing the text.
    pub not_before_unix: i64,
    pub not_after_unix: i64,
    /// "valid, expires in 364 days", "EXPIRED 3 days ago", "not yet valid (starts in 2 days)".
    pub status: String,
    pub expired: bool,
    pub not_yet_valid: bool,
    pub key: KeySummary,
    /// SHA-256 of the SubjectPublicKeyInfo DER, uppercase hex with colons.
    pub spki_sha256: String,
    /// OpenSSL's name, e.g. "ecdsa-with-SHA384", "sha256WithRSAEncryption", "ED25519".
    pub signature_algorithm: String,
    pub self_signed: bool,
    /// For self-signed certificates: does the signature verify with its own key?
    pub self_signature_verifies: Option<bool>,
    pub basic_constraints: Option<BasicConstraintsInfo>,
    pub key_usage: Vec<String>,
    pub extended_key_usage: Vec<String>,
    /// "DNS:name", "IP:address", "email:...", "URI:..."
    pub subject_alt_names: Vec<String>,
    pub subject_key_id: Option<String>,
    pub authority_key_id: Option<String>,
    pub crl_distribution_points: Vec<String>,
    pub other_extensions: Vec<String>,
    /// SHA-256 of the certificate DER, as `openssl x509 -fingerprint -sha256` prints it.
    pub sha256_fingerprint: String,
    pub issued_by: Option<IssuerLink>,
    /// Items in this file that this certificate issued.
    pub issued: Vec<usize>,
    /// The key's and the signature's weaknesses; each is also among `notes`.
    pub weaknesses: Vec<Weakness>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CsrInfo {
    pub index: usize,
    pub pem_label: Option<String>,
    pub subject: String,
    pub key: KeySummary,
    pub spki_sha256: String,
    pub signature_algorithm: String,
    /// `Some(true)` if the request's self-signature verifies; `None` if the
    /// algorithm could not be checked here.
    pub signature_verifies: Option<bool>,
    pub subject_alt_names: Vec<String>,
    /// One line per requested extension, in plain words.
    pub requested_extensions: Vec<String>,
    /// The key's and the signature's weaknesses; each is also among `notes`.
    pub weaknesses: Vec<Weakness>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RevokedEntry {
    pub serial: String,
    pub revocation_date: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CrlInfo {
    pub index: usize,
    pub pem_label: Option<String>,
    pub issuer: String,
    pub version: u32,
    pub this_update: String,
    pub next_update: Option<String>,
    /// `this_update` and `next_update` in seconds since the Unix epoch.
    pub this_update_unix: i64,
    pub next_update_unix: Option<i64>,
    /// True when `next_update` is in the past.
    pub stale: bool,
    pub status: String,
    /// Decimal.
    pub crl_number: Option<String>,
    pub authority_key_id: Option<String>,
    pub signature_algorithm: String,
    pub revoked_count: usize,
    pub revoked: Vec<RevokedEntry>,
    pub issued_by: Option<IssuerLink>,
    /// The signature's weaknesses; each is also among `notes`.
    pub weaknesses: Vec<Weakness>,
    pub notes: Vec<String>,
}

/// How an encrypted key is protected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EncryptionInfo {
    /// "PBES2", "PBES1", "PKCS#12 PBE", "OpenSSL legacy PEM encryption", or an OID.
    pub scheme: String,
    /// "PBKDF2-HMAC-SHA256", "scrypt", ...
    pub kdf: Option<String>,
    pub iterations: Option<u64>,
    pub scrypt_n: Option<u64>,
    pub scrypt_r: Option<u64>,
    pub scrypt_p: Option<u64>,
    /// "AES-256-CBC", ...
    pub cipher: Option<String>,
    /// All of the above in plain words.
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    pub index: usize,
    pub pem_label: Option<String>,
    /// "PKCS#8 v1 (PrivateKeyInfo)", "PKCS#8 v2 (OneAsymmetricKey)", "SEC1 (EC PRIVATE KEY)",
    /// "PKCS#1 (RSA PRIVATE KEY)", "encrypted PKCS#8 (EncryptedPrivateKeyInfo)".
    pub format: String,
    pub encrypted: bool,
    /// `None` when encryption hides the algorithm.
    pub key: Option<KeySummary>,
    pub encryption: Option<EncryptionInfo>,
    /// SHA-256 of the matching SubjectPublicKeyInfo DER, when it can be had
    /// without a passphrase.
    pub spki_sha256: Option<String>,
    /// Items in this file with the same public key.
    pub matches: Vec<usize>,
    /// The key's weaknesses (none known while encryption hides the key); each is also among
    /// `notes`.
    pub weaknesses: Vec<Weakness>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PublicKeyInfo {
    pub index: usize,
    pub pem_label: Option<String>,
    /// "SubjectPublicKeyInfo" or "PKCS#1 (RSA PUBLIC KEY)".
    pub format: String,
    pub key: KeySummary,
    pub spki_sha256: String,
    pub matches: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnknownBlock {
    pub index: usize,
    pub pem_label: Option<String>,
    pub description: String,
}

/// Why a file could not be inspected. Every message starts with the file name.
///
/// The messages quote the file (a PEM label, a parser's complaint): what they quote is escaped with
/// [`pgharden_text::line`] and cut to [`QUOTE_MAX`] bytes, so an error is one line of bounded length
/// whatever the file holds; the file name is escaped too. The fields keep the original text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    #[error("{}: no such file", shown(.file))]
    NotFound { file: String },
    #[error("{}: cannot read: {error}", shown(.file))]
    Unreadable { file: String, error: std::io::Error },
    #[error("{}: the file is empty", shown(.file))]
    Empty { file: String },
    #[error("{}: truncated PEM: BEGIN {} without END (block {block})", shown(.file), quote(.label))]
    TruncatedPem { file: String, block: usize, label: String },
    #[error("{}: corrupt PEM in block {block} ({}): {}", shown(.file), quote(.label), quote(.detail))]
    CorruptPem { file: String, block: usize, label: String, detail: String },
    #[error(
        "{}: PEM block {block} ({}) does not hold a valid {expected}: {}",
        shown(.file),
        quote(.label),
        quote(.detail)
    )]
    BadDer { file: String, block: usize, label: String, expected: String, detail: String },
    #[error(
        "{}: not recognised: neither PEM nor a DER certificate, CRL, certificate request or key",
        shown(.file)
    )]
    Unrecognized { file: String },
}

/// The longest quotation of the input an error message carries, in bytes.
pub const QUOTE_MAX: usize = 200;

/// A file name in an error: escaped, never cut (it is the user's, or the PKI's, and must be found).
fn shown(s: &str) -> String {
    pgharden_text::line(s).into_owned()
}

/// Input quoted in an error: cut, then escaped.
fn quote(s: &str) -> String {
    pgharden_text::line(&pgharden_text::cut(s, QUOTE_MAX)).into_owned()
}

// ---------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------

/// Read and explain `path`. For a file holding a private key, also warn when
/// its permissions are looser than PostgreSQL and libpq accept.
pub fn inspect_file(path: &Path) -> Result<Inspection, InspectError> {
    let file = path.display().to_string();
    let bytes = crate::files::read_capped(path).map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            InspectError::NotFound { file: file.clone() }
        } else {
            InspectError::Unreadable { file: file.clone(), error }
        }
    })?;
    let mut inspection = inspect_bytes(&file, &bytes)?;
    if inspection.items.iter().any(|item| matches!(item, Item::PrivateKey(_)))
        && let Some(warning) = key_permission_warning(path)
    {
        inspection.warnings.push(warning);
    }
    Ok(inspection)
}

/// Explain `bytes`; `origin` names them in messages (usually the file name).
pub fn inspect_bytes(origin: &str, bytes: &[u8]) -> Result<Inspection, InspectError> {
    inspect_bytes_at(origin, bytes, OffsetDateTime::now_utc())
}

/// [`inspect_bytes`] with an explicit "now" for the validity wording.
pub fn inspect_bytes_at(origin: &str, bytes: &[u8], now: OffsetDateTime) -> Result<Inspection, InspectError> {
    let file = origin.to_string();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(InspectError::Empty { file });
    }
    let mut warnings = Vec::new();
    let mut decoded: Vec<Decoded> = Vec::new();

    if contains(bytes, b"-----BEGIN ") {
        let text = String::from_utf8_lossy(bytes);
        let blocks = split_pem(&file, &text)?;
        for (i, block) in blocks.iter().enumerate() {
            let index = i + 1;
            let d =
                decode_pem_block(index, block, now).map_err(|(expected, detail)| InspectError::BadDer {
                    file: file.clone(),
                    block: index,
                    label: block.label.clone(),
                    expected,
                    detail,
                })?;
            if let Item::Unknown(u) = &d.item
                && known_other_block(&block.label).is_none()
            {
                warnings.push(format!(
                    "block {index}: unknown PEM block type \"{}\" skipped",
                    u.pem_label.as_deref().unwrap_or("")
                ));
            }
            decoded.push(d);
        }
    } else {
        match decode_der(bytes, now) {
            Some(d) => decoded.push(d),
            None => return Err(InspectError::Unrecognized { file }),
        }
    }

    link_items(&mut decoded);
    Ok(Inspection { file, items: decoded.into_iter().map(|d| d.item).collect(), warnings })
}

impl Item {
    /// The item's position in its file, counting from 1.
    pub fn index(&self) -> usize {
        match self {
            Item::Certificate(c) => c.index,
            Item::CertificateRequest(c) => c.index,
            Item::Crl(c) => c.index,
            Item::PrivateKey(k) => k.index,
            Item::PublicKey(k) => k.index,
            Item::Unknown(u) => u.index,
        }
    }
}

// ---------------------------------------------------------------------------
// File permissions
// ---------------------------------------------------------------------------

#[cfg(unix)]
fn key_permission_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    let mode = meta.mode() & 0o7777;
    let root_owned = meta.uid() == 0;
    // be-secure-common.c / fe-secure-openssl.c: root-owned files may be
    // u=rw,g=r (0640) or less; any other owner needs u=rw (0600) or less.
    let too_open = if root_owned { mode & 0o037 != 0 } else { mode & 0o077 != 0 };
    too_open.then(|| {
        format!(
            "private key file has mode {mode:04o}{}: PostgreSQL and libpq refuse a key file with group or world access; it must be 0600 or less, or 0640 or less if owned by root",
            if root_owned { " (owned by root)" } else { "" }
        )
    })
}

#[cfg(not(unix))]
fn key_permission_warning(_path: &Path) -> Option<String> {
    None
}

// ---------------------------------------------------------------------------
// PEM
// ---------------------------------------------------------------------------

struct PemBlock {
    label: String,
    der: Vec<u8>,
    /// `Proc-Type: 4,ENCRYPTED` (OpenSSL's legacy PEM encryption).
    legacy_encrypted: bool,
    dek_info: Option<String>,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn split_pem(file: &str, text: &str) -> Result<Vec<PemBlock>, InspectError> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, usize)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let t = line.trim();
        if let Some(label) = t.strip_prefix("-----BEGIN ").and_then(|r| r.strip_suffix("-----")) {
            if let Some((label, _)) = open {
                return Err(InspectError::TruncatedPem {
                    file: file.to_string(),
                    block: blocks.len() + 1,
                    label,
                });
            }
            open = Some((label.to_string(), start));
        } else if let Some(end_label) = t.strip_prefix("-----END ").and_then(|r| r.strip_suffix("-----")) {
            let block = blocks.len() + 1;
            let Some((label, begin)) = open.take() else {
                return Err(InspectError::CorruptPem {
                    file: file.to_string(),
                    block,
                    label: end_label.to_string(),
                    detail: format!("END {end_label} without BEGIN"),
                });
            };
            if label != end_label {
                return Err(InspectError::CorruptPem {
                    file: file.to_string(),
                    block,
                    label: label.clone(),
                    detail: format!("BEGIN {label} closed by END {end_label}"),
                });
            }
            let pem = pem::parse(&text[begin..offset]).map_err(|e| InspectError::CorruptPem {
                file: file.to_string(),
                block,
                label: label.clone(),
                detail: describe_pem_error(&e),
            })?;
            let legacy_encrypted =
                pem.headers().get("Proc-Type").is_some_and(|v| v.to_ascii_uppercase().contains("ENCRYPTED"));
            let dek_info = pem.headers().get("DEK-Info").map(str::to_string);
            blocks.push(PemBlock { label, der: pem.into_contents(), legacy_encrypted, dek_info });
        }
    }
    if let Some((label, _)) = open {
        return Err(InspectError::TruncatedPem { file: file.to_string(), block: blocks.len() + 1, label });
    }
    if blocks.is_empty() {
        return Err(InspectError::CorruptPem {
            file: file.to_string(),
            block: 1,
            label: "?".to_string(),
            detail: "a \"-----BEGIN \" marker but no well-formed PEM block".to_string(),
        });
    }
    Ok(blocks)
}

fn describe_pem_error(e: &pem::PemError) -> String {
    match e {
        pem::PemError::InvalidData(d) => format!("base64 does not decode: {d}"),
        pem::PemError::MissingData => "no data between BEGIN and END".to_string(),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Decoding items
// ---------------------------------------------------------------------------

/// An item plus what linking needs.
struct Decoded {
    item: Item,
    /// DER of certificates and CRLs, kept to check signatures across items.
    der: Option<Vec<u8>>,
    spki_sha256: Option<String>,
}

type DecodeResult = Result<Decoded, (String, String)>;

fn want(what: &'static str) -> impl Fn(String) -> (String, String) {
    move |detail| (what.to_string(), detail)
}

fn decode_pem_block(index: usize, block: &PemBlock, now: OffsetDateTime) -> DecodeResult {
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
fn known_other_block(label: &str) -> Option<&'static str> {
    match label {
        "EC PARAMETERS" => Some("EC curve parameters (as `openssl ecparam` writes them), not a key"),
        "DH PARAMETERS" => Some("Diffie-Hellman parameters, not a key"),
        "PKCS7" | "CMS" => Some("a PKCS#7/CMS structure, not explained here"),
        _ => None,
    }
}

/// A DER file: try each structure in turn.
fn decode_der(der: &[u8], now: OffsetDateTime) -> Option<Decoded> {
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

// ---------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------

fn certificate(
    index: usize,
    pem_label: Option<String>,
    der: &[u8],
    now: OffsetDateTime,
) -> Result<Decoded, String> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
    let mut notes = Vec::new();
    if !rest.is_empty() && pem_label.as_deref() != Some("TRUSTED CERTIFICATE") {
        if pem_label.is_none() {
            // A DER file must be exactly one structure.
            return Err(format!("{} bytes after the certificate", rest.len()));
        }
        notes.push(format!("{} unexpected bytes follow the certificate", rest.len()));
    }

    let spki = cert.public_key();
    let key = spki_summary(spki.raw);
    let spki_sha256 = colon_hex(&Sha256::digest(spki.raw));
    let not_before = cert.validity().not_before.to_datetime();
    let not_after = cert.validity().not_after.to_datetime();
    let (status, expired, not_yet_valid) = validity_status(not_before, not_after, now);

    let mut basic_constraints = None;
    let mut key_usage = Vec::new();
    let mut key_usage_present = false;
    let mut extended_key_usage = Vec::new();
    let mut eku: Option<(bool, bool)> = None;
    let mut subject_alt_names = Vec::new();
    let mut subject_key_id = None;
    let mut authority_key_id = None;
    let mut crl_distribution_points = Vec::new();
    let mut other_extensions = Vec::new();
    let mut can_sign_certs = false;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => {
                basic_constraints = Some(BasicConstraintsInfo {
                    ca: bc.ca,
                    path_len: bc.path_len_constraint,
                    critical: ext.critical,
                });
            }
            ParsedExtension::KeyUsage(ku) => {
                key_usage_present = true;
                can_sign_certs = ku.key_cert_sign();
                key_usage = key_usage_names(ku);
            }
            ParsedExtension::ExtendedKeyUsage(e) => {
                eku = Some((e.server_auth || e.any, e.client_auth || e.any));
                extended_key_usage = eku_names(e);
            }
            ParsedExtension::SubjectAlternativeName(san) => {
                subject_alt_names = san.general_names.iter().map(general_name).collect();
            }
            ParsedExtension::SubjectKeyIdentifier(ki) => subject_key_id = Some(colon_hex(ki.0)),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority_key_id = aki.key_identifier.as_ref().map(|ki| colon_hex(ki.0));
            }
            ParsedExtension::CRLDistributionPoints(points) => {
                for point in points.iter() {
                    match &point.distribution_point {
                        Some(DistributionPointName::FullName(names)) => {
                            crl_distribution_points.extend(names.iter().map(|n| match n {
                                GeneralName::URI(u) => (*u).to_string(),
                                other => general_name(other),
                            }));
                        }
                        Some(DistributionPointName::NameRelativeToCRLIssuer(_)) => {
                            crl_distribution_points.push("(a name relative to the CRL issuer)".to_string());
                        }
                        None => {}
                    }
                }
            }
            ParsedExtension::ParseError { error } => {
                notes.push(format!("extension {} could not be decoded: {error}", oid_name(&ext.oid)));
            }
            _ => other_extensions.push(format!(
                "{}{}",
                oid_name(&ext.oid),
                if ext.critical { " (critical)" } else { "" }
            )),
        }
    }

    let self_signed = cert.subject().as_raw() == cert.issuer().as_raw()
        && match (&authority_key_id, &subject_key_id) {
            (Some(aki), Some(ski)) => aki == ski,
            _ => true,
        };
    let self_signature_verifies =
        if self_signed { signature_outcome(cert.verify_signature(None)) } else { None };
    if self_signature_verifies == Some(false) {
        notes.push("the self-signature does NOT verify with the certificate's own key".into());
    }

    let version = cert.version().0 + 1;
    let is_ca = basic_constraints.as_ref().is_some_and(|bc| bc.ca) || (version == 1 && self_signed);
    let role = if is_ca {
        if self_signed { "root CA" } else { "intermediate CA" }
    } else {
        match eku {
            Some((true, true)) => "TLS server and client certificate",
            Some((true, false)) => "TLS server certificate",
            Some((false, true)) => "TLS client certificate",
            _ => "end-entity certificate",
        }
    }
    .to_string();

    if is_ca && key_usage_present && !can_sign_certs {
        notes.push(
            "a CA certificate whose keyUsage lacks keyCertSign: OpenSSL will not accept it as an issuer"
                .into(),
        );
    }
    let signature_algorithm = signature_algorithm_name(&cert.signature_algorithm.algorithm.to_id_string());
    let weaknesses = weakness::signed(&signature_algorithm, &key);
    notes.extend(weakness::notes(&weaknesses));

    Ok(Decoded {
        item: Item::Certificate(CertificateInfo {
            index,
            pem_label,
            role,
            subject: format_name(cert.subject()),
            issuer: format_name(cert.issuer()),
            serial: serial_hex(cert.raw_serial()),
            version,
            not_before: rfc3339(not_before),
            not_after: rfc3339(not_after),
            not_before_unix: not_before.unix_timestamp(),
            not_after_unix: not_after.unix_timestamp(),
            status,
            expired,
            not_yet_valid,
            key,
            spki_sha256: spki_sha256.clone(),
            signature_algorithm,
            self_signed,
            self_signature_verifies,
            basic_constraints,
            key_usage,
            extended_key_usage,
            subject_alt_names,
            subject_key_id,
            authority_key_id,
            crl_distribution_points,
            other_extensions,
            sha256_fingerprint: colon_hex(&Sha256::digest(cert.as_raw())),
            issued_by: None,
            issued: Vec::new(),
            weaknesses,
            notes,
        }),
        der: Some(der[..der.len() - rest.len()].to_vec()),
        spki_sha256: Some(spki_sha256),
    })
}

fn signature_outcome(result: Result<(), X509Error>) -> Option<bool> {
    match result {
        Ok(()) => Some(true),
        Err(X509Error::SignatureUnsupportedAlgorithm) => None,
        Err(_) => Some(false),
    }
}

fn validity_status(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    now: OffsetDateTime,
) -> (String, bool, bool) {
    if now < not_before {
        (format!("not yet valid (starts in {})", human_duration(not_before - now)), false, true)
    } else if now > not_after {
        (format!("EXPIRED {} ago", human_duration(now - not_after)), true, false)
    } else {
        (format!("valid, expires in {}", human_duration(not_after - now)), false, false)
    }
}

fn human_duration(d: time::Duration) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    let days = d.whole_days();
    if days >= 1 {
        plural(days, "day")
    } else if d.whole_hours() >= 1 {
        plural(d.whole_hours(), "hour")
    } else if d.whole_minutes() >= 1 {
        plural(d.whole_minutes(), "minute")
    } else {
        "less than a minute".to_string()
    }
}

/// A timestamp as RFC 3339 (UTC), the one way pgharden prints times.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn key_usage_names(ku: &KeyUsage) -> Vec<String> {
    let all = [
        (ku.digital_signature(), "digital signature (digitalSignature)"),
        (ku.non_repudiation(), "non-repudiation (nonRepudiation)"),
        (ku.key_encipherment(), "key encipherment (keyEncipherment)"),
        (ku.data_encipherment(), "data encipherment (dataEncipherment)"),
        (ku.key_agreement(), "key agreement (keyAgreement)"),
        (ku.key_cert_sign(), "sign certificates (keyCertSign)"),
        (ku.crl_sign(), "sign CRLs (cRLSign)"),
        (ku.encipher_only(), "encipher only (encipherOnly)"),
        (ku.decipher_only(), "decipher only (decipherOnly)"),
    ];
    all.iter().filter(|(set, _)| *set).map(|(_, name)| (*name).to_string()).collect()
}

fn eku_names(e: &ExtendedKeyUsage<'_>) -> Vec<String> {
    let mut out: Vec<String> = [
        (e.server_auth, "TLS server (serverAuth)"),
        (e.client_auth, "TLS client (clientAuth)"),
        (e.code_signing, "code signing (codeSigning)"),
        (e.email_protection, "e-mail protection (emailProtection)"),
        (e.time_stamping, "time stamping (timeStamping)"),
        (e.ocsp_signing, "OCSP signing (OCSPSigning)"),
        (e.any, "any purpose (anyExtendedKeyUsage)"),
    ]
    .iter()
    .filter(|(set, _)| *set)
    .map(|(_, name)| (*name).to_string())
    .collect();
    out.extend(e.other.iter().map(|oid| oid_name(oid)));
    out
}

fn general_name(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::DNSName(s) => format!("DNS:{s}"),
        GeneralName::IPAddress(b) => format!("IP:{}", ip_bytes(b)),
        GeneralName::RFC822Name(s) => format!("email:{s}"),
        GeneralName::URI(s) => format!("URI:{s}"),
        GeneralName::DirectoryName(n) => format!("DirName:{}", format_name(n)),
        GeneralName::RegisteredID(oid) => format!("RID:{}", oid.to_id_string()),
        GeneralName::OtherName(oid, _) => format!("othername:{}", oid_name(oid)),
        GeneralName::X400Address(_) => "X400Name:<unsupported>".to_string(),
        GeneralName::EDIPartyName(_) => "EdiPartyName:<unsupported>".to_string(),
        GeneralName::Invalid(tag, data) => {
            format!("invalid name (tag {}): {}", tag.0, hex::encode(data))
        }
    }
}

fn ip_bytes(b: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(b) {
        Ipv4Addr::from(v4).to_string()
    } else if let Ok(v6) = <[u8; 16]>::try_from(b) {
        Ipv6Addr::from(v6).to_string()
    } else {
        format!("<{} bytes: {}>", b.len(), hex::encode(b))
    }
}

fn oid_name(oid: &x509_parser::asn1_rs::Oid<'_>) -> String {
    match oid2sn(oid, oid_registry()) {
        Ok(sn) => format!("{sn} ({})", oid.to_id_string()),
        Err(_) => oid.to_id_string(),
    }
}

// ---------------------------------------------------------------------------
// Names (RFC 4514)
// ---------------------------------------------------------------------------

/// RFC 4514: RDNs from last to first, `,` between RDNs, `+` inside one. This is also the form
/// PostgreSQL matches with `clientname=DN` (OpenSSL's RFC 2253 printing), so pgharden shows names
/// this way everywhere.
pub fn format_name(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> =
        name.iter_rdn().map(|rdn| rdn.iter().map(format_attribute).collect::<Vec<_>>().join("+")).collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

fn attribute_short_name(oid: &str) -> Option<&'static str> {
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

fn format_attribute(attr: &AttributeTypeAndValue<'_>) -> String {
    let oid = attr.attr_type().to_id_string();
    let key = attribute_short_name(&oid).map_or(oid, str::to_string);
    let value = match attribute_string(attr.attr_value()) {
        Some(s) => escape_rfc4514(&s),
        None => format!("#{}", hex::encode(any_der(attr.attr_value()))),
    };
    format!("{key}={value}")
}

/// The text of a directory string, decoding the ASN.1 string types.
fn attribute_string(any: &Any<'_>) -> Option<String> {
    let data = any.as_bytes();
    if any.class() != Class::Universal {
        return None;
    }
    match any.tag().0 {
        // UTF8String, NumericString, PrintableString, IA5String, VisibleString
        12 | 18 | 19 | 22 | 26 => Some(String::from_utf8_lossy(data).into_owned()),
        // TeletexString: treated as Latin-1, as OpenSSL does
        20 => Some(data.iter().map(|&b| char::from(b)).collect()),
        // BMPString: UTF-16BE
        30 => {
            let units: Vec<u16> =
                data.chunks(2).map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect();
            Some(String::from_utf16_lossy(&units))
        }
        // UniversalString: UTF-32BE
        28 => Some(
            data.chunks(4)
                .map(|c| {
                    let mut b = [0u8; 4];
                    b[..c.len()].copy_from_slice(c);
                    char::from_u32(u32::from_be_bytes(b)).unwrap_or('\u{fffd}')
                })
                .collect(),
        ),
        _ => None,
    }
}

/// Re-encode an `Any` as DER (single-byte tags only), for `#hex` values.
fn any_der(any: &Any<'_>) -> Vec<u8> {
    let class_bits = match any.class() {
        Class::Universal => 0x00,
        Class::Application => 0x40,
        Class::ContextSpecific => 0x80,
        Class::Private => 0xc0,
    };
    let constructed = if any.header.is_constructed() { 0x20 } else { 0 };
    let tag = u8::try_from(any.tag().0).unwrap_or(0x1f) & 0x1f;
    der::encode(class_bits | constructed | tag, any.as_bytes())
}

fn escape_rfc4514(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let last = s.chars().count().saturating_sub(1);
    for (i, c) in s.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Certificate requests
// ---------------------------------------------------------------------------

fn csr(index: usize, pem_label: Option<String>, der: &[u8]) -> Result<Decoded, String> {
    let (rest, req) = X509CertificationRequest::from_der(der).map_err(|e| e.to_string())?;
    if pem_label.is_none() && !rest.is_empty() {
        return Err(format!("{} bytes after the request", rest.len()));
    }
    let info = &req.certification_request_info;
    let spki = &info.subject_pki;
    let key = spki_summary(spki.raw);
    let spki_sha256 = colon_hex(&Sha256::digest(spki.raw));
    let mut subject_alt_names = Vec::new();
    let mut requested_extensions = Vec::new();
    if let Some(exts) = req.requested_extensions() {
        for ext in exts {
            match ext {
                ParsedExtension::SubjectAlternativeName(san) => {
                    subject_alt_names = san.general_names.iter().map(general_name).collect();
                    requested_extensions
                        .push(format!("subject alternative names: {}", subject_alt_names.join(", ")));
                }
                ParsedExtension::BasicConstraints(bc) => requested_extensions.push(format!(
                    "basic constraints: CA={}{}",
                    bc.ca,
                    bc.path_len_constraint.map(|p| format!(", pathlen={p}")).unwrap_or_default()
                )),
                ParsedExtension::KeyUsage(ku) => {
                    requested_extensions.push(format!("key usage: {}", key_usage_names(ku).join(", ")))
                }
                ParsedExtension::ExtendedKeyUsage(e) => {
                    requested_extensions.push(format!("extended key usage: {}", eku_names(e).join(", ")))
                }
                ParsedExtension::SubjectKeyIdentifier(ki) => {
                    requested_extensions.push(format!("subject key identifier: {}", colon_hex(ki.0)))
                }
                ParsedExtension::UnsupportedExtension { oid } => {
                    requested_extensions.push(format!("other: {}", oid_name(oid)));
                }
                ParsedExtension::ParseError { error } => {
                    requested_extensions.push(format!("undecodable extension: {error}"));
                }
                other => requested_extensions.push(format!("{other:?}")),
            }
        }
    }
    let signature_verifies = signature_outcome(req.verify_signature());
    let signature_algorithm = signature_algorithm_name(&req.signature_algorithm.algorithm.to_id_string());
    let mut notes = Vec::new();
    if signature_verifies == Some(false) {
        notes.push("the request's self-signature does NOT verify: it was altered or is corrupt".into());
    }
    let weaknesses = weakness::signed(&signature_algorithm, &key);
    notes.extend(weakness::notes(&weaknesses));
    Ok(Decoded {
        item: Item::CertificateRequest(CsrInfo {
            index,
            pem_label,
            subject: format_name(&info.subject),
            key,
            spki_sha256: spki_sha256.clone(),
            signature_algorithm,
            signature_verifies,
            subject_alt_names,
            requested_extensions,
            weaknesses,
            notes,
        }),
        der: None,
        spki_sha256: Some(spki_sha256),
    })
}

// ---------------------------------------------------------------------------
// CRLs
// ---------------------------------------------------------------------------

fn crl(index: usize, pem_label: Option<String>, der: &[u8], now: OffsetDateTime) -> Result<Decoded, String> {
    let (rest, list) = x509_parser::parse_x509_crl(der).map_err(|e| e.to_string())?;
    if pem_label.is_none() && !rest.is_empty() {
        return Err(format!("{} bytes after the CRL", rest.len()));
    }
    let this_update = list.last_update().to_datetime();
    let next_update = list.next_update().map(|t| t.to_datetime());
    let stale = next_update.is_some_and(|n| now > n);
    let status = match next_update {
        _ if now < this_update => {
            format!("not yet current (issued {} in the future)", human_duration(this_update - now))
        }
        None => "current (no next update given)".to_string(),
        Some(n) if now > n => format!("STALE: the next update was due {} ago", human_duration(now - n)),
        Some(n) => format!("current, next update due in {}", human_duration(n - now)),
    };
    let mut authority_key_id = None;
    let mut notes = Vec::new();
    for ext in list.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority_key_id = aki.key_identifier.as_ref().map(|ki| colon_hex(ki.0));
            }
            ParsedExtension::ParseError { error } => {
                notes.push(format!("extension {} could not be decoded: {error}", oid_name(&ext.oid)))
            }
            _ => {}
        }
    }
    let revoked: Vec<RevokedEntry> = list
        .iter_revoked_certificates()
        .map(|r| RevokedEntry {
            serial: serial_hex(r.raw_serial()),
            revocation_date: rfc3339(r.revocation_date.to_datetime()),
            reason: r.reason_code().map(|(_, code)| reason_name(code.0)),
        })
        .collect();
    let signature_algorithm = signature_algorithm_name(&list.signature_algorithm.algorithm.to_id_string());
    let weaknesses: Vec<Weakness> = weakness::signature(&signature_algorithm).into_iter().collect();
    notes.extend(weakness::notes(&weaknesses));
    Ok(Decoded {
        item: Item::Crl(CrlInfo {
            index,
            pem_label,
            issuer: format_name(list.issuer()),
            version: list.version().map_or(1, |v| v.0 + 1),
            this_update: rfc3339(this_update),
            next_update: next_update.map(rfc3339),
            this_update_unix: this_update.unix_timestamp(),
            next_update_unix: next_update.map(OffsetDateTime::unix_timestamp),
            stale,
            status,
            crl_number: list.crl_number().map(ToString::to_string),
            authority_key_id,
            signature_algorithm,
            revoked_count: revoked.len(),
            revoked,
            issued_by: None,
            weaknesses,
            notes,
        }),
        der: Some(der[..der.len() - rest.len()].to_vec()),
        spki_sha256: None,
    })
}

fn reason_name(code: u8) -> String {
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

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_ED448: &str = "1.3.101.113";
const OID_X25519: &str = "1.3.101.110";
const OID_X448: &str = "1.3.101.111";
const OID_DSA: &str = "1.2.840.10040.4.1";

/// DER of the OID 1.2.840.113549.1.1.1 (rsaEncryption).
const DER_OID_RSA: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// DER of the OID 1.2.840.10045.2.1 (id-ecPublicKey).
const DER_OID_EC: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const DER_NULL: &[u8] = &[0x05, 0x00];

/// (OID, name, bits, OpenSSL name)
const CURVES: &[(&str, &str, u32, &str)] = &[
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

/// What a key's algorithm identifier and public material say about it.
fn key_summary(
    alg_oid: &str,
    params: Option<der::Tlv<'_>>,
    rsa_modulus: Option<&[u8]>,
    ec_point: Option<&[u8]>,
) -> KeySummary {
    let simple = |algorithm: &str| KeySummary {
        algorithm: algorithm.to_string(),
        bits: None,
        curve: None,
        description: algorithm.to_string(),
    };
    match alg_oid {
        OID_RSA | OID_RSA_PSS => {
            let algorithm = if alg_oid == OID_RSA { "RSA" } else { "RSA-PSS" };
            let bits = rsa_modulus.map(bit_length);
            KeySummary {
                algorithm: algorithm.to_string(),
                bits,
                curve: None,
                description: match bits {
                    Some(b) => format!("{algorithm} {b} bits"),
                    None => algorithm.to_string(),
                },
            }
        }
        OID_EC => {
            let curve_oid = params.filter(|p| p.tag == der::OID).and_then(|p| der::oid_to_string(p.value));
            match curve_oid.as_deref().and_then(|o| CURVES.iter().find(|c| c.0 == o)) {
                Some((_, name, bits, openssl)) => KeySummary {
                    algorithm: "EC".to_string(),
                    bits: Some(*bits),
                    curve: Some((*name).to_string()),
                    description: format!("EC {name} ({openssl})"),
                },
                None => {
                    let bits = ec_point.and_then(ec_point_bits);
                    let curve = match &curve_oid {
                        Some(o) => format!("curve {o}"),
                        None => "explicit curve parameters".to_string(),
                    };
                    KeySummary {
                        algorithm: "EC".to_string(),
                        bits,
                        description: format!("EC, {curve}"),
                        curve: Some(curve),
                    }
                }
            }
        }
        OID_ED25519 => simple("Ed25519"),
        OID_ED448 => simple("Ed448"),
        OID_X25519 => simple("X25519"),
        OID_X448 => simple("X448"),
        OID_DSA => simple("DSA"),
        other => KeySummary {
            algorithm: other.to_string(),
            bits: None,
            curve: None,
            description: format!("unknown key algorithm (OID {other})"),
        },
    }
}

/// Bits in a big-endian unsigned integer.
fn bit_length(n: &[u8]) -> u32 {
    let n = der::strip_leading_zeros(n);
    match n.first() {
        None => 0,
        Some(&first) => {
            let len = u32::try_from(n.len()).unwrap_or(u32::MAX / 8);
            (len - 1) * 8 + (8 - first.leading_zeros())
        }
    }
}

fn ec_point_bits(point: &[u8]) -> Option<u32> {
    let len = u32::try_from(point.len()).ok()?;
    match point.first()? {
        4 => Some((len - 1) / 2 * 8),
        2 | 3 => Some((len - 1) * 8),
        _ => None,
    }
}

/// Summary of a SubjectPublicKeyInfo DER.
fn spki_summary(spki: &[u8]) -> KeySummary {
    let parsed = (|| {
        let top = der::read_all(spki).filter(|t| t.tag == der::SEQUENCE)?;
        let kids = der::children(top.value)?;
        let alg = kids.first().filter(|t| t.tag == der::SEQUENCE)?;
        let alg_kids = der::children(alg.value)?;
        let oid = der::oid_to_string(alg_kids.first().filter(|t| t.tag == der::OID)?.value)?;
        let bits = kids.get(1).filter(|t| t.tag == der::BIT_STRING)?;
        let key_bytes = bits.value.get(1..)?;
        let modulus = if oid == OID_RSA || oid == OID_RSA_PSS {
            der::read_all(key_bytes)
                .and_then(|seq| der::children(seq.value))
                .and_then(|ints| ints.first().map(|n| n.value))
        } else {
            None
        };
        Some(key_summary(&oid, alg_kids.get(1).copied(), modulus, Some(key_bytes)))
    })();
    parsed.unwrap_or_else(|| KeySummary {
        algorithm: "unknown".to_string(),
        bits: None,
        curve: None,
        description: "undecodable public key".to_string(),
    })
}

fn spki_from_parts(alg_id_der: &[u8], bit_string_content: &[u8]) -> Vec<u8> {
    let mut content = alg_id_der.to_vec();
    content.extend_from_slice(&der::encode(der::BIT_STRING, bit_string_content));
    der::encode(der::SEQUENCE, &content)
}

fn rsa_spki(n_tlv: &[u8], e_tlv: &[u8]) -> Vec<u8> {
    let mut alg = DER_OID_RSA.to_vec();
    alg.extend_from_slice(DER_NULL);
    let alg = der::encode(der::SEQUENCE, &alg);
    let mut pubkey = n_tlv.to_vec();
    pubkey.extend_from_slice(e_tlv);
    let mut bits = vec![0u8];
    bits.extend_from_slice(&der::encode(der::SEQUENCE, &pubkey));
    spki_from_parts(&alg, &bits)
}

struct KeyParts {
    format: String,
    key: Option<KeySummary>,
    spki: Option<Vec<u8>>,
    notes: Vec<String>,
}

fn private_key_item(index: usize, pem_label: Option<String>, parts: KeyParts) -> Decoded {
    let spki_sha256 = parts.spki.as_deref().map(|s| colon_hex(&Sha256::digest(s)));
    let mut notes = parts.notes;
    let weaknesses: Vec<Weakness> = parts.key.as_ref().and_then(weakness::key_weakness).into_iter().collect();
    notes.extend(weakness::notes(&weaknesses));
    Decoded {
        item: Item::PrivateKey(KeyInfo {
            index,
            pem_label,
            format: parts.format,
            encrypted: false,
            key: parts.key,
            encryption: None,
            spki_sha256: spki_sha256.clone(),
            matches: Vec::new(),
            weaknesses,
            notes,
        }),
        der: None,
        spki_sha256,
    }
}

/// RSAPrivateKey ::= SEQUENCE { version, n, e, d, p, q, dp, dq, qinv, ... }
/// Returns the raw TLVs of n and e.
fn parse_pkcs1_private(der_bytes: &[u8]) -> Option<(der::Tlv<'_>, der::Tlv<'_>)> {
    let top = der::read_all(der_bytes).filter(|t| t.tag == der::SEQUENCE)?;
    let kids = der::children(top.value)?;
    if kids.len() < 9 || kids.iter().take(9).any(|k| k.tag != der::INTEGER) {
        return None;
    }
    if der::small_uint(kids[0].value)? > 1 {
        return None;
    }
    Some((kids[1], kids[2]))
}

/// ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING,
///   [0] parameters OPTIONAL, [1] publicKey BIT STRING OPTIONAL }
/// Returns (parameters, public key BIT STRING TLV).
fn parse_sec1(der_bytes: &[u8]) -> Option<(Option<der::Tlv<'_>>, Option<der::Tlv<'_>>)> {
    let top = der::read_all(der_bytes).filter(|t| t.tag == der::SEQUENCE)?;
    let kids = der::children(top.value)?;
    if kids.len() < 2 || kids[0].tag != der::INTEGER || der::small_uint(kids[0].value)? != 1 {
        return None;
    }
    if kids[1].tag != der::OCTET_STRING {
        return None;
    }
    let mut params = None;
    let mut public = None;
    for k in &kids[2..] {
        match k.tag {
            0xa0 => params = der::read_all(k.value),
            0xa1 => public = der::read_all(k.value).filter(|b| b.tag == der::BIT_STRING),
            _ => return None,
        }
    }
    Some((params, public))
}

fn pkcs1_key(index: usize, pem_label: Option<String>, der_bytes: &[u8]) -> Result<Decoded, String> {
    let (n, e) =
        parse_pkcs1_private(der_bytes).ok_or_else(|| "not an RSAPrivateKey structure".to_string())?;
    Ok(private_key_item(
        index,
        pem_label,
        KeyParts {
            format: "PKCS#1 (RSA PRIVATE KEY)".to_string(),
            key: Some(key_summary(OID_RSA, None, Some(n.value), None)),
            spki: Some(rsa_spki(n.raw, e.raw)),
            notes: Vec::new(),
        },
    ))
}

fn sec1_key(index: usize, pem_label: Option<String>, der_bytes: &[u8]) -> Result<Decoded, String> {
    let (params, public) =
        parse_sec1(der_bytes).ok_or_else(|| "not an ECPrivateKey structure".to_string())?;
    let mut notes = Vec::new();
    let point = public.and_then(|b| b.value.get(1..));
    let spki = match (params, public) {
        (Some(p), Some(b)) => {
            let mut alg = DER_OID_EC.to_vec();
            alg.extend_from_slice(p.raw);
            Some(spki_from_parts(&der::encode(der::SEQUENCE, &alg), b.value))
        }
        (None, _) => {
            notes.push("the key does not name its curve".into());
            None
        }
        (_, None) => {
            notes.push("the key does not include its public key; fingerprint not computed".into());
            None
        }
    };
    Ok(private_key_item(
        index,
        pem_label,
        KeyParts {
            format: "SEC1 (EC PRIVATE KEY)".to_string(),
            key: Some(key_summary(OID_EC, params, None, point)),
            spki,
            notes,
        },
    ))
}

/// PrivateKeyInfo / OneAsymmetricKey ::= SEQUENCE { version, algorithm,
///   privateKey OCTET STRING, [0] attributes OPTIONAL, [1] publicKey OPTIONAL }
fn pkcs8_key(index: usize, pem_label: Option<String>, der_bytes: &[u8]) -> Result<Decoded, String> {
    let bad = || "not a PKCS#8 PrivateKeyInfo structure".to_string();
    let top = der::read_all(der_bytes).filter(|t| t.tag == der::SEQUENCE).ok_or_else(bad)?;
    let kids = der::children(top.value).ok_or_else(bad)?;
    if kids.len() < 3
        || kids[0].tag != der::INTEGER
        || kids[1].tag != der::SEQUENCE
        || kids[2].tag != der::OCTET_STRING
    {
        return Err(bad());
    }
    let version = der::small_uint(kids[0].value).ok_or_else(bad)?;
    let alg = kids[1];
    let alg_kids = der::children(alg.value).ok_or_else(bad)?;
    let oid = alg_kids
        .first()
        .filter(|t| t.tag == der::OID)
        .and_then(|t| der::oid_to_string(t.value))
        .ok_or_else(bad)?;
    let params = alg_kids.get(1).copied();
    let private = kids[2].value;
    let mut v2_public: Option<&[u8]> = None;
    for k in &kids[3..] {
        match k.tag {
            0xa0 => {}
            // [1] IMPLICIT BIT STRING; accept the constructed form some encoders emit
            0x81 => v2_public = Some(k.value),
            0xa1 => v2_public = der::read_all(k.value).map(|b| b.value),
            _ => return Err(bad()),
        }
    }
    let mut notes = Vec::new();
    let format = match (version, v2_public.is_some()) {
        (0, false) => "PKCS#8 v1 (PrivateKeyInfo)".to_string(),
        (1, _) => "PKCS#8 v2 (OneAsymmetricKey, includes the public key)".to_string(),
        (0, true) => {
            notes.push("version 1 (v1) structure that nevertheless carries a public key".into());
            "PKCS#8 v1 (PrivateKeyInfo)".to_string()
        }
        (v, _) => return Err(format!("unknown PKCS#8 version {v}")),
    };

    let (key, spki) = match oid.as_str() {
        OID_RSA | OID_RSA_PSS => {
            let (n, e) = parse_pkcs1_private(private)
                .ok_or_else(|| "the RSA key inside is not an RSAPrivateKey".to_string())?;
            let spki = if oid == OID_RSA {
                rsa_spki(n.raw, e.raw)
            } else {
                let mut pubkey = n.raw.to_vec();
                pubkey.extend_from_slice(e.raw);
                let mut bits = vec![0u8];
                bits.extend_from_slice(&der::encode(der::SEQUENCE, &pubkey));
                spki_from_parts(alg.raw, &bits)
            };
            (key_summary(&oid, params, Some(n.value), None), Some(spki))
        }
        OID_EC => {
            let (inner_params, inner_public) =
                parse_sec1(private).ok_or_else(|| "the EC key inside is not an ECPrivateKey".to_string())?;
            let curve_params = params.or(inner_params);
            let point_bits = v2_public.or(inner_public.map(|b| b.value));
            let spki = point_bits.map(|bits| spki_from_parts(alg.raw, bits));
            if spki.is_none() {
                notes.push("the key does not include its public key; fingerprint not computed".into());
            }
            let point = point_bits.and_then(|b| b.get(1..));
            (key_summary(OID_EC, curve_params, None, point), spki)
        }
        _ => {
            let spki = v2_public.map(|bits| spki_from_parts(alg.raw, bits));
            if spki.is_none() && matches!(oid.as_str(), OID_ED25519 | OID_ED448) {
                notes.push("a v1 key does not store its public key; fingerprint not computed".into());
            }
            (key_summary(&oid, params, None, None), spki)
        }
    };
    if version == 1 && oid == OID_ED25519 {
        notes.push(
            "OpenSSL 3.0 refuses Ed25519 keys in PKCS#8 v2 form, so PostgreSQL and libpq built \
             against OpenSSL 3.0 cannot load this key; re-encode it as PKCS#8 v1"
                .into(),
        );
    }
    Ok(private_key_item(index, pem_label, KeyParts { format, key: Some(key), spki, notes }))
}

const ENCRYPTED_KEY_NOTE: &str = "encrypted: the PostgreSQL server needs ssl_passphrase_command \
     (or a passphrase typed at startup) to load it, and libpq needs sslpassword";

/// EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm, encryptedData OCTET STRING }
fn encrypted_pkcs8_key(index: usize, pem_label: Option<String>, der_bytes: &[u8]) -> Result<Decoded, String> {
    let bad = || "not an EncryptedPrivateKeyInfo structure".to_string();
    let top = der::read_all(der_bytes).filter(|t| t.tag == der::SEQUENCE).ok_or_else(bad)?;
    let kids = der::children(top.value).ok_or_else(bad)?;
    if kids.len() != 2 || kids[0].tag != der::SEQUENCE || kids[1].tag != der::OCTET_STRING {
        return Err(bad());
    }
    let encryption = encryption_info(kids[0]).ok_or_else(bad)?;
    let mut notes = vec![ENCRYPTED_KEY_NOTE.to_string()];
    if matches!(encryption.scheme.as_str(), "PBES1" | "PKCS#12 PBE") {
        notes.push("a legacy, weak encryption scheme: re-encrypt with PBES2 (AES-256-CBC)".into());
    }
    Ok(Decoded {
        item: Item::PrivateKey(KeyInfo {
            index,
            pem_label,
            format: "encrypted PKCS#8 (EncryptedPrivateKeyInfo)".to_string(),
            encrypted: true,
            key: None,
            encryption: Some(encryption),
            spki_sha256: None,
            matches: Vec::new(),
            weaknesses: Vec::new(),
            notes,
        }),
        der: None,
        spki_sha256: None,
    })
}

fn prf_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.2.7" => "HMAC-SHA1".to_string(),
        "1.2.840.113549.2.8" => "HMAC-SHA224".to_string(),
        "1.2.840.113549.2.9" => "HMAC-SHA256".to_string(),
        "1.2.840.113549.2.10" => "HMAC-SHA384".to_string(),
        "1.2.840.113549.2.11" => "HMAC-SHA512".to_string(),
        other => format!("PRF {other}"),
    }
}

fn cipher_name(oid: &str) -> String {
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

fn encryption_info(alg: der::Tlv<'_>) -> Option<EncryptionInfo> {
    let kids = der::children(alg.value)?;
    let oid = der::oid_to_string(kids.first().filter(|t| t.tag == der::OID)?.value)?;
    let params = kids.get(1).copied();
    let mut info = EncryptionInfo {
        scheme: oid.clone(),
        kdf: None,
        iterations: None,
        scrypt_n: None,
        scrypt_r: None,
        scrypt_p: None,
        cipher: None,
        description: String::new(),
    };
    // salt + iteration count, as PBES1 and PKCS#12 PBE parameters are laid out
    let salt_iterations = |p: Option<der::Tlv<'_>>| -> Option<u64> {
        let kids = der::children(p?.value)?;
        der::small_uint(kids.get(1).filter(|t| t.tag == der::INTEGER)?.value)
    };
    let pbes1 = match oid.as_str() {
        "1.2.840.113549.1.5.1" => Some(("MD2", "DES-CBC")),
        "1.2.840.113549.1.5.3" => Some(("MD5", "DES-CBC")),
        "1.2.840.113549.1.5.4" => Some(("MD2", "RC2-CBC")),
        "1.2.840.113549.1.5.6" => Some(("MD5", "RC2-CBC")),
        "1.2.840.113549.1.5.10" => Some(("SHA1", "DES-CBC")),
        "1.2.840.113549.1.5.11" => Some(("SHA1", "RC2-CBC")),
        _ => None,
    };
    let pkcs12 = match oid.as_str() {
        "1.2.840.113549.1.12.1.1" => Some("RC4-128"),
        "1.2.840.113549.1.12.1.2" => Some("RC4-40"),
        "1.2.840.113549.1.12.1.3" => Some("DES-EDE3-CBC"),
        "1.2.840.113549.1.12.1.4" => Some("DES-EDE-CBC (two-key)"),
        "1.2.840.113549.1.12.1.5" => Some("RC2-128-CBC"),
        "1.2.840.113549.1.12.1.6" => Some("RC2-40-CBC"),
        _ => None,
    };
    if oid == "1.2.840.113549.1.5.13" {
        info.scheme = "PBES2".to_string();
        let p = der::children(params?.value)?;
        let kdf = der::children(p.first().filter(|t| t.tag == der::SEQUENCE)?.value)?;
        let enc = der::children(p.get(1).filter(|t| t.tag == der::SEQUENCE)?.value)?;
        let kdf_oid = der::oid_to_string(kdf.first().filter(|t| t.tag == der::OID)?.value)?;
        let kdf_params = kdf.get(1).and_then(|t| der::children(t.value));
        let kdf_text = match (kdf_oid.as_str(), kdf_params) {
            ("1.2.840.113549.1.5.12", Some(kp)) => {
                // PBKDF2-params: salt, iterationCount, keyLength OPTIONAL, prf DEFAULT hmacWithSHA1
                info.iterations =
                    kp.get(1).filter(|t| t.tag == der::INTEGER).and_then(|t| der::small_uint(t.value));
                let prf = kp
                    .iter()
                    .skip(2)
                    .find(|t| t.tag == der::SEQUENCE)
                    .and_then(|t| der::children(t.value))
                    .and_then(|c| c.first().and_then(|o| der::oid_to_string(o.value)))
                    .map_or_else(|| "HMAC-SHA1".to_string(), |o| prf_name(&o));
                let name = format!("PBKDF2-{prf}");
                info.kdf = Some(name.clone());
                match info.iterations {
                    Some(n) => format!("{name}, {n} iterations"),
                    None => name,
                }
            }
            ("1.3.6.1.4.1.11591.4.11", Some(kp)) => {
                let int = |i: usize| {
                    kp.get(i).filter(|t| t.tag == der::INTEGER).and_then(|t| der::small_uint(t.value))
                };
                info.kdf = Some("scrypt".to_string());
                info.scrypt_n = int(1);
                info.scrypt_r = int(2);
                info.scrypt_p = int(3);
                let show = |v: Option<u64>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
                format!(
                    "scrypt (N={}, r={}, p={})",
                    show(info.scrypt_n),
                    show(info.scrypt_r),
                    show(info.scrypt_p)
                )
            }
            (other, _) => {
                info.kdf = Some(format!("KDF {other}"));
                format!("key derivation {other}")
            }
        };
        let enc_oid = der::oid_to_string(enc.first().filter(|t| t.tag == der::OID)?.value)?;
        let cipher = cipher_name(&enc_oid);
        info.description = format!("PBES2: {kdf_text}, {cipher}");
        info.cipher = Some(cipher);
    } else if let Some((digest, cipher)) = pbes1 {
        info.scheme = "PBES1".to_string();
        info.kdf = Some(format!("PBKDF1-{digest}"));
        info.iterations = salt_iterations(params);
        info.cipher = Some(cipher.to_string());
        info.description = format!(
            "PBES1 (legacy): PBKDF1-{digest}, {} iterations, {cipher}",
            info.iterations.map_or_else(|| "?".to_string(), |n| n.to_string())
        );
    } else if let Some(cipher) = pkcs12 {
        info.scheme = "PKCS#12 PBE".to_string();
        info.kdf = Some("PKCS#12 KDF with SHA-1".to_string());
        info.iterations = salt_iterations(params);
        info.cipher = Some(cipher.to_string());
        info.description = format!(
            "PKCS#12 PBE (legacy): SHA-1, {} iterations, {cipher}",
            info.iterations.map_or_else(|| "?".to_string(), |n| n.to_string())
        );
    } else {
        info.description = format!("unknown encryption scheme (OID {oid})");
    }
    Some(info)
}

/// A PKCS#1 or SEC1 PEM block with `Proc-Type: 4,ENCRYPTED`.
fn legacy_encrypted_key(
    index: usize,
    pem_label: Option<String>,
    format: &str,
    algorithm: &str,
    dek_info: Option<&str>,
) -> Decoded {
    let cipher = dek_info.and_then(|d| d.split(',').next()).map(|c| c.trim().to_string());
    let description = format!(
        "OpenSSL legacy PEM encryption: key from the passphrase by EVP_BytesToKey (one MD5 round), {}",
        cipher.as_deref().unwrap_or("unknown cipher")
    );
    Decoded {
        item: Item::PrivateKey(KeyInfo {
            index,
            pem_label,
            format: format!("{format}, legacy PEM encryption"),
            encrypted: true,
            key: Some(KeySummary {
                algorithm: algorithm.to_string(),
                bits: None,
                curve: None,
                description: format!("{algorithm} (size hidden by the encryption)"),
            }),
            encryption: Some(EncryptionInfo {
                scheme: "OpenSSL legacy PEM encryption".to_string(),
                kdf: Some("EVP_BytesToKey (MD5, 1 iteration)".to_string()),
                iterations: Some(1),
                scrypt_n: None,
                scrypt_r: None,
                scrypt_p: None,
                cipher,
                description,
            }),
            spki_sha256: None,
            matches: Vec::new(),
            // RSA or EC, of a size the encryption hides: nothing to judge.
            weaknesses: Vec::new(),
            notes: vec![
                ENCRYPTED_KEY_NOTE.to_string(),
                "the legacy PEM key derivation is weak: re-encrypt as PKCS#8 with PBES2".into(),
            ],
        }),
        der: None,
        spki_sha256: None,
    }
}

fn spki_public_key(index: usize, pem_label: Option<String>, der_bytes: &[u8]) -> Result<Decoded, String> {
    let top = der::read_all(der_bytes)
        .filter(|t| t.tag == der::SEQUENCE)
        .ok_or_else(|| "not a SubjectPublicKeyInfo structure".to_string())?;
    let kids = der::children(top.value).unwrap_or_default();
    if kids.len() != 2 || kids[0].tag != der::SEQUENCE || kids[1].tag != der::BIT_STRING {
        return Err("not a SubjectPublicKeyInfo structure".to_string());
    }
    Ok(public_key_item(index, pem_label, "SubjectPublicKeyInfo", der_bytes.to_vec()))
}

fn pkcs1_public_key(index: usize, pem_label: Option<String>, der_bytes: &[u8]) -> Result<Decoded, String> {
    let bad = || "not an RSAPublicKey structure".to_string();
    let top = der::read_all(der_bytes).filter(|t| t.tag == der::SEQUENCE).ok_or_else(bad)?;
    let kids = der::children(top.value).ok_or_else(bad)?;
    if kids.len() != 2 || kids.iter().any(|k| k.tag != der::INTEGER) {
        return Err(bad());
    }
    Ok(public_key_item(index, pem_label, "PKCS#1 (RSA PUBLIC KEY)", rsa_spki(kids[0].raw, kids[1].raw)))
}

fn public_key_item(index: usize, pem_label: Option<String>, format: &str, spki: Vec<u8>) -> Decoded {
    let spki_sha256 = colon_hex(&Sha256::digest(&spki));
    Decoded {
        item: Item::PublicKey(PublicKeyInfo {
            index,
            pem_label,
            format: format.to_string(),
            key: spki_summary(&spki),
            spki_sha256: spki_sha256.clone(),
            matches: Vec::new(),
        }),
        der: None,
        spki_sha256: Some(spki_sha256),
    }
}

// ---------------------------------------------------------------------------
// Links between items
// ---------------------------------------------------------------------------

fn link_items(decoded: &mut [Decoded]) {
    // Which certificate issued which certificate or CRL.
    let mut links: Vec<(usize, IssuerLink)> = Vec::new();
    for (i, subject_item) in decoded.iter().enumerate() {
        let Some(der_i) = &subject_item.der else {
            continue;
        };
        let link = match &subject_item.item {
            Item::Certificate(c) if !c.self_signed => {
                let Ok((_, cert)) = x509_parser::parse_x509_certificate(der_i) else {
                    continue;
                };
                find_issuer(decoded, i, cert.issuer().as_raw(), c.authority_key_id.as_deref(), |issuer| {
                    signature_outcome(cert.verify_signature(Some(issuer.public_key())))
                })
            }
            Item::Crl(c) => {
                let Ok((_, list)) = x509_parser::parse_x509_crl(der_i) else {
                    continue;
                };
                find_issuer(decoded, i, list.issuer().as_raw(), c.authority_key_id.as_deref(), |issuer| {
                    signature_outcome(list.verify_signature(issuer.public_key()))
                })
            }
            _ => None,
        };
        if let Some(link) = link {
            links.push((i, link));
        }
    }
    for (i, link) in links {
        let issuer_pos = link.item - 1;
        let subject_index = i + 1;
        match &mut decoded[i].item {
            Item::Certificate(c) => c.issued_by = Some(link),
            Item::Crl(c) => c.issued_by = Some(link),
            _ => {}
        }
        if let Some(Item::Certificate(issuer)) = decoded.get_mut(issuer_pos).map(|d| &mut d.item) {
            issuer.issued.push(subject_index);
        }
    }

    // Which items share a public key.
    let fingerprints: Vec<Option<String>> = decoded.iter().map(|d| d.spki_sha256.clone()).collect();
    for (i, d) in decoded.iter_mut().enumerate() {
        let Some(fp) = &fingerprints[i] else {
            continue;
        };
        let same: Vec<usize> = fingerprints
            .iter()
            .enumerate()
            .filter(|(j, other)| *j != i && other.as_ref() == Some(fp))
            .map(|(j, _)| j + 1)
            .collect();
        match &mut d.item {
            Item::PrivateKey(k) => k.matches = same,
            Item::PublicKey(k) => k.matches = same,
            _ => {}
        }
    }
}

/// The first certificate in `decoded` (other than `skip`) whose subject is
/// `issuer_name` and whose subject key identifier agrees with `aki`;
/// prefer one whose key verifies the signature.
fn find_issuer(
    decoded: &[Decoded],
    skip: usize,
    issuer_name: &[u8],
    aki: Option<&str>,
    verify: impl Fn(&X509Certificate<'_>) -> Option<bool>,
) -> Option<IssuerLink> {
    let mut best: Option<IssuerLink> = None;
    for (j, candidate) in decoded.iter().enumerate() {
        if j == skip {
            continue;
        }
        let (Item::Certificate(info), Some(der_j)) = (&candidate.item, &candidate.der) else {
            continue;
        };
        if let (Some(aki), Some(ski)) = (aki, info.subject_key_id.as_deref())
            && aki != ski
        {
            continue;
        }
        let Ok((_, issuer)) = x509_parser::parse_x509_certificate(der_j) else {
            continue;
        };
        if issuer.subject().as_raw() != issuer_name {
            continue;
        }
        let link = IssuerLink { item: j + 1, signature_verified: verify(&issuer) };
        if link.signature_verified == Some(true) {
            return Some(link);
        }
        if best.is_none() {
            best = Some(link);
        }
    }
    best
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/// Uppercase hex with colons, as OpenSSL prints fingerprints and key ids.
fn colon_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// Lowercase hex without colons or leading zero bytes.
fn serial_hex(raw: &[u8]) -> String {
    let stripped = der::strip_leading_zeros(raw);
    if stripped.is_empty() { "00".to_string() } else { hex::encode(stripped) }
}

fn signature_algorithm_name(oid: &str) -> String {
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

/// Minimal DER reading and writing for the key structures.
mod der {
    pub(super) const INTEGER: u8 = 0x02;
    pub(super) const BIT_STRING: u8 = 0x03;
    pub(super) const OCTET_STRING: u8 = 0x04;
    pub(super) const OID: u8 = 0x06;
    pub(super) const SEQUENCE: u8 = 0x30;

    /// One tag-length-value element.
    #[derive(Clone, Copy, Debug)]
    pub(super) struct Tlv<'a> {
        pub tag: u8,
        pub value: &'a [u8],
        /// The whole element, header included.
        pub raw: &'a [u8],
    }

    /// Read one element (single-byte tags, definite lengths) from the front.
    pub(super) fn read(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
        let (&tag, rest) = input.split_first()?;
        if tag & 0x1f == 0x1f {
            return None;
        }
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return None;
        }
        let header = input.len() - rest.len();
        Some((Tlv { tag, value: &rest[..len], raw: &input[..header + len] }, &rest[len..]))
    }

    /// Exactly one element filling `input`.
    pub(super) fn read_all(input: &[u8]) -> Option<Tlv<'_>> {
        let (tlv, rest) = read(input)?;
        rest.is_empty().then_some(tlv)
    }

    /// The elements inside a constructed value.
    pub(super) fn children(mut value: &[u8]) -> Option<Vec<Tlv<'_>>> {
        let mut out = Vec::new();
        while !value.is_empty() {
            let (tlv, rest) = read(value)?;
            out.push(tlv);
            value = rest;
        }
        Some(out)
    }

    pub(super) fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            // fits in one byte by the test above
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            let significant = &bytes[skip..];
            // at most size_of::<usize>() (8) bytes, so this fits in the low 7 bits
            out.push(0x80 | significant.len() as u8);
            out.extend_from_slice(significant);
        }
        out.extend_from_slice(content);
        out
    }

    pub(super) fn strip_leading_zeros(n: &[u8]) -> &[u8] {
        let skip = n.iter().take_while(|&&b| b == 0).count();
        &n[skip..]
    }

    /// A non-negative INTEGER that fits in a u64.
    pub(super) fn small_uint(value: &[u8]) -> Option<u64> {
        if value.is_empty() || value[0] & 0x80 != 0 {
            return None;
        }
        let v = strip_leading_zeros(value);
        if v.len() > 8 {
            return None;
        }
        Some(v.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// Dotted-decimal form of an OBJECT IDENTIFIER's content.
    pub(super) fn oid_to_string(value: &[u8]) -> Option<String> {
        let mut arcs: Vec<u128> = Vec::new();
        let mut cur: u128 = 0;
        let mut in_arc = false;
        for &b in value {
            cur = cur.checked_mul(128)? | u128::from(b & 0x7f);
            in_arc = true;
            if b & 0x80 == 0 {
                arcs.push(cur);
                cur = 0;
                in_arc = false;
            }
        }
        if in_arc || arcs.is_empty() {
            return None;
        }
        let first = arcs[0];
        let (a, b) = if first < 40 {
            (0, first)
        } else if first < 80 {
            (1, first - 40)
        } else {
            (2, first - 80)
        };
        let mut s = format!("{a}.{b}");
        for arc in &arcs[1..] {
            s.push('.');
            s.push_str(&arc.to_string());
        }
        Some(s)
    }
}

// ---------------------------------------------------------------------------
// Text rendering
// ---------------------------------------------------------------------------

/// One item's block of "label: value" lines. Every value is escaped with [`pgharden_text::line`] as
/// it is added, so a value from the file (a subject, a SAN, a PEM label) can neither start a line of
/// its own nor reach the terminal as a control sequence; each element of a list gets its own line.
struct Section {
    title: String,
    rows: Vec<(&'static str, Vec<String>)>,
}

impl Section {
    fn new(title: &str) -> Self {
        Section { title: pgharden_text::line(title).into_owned(), rows: Vec::new() }
    }
    fn row(&mut self, label: &'static str, value: impl AsRef<str>) {
        self.rows.push((label, vec![pgharden_text::line(value.as_ref()).into_owned()]));
    }
    fn opt(&mut self, label: &'static str, value: Option<impl AsRef<str>>) {
        if let Some(v) = value {
            self.row(label, v);
        }
    }
    fn list(&mut self, label: &'static str, values: &[String]) {
        if !values.is_empty() {
            let lines = values.iter().map(|v| pgharden_text::line(v).into_owned()).collect();
            self.rows.push((label, lines));
        }
    }
    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "{}", self.title);
        let width = self.rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 1;
        for (label, values) in &self.rows {
            let mut lines = values.iter();
            let first = lines.next().map_or("", String::as_str);
            let _ = writeln!(out, "  {:<width$} {first}", format!("{label}:"));
            for line in lines {
                let _ = writeln!(out, "  {:<width$} {line}", "");
            }
        }
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn items_list(items: &[usize]) -> String {
    items.iter().map(|i| format!("#{i}")).collect::<Vec<_>>().join(", ")
}

fn link_text(link: &IssuerLink) -> String {
    let check = match link.signature_verified {
        Some(true) => "signature verified",
        Some(false) => "signature does NOT verify",
        None => "signature not checked: unsupported algorithm",
    };
    format!("#{} ({check})", link.item)
}

fn empty_dash(s: &str) -> String {
    if s.is_empty() { "(empty)".to_string() } else { s.to_string() }
}

impl Inspection {
    /// Plain-words report: aligned "label: value" lines, a blank line between items.
    ///
    /// Everything taken from the file, the file name included, is escaped
    /// ([`pgharden_text::line`]): the text holds no control character but the `\n` ending each
    /// line, so a hostile certificate cannot add lines to the report or drive a terminal. The
    /// structured fields (and so the JSON form) keep the original characters.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let n = self.items.len();
        let file = pgharden_text::line(&self.file);
        let _ = writeln!(out, "{file}: {n} item{}", if n == 1 { "" } else { "s" });
        for w in &self.warnings {
            let _ = writeln!(out, "WARNING: {}", pgharden_text::line(w));
        }
        for item in &self.items {
            out.push('\n');
            item_section(item).render(&mut out);
        }
        out
    }
}

fn item_section(item: &Item) -> Section {
    match item {
        Item::Certificate(c) => {
            let mut s = Section::new(&format!("#{} certificate: {}", c.index, c.role));
            s.row("Subject", empty_dash(&c.subject));
            s.row("Issuer", empty_dash(&c.issuer));
            s.row("Serial", c.serial.clone());
            s.row("Version", c.version.to_string());
            s.row("Not before", c.not_before.clone());
            s.row("Not after", c.not_after.clone());
            s.row("Status", c.status.clone());
            s.row("Key", c.key.description.clone());
            s.row("Signature", c.signature_algorithm.clone());
            s.row(
                "Self-signed",
                match (c.self_signed, c.self_signature_verifies) {
                    (false, _) => "no".to_string(),
                    (true, Some(true)) => "yes (signature verifies)".to_string(),
                    (true, Some(false)) => "yes, but the signature does NOT verify".to_string(),
                    (true, None) => "yes (signature not checked)".to_string(),
                },
            );
            s.row(
                "CA",
                match &c.basic_constraints {
                    None => "no basicConstraints extension".to_string(),
                    Some(bc) => format!(
                        "{}{}{}",
                        yes_no(bc.ca),
                        bc.path_len.map(|p| format!(", path length {p}")).unwrap_or_default(),
                        if bc.critical { " (critical)" } else { "" }
                    ),
                },
            );
            s.list("Key usage", &c.key_usage);
            s.list("Extended key usage", &c.extended_key_usage);
            s.list("Alternative names", &c.subject_alt_names);
            s.opt("Subject key ID", c.subject_key_id.clone());
            s.opt("Authority key ID", c.authority_key_id.clone());
            s.list("CRL distribution", &c.crl_distribution_points);
            s.list("Other extensions", &c.other_extensions);
            s.row("SHA-256 fingerprint", c.sha256_fingerprint.clone());
            s.row("Public key SHA-256", c.spki_sha256.clone());
            s.opt("Issued by", c.issued_by.as_ref().map(link_text));
            if !c.issued.is_empty() {
                // `#N` alone reads like a count; name what the numbers are.
                s.row("Issuer of", format!("certificate {} in this list", items_list(&c.issued)));
            }
            s.list("Note", &c.notes);
            s
        }
        Item::CertificateRequest(r) => {
            let mut s = Section::new(&format!("#{} certificate request (CSR)", r.index));
            s.row("Subject", empty_dash(&r.subject));
            s.row("Key", r.key.description.clone());
            s.row("Signature", r.signature_algorithm.clone());
            s.row(
                "Self-signature",
                match r.signature_verifies {
                    Some(true) => "verifies",
                    Some(false) => "does NOT verify",
                    None => "not checked (unsupported algorithm)",
                },
            );
            s.list("Alternative names", &r.subject_alt_names);
            s.list("Requested", &r.requested_extensions);
            s.row("Public key SHA-256", r.spki_sha256.clone());
            s.list("Note", &r.notes);
            s
        }
        Item::Crl(c) => {
            let mut s = Section::new(&format!("#{} certificate revocation list (CRL)", c.index));
            s.row("Issuer", empty_dash(&c.issuer));
            s.row("This update", c.this_update.clone());
            s.row("Next update", c.next_update.clone().unwrap_or_else(|| "(none)".to_string()));
            s.row("Status", c.status.clone());
            s.opt("CRL number", c.crl_number.clone());
            s.opt("Authority key ID", c.authority_key_id.clone());
            s.row("Signature", c.signature_algorithm.clone());
            s.row("Revoked", c.revoked_count.to_string());
            let entries: Vec<String> = c
                .revoked
                .iter()
                .map(|r| {
                    format!(
                        "serial {} on {}{}",
                        r.serial,
                        r.revocation_date,
                        r.reason.as_ref().map(|x| format!(", {x}")).unwrap_or_default()
                    )
                })
                .collect();
            s.list("Revoked entries", &entries);
            s.opt("Issued by", c.issued_by.as_ref().map(link_text));
            s.list("Note", &c.notes);
            s
        }
        Item::PrivateKey(k) => {
            let what = k.key.as_ref().map_or("encrypted".to_string(), |key| key.description.clone());
            let mut s = Section::new(&format!("#{} private key: {what}", k.index));
            s.row("Format", k.format.clone());
            s.row("Encrypted", yes_no(k.encrypted));
            if let Some(key) = &k.key {
                s.row("Algorithm", key.description.clone());
            }
            s.opt("Encryption", k.encryption.as_ref().map(|e| e.description.clone()));
            s.row(
                "Public key SHA-256",
                k.spki_sha256.clone().unwrap_or_else(|| {
                    if k.encrypted {
                        "(not available without the passphrase)".to_string()
                    } else {
                        "(not available: see the notes)".to_string()
                    }
                }),
            );
            if !k.matches.is_empty() {
                s.row("Matches", items_list(&k.matches));
            }
            s.list("Note", &k.notes);
            s
        }
        Item::PublicKey(k) => {
            let mut s = Section::new(&format!("#{} public key: {}", k.index, k.key.description));
            s.row("Format", k.format.clone());
            s.row("Public key SHA-256", k.spki_sha256.clone());
            if !k.matches.is_empty() {
                s.row("Matches", items_list(&k.matches));
            }
            s
        }
        Item::Unknown(u) => {
            let mut s =
                Section::new(&format!("#{} other block: {}", u.index, u.pem_label.as_deref().unwrap_or("?")));
            s.opt("PEM type", u.pem_label.clone());
            s.row("Note", u.description.clone());
            s
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName, DnType,
        ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason,
        RevokedCertParams, RsaKeySize, SanType, SerialNumber,
    };
    use time::macros::datetime;

    const NOT_BEFORE: OffsetDateTime = datetime!(2025-01-01 0:00 UTC);
    const NOT_AFTER: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);
    const NOW: OffsetDateTime = datetime!(2025-01-02 0:00 UTC);

    fn dn(cn: &str) -> DistinguishedName {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "Example, Inc.");
        dn.push(DnType::CommonName, cn);
        dn
    }

    fn ca_params(cn: &str, path_len: Option<u8>) -> CertificateParams {
        let mut p = CertificateParams::default();
        p.distinguished_name = dn(cn);
        p.not_before = NOT_BEFORE;
        p.not_after = NOT_AFTER;
        p.is_ca = IsCa::Ca(match path_len {
            Some(n) => BasicConstraints::Constrained(n),
            None => BasicConstraints::Unconstrained,
        });
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        p.use_authority_key_identifier_extension = true;
        p
    }

    fn leaf_params() -> CertificateParams {
        let mut p = CertificateParams::default();
        p.distinguished_name = dn("db.example.com");
        p.not_before = NOT_BEFORE;
        p.not_after = NOT_AFTER;
        p.serial_number = Some(SerialNumber::from_slice(&[0x0a, 0xbc, 0xde]));
        p.subject_alt_names = vec![
            SanType::DnsName("db.example.com".try_into().unwrap()),
            SanType::IpAddress("10.0.0.5".parse().unwrap()),
        ];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.use_authority_key_identifier_extension = true;
        p
    }

    /// What a server's certificate request asks for.
    fn csr_params() -> CertificateParams {
        let mut p = leaf_params();
        p.serial_number = None;
        p.use_authority_key_identifier_extension = false;
        p
    }

    struct Pki {
        root_params: CertificateParams,
        root_key: KeyPair,
        root_pem: String,
        root_der: Vec<u8>,
        leaf_key: KeyPair,
        leaf_pem: String,
        leaf_der: Vec<u8>,
    }

    fn pki() -> Pki {
        let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let root_params = ca_params("Test Root CA", None);
        let root = root_params.self_signed(&root_key).unwrap();
        let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let issuer = Issuer::from_params(&root_params, &root_key);
        let leaf = leaf_params().signed_by(&leaf_key, &issuer).unwrap();
        Pki {
            root_pem: root.pem(),
            root_der: root.der().to_vec(),
            leaf_pem: leaf.pem(),
            leaf_der: leaf.der().to_vec(),
            root_params,
            root_key,
            leaf_key,
        }
    }

    fn inspect(text: &str) -> Inspection {
        inspect_bytes_at("test.pem", text.as_bytes(), NOW).unwrap()
    }

    fn cert(item: &Item) -> &CertificateInfo {
        match item {
            Item::Certificate(c) => c,
            other => panic!("expected a certificate, got {other:?}"),
        }
    }

    fn key(item: &Item) -> &KeyInfo {
        match item {
            Item::PrivateKey(k) => k,
            other => panic!("expected a private key, got {other:?}"),
        }
    }

    fn sha256_colon(bytes: &[u8]) -> String {
        colon_hex(&Sha256::digest(bytes))
    }

    #[test]
    fn chain_file_leaf_and_root() {
        let p = pki();
        let text = format!("{}{}{}", p.leaf_pem, p.root_pem, p.leaf_key.serialize_pem());
        let ins = inspect(&text);
        assert_eq!(ins.items.len(), 3);
        assert!(ins.warnings.is_empty(), "{:?}", ins.warnings);

        let leaf = cert(&ins.items[0]);
        assert_eq!(leaf.index, 1);
        assert_eq!(leaf.role, "TLS server certificate");
        assert_eq!(leaf.subject, "CN=db.example.com,O=Example\\, Inc.");
        assert_eq!(leaf.issuer, "CN=Test Root CA,O=Example\\, Inc.");
        assert_eq!(leaf.serial, "0abcde");
        assert_eq!(leaf.version, 3);
        assert_eq!(leaf.not_before, "2025-01-01T00:00:00Z");
        assert_eq!(leaf.not_after, "2026-01-01T00:00:00Z");
        assert_eq!(leaf.status, "valid, expires in 364 days");
        assert!(!leaf.expired && !leaf.not_yet_valid);
        assert_eq!(leaf.key.algorithm, "EC");
        assert_eq!(leaf.key.curve.as_deref(), Some("P-256"));
        assert_eq!(leaf.key.bits, Some(256));
        assert_eq!(leaf.signature_algorithm, "ecdsa-with-SHA384");
        assert!(!leaf.self_signed);
        assert_eq!(leaf.subject_alt_names, vec!["DNS:db.example.com".to_string(), "IP:10.0.0.5".to_string()]);
        assert_eq!(leaf.extended_key_usage, vec!["TLS server (serverAuth)".to_string()]);
        assert_eq!(leaf.key_usage, vec!["digital signature (digitalSignature)".to_string()]);
        assert_eq!(leaf.sha256_fingerprint, sha256_colon(&p.leaf_der));
        assert_eq!(leaf.sha256_fingerprint.len(), 32 * 3 - 1);
        assert_eq!(leaf.issued_by, Some(IssuerLink { item: 2, signature_verified: Some(true) }));
        assert!(leaf.authority_key_id.is_some());

        let root = cert(&ins.items[1]);
        assert_eq!(root.role, "root CA");
        assert!(root.self_signed);
        assert_eq!(root.self_signature_verifies, Some(true));
        assert_eq!(root.key.curve.as_deref(), Some("P-384"));
        assert_eq!(
            root.basic_constraints,
            Some(BasicConstraintsInfo { ca: true, path_len: None, critical: true })
        );
        assert!(root.key_usage.iter().any(|u| u.contains("keyCertSign")));
        assert_eq!(root.issued, vec![1]);
        assert_eq!(root.subject_key_id, leaf.authority_key_id);
        assert_eq!(root.sha256_fingerprint, sha256_colon(&p.root_der));

        let k = key(&ins.items[2]);
        assert_eq!(k.spki_sha256.as_deref(), Some(leaf.spki_sha256.as_str()));
        assert_eq!(k.matches, vec![1]);

        let text = ins.render_text();
        for needle in [
            "test.pem: 3 items",
            "#1 certificate: TLS server certificate",
            "#2 certificate: root CA",
            "Subject:",
            "CN=db.example.com,O=Example\\, Inc.",
            "valid, expires in 364 days",
            "DNS:db.example.com",
            "IP:10.0.0.5",
            "TLS server (serverAuth)",
            "ecdsa-with-SHA384",
            "Issued by:",
            "#2 (signature verified)",
            "yes (signature verifies)",
            &leaf.sha256_fingerprint,
            "#3 private key: EC P-256 (prime256v1)",
            "Matches:",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        // blank line between items, aligned labels
        assert!(text.contains("\n\n#2 certificate"));
        let subject_col = text.lines().find(|l| l.contains("Subject:")).unwrap().find("CN=");
        let issuer_col = text.lines().find(|l| l.contains("Issuer:")).unwrap().find("CN=");
        assert_eq!(subject_col, issuer_col);
    }

    #[test]
    fn validity_wording() {
        let p = pki();
        let at = |now| {
            let ins = inspect_bytes_at("x", p.leaf_pem.as_bytes(), now).unwrap();
            let c = cert(&ins.items[0]);
            (c.status.clone(), c.expired, c.not_yet_valid)
        };
        assert_eq!(at(datetime!(2026-01-04 0:00 UTC)), ("EXPIRED 3 days ago".to_string(), true, false));
        assert_eq!(
            at(datetime!(2024-12-30 0:00 UTC)),
            ("not yet valid (starts in 2 days)".to_string(), false, true)
        );
        assert_eq!(at(datetime!(2025-12-31 22:00 UTC)).0, "valid, expires in 2 hours");
    }

    #[test]
    fn three_level_chain() {
        let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let root_params = ca_params("Root", Some(1));
        let root = root_params.self_signed(&root_key).unwrap();
        let int_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let int_params = ca_params("Intermediate", Some(0));
        let int = int_params.signed_by(&int_key, &Issuer::from_params(&root_params, &root_key)).unwrap();
        let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut lp = leaf_params();
        lp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let leaf = lp.signed_by(&leaf_key, &Issuer::from_params(&int_params, &int_key)).unwrap();
        let ins = inspect(&format!("{}{}{}", leaf.pem(), int.pem(), root.pem()));
        let (l, i, r) = (cert(&ins.items[0]), cert(&ins.items[1]), cert(&ins.items[2]));
        assert_eq!(l.role, "TLS client certificate");
        assert_eq!(i.role, "intermediate CA");
        assert_eq!(r.role, "root CA");
        assert_eq!(l.issued_by.as_ref().map(|x| x.item), Some(2));
        assert_eq!(i.issued_by.as_ref().map(|x| x.item), Some(3));
        assert_eq!(r.issued_by, None);
        assert_eq!(i.issued, vec![1]);
        assert_eq!(r.issued, vec![2]);
        assert_eq!(i.basic_constraints.as_ref().and_then(|b| b.path_len), Some(0));
        assert!(ins.render_text().contains("path length 0"));
    }

    #[test]
    fn certificate_request() {
        let k = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let csr = csr_params().serialize_request(&k).unwrap();
        let pem_text = csr.pem().unwrap();
        let ins = inspect(&pem_text);
        let Item::CertificateRequest(r) = &ins.items[0] else {
            panic!("not a CSR: {:?}", ins.items[0]);
        };
        assert_eq!(r.subject, "CN=db.example.com,O=Example\\, Inc.");
        assert_eq!(r.key.description, "EC P-256 (prime256v1)");
        assert_eq!(r.signature_algorithm, "ecdsa-with-SHA256");
        assert_eq!(r.signature_verifies, Some(true));
        assert_eq!(r.subject_alt_names, vec!["DNS:db.example.com".to_string(), "IP:10.0.0.5".to_string()]);
        assert!(
            r.requested_extensions.iter().any(|e| e.contains("TLS server (serverAuth)")),
            "{:?}",
            r.requested_extensions
        );
        let text = ins.render_text();
        assert!(text.contains("certificate request (CSR)"));
        assert!(text.contains("Self-signature:"));
        assert!(text.contains("verifies"));

        // The same request with its signature damaged.
        let mut der_bytes = csr.der().to_vec();
        let last = der_bytes.len() - 1;
        der_bytes[last] ^= 0x01;
        let ins = inspect(&pem::encode(&pem::Pem::new("NEW CERTIFICATE REQUEST", der_bytes)));
        let Item::CertificateRequest(r) = &ins.items[0] else {
            panic!("not a CSR");
        };
        assert_eq!(r.signature_verifies, Some(false));
    }

    #[test]
    fn crl_with_one_revoked_serial() {
        let p = pki();
        let params = CertificateRevocationListParams {
            this_update: datetime!(2025-01-01 0:00 UTC),
            next_update: datetime!(2025-01-08 0:00 UTC),
            crl_number: SerialNumber::from(7u64),
            issuing_distribution_point: None,
            revoked_certs: vec![RevokedCertParams {
                serial_number: SerialNumber::from_slice(&[0x0a, 0xbc]),
                revocation_time: datetime!(2025-01-01 12:00 UTC),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            }],
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let issuer = Issuer::from_params(&p.root_params, &p.root_key);
        let list = params.signed_by(&issuer).unwrap();
        let text = format!("{}{}", list.pem().unwrap(), p.root_pem);

        let ins = inspect(&text);
        let Item::Crl(c) = &ins.items[0] else {
            panic!("not a CRL");
        };
        assert_eq!(c.issuer, "CN=Test Root CA,O=Example\\, Inc.");
        assert_eq!(c.this_update, "2025-01-01T00:00:00Z");
        assert_eq!(c.next_update.as_deref(), Some("2025-01-08T00:00:00Z"));
        assert!(!c.stale);
        assert_eq!(c.status, "current, next update due in 6 days");
        assert_eq!(c.crl_number.as_deref(), Some("7"));
        assert_eq!(c.revoked_count, 1);
        assert_eq!(c.revoked[0].serial, "0abc");
        assert_eq!(c.revoked[0].revocation_date, "2025-01-01T12:00:00Z");
        assert_eq!(c.revoked[0].reason.as_deref(), Some("key compromise (keyCompromise)"));
        assert_eq!(c.signature_algorithm, "ecdsa-with-SHA384");
        assert_eq!(c.issued_by, Some(IssuerLink { item: 2, signature_verified: Some(true) }));
        assert_eq!(c.authority_key_id, cert(&ins.items[1]).subject_key_id);
        assert_eq!(cert(&ins.items[1]).issued, vec![1]);

        let stale = inspect_bytes_at("x", text.as_bytes(), datetime!(2025-01-11 0:00 UTC)).unwrap();
        let Item::Crl(c) = &stale.items[0] else {
            panic!("not a CRL");
        };
        assert!(c.stale);
        assert_eq!(c.status, "STALE: the next update was due 3 days ago");
        let rendered = stale.render_text();
        assert!(rendered.contains("STALE"));
        assert!(rendered.contains("serial 0abc on 2025-01-01T12:00:00Z, key compromise"));
        assert!(rendered.contains("CRL number:"));
    }

    /// The SPKI fingerprint of a key must equal that of a certificate for it.
    fn cert_spki_fp(k: &KeyPair) -> String {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn("k");
        let c = params.self_signed(k).unwrap();
        let ins = inspect_bytes_at("c", c.der(), NOW).unwrap();
        cert(&ins.items[0]).spki_sha256.clone()
    }

    fn key_item(text: &str) -> KeyInfo {
        let ins = inspect(text);
        key(&ins.items[0]).clone()
    }

    #[test]
    fn pkcs8_p256_and_p384() {
        for (alg, curve, bits) in
            [(&rcgen::PKCS_ECDSA_P256_SHA256, "P-256", 256), (&rcgen::PKCS_ECDSA_P384_SHA384, "P-384", 384)]
        {
            let k = KeyPair::generate_for(alg).unwrap();
            let info = key_item(&k.serialize_pem());
            assert_eq!(info.format, "PKCS#8 v1 (PrivateKeyInfo)");
            assert!(!info.encrypted);
            let summary = info.key.as_ref().unwrap();
            assert_eq!(summary.algorithm, "EC");
            assert_eq!(summary.curve.as_deref(), Some(curve));
            assert_eq!(summary.bits, Some(bits));
            assert_eq!(info.spki_sha256, Some(cert_spki_fp(&k)));
            // the same key's public half
            let ins = inspect(&format!("{}{}", k.serialize_pem(), k.public_key_pem()));
            let Item::PublicKey(pk) = &ins.items[1] else {
                panic!("not a public key");
            };
            assert_eq!(pk.key.curve.as_deref(), Some(curve));
            assert_eq!(Some(pk.spki_sha256.clone()), info.spki_sha256);
            assert_eq!(pk.matches, vec![1]);
            assert_eq!(key(&ins.items[0]).matches, vec![2]);
        }
    }

    #[test]
    fn rsa_2048_pkcs8_and_pkcs1() {
        let k = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048).unwrap();
        let info = key_item(&k.serialize_pem());
        assert_eq!(info.format, "PKCS#8 v1 (PrivateKeyInfo)");
        let summary = info.key.as_ref().unwrap();
        assert_eq!(summary.algorithm, "RSA");
        assert_eq!(summary.bits, Some(2048));
        assert_eq!(summary.description, "RSA 2048 bits");
        let fp = cert_spki_fp(&k);
        assert_eq!(info.spki_sha256.as_deref(), Some(fp.as_str()));

        // The PKCS#1 structure inside, as "RSA PRIVATE KEY".
        let top = der::read_all(k.serialized_der()).unwrap();
        let inner = der::children(top.value).unwrap()[2].value.to_vec();
        let pkcs1 = pem::encode(&pem::Pem::new("RSA PRIVATE KEY", inner));
        let info = key_item(&pkcs1);
        assert_eq!(info.format, "PKCS#1 (RSA PRIVATE KEY)");
        assert_eq!(info.key.as_ref().unwrap().bits, Some(2048));
        assert_eq!(info.spki_sha256.as_deref(), Some(fp.as_str()));

        // An RSA-signed certificate names its algorithm the OpenSSL way.
        let mut params = CertificateParams::default();
        params.distinguished_name = dn("rsa");
        let c = params.self_signed(&k).unwrap();
        let ins = inspect(&c.pem());
        assert_eq!(cert(&ins.items[0]).signature_algorithm, "sha256WithRSAEncryption");
        assert_eq!(cert(&ins.items[0]).key.description, "RSA 2048 bits");
    }

    #[test]
    fn sec1_ec_private_key() {
        let k = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        // Rebuild the inner ECPrivateKey with its curve named, as `openssl ec` writes it.
        let top = der::read_all(k.serialized_der()).unwrap();
        let kids = der::children(top.value).unwrap();
        let curve = der::children(kids[1].value).unwrap()[1].raw.to_vec();
        let inner = der::read_all(kids[2].value).unwrap();
        let parts = der::children(inner.value).unwrap();
        let mut content = parts[0].raw.to_vec();
        content.extend_from_slice(parts[1].raw);
        content.extend_from_slice(&der::encode(0xa0, &curve));
        for p in &parts[2..] {
            if p.tag == 0xa1 {
                content.extend_from_slice(p.raw);
            }
        }
        let sec1 = der::encode(der::SEQUENCE, &content);
        let info = key_item(&pem::encode(&pem::Pem::new("EC PRIVATE KEY", sec1)));
        assert_eq!(info.format, "SEC1 (EC PRIVATE KEY)");
        assert_eq!(info.key.as_ref().unwrap().curve.as_deref(), Some("P-256"));
        assert_eq!(info.spki_sha256, Some(cert_spki_fp(&k)));
    }

    #[test]
    fn ed25519_key_and_certificate() {
        let k = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let info = key_item(&k.serialize_pem());
        assert_eq!(info.key.as_ref().unwrap().algorithm, "Ed25519");
        if info.format.starts_with("PKCS#8 v2") {
            assert_eq!(info.spki_sha256, Some(cert_spki_fp(&k)));
            assert!(info.notes.iter().any(|n| n.contains("OpenSSL 3.0")));
        } else {
            assert_eq!(info.format, "PKCS#8 v1 (PrivateKeyInfo)");
            assert_eq!(info.spki_sha256, None);
        }
        let mut params = CertificateParams::default();
        params.distinguished_name = dn("ed");
        let c = params.self_signed(&k).unwrap();
        let ins = inspect(&c.pem());
        let c = cert(&ins.items[0]);
        assert_eq!(c.signature_algorithm, "ED25519");
        assert_eq!(c.key.description, "Ed25519");
        assert_eq!(c.self_signature_verifies, Some(true));
        assert_eq!(c.role, "end-entity certificate");
    }

    #[test]
    fn ed25519_v1_and_v2_forms() {
        // v1 has no public key; v2 carries it in [1].
        let k = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let top = der::read_all(k.serialized_der()).unwrap();
        let kids = der::children(top.value).unwrap();
        let public_bits = k.public_key_raw();
        let mut v1 = der::encode(der::INTEGER, &[0]);
        v1.extend_from_slice(kids[1].raw);
        v1.extend_from_slice(kids[2].raw);
        let v1 = der::encode(der::SEQUENCE, &v1);
        let info = key_item(&pem::encode(&pem::Pem::new("PRIVATE KEY", v1)));
        assert_eq!(info.format, "PKCS#8 v1 (PrivateKeyInfo)");
        assert_eq!(info.spki_sha256, None);

        let mut v2 = der::encode(der::INTEGER, &[1]);
        v2.extend_from_slice(kids[1].raw);
        v2.extend_from_slice(kids[2].raw);
        let mut bits = vec![0u8];
        bits.extend_from_slice(public_bits);
        v2.extend_from_slice(&der::encode(0x81, &bits));
        let v2 = der::encode(der::SEQUENCE, &v2);
        let info = key_item(&pem::encode(&pem::Pem::new("PRIVATE KEY", v2)));
        assert!(info.format.starts_with("PKCS#8 v2"));
        assert_eq!(info.spki_sha256, Some(cert_spki_fp(&k)));
        assert!(info.notes.iter().any(|n| n.contains("OpenSSL 3.0 refuses")));
    }

    #[test]
    fn encrypted_pkcs8_pbkdf2_and_scrypt() {
        use pkcs8::pkcs5::pbes2;
        let k = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let pki = pkcs8::PrivateKeyInfoRef::try_from(k.serialized_der()).unwrap();

        let params =
            pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(2048, &[7u8; 16], [9u8; 16]).unwrap();
        let doc = pki.encrypt_with_params(params, b"secret").unwrap();
        let pem_text = doc.to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF).unwrap();
        let info = key_item(&pem_text);
        assert!(info.encrypted);
        assert_eq!(info.format, "encrypted PKCS#8 (EncryptedPrivateKeyInfo)");
        assert_eq!(info.key, None);
        assert_eq!(info.spki_sha256, None);
        let e = info.encryption.as_ref().unwrap();
        assert_eq!(e.scheme, "PBES2");
        assert_eq!(e.kdf.as_deref(), Some("PBKDF2-HMAC-SHA256"));
        assert_eq!(e.iterations, Some(2048));
        assert_eq!(e.cipher.as_deref(), Some("AES-256-CBC"));
        assert_eq!(e.description, "PBES2: PBKDF2-HMAC-SHA256, 2048 iterations, AES-256-CBC");
        let text = inspect(&pem_text).render_text();
        assert!(text.contains("Encrypted:"));
        assert!(text.contains("PBKDF2-HMAC-SHA256, 2048 iterations, AES-256-CBC"));
        assert!(text.contains("not available without the passphrase"));

        let doc = pki.encrypt(b"secret").unwrap();
        let info = key_item(&doc.to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF).unwrap());
        let e = info.encryption.as_ref().unwrap();
        assert_eq!(e.kdf.as_deref(), Some("scrypt"));
        assert_eq!((e.scrypt_n, e.scrypt_r, e.scrypt_p), (Some(16384), Some(8), Some(1)));
        assert_eq!(e.description, "PBES2: scrypt (N=16384, r=8, p=1), AES-256-CBC");

        // DER form is recognised too.
        let ins = inspect_bytes_at("k.der", doc.as_bytes(), NOW).unwrap();
        assert!(key(&ins.items[0]).encrypted);
    }

    #[test]
    fn legacy_encrypted_pem_key() {
        let text = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        let info = key_item(text);
        assert!(info.encrypted);
        let e = info.encryption.unwrap();
        assert_eq!(e.scheme, "OpenSSL legacy PEM encryption");
        assert_eq!(e.cipher.as_deref(), Some("AES-256-CBC"));
    }

    #[test]
    fn der_files_of_each_kind() {
        let p = pki();
        let ins = inspect_bytes_at("c.der", &p.leaf_der, NOW).unwrap();
        assert!(matches!(ins.items[0], Item::Certificate(_)));
        assert_eq!(cert(&ins.items[0]).pem_label, None);

        let csr = csr_params().serialize_request(&p.leaf_key).unwrap();
        let ins = inspect_bytes_at("r.der", csr.der(), NOW).unwrap();
        assert!(matches!(ins.items[0], Item::CertificateRequest(_)));

        let params = CertificateRevocationListParams {
            this_update: NOT_BEFORE,
            next_update: NOT_AFTER,
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: Vec::new(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let list = params.signed_by(&Issuer::from_params(&p.root_params, &p.root_key)).unwrap();
        let ins = inspect_bytes_at("l.der", list.der(), NOW).unwrap();
        let Item::Crl(c) = &ins.items[0] else {
            panic!("not a CRL");
        };
        assert_eq!(c.revoked_count, 0);

        let ins = inspect_bytes_at("k.der", p.leaf_key.serialized_der(), NOW).unwrap();
        assert_eq!(key(&ins.items[0]).format, "PKCS#8 v1 (PrivateKeyInfo)");
    }

    #[test]
    fn json_shape() {
        let p = pki();
        let ins = inspect(&format!("{}{}", p.leaf_pem, p.leaf_key.serialize_pem()));
        let v = serde_json::to_value(&ins).unwrap();
        assert_eq!(v["file"], "test.pem");
        assert_eq!(v["items"][0]["type"], "certificate");
        assert_eq!(v["items"][0]["index"], 1);
        assert_eq!(v["items"][0]["role"], "TLS server certificate");
        assert_eq!(v["items"][0]["key"]["curve"], "P-256");
        assert_eq!(v["items"][1]["type"], "private_key");
        assert!(v["warnings"].as_array().unwrap().is_empty());
        let csr = csr_params().serialize_request(&p.leaf_key).unwrap();
        let v = serde_json::to_value(inspect(&csr.pem().unwrap())).unwrap();
        assert_eq!(v["items"][0]["type"], "certificate_request");
    }

    #[test]
    fn truncated_pem() {
        let p = pki();
        let cut = p.leaf_pem.find("-----END").unwrap();
        let err = inspect_bytes_at("leaf.pem", &p.leaf_pem.as_bytes()[..cut], NOW).unwrap_err();
        assert!(matches!(err, InspectError::TruncatedPem { block: 1, .. }));
        assert_eq!(err.to_string(), "leaf.pem: truncated PEM: BEGIN CERTIFICATE without END (block 1)");
        // second block truncated
        let text = format!("{}{}", p.root_pem, &p.leaf_pem[..cut]);
        let err = inspect_bytes_at("chain.pem", text.as_bytes(), NOW).unwrap_err();
        assert!(matches!(err, InspectError::TruncatedPem { block: 2, .. }), "{err}");
        // BEGIN followed by another BEGIN
        let text = format!("{}{}", &p.leaf_pem[..cut], p.root_pem);
        let err = inspect_bytes_at("chain.pem", text.as_bytes(), NOW).unwrap_err();
        assert!(matches!(err, InspectError::TruncatedPem { block: 1, .. }), "{err}");
    }

    #[test]
    fn corrupt_pem_and_bad_der() {
        let p = pki();
        // base64 that does not decode
        let mut lines: Vec<String> = p.leaf_pem.lines().map(str::to_string).collect();
        lines[2] = format!("!!{}", &lines[2][2..]);
        let err = inspect_bytes_at("bad.pem", lines.join("\n").as_bytes(), NOW).unwrap_err();
        assert!(matches!(err, InspectError::CorruptPem { block: 1, .. }), "{err}");
        assert!(err.to_string().starts_with("bad.pem: corrupt PEM in block 1 (CERTIFICATE)"));

        // mismatched END
        let text = p.leaf_pem.replace("END CERTIFICATE", "END X509 CRL");
        let err = inspect_bytes_at("bad.pem", text.as_bytes(), NOW).unwrap_err();
        assert!(err.to_string().contains("closed by END X509 CRL"), "{err}");

        // valid PEM, garbage DER, in block 2
        let garbage = pem::encode(&pem::Pem::new("X509 CRL", vec![0x30, 0x03, 1, 2, 3]));
        let text = format!("{}{}", p.leaf_pem, garbage);
        let err = inspect_bytes_at("mixed.pem", text.as_bytes(), NOW).unwrap_err();
        match &err {
            InspectError::BadDer { file, block, label, expected, .. } => {
                assert_eq!(file, "mixed.pem");
                assert_eq!(*block, 2);
                assert_eq!(label, "X509 CRL");
                assert_eq!(expected, "CRL");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().starts_with("mixed.pem: PEM block 2 (X509 CRL) does not hold a valid CRL"));
    }

    #[test]
    fn garbage_and_empty() {
        let err = inspect_bytes_at("g.bin", b"hello world, not a certificate", NOW).unwrap_err();
        assert!(matches!(err, InspectError::Unrecognized { .. }));
        assert!(err.to_string().starts_with("g.bin: not recognised"));
        let err = inspect_bytes_at("g.bin", &[0x30, 0x82, 0xff, 0xff, 1, 2, 3], NOW).unwrap_err();
        assert!(matches!(err, InspectError::Unrecognized { .. }));
        let err = inspect_bytes_at("e.pem", b"", NOW).unwrap_err();
        assert!(matches!(err, InspectError::Empty { .. }));
        assert_eq!(err.to_string(), "e.pem: the file is empty");
        let err = inspect_bytes_at("e.pem", b"  \n\n", NOW).unwrap_err();
        assert!(matches!(err, InspectError::Empty { .. }));
    }

    #[test]
    fn unknown_block_is_reported_not_fatal() {
        let p = pki();
        let text =
            format!("some text before\n-----BEGIN FOO BAR-----\nAAAA\n-----END FOO BAR-----\n{}", p.leaf_pem);
        let ins = inspect(&text);
        assert_eq!(ins.items.len(), 2);
        let Item::Unknown(u) = &ins.items[0] else {
            panic!("expected unknown");
        };
        assert_eq!(u.pem_label.as_deref(), Some("FOO BAR"));
        assert_eq!(ins.warnings.len(), 1);
        assert!(ins.warnings[0].contains("FOO BAR"));
        assert!(matches!(ins.items[1], Item::Certificate(_)));
        let v = serde_json::to_value(&ins).unwrap();
        assert_eq!(v["items"][0]["type"], "unknown");
    }

    #[test]
    fn openssl_ecparam_output_has_no_warning() {
        let k = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = pem::encode(&pem::Pem::new(
            "EC PARAMETERS",
            vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
        ));
        let ins = inspect(&format!("{params}{}", k.serialize_pem()));
        assert!(ins.warnings.is_empty(), "{:?}", ins.warnings);
        assert!(matches!(ins.items[0], Item::Unknown(_)));
        assert!(ins.render_text().contains("#1 other block: EC PARAMETERS"));
    }

    #[cfg(unix)]
    #[test]
    fn key_file_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let k = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let dir = std::env::temp_dir().join(format!("pgharden-inspect-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("server.key");
        std::fs::write(&path, k.serialize_pem()).unwrap();

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let ins = inspect_file(&path).unwrap();
        assert_eq!(ins.file, path.display().to_string());
        assert_eq!(ins.warnings.len(), 1, "{:?}", ins.warnings);
        assert!(ins.warnings[0].contains("0644"));
        assert!(ins.warnings[0].contains("0600"));
        assert!(ins.render_text().contains("WARNING: private key file has mode 0644"));

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(inspect_file(&path).unwrap().warnings.is_empty());

        // A certificate file may be world-readable.
        let cert_path = dir.join("server.crt");
        std::fs::write(&cert_path, pki().leaf_pem).unwrap();
        std::fs::set_permissions(&cert_path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(inspect_file(&cert_path).unwrap().warnings.is_empty());

        let missing = dir.join("missing.pem");
        let err = inspect_file(&missing).unwrap_err();
        assert!(matches!(err, InspectError::NotFound { .. }));
        assert!(err.to_string().contains("missing.pem"));
        let err = inspect_file(&dir).unwrap_err();
        assert!(matches!(err, InspectError::Unreadable { .. }), "{err}");

        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hostile_values_are_escaped_in_the_text_and_kept_in_the_data() {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = leaf_params();
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "Example\r\nSubject: CN=trusted");
        name.push(DnType::CommonName, "evil\u{1b}[2J\u{1b}[H\u{202e}");
        p.distinguished_name = name;
        p.subject_alt_names = vec![SanType::DnsName("a\u{1b}[2J\nDNS:trusted".try_into().unwrap())];
        let pem = p.self_signed(&key).unwrap().pem();
        let file = "dir\n/evil\u{1b}.pem";
        let inspection = inspect_bytes_at(file, pem.as_bytes(), NOW).unwrap();
        let c = cert(&inspection.items[0]);
        assert!(c.subject.contains("\r\nSubject: CN=trusted"), "the data keeps the original: {}", c.subject);
        assert_eq!(c.subject_alt_names, ["DNS:a\u{1b}[2J\nDNS:trusted"]);

        let text = inspection.render_text();
        assert!(!text.chars().any(|ch| ch.is_control() && ch != '\n'), "{text:?}");
        assert!(!text.contains('\u{202e}'), "{text:?}");
        assert!(!text.lines().any(|l| l.trim_start().starts_with("Subject: CN=trusted")), "{text}");
        assert!(!text.lines().any(|l| l.trim_start().starts_with("DNS:trusted")), "{text}");
        assert!(text.contains("O=Example\\r\\nSubject: CN=trusted"), "{text}");
        assert!(text.contains("CN=evil\\x1b[2J\\x1b[H\\u{202e}"), "{text}");
        assert!(text.contains("DNS:a\\x1b[2J\\nDNS:trusted"), "{text}");
        assert!(text.starts_with("dir\\n/evil\\x1b.pem: 1 item\n"), "{text}");
        assert_eq!(text.lines().filter(|l| l.trim_start().starts_with("Subject:")).count(), 1, "{text}");
    }

    #[test]
    fn errors_quote_the_file_escaped_and_cut() {
        let label = format!("\u{1b}[2J{}", "L".repeat(5000));
        let text = format!("-----BEGIN {label}-----\nAAAA\n");
        let err = inspect_bytes_at("x\r\ny.pem", text.as_bytes(), NOW).unwrap_err();
        let InspectError::TruncatedPem { label: kept, .. } = &err else { panic!("{err:?}") };
        assert_eq!(kept, &label, "the field keeps the original");
        let msg = err.to_string();
        assert!(msg.starts_with("x\\r\\ny.pem: truncated PEM: BEGIN \\x1b[2JLLL"), "{msg}");
        assert!(!msg.chars().any(char::is_control), "{msg:?}");
        assert!(msg.len() < QUOTE_MAX + 200, "{}", msg.len());
        assert!(msg.contains("more bytes)"), "{msg}");
    }

    #[test]
    fn rfc4514_escaping() {
        assert_eq!(escape_rfc4514("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape_rfc4514(" #x "), "\\ #x\\ ");
        assert_eq!(escape_rfc4514("#x"), "\\#x");
        assert_eq!(escape_rfc4514("q\"<>;\\"), "q\\\"\\<\\>\\;\\\\");
    }

    #[test]
    fn der_helpers() {
        assert_eq!(der::oid_to_string(&DER_OID_RSA[2..]).as_deref(), Some(OID_RSA));
        assert_eq!(der::oid_to_string(&DER_OID_EC[2..]).as_deref(), Some(OID_EC));
        let long = vec![0u8; 300];
        let enc = der::encode(der::OCTET_STRING, &long);
        assert_eq!(&enc[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let t = der::read_all(&enc).unwrap();
        assert_eq!(t.value.len(), 300);
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_length(&[0x01]), 1);
        assert_eq!(serial_hex(&[0x00, 0x9a]), "9a");
        assert_eq!(serial_hex(&[0x00]), "00");
    }
}
