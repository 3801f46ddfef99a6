//! Private keys: the key types we offer, generation, and the PKCS#8 files they live in.
//!
//! Owns: generating keys, writing them as PKCS#8 v1 PEM (plain, or encrypted with PBES2 =
//! PBKDF2-HMAC-SHA256 + AES-256-CBC), reading them back (with a passphrase when encrypted), and
//! the [`Passphrase`] type that keeps a secret out of `Debug` output and zeroizes it on drop.
//! Must not: decide where keys are stored or with which mode (that is `files` and `authority`).
//!
//! Why PBKDF2 and not scrypt: PBKDF2-HMAC-SHA256 is a FIPS 140 approved KDF, and OpenSSL 3, the
//! PostgreSQL server (`ssl_passphrase_command`) and libpq (`sslpassword`) all read it.
//! Why PKCS#8 *v1*: OpenSSL 3.0 (Debian 12's PostgreSQL and libpq) refuses Ed25519 keys in the v2
//! form that carries the public key.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use pkcs8::der::Encode;
use pkcs8::der::pem::LineEnding;
use pkcs8::{EncryptedPrivateKeyInfoRef, PrivateKeyInfoRef};
use rand::RngCore;
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519, PKCS_RSA_SHA256};
use rustls_pki_types::PrivatePkcs8KeyDer;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// PBKDF2 iterations for encrypted CA keys (OWASP's 2023 figure for PBKDF2-HMAC-SHA256).
pub const PBKDF2_ITERATIONS: u32 = 600_000;

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_ED25519: &str = "1.3.101.112";

/// The key types pgharden issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// ECDSA on NIST P-256 (prime256v1), signing with SHA-256.
    P256,
    /// ECDSA on NIST P-384 (secp384r1), signing with SHA-384; [`KeyType::DEFAULT`].
    P384,
    /// RSA with a 2048-bit modulus, the smallest OpenSSL accepts at security level 2.
    Rsa2048,
    /// RSA with a 3072-bit modulus, signing with SHA-256.
    Rsa3072,
    /// RSA with a 4096-bit modulus, signing with SHA-256.
    Rsa4096,
    /// EdDSA on Curve25519.
    Ed25519,
}

impl KeyType {
    /// Every key type, in the order `--help` lists them.
    pub const ALL: [Self; 6] =
        [Self::P256, Self::P384, Self::Rsa2048, Self::Rsa3072, Self::Rsa4096, Self::Ed25519];

    /// The default for a STIG user: ECDSA P-384 is FIPS 186 approved, is the CNSA suite curve the DoD
    /// asks for, and is many times faster than RSA-4096 at the same or better strength.
    pub const DEFAULT: Self = Self::P384;

    /// The name used on the command line and in the ledger.
    pub fn name(self) -> &'static str {
        match self {
            Self::P256 => "p256",
            Self::P384 => "p384",
            Self::Rsa2048 => "rsa2048",
            Self::Rsa3072 => "rsa3072",
            Self::Rsa4096 => "rsa4096",
            Self::Ed25519 => "ed25519",
        }
    }

    /// The signature algorithm a CA key of this type signs with.
    pub fn signature_algorithm(self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            Self::P256 => &PKCS_ECDSA_P256_SHA256,
            Self::P384 => &PKCS_ECDSA_P384_SHA384,
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => &PKCS_RSA_SHA256,
            Self::Ed25519 => &PKCS_ED25519,
        }
    }

    /// Whether TLS may use this key for RSA key transport (so the certificate needs keyEncipherment).
    pub fn is_rsa(self) -> bool {
        matches!(self, Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096)
    }

    /// Generate a fresh key of this type.
    pub fn generate(self) -> Result<KeyPair> {
        let alg = self.signature_algorithm();
        let size = match self {
            Self::Rsa2048 => rcgen::RsaKeySize::_2048,
            Self::Rsa3072 => rcgen::RsaKeySize::_3072,
            Self::Rsa4096 => rcgen::RsaKeySize::_4096,
            _ => return Ok(KeyPair::generate_for(alg)?),
        };
        Ok(KeyPair::generate_rsa_for(alg, size)?)
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|k| k.name().eq_ignore_ascii_case(s)).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|k| k.name()).collect();
            Error::invalid("key type", s, format!("expected one of {}", names.join(", ")))
        })
    }
}

/// A passphrase for CA keys. Zeroized on drop, never printed.
#[derive(Clone)]
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wrap a secret. Trailing newlines (from `echo secret > file`) are not part of it.
    pub fn new(secret: impl Into<String>) -> Result<Self> {
        let mut s = Zeroizing::new(secret.into());
        while s.ends_with('\n') || s.ends_with('\r') {
            s.pop();
        }
        if s.is_empty() {
            return Err(Error::invalid("passphrase", "", "it is empty"));
        }
        Ok(Self(s))
    }

    /// Read a passphrase from the first line of a file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = Zeroizing::new(crate::files::read(path)?);
        Self::from_bytes(path, &bytes)
    }

    /// The passphrase on the first line of `bytes`, the contents of the file at `path` (named in
    /// errors), for a file read some other way (as a cluster's owner, say).
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let text =
            std::str::from_utf8(bytes).map_err(|_| Error::bad_file(path, "passphrase file is not UTF-8"))?;
        let first = text.lines().next().unwrap_or_default();
        Self::new(first).map_err(|_| Error::bad_file(path, "passphrase file is empty"))
    }

    /// The contents of a passphrase file a program reads it from (`ssl_passphrase_command`,
    /// OpenSSL's `-passin file:`): the passphrase and a newline, which both strip.
    pub fn file_contents(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.0.len() + 1));
        out.extend_from_slice(self.0.as_bytes());
        out.push(b'\n');
        out
    }

    fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// A key as PKCS#8 v1 DER (zeroized on drop).
fn pkcs8_v1(key: &KeyPair) -> Result<Zeroizing<Vec<u8>>> {
    let der = key.serialized_der();
    let mut info = PrivateKeyInfoRef::try_from(der)
        .map_err(|e| Error::Encrypt(format!("generated key is not PKCS#8: {e}")))?;
    if info.public_key.is_none() {
        return Ok(Zeroizing::new(der.to_vec()));
    }
    info.public_key = None;
    info.to_der().map(Zeroizing::new).map_err(|e| Error::Encrypt(e.to_string()))
}

/// The PEM text of a key file: `PRIVATE KEY`, or `ENCRYPTED PRIVATE KEY` when a passphrase is given.
pub fn key_pem(key: &KeyPair, passphrase: Option<&Passphrase>) -> Result<Zeroizing<String>> {
    let der = pkcs8_v1(key)?;
    let Some(pass) = passphrase else {
        return Ok(Zeroizing::new(pem::encode(&pem::Pem::new("PRIVATE KEY", der.to_vec()))));
    };
    encrypt_pkcs8(&der, pass)
}

/// A PKCS#8 key (DER) as an `ENCRYPTED PRIVATE KEY` PEM block (PBES2: PBKDF2-HMAC-SHA256 with
/// [`PBKDF2_ITERATIONS`], AES-256-CBC), fresh salt and IV each time.
pub fn encrypt_pkcs8(der: &[u8], pass: &Passphrase) -> Result<Zeroizing<String>> {
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    rand::rng().fill_bytes(&mut iv);
    let params = pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(PBKDF2_ITERATIONS, &salt, iv)
        .map_err(|e| Error::Encrypt(e.to_string()))?;
    let info = PrivateKeyInfoRef::try_from(der).map_err(|e| Error::Encrypt(e.to_string()))?;
    let doc = info.encrypt_with_params(params, pass.expose()).map_err(|e| Error::Encrypt(e.to_string()))?;
    doc.to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF).map_err(|e| Error::Encrypt(e.to_string()))
}

/// The PKCS#8 key (DER) inside an `ENCRYPTED PRIVATE KEY` block's contents; `path` names the file
/// in errors. A wrong passphrase is [`Error::WrongPassphrase`].
pub fn decrypt_pkcs8(path: &Path, contents: &[u8], pass: &Passphrase) -> Result<Zeroizing<Vec<u8>>> {
    let enc = EncryptedPrivateKeyInfoRef::try_from(contents)
        .map_err(|e| Error::bad_file(path, format!("corrupt encrypted key: {e}")))?;
    let doc = enc.decrypt(pass.expose()).map_err(|_| Error::WrongPassphrase { path: path.into() })?;
    // A wrong passphrase can, rarely, still produce valid padding: the result then is not PKCS#8.
    if PrivateKeyInfoRef::try_from(doc.as_bytes()).is_err() {
        return Err(Error::WrongPassphrase { path: path.into() });
    }
    Ok(Zeroizing::new(doc.as_bytes().to_vec()))
}

/// Whether the key file at `path` is encrypted (without needing the passphrase).
pub fn is_encrypted(path: &Path) -> Result<bool> {
    let block = read_key_block(path)?;
    Ok(block.tag() == "ENCRYPTED PRIVATE KEY")
}

fn read_key_block(path: &Path) -> Result<pem::Pem> {
    let bytes = crate::files::read(path)?;
    let text = Zeroizing::new(bytes);
    let blocks = pem::parse_many(text.as_slice())
        .map_err(|e| Error::bad_file(path, format!("not a PEM key file ({e}); truncated?")))?;
    blocks
        .into_iter()
        .find(|b| b.tag().ends_with("PRIVATE KEY"))
        .ok_or_else(|| Error::bad_file(path, "no PRIVATE KEY block in the file"))
}

/// Load a private key file written by [`key_pem`] (or any unencrypted PKCS#8 key of a type we issue).
pub fn load_key(path: &Path, passphrase: Option<&Passphrase>) -> Result<(KeyPair, KeyType)> {
    let block = read_key_block(path)?;
    let der: Zeroizing<Vec<u8>> = match block.tag() {
        "PRIVATE KEY" => Zeroizing::new(block.contents().to_vec()),
        "ENCRYPTED PRIVATE KEY" => {
            let pass = passphrase.ok_or_else(|| Error::PassphraseRequired { path: path.into() })?;
            decrypt_pkcs8(path, block.contents(), pass)?
        }
        other => {
            return Err(Error::bad_file(
                path,
                format!("{other} keys are not supported; convert with `openssl pkcs8 -topk8`"),
            ));
        }
    };
    let key_type = key_type_of(path, &der)?;
    let pkcs8 = PrivatePkcs8KeyDer::from(der.as_slice());
    let key = KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, key_type.signature_algorithm())
        .map_err(|e| Error::bad_file(path, format!("unusable private key: {e}")))?;
    Ok((key, key_type))
}

/// Which of our key types a PKCS#8 key is.
fn key_type_of(path: &Path, der: &[u8]) -> Result<KeyType> {
    let info = PrivateKeyInfoRef::try_from(der)
        .map_err(|e| Error::bad_file(path, format!("not a PKCS#8 private key: {e}")))?;
    let oid = info.algorithm.oid.to_string();
    let param = info
        .algorithm
        .parameters
        .and_then(|p| p.decode_as::<pkcs8::ObjectIdentifier>().ok())
        .map(|o| o.to_string());
    match (oid.as_str(), param.as_deref()) {
        (OID_EC_PUBLIC_KEY, Some(OID_P256)) => Ok(KeyType::P256),
        (OID_EC_PUBLIC_KEY, Some(OID_P384)) => Ok(KeyType::P384),
        (OID_ED25519, _) => Ok(KeyType::Ed25519),
        (OID_RSA, _) => {
            let rsa = aws_lc_rs::rsa::KeyPair::from_pkcs8(der)
                .map_err(|e| Error::bad_file(path, format!("bad RSA key: {e}")))?;
            match rsa.public_modulus_len() * 8 {
                2048 => Ok(KeyType::Rsa2048),
                3072 => Ok(KeyType::Rsa3072),
                4096 => Ok(KeyType::Rsa4096),
                bits => Err(Error::bad_file(path, format!("RSA-{bits} is not a key size pgharden issues"))),
            }
        }
        _ => Err(Error::bad_file(
            path,
            format!(
                "unsupported key algorithm {oid}{}",
                param.map(|p| format!(" ({p})")).unwrap_or_default()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(kt: KeyType, pass: Option<&Passphrase>) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        let key = kt.generate().unwrap();
        let pem = key_pem(&key, pass).unwrap();
        std::fs::write(&path, pem.as_bytes()).unwrap();
        let (back, back_type) = load_key(&path, pass).unwrap();
        assert_eq!(back_type, kt);
        assert_eq!(back.public_key_raw(), key.public_key_raw());
        pem.to_string()
    }

    #[test]
    fn every_key_type_roundtrips_plain() {
        for kt in [KeyType::P256, KeyType::P384, KeyType::Ed25519, KeyType::Rsa2048] {
            let pem = roundtrip(kt, None);
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{kt}");
        }
    }

    #[test]
    fn ed25519_is_written_as_pkcs8_v1() {
        let key = KeyType::Ed25519.generate().unwrap();
        let der = pkcs8_v1(&key).unwrap();
        let info = PrivateKeyInfoRef::try_from(der.as_slice()).unwrap();
        assert_eq!(info.version(), pkcs8::Version::V1);
    }

    #[test]
    fn encrypted_key_needs_the_right_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.key");
        let pass = Passphrase::new("correct horse\n").unwrap();
        let key = KeyType::P256.generate().unwrap();
        std::fs::write(&path, key_pem(&key, Some(&pass)).unwrap().as_bytes()).unwrap();
        assert!(is_encrypted(&path).unwrap());
        assert!(load_key(&path, Some(&pass)).is_ok());
        let wrong = Passphrase::new("battery staple").unwrap();
        assert!(matches!(load_key(&path, Some(&wrong)), Err(Error::WrongPassphrase { .. })));
        assert!(matches!(load_key(&path, None), Err(Error::PassphraseRequired { .. })));
    }

    #[test]
    fn passphrase_is_never_printed() {
        let pass = Passphrase::new("hunter2").unwrap();
        assert!(!format!("{pass:?}").contains("hunter2"));
        assert!(Passphrase::new("\n").is_err());
    }

    #[test]
    fn truncated_key_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.key");
        std::fs::write(&path, "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n").unwrap();
        let err = load_key(&path, None).unwrap_err().to_string();
        assert!(err.contains("cut.key"), "{err}");
    }
}
