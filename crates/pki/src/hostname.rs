//! libpq's `sslmode=verify-full` host-name check, reproduced exactly.
//!
//! This mirrors PostgreSQL 15–18 built with OpenSSL:
//! `pgtls_verify_peer_name_matches_certificate_guts` (fe-secure-openssl.c),
//! `pq_verify_peer_name_matches_certificate{,_name,_ip}` and
//! `wildcard_certificate_match` (fe-secure-common.c), plus the C library
//! routines libpq leans on (glibc `inet_aton`, `inet_pton(AF_INET6)`) and
//! PostgreSQL's own `pg_inet_net_ntop` for printing certificate addresses.
//!
//! The rules, as the C code applies them:
//!
//! * The name compared is the connection's `host` (never `hostaddr`).
//! * The host is an IP address if glibc `inet_aton` accepts it (so `127.1`,
//!   `0x7f.0.0.1`, `2130706433` and even `10.0.0.1 trailing` count as IPv4) or
//!   `inet_pton(AF_INET6)` does; otherwise it is a DNS name.
//! * The subjectAltName entries are walked in order. Every dNSName is compared
//!   as a name and every iPAddress as an address, whatever the host's type;
//!   the walk stops at the first match or error.
//! * The subject CN (the first one) is consulted only when no SAN entry has
//!   the host's type and no SAN matched. An IP host with only dNSName SANs
//!   therefore still falls back to the CN.
//! * Names compare ASCII-case-insensitively; a leading `*.` wildcard covers
//!   exactly one label (see [`wildcard_matches`]).
//! * iPAddress entries compare as bytes: 4 bytes against `inet_aton(host)`,
//!   16 bytes against `inet_pton(AF_INET6, host)`; any other length is a hard
//!   error, as is a name with an embedded NUL.

use serde::Serialize;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{OID_X509_COMMON_NAME, OID_X509_EXT_SUBJECT_ALT_NAME};

/// What kind of certificate name was compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameKind {
    /// A subjectAltName dNSName entry.
    Dns,
    /// A subjectAltName iPAddress entry.
    Ip,
    /// The subject's (first) commonName.
    CommonName,
}

/// One certificate name that libpq examined, in the order it examined them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckedName {
    /// Where in the certificate the name came from.
    pub kind: NameKind,
    /// The name as libpq prints it (IP addresses as `pg_inet_net_ntop` writes them).
    pub value: String,
    /// Whether this name matched the host.
    pub matched: bool,
}

/// The outcome of libpq's host-name check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostCheck {
    /// Whether libpq would accept the certificate for the host (verify-full passes).
    pub matched: bool,
    /// The certificate name that matched, if any.
    pub matched_name: Option<String>,
    /// Every name libpq examined, in order; libpq stops at the first match.
    pub names_checked: Vec<CheckedName>,
    /// True when libpq consulted the subject CN (no SAN of the host's type).
    pub used_cn_fallback: bool,
    /// The error text libpq reports when the check fails.
    pub libpq_message: Option<String>,
}

/// Conditions under which libpq aborts the check with an error of its own
/// (rather than reporting a mismatch).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HostnameError {
    /// libpq: "host name must be specified for a verified SSL connection".
    #[error("host name must be specified for a verified SSL connection")]
    EmptyHost,
    /// libpq: "SSL certificate's name contains embedded null".
    #[error("SSL certificate's name contains embedded null ({kind:?} name {name:?})")]
    EmbeddedNul {
        /// Where in the certificate the name came from.
        kind: NameKind,
        /// The whole name, NUL included, decoded as UTF-8 with replacement characters.
        name: String,
    },
    /// libpq: "certificate contains IP address with invalid length %zu".
    #[error("certificate contains IP address with invalid length {0}")]
    InvalidIpLength(usize),
    /// The subjectAltName extension could not be decoded, or appears twice.
    /// OpenSSL marks such a certificate invalid and verification fails before
    /// libpq gets to compare names.
    #[error("certificate's subjectAltName extension is unusable: {0}")]
    BadSubjectAltName(String),
}

/// libpq's `wildcard_certificate_match`: `pattern` must start with `*.` and be
/// at least 3 bytes; the rest must equal the end of `host` (ASCII case
/// folded); and the part of `host` the `*` stands for must contain no `.`
/// except possibly as its very last byte (a quirk of the C code), so in
/// practice it matches exactly one label.
///
/// Both strings are treated as C strings: anything from a NUL on is ignored.
pub fn wildcard_matches(pattern: &str, host: &str) -> bool {
    wildcard_match_bytes(c_str(pattern.as_bytes()), c_str(host.as_bytes()))
}

/// libpq's verify-full check of `host` against `cert`.
pub fn check_host(cert: &X509Certificate<'_>, host: &str) -> Result<HostCheck, HostnameError> {
    let host_bytes = c_str(host.as_bytes());
    if host_bytes.is_empty() {
        return Err(HostnameError::EmptyHost);
    }
    let host_is_ip = inet_aton(host_bytes).is_some() || inet_pton6(host_bytes).is_some();

    let mut names_checked: Vec<CheckedName> = Vec::new();
    let mut matched = false;
    let mut check_cn = true;

    for name in subject_alt_names(cert)? {
        let is_ip = matches!(name, SanEntry::Ip(_));
        if is_ip == host_is_ip {
            // A SAN of the host's own type: the CN is no longer consulted.
            check_cn = false;
        }
        let (kind, value, hit) = match name {
            SanEntry::Dns(bytes) => {
                let (value, hit) = compare_name(NameKind::Dns, bytes, host_bytes)?;
                (NameKind::Dns, value, hit)
            }
            SanEntry::Ip(bytes) => {
                let (value, hit) = compare_ip(bytes, host_bytes)?;
                (NameKind::Ip, value, hit)
            }
        };
        names_checked.push(CheckedName { kind, value, matched: hit });
        if hit {
            matched = true;
            check_cn = false;
            break;
        }
    }

    let mut used_cn_fallback = false;
    if check_cn
        && let Some(cn) =
            cert.subject().iter_attributes().find(|attr| *attr.attr_type() == OID_X509_COMMON_NAME)
    {
        used_cn_fallback = true;
        // libpq takes the raw ASN1_STRING bytes, whatever the string type
        // (a BMPString CN therefore trips the embedded-NUL check).
        let (value, hit) = compare_name(NameKind::CommonName, cn.attr_value().as_bytes(), host_bytes)?;
        names_checked.push(CheckedName { kind: NameKind::CommonName, value, matched: hit });
        matched = hit;
    }

    let matched_name = names_checked.iter().find(|n| n.matched).map(|n| n.value.clone());
    let libpq_message = if matched { None } else { Some(mismatch_message(&names_checked, host)) };
    Ok(HostCheck { matched, matched_name, names_checked, used_cn_fallback, libpq_message })
}

/// The text of `pq_verify_peer_name_matches_certificate` on a mismatch
/// (without the trailing newline libpq appends).
fn mismatch_message(names: &[CheckedName], host: &str) -> String {
    match names {
        [] => "could not get server's host name from server certificate".to_string(),
        [only] => format!("server certificate for \"{}\" does not match host name \"{}\"", only.value, host),
        [first, rest @ ..] => {
            let others = rest.len();
            let noun = if others == 1 { "name" } else { "names" };
            format!(
                "server certificate for \"{}\" (and {} other {}) does not match host name \"{}\"",
                first.value, others, noun, host
            )
        }
    }
}

enum SanEntry<'a> {
    Dns(&'a [u8]),
    Ip(&'a [u8]),
}

/// The dNSName and iPAddress entries of the subjectAltName extension, in order.
fn subject_alt_names<'a>(cert: &'a X509Certificate<'_>) -> Result<Vec<SanEntry<'a>>, HostnameError> {
    let mut sans = cert.extensions().iter().filter(|ext| ext.oid == OID_X509_EXT_SUBJECT_ALT_NAME);
    let Some(ext) = sans.next() else {
        return Ok(Vec::new());
    };
    if sans.next().is_some() {
        return Err(HostnameError::BadSubjectAltName("the extension appears more than once".to_string()));
    }
    let general_names = match ext.parsed_extension() {
        ParsedExtension::SubjectAlternativeName(san) => &san.general_names,
        ParsedExtension::ParseError { error } => {
            return Err(HostnameError::BadSubjectAltName(error.to_string()));
        }
        _ => {
            return Err(HostnameError::BadSubjectAltName("the extension was not decoded".to_string()));
        }
    };
    let mut out = Vec::new();
    for name in general_names {
        match name {
            GeneralName::DNSName(s) => out.push(SanEntry::Dns(s.as_bytes())),
            // x509-parser keeps a dNSName that is not UTF-8 as raw bytes;
            // libpq compares raw bytes, so do the same.
            GeneralName::Invalid(tag, data) if tag.0 == 2 => out.push(SanEntry::Dns(data)),
            GeneralName::IPAddress(bytes) => out.push(SanEntry::Ip(bytes)),
            _ => {}
        }
    }
    Ok(out)
}

/// `pq_verify_peer_name_matches_certificate_name`: exact (case-folded) or
/// wildcard match; a name with an embedded NUL is an error.
fn compare_name(kind: NameKind, name: &[u8], host: &[u8]) -> Result<(String, bool), HostnameError> {
    let value = String::from_utf8_lossy(name).into_owned();
    if name.contains(&0) {
        return Err(HostnameError::EmbeddedNul { kind, name: value });
    }
    let hit = pg_strcasecmp_eq(name, host) || wildcard_match_bytes(name, host);
    Ok((value, hit))
}

/// `pq_verify_peer_name_matches_certificate_ip`.
fn compare_ip(addr: &[u8], host: &[u8]) -> Result<(String, bool), HostnameError> {
    match addr.len() {
        4 => {
            let hit = inet_aton(host).is_some_and(|h| h[..] == addr[..]);
            Ok((format_ipv4(addr), hit))
        }
        16 => {
            let hit = inet_pton6(host).is_some_and(|h| h[..] == addr[..]);
            Ok((format_ipv6(addr), hit))
        }
        n => Err(HostnameError::InvalidIpLength(n)),
    }
}

/// The prefix of `s` up to (not including) its first NUL, as C sees a string.
fn c_str(s: &[u8]) -> &[u8] {
    match s.iter().position(|&b| b == 0) {
        Some(end) => &s[..end],
        None => s,
    }
}

/// `pg_strcasecmp(a, b) == 0` in the C locale (only ASCII letters fold).
fn pg_strcasecmp_eq(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn wildcard_match_bytes(pattern: &[u8], host: &[u8]) -> bool {
    let lenpat = pattern.len();
    let lenstr = host.len();
    if lenpat < 3 || pattern[0] != b'*' || pattern[1] != b'.' {
        return false;
    }
    if lenpat > lenstr {
        return false;
    }
    // The host must end with the pattern minus its '*'.
    if !pg_strcasecmp_eq(&pattern[1..], &host[lenstr - lenpat + 1..]) {
        return false;
    }
    // No '.' may come before where the pattern started to match. The C code
    // tests `strchr(string, '.') < string + lenstr - lenpat`, so the last
    // byte the '*' covers is not tested. Since the suffix starts with '.',
    // the host always has a dot here.
    match host.iter().position(|&b| b == b'.') {
        Some(first_dot) => first_dot >= lenstr - lenpat,
        None => false,
    }
}

/// C-locale `isspace`.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// glibc's `inet_aton` (glibc 2.28 and later): numbers-and-dots notation
/// with C-style hex/octal parts, 1 to 4 parts, and anything after trailing
/// whitespace ignored. Returns the address in network byte order.
fn inet_aton(s: &[u8]) -> Option<[u8; 4]> {
    let mut parts: Vec<u8> = Vec::with_capacity(3);
    let mut pos = 0;
    let val: u64;
    loop {
        if !s.get(pos).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let (v, next) = strtoul_auto(s, pos)?;
        pos = next;
        if s.get(pos) == Some(&b'.') {
            if parts.len() > 2 || v > 0xff {
                return None;
            }
            parts.push(u8::try_from(v).ok()?);
            pos += 1;
        } else {
            val = v;
            break;
        }
    }
    if let Some(&c) = s.get(pos)
        && !(c.is_ascii() && is_c_space(c))
    {
        return None;
    }
    let max: u64 = match parts.len() {
        0 => 0xffff_ffff,
        1 => 0x00ff_ffff,
        2 => 0x0000_ffff,
        _ => 0x0000_00ff,
    };
    if val > max {
        return None;
    }
    let mut word = u32::try_from(val).ok()?;
    for (i, part) in parts.iter().enumerate() {
        word |= u32::from(*part) << (24 - 8 * i);
    }
    Some(word.to_be_bytes())
}

/// `strtoul(s + pos, &end, 0)` for a subject that starts with a digit, with
/// glibc's overflow handling folded into `None` (inet_aton rejects both
/// ERANGE and values above 0xffffffff). Returns the value and end position.
fn strtoul_auto(s: &[u8], pos: usize) -> Option<(u64, usize)> {
    let (base, start) = if s.get(pos) == Some(&b'0') {
        if matches!(s.get(pos + 1), Some(b'x' | b'X')) && s.get(pos + 2).is_some_and(u8::is_ascii_hexdigit) {
            (16, pos + 2)
        } else {
            (8, pos)
        }
    } else {
        (10, pos)
    };
    let mut value: u64 = 0;
    let mut overflow = false;
    let mut end = start;
    while let Some(&c) = s.get(end) {
        let digit = match (c as char).to_digit(base) {
            Some(d) => u64::from(d),
            None => break,
        };
        match value.checked_mul(u64::from(base)).and_then(|v| v.checked_add(digit)) {
            Some(v) => value = v,
            None => overflow = true,
        }
        end += 1;
    }
    if overflow || value > 0xffff_ffff { None } else { Some((value, end)) }
}

/// glibc's `inet_pton4`: strict dotted quad, no leading zeros.
fn inet_pton4(s: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut octets = 0usize;
    let mut saw_digit = false;
    let mut cur: u32 = 0;
    for &ch in s {
        if ch.is_ascii_digit() {
            if saw_digit && cur == 0 {
                return None;
            }
            let new = cur * 10 + u32::from(ch - b'0');
            if new > 255 {
                return None;
            }
            cur = new;
            if !saw_digit {
                octets += 1;
                if octets > 4 {
                    return None;
                }
                saw_digit = true;
            }
            out[octets - 1] = u8::try_from(cur).ok()?;
        } else if ch == b'.' && saw_digit {
            if octets == 4 {
                return None;
            }
            cur = 0;
            saw_digit = false;
        } else {
            return None;
        }
    }
    if octets < 4 {
        return None;
    }
    Some(out)
}

/// glibc's `inet_pton6`.
fn inet_pton6(s: &[u8]) -> Option<[u8; 16]> {
    let mut tmp = [0u8; 16];
    let mut tp = 0usize;
    let mut colonp: Option<usize> = None;
    let mut src = 0usize;

    if s.is_empty() {
        return None;
    }
    if s[0] == b':' {
        src += 1;
        if s.get(src) != Some(&b':') {
            return None;
        }
    }
    let mut curtok = src;
    let mut xdigits_seen = 0usize;
    let mut val: u32 = 0;
    while src < s.len() {
        let ch = s[src];
        src += 1;
        if let Some(digit) = (ch as char).to_digit(16) {
            if xdigits_seen == 4 {
                return None;
            }
            val = (val << 4) | digit;
            if val > 0xffff {
                return None;
            }
            xdigits_seen += 1;
            continue;
        }
        if ch == b':' {
            curtok = src;
            if xdigits_seen == 0 {
                if colonp.is_some() {
                    return None;
                }
                colonp = Some(tp);
                continue;
            } else if src == s.len() {
                return None;
            }
            if tp + 2 > 16 {
                return None;
            }
            tmp[tp..tp + 2].copy_from_slice(&u16::try_from(val).ok()?.to_be_bytes());
            tp += 2;
            xdigits_seen = 0;
            val = 0;
            continue;
        }
        if ch == b'.'
            && tp + 4 <= 16
            && let Some(v4) = inet_pton4(&s[curtok..])
        {
            tmp[tp..tp + 4].copy_from_slice(&v4);
            tp += 4;
            xdigits_seen = 0;
            break;
        }
        return None;
    }
    if xdigits_seen > 0 {
        if tp + 2 > 16 {
            return None;
        }
        tmp[tp..tp + 2].copy_from_slice(&u16::try_from(val).ok()?.to_be_bytes());
        tp += 2;
    }
    if let Some(colon) = colonp {
        if tp == 16 {
            // "::" would stand for no group at all.
            return None;
        }
        let n = tp - colon;
        tmp.copy_within(colon..tp, 16 - n);
        tmp[colon..16 - n].fill(0);
        tp = 16;
    }
    if tp != 16 {
        return None;
    }
    Some(tmp)
}

/// `pg_inet_net_ntop(AF_INET, addr, 32, ...)`.
fn format_ipv4(addr: &[u8]) -> String {
    addr.iter().map(u8::to_string).collect::<Vec<_>>().join(".")
}

/// `pg_inet_net_ntop(AF_INET6, addr, 128, ...)`: the longest run (first of
/// equals, at least two groups) of zero groups becomes `::`, and
/// IPv4-compatible / IPv4-mapped addresses end in dotted decimal.
fn format_ipv6(addr: &[u8]) -> String {
    let mut words = [0u16; 8];
    for (i, word) in words.iter_mut().enumerate() {
        *word = u16::from_be_bytes([addr[2 * i], addr[2 * i + 1]]);
    }
    let mut best: Option<(usize, usize)> = None;
    let mut cur: Option<(usize, usize)> = None;
    for (i, &w) in words.iter().enumerate() {
        if w == 0 {
            cur = Some(match cur {
                None => (i, 1),
                Some((base, len)) => (base, len + 1),
            });
        } else if let Some(c) = cur.take()
            && best.is_none_or(|b| c.1 > b.1)
        {
            best = Some(c);
        }
    }
    if let Some(c) = cur
        && best.is_none_or(|b| c.1 > b.1)
    {
        best = Some(c);
    }
    if best.is_some_and(|b| b.1 < 2) {
        best = None;
    }

    let mut out = String::new();
    for i in 0..8 {
        if let Some((base, len)) = best
            && i >= base
            && i < base + len
        {
            if i == base {
                out.push(':');
            }
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6
            && let Some((0, len)) = best
            && (len == 6 || (len == 7 && words[7] != 0x0001) || (len == 5 && words[5] == 0xffff))
        {
            out.push_str(&format_ipv4(&addr[12..16]));
            break;
        }
        out.push_str(&format!("{:x}", words[i]));
    }
    if best.is_some_and(|(base, len)| base + len == 8) {
        out.push(':');
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use super::*;
    use rcgen::{CertificateParams, CustomExtension, DistinguishedName, DnType, KeyPair, SanType};
    use std::net::IpAddr;

    /// A self-signed certificate with the given SANs and CN, as DER.
    fn make_cert(sans: &[&str], ips: &[&str], cn: Option<&str>) -> Vec<u8> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        if let Some(cn) = cn {
            params.distinguished_name.push(DnType::CommonName, cn);
        }
        for s in sans {
            params.subject_alt_names.push(SanType::DnsName((*s).try_into().unwrap()));
        }
        for ip in ips {
            params.subject_alt_names.push(SanType::IpAddress(ip.parse::<IpAddr>().unwrap()));
        }
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    /// A certificate whose SAN extension is the given raw GeneralNames content.
    fn make_cert_raw_san(general_names: &[u8], cn: Option<&str>) -> Vec<u8> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        if let Some(cn) = cn {
            params.distinguished_name.push(DnType::CommonName, cn);
        }
        let mut content = vec![0x30, u8::try_from(general_names.len()).unwrap()];
        content.extend_from_slice(general_names);
        params.custom_extensions.push(CustomExtension::from_oid_content(&[2, 5, 29, 17], content));
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn check(der: &[u8], host: &str) -> Result<HostCheck, HostnameError> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
        check_host(&cert, host)
    }

    fn ok(der: &[u8], host: &str) -> HostCheck {
        check(der, host).unwrap()
    }

    #[test]
    fn exact_dns_match() {
        let der = make_cert(&["db.example.com"], &[], Some("ignored"));
        let r = ok(&der, "db.example.com");
        assert!(r.matched);
        assert_eq!(r.matched_name.as_deref(), Some("db.example.com"));
        assert!(!r.used_cn_fallback);
        assert_eq!(r.libpq_message, None);
    }

    #[test]
    fn dns_match_is_case_insensitive() {
        let der = make_cert(&["DB.Example.COM"], &[], None);
        assert!(ok(&der, "db.example.com").matched);
        assert!(ok(&der, "db.EXAMPLE.com").matched);
    }

    #[test]
    fn wildcard_rules() {
        assert!(wildcard_matches("*.example.com", "db.example.com"));
        assert!(wildcard_matches("*.EXAMPLE.com", "DB.example.COM"));
        // two labels
        assert!(!wildcard_matches("*.example.com", "a.b.example.com"));
        // bare domain
        assert!(!wildcard_matches("*.example.com", "example.com"));
        assert!(!wildcard_matches("*.example.com", ".example.com"));
        // "*" alone, "*." alone
        assert!(!wildcard_matches("*", "example"));
        assert!(!wildcard_matches("*.", "a."));
        // wildcard not leading / not the whole label
        assert!(!wildcard_matches("a*.example.com", "ab.example.com"));
        assert!(!wildcard_matches("*a.example.com", "ba.example.com"));
        assert!(!wildcard_matches("db.*.com", "db.example.com"));
        // pattern longer than host
        assert!(!wildcard_matches("*.example.com", "x.com"));
        // the C quirk: the last byte the '*' covers is not checked for '.'
        assert!(wildcard_matches("*.example.com", "..example.com"));
        assert!(wildcard_matches("*.example.com", "a..example.com"));
        assert!(!wildcard_matches("*.example.com", ".a.example.com"));
    }

    #[test]
    fn wildcard_san_in_certificate() {
        let der = make_cert(&["*.example.com"], &[], None);
        let r = ok(&der, "db.example.com");
        assert!(r.matched);
        assert_eq!(r.matched_name.as_deref(), Some("*.example.com"));
        assert!(!ok(&der, "a.db.example.com").matched);
        assert!(!ok(&der, "example.com").matched);
    }

    #[test]
    fn ip_san_v4_and_v6() {
        let der = make_cert(&[], &["10.1.2.3", "::1"], None);
        assert!(ok(&der, "10.1.2.3").matched);
        assert!(!ok(&der, "10.1.2.4").matched);
        let r = ok(&der, "::1");
        assert!(r.matched);
        assert_eq!(r.matched_name.as_deref(), Some("::1"));
        // libpq compares bytes, so any spelling of the address matches
        assert!(ok(&der, "0:0:0:0:0:0:0:1").matched);
        assert!(ok(&der, "0000::0001").matched);
        // inet_aton spellings of an IPv4 address match too
        assert!(ok(&der, "10.1.515").matched);
        assert!(ok(&der, "0x0a.1.2.3").matched);
        assert!(ok(&der, "012.1.2.3").matched);
        assert!(ok(&der, "167838211").matched);
    }

    #[test]
    fn ip_host_with_only_dns_sans_falls_back_to_cn() {
        let der = make_cert(&["db.example.com"], &[], Some("10.0.0.5"));
        let r = ok(&der, "10.0.0.5");
        assert!(r.matched);
        assert!(r.used_cn_fallback);
        assert_eq!(r.names_checked.len(), 2);
        assert_eq!(r.names_checked[1].kind, NameKind::CommonName);
        assert_eq!(r.matched_name.as_deref(), Some("10.0.0.5"));
    }

    #[test]
    fn dns_host_with_only_ip_sans_falls_back_to_cn() {
        let der = make_cert(&[], &["10.0.0.5"], Some("db.example.com"));
        let r = ok(&der, "db.example.com");
        assert!(r.matched);
        assert!(r.used_cn_fallback);
        assert_eq!(r.names_checked[0].kind, NameKind::Ip);
        assert!(!r.names_checked[0].matched);
    }

    #[test]
    fn dns_host_with_dns_sans_ignores_cn() {
        let der = make_cert(&["other.example.com"], &[], Some("db.example.com"));
        let r = ok(&der, "db.example.com");
        assert!(!r.matched);
        assert!(!r.used_cn_fallback);
        assert_eq!(r.names_checked.len(), 1);
        assert_eq!(
            r.libpq_message.as_deref(),
            Some("server certificate for \"other.example.com\" does not match host name \"db.example.com\"")
        );
    }

    #[test]
    fn ip_host_with_ip_sans_ignores_cn() {
        let der = make_cert(&[], &["10.0.0.6"], Some("10.0.0.5"));
        let r = ok(&der, "10.0.0.5");
        assert!(!r.matched);
        assert!(!r.used_cn_fallback);
    }

    #[test]
    fn ip_written_as_dns_name_matches_by_string() {
        let der = make_cert(&["10.0.0.5"], &[], None);
        let r = ok(&der, "10.0.0.5");
        assert!(r.matched);
        assert_eq!(r.names_checked[0].kind, NameKind::Dns);
        // a string compare: another spelling does not match, so the CN (absent) is tried
        let r = ok(&der, "10.0.0.05");
        assert!(!r.matched);
        assert!(!r.used_cn_fallback);
    }

    #[test]
    fn messages_with_and_without_other_names() {
        let der = make_cert(&["a.example.com"], &[], None);
        assert_eq!(
            ok(&der, "b.example.com").libpq_message.as_deref(),
            Some("server certificate for \"a.example.com\" does not match host name \"b.example.com\"")
        );

        let der = make_cert(&["a.example.com", "c.example.com"], &[], None);
        assert_eq!(
            ok(&der, "b.example.com").libpq_message.as_deref(),
            Some(
                "server certificate for \"a.example.com\" (and 1 other name) does not match host name \"b.example.com\""
            )
        );

        let der = make_cert(&["a.example.com", "c.example.com"], &["10.9.9.9"], None);
        let r = ok(&der, "b.example.com");
        assert_eq!(
            r.libpq_message.as_deref(),
            Some(
                "server certificate for \"a.example.com\" (and 2 other names) does not match host name \"b.example.com\""
            )
        );
        assert_eq!(r.names_checked[2].value, "10.9.9.9");

        // IP host, DNS SANs only: SANs and the CN all count
        let der = make_cert(&["a.example.com"], &[], Some("cn.example.com"));
        assert_eq!(
            ok(&der, "10.0.0.1").libpq_message.as_deref(),
            Some(
                "server certificate for \"a.example.com\" (and 1 other name) does not match host name \"10.0.0.1\""
            )
        );

        let der = make_cert(&[], &[], None);
        let r = ok(&der, "db.example.com");
        assert!(!r.matched);
        assert!(r.names_checked.is_empty());
        assert_eq!(
            r.libpq_message.as_deref(),
            Some("could not get server's host name from server certificate")
        );
    }

    #[test]
    fn first_cn_is_used() {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, "first.example.com");
        params.distinguished_name.push(DnType::OrganizationName, "Org");
        let key = KeyPair::generate().unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        assert!(ok(&der, "first.example.com").matched);
        assert!(ok(&der, "FIRST.example.com").matched);
    }

    #[test]
    fn bad_ip_length_is_an_error() {
        // [7] with 5 bytes
        let der = make_cert_raw_san(&[0x87, 5, 1, 2, 3, 4, 5], None);
        assert_eq!(check(&der, "1.2.3.4"), Err(HostnameError::InvalidIpLength(5)));
        assert_eq!(
            HostnameError::InvalidIpLength(5).to_string(),
            "certificate contains IP address with invalid length 5"
        );
        // ...but only if libpq gets that far: an earlier match wins
        let mut names = vec![0x82, 7];
        names.extend_from_slice(b"1.2.3.4");
        names.extend_from_slice(&[0x87, 5, 1, 2, 3, 4, 5]);
        let der = make_cert_raw_san(&names, None);
        assert!(ok(&der, "1.2.3.4").matched);
    }

    #[test]
    fn embedded_nul_is_an_error() {
        let mut names = vec![0x82, 9];
        names.extend_from_slice(b"a\0b.c.com");
        let der = make_cert_raw_san(&names, None);
        assert!(matches!(check(&der, "a"), Err(HostnameError::EmbeddedNul { kind: NameKind::Dns, .. })));
    }

    #[test]
    fn empty_host_is_an_error() {
        let der = make_cert(&["a.example.com"], &[], None);
        assert_eq!(check(&der, ""), Err(HostnameError::EmptyHost));
    }

    #[test]
    fn ip_parsers_follow_glibc() {
        assert_eq!(inet_aton(b"127.1"), Some([127, 0, 0, 1]));
        assert_eq!(inet_aton(b"1.2.3.4 junk"), Some([1, 2, 3, 4]));
        assert_eq!(inet_aton(b"0x7f.0.0.1"), Some([127, 0, 0, 1]));
        assert_eq!(inet_aton(b"0x"), None);
        assert_eq!(inet_aton(b"08.1.1.1"), None);
        assert_eq!(inet_aton(b"1.2.3.256"), None);
        assert_eq!(inet_aton(b"4294967296"), None);
        assert_eq!(inet_aton(b"1.2.3.4."), None);
        assert_eq!(inet_aton(b"db.example.com"), None);
        assert_eq!(inet_aton(b""), None);
        assert_eq!(inet_pton4(b"01.2.3.4"), None);
        assert!(inet_pton6(b"::").is_some());
        assert!(inet_pton6(b"::ffff:1.2.3.4").is_some());
        assert!(inet_pton6(b"1:2:3:4:5:6:7::").is_some());
        assert!(inet_pton6(b"1:2:3:4:5:6:7:8::").is_none());
        assert!(inet_pton6(b":1::").is_none());
        assert!(inet_pton6(b"1::2::3").is_none());
        assert!(inet_pton6(b"1:").is_none());
        assert!(inet_pton6(b"fe80::1%eth0").is_none());
        assert!(inet_pton6(b"12345::").is_none());
    }

    #[test]
    fn ipv6_formatting_follows_pg_inet_net_ntop() {
        let f = |s: &str| format_ipv6(&s.parse::<std::net::Ipv6Addr>().unwrap().octets());
        assert_eq!(f("::1"), "::1");
        assert_eq!(f("::"), "::");
        assert_eq!(f("2001:db8::1"), "2001:db8::1");
        assert_eq!(f("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
        assert_eq!(f("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(f("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
        assert_eq!(f("1:0:0:2:0:0:3:4"), "1::2:0:0:3:4");
        assert_eq!(f("1:0:2:3:4:5:6:7"), "1:0:2:3:4:5:6:7");
        assert_eq!(f("1::"), "1::");
    }
}
