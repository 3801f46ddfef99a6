//! Public keys: what a SubjectPublicKeyInfo says (algorithm, RSA modulus size, named curve),
//! `PUBLIC KEY` and PKCS#1 `RSA PUBLIC KEY` blocks, and building the SubjectPublicKeyInfo DER
//! whose SHA-256 matches keys, requests and certificates with one another.
//!
//! Decoded and encoded with the RustCrypto `spki` and `pkcs1` crates. Nothing here touches
//! private material (that is `key`'s) or judges strength (`weakness`).

use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier};
use der::{Decode, Encode, Tag, Tagged};
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};

use super::decode::Decoded;
use super::oid::{
    CURVES, OID_DSA, OID_EC, OID_ED448, OID_ED25519, OID_RSA, OID_RSA_PSS, OID_X448, OID_X25519,
};
use super::{Item, KeySummary, PublicKeyInfo, colon_hex};

/// What a key's algorithm identifier and public material say about it. `curve` is the named
/// curve of an EC key (`None`: explicit parameters or none).
pub(super) fn key_summary(
    alg_oid: &str,
    curve: Option<ObjectIdentifier>,
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
            let curve_oid = curve.map(|o| o.to_string());
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

/// The named curve in an algorithm identifier's parameters, if they name one.
pub(super) fn named_curve(params: Option<AnyRef<'_>>) -> Option<ObjectIdentifier> {
    params.filter(|p| p.tag() == Tag::ObjectIdentifier).and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
}

/// Bits in a big-endian unsigned integer.
pub(super) fn bit_length(n: &[u8]) -> u32 {
    let skip = n.iter().take_while(|&&b| b == 0).count();
    let n = &n[skip..];
    match n.first() {
        None => 0,
        Some(&first) => {
            let len = u32::try_from(n.len()).unwrap_or(u32::MAX / 8);
            (len - 1) * 8 + (8 - first.leading_zeros())
        }
    }
}

/// An EC point's field size: uncompressed points hold two coordinates, compressed ones one.
pub(super) fn ec_point_bits(point: &[u8]) -> Option<u32> {
    let len = u32::try_from(point.len()).ok()?;
    match point.first()? {
        4 => Some((len - 1) / 2 * 8),
        2 | 3 => Some((len - 1) * 8),
        _ => None,
    }
}

/// Summary of a SubjectPublicKeyInfo DER.
pub(super) fn spki_summary(spki: &[u8]) -> KeySummary {
    let Ok(info) = SubjectPublicKeyInfoRef::from_der(spki) else {
        return KeySummary {
            algorithm: "unknown".to_string(),
            bits: None,
            curve: None,
            description: "undecodable public key".to_string(),
        };
    };
    let oid = info.algorithm.oid.to_string();
    let key_bytes = info.subject_public_key.raw_bytes();
    let modulus = if oid == OID_RSA || oid == OID_RSA_PSS {
        pkcs1::RsaPublicKeyRef::from_der(key_bytes).ok().map(|k| k.modulus.as_bytes())
    } else {
        None
    };
    key_summary(&oid, named_curve(info.algorithm.parameters), modulus, Some(key_bytes))
}

/// The SubjectPublicKeyInfo DER for `algorithm` and the key bits.
pub(super) fn spki_der(
    algorithm: AlgorithmIdentifierRef<'_>,
    key: BitStringRef<'_>,
) -> Result<Vec<u8>, String> {
    SubjectPublicKeyInfoRef { algorithm, subject_public_key: key }
        .to_der()
        .map_err(|e| format!("cannot encode the public key: {e}"))
}

/// The SubjectPublicKeyInfo of an RSA public key, under `algorithm` (rsaEncryption unless the
/// key says RSA-PSS).
pub(super) fn rsa_spki(
    algorithm: AlgorithmIdentifierRef<'_>,
    public: pkcs1::RsaPublicKeyRef<'_>,
) -> Result<Vec<u8>, String> {
    let key = public.to_der().map_err(|e| format!("cannot encode the RSA public key: {e}"))?;
    let bits =
        BitStringRef::from_bytes(&key).map_err(|e| format!("cannot encode the RSA public key: {e}"))?;
    spki_der(algorithm, bits)
}

/// `PUBLIC KEY`: SubjectPublicKeyInfo.
pub(super) fn spki_public_key(
    index: usize,
    pem_label: Option<String>,
    der_bytes: &[u8],
) -> Result<Decoded, String> {
    SubjectPublicKeyInfoRef::from_der(der_bytes)
        .map_err(|e| format!("not a SubjectPublicKeyInfo structure: {e}"))?;
    Ok(public_key_item(index, pem_label, "SubjectPublicKeyInfo", der_bytes.to_vec()))
}

/// `RSA PUBLIC KEY`: PKCS#1 RSAPublicKey.
pub(super) fn pkcs1_public_key(
    index: usize,
    pem_label: Option<String>,
    der_bytes: &[u8],
) -> Result<Decoded, String> {
    let key = pkcs1::RsaPublicKeyRef::from_der(der_bytes)
        .map_err(|e| format!("not an RSAPublicKey structure: {e}"))?;
    let spki = rsa_spki(pkcs1::ALGORITHM_ID, key)?;
    Ok(public_key_item(index, pem_label, "PKCS#1 (RSA PUBLIC KEY)", spki))
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use super::*;
    use crate::inspect::testutil::*;
    use rcgen::KeyPair;

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
    fn bit_lengths() {
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_length(&[0x01]), 1);
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(ec_point_bits(&[4; 65]), Some(256));
        assert_eq!(ec_point_bits(&[2; 33]), Some(256));
        assert_eq!(ec_point_bits(&[7; 33]), None);
        assert_eq!(spki_summary(&[0x30, 0x00]).description, "undecodable public key");
    }
}
