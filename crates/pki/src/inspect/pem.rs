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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use crate::inspect::testutil::*;
    use crate::inspect::{InspectError, Item, inspect_bytes_at};
    use rcgen::KeyPair;

    #[test]
    fn truncated_pem() {
        let p = pki();
        let cut = p.leaf_pem.find("-----END").unwrap();
        let err = inspect_bytes_at("leaf.pem", &p.leaf_pem.as_bytes()[..cut], NOW).unwrap_err();
        assert!(matches!(err, InspectError::TruncatedPem { block: 1, .. }));
        assert_eq!(err.to_string(), "leaf.pem: truncated PEM: BEGIN CERTIFICATE without END (block 1)");
        // second block truncated
        let text = format!("{}{}", p.root_pem, &p.leaf_pem[..cut]);
        let err = inspect_bytes_at("chain.pem", text.as_bytes(), NOW).unwrap_err();
        assert!(matches!(err, InspectError::TruncatedPem { block: 2, .. }), "{err}");
        // BEGIN followed by another BEGIN
        let text = format!("{}{}", &p.leaf_pem[..cut], p.root_pem);
        let err = inspect_bytes_at("chain.pem", text.as_bytes(), NOW).unwrap_err();
        assert!(matches!(err, InspectError::TruncatedPem { block: 1, .. }), "{err}");
    }

    #[test]
    fn corrupt_pem_and_bad_der() {
        let p = pki();
        // base64 that does not decode
        let mut lines: Vec<String> = p.leaf_pem.lines().map(str::to_string).collect();
        lines[2] = format!("!!{}", &lines[2][2..]);
        let err = inspect_bytes_at("bad.pem", lines.join("\n").as_bytes(), NOW).unwrap_err();
        assert!(matches!(err, InspectError::CorruptPem { block: 1, .. }), "{err}");
        assert!(err.to_string().starts_with("bad.pem: corrupt PEM in block 1 (CERTIFICATE)"));

        // mismatched END
        let text = p.leaf_pem.replace("END CERTIFICATE", "END X509 CRL");
        let err = inspect_bytes_at("bad.pem", text.as_bytes(), NOW).unwrap_err();
        assert!(err.to_string().contains("closed by END X509 CRL"), "{err}");

        // valid PEM, garbage DER, in block 2
        let garbage = pem::encode(&pem::Pem::new("X509 CRL", vec![0x30, 0x03, 1, 2, 3]));
        let text = format!("{}{}", p.leaf_pem, garbage);
        let err = inspect_bytes_at("mixed.pem", text.as_bytes(), NOW).unwrap_err();
        match &err {
            InspectError::BadDer { file, block, label, expected, .. } => {
                assert_eq!(file, "mixed.pem");
                assert_eq!(*block, 2);
                assert_eq!(label, "X509 CRL");
                assert_eq!(expected, "CRL");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().starts_with("mixed.pem: PEM block 2 (X509 CRL) does not hold a valid CRL"));
    }

    #[test]
    fn unknown_block_is_reported_not_fatal() {
        let p = pki();
        let text =
            format!("some text before\n-----BEGIN FOO BAR-----\nAAAA\n-----END FOO BAR-----\n{}", p.leaf_pem);
        let ins = inspect(&text);
        assert_eq!(ins.items.len(), 2);
        let Item::Unknown(u) = &ins.items[0] else {
            panic!("expected unknown");
        };
        assert_eq!(u.pem_label.as_deref(), Some("FOO BAR"));
        assert_eq!(ins.warnings.len(), 1);
        assert!(ins.warnings[0].contains("FOO BAR"));
        assert!(matches!(ins.items[1], Item::Certificate(_)));
        let v = serde_json::to_value(&ins).unwrap();
        assert_eq!(v["items"][0]["type"], "unknown");
    }

    #[test]
    fn openssl_ecparam_output_has_no_warning() {
        let k = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = pem::encode(&pem::Pem::new(
            "EC PARAMETERS",
            vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
        ));
        let ins = inspect(&format!("{params}{}", k.serialize_pem()));
        assert!(ins.warnings.is_empty(), "{:?}", ins.warnings);
        assert!(matches!(ins.items[0], Item::Unknown(_)));
        assert!(ins.render_text().contains("#1 other block: EC PARAMETERS"));
    }
}
