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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use crate::inspect::testutil::*;
    use std::path::Path;

    use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
    use der::{Decode, Encode};
    use pkcs5::pbes2;
    use rcgen::KeyPair;
    use spki::AlgorithmIdentifierRef;

    use super::encryption_info;
    use crate::inspect::oid::OID_PBES2;
    use crate::inspect::{KeyInfo, inspect_bytes_at};

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

    fn openssl(dir: &Path, args: &[&str]) {
        let out = std::process::Command::new("openssl").args(args).current_dir(dir).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    #[test]
    fn openssl_encrypted_keys_of_each_scheme() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        openssl(d, &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "k.pem"]);
        openssl(d, &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "r.pem"]);
        let topk8 = |out: &str, extra: &[&str]| {
            let mut args = vec!["pkcs8", "-topk8", "-in", "k.pem", "-passout", "pass:x", "-out", out];
            args.extend_from_slice(extra);
            openssl(d, &args);
        };
        topk8("sha1.pem", &["-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1", "-iter", "4096"]);
        topk8("sha512.pem", &["-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA512", "-iter", "10000"]);
        topk8(
            "scrypt.der",
            &["-scrypt", "-scrypt_N", "1024", "-scrypt_r", "8", "-scrypt_p", "2", "-outform", "DER"],
        );
        topk8("des3.pem", &["-v2", "des3"]);
        topk8("pkcs12.pem", &["-v1", "PBE-SHA1-3DES", "-iter", "1500"]);
        openssl(
            d,
            &["rsa", "-in", "r.pem", "-traditional", "-aes256", "-passout", "pass:x", "-out", "legacy.pem"],
        );
        openssl(d, &["ec", "-in", "k.pem", "-des3", "-passout", "pass:x", "-out", "legacy-ec.pem"]);

        for (file, description, legacy) in [
            ("sha1.pem", "PBES2: PBKDF2-HMAC-SHA1, 4096 iterations, AES-128-CBC", false),
            ("sha512.pem", "PBES2: PBKDF2-HMAC-SHA512, 10000 iterations, AES-192-CBC", false),
            ("scrypt.der", "PBES2: scrypt (N=1024, r=8, p=2), AES-256-CBC", false),
            ("des3.pem", "PBES2: PBKDF2-HMAC-SHA256, 2048 iterations, DES-EDE3-CBC", false),
            ("pkcs12.pem", "PKCS#12 PBE (legacy): SHA-1, 1500 iterations, DES-EDE3-CBC", true),
        ] {
            let k = key_item_at(&d.join(file));
            assert!(k.encrypted, "{file}");
            assert_eq!(k.format, "encrypted PKCS#8 (EncryptedPrivateKeyInfo)", "{file}");
            assert_eq!(k.encryption.as_ref().unwrap().description, description, "{file}");
            assert_eq!(k.key, None, "{file}");
            assert_eq!(
                k.notes.iter().any(|n| n.contains("legacy, weak encryption scheme")),
                legacy,
                "{file}"
            );
        }
        let e = key_item_at(&d.join("scrypt.der")).encryption.unwrap();
        assert_eq!(
            (e.scrypt_n, e.scrypt_r, e.scrypt_p, e.kdf.as_deref()),
            (Some(1024), Some(8), Some(2), Some("scrypt"))
        );
        let e = key_item_at(&d.join("sha512.pem")).encryption.unwrap();
        assert_eq!((e.iterations, e.kdf.as_deref()), (Some(10000), Some("PBKDF2-HMAC-SHA512")));
        let e = key_item_at(&d.join("pkcs12.pem")).encryption.unwrap();
        assert_eq!((e.scheme.as_str(), e.iterations), ("PKCS#12 PBE", Some(1500)));

        for (file, format, cipher) in [
            ("legacy.pem", "PKCS#1 (RSA PRIVATE KEY), legacy PEM encryption", "AES-256-CBC"),
            ("legacy-ec.pem", "SEC1 (EC PRIVATE KEY), legacy PEM encryption", "DES-EDE3-CBC"),
        ] {
            let k = key_item_at(&d.join(file));
            assert!(k.encrypted);
            assert_eq!(k.format, format);
            assert_eq!(k.encryption.as_ref().unwrap().cipher.as_deref(), Some(cipher));
            assert!(k.notes.iter().any(|n| n.contains("legacy PEM key derivation is weak")));
        }
    }

    fn key_item_at(path: &Path) -> KeyInfo {
        let ins = inspect_bytes_at("f", &std::fs::read(path).unwrap(), NOW).unwrap();
        key(&ins.items[0]).clone()
    }

    #[test]
    fn unknown_schemes_are_named_by_oid() {
        // PBES2 with PBKDF2 and a cipher pkcs5 does not implement (Camellia), built with `der`.
        let kdf = pbes2::Pbkdf2Params::hmac_sha256(1000, &[1u8; 16]).unwrap();
        let kdf = pbes2::Kdf::from(kdf);
        let camellia = AlgorithmIdentifierRef {
            oid: ObjectIdentifier::new_unwrap("1.2.392.200011.61.1.1.1.4"),
            parameters: Some(AnyRef::from(OctetStringRef::new(&[0u8; 16]).unwrap())),
        };
        let mut params = kdf.to_der().unwrap();
        params.extend(camellia.to_der().unwrap());
        let params = sequence(&params);
        let alg = AlgorithmIdentifierRef {
            oid: ObjectIdentifier::new_unwrap(OID_PBES2),
            parameters: Some(AnyRef::from_der(&params).unwrap()),
        };
        let info = encryption_info(alg).unwrap();
        assert_eq!(info.description, "PBES2: PBKDF2-HMAC-SHA256, 1000 iterations, CAMELLIA-256-CBC");

        let unknown =
            AlgorithmIdentifierRef { oid: ObjectIdentifier::new_unwrap("1.2.3.4"), parameters: None };
        assert_eq!(encryption_info(unknown).unwrap().description, "unknown encryption scheme (OID 1.2.3.4)");
        let mut whole = unknown.to_der().unwrap();
        whole.extend(OctetStringRef::new(&[1, 2, 3]).unwrap().to_der().unwrap());
        let text = pem::encode(&pem::Pem::new("ENCRYPTED PRIVATE KEY", sequence(&whole)));
        assert_eq!(
            key_item(&text).encryption.unwrap().description,
            "unknown encryption scheme (OID 1.2.3.4)"
        );
    }

    fn sequence(content: &[u8]) -> Vec<u8> {
        let mut out = der::Header::new(der::Tag::Sequence, der::Length::try_from(content.len()).unwrap())
            .to_der()
            .unwrap();
        out.extend_from_slice(content);
        out
    }
}
