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

// ---------------------------------------------------------------------------

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
                notes.push(format!("extension {} could not be decoded: {error}", oid_name(&ext.oid)))
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

// ---------------------------------------------------------------------------
// Keys
