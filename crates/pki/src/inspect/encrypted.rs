//! Encrypted private keys: PKCS#8 EncryptedPrivateKeyInfo (PBES2 with PBKDF2 or scrypt, the
//! legacy PBES1 and PKCS#12 schemes) and OpenSSL's legacy `Proc-Type: 4,ENCRYPTED` PEM keys.
//!
//! It reports how a key is protected (scheme, key derivation and its cost, cipher), never the
//! key: nothing here takes a passphrase or decrypts. The PBES2 key derivation and PBES1
//! parameters are decoded by `pkcs5`; the outer structure is read with `der` with the algorithm
//! left open, because `pkcs8`'s EncryptedPrivateKeyInfo refuses the PKCS#12 schemes and ciphers
//! `pkcs5` does not implement, and those keys must still be explained.

use der::asn1::{AnyRef, OctetStringRef};
use der::{Decode, DecodeValue, Header, Reader, Sequence};
use pkcs5::{pbes1, pbes2};
use spki::AlgorithmIdentifierRef;

use super::decode::Decoded;
use super::oid::{OID_PBES2, OID_PBKDF2, OID_SCRYPT, cipher_name, pbes1_scheme, pkcs12_scheme, prf_name};
use super::{EncryptionInfo, Item, KeyInfo, KeySummary};

const ENCRYPTED_KEY_NOTE: &str = "encrypted: the PostgreSQL server needs ssl_passphrase_command \
     (or a passphrase typed at startup) to load it, and libpq needs sslpassword";

/// EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm AlgorithmIdentifier,
/// encryptedData OCTET STRING }, with any algorithm.
struct EncryptedKeyInfo<'a> {
    algorithm: AlgorithmIdentifierRef<'a>,
}

impl<'a> DecodeValue<'a> for EncryptedKeyInfo<'a> {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let algorithm = reader.decode()?;
        <&OctetStringRef>::decode(reader)?;
        Ok(EncryptedKeyInfo { algorithm })
    }
}

impl<'a> Sequence<'a> for EncryptedKeyInfo<'a> {}

/// PBES2-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, encryptionScheme
/// AlgorithmIdentifier }, with any cipher (`pkcs5` knows only AES and DES).
struct Pbes2Algorithms<'a> {
    kdf: AlgorithmIdentifierRef<'a>,
    cipher: AlgorithmIdentifierRef<'a>,
}

impl<'a> DecodeValue<'a> for Pbes2Algorithms<'a> {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        Ok(Pbes2Algorithms { kdf: reader.decode()?, cipher: reader.decode()? })
    }
}

impl<'a> Sequence<'a> for Pbes2Algorithms<'a> {}

/// `ENCRYPTED PRIVATE KEY`: PKCS#8 EncryptedPrivateKeyInfo.
pub(super) fn encrypted_pkcs8_key(
    index: usize,
    pem_label: Option<String>,
    der_bytes: &[u8],
) -> Result<Decoded, String> {
    let info = EncryptedKeyInfo::from_der(der_bytes)
        .map_err(|e| format!("not an EncryptedPrivateKeyInfo structure: {e}"))?;
    let encryption = encryption_info(info.algorithm)?;
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

fn show(v: Option<u64>) -> String {
    v.map_or_else(|| "?".to_string(), |v| v.to_string())
}

/// How the key is encrypted, from the EncryptedPrivateKeyInfo's algorithm.
fn encryption_info(alg: AlgorithmIdentifierRef<'_>) -> Result<EncryptionInfo, String> {
    let oid = alg.oid.to_string();
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
    if oid == OID_PBES2 {
        info.scheme = "PBES2".to_string();
        let params = alg.parameters.ok_or_else(|| {
            "not an EncryptedPrivateKeyInfo structure: PBES2 without parameters".to_string()
        })?;
        let algorithms = params
            .decode_as::<Pbes2Algorithms<'_>>()
            .map_err(|e| format!("not an EncryptedPrivateKeyInfo structure: PBES2 parameters: {e}"))?;
        let kdf_text = kdf_description(&mut info, algorithms.kdf);
        let cipher = cipher_name(&algorithms.cipher.oid.to_string());
        info.description = format!("PBES2: {kdf_text}, {cipher}");
        info.cipher = Some(cipher);
    } else if let Some((digest, cipher)) = pbes1_scheme(&oid) {
        info.scheme = "PBES1".to_string();
        info.kdf = Some(format!("PBKDF1-{digest}"));
        info.iterations =
            pbes1::Algorithm::try_from(alg).ok().map(|a| u64::from(a.parameters.iteration_count));
        info.cipher = Some(cipher.to_string());
        info.description =
            format!("PBES1 (legacy): PBKDF1-{digest}, {} iterations, {cipher}", show(info.iterations));
    } else if let Some(cipher) = pkcs12_scheme(&oid) {
        info.scheme = "PKCS#12 PBE".to_string();
        info.kdf = Some("PKCS#12 KDF with SHA-1".to_string());
        info.iterations = alg.parameters.and_then(pkcs12_iterations);
        info.cipher = Some(cipher.to_string());
        info.description =
            format!("PKCS#12 PBE (legacy): SHA-1, {} iterations, {cipher}", show(info.iterations));
    } else {
        info.description = format!("unknown encryption scheme (OID {oid})");
    }
    Ok(info)
}

/// The PBES2 key derivation in words; fills in `info`'s KDF fields.
fn kdf_description(info: &mut EncryptionInfo, kdf: AlgorithmIdentifierRef<'_>) -> String {
    let oid = kdf.oid.to_string();
    match pbes2::Kdf::try_from(kdf) {
        Ok(pbes2::Kdf::Pbkdf2(params)) => {
            info.iterations = Some(u64::from(params.iteration_count));
            let name = format!("PBKDF2-{}", prf_name(&params.prf.oid().to_string()));
            info.kdf = Some(name.clone());
            format!("{name}, {} iterations", params.iteration_count)
        }
        Ok(pbes2::Kdf::Scrypt(params)) => {
            info.kdf = Some("scrypt".to_string());
            info.scrypt_n = Some(params.cost_parameter);
            info.scrypt_r = Some(u64::from(params.block_size));
            info.scrypt_p = Some(u64::from(params.parallelization));
            format!(
                "scrypt (N={}, r={}, p={})",
                show(info.scrypt_n),
                show(info.scrypt_r),
                show(info.scrypt_p)
            )
        }
        // `Kdf` is non-exhaustive; and PBKDF2 or scrypt parameters `pkcs5` cannot read (an
        // unknown PRF, a salt over 32 bytes) leave the derivation named by its OID.
        _ => {
            let what = match oid.as_str() {
                OID_PBKDF2 => "PBKDF2 (parameters not understood)".to_string(),
                OID_SCRYPT => "scrypt (parameters not understood)".to_string(),
                other => format!("KDF {other}"),
            };
            info.kdf = Some(what.clone());
            if what.starts_with("KDF ") { format!("key derivation {oid}") } else { what }
        }
    }
}

/// pkcs-12PbeParams ::= SEQUENCE { salt OCTET STRING, iterations INTEGER }.
fn pkcs12_iterations(params: AnyRef<'_>) -> Option<u64> {
    params
        .sequence(|reader| {
            <&OctetStringRef>::decode(reader)?;
            u64::decode(reader)
        })
        .ok()
}

/// A PKCS#1 or SEC1 PEM block with `Proc-Type: 4,ENCRYPTED`.
pub(super) fn legacy_encrypted_key(
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
