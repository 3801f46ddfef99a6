//! A hand-written TLS ClientHello offering exactly one version, and the parser for the server's
//! first record.
//!
//! rustls cannot speak TLS 1.0 or 1.1, and a probe asking "would the server agree to version X?"
//! needs to offer X alone, so this module builds the ClientHello itself. It owns: the ClientHello
//! bytes per version (record header, client_version, a broad cipher-suite list valid for that
//! version, supported_groups, ec_point_formats, signature_algorithms, and for TLS 1.3
//! supported_versions and an X25519 key_share), and reading the server's first reply — ServerHello
//! (HelloRetryRequest included) or Alert — with bounded sizes.
//! Must not: complete a handshake or do any cryptography. The random values and the X25519 public
//! key are supplied by the caller; the key share is never used, because the probe hangs up after
//! the ServerHello.

use std::io::{self, Read};

use serde::Serialize;

use crate::alert::Alert;
use crate::error::Malformed;
use crate::version::TlsVersionName;

pub(crate) const CONTENT_ALERT: u8 = 21;
pub(crate) const CONTENT_HANDSHAKE: u8 = 22;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const HANDSHAKE_SERVER_HELLO: u8 = 2;
const EXT_SUPPORTED_GROUPS: u16 = 10;
const EXT_EC_POINT_FORMATS: u16 = 11;
const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
const EXT_KEY_SHARE: u16 = 51;
const GROUP_X25519: u16 = 0x001d;
/// TLSPlaintext.length may not exceed 2^14 (RFC 8446 §5.1); a little slack for broken peers.
const MAX_RECORD: u16 = (1 << 14) + 256;
/// The first handshake message is read from at most this many records.
const MAX_RECORDS: usize = 4;

/// SHA-256("HelloRetryRequest"): the ServerHello.random that marks a HelloRetryRequest.
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2,
    0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// CBC suites with SHA-1 MACs: all TLS 1.0/1.1 can use (ECDHE and DHE first, RSA key exchange and
/// 3DES last, as PostgreSQL's default `HIGH:MEDIUM:+3DES:!aNULL` would order them).
const SUITES_TLS10: &[u16] = &[
    0xc00a, // ECDHE_ECDSA_WITH_AES_256_CBC_SHA
    0xc014, // ECDHE_RSA_WITH_AES_256_CBC_SHA
    0xc009, // ECDHE_ECDSA_WITH_AES_128_CBC_SHA
    0xc013, // ECDHE_RSA_WITH_AES_128_CBC_SHA
    0x0039, // DHE_RSA_WITH_AES_256_CBC_SHA
    0x0033, // DHE_RSA_WITH_AES_128_CBC_SHA
    0x0035, // RSA_WITH_AES_256_CBC_SHA
    0x002f, // RSA_WITH_AES_128_CBC_SHA
    0xc008, // ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA
    0xc012, // ECDHE_RSA_WITH_3DES_EDE_CBC_SHA
    0x000a, // RSA_WITH_3DES_EDE_CBC_SHA
];

/// TLS 1.2 adds AEAD and SHA-2 suites.
const SUITES_TLS12_ONLY: &[u16] = &[
    0xc02c, // ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
    0xc030, // ECDHE_RSA_WITH_AES_256_GCM_SHA384
    0xcca9, // ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
    0xcca8, // ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    0xc02b, // ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    0xc02f, // ECDHE_RSA_WITH_AES_128_GCM_SHA256
    0x009f, // DHE_RSA_WITH_AES_256_GCM_SHA384
    0x009e, // DHE_RSA_WITH_AES_128_GCM_SHA256
    0xc024, // ECDHE_ECDSA_WITH_AES_256_CBC_SHA384
    0xc028, // ECDHE_RSA_WITH_AES_256_CBC_SHA384
    0xc023, // ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
    0xc027, // ECDHE_RSA_WITH_AES_128_CBC_SHA256
    0x006b, // DHE_RSA_WITH_AES_256_CBC_SHA256
    0x0067, // DHE_RSA_WITH_AES_128_CBC_SHA256
    0x009d, // RSA_WITH_AES_256_GCM_SHA384
    0x009c, // RSA_WITH_AES_128_GCM_SHA256
    0x003d, // RSA_WITH_AES_256_CBC_SHA256
    0x003c, // RSA_WITH_AES_128_CBC_SHA256
];

const SUITES_TLS13: &[u16] = &[
    0x1302, // TLS_AES_256_GCM_SHA384
    0x1303, // TLS_CHACHA20_POLY1305_SHA256
    0x1301, // TLS_AES_128_GCM_SHA256
];

/// TLS_EMPTY_RENEGOTIATION_INFO_SCSV: what clients before TLS 1.3 send instead of the
/// renegotiation_info extension; OpenSSL refuses some hellos without either.
const SCSV_RENEGOTIATION: u16 = 0x00ff;

/// X25519, the NIST curves, and FFDHE for servers with DHE only.
const GROUPS: &[u16] = &[GROUP_X25519, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101];

/// ECDSA, EdDSA, RSA-PSS, RSA PKCS#1 v1.5, and SHA-1 variants last.
const SIGNATURE_ALGORITHMS: &[u16] = &[
    0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806, 0x0809, 0x080a, 0x080b, 0x0401, 0x0501,
    0x0601, 0x0203, 0x0201,
];

/// The cipher suites offered with `version`.
pub(crate) fn cipher_suites(version: TlsVersionName) -> Vec<u16> {
    match version {
        TlsVersionName::Tls1_0 | TlsVersionName::Tls1_1 => [SUITES_TLS10, &[SCSV_RENEGOTIATION]].concat(),
        TlsVersionName::Tls1_2 => [SUITES_TLS12_ONLY, SUITES_TLS10, &[SCSV_RENEGOTIATION]].concat(),
        TlsVersionName::Tls1_3 => SUITES_TLS13.to_vec(),
    }
}

/// What a ClientHello offers: one version, these suites (the renegotiation SCSV is added below
/// TLS 1.3), these groups, and for TLS 1.3 an X25519 key share or none (then a server that agrees
/// answers with a HelloRetryRequest naming the group it wants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HelloSpec {
    pub version: TlsVersionName,
    pub suites: Vec<u16>,
    pub groups: Vec<u16>,
    pub x25519_share: bool,
}

impl HelloSpec {
    /// The version probe's offer: a broad list of common suites, every group, an X25519 share.
    pub(crate) fn probe(version: TlsVersionName) -> Self {
        let suites = cipher_suites(version).into_iter().filter(|s| *s != SCSV_RENEGOTIATION).collect();
        Self { version, suites, groups: GROUPS.to_vec(), x25519_share: true }
    }
}

/// Every group a scan offers: X25519, X448, the NIST curves, brainpool (TLS 1.2), FFDHE.
pub(crate) const ALL_GROUPS: &[u16] = &[
    GROUP_X25519,
    0x001e,
    0x0017,
    0x0018,
    0x0019,
    0x001a,
    0x001b,
    0x001c,
    0x0100,
    0x0101,
    0x0102,
    0x0103,
    0x0104,
];

/// A group's name as IANA (and OpenSSL) spell it.
pub fn group_name(group: u16) -> String {
    match group {
        0x001d => "x25519".into(),
        0x001e => "x448".into(),
        0x0017 => "secp256r1".into(),
        0x0018 => "secp384r1".into(),
        0x0019 => "secp521r1".into(),
        0x001a => "brainpoolP256r1".into(),
        0x001b => "brainpoolP384r1".into(),
        0x001c => "brainpoolP512r1".into(),
        0x0100 => "ffdhe2048".into(),
        0x0101 => "ffdhe3072".into(),
        0x0102 => "ffdhe4096".into(),
        0x0103 => "ffdhe6144".into(),
        0x0104 => "ffdhe8192".into(),
        other => format!("0x{other:04x}"),
    }
}

/// A complete TLS record holding a ClientHello that offers only `version`.
pub(crate) fn client_hello(version: TlsVersionName, random: &[u8; 32], x25519_public: &[u8; 32]) -> Vec<u8> {
    client_hello_for(&HelloSpec::probe(version), random, x25519_public)
}

/// A complete TLS record holding the ClientHello `spec` describes.
///
/// The record-layer version is the offered one up to TLS 1.2; for TLS 1.3 it is 0x0301 and
/// client_version 0x0303, with the real offer in supported_versions (RFC 8446 §4.1.2, §5.1).
pub(crate) fn client_hello_for(spec: &HelloSpec, random: &[u8; 32], x25519_public: &[u8; 32]) -> Vec<u8> {
    let version = spec.version;
    let tls13 = version == TlsVersionName::Tls1_3;
    let legacy = if tls13 { TlsVersionName::Tls1_2.code() } else { version.code() };
    let record_version = if tls13 { TlsVersionName::Tls1_0.code() } else { version.code() };

    let mut body = Vec::with_capacity(256);
    body.extend_from_slice(&legacy.to_be_bytes());
    body.extend_from_slice(random);
    body.push(0); // legacy_session_id: empty
    let mut suites = spec.suites.clone();
    if !tls13 {
        suites.push(SCSV_RENEGOTIATION);
    }
    put_u16_list(&mut body, &suites);
    body.extend_from_slice(&[1, 0]); // compression_methods: null only
    let extensions = extensions(spec, x25519_public);
    put_vec16(&mut body, &extensions);

    let mut handshake = Vec::with_capacity(body.len() + 4);
    handshake.push(HANDSHAKE_CLIENT_HELLO);
    put_u24(&mut handshake, body.len());
    handshake.extend_from_slice(&body);

    let mut record = Vec::with_capacity(handshake.len() + 5);
    record.push(CONTENT_HANDSHAKE);
    record.extend_from_slice(&record_version.to_be_bytes());
    put_vec16(&mut record, &handshake);
    record
}

fn extensions(spec: &HelloSpec, x25519_public: &[u8; 32]) -> Vec<u8> {
    let version = spec.version;
    let mut out = Vec::with_capacity(128);
    let mut groups = Vec::new();
    put_u16_list(&mut groups, &spec.groups);
    put_extension(&mut out, EXT_SUPPORTED_GROUPS, &groups);
    put_extension(&mut out, EXT_EC_POINT_FORMATS, &[1, 0]); // uncompressed only
    let mut sigs = Vec::new();
    put_u16_list(&mut sigs, SIGNATURE_ALGORITHMS);
    put_extension(&mut out, EXT_SIGNATURE_ALGORITHMS, &sigs);
    if version == TlsVersionName::Tls1_3 {
        let v = TlsVersionName::Tls1_3.code().to_be_bytes();
        put_extension(&mut out, EXT_SUPPORTED_VERSIONS, &[2, v[0], v[1]]);
        let mut entry = Vec::with_capacity(36);
        if spec.x25519_share && spec.groups.contains(&GROUP_X25519) {
            entry.extend_from_slice(&GROUP_X25519.to_be_bytes());
            put_vec16(&mut entry, x25519_public);
        }
        let mut shares = Vec::with_capacity(38);
        put_vec16(&mut shares, &entry);
        put_extension(&mut out, EXT_KEY_SHARE, &shares);
    }
    out
}

fn put_extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    put_vec16(out, data);
}

/// A list of u16 values with a u16 byte-length prefix.
fn put_u16_list(out: &mut Vec<u8>, items: &[u16]) {
    let bytes: Vec<u8> = items.iter().flat_map(|i| i.to_be_bytes()).collect();
    put_vec16(out, &bytes);
}

/// Bytes with a u16 length prefix. Every caller passes a constant-bounded few hundred bytes.
fn put_vec16(out: &mut Vec<u8>, data: &[u8]) {
    debug_assert!(data.len() <= usize::from(u16::MAX));
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

fn put_u24(out: &mut Vec<u8>, n: usize) {
    debug_assert!(n < 1 << 24);
    out.extend_from_slice(&(n as u32).to_be_bytes()[1..]);
}

/// The server's first answer to a ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ServerReply {
    Hello(ServerHello),
    Alert(Alert),
}

/// The parts of a ServerHello a version probe needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ServerHello {
    /// ServerHello.legacy_version (the negotiated version before TLS 1.3).
    pub legacy_version: u16,
    /// The selected_version in supported_versions (TLS 1.3 and later).
    pub selected_version: Option<u16>,
    pub cipher_suite: u16,
    /// A HelloRetryRequest: the server agreed to TLS 1.3 but wants a key share for another group
    /// (PostgreSQL's `ssl_ecdh_curve` limits the groups to one, prime256v1 by default).
    pub hello_retry_request: bool,
    /// TLS 1.3: the group of the key_share extension (the one a HelloRetryRequest asks for).
    pub key_share_group: Option<u16>,
}

impl ServerHello {
    /// The version the server chose.
    pub(crate) fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }
}

/// Read the server's first reply: an Alert record, or the ServerHello from one or more handshake
/// records. Reads at most [`MAX_RECORDS`] records of at most [`MAX_RECORD`] bytes each.
pub(crate) fn read_server_reply(r: &mut impl Read) -> io::Result<ServerReply> {
    let mut handshake = Vec::new();
    for _ in 0..MAX_RECORDS {
        let (content_type, fragment) = read_record(r)?;
        match content_type {
            CONTENT_ALERT => {
                return parse_alert(&fragment).map(ServerReply::Alert).map_err(Malformed::into_io);
            }
            CONTENT_HANDSHAKE => handshake.extend_from_slice(&fragment),
            _ => return Err(Malformed::Record("neither a handshake nor an alert record").into_io()),
        }
        if let Some(message) = first_handshake_message(&handshake).map_err(Malformed::into_io)? {
            return parse_server_hello(message).map(ServerReply::Hello).map_err(Malformed::into_io);
        }
    }
    Err(Malformed::Record("the ServerHello spans too many records").into_io())
}

pub(crate) fn read_record(r: &mut impl Read) -> io::Result<(u8, Vec<u8>)> {
    let mut header = [0u8; 5];
    r.read_exact(&mut header)?;
    let [content_type, major, _minor, hi, lo] = header;
    // Every SSL/TLS record version starts with 3; anything else is not TLS at all (an
    // ErrorResponse starts with 'E', for instance).
    if major != 3 {
        return Err(Malformed::Record("the record version is not 3.x").into_io());
    }
    let length = u16::from_be_bytes([hi, lo]);
    if length == 0 || length > MAX_RECORD {
        return Err(Malformed::Record("the record length is zero or over 2^14").into_io());
    }
    let mut fragment = vec![0u8; usize::from(length)];
    r.read_exact(&mut fragment)?;
    Ok((content_type, fragment))
}

/// The first complete handshake message, or `None` if more bytes are needed.
fn first_handshake_message(buf: &[u8]) -> Result<Option<&[u8]>, Malformed> {
    let Some(header) = buf.first_chunk::<4>() else { return Ok(None) };
    let length = usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
    if length > usize::from(MAX_RECORD) * MAX_RECORDS {
        return Err(Malformed::Record("the handshake message is too long"));
    }
    Ok(buf.get(..4 + length))
}

/// Parse an Alert record's fragment: level, description.
pub(crate) fn parse_alert(fragment: &[u8]) -> Result<Alert, Malformed> {
    match fragment {
        [_level, description] => Ok(Alert { description: *description }),
        _ => Err(Malformed::Record("an alert is not two bytes")),
    }
}

/// Parse a ServerHello handshake message (type, 3-byte length, body).
pub(crate) fn parse_server_hello(message: &[u8]) -> Result<ServerHello, Malformed> {
    let mut c = Cursor(message);
    if c.u8()? != HANDSHAKE_SERVER_HELLO {
        return Err(Malformed::Record("the first handshake message is not a ServerHello"));
    }
    c.take(3)?;
    let legacy_version = c.u16()?;
    let random = c.take(32)?;
    let session_id_len = c.u8()?;
    c.take(usize::from(session_id_len))?;
    let cipher_suite = c.u16()?;
    c.u8()?; // compression method
    let mut hello = ServerHello {
        legacy_version,
        selected_version: None,
        cipher_suite,
        hello_retry_request: random == HELLO_RETRY_RANDOM,
        key_share_group: None,
    };
    // Extensions are optional before TLS 1.3.
    if c.0.is_empty() {
        return Ok(hello);
    }
    let ext_len = c.u16()?;
    let mut exts = Cursor(c.take(usize::from(ext_len))?);
    while !exts.0.is_empty() {
        let kind = exts.u16()?;
        let len = exts.u16()?;
        let data = exts.take(usize::from(len))?;
        if kind == EXT_SUPPORTED_VERSIONS {
            hello.selected_version = Some(Cursor(data).u16()?);
        }
        if kind == EXT_KEY_SHARE {
            // HelloRetryRequest: selected_group; ServerHello: a KeyShareEntry, group first.
            hello.key_share_group = Some(Cursor(data).u16()?);
        }
    }
    Ok(hello)
}

/// A bounds-checked reader over a byte slice.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.0.len() < n {
            return Err(Malformed::Record("the ServerHello is truncated"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Malformed> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor as IoCursor;

    use super::*;

    /// A TLS 1.2 ServerHello as OpenSSL 3 sends it (ECDHE-ECDSA-AES256-GCM-SHA384, extensions
    /// renegotiation_info, ec_point_formats, extended_master_secret).
    fn server_hello_tls12() -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[0x11; 32]);
        body.push(0x20);
        body.extend_from_slice(&[0x22; 32]);
        body.extend_from_slice(&[0xc0, 0x2c, 0x00]);
        let exts: &[u8] =
            &[0xff, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, 0x00, 0x17, 0x00, 0x00];
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(exts);
        handshake_message(HANDSHAKE_SERVER_HELLO, &body)
    }

    /// A TLS 1.3 ServerHello (legacy_version 0x0303, supported_versions 0x0304), or a
    /// HelloRetryRequest with the special random.
    fn server_hello_tls13(random: [u8; 32]) -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&random);
        body.push(0);
        body.extend_from_slice(&[0x13, 0x02, 0x00]);
        let exts: &[u8] = &[0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, 0x00, 0x33, 0x00, 0x02, 0x00, 0x17];
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(exts);
        handshake_message(HANDSHAKE_SERVER_HELLO, &body)
    }

    fn handshake_message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        put_u24(&mut m, body.len());
        m.extend_from_slice(body);
        m
    }

    fn record(content_type: u8, fragment: &[u8]) -> Vec<u8> {
        let mut r = vec![content_type, 0x03, 0x03];
        put_vec16(&mut r, fragment);
        r
    }

    fn reply(bytes: Vec<u8>) -> io::Result<ServerReply> {
        read_server_reply(&mut IoCursor::new(bytes))
    }

    #[test]
    fn client_hello_for_tls11_has_the_version_in_both_places_and_no_tls13_extensions() {
        let hello = client_hello(TlsVersionName::Tls1_1, &[7; 32], &[9; 32]);
        assert_eq!(hello[..3], [CONTENT_HANDSHAKE, 0x03, 0x02]);
        assert_eq!(usize::from(u16::from_be_bytes([hello[3], hello[4]])), hello.len() - 5);
        assert_eq!(hello[5], HANDSHAKE_CLIENT_HELLO);
        let hs_len = u32::from_be_bytes([0, hello[6], hello[7], hello[8]]) as usize;
        assert_eq!(hs_len, hello.len() - 9);
        assert_eq!(hello[9..11], [0x03, 0x02]);
        assert_eq!(hello[11..43], [7; 32]);
        assert_eq!(hello[43], 0);
        let suites_len = usize::from(u16::from_be_bytes([hello[44], hello[45]]));
        assert_eq!(suites_len, 2 * (SUITES_TLS10.len() + 1));
        assert!(!contains(&hello, &[0x00, 0x2b]), "no supported_versions");
        assert!(!contains(&hello, &[9; 32]), "no key share");
    }

    #[test]
    fn client_hello_for_tls13_offers_only_tls13() {
        let hello = client_hello(TlsVersionName::Tls1_3, &[7; 32], &[9; 32]);
        assert_eq!(hello[..3], [CONTENT_HANDSHAKE, 0x03, 0x01]);
        assert_eq!(hello[9..11], [0x03, 0x03]);
        assert!(contains(&hello, &[0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04]));
        let mut share = vec![0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20];
        share.extend_from_slice(&[9; 32]);
        assert!(contains(&hello, &share));
        assert_eq!(&hello[44..46], &[0x00, 0x06]);
    }

    #[test]
    fn client_hello_for_tls12_lists_gcm_and_cbc() {
        let suites = cipher_suites(TlsVersionName::Tls1_2);
        assert!(suites.contains(&0xc02b) && suites.contains(&0xc013) && suites.contains(&0x002f));
        assert!(!suites.contains(&0x1301));
        assert!(cipher_suites(TlsVersionName::Tls1_0).iter().all(|s| !SUITES_TLS12_ONLY.contains(s)));
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn tls12_server_hello() {
        let ServerReply::Hello(h) = reply(record(CONTENT_HANDSHAKE, &server_hello_tls12())).unwrap() else {
            panic!("not a hello")
        };
        assert_eq!((h.version(), h.cipher_suite, h.hello_retry_request), (0x0303, 0xc02c, false));
    }

    #[test]
    fn tls13_server_hello_and_hello_retry_request() {
        let ServerReply::Hello(h) = reply(record(CONTENT_HANDSHAKE, &server_hello_tls13([5; 32]))).unwrap()
        else {
            panic!("not a hello")
        };
        assert_eq!((h.legacy_version, h.version(), h.hello_retry_request), (0x0303, 0x0304, false));
        let ServerReply::Hello(h) =
            reply(record(CONTENT_HANDSHAKE, &server_hello_tls13(HELLO_RETRY_RANDOM))).unwrap()
        else {
            panic!("not a hello")
        };
        assert!(h.hello_retry_request);
        assert_eq!(h.version(), 0x0304);
    }

    #[test]
    fn a_server_hello_split_over_two_records_is_joined() {
        let hello = server_hello_tls12();
        let mut bytes = record(CONTENT_HANDSHAKE, &hello[..10]);
        bytes.extend(record(CONTENT_HANDSHAKE, &hello[10..]));
        assert!(matches!(reply(bytes).unwrap(), ServerReply::Hello(_)));
    }

    #[test]
    fn a_server_hello_without_extensions() {
        let mut body = vec![0x03, 0x01];
        body.extend_from_slice(&[0; 32]);
        body.extend_from_slice(&[0, 0xc0, 0x14, 0]);
        let h = parse_server_hello(&handshake_message(HANDSHAKE_SERVER_HELLO, &body)).unwrap();
        assert_eq!((h.version(), h.cipher_suite), (0x0301, 0xc014));
    }

    #[test]
    fn alerts() {
        // What OpenSSL 3 sends to a TLS 1.1 ClientHello when its minimum is TLS 1.2.
        let bytes = vec![0x15, 0x03, 0x02, 0x00, 0x02, 0x02, 0x46];
        assert_eq!(reply(bytes).unwrap(), ServerReply::Alert(Alert::PROTOCOL_VERSION));
        assert!(reply(record(CONTENT_ALERT, &[2, 40, 0])).is_err());
    }

    #[test]
    fn garbage_is_refused_without_large_reads() {
        // An ErrorResponse where a TLS record was expected.
        let err = reply(b"E\0\0\0\x50SFATAL\0".to_vec()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // A huge record length.
        assert!(reply(vec![0x16, 0x03, 0x03, 0xff, 0xff]).is_err());
        // An application-data record.
        assert!(reply(record(23, &[1, 2, 3])).is_err());
        // A truncated ServerHello inside a complete message.
        assert!(
            reply(record(CONTENT_HANDSHAKE, &handshake_message(HANDSHAKE_SERVER_HELLO, &[3, 3, 0]))).is_err()
        );
        // A first handshake message that is not a ServerHello.
        assert!(reply(record(CONTENT_HANDSHAKE, &handshake_message(11, &[0; 8]))).is_err());
        // Endless tiny records never completing the message.
        let endless: Vec<u8> = (0..10).flat_map(|_| record(CONTENT_HANDSHAKE, &[2])).collect();
        assert!(reply(endless).is_err());
        // The connection closing mid-record.
        assert_eq!(reply(vec![0x16, 0x03]).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }
}
