//! Unencrypted private keys (PKCS#1 `RSA PRIVATE KEY`, SEC1 `EC PRIVATE KEY`, PKCS#8 v1/v2
//! `PRIVATE KEY`) and public keys (SubjectPublicKeyInfo `PUBLIC KEY`, PKCS#1 `RSA PUBLIC KEY`):
//! which algorithm, how big, and the SHA-256 of the SubjectPublicKeyInfo, so that a key can be
//! matched with its certificate.
//!
//! The structures are decoded by the RustCrypto `pkcs1`, `sec1`, `pkcs8` and `spki` crates. Where
//! those refuse a key that OpenSSL and other encoders do write (explicit EC curve parameters, a
//! PKCS#8 version that disagrees with its public key, a constructed `[1]` public key), a lenient
//! `der` decoding of the same ASN.1 takes over so that the key is still explained; anything else
//! is reported with the decoder's complaint. Nothing here needs a passphrase or keeps private
//! material beyond the borrowed input (encrypted keys are `encrypted`'s).

use std::path::Path;

use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, DecodeValue, Encode, ErrorKind, Header, Reader, Sequence, Tag, TagNumber, Tagged};
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};

use super::decode::Decoded;
use super::oid::{
    CURVES, OID_DSA, OID_EC, OID_ED448, OID_ED25519, OID_RSA, OID_RSA_PSS, OID_X448, OID_X25519,
};
use super::weakness::{self, Weakness};
use super::{Item, KeyInfo, KeySummary, PublicKeyInfo, colon_hex};

/// id-ecPublicKey, for the SubjectPublicKeyInfo of a SEC1 key.
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap(OID_EC);

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
fn named_curve(params: Option<AnyRef<'_>>) -> Option<ObjectIdentifier> {
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
fn ec_point_bits(point: &[u8]) -> Option<u32> {
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
fn spki_der(algorithm: AlgorithmIdentifierRef<'_>, key: BitStringRef<'_>) -> Result<Vec<u8>, String> {
    SubjectPublicKeyInfoRef { algorithm, subject_public_key: key }
        .to_der()
        .map_err(|e| format!("cannot encode the public key: {e}"))
}

/// The SubjectPublicKeyInfo of an RSA public key, under `algorithm` (rsaEncryption unless the
/// key says RSA-PSS).
fn rsa_spki(
    algorithm: AlgorithmIdentifierRef<'_>,
    public: pkcs1::RsaPublicKeyRef<'_>,
) -> Result<Vec<u8>, String> {
    let key = public.to_der().map_err(|e| format!("cannot encode the RSA public key: {e}"))?;
    let bits =
        BitStringRef::from_bytes(&key).map_err(|e| format!("cannot encode the RSA public key: {e}"))?;
    spki_der(algorithm, bits)
}

/// What inspection needs of an ECPrivateKey: its curve parameters and public key, if present.
struct EcKey<'a> {
    params: Option<EcParams<'a>>,
    public: Option<BitStringRef<'a>>,
}

enum EcParams<'a> {
    Named(ObjectIdentifier),
    /// Explicit curve parameters (or anything else), kept as they are for the fingerprint.
    Other(AnyRef<'a>),
}

impl EcParams<'_> {
    fn curve(&self) -> Option<ObjectIdentifier> {
        match self {
            EcParams::Named(oid) => Some(*oid),
            EcParams::Other(any) => named_curve(Some(*any)),
        }
    }
}

/// ECPrivateKey with `[0]` parameters of any form: `sec1` only decodes named curves, and OpenSSL
/// writes explicit parameters when asked (`openssl ec -param_enc explicit`).
struct LenientEcPrivateKey<'a> {
    params: Option<AnyRef<'a>>,
    public: Option<BitStringRef<'a>>,
}

impl<'a> DecodeValue<'a> for LenientEcPrivateKey<'a> {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        if u8::decode(reader)? != 1 {
            return Err(reader.error(Tag::Integer.value_error()));
        }
        <&OctetStringRef>::decode(reader)?;
        let (mut params, mut public) = (None, None);
        while !reader.is_finished() {
            let field = AnyRef::decode(reader)?;
            match field.tag() {
                // [0] EXPLICIT parameters, before [1] EXPLICIT publicKey, each at most once
                Tag::ContextSpecific { number: TagNumber(0), constructed: true }
                    if params.is_none() && public.is_none() =>
                {
                    params = Some(AnyRef::from_der(field.value())?);
                }
                Tag::ContextSpecific { number: TagNumber(1), constructed: true } if public.is_none() => {
                    public = Some(BitStringRef::from_der(field.value())?);
                }
                other => return Err(reader.error(ErrorKind::TagUnexpected { expected: None, actual: other })),
            }
        }
        Ok(LenientEcPrivateKey { params, public })
    }
}

impl<'a> Sequence<'a> for LenientEcPrivateKey<'a> {}

fn ec_private_key(der_bytes: &[u8]) -> Result<EcKey<'_>, der::Error> {
    match sec1::EcPrivateKey::from_der(der_bytes) {
        Ok(key) => {
            let public = key.public_key.map(BitStringRef::from_bytes).transpose()?;
            let params = key.parameters.map(|p| match p {
                sec1::EcParameters::NamedCurve(oid) => EcParams::Named(oid),
            });
            Ok(EcKey { params, public })
        }
        Err(strict) => match LenientEcPrivateKey::from_der(der_bytes) {
            Ok(key) => Ok(EcKey { params: key.params.map(EcParams::Other), public: key.public }),
            Err(_) => Err(strict),
        },
    }
}

/// The SubjectPublicKeyInfo of a SEC1 key.
fn ec_spki(params: &EcParams<'_>, public: BitStringRef<'_>) -> Result<Vec<u8>, String> {
    let encoded;
    let parameters = match params {
        EcParams::Named(oid) => {
            encoded = oid.to_der().map_err(|e| format!("cannot encode the curve: {e}"))?;
            AnyRef::from_der(&encoded).map_err(|e| format!("cannot encode the curve: {e}"))?
        }
        EcParams::Other(any) => *any,
    };
    spki_der(AlgorithmIdentifierRef { oid: EC_PUBLIC_KEY, parameters: Some(parameters) }, public)
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

/// `RSA PRIVATE KEY`: PKCS#1 RSAPrivateKey.
pub(super) fn pkcs1_key(
    index: usize,
    pem_label: Option<String>,
    der_bytes: &[u8],
) -> Result<Decoded, String> {
    let key = pkcs1::RsaPrivateKeyRef::from_der(der_bytes)
        .map_err(|e| format!("not an RSAPrivateKey structure: {e}"))?;
    let spki = rsa_spki(pkcs1::ALGORITHM_ID, key.public_key())?;
    Ok(private_key_item(
        index,
        pem_label,
        KeyParts {
            format: "PKCS#1 (RSA PRIVATE KEY)".to_string(),
            key: Some(key_summary(OID_RSA, None, Some(key.modulus.as_bytes()), None)),
            spki: Some(spki),
            notes: Vec::new(),
        },
    ))
}

/// `EC PRIVATE KEY`: SEC1 ECPrivateKey.
pub(super) fn sec1_key(index: usize, pem_label: Option<String>, der_bytes: &[u8]) -> Result<Decoded, String> {
    let key = ec_private_key(der_bytes).map_err(|e| format!("not an ECPrivateKey structure: {e}"))?;
    let mut notes = Vec::new();
    let spki = match (&key.params, key.public) {
        (Some(params), Some(public)) => Some(ec_spki(params, public)?),
        (None, _) => {
            notes.push("the key does not name its curve".into());
            None
        }
        (_, None) => {
            notes.push("the key does not include its public key; fingerprint not computed".into());
            None
        }
    };
    let curve = key.params.as_ref().and_then(EcParams::curve);
    let point = key.public.map(|b| b.raw_bytes());
    Ok(private_key_item(
        index,
        pem_label,
        KeyParts {
            format: "SEC1 (EC PRIVATE KEY)".to_string(),
            key: Some(key_summary(OID_EC, curve, None, point)),
            spki,
            notes,
        },
    ))
}

/// The fields of a PrivateKeyInfo / OneAsymmetricKey that inspection uses.
struct Pkcs8Parts<'a> {
    version: u64,
    algorithm: AlgorithmIdentifierRef<'a>,
    private_key: &'a [u8],
    public_key: Option<BitStringRef<'a>>,
}

/// PrivateKeyInfo / OneAsymmetricKey as encoders write them, not only as RFC 5958 says: a
/// version that disagrees with the presence of the public key, and `[1]` in the constructed
/// (explicitly tagged) form some encoders emit. `pkcs8` refuses both.
struct LenientPrivateKeyInfo<'a>(Pkcs8Parts<'a>);

impl<'a> DecodeValue<'a> for LenientPrivateKeyInfo<'a> {
    type Error = der::Error;

    fn decode_value<R: Reader<'a>>(reader: &mut R, _header: Header) -> der::Result<Self> {
        let version = u64::decode(reader)?;
        let algorithm = reader.decode()?;
        let private_key = <&OctetStringRef>::decode(reader)?.as_bytes();
        let mut public_key = None;
        while !reader.is_finished() {
            let field = AnyRef::decode(reader)?;
            match field.tag() {
                Tag::ContextSpecific { number: TagNumber(0), .. } => {}
                Tag::ContextSpecific { number: TagNumber(1), constructed: false } => {
                    public_key = Some(field.decode_as::<BitStringRef<'a>>()?);
                }
                Tag::ContextSpecific { number: TagNumber(1), constructed: true } => {
                    public_key = Some(BitStringRef::from_der(field.value())?);
                }
                other => return Err(reader.error(ErrorKind::TagUnexpected { expected: None, actual: other })),
            }
        }
        Ok(LenientPrivateKeyInfo(Pkcs8Parts { version, algorithm, private_key, public_key }))
    }
}

impl<'a> Sequence<'a> for LenientPrivateKeyInfo<'a> {}

fn pkcs8_parts(der_bytes: &[u8]) -> Result<Pkcs8Parts<'_>, der::Error> {
    match pkcs8::PrivateKeyInfoRef::from_der(der_bytes) {
        Ok(info) => Ok(Pkcs8Parts {
            version: u64::from(u8::from(info.version())),
            algorithm: info.algorithm,
            private_key: info.private_key.as_bytes(),
            public_key: info.public_key,
        }),
        Err(strict) => LenientPrivateKeyInfo::from_der(der_bytes).map(|l| l.0).map_err(|_| strict),
    }
}

/// `PRIVATE KEY`: PKCS#8 PrivateKeyInfo (v1) or OneAsymmetricKey (v2).
pub(super) fn pkcs8_key(
    index: usize,
    pem_label: Option<String>,
    der_bytes: &[u8],
) -> Result<Decoded, String> {
    let parts = pkcs8_parts(der_bytes).map_err(|e| format!("not a PKCS#8 PrivateKeyInfo structure: {e}"))?;
    let alg = parts.algorithm;
    let oid = alg.oid.to_string();
    let v2_public = parts.public_key;
    let mut notes = Vec::new();
    let format = match (parts.version, v2_public.is_some()) {
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
            let rsa = pkcs1::RsaPrivateKeyRef::from_der(parts.private_key)
                .map_err(|e| format!("the RSA key inside is not an RSAPrivateKey: {e}"))?;
            // rsaEncryption keys get the canonical identifier (NULL parameters); an RSA-PSS
            // key keeps its own, parameters and all.
            let spki_alg = if oid == OID_RSA { pkcs1::ALGORITHM_ID } else { alg };
            let spki = rsa_spki(spki_alg, rsa.public_key())?;
            (key_summary(&oid, None, Some(rsa.modulus.as_bytes()), None), Some(spki))
        }
        OID_EC => {
            let inner = ec_private_key(parts.private_key)
                .map_err(|e| format!("the EC key inside is not an ECPrivateKey: {e}"))?;
            let curve =
                named_curve(alg.parameters).or_else(|| inner.params.as_ref().and_then(EcParams::curve));
            let point_bits = v2_public.or(inner.public);
            let spki = point_bits.map(|bits| spki_der(alg, bits)).transpose()?;
            if spki.is_none() {
                notes.push("the key does not include its public key; fingerprint not computed".into());
            }
            let point = point_bits.map(|b| b.raw_bytes());
            (key_summary(OID_EC, curve, None, point), spki)
        }
        _ => {
            let spki = v2_public.map(|bits| spki_der(alg, bits)).transpose()?;
            if spki.is_none() && matches!(oid.as_str(), OID_ED25519 | OID_ED448) {
                notes.push("a v1 key does not store its public key; fingerprint not computed".into());
            }
            (key_summary(&oid, named_curve(alg.parameters), None, None), spki)
        }
    };
    if parts.version == 1 && oid == OID_ED25519 {
        notes.push(
            "OpenSSL 3.0 refuses Ed25519 keys in PKCS#8 v2 form, so PostgreSQL and libpq built \
             against OpenSSL 3.0 cannot load this key; re-encode it as PKCS#8 v1"
                .into(),
        );
    }
    Ok(private_key_item(index, pem_label, KeyParts { format, key: Some(key), spki, notes }))
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

/// PostgreSQL's and libpq's rule for a private key file's mode, as a warning when it is broken.
#[cfg(unix)]
pub(super) fn key_permission_warning(path: &Path) -> Option<String> {
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
pub(super) fn key_permission_warning(_path: &Path) -> Option<String> {
    None
}
