#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! `pki show` fuzzing, kept repeatable: seeds of every kind `inspect` explains are generated at test
//! time (rcgen, pkcs8), mutated byte-wise, DER-aware (huge lengths, deep nesting, long INTEGERs and
//! OIDs, bad times, tag swaps, all with the enclosing lengths fixed so the mutation reaches the
//! parser it aims at) and with PEM games (labels, headers, missing END, many repeated blocks).
//!
//! For every input `inspect_bytes` must return (no panic) within a generous bound; an error must
//! start with the file name and be one bounded line; an accepted file must render to text with no
//! control character but `\n`, and to JSON.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use pgharden_pki::inspect;
use proptest::prelude::*;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, RsaKeySize, SanType, SerialNumber,
};

const ORIGIN: &str = "fuzzed.pem";

/// Far above what any input here needs in a debug build; a hang or a quadratic blow-up exceeds it.
const BOUND: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// Seeds
// ---------------------------------------------------------------------------

struct Seed {
    /// The PEM label of the structure.
    label: &'static str,
    /// Whether the file is the DER itself rather than PEM.
    as_der: bool,
    der: Vec<u8>,
}

struct Seeds {
    items: Vec<Seed>,
    /// Leaf, intermediate and root, as one PEM file.
    chain_pem: String,
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Fuzz, Inc.");
    dn.push(DnType::CommonName, cn);
    dn
}

fn ca(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.use_authority_key_identifier_extension = true;
    p
}

/// The content of the OCTET STRING inside a PKCS#8 PrivateKeyInfo: PKCS#1 for RSA, SEC1 for EC.
fn pkcs8_inner(der: &[u8]) -> Vec<u8> {
    let Der::Cons { children, .. } = Der::parse_one(der).unwrap() else { panic!("PKCS#8 is a SEQUENCE") };
    match &children[2] {
        Der::Prim { content, .. } => content.clone(),
        Der::Cons { children, .. } => children.iter().flat_map(Der::encode).collect(),
        Der::Raw(raw) => raw.clone(),
    }
}

static SEEDS: LazyLock<Seeds> = LazyLock::new(|| {
    let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let root_params = ca("Fuzz Root");
    let root = root_params.self_signed(&root_key).unwrap();
    let root_issuer = Issuer::from_params(&root_params, &root_key);
    let inter_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let inter_params = ca("Fuzz Intermediate");
    let inter = inter_params.signed_by(&inter_key, &root_issuer).unwrap();
    let inter_issuer = Issuer::from_params(&inter_params, &inter_key);

    let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut leaf_params = CertificateParams::default();
    leaf_params.distinguished_name = dn("db.example.com");
    leaf_params.subject_alt_names = vec![
        SanType::DnsName("db.example.com".try_into().unwrap()),
        SanType::IpAddress("10.0.0.5".parse().unwrap()),
    ];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.use_authority_key_identifier_extension = true;
    let leaf = leaf_params.signed_by(&leaf_key, &inter_issuer).unwrap();

    let crl = CertificateRevocationListParams {
        this_update: time::OffsetDateTime::now_utc(),
        next_update: time::OffsetDateTime::now_utc() + time::Duration::days(7),
        crl_number: SerialNumber::from(7u64),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: SerialNumber::from_slice(&[0x0a, 0xbc]),
            revocation_time: time::OffsetDateTime::now_utc(),
            reason_code: Some(RevocationReason::KeyCompromise),
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&root_issuer)
    .unwrap();

    let mut csr_params = leaf_params.clone();
    csr_params.use_authority_key_identifier_extension = false;
    let csr = csr_params.serialize_request(&leaf_key).unwrap();
    let rsa = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048).unwrap();
    let ed = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let encrypted = {
        use pkcs8::pkcs5::pbes2;
        let info = pkcs8::PrivateKeyInfoRef::try_from(leaf_key.serialized_der()).unwrap();
        // A low iteration count: the fuzzer never decrypts, and the seed is made once.
        let params =
            pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(2048, &[7u8; 16], [9u8; 16]).unwrap();
        info.encrypt_with_params(params, b"fuzz").unwrap().as_bytes().to_vec()
    };
    let public = pem::parse(leaf_key.public_key_pem()).unwrap().into_contents();

    let items = vec![
        Seed { label: "CERTIFICATE", as_der: false, der: leaf.der().to_vec() },
        Seed { label: "CERTIFICATE", as_der: true, der: leaf.der().to_vec() },
        Seed { label: "CERTIFICATE", as_der: false, der: root.der().to_vec() },
        Seed { label: "X509 CRL", as_der: false, der: crl.der().to_vec() },
        Seed { label: "X509 CRL", as_der: true, der: crl.der().to_vec() },
        Seed { label: "CERTIFICATE REQUEST", as_der: false, der: csr.der().to_vec() },
        Seed { label: "CERTIFICATE REQUEST", as_der: true, der: csr.der().to_vec() },
        Seed { label: "PRIVATE KEY", as_der: false, der: leaf_key.serialized_der().to_vec() },
        Seed { label: "PRIVATE KEY", as_der: true, der: leaf_key.serialized_der().to_vec() },
        Seed { label: "RSA PRIVATE KEY", as_der: false, der: pkcs8_inner(rsa.serialized_der()) },
        Seed { label: "PRIVATE KEY", as_der: false, der: rsa.serialized_der().to_vec() },
        Seed { label: "EC PRIVATE KEY", as_der: false, der: pkcs8_inner(leaf_key.serialized_der()) },
        Seed { label: "EC PRIVATE KEY", as_der: true, der: pkcs8_inner(leaf_key.serialized_der()) },
        Seed { label: "PRIVATE KEY", as_der: false, der: ed.serialized_der().to_vec() },
        Seed { label: "ENCRYPTED PRIVATE KEY", as_der: false, der: encrypted.clone() },
        Seed { label: "ENCRYPTED PRIVATE KEY", as_der: true, der: encrypted },
        Seed { label: "PUBLIC KEY", as_der: false, der: public },
    ];
    let chain_pem = format!("{}{}{}", leaf.pem(), inter.pem(), root.pem());
    Seeds { items, chain_pem }
});

/// OpenSSL's legacy encrypted PEM, which only the PEM headers describe.
const LEGACY_ENCRYPTED: &str = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
DEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";

fn pem_block(label: &str, der: &[u8]) -> String {
    pem::encode(&pem::Pem::new(label, der.to_vec()))
}

// ---------------------------------------------------------------------------
// A DER tree that re-encodes with correct lengths
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Der {
    Prim {
        tag: u8,
        content: Vec<u8>,
    },
    /// Constructed, or an OCTET/BIT STRING whose content is DER (`prefix` is the BIT STRING's
    /// unused-bits byte).
    Cons {
        tag: u8,
        prefix: Vec<u8>,
        children: Vec<Self>,
    },
    /// Bytes emitted as they are (a lying header, a deep nest).
    Raw(Vec<u8>),
}

fn header(input: &[u8]) -> Option<(u8, usize, usize)> {
    let tag = *input.first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let first = *input.get(1)?;
    if first < 0x80 {
        return Some((tag, 2, usize::from(first)));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for b in input.get(2..2 + n)? {
        len = (len << 8) | usize::from(*b);
    }
    Some((tag, 2 + n, len))
}

fn encode_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    encode_len(content.len(), &mut out);
    out.extend_from_slice(content);
    out
}

impl Der {
    fn parse_one(input: &[u8]) -> Option<Self> {
        match Self::parse_all(input, 0)?.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        }
    }

    fn parse_all(mut input: &[u8], depth: usize) -> Option<Vec<Self>> {
        let mut out = Vec::new();
        while !input.is_empty() {
            let (tag, h, len) = header(input)?;
            let content = input.get(h..h + len)?;
            out.push(Self::node(tag, content, depth));
            input = &input[h + len..];
        }
        Some(out)
    }

    fn node(tag: u8, content: &[u8], depth: usize) -> Self {
        if depth < 32 {
            let nested = if tag & 0x20 != 0 {
                Self::parse_all(content, depth + 1).map(|c| (Vec::new(), c))
            } else if tag == 0x04 && content.first() == Some(&0x30) {
                Self::parse_all(content, depth + 1).map(|c| (Vec::new(), c))
            } else if tag == 0x03 && content.len() > 1 && content[0] == 0 && content[1] == 0x30 {
                Self::parse_all(&content[1..], depth + 1).map(|c| (vec![0], c))
            } else {
                None
            };
            if let Some((prefix, children)) = nested {
                return Self::Cons { tag, prefix, children };
            }
        }
        Self::Prim { tag, content: content.to_vec() }
    }

    fn encode(&self) -> Vec<u8> {
        match self {
            Self::Prim { tag, content } => tlv(*tag, content),
            Self::Cons { tag, prefix, children } => {
                let mut content = prefix.clone();
                for c in children {
                    content.extend(c.encode());
                }
                tlv(*tag, &content)
            }
            Self::Raw(raw) => raw.clone(),
        }
    }

    fn count(&self) -> usize {
        match self {
            Self::Cons { children, .. } => 1 + children.iter().map(Self::count).sum::<usize>(),
            _ => 1,
        }
    }

    /// The `n`th node in pre-order (`n` < `count`).
    fn nth(&mut self, n: usize) -> &mut Self {
        if n == 0 {
            return self;
        }
        let mut n = n - 1;
        let Self::Cons { children, .. } = self else { unreachable!("only Cons has descendants") };
        for c in children.iter_mut() {
            let size = c.count();
            if n < size {
                return c.nth(n);
            }
            n -= size;
        }
        unreachable!("n < count")
    }

    fn tag(&self) -> Option<u8> {
        match self {
            Self::Prim { tag, .. } | Self::Cons { tag, .. } => Some(*tag),
            Self::Raw(_) => None,
        }
    }
}

/// `depth` SEQUENCEs inside each other with correct definite lengths, built in linear time.
fn deep_nest(depth: usize) -> Vec<u8> {
    let core = [0x05u8, 0x00];
    let mut out = Vec::with_capacity(depth * 5 + 2);
    for level in 0..depth {
        let inner = (depth - level - 1) * 5 + core.len();
        out.extend_from_slice(&[0x30, 0x83]);
        out.extend_from_slice(&(inner as u32).to_be_bytes()[1..]);
    }
    out.extend_from_slice(&core);
    out
}

#[derive(Debug, Clone)]
enum DerMutation {
    /// Another tag on a node (a SEQUENCE read as a SET, an INTEGER as an OCTET STRING...).
    Tag {
        node: usize,
        tag: u8,
    },
    /// A length field far beyond the data: 0xFFFFFFF0, 2^64-1, or indefinite.
    HugeLength {
        node: usize,
        form: u8,
    },
    /// The node replaced by SEQUENCEs nested `depth` deep.
    DeepNest {
        node: usize,
        depth: usize,
    },
    /// An INTEGER (serial, RSA modulus, version) of `len` bytes.
    LongInteger {
        node: usize,
        len: usize,
    },
    /// An OBJECT IDENTIFIER of `len` bytes, one endless arc or many.
    HugeOid {
        node: usize,
        len: usize,
        endless: bool,
    },
    /// A time that is no time.
    BadTime {
        which: usize,
        bad: usize,
    },
    /// A node's content replaced by other bytes.
    Content {
        node: usize,
        bytes: Vec<u8>,
    },
    Delete {
        node: usize,
    },
    Duplicate {
        node: usize,
    },
}

const BAD_TIMES: &[&str] = &[
    "",
    "Z",
    "991399999999Z",
    "20251301000000Z",
    "20250230250000Z",
    "000000000000Z",
    "99991231235960+9999",
    "2025010100000",
    "-1",
    "\u{1b}[2J\r\nSubject: CN=trusted",
];

fn der_mutation() -> impl Strategy<Value = DerMutation> {
    let node = any::<usize>();
    prop_oneof![
        (node, any::<u8>()).prop_map(|(node, tag)| DerMutation::Tag { node, tag }),
        (node, 0u8..3).prop_map(|(node, form)| DerMutation::HugeLength { node, form }),
        (node, prop_oneof![1usize..64, Just(1_000), Just(50_000)])
            .prop_map(|(node, depth)| DerMutation::DeepNest { node, depth }),
        (node, prop_oneof![0usize..40, Just(1_000), Just(100_000)])
            .prop_map(|(node, len)| DerMutation::LongInteger { node, len }),
        (node, prop_oneof![0usize..40, Just(10_000)], any::<bool>())
            .prop_map(|(node, len, endless)| DerMutation::HugeOid { node, len, endless }),
        (any::<usize>(), 0..BAD_TIMES.len()).prop_map(|(which, bad)| DerMutation::BadTime { which, bad }),
        (node, proptest::collection::vec(any::<u8>(), 0..48))
            .prop_map(|(node, bytes)| DerMutation::Content { node, bytes }),
        node.prop_map(|node| DerMutation::Delete { node }),
        node.prop_map(|node| DerMutation::Duplicate { node }),
    ]
}

fn apply_der(tree: &mut Der, m: &DerMutation) {
    let count = tree.count();
    match m {
        DerMutation::Tag { node, tag } => match tree.nth(node % count) {
            Der::Prim { tag: t, .. } | Der::Cons { tag: t, .. } => *t = *tag,
            Der::Raw(_) => {}
        },
        DerMutation::HugeLength { node, form } => {
            let n = tree.nth(node % count);
            let bytes = n.encode();
            let Some((tag, h, _)) = header(&bytes) else { return };
            let len: &[u8] = match form {
                0 => &[0x84, 0xff, 0xff, 0xff, 0xf0],
                1 => &[0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                _ => &[0x80],
            };
            let mut raw = vec![tag];
            raw.extend_from_slice(len);
            raw.extend_from_slice(&bytes[h..]);
            *n = Der::Raw(raw);
        }
        DerMutation::DeepNest { node, depth } => *tree.nth(node % count) = Der::Raw(deep_nest(*depth)),
        DerMutation::LongInteger { node, len } => {
            let mut content = vec![0x7f; *len];
            if let Some(first) = content.first_mut() {
                *first = 0x5a;
            }
            *tree.nth(node % count) = Der::Prim { tag: 0x02, content };
        }
        DerMutation::HugeOid { node, len, endless } => {
            let content = if *endless {
                let mut c = vec![0xff; *len];
                if let Some(last) = c.last_mut() {
                    *last = 0x01;
                }
                c
            } else {
                (0..*len).map(|i| (i % 0x7f) as u8).collect()
            };
            *tree.nth(node % count) = Der::Prim { tag: 0x06, content };
        }
        DerMutation::BadTime { which, bad } => {
            let times: Vec<usize> =
                (0..count).filter(|&i| matches!(tree.nth(i).tag(), Some(0x17 | 0x18))).collect();
            if times.is_empty() {
                return;
            }
            let i = times[which % times.len()];
            let n = tree.nth(i);
            let tag = n.tag().unwrap_or(0x17);
            *n = Der::Prim { tag, content: BAD_TIMES[*bad].as_bytes().to_vec() };
        }
        DerMutation::Content { node, bytes } => match tree.nth(node % count) {
            n @ Der::Prim { .. } => {
                let tag = n.tag().unwrap_or(0x04);
                *n = Der::Prim { tag, content: bytes.clone() };
            }
            n => *n = Der::Raw(bytes.clone()),
        },
        DerMutation::Delete { node } | DerMutation::Duplicate { node } if count > 1 => {
            // Act on the parent's list of children.
            let target = 1 + node % (count - 1);
            let Some((parent, index)) = parent_of(tree, target) else { return };
            let Der::Cons { children, .. } = tree.nth(parent) else { return };
            if matches!(m, DerMutation::Delete { .. }) {
                children.remove(index);
            } else {
                let copy = children[index].clone();
                children.insert(index, copy);
            }
        }
        DerMutation::Delete { .. } | DerMutation::Duplicate { .. } => {}
    }
}

/// The pre-order index of the parent of node `target`, and `target`'s index among its children.
fn parent_of(tree: &mut Der, target: usize) -> Option<(usize, usize)> {
    fn walk(node: &Der, me: usize, target: usize) -> Option<(usize, usize)> {
        let Der::Cons { children, .. } = node else { return None };
        let mut next = me + 1;
        for (i, c) in children.iter().enumerate() {
            if next == target {
                return Some((me, i));
            }
            if let Some(found) = walk(c, next, target) {
                return Some(found);
            }
            next += c.count();
        }
        None
    }
    walk(tree, 0, target)
}

// ---------------------------------------------------------------------------
// Byte-level and PEM mutations
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum ByteMutation {
    Flip { at: usize, xor: u8 },
    Insert { at: usize, bytes: Vec<u8> },
    Delete { at: usize, len: usize },
    Truncate { at: usize },
}

fn byte_mutation() -> impl Strategy<Value = ByteMutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, xor)| ByteMutation::Flip { at, xor }),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| ByteMutation::Insert { at, bytes }),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| ByteMutation::Delete { at, len }),
        any::<usize>().prop_map(|at| ByteMutation::Truncate { at }),
    ]
}

fn apply_bytes(bytes: &mut Vec<u8>, m: &ByteMutation) {
    if bytes.is_empty() {
        return;
    }
    let n = bytes.len();
    match m {
        ByteMutation::Flip { at, xor } => bytes[at % n] ^= xor,
        ByteMutation::Insert { at, bytes: b } => {
            let at = at % (n + 1);
            bytes.splice(at..at, b.iter().copied());
        }
        ByteMutation::Delete { at, len } => {
            let at = at % n;
            bytes.drain(at..(at + len).min(n));
        }
        ByteMutation::Truncate { at } => bytes.truncate(at % n),
    }
}

const LABELS: &[&str] = &[
    "CERTIFICATE",
    "TRUSTED CERTIFICATE",
    "X509 CRL",
    "CERTIFICATE REQUEST",
    "PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "PUBLIC KEY",
    "RSA PUBLIC KEY",
    "EC PARAMETERS",
    "PKCS7",
    "",
    "certificate",
    "X\u{1b}[2J\u{1b}[H",
    "A\r\nSubject: CN=trusted",
];

#[derive(Debug, Clone)]
enum PemGame {
    /// The block under another label (a key read as a certificate...).
    Relabel(usize),
    /// BEGIN and END disagree.
    MismatchedEnd(usize),
    /// No END line.
    Unterminated,
    /// Encryption headers on a block that is not encrypted.
    Headers,
    /// CRLF line endings.
    Crlf,
    /// Text before, between and after.
    Garbage(Vec<u8>),
    /// A label thousands of bytes long.
    LongLabel(usize),
}

fn pem_game() -> impl Strategy<Value = PemGame> {
    prop_oneof![
        (0..LABELS.len()).prop_map(PemGame::Relabel),
        (0..LABELS.len()).prop_map(PemGame::MismatchedEnd),
        Just(PemGame::Unterminated),
        Just(PemGame::Headers),
        Just(PemGame::Crlf),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(PemGame::Garbage),
        prop_oneof![Just(100usize), Just(10_000)].prop_map(PemGame::LongLabel),
    ]
}

fn play(label: &str, der: &[u8], game: &PemGame) -> Vec<u8> {
    let body = pem_block(label, der);
    let out = match game {
        PemGame::Relabel(i) => pem_block(LABELS[*i], der),
        PemGame::MismatchedEnd(i) => {
            body.replace(&format!("-----END {label}-----"), &format!("-----END {}-----", LABELS[*i]))
        }
        PemGame::Unterminated => body.replace(&format!("-----END {label}-----"), ""),
        PemGame::Headers => {
            body.replacen("-----\n", "-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: \u{1b}[2J,00\n\n", 1)
        }
        PemGame::Crlf => body.replace('\n', "\r\n"),
        PemGame::Garbage(g) => {
            let g = String::from_utf8_lossy(g);
            format!("{g}\n{body}{g}\n{body}{g}")
        }
        PemGame::LongLabel(n) => pem_block(&"L".repeat(*n), der),
    };
    out.into_bytes()
}

// ---------------------------------------------------------------------------
// The property
// ---------------------------------------------------------------------------

fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let start = Instant::now();
    let result = inspect::inspect_bytes(ORIGIN, bytes);
    prop_assert!(start.elapsed() < BOUND, "took {:?} on {} bytes", start.elapsed(), bytes.len());
    match result {
        Ok(inspection) => {
            let text = inspection.render_text();
            prop_assert!(start.elapsed() < BOUND, "rendering took {:?}", start.elapsed());
            let bad = text.chars().find(|c| c.is_control() && *c != '\n');
            prop_assert!(bad.is_none(), "control character {:?} in the text:\n{}", bad, text);
            prop_assert!(text.starts_with(ORIGIN), "{}", text);
            prop_assert!(serde_json::to_string(&inspection).is_ok());
        }
        Err(e) => {
            let msg = e.to_string();
            prop_assert!(msg.starts_with(&format!("{ORIGIN}: ")), "error does not name the file: {}", msg);
            prop_assert!(!msg.chars().any(char::is_control), "control character in the error: {:?}", msg);
            prop_assert!(msg.len() < 1_200, "error of {} bytes: {}", msg.len(), &msg[..200]);
        }
    }
    Ok(())
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, max_shrink_iters: 200, ..ProptestConfig::default() }
}

/// Render a seed (PEM or DER) after its DER was mutated.
fn seed_bytes(seed: &Seed, der: &[u8]) -> Vec<u8> {
    if seed.as_der { der.to_vec() } else { pem_block(seed.label, der).into_bytes() }
}

/// The review's worst case, always run: 2,000 copies of the 3-certificate chain.
#[test]
fn two_thousand_chains() {
    let bytes = SEEDS.chain_pem.repeat(2_000).into_bytes();
    let start = Instant::now();
    check(&bytes).unwrap();
    let inspection = inspect::inspect_bytes(ORIGIN, &bytes).unwrap();
    assert_eq!(inspection.items.len(), 6_000);
    assert!(start.elapsed() < 2 * BOUND, "{:?}", start.elapsed());
}

#[test]
fn every_seed_is_explained_as_it_is() {
    for seed in &SEEDS.items {
        let bytes = seed_bytes(seed, &seed.der);
        let inspection = inspect::inspect_bytes(ORIGIN, &bytes)
            .unwrap_or_else(|e| panic!("seed {:?} must be explained: {e}", seed.label));
        assert_eq!(inspection.items.len(), 1, "{:?}", seed.label);
    }
    let chain = inspect::inspect_bytes(ORIGIN, SEEDS.chain_pem.as_bytes()).unwrap();
    assert_eq!(chain.items.len(), 3);
    assert!(inspect::inspect_bytes(ORIGIN, LEGACY_ENCRYPTED.as_bytes()).is_ok());
    // The tree re-encodes every seed byte for byte, so a mutation changes only what it aims at.
    for seed in &SEEDS.items {
        assert_eq!(Der::parse_one(&seed.der).unwrap().encode(), seed.der, "{:?}", seed.label);
    }
}

// The review ran 4,000 mutants; these run as many in a few seconds of a debug build.
proptest! {
    #![proptest_config(config(4_000))]

    #[test]
    fn der_aware_mutations(
        seed in 0..SEEDS.items.len(),
        mutations in proptest::collection::vec(der_mutation(), 1..4),
    ) {
        let seed = &SEEDS.items[seed];
        let mut tree = Der::parse_one(&seed.der).unwrap();
        for m in &mutations {
            apply_der(&mut tree, m);
        }
        check(&seed_bytes(seed, &tree.encode()))?;
    }

    #[test]
    fn byte_mutations(
        seed in 0..SEEDS.items.len() + 2,
        mutations in proptest::collection::vec(byte_mutation(), 1..8),
        on_der in any::<bool>(),
    ) {
        // Mutate the DER under a valid PEM armour, or the file as it is on disk.
        let mut bytes = match SEEDS.items.get(seed) {
            Some(s) if on_der => s.der.clone(),
            Some(s) => seed_bytes(s, &s.der),
            None if seed == SEEDS.items.len() => SEEDS.chain_pem.clone().into_bytes(),
            None => LEGACY_ENCRYPTED.as_bytes().to_vec(),
        };
        for m in &mutations {
            apply_bytes(&mut bytes, m);
        }
        let bytes = match SEEDS.items.get(seed) {
            Some(s) if on_der => seed_bytes(s, &bytes),
            _ => bytes,
        };
        check(&bytes)?;
    }

}

proptest! {
    #![proptest_config(config(1_000))]

    #[test]
    fn pem_games(seed in 0..SEEDS.items.len(), game in pem_game()) {
        let seed = &SEEDS.items[seed];
        check(&play(seed.label, &seed.der, &game))?;
    }
}

proptest! {
    #![proptest_config(config(6))]

    /// Many blocks: the review's 2,000 repeated blocks, here of the 3-certificate chain (6,000
    /// certificates to link to their issuers) or of any seed.
    #[test]
    fn many_repeated_blocks(seed in 0..SEEDS.items.len() + 1, copies in prop_oneof![Just(2usize), 100usize..700, Just(2_000)]) {
        let block = match SEEDS.items.get(seed) {
            Some(s) => pem_block(s.label, &s.der),
            None => SEEDS.chain_pem.clone(),
        };
        let bytes = block.repeat(copies).into_bytes();
        check(&bytes)?;
        let inspection = inspect::inspect_bytes(ORIGIN, &bytes);
        prop_assert!(inspection.is_ok_and(|i| i.items.len() >= copies));
    }
}
