//! X.509 certificates, decoded by x509-parser: subject and issuer, validity in words, the key,
//! the extensions (basic constraints, key usage, EKU, SANs, key ids, CRL distribution points), the
//! role they add up to, fingerprints, and whether a self-signed certificate verifies.
//!
//! One certificate at a time: which certificate in the file issued which is `link`'s; strength
//! judgements are `weakness`'s; the text form is `render`'s.

use std::net::{Ipv4Addr, Ipv6Addr};

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::error::X509Error;
use x509_parser::extensions::{
    DistributionPointName, ExtendedKeyUsage, GeneralName, KeyUsage, ParsedExtension,
};

use super::decode::Decoded;
use super::name::format_name;
use super::oid::{oid_name, signature_algorithm_name};
use super::public_key::spki_summary;
use super::{
    BasicConstraintsInfo, CertificateInfo, Item, colon_hex, human_duration, rfc3339, serial_hex, weakness,
};

pub(super) fn certificate(
    index: usize,
    pem_label: Option<String>,
    der: &[u8],
    now: OffsetDateTime,
) -> Result<Decoded, String> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
    let mut notes = Vec::new();
    if !rest.is_empty() && pem_label.as_deref() != Some("TRUSTED CERTIFICATE") {
        if pem_label.is_none() {
            // A DER file must be exactly one structure.
            return Err(format!("{} bytes after the certificate", rest.len()));
        }
        notes.push(format!("{} unexpected bytes follow the certificate", rest.len()));
    }

    let spki = cert.public_key();
    let key = spki_summary(spki.raw);
    let spki_sha256 = colon_hex(&Sha256::digest(spki.raw));
    let not_before = cert.validity().not_before.to_datetime();
    let not_after = cert.validity().not_after.to_datetime();
    let (status, expired, not_yet_valid) = validity_status(not_before, not_after, now);

    let mut basic_constraints = None;
    let mut key_usage = Vec::new();
    let mut key_usage_present = false;
    let mut extended_key_usage = Vec::new();
    let mut eku: Option<(bool, bool)> = None;
    let mut subject_alt_names = Vec::new();
    let mut subject_key_id = None;
    let mut authority_key_id = None;
    let mut crl_distribution_points = Vec::new();
    let mut other_extensions = Vec::new();
    let mut can_sign_certs = false;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => {
                basic_constraints = Some(BasicConstraintsInfo {
                    ca: bc.ca,
                    path_len: bc.path_len_constraint,
                    critical: ext.critical,
                });
            }
            ParsedExtension::KeyUsage(ku) => {
                key_usage_present = true;
                can_sign_certs = ku.key_cert_sign();
                key_usage = key_usage_names(ku);
            }
            ParsedExtension::ExtendedKeyUsage(e) => {
                eku = Some((e.server_auth || e.any, e.client_auth || e.any));
                extended_key_usage = eku_names(e);
            }
            ParsedExtension::SubjectAlternativeName(san) => {
                subject_alt_names = san.general_names.iter().map(general_name).collect();
            }
            ParsedExtension::SubjectKeyIdentifier(ki) => subject_key_id = Some(colon_hex(ki.0)),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority_key_id = aki.key_identifier.as_ref().map(|ki| colon_hex(ki.0));
            }
            ParsedExtension::CRLDistributionPoints(points) => {
                for point in points.iter() {
                    match &point.distribution_point {
                        Some(DistributionPointName::FullName(names)) => {
                            crl_distribution_points.extend(names.iter().map(|n| match n {
                                GeneralName::URI(u) => (*u).to_string(),
                                other => general_name(other),
                            }));
                        }
                        Some(DistributionPointName::NameRelativeToCRLIssuer(_)) => {
                            crl_distribution_points.push("(a name relative to the CRL issuer)".to_string());
                        }
                        None => {}
                    }
                }
            }
            ParsedExtension::ParseError { error } => {
                notes.push(format!("extension {} could not be decoded: {error}", oid_name(&ext.oid)));
            }
            _ => other_extensions.push(format!(
                "{}{}",
                oid_name(&ext.oid),
                if ext.critical { " (critical)" } else { "" }
            )),
        }
    }

    let self_signed = cert.subject().as_raw() == cert.issuer().as_raw()
        && match (&authority_key_id, &subject_key_id) {
            (Some(aki), Some(ski)) => aki == ski,
            _ => true,
        };
    let self_signature_verifies =
        if self_signed { signature_outcome(cert.verify_signature(None)) } else { None };
    if self_signature_verifies == Some(false) {
        notes.push("the self-signature does NOT verify with the certificate's own key".into());
    }

    let version = cert.version().0 + 1;
    let is_ca = basic_constraints.as_ref().is_some_and(|bc| bc.ca) || (version == 1 && self_signed);
    let role = if is_ca {
        if self_signed { "root CA" } else { "intermediate CA" }
    } else {
        match eku {
            Some((true, true)) => "TLS server and client certificate",
            Some((true, false)) => "TLS server certificate",
            Some((false, true)) => "TLS client certificate",
            _ => "end-entity certificate",
        }
    }
    .to_string();

    if is_ca && key_usage_present && !can_sign_certs {
        notes.push(
            "a CA certificate whose keyUsage lacks keyCertSign: OpenSSL will not accept it as an issuer"
                .into(),
        );
    }
    let signature_algorithm = signature_algorithm_name(&cert.signature_algorithm.algorithm.to_id_string());
    let weaknesses = weakness::signed(&signature_algorithm, &key);
    notes.extend(weakness::notes(&weaknesses));

    Ok(Decoded {
        item: Item::Certificate(CertificateInfo {
            index,
            pem_label,
            role,
            subject: format_name(cert.subject()),
            issuer: format_name(cert.issuer()),
            serial: serial_hex(cert.raw_serial()),
            version,
            not_before: rfc3339(not_before),
            not_after: rfc3339(not_after),
            not_before_unix: not_before.unix_timestamp(),
            not_after_unix: not_after.unix_timestamp(),
            status,
            expired,
            not_yet_valid,
            key,
            spki_sha256: spki_sha256.clone(),
            signature_algorithm,
            self_signed,
            self_signature_verifies,
            basic_constraints,
            key_usage,
            extended_key_usage,
            subject_alt_names,
            subject_key_id,
            authority_key_id,
            crl_distribution_points,
            other_extensions,
            sha256_fingerprint: colon_hex(&Sha256::digest(cert.as_raw())),
            issued_by: None,
            issued: Vec::new(),
            weaknesses,
            notes,
        }),
        der: Some(der[..der.len() - rest.len()].to_vec()),
        spki_sha256: Some(spki_sha256),
    })
}

pub(super) fn signature_outcome(result: Result<(), X509Error>) -> Option<bool> {
    match result {
        Ok(()) => Some(true),
        Err(X509Error::SignatureUnsupportedAlgorithm) => None,
        Err(_) => Some(false),
    }
}

fn validity_status(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    now: OffsetDateTime,
) -> (String, bool, bool) {
    if now < not_before {
        (format!("not yet valid (starts in {})", human_duration(not_before - now)), false, true)
    } else if now > not_after {
        (format!("EXPIRED {} ago", human_duration(now - not_after)), true, false)
    } else {
        (format!("valid, expires in {}", human_duration(not_after - now)), false, false)
    }
}

pub(super) fn key_usage_names(ku: &KeyUsage) -> Vec<String> {
    let all = [
        (ku.digital_signature(), "digital signature (digitalSignature)"),
        (ku.non_repudiation(), "non-repudiation (nonRepudiation)"),
        (ku.key_encipherment(), "key encipherment (keyEncipherment)"),
        (ku.data_encipherment(), "data encipherment (dataEncipherment)"),
        (ku.key_agreement(), "key agreement (keyAgreement)"),
        (ku.key_cert_sign(), "sign certificates (keyCertSign)"),
        (ku.crl_sign(), "sign CRLs (cRLSign)"),
        (ku.encipher_only(), "encipher only (encipherOnly)"),
        (ku.decipher_only(), "decipher only (decipherOnly)"),
    ];
    all.iter().filter(|(set, _)| *set).map(|(_, name)| (*name).to_string()).collect()
}

pub(super) fn eku_names(e: &ExtendedKeyUsage<'_>) -> Vec<String> {
    let mut out: Vec<String> = [
        (e.server_auth, "TLS server (serverAuth)"),
        (e.client_auth, "TLS client (clientAuth)"),
        (e.code_signing, "code signing (codeSigning)"),
        (e.email_protection, "e-mail protection (emailProtection)"),
        (e.time_stamping, "time stamping (timeStamping)"),
        (e.ocsp_signing, "OCSP signing (OCSPSigning)"),
        (e.any, "any purpose (anyExtendedKeyUsage)"),
    ]
    .iter()
    .filter(|(set, _)| *set)
    .map(|(_, name)| (*name).to_string())
    .collect();
    out.extend(e.other.iter().map(|oid| oid_name(oid)));
    out
}

pub(super) fn general_name(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::DNSName(s) => format!("DNS:{s}"),
        GeneralName::IPAddress(b) => format!("IP:{}", ip_bytes(b)),
        GeneralName::RFC822Name(s) => format!("email:{s}"),
        GeneralName::URI(s) => format!("URI:{s}"),
        GeneralName::DirectoryName(n) => format!("DirName:{}", format_name(n)),
        GeneralName::RegisteredID(oid) => format!("RID:{}", oid.to_id_string()),
        GeneralName::OtherName(oid, _) => format!("othername:{}", oid_name(oid)),
        GeneralName::X400Address(_) => "X400Name:<unsupported>".to_string(),
        GeneralName::EDIPartyName(_) => "EdiPartyName:<unsupported>".to_string(),
        GeneralName::Invalid(tag, data) => {
            format!("invalid name (tag {}): {}", tag.0, hex::encode(data))
        }
    }
}

fn ip_bytes(b: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(b) {
        Ipv4Addr::from(v4).to_string()
    } else if let Ok(v6) = <[u8; 16]>::try_from(b) {
        Ipv6Addr::from(v6).to_string()
    } else {
        format!("<{} bytes: {}>", b.len(), hex::encode(b))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use crate::inspect::testutil::*;
    use crate::inspect::{BasicConstraintsInfo, IssuerLink, inspect_bytes_at};
    use time::macros::datetime;

    #[test]
    fn chain_file_leaf_and_root() {
        let p = pki();
        let text = format!("{}{}{}", p.leaf_pem, p.root_pem, p.leaf_key.serialize_pem());
        let ins = inspect(&text);
        assert_eq!(ins.items.len(), 3);
        assert!(ins.warnings.is_empty(), "{:?}", ins.warnings);

        let leaf = cert(&ins.items[0]);
        assert_eq!(leaf.index, 1);
        assert_eq!(leaf.role, "TLS server certificate");
        assert_eq!(leaf.subject, "CN=db.example.com,O=Example\\, Inc.");
        assert_eq!(leaf.issuer, "CN=Test Root CA,O=Example\\, Inc.");
        assert_eq!(leaf.serial, "0abcde");
        assert_eq!(leaf.version, 3);
        assert_eq!(leaf.not_before, "2025-01-01T00:00:00Z");
        assert_eq!(leaf.not_after, "2026-01-01T00:00:00Z");
        assert_eq!(leaf.status, "valid, expires in 364 days");
        assert!(!leaf.expired && !leaf.not_yet_valid);
        assert_eq!(leaf.key.algorithm, "EC");
        assert_eq!(leaf.key.curve.as_deref(), Some("P-256"));
        assert_eq!(leaf.key.bits, Some(256));
        assert_eq!(leaf.signature_algorithm, "ecdsa-with-SHA384");
        assert!(!leaf.self_signed);
        assert_eq!(leaf.subject_alt_names, vec!["DNS:db.example.com".to_string(), "IP:10.0.0.5".to_string()]);
        assert_eq!(leaf.extended_key_usage, vec!["TLS server (serverAuth)".to_string()]);
        assert_eq!(leaf.key_usage, vec!["digital signature (digitalSignature)".to_string()]);
        assert_eq!(leaf.sha256_fingerprint, sha256_colon(&p.leaf_der));
        assert_eq!(leaf.sha256_fingerprint.len(), 32 * 3 - 1);
        assert_eq!(leaf.issued_by, Some(IssuerLink { item: 2, signature_verified: Some(true) }));
        assert!(leaf.authority_key_id.is_some());

        let root = cert(&ins.items[1]);
        assert_eq!(root.role, "root CA");
        assert!(root.self_signed);
        assert_eq!(root.self_signature_verifies, Some(true));
        assert_eq!(root.key.curve.as_deref(), Some("P-384"));
        assert_eq!(
            root.basic_constraints,
            Some(BasicConstraintsInfo { ca: true, path_len: None, critical: true })
        );
        assert!(root.key_usage.iter().any(|u| u.contains("keyCertSign")));
        assert_eq!(root.issued, vec![1]);
        assert_eq!(root.subject_key_id, leaf.authority_key_id);
        assert_eq!(root.sha256_fingerprint, sha256_colon(&p.root_der));

        let k = key(&ins.items[2]);
        assert_eq!(k.spki_sha256.as_deref(), Some(leaf.spki_sha256.as_str()));
        assert_eq!(k.matches, vec![1]);

        let text = ins.render_text();
        for needle in [
            "test.pem: 3 items",
            "#1 certificate: TLS server certificate",
            "#2 certificate: root CA",
            "Subject:",
            "CN=db.example.com,O=Example\\, Inc.",
            "valid, expires in 364 days",
            "DNS:db.example.com",
            "IP:10.0.0.5",
            "TLS server (serverAuth)",
            "ecdsa-with-SHA384",
            "Issued by:",
            "#2 (signature verified)",
            "yes (signature verifies)",
            &leaf.sha256_fingerprint,
            "#3 private key: EC P-256 (prime256v1)",
            "Matches:",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        // blank line between items, aligned labels
        assert!(text.contains("\n\n#2 certificate"));
        let subject_col = text.lines().find(|l| l.contains("Subject:")).unwrap().find("CN=");
        let issuer_col = text.lines().find(|l| l.contains("Issuer:")).unwrap().find("CN=");
        assert_eq!(subject_col, issuer_col);
    }

    #[test]
    fn validity_wording() {
        let p = pki();
        let at = |now| {
            let ins = inspect_bytes_at("x", p.leaf_pem.as_bytes(), now).unwrap();
            let c = cert(&ins.items[0]);
            (c.status.clone(), c.expired, c.not_yet_valid)
        };
        assert_eq!(at(datetime!(2026-01-04 0:00 UTC)), ("EXPIRED 3 days ago".to_string(), true, false));
        assert_eq!(
            at(datetime!(2024-12-30 0:00 UTC)),
            ("not yet valid (starts in 2 days)".to_string(), false, true)
        );
        assert_eq!(at(datetime!(2025-12-31 22:00 UTC)).0, "valid, expires in 2 hours");
    }
}
