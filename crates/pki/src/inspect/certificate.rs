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
use super::key::spki_summary;
use super::name::format_name;
use super::oid::{oid_name, signature_algorithm_name};
use super::{
    BasicConstraintsInfo, CertificateInfo, Item, colon_hex, human_duration, rfc3339, serial_hex, weakness,
};

// ---------------------------------------------------------------------------

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
