//! Certificate requests (PKCS#10), decoded by x509-parser: subject, key, requested extensions,
//! and whether the request's self-signature verifies.
//!
//! It explains the request only; whether a CA should sign it is not decided here.

use sha2::{Digest, Sha256};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;

use super::certificate::{eku_names, general_name, key_usage_names, signature_outcome};
use super::decode::Decoded;
use super::name::format_name;
use super::oid::{oid_name, signature_algorithm_name};
use super::public_key::spki_summary;
use super::{CsrInfo, Item, colon_hex, weakness};

pub(super) fn csr(index: usize, pem_label: Option<String>, der: &[u8]) -> Result<Decoded, String> {
    let (rest, req) = X509CertificationRequest::from_der(der).map_err(|e| e.to_string())?;
    if pem_label.is_none() && !rest.is_empty() {
        return Err(format!("{} bytes after the request", rest.len()));
    }
    let info = &req.certification_request_info;
    let spki = &info.subject_pki;
    let key = spki_summary(spki.raw);
    let spki_sha256 = colon_hex(&Sha256::digest(spki.raw));
    let mut subject_alt_names = Vec::new();
    let mut requested_extensions = Vec::new();
    if let Some(exts) = req.requested_extensions() {
        for ext in exts {
            match ext {
                ParsedExtension::SubjectAlternativeName(san) => {
                    subject_alt_names = san.general_names.iter().map(general_name).collect();
                    requested_extensions
                        .push(format!("subject alternative names: {}", subject_alt_names.join(", ")));
                }
                ParsedExtension::BasicConstraints(bc) => requested_extensions.push(format!(
                    "basic constraints: CA={}{}",
                    bc.ca,
                    bc.path_len_constraint.map(|p| format!(", pathlen={p}")).unwrap_or_default()
                )),
                ParsedExtension::KeyUsage(ku) => {
                    requested_extensions.push(format!("key usage: {}", key_usage_names(ku).join(", ")));
                }
                ParsedExtension::ExtendedKeyUsage(e) => {
                    requested_extensions.push(format!("extended key usage: {}", eku_names(e).join(", ")));
                }
                ParsedExtension::SubjectKeyIdentifier(ki) => {
                    requested_extensions.push(format!("subject key identifier: {}", colon_hex(ki.0)));
                }
                ParsedExtension::UnsupportedExtension { oid } => {
                    requested_extensions.push(format!("other: {}", oid_name(oid)));
                }
                ParsedExtension::ParseError { error } => {
                    requested_extensions.push(format!("undecodable extension: {error}"));
                }
                other => requested_extensions.push(format!("{other:?}")),
            }
        }
    }
    let signature_verifies = signature_outcome(req.verify_signature());
    let signature_algorithm = signature_algorithm_name(&req.signature_algorithm.algorithm.to_id_string());
    let mut notes = Vec::new();
    if signature_verifies == Some(false) {
        notes.push("the request's self-signature does NOT verify: it was altered or is corrupt".into());
    }
    let weaknesses = weakness::signed(&signature_algorithm, &key);
    notes.extend(weakness::notes(&weaknesses));
    Ok(Decoded {
        item: Item::CertificateRequest(CsrInfo {
            index,
            pem_label,
            subject: format_name(&info.subject),
            key,
            spki_sha256: spki_sha256.clone(),
            signature_algorithm,
            signature_verifies,
            subject_alt_names,
            requested_extensions,
            weaknesses,
            notes,
        }),
        der: None,
        spki_sha256: Some(spki_sha256),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use crate::inspect::Item;
    use crate::inspect::testutil::*;
    use rcgen::KeyPair;

    #[test]
    fn certificate_request() {
        let k = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let csr = csr_params().serialize_request(&k).unwrap();
        let pem_text = csr.pem().unwrap();
        let ins = inspect(&pem_text);
        let Item::CertificateRequest(r) = &ins.items[0] else {
            panic!("not a CSR: {:?}", ins.items[0]);
        };
        assert_eq!(r.subject, "CN=db.example.com,O=Example\\, Inc.");
        assert_eq!(r.key.description, "EC P-256 (prime256v1)");
        assert_eq!(r.signature_algorithm, "ecdsa-with-SHA256");
        assert_eq!(r.signature_verifies, Some(true));
        assert_eq!(r.subject_alt_names, vec!["DNS:db.example.com".to_string(), "IP:10.0.0.5".to_string()]);
        assert!(
            r.requested_extensions.iter().any(|e| e.contains("TLS server (serverAuth)")),
            "{:?}",
            r.requested_extensions
        );
        let text = ins.render_text();
        assert!(text.contains("certificate request (CSR)"));
        assert!(text.contains("Self-signature:"));
        assert!(text.contains("verifies"));

        // The same request with its signature damaged.
        let mut der_bytes = csr.der().to_vec();
        let last = der_bytes.len() - 1;
        der_bytes[last] ^= 0x01;
        let ins = inspect(&pem::encode(&pem::Pem::new("NEW CERTIFICATE REQUEST", der_bytes)));
        let Item::CertificateRequest(r) = &ins.items[0] else {
            panic!("not a CSR");
        };
        assert_eq!(r.signature_verifies, Some(false));
    }
}
