//! Distinguished names in RFC 4514 form (most specific RDN first, `,` between RDNs, `+` inside
//! one), as PostgreSQL matches them with `clientname=DN`: attribute short names, the ASN.1
//! string types, escaping.
//!
//! The strings are the file's, unescaped for terminals: `render` and the error messages make
//! them safe to print. Nothing here decides what a name means.

use der::Encode;
use x509_parser::asn1_rs::{Any, Class};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

use super::oid::attribute_short_name;

/// RFC 4514: RDNs from last to first, `,` between RDNs, `+` inside one. This is also the form
/// PostgreSQL matches with `clientname=DN` (OpenSSL's RFC 2253 printing), so pgharden shows names
/// this way everywhere.
pub(crate) fn format_name(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> =
        name.iter_rdn().map(|rdn| rdn.iter().map(format_attribute).collect::<Vec<_>>().join("+")).collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

fn format_attribute(attr: &AttributeTypeAndValue<'_>) -> String {
    let oid = attr.attr_type().to_id_string();
    let key = attribute_short_name(&oid).map_or(oid, str::to_string);
    let value = match attribute_string(attr.attr_value()) {
        Some(s) => escape_rfc4514(&s),
        None => format!("#{}", hex::encode(any_der(attr.attr_value()))),
    };
    format!("{key}={value}")
}

/// The text of a directory string, decoding the ASN.1 string types.
fn attribute_string(any: &Any<'_>) -> Option<String> {
    let data = any.as_bytes();
    if any.class() != Class::Universal {
        return None;
    }
    match any.tag().0 {
        // UTF8String, NumericString, PrintableString, IA5String, VisibleString
        12 | 18 | 19 | 22 | 26 => Some(String::from_utf8_lossy(data).into_owned()),
        // TeletexString: treated as Latin-1, as OpenSSL does
        20 => Some(data.iter().map(|&b| char::from(b)).collect()),
        // BMPString: UTF-16BE
        30 => {
            let units: Vec<u16> =
                data.chunks(2).map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect();
            Some(String::from_utf16_lossy(&units))
        }
        // UniversalString: UTF-32BE
        28 => Some(
            data.chunks(4)
                .map(|c| {
                    let mut b = [0u8; 4];
                    b[..c.len()].copy_from_slice(c);
                    char::from_u32(u32::from_be_bytes(b)).unwrap_or('\u{fffd}')
                })
                .collect(),
        ),
        _ => None,
    }
}

/// Re-encode an `Any` as DER, for `#hex` values: its tag as the file has it, a DER length, the
/// content.
fn any_der(any: &Any<'_>) -> Vec<u8> {
    let mut out = match any.header.raw_tag() {
        Some(tag) => tag.to_vec(),
        None => {
            // A header built rather than parsed: rebuild the identifier octet (low tag numbers).
            let class_bits = match any.class() {
                Class::Universal => 0x00,
                Class::Application => 0x40,
                Class::ContextSpecific => 0x80,
                Class::Private => 0xc0,
            };
            let constructed = if any.header.is_constructed() { 0x20 } else { 0 };
            let tag = u8::try_from(any.tag().0).unwrap_or(0x1f) & 0x1f;
            vec![class_bits | constructed | tag]
        }
    };
    let content = any.as_bytes();
    // A length that does not fit DER's (over 256 MiB) cannot come from a capped file.
    if let Ok(len) = der::Length::try_from(content.len())
        && let Ok(encoded) = len.to_der()
    {
        out.extend_from_slice(&encoded);
    }
    out.extend_from_slice(content);
    out
}

fn escape_rfc4514(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let last = s.chars().count().saturating_sub(1);
    for (i, c) in s.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use super::*;

    #[test]
    fn rfc4514_escaping() {
        assert_eq!(escape_rfc4514("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape_rfc4514(" #x "), "\\ #x\\ ");
        assert_eq!(escape_rfc4514("#x"), "\\#x");
        assert_eq!(escape_rfc4514("q\"<>;\\"), "q\\\"\\<\\>\\;\\\\");
    }
}
