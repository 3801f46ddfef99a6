//! Certificate revocation lists, decoded by x509-parser: issuer, this/next update and whether
//! the list is stale, the CRL number, and every revoked serial with its reason.
//!
//! Which certificate in the file signed the list is `link`'s; whether a given certificate is
//! revoked is the verifier's business, not this module's.

use time::OffsetDateTime;
use x509_parser::extensions::ParsedExtension;

use super::decode::Decoded;
use super::name::format_name;
use super::oid::{oid_name, reason_name, signature_algorithm_name};
use super::weakness::{self, Weakness};
use super::{CrlInfo, Item, RevokedEntry, colon_hex, human_duration, rfc3339, serial_hex};

pub(super) fn crl(
    index: usize,
    pem_label: Option<String>,
    der: &[u8],
    now: OffsetDateTime,
) -> Result<Decoded, String> {
    let (rest, list) = x509_parser::parse_x509_crl(der).map_err(|e| e.to_string())?;
    if pem_label.is_none() && !rest.is_empty() {
        return Err(format!("{} bytes after the CRL", rest.len()));
    }
    let this_update = list.last_update().to_datetime();
    let next_update = list.next_update().map(|t| t.to_datetime());
    let stale = next_update.is_some_and(|n| now > n);
    let status = match next_update {
        _ if now < this_update => {
            format!("not yet current (issued {} in the future)", human_duration(this_update - now))
        }
        None => "current (no next update given)".to_string(),
        Some(n) if now > n => format!("STALE: the next update was due {} ago", human_duration(now - n)),
        Some(n) => format!("current, next update due in {}", human_duration(n - now)),
    };
    let mut authority_key_id = None;
    let mut notes = Vec::new();
    for ext in list.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority_key_id = aki.key_identifier.as_ref().map(|ki| colon_hex(ki.0));
            }
            ParsedExtension::ParseError { error } => {
                notes.push(format!("extension {} could not be decoded: {error}", oid_name(&ext.oid)));
            }
            _ => {}
        }
    }
    let revoked: Vec<RevokedEntry> = list
        .iter_revoked_certificates()
        .map(|r| RevokedEntry {
            serial: serial_hex(r.raw_serial()),
            revocation_date: rfc3339(r.revocation_date.to_datetime()),
            reason: r.reason_code().map(|(_, code)| reason_name(code.0)),
        })
        .collect();
    let signature_algorithm = signature_algorithm_name(&list.signature_algorithm.algorithm.to_id_string());
    let weaknesses: Vec<Weakness> = weakness::signature(&signature_algorithm).into_iter().collect();
    notes.extend(weakness::notes(&weaknesses));
    Ok(Decoded {
        item: Item::Crl(CrlInfo {
            index,
            pem_label,
            issuer: format_name(list.issuer()),
            version: list.version().map_or(1, |v| v.0 + 1),
            this_update: rfc3339(this_update),
            next_update: next_update.map(rfc3339),
            this_update_unix: this_update.unix_timestamp(),
            next_update_unix: next_update.map(OffsetDateTime::unix_timestamp),
            stale,
            status,
            crl_number: list.crl_number().map(ToString::to_string),
            authority_key_id,
            signature_algorithm,
            revoked_count: revoked.len(),
            revoked,
            issued_by: None,
            weaknesses,
            notes,
        }),
        der: Some(der[..der.len() - rest.len()].to_vec()),
        spki_sha256: None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use crate::inspect::testutil::*;
    use crate::inspect::{IssuerLink, Item, inspect_bytes_at};
    use rcgen::{
        CertificateRevocationListParams, Issuer, KeyIdMethod, RevocationReason, RevokedCertParams,
        SerialNumber,
    };
    use time::macros::datetime;

    #[test]
    fn crl_with_one_revoked_serial() {
        let p = pki();
        let params = CertificateRevocationListParams {
            this_update: datetime!(2025-01-01 0:00 UTC),
            next_update: datetime!(2025-01-08 0:00 UTC),
            crl_number: SerialNumber::from(7u64),
            issuing_distribution_point: None,
            revoked_certs: vec![RevokedCertParams {
                serial_number: SerialNumber::from_slice(&[0x0a, 0xbc]),
                revocation_time: datetime!(2025-01-01 12:00 UTC),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            }],
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let issuer = Issuer::from_params(&p.root_params, &p.root_key);
        let list = params.signed_by(&issuer).unwrap();
        let text = format!("{}{}", list.pem().unwrap(), p.root_pem);

        let ins = inspect(&text);
        let Item::Crl(c) = &ins.items[0] else {
            panic!("not a CRL");
        };
        assert_eq!(c.issuer, "CN=Test Root CA,O=Example\\, Inc.");
        assert_eq!(c.this_update, "2025-01-01T00:00:00Z");
        assert_eq!(c.next_update.as_deref(), Some("2025-01-08T00:00:00Z"));
        assert!(!c.stale);
        assert_eq!(c.status, "current, next update due in 6 days");
        assert_eq!(c.crl_number.as_deref(), Some("7"));
        assert_eq!(c.revoked_count, 1);
        assert_eq!(c.revoked[0].serial, "0abc");
        assert_eq!(c.revoked[0].revocation_date, "2025-01-01T12:00:00Z");
        assert_eq!(c.revoked[0].reason.as_deref(), Some("key compromise (keyCompromise)"));
        assert_eq!(c.signature_algorithm, "ecdsa-with-SHA384");
        assert_eq!(c.issued_by, Some(IssuerLink { item: 2, signature_verified: Some(true) }));
        assert_eq!(c.authority_key_id, cert(&ins.items[1]).subject_key_id);
        assert_eq!(cert(&ins.items[1]).issued, vec![1]);

        let stale = inspect_bytes_at("x", text.as_bytes(), datetime!(2025-01-11 0:00 UTC)).unwrap();
        let Item::Crl(c) = &stale.items[0] else {
            panic!("not a CRL");
        };
        assert!(c.stale);
        assert_eq!(c.status, "STALE: the next update was due 3 days ago");
        let rendered = stale.render_text();
        assert!(rendered.contains("STALE"));
        assert!(rendered.contains("serial 0abc on 2025-01-01T12:00:00Z, key compromise"));
        assert!(rendered.contains("CRL number:"));
    }
}
