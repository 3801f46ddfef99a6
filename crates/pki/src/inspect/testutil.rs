//! Fixtures shared by the inspect unit tests: a small rcgen PKI with fixed dates, and shorthands
//! for inspecting text and picking items.
#![allow(clippy::unwrap_used)] // tests may panic on failure

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::datetime;

use super::{CertificateInfo, Inspection, Item, KeyInfo, colon_hex, inspect_bytes_at};

pub(super) const NOT_BEFORE: OffsetDateTime = datetime!(2025-01-01 0:00 UTC);
pub(super) const NOT_AFTER: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);
pub(super) const NOW: OffsetDateTime = datetime!(2025-01-02 0:00 UTC);

pub(super) fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Example, Inc.");
    dn.push(DnType::CommonName, cn);
    dn
}

pub(super) fn ca_params(cn: &str, path_len: Option<u8>) -> CertificateParams {
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

pub(super) fn leaf_params() -> CertificateParams {
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
pub(super) fn csr_params() -> CertificateParams {
    let mut p = leaf_params();
    p.serial_number = None;
    p.use_authority_key_identifier_extension = false;
    p
}

pub(super) struct Pki {
    pub(super) root_params: CertificateParams,
    pub(super) root_key: KeyPair,
    pub(super) root_pem: String,
    pub(super) root_der: Vec<u8>,
    pub(super) leaf_key: KeyPair,
    pub(super) leaf_pem: String,
    pub(super) leaf_der: Vec<u8>,
}

pub(super) fn pki() -> Pki {
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

pub(super) fn inspect(text: &str) -> Inspection {
    inspect_bytes_at("test.pem", text.as_bytes(), NOW).unwrap()
}

pub(super) fn cert(item: &Item) -> &CertificateInfo {
    match item {
        Item::Certificate(c) => c,
        other => panic!("expected a certificate, got {other:?}"),
    }
}

pub(super) fn key(item: &Item) -> &KeyInfo {
    match item {
        Item::PrivateKey(k) => k,
        other => panic!("expected a private key, got {other:?}"),
    }
}

pub(super) fn key_item(text: &str) -> KeyInfo {
    let ins = inspect(text);
    key(&ins.items[0]).clone()
}

pub(super) fn sha256_colon(bytes: &[u8]) -> String {
    colon_hex(&Sha256::digest(bytes))
}

/// The SPKI fingerprint of a key must equal that of a certificate for it.
pub(super) fn cert_spki_fp(k: &KeyPair) -> String {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn("k");
    let c = params.self_signed(k).unwrap();
    let ins = inspect_bytes_at("c", c.der(), NOW).unwrap();
    cert(&ins.items[0]).spki_sha256.clone()
}
