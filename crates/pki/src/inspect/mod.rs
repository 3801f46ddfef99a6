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
//!
//! This module owns the public types ([`Inspection`], [`Item`] and the per-kind infos), the
//! entry points and [`InspectError`]; each kind of structure is decoded in its own submodule
//! (`certificate`, `csr`, `crl`, `key`, `encrypted`), DER through the RustCrypto `der`/`spki`/
//! `pkcs1`/`sec1`/`pkcs8`/`pkcs5` crates and x509-parser. It must not write, decrypt or judge
//! trust: it explains what a file holds.

use std::path::Path;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

mod certificate;
mod crl;
mod csr;
mod decode;
mod encrypted;
mod key;
mod link;
mod name;
mod oid;
mod pem;
mod public_key;
mod render;
#[cfg(test)]
mod testutil;
mod weakness;

use decode::{Decoded, decode_der, decode_pem_block, known_other_block};
pub(crate) use name::format_name;
pub use weakness::{MIN_EC_BITS, MIN_RSA_BITS, Weakness};

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
    /// An X.509 certificate.
    Certificate(CertificateInfo),
    /// A PKCS#10 certificate signing request.
    CertificateRequest(CsrInfo),
    /// A certificate revocation list.
    Crl(CrlInfo),
    /// A private key.
    PrivateKey(KeyInfo),
    /// A public key on its own.
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

/// The basicConstraints extension of a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BasicConstraintsInfo {
    /// Whether the certificate may act as a CA (the `cA` flag).
    pub ca: bool,
    /// The pathLenConstraint: how many intermediate CAs may follow; `None` means no limit.
    pub path_len: Option<u32>,
    /// Whether the extension is marked critical (RFC 5280 requires it on CA certificates).
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

/// An X.509 certificate, with everything `pgharden pki show` prints about it.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateInfo {
    /// Position in the file, counting from 1.
    pub index: usize,
    /// The PEM block type, or `None` for a DER file.
    pub pem_label: Option<String>,
    /// "root CA", "intermediate CA", "TLS server certificate", ...
    pub role: String,
    /// RFC 4514 form (most specific attribute first), as PostgreSQL prints DNs.
    pub subject: String,
    /// The issuer DN, in the same form as `subject`.
    pub issuer: String,
    /// Lowercase hex without colons.
    pub serial: String,
    /// The X.509 version as people count it (1, 2 or 3).
    pub version: u32,
    /// RFC 3339, UTC.
    pub not_before: String,
    /// RFC 3339, UTC.
    pub not_after: String,
    /// `not_before` and `not_after` in seconds since the Unix epoch, for judging without
    /// parsing the text.
    pub not_before_unix: i64,
    /// `not_after` in seconds since the Unix epoch.
    pub not_after_unix: i64,
    /// "valid, expires in 364 days", "EXPIRED 3 days ago", "not yet valid (starts in 2 days)".
    pub status: String,
    /// True when `not_after` is in the past.
    pub expired: bool,
    /// True when `not_before` is in the future.
    pub not_yet_valid: bool,
    /// The subject public key.
    pub key: KeySummary,
    /// SHA-256 of the SubjectPublicKeyInfo DER, uppercase hex with colons.
    pub spki_sha256: String,
    /// OpenSSL's name, e.g. "ecdsa-with-SHA384", "sha256WithRSAEncryption", "ED25519".
    pub signature_algorithm: String,
    /// Subject equals issuer (and the key identifiers, when present, agree).
    pub self_signed: bool,
    /// For self-signed certificates: does the signature verify with its own key?
    pub self_signature_verifies: Option<bool>,
    /// The basicConstraints extension; `None` when the certificate has none.
    pub basic_constraints: Option<BasicConstraintsInfo>,
    /// Each keyUsage bit set, in plain words with the RFC 5280 name, e.g. "digital signature (digitalSignature)".
    pub key_usage: Vec<String>,
    /// Each extendedKeyUsage purpose in plain words, e.g. "TLS server (serverAuth)".
    pub extended_key_usage: Vec<String>,
    /// "DNS:name", "IP:address", "email:...", "URI:..."
    pub subject_alt_names: Vec<String>,
    /// The subjectKeyIdentifier, uppercase hex with colons.
    pub subject_key_id: Option<String>,
    /// The authorityKeyIdentifier's key id, uppercase hex with colons.
    pub authority_key_id: Option<String>,
    /// The CRL distribution point names (URIs and other general names).
    pub crl_distribution_points: Vec<String>,
    /// Extensions not explained above, by name or OID, with " (critical)" when marked so.
    pub other_extensions: Vec<String>,
    /// SHA-256 of the certificate DER, as `openssl x509 -fingerprint -sha256` prints it.
    pub sha256_fingerprint: String,
    /// The item in this file that signed this certificate; `None` when it is not in the file.
    pub issued_by: Option<IssuerLink>,
    /// Items in this file that this certificate issued.
    pub issued: Vec<usize>,
    /// The key's and the signature's weaknesses; each is also among `notes`.
    pub weaknesses: Vec<Weakness>,
    /// Plain-language remarks a user should read: problems found, extensions that did not decode.
    pub notes: Vec<String>,
}

/// A PKCS#10 certificate signing request.
#[derive(Debug, Clone, Serialize)]
pub struct CsrInfo {
    /// Position in the file, counting from 1.
    pub index: usize,
    /// The PEM block type, or `None` for a DER file.
    pub pem_label: Option<String>,
    /// RFC 4514 form (most specific attribute first), as PostgreSQL prints DNs.
    pub subject: String,
    /// The public key the request asks to have certified.
    pub key: KeySummary,
    /// SHA-256 of the SubjectPublicKeyInfo DER, uppercase hex with colons.
    pub spki_sha256: String,
    /// OpenSSL's name, e.g. "ecdsa-with-SHA384".
    pub signature_algorithm: String,
    /// `Some(true)` if the request's self-signature verifies; `None` if the
    /// algorithm could not be checked here.
    pub signature_verifies: Option<bool>,
    /// Requested subjectAltName entries: "DNS:name", "IP:address", ...
    pub subject_alt_names: Vec<String>,
    /// One line per requested extension, in plain words.
    pub requested_extensions: Vec<String>,
    /// The key's and the signature's weaknesses; each is also among `notes`.
    pub weaknesses: Vec<Weakness>,
    /// Plain-language remarks a user should read.
    pub notes: Vec<String>,
}

/// One certificate a CRL revokes.
#[derive(Debug, Clone, Serialize)]
pub struct RevokedEntry {
    /// The revoked certificate's serial, lowercase hex without colons.
    pub serial: String,
    /// When it was revoked, RFC 3339, UTC.
    pub revocation_date: String,
    /// The reason code in plain words with its RFC 5280 name; `None` when the CRL gives none.
    pub reason: Option<String>,
}

/// A certificate revocation list.
#[derive(Debug, Clone, Serialize)]
pub struct CrlInfo {
    /// Position in the file, counting from 1.
    pub index: usize,
    /// The PEM block type, or `None` for a DER file.
    pub pem_label: Option<String>,
    /// The issuing CA's DN, RFC 4514 form (most specific attribute first).
    pub issuer: String,
    /// The CRL version as people count it (1 or 2).
    pub version: u32,
    /// When the CRL was issued, RFC 3339, UTC.
    pub this_update: String,
    /// When the next CRL is due, RFC 3339, UTC; `None` when the CRL does not say.
    pub next_update: Option<String>,
    /// `this_update` and `next_update` in seconds since the Unix epoch.
    pub this_update_unix: i64,
    /// `next_update` in seconds since the Unix epoch.
    pub next_update_unix: Option<i64>,
    /// True when `next_update` is in the past.
    pub stale: bool,
    /// In words: "current, next update due in 6 days" or "STALE: the next update was due 3 days ago".
    pub status: String,
    /// Decimal.
    pub crl_number: Option<String>,
    /// The authorityKeyIdentifier's key id, uppercase hex with colons: which CA key signed it.
    pub authority_key_id: Option<String>,
    /// OpenSSL's name, e.g. "ecdsa-with-SHA384".
    pub signature_algorithm: String,
    /// How many certificates the CRL revokes (the length of `revoked`).
    pub revoked_count: usize,
    /// Every revoked certificate, in CRL order.
    pub revoked: Vec<RevokedEntry>,
    /// The item in this file that signed this CRL; `None` when it is not in the file.
    pub issued_by: Option<IssuerLink>,
    /// The signature's weaknesses; each is also among `notes`.
    pub weaknesses: Vec<Weakness>,
    /// Plain-language remarks a user should read.
    pub notes: Vec<String>,
}

/// How an encrypted key is protected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EncryptionInfo {
    /// "PBES2", "PBES1", "PKCS#12 PBE", "OpenSSL legacy PEM encryption", or an OID.
    pub scheme: String,
    /// "PBKDF2-HMAC-SHA256", "scrypt", ...
    pub kdf: Option<String>,
    /// PBKDF2 iteration count; `None` for other KDFs.
    pub iterations: Option<u64>,
    /// scrypt cost parameter N; `None` for other KDFs.
    pub scrypt_n: Option<u64>,
    /// scrypt block size r; `None` for other KDFs.
    pub scrypt_r: Option<u64>,
    /// scrypt parallelism p; `None` for other KDFs.
    pub scrypt_p: Option<u64>,
    /// "AES-256-CBC", ...
    pub cipher: Option<String>,
    /// All of the above in plain words.
    pub description: String,
}

/// A private key, encrypted or not.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    /// Position in the file, counting from 1.
    pub index: usize,
    /// The PEM block type, or `None` for a DER file.
    pub pem_label: Option<String>,
    /// "PKCS#8 v1 (PrivateKeyInfo)", "PKCS#8 v2 (OneAsymmetricKey)", "SEC1 (EC PRIVATE KEY)",
    /// "PKCS#1 (RSA PRIVATE KEY)", "encrypted PKCS#8 (EncryptedPrivateKeyInfo)".
    pub format: String,
    /// Whether the key is protected by a passphrase.
    pub encrypted: bool,
    /// `None` when encryption hides the algorithm.
    pub key: Option<KeySummary>,
    /// How it is encrypted; `None` for an unencrypted key.
    pub encryption: Option<EncryptionInfo>,
    /// SHA-256 of the matching SubjectPublicKeyInfo DER, when it can be had
    /// without a passphrase.
    pub spki_sha256: Option<String>,
    /// Items in this file with the same public key.
    pub matches: Vec<usize>,
    /// The key's weaknesses (none known while encryption hides the key); each is also among
    /// `notes`.
    pub weaknesses: Vec<Weakness>,
    /// Plain-language remarks a user should read.
    pub notes: Vec<String>,
}

/// A bare public key (not inside a certificate or request).
#[derive(Debug, Clone, Serialize)]
pub struct PublicKeyInfo {
    /// Position in the file, counting from 1.
    pub index: usize,
    /// The PEM block type, or `None` for a DER file.
    pub pem_label: Option<String>,
    /// "SubjectPublicKeyInfo" or "PKCS#1 (RSA PUBLIC KEY)".
    pub format: String,
    /// The key's algorithm and size.
    pub key: KeySummary,
    /// SHA-256 of the SubjectPublicKeyInfo DER, uppercase hex with colons.
    pub spki_sha256: String,
    /// Items in this file with the same public key.
    pub matches: Vec<usize>,
}

/// A PEM block of a type this tool does not explain (DH parameters, a PKCS#7 bundle, ...).
#[derive(Debug, Clone, Serialize)]
pub struct UnknownBlock {
    /// Position in the file, counting from 1.
    pub index: usize,
    /// The PEM block type (always `Some`: an unrecognised DER file is an error instead).
    pub pem_label: Option<String>,
    /// What the block holds when its type is known ("Diffie-Hellman parameters, not a key"), else
    /// that the type is unknown.
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
    /// The file does not exist.
    #[error("{}: no such file", shown(.file))]
    NotFound {
        /// The file as given.
        file: String,
    },
    /// The file exists but could not be read (permissions, a directory, too large).
    #[error("{}: cannot read: {error}", shown(.file))]
    Unreadable {
        /// The file as given.
        file: String,
        /// What the operating system reported.
        error: std::io::Error,
    },
    /// The file holds no bytes.
    #[error("{}: the file is empty", shown(.file))]
    Empty {
        /// The file as given.
        file: String,
    },
    /// A `-----BEGIN` line has no matching `-----END`.
    #[error("{}: truncated PEM: BEGIN {} without END (block {block})", shown(.file), quote(.label))]
    TruncatedPem {
        /// The file as given.
        file: String,
        /// Position of the PEM block in the file, counting from 1.
        block: usize,
        /// The block's type from its BEGIN line.
        label: String,
    },
    /// A PEM block's base64 body does not decode.
    #[error("{}: corrupt PEM in block {block} ({}): {}", shown(.file), quote(.label), quote(.detail))]
    CorruptPem {
        /// The file as given.
        file: String,
        /// Position of the PEM block in the file, counting from 1.
        block: usize,
        /// The block's type from its BEGIN line.
        label: String,
        /// The base64 decoder's complaint.
        detail: String,
    },
    /// A PEM block decodes but its DER is not the structure its label promises.
    #[error(
        "{}: PEM block {block} ({}) does not hold a valid {expected}: {}",
        shown(.file),
        quote(.label),
        quote(.detail)
    )]
    BadDer {
        /// The file as given.
        file: String,
        /// Position of the PEM block in the file, counting from 1.
        block: usize,
        /// The block's type from its BEGIN line.
        label: String,
        /// The structure the label promises, in words ("certificate", "PKCS#8 private key").
        expected: String,
        /// The DER parser's complaint.
        detail: String,
    },
    /// Neither PEM nor any DER structure this module reads.
    #[error(
        "{}: not recognised: neither PEM nor a DER certificate, CRL, certificate request or key",
        shown(.file)
    )]
    Unrecognized {
        /// The file as given.
        file: String,
    },
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
        && let Some(warning) = key::key_permission_warning(path)
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

    if pem::contains(bytes, b"-----BEGIN ") {
        let text = String::from_utf8_lossy(bytes);
        let blocks = pem::split_pem(&file, &text)?;
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

    link::link_items(&mut decoded);
    Ok(Inspection { file, items: decoded.into_iter().map(|d| d.item).collect(), warnings })
}

impl Item {
    /// The item's position in its file, counting from 1.
    pub fn index(&self) -> usize {
        match self {
            Self::Certificate(c) => c.index,
            Self::CertificateRequest(c) => c.index,
            Self::Crl(c) => c.index,
            Self::PrivateKey(k) => k.index,
            Self::PublicKey(k) => k.index,
            Self::Unknown(u) => u.index,
        }
    }
}

/// Uppercase hex with colons, as OpenSSL prints fingerprints and key ids.
fn colon_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// Lowercase hex without colons or leading zero bytes.
fn serial_hex(raw: &[u8]) -> String {
    let skip = raw.iter().take_while(|&&b| b == 0).count();
    let stripped = &raw[skip..];
    if stripped.is_empty() { "00".to_string() } else { hex::encode(stripped) }
}

/// A timestamp as RFC 3339 (UTC), the one way pgharden prints times.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// "3 days", "2 hours", "1 minute", "less than a minute".
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use super::*;
    use crate::inspect::testutil::*;
    use rcgen::{CertificateRevocationListParams, Issuer, KeyIdMethod, KeyPair, SerialNumber};

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
    fn serials() {
        assert_eq!(serial_hex(&[0x00, 0x9a]), "9a");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(colon_hex(&[0xab, 0x01]), "AB:01");
    }
}
