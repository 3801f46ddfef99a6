//! Unencrypted private keys (PKCS#1 `RSA PRIVATE KEY`, SEC1 `EC PRIVATE KEY`, PKCS#8 v1/v2
//! `PRIVATE KEY`): which algorithm, how big, and the SHA-256 of the matching
//! SubjectPublicKeyInfo (built by `public_key`), so that a key can be matched with its
//! certificate; and the key file permission check.
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
use spki::AlgorithmIdentifierRef;

use super::decode::Decoded;
use super::oid::{OID_EC, OID_ED448, OID_ED25519, OID_RSA, OID_RSA_PSS};
use super::public_key::{key_summary, named_curve, rsa_spki, spki_der};
use super::weakness::{self, Weakness};
use super::{Item, KeyInfo, KeySummary, colon_hex};

/// id-ecPublicKey, for the SubjectPublicKeyInfo of a SEC1 key.
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap(OID_EC);

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
                    // [1] IMPLICIT BIT STRING: the content is the unused-bits octet, then the bits
                    let (&unused, bits) = field
                        .value()
                        .split_first()
                        .ok_or_else(|| reader.error(Tag::BitString.value_error()))?;
                    public_key = Some(BitStringRef::new(unused, bits)?);
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use crate::inspect::testutil::*;
    use std::path::Path;

    use der::asn1::{BitStringRef, ContextSpecific, ObjectIdentifier};
    use der::{Decode, Encode, Header, Tag, TagMode, TagNumber};
    use rcgen::{CertificateParams, KeyPair, RsaKeySize};

    use crate::inspect::{Inspection, Item, inspect_bytes_at};

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
        let inner =
            pkcs8::PrivateKeyInfoRef::from_der(k.serialized_der()).unwrap().private_key.as_bytes().to_vec();
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
        let info = pkcs8::PrivateKeyInfoRef::from_der(k.serialized_der()).unwrap();
        let curve = info.algorithm.parameters.unwrap().decode_as::<ObjectIdentifier>().unwrap();
        let mut inner = sec1::EcPrivateKey::from_der(info.private_key.as_bytes()).unwrap();
        inner.parameters = Some(sec1::EcParameters::NamedCurve(curve));
        assert!(inner.public_key.is_some(), "rcgen keeps the public key in the ECPrivateKey");
        let sec1 = inner.to_der().unwrap();
        let info = key_item(&pem::encode(&pem::Pem::new("EC PRIVATE KEY", sec1.clone())));
        assert_eq!(info.format, "SEC1 (EC PRIVATE KEY)");
        assert_eq!(info.key.as_ref().unwrap().curve.as_deref(), Some("P-256"));
        assert_eq!(info.spki_sha256, Some(cert_spki_fp(&k)));

        // Without its public key: explained, with a note instead of a fingerprint.
        inner.public_key = None;
        let info = key_item(&pem::encode(&pem::Pem::new("EC PRIVATE KEY", inner.to_der().unwrap())));
        assert_eq!(info.spki_sha256, None);
        assert!(info.notes.iter().any(|n| n.contains("does not include its public key")), "{:?}", info.notes);
    }

    /// A OneAsymmetricKey built field by field: `public` goes in `[1]`, implicitly tagged as RFC
    /// 5958 says or explicitly (constructed) as some encoders write it.
    fn one_asymmetric_key(version: u8, pkcs8_der: &[u8], public: Option<(&[u8], bool)>) -> Vec<u8> {
        let info = pkcs8::PrivateKeyInfoRef::from_der(pkcs8_der).unwrap();
        let mut content = version.to_der().unwrap();
        content.extend(info.algorithm.to_der().unwrap());
        content.extend(info.private_key.to_der().unwrap());
        if let Some((bits, explicit)) = public {
            let value = BitStringRef::from_bytes(bits).unwrap();
            let tag_mode = if explicit { TagMode::Explicit } else { TagMode::Implicit };
            content.extend(ContextSpecific { tag_number: TagNumber(1), tag_mode, value }.to_der().unwrap());
        }
        let mut out =
            Header::new(Tag::Sequence, der::Length::try_from(content.len()).unwrap()).to_der().unwrap();
        out.extend(content);
        out
    }

    #[test]
    fn ed25519_v1_and_v2_forms() {
        // v1 has no public key; v2 carries it in [1].
        let k = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let public_bits = k.public_key_raw();
        let fp = cert_spki_fp(&k);
        let v1 = one_asymmetric_key(0, k.serialized_der(), None);
        let info = key_item(&pem::encode(&pem::Pem::new("PRIVATE KEY", v1)));
        assert_eq!(info.format, "PKCS#8 v1 (PrivateKeyInfo)");
        assert_eq!(info.spki_sha256, None);
        assert!(info.notes.iter().any(|n| n.contains("a v1 key does not store its public key")));

        for explicit in [false, true] {
            let v2 = one_asymmetric_key(1, k.serialized_der(), Some((public_bits, explicit)));
            let info = key_item(&pem::encode(&pem::Pem::new("PRIVATE KEY", v2)));
            assert!(info.format.starts_with("PKCS#8 v2"), "{}", info.format);
            assert_eq!(info.spki_sha256.as_deref(), Some(fp.as_str()), "explicit [1]: {explicit}");
            assert!(info.notes.iter().any(|n| n.contains("OpenSSL 3.0 refuses")));
        }

        // v1 that carries a public key anyway: explained, and said.
        let odd = one_asymmetric_key(0, k.serialized_der(), Some((public_bits, false)));
        let info = key_item(&pem::encode(&pem::Pem::new("PRIVATE KEY", odd)));
        assert_eq!(info.format, "PKCS#8 v1 (PrivateKeyInfo)");
        assert_eq!(info.spki_sha256.as_deref(), Some(fp.as_str()));
        assert!(
            info.notes.iter().any(|n| n.contains("nevertheless carries a public key")),
            "{:?}",
            info.notes
        );

        // An unknown version is refused by name.
        let v3 = one_asymmetric_key(3, k.serialized_der(), None);
        let err = inspect_bytes_at("k.pem", pem::encode(&pem::Pem::new("PRIVATE KEY", v3)).as_bytes(), NOW)
            .unwrap_err();
        assert!(err.to_string().contains("unknown PKCS#8 version 3"), "{err}");
    }

    /// Run `openssl` in `dir`; it must succeed.
    fn openssl(dir: &Path, args: &[&str]) {
        let out = std::process::Command::new("openssl").args(args).current_dir(dir).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// The SHA-256 of the SubjectPublicKeyInfo OpenSSL derives from `key`.
    fn openssl_spki_fp(dir: &Path, key: &str) -> String {
        openssl(dir, &["pkey", "-in", key, "-pubout", "-outform", "DER", "-out", "spki.der"]);
        sha256_colon(&std::fs::read(dir.join("spki.der")).unwrap())
    }

    fn inspect_path(path: &Path) -> Inspection {
        inspect_bytes_at("f", &std::fs::read(path).unwrap(), NOW).unwrap()
    }

    #[test]
    fn openssl_keys_in_every_unencrypted_format() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        openssl(d, &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072", "-out", "rsa.pem"]);
        openssl(d, &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "ec.pem"]);
        openssl(d, &["genpkey", "-algorithm", "ED25519", "-out", "ed.pem"]);
        openssl(d, &["pkey", "-in", "rsa.pem", "-traditional", "-out", "rsa1.pem"]);
        openssl(d, &["pkey", "-in", "rsa.pem", "-traditional", "-outform", "DER", "-out", "rsa1.der"]);
        openssl(d, &["ec", "-in", "ec.pem", "-out", "sec1.pem"]);
        openssl(d, &["ec", "-in", "ec.pem", "-param_enc", "explicit", "-out", "explicit.pem"]);
        openssl(d, &["ec", "-in", "ec.pem", "-no_public", "-out", "nopub.pem"]);
        openssl(d, &["rsa", "-in", "rsa.pem", "-RSAPublicKey_out", "-out", "rsapub.pem"]);
        openssl(d, &["pkey", "-in", "ec.pem", "-pubout", "-outform", "DER", "-out", "ecpub.der"]);
        let rsa_fp = openssl_spki_fp(d, "rsa.pem");
        let ec_fp = openssl_spki_fp(d, "ec.pem");
        let ed_fp = openssl_spki_fp(d, "ed.pem");

        let cases: [(&str, &str, &str, Option<&str>); 7] = [
            ("rsa.pem", "PKCS#8 v1 (PrivateKeyInfo)", "RSA 3072 bits", Some(&rsa_fp)),
            ("rsa1.pem", "PKCS#1 (RSA PRIVATE KEY)", "RSA 3072 bits", Some(&rsa_fp)),
            ("rsa1.der", "PKCS#1 (RSA PRIVATE KEY)", "RSA 3072 bits", Some(&rsa_fp)),
            ("ec.pem", "PKCS#8 v1 (PrivateKeyInfo)", "EC P-384 (secp384r1)", Some(&ec_fp)),
            ("sec1.pem", "SEC1 (EC PRIVATE KEY)", "EC P-384 (secp384r1)", Some(&ec_fp)),
            ("nopub.pem", "SEC1 (EC PRIVATE KEY)", "EC P-384 (secp384r1)", None),
            ("ed.pem", "PKCS#8 v1 (PrivateKeyInfo)", "Ed25519", None),
        ];
        for (file, format, description, fp) in cases {
            let ins = inspect_path(&d.join(file));
            let k = key(&ins.items[0]);
            assert_eq!(k.format, format, "{file}");
            assert_eq!(k.key.as_ref().unwrap().description, description, "{file}");
            assert_eq!(k.spki_sha256.as_deref(), fp, "{file}");
        }

        // Explicit curve parameters: OpenSSL's own SPKI keeps them, and so does ours.
        let ins = inspect_path(&d.join("explicit.pem"));
        let k = key(&ins.items[0]);
        assert_eq!(k.key.as_ref().unwrap().description, "EC, explicit curve parameters");
        assert_eq!(k.spki_sha256, Some(openssl_spki_fp(d, "explicit.pem")));

        // Public keys, PKCS#1 and SubjectPublicKeyInfo (DER), match their private keys.
        let ins = inspect_path(&d.join("rsapub.pem"));
        let Item::PublicKey(p) = &ins.items[0] else { panic!("{:?}", ins.items[0]) };
        assert_eq!((p.format.as_str(), p.spki_sha256.as_str()), ("PKCS#1 (RSA PUBLIC KEY)", rsa_fp.as_str()));
        assert_eq!(p.key.description, "RSA 3072 bits");
        let ins = inspect_path(&d.join("ecpub.der"));
        let Item::PublicKey(p) = &ins.items[0] else { panic!("{:?}", ins.items[0]) };
        assert_eq!((p.format.as_str(), p.spki_sha256.as_str()), ("SubjectPublicKeyInfo", ec_fp.as_str()));
        assert_eq!(p.key.curve.as_deref(), Some("P-384"));
        assert_eq!(ed_fp.len(), 95);
    }

    #[test]
    fn malformed_keys_name_the_structure_and_the_decoder_complaint() {
        // SEQUENCE { INTEGER 0 }: too short for any key structure.
        for (label, expected, detail) in [
            ("RSA PRIVATE KEY", "PKCS#1 RSA private key", "not an RSAPrivateKey structure: "),
            ("EC PRIVATE KEY", "SEC1 EC private key", "not an ECPrivateKey structure: "),
            ("PRIVATE KEY", "PKCS#8 private key", "not a PKCS#8 PrivateKeyInfo structure: "),
            ("PUBLIC KEY", "public key", "not a SubjectPublicKeyInfo structure: "),
            ("RSA PUBLIC KEY", "PKCS#1 RSA public key", "not an RSAPublicKey structure: "),
        ] {
            let text = pem::encode(&pem::Pem::new(label, vec![0x30, 0x03, 0x02, 0x01, 0x00]));
            let err = inspect_bytes_at("k.pem", text.as_bytes(), NOW).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!(
                    "k.pem: PEM block 1 ({label}) does not hold a valid {expected}: {detail}"
                )),
                "{msg}"
            );
            assert!(
                msg.len() > msg.find(detail).unwrap() + detail.len(),
                "the decoder's reason follows: {msg}"
            );
        }
    }
}
