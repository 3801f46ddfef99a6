//! Splitting a PEM file into its blocks: labels, base64, the `Proc-Type`/`DEK-Info` headers of
//! legacy encrypted keys, and precise errors for truncated or corrupt blocks.
//!
//! It does not look inside a block's DER; `decode` picks the decoder by label.

use super::InspectError;

pub(super) struct PemBlock {
    pub(super) label: String,
    pub(super) der: Vec<u8>,
    /// `Proc-Type: 4,ENCRYPTED` (OpenSSL's legacy PEM encryption).
    pub(super) legacy_encrypted: bool,
    pub(super) dek_info: Option<String>,
}

pub(super) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub(super) fn split_pem(file: &str, text: &str) -> Result<Vec<PemBlock>, InspectError> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, usize)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let t = line.trim();
        if let Some(label) = t.strip_prefix("-----BEGIN ").and_then(|r| r.strip_suffix("-----")) {
            if let Some((label, _)) = open {
                return Err(InspectError::TruncatedPem {
                    file: file.to_string(),
                    block: blocks.len() + 1,
                    label,
                });
            }
            open = Some((label.to_string(), start));
        } else if let Some(end_label) = t.strip_prefix("-----END ").and_then(|r| r.strip_suffix("-----")) {
            let block = blocks.len() + 1;
            let Some((label, begin)) = open.take() else {
                return Err(InspectError::CorruptPem {
                    file: file.to_string(),
                    block,
                    label: end_label.to_string(),
                    detail: format!("END {end_label} without BEGIN"),
                });
            };
            if label != end_label {
                return Err(InspectError::CorruptPem {
                    file: file.to_string(),
                    block,
                    label: label.clone(),
                    detail: format!("BEGIN {label} closed by END {end_label}"),
                });
            }
            let pem = pem::parse(&text[begin..offset]).map_err(|e| InspectError::CorruptPem {
                file: file.to_string(),
                block,
                label: label.clone(),
                detail: describe_pem_error(&e),
            })?;
            let legacy_encrypted =
                pem.headers().get("Proc-Type").is_some_and(|v| v.to_ascii_uppercase().contains("ENCRYPTED"));
            let dek_info = pem.headers().get("DEK-Info").map(str::to_string);
            blocks.push(PemBlock { label, der: pem.into_contents(), legacy_encrypted, dek_info });
        }
    }
    if let Some((label, _)) = open {
        return Err(InspectError::TruncatedPem { file: file.to_string(), block: blocks.len() + 1, label });
    }
    if blocks.is_empty() {
        return Err(InspectError::CorruptPem {
            file: file.to_string(),
            block: 1,
            label: "?".to_string(),
            detail: "a \"-----BEGIN \" marker but no well-formed PEM block".to_string(),
        });
    }
    Ok(blocks)
}

fn describe_pem_error(e: &pem::PemError) -> String {
    match e {
        pem::PemError::InvalidData(d) => format!("base64 does not decode: {d}"),
        pem::PemError::MissingData => "no data between BEGIN and END".to_string(),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------
