//! Links between the items of one file: which certificate issued which certificate or CRL
//! (by name and key id, confirmed by the signature where it can be checked), and which keys,
//! requests and certificates share a public key.
//!
//! It only links what is in the file; trust in a root is the verifier's business.

use x509_parser::certificate::X509Certificate;

use super::certificate::signature_outcome;
use super::decode::Decoded;
use super::{IssuerLink, Item};

pub(super) fn link_items(decoded: &mut [Decoded]) {
    // Which certificate issued which certificate or CRL.
    let mut links: Vec<(usize, IssuerLink)> = Vec::new();
    for (i, subject_item) in decoded.iter().enumerate() {
        let Some(der_i) = &subject_item.der else {
            continue;
        };
        let link = match &subject_item.item {
            Item::Certificate(c) if !c.self_signed => {
                let Ok((_, cert)) = x509_parser::parse_x509_certificate(der_i) else {
                    continue;
                };
                find_issuer(decoded, i, cert.issuer().as_raw(), c.authority_key_id.as_deref(), |issuer| {
                    signature_outcome(cert.verify_signature(Some(issuer.public_key())))
                })
            }
            Item::Crl(c) => {
                let Ok((_, list)) = x509_parser::parse_x509_crl(der_i) else {
                    continue;
                };
                find_issuer(decoded, i, list.issuer().as_raw(), c.authority_key_id.as_deref(), |issuer| {
                    signature_outcome(list.verify_signature(issuer.public_key()))
                })
            }
            _ => None,
        };
        if let Some(link) = link {
            links.push((i, link));
        }
    }
    for (i, link) in links {
        let issuer_pos = link.item - 1;
        let subject_index = i + 1;
        match &mut decoded[i].item {
            Item::Certificate(c) => c.issued_by = Some(link),
            Item::Crl(c) => c.issued_by = Some(link),
            _ => {}
        }
        if let Some(Item::Certificate(issuer)) = decoded.get_mut(issuer_pos).map(|d| &mut d.item) {
            issuer.issued.push(subject_index);
        }
    }

    // Which items share a public key.
    let fingerprints: Vec<Option<String>> = decoded.iter().map(|d| d.spki_sha256.clone()).collect();
    for (i, d) in decoded.iter_mut().enumerate() {
        let Some(fp) = &fingerprints[i] else {
            continue;
        };
        let same: Vec<usize> = fingerprints
            .iter()
            .enumerate()
            .filter(|(j, other)| *j != i && other.as_ref() == Some(fp))
            .map(|(j, _)| j + 1)
            .collect();
        match &mut d.item {
            Item::PrivateKey(k) => k.matches = same,
            Item::PublicKey(k) => k.matches = same,
            _ => {}
        }
    }
}

/// The first certificate in `decoded` (other than `skip`) whose subject is
/// `issuer_name` and whose subject key identifier agrees with `aki`;
/// prefer one whose key verifies the signature.
fn find_issuer(
    decoded: &[Decoded],
    skip: usize,
    issuer_name: &[u8],
    aki: Option<&str>,
    verify: impl Fn(&X509Certificate<'_>) -> Option<bool>,
) -> Option<IssuerLink> {
    let mut best: Option<IssuerLink> = None;
    for (j, candidate) in decoded.iter().enumerate() {
        if j == skip {
            continue;
        }
        let (Item::Certificate(info), Some(der_j)) = (&candidate.item, &candidate.der) else {
            continue;
        };
        if let (Some(aki), Some(ski)) = (aki, info.subject_key_id.as_deref())
            && aki != ski
        {
            continue;
        }
        let Ok((_, issuer)) = x509_parser::parse_x509_certificate(der_j) else {
            continue;
        };
        if issuer.subject().as_raw() != issuer_name {
            continue;
        }
        let link = IssuerLink { item: j + 1, signature_verified: verify(&issuer) };
        if link.signature_verified == Some(true) {
            return Some(link);
        }
        if best.is_none() {
            best = Some(link);
        }
    }
    best
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use crate::inspect::testutil::*;
    use rcgen::{ExtendedKeyUsagePurpose, Issuer, KeyPair};

    #[test]
    fn three_level_chain() {
        let root_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let root_params = ca_params("Root", Some(1));
        let root = root_params.self_signed(&root_key).unwrap();
        let int_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let int_params = ca_params("Intermediate", Some(0));
        let int = int_params.signed_by(&int_key, &Issuer::from_params(&root_params, &root_key)).unwrap();
        let leaf_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut lp = leaf_params();
        lp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let leaf = lp.signed_by(&leaf_key, &Issuer::from_params(&int_params, &int_key)).unwrap();
        let ins = inspect(&format!("{}{}{}", leaf.pem(), int.pem(), root.pem()));
        let (l, i, r) = (cert(&ins.items[0]), cert(&ins.items[1]), cert(&ins.items[2]));
        assert_eq!(l.role, "TLS client certificate");
        assert_eq!(i.role, "intermediate CA");
        assert_eq!(r.role, "root CA");
        assert_eq!(l.issued_by.as_ref().map(|x| x.item), Some(2));
        assert_eq!(i.issued_by.as_ref().map(|x| x.item), Some(3));
        assert_eq!(r.issued_by, None);
        assert_eq!(i.issued, vec![1]);
        assert_eq!(r.issued, vec![2]);
        assert_eq!(i.basic_constraints.as_ref().and_then(|b| b.path_len), Some(0));
        assert!(ins.render_text().contains("path length 0"));
    }
}
