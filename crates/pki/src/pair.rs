//! A server certificate chain and its private key, as a server loads them: read from PEM files of
//! any origin (pgharden's PKI, step-ca, Vault, certbot, the openssl CLI), checked to belong together,
//! and written out as one PEM file holding the key and then the chain.
//!
//! Why one file: PostgreSQL's `ssl_cert_file` and `ssl_key_file` may name the same file (OpenSSL
//! skips the blocks it is not looking for), and one file is replaced by one atomic rename, so a
//! server can never start, reload or crash into a key beside a certificate it does not belong to.
//! Owns: parsing the chain (leaf first) and the key (PKCS#8, PKCS#1 RSA or SEC1 EC, unencrypted),
//! the key-matches-certificate check, and the combined file's bytes — with the key as it came, or
//! encrypted under a passphrase as PKCS#8 (which OpenSSL, and so PostgreSQL with
//! `ssl_passphrase_command`, reads inside the same file) — and telling whether a file on disk
//! already holds this pair.
//! Must not: decide where the file goes or with which mode.

use std::path::Path;

use aws_lc_rs::signature::{self, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use x509_parser::prelude::{FromDer, X509Certificate};
use zeroize::Zeroizing;

use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::files;
use crate::hostname;
use crate::key::{self, Passphrase};

/// A certificate chain (leaf first) and the key of its leaf.
pub struct ServerPair {
    chain: Vec<Vec<u8>>,
    key_pem: Zeroizing<String>,
    /// The key as PKCS#8 v1 DER, whatever form it came in: what an encrypted file holds.
    pkcs8: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for ServerPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerPair").field("certificates", &self.chain.len()).finish_non_exhaustive()
    }
}

impl ServerPair {
    /// Read a certificate file (leaf first, then intermediates) and an unencrypted key file, and
    /// check that the key is the leaf's.
    pub fn read(cert: &Path, key: &Path) -> Result<Self> {
        let cert_text = files::read(cert)?;
        let key_text = Zeroizing::new(files::read(key)?);
        Self::from_pem(&cert_text, &key_text, cert, key)
    }

    /// As [`ServerPair::read`], from bytes; the paths name the sources in errors.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8], cert: &Path, key: &Path) -> Result<Self> {
        let chain: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(cert_pem)
            .map(|c| c.map(|c| c.as_ref().to_vec()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::bad_file(cert, format!("not a PEM certificate file: {e}")))?;
        let Some(leaf) = chain.first() else {
            return Err(Error::bad_file(cert, "no CERTIFICATE in the file"));
        };
        let (_, x509) = X509Certificate::from_der(leaf)
            .map_err(|e| Error::bad_file(cert, format!("corrupt certificate: {e}")))?;
        // A CA first and a leaf after it: the file is in the wrong order (a lone self-signed
        // certificate marked CA is a server certificate all the same).
        let leaf_later =
            chain[1..].iter().any(|der| X509Certificate::from_der(der).is_ok_and(|(_, c)| !c.is_ca()));
        if x509.is_ca() && leaf_later {
            return Err(Error::bad_file(
                cert,
                "its first certificate is a CA; the server's own must come first",
            ));
        }
        let text = String::from_utf8_lossy(key_pem);
        if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(Error::bad_file(key, "the key is encrypted; give the unencrypted key (mode 0600)"));
        }
        let der = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| Error::bad_file(key, format!("no usable private key: {e}")))?;
        let public = public_key_of(&der).ok_or_else(|| {
            Error::bad_file(key, "not an RSA, P-256, P-384 or Ed25519 private key this tool can check")
        })?;
        if public.as_slice() != x509.public_key().subject_public_key.data.as_ref() {
            return Err(Error::KeyMismatch { path: key.to_path_buf(), cert: cert.to_path_buf() });
        }
        let pkcs8 = pkcs8_v1_of(&der)
            .ok_or_else(|| Error::bad_file(key, "the private key cannot be re-encoded as PKCS#8"))?;
        let block = pem_block_of(&der);
        Ok(Self { chain, key_pem: Zeroizing::new(pem::encode(&block)), pkcs8 })
    }

    /// The server's certificate, DER.
    pub fn leaf(&self) -> &[u8] {
        &self.chain[0]
    }

    /// Leaf and intermediates, DER.
    pub fn chain(&self) -> &[Vec<u8>] {
        &self.chain
    }

    /// The leaf must be valid at `now` and pass libpq's `sslmode=verify-full` name check for every
    /// host clients use ([`hostname::check_host`]); `cert` names the file in errors.
    pub fn check_serves(&self, cert: &Path, hosts: &[String], now: OffsetDateTime) -> Result<()> {
        let (_, x509) = X509Certificate::from_der(self.leaf())
            .map_err(|e| Error::bad_file(cert, format!("corrupt certificate: {e}")))?;
        let validity = x509.validity();
        let (from, until) = (validity.not_before.to_datetime(), validity.not_after.to_datetime());
        if now < from {
            return Err(Error::bad_file(
                cert,
                format!("the certificate is not valid until {}", crate::inspect::rfc3339(from)),
            ));
        }
        if now > until {
            return Err(Error::bad_file(
                cert,
                format!("the certificate expired on {}", crate::inspect::rfc3339(until)),
            ));
        }
        let mut missing = Vec::new();
        for host in hosts {
            match hostname::check_host(&x509, host) {
                Ok(check) if check.matched => {}
                Ok(_) => missing.push(host.clone()),
                Err(e) => return Err(Error::bad_file(cert, format!("{host}: {e}"))),
            }
        }
        if !missing.is_empty() {
            return Err(Error::bad_file(
                cert,
                format!(
                    "the certificate does not name {} (sslmode=verify-full would refuse it)",
                    missing.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// The file a server loads as both `ssl_cert_file` and `ssl_key_file`: the key, then the chain.
    pub fn combined_pem(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(self.key_pem.as_bytes().to_vec());
        for der in &self.chain {
            out.extend(pem::encode(&pem::Pem::new("CERTIFICATE", der.clone())).into_bytes());
        }
        out
    }

    /// As [`ServerPair::combined_pem`], with the key encrypted under `pass` as an `ENCRYPTED
    /// PRIVATE KEY` (PKCS#8, PBES2). The salt and IV are fresh each time, so two calls never give
    /// the same bytes: compare with [`ServerPair::is_held_by`].
    pub fn combined_pem_encrypted(&self, pass: &Passphrase) -> Result<Zeroizing<Vec<u8>>> {
        let key = key::encrypt_pkcs8(&self.pkcs8, pass)?;
        let mut out = Zeroizing::new(key.as_bytes().to_vec());
        for der in &self.chain {
            out.extend(pem::encode(&pem::Pem::new("CERTIFICATE", der.clone())).into_bytes());
        }
        Ok(out)
    }

    /// Whether `bytes` (a combined file) hold exactly this chain and key: with `pass`, the key
    /// encrypted under it; without, the key unencrypted as [`ServerPair::combined_pem`] writes it.
    pub fn is_held_by(&self, bytes: &[u8], pass: Option<&Passphrase>) -> bool {
        let Some(pass) = pass else { return bytes == self.combined_pem().as_slice() };
        let Ok(blocks) = pem::parse_many(bytes) else { return false };
        let mut keys = blocks.iter().filter(|b| b.tag().ends_with("PRIVATE KEY"));
        let (Some(key_block), None) = (keys.next(), keys.next()) else { return false };
        if key_block.tag() != "ENCRYPTED PRIVATE KEY" {
            return false;
        }
        let certs: Vec<&[u8]> =
            blocks.iter().filter(|b| b.tag() == "CERTIFICATE").map(|b| b.contents()).collect();
        if certs.len() != self.chain.len() || certs.iter().zip(&self.chain).any(|(a, b)| *a != b.as_slice()) {
            return false;
        }
        key::decrypt_pkcs8(Path::new("server key"), key_block.contents(), pass)
            .is_ok_and(|der| der.as_slice() == self.pkcs8.as_slice())
    }
}

/// The key as PKCS#8 v1 DER (v1: OpenSSL 3.0 refuses Ed25519 keys in the v2 form).
fn pkcs8_v1_of(der: &PrivateKeyDer<'_>) -> Option<Zeroizing<Vec<u8>>> {
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
    let bytes = der.secret_der();
    let doc = |d: aws_lc_rs::pkcs8::Document| Zeroizing::new(d.as_ref().to_vec());
    for alg in [&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &signature::ECDSA_P384_SHA384_ASN1_SIGNING] {
        if let Ok(k) = signature::EcdsaKeyPair::from_private_key_der(alg, bytes) {
            return k.to_pkcs8v1().ok().map(doc);
        }
    }
    if let Ok(k) = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(bytes) {
        return k.to_pkcs8v1().ok().map(doc);
    }
    let rsa = match der {
        PrivateKeyDer::Pkcs1(_) => signature::RsaKeyPair::from_der(bytes).ok(),
        _ => signature::RsaKeyPair::from_pkcs8(bytes).ok(),
    }?;
    let encoded: Pkcs8V1Der<'static> = rsa.as_der().ok()?;
    Some(Zeroizing::new(encoded.as_ref().to_vec()))
}

/// The public key a private key signs for, in the form a certificate's subjectPublicKey holds.
fn public_key_of(der: &PrivateKeyDer<'_>) -> Option<Vec<u8>> {
    let bytes = der.secret_der();
    let ec = |alg| signature::EcdsaKeyPair::from_private_key_der(alg, bytes).ok();
    if let Some(k) = ec(&signature::ECDSA_P256_SHA256_ASN1_SIGNING) {
        return Some(k.public_key().as_ref().to_vec());
    }
    if let Some(k) = ec(&signature::ECDSA_P384_SHA384_ASN1_SIGNING) {
        return Some(k.public_key().as_ref().to_vec());
    }
    if let Ok(k) = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(bytes) {
        return Some(k.public_key().as_ref().to_vec());
    }
    let rsa = match der {
        PrivateKeyDer::Pkcs1(_) => signature::RsaKeyPair::from_der(bytes).ok(),
        _ => signature::RsaKeyPair::from_pkcs8(bytes).ok(),
    };
    rsa.map(|k| k.public_key().as_ref().to_vec())
}

/// The key as the PEM block its format is named by.
fn pem_block_of(der: &PrivateKeyDer<'_>) -> pem::Pem {
    let tag = match der {
        PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
        PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
        _ => "PRIVATE KEY",
    };
    pem::Pem::new(tag, der.secret_der().to_vec())
}

/// A CRL file as PEM, as PostgreSQL reads `ssl_crl_file`: PEM CRLs are checked block by block, a
/// DER CRL is converted; anything else is refused naming `path`.
pub fn crls_as_pem(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    use x509_parser::revocation_list::CertificateRevocationList;
    let parse = |der: &[u8]| -> Result<()> {
        CertificateRevocationList::from_der(der)
            .map(|_| ())
            .map_err(|e| Error::bad_file(path, format!("a CRL does not parse: {e}")))
    };
    match pem::parse_many(bytes) {
        Ok(blocks) if !blocks.is_empty() => {
            for b in &blocks {
                if b.tag() != "X509 CRL" {
                    return Err(Error::bad_file(path, format!("holds a {} where only CRLs belong", b.tag())));
                }
                parse(b.contents())?;
            }
            Ok(bytes.to_vec())
        }
        _ => {
            parse(bytes)?;
            Ok(pem::encode(&pem::Pem::new("X509 CRL", bytes.to_vec())).into_bytes())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use super::*;
    use crate::KeyType;

    /// A self-signed server certificate for localhost and its key (PKCS#8 PEM, as rcgen writes it).
    fn self_signed(kt: KeyType) -> (String, rcgen::KeyPair) {
        let key = kt.generate().unwrap();
        let cert =
            rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap().self_signed(&key).unwrap();
        (cert.pem(), key)
    }

    fn pair(cert: &str, key_pem: &[u8]) -> ServerPair {
        ServerPair::from_pem(cert.as_bytes(), key_pem, Path::new("c.pem"), Path::new("k.pem")).unwrap()
    }

    #[test]
    fn an_encrypted_file_is_recognised_by_what_it_decrypts_to_never_by_its_bytes() {
        let pass = Passphrase::new("correct horse battery").unwrap();
        for kt in [KeyType::P256, KeyType::Ed25519] {
            let (cert, key) = self_signed(kt);
            let p = pair(&cert, key.serialize_pem().as_bytes());
            let one = p.combined_pem_encrypted(&pass).unwrap();
            let two = p.combined_pem_encrypted(&pass).unwrap();
            assert_ne!(one.as_slice(), two.as_slice(), "{kt}: a fresh salt and IV each time");
            assert!(String::from_utf8_lossy(&one).starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
            assert!(p.is_held_by(&one, Some(&pass)) && p.is_held_by(&two, Some(&pass)), "{kt}");
            assert!(!p.is_held_by(&one, None), "{kt}: an encrypted file is not the plain one");
            let wrong = Passphrase::new("battery staple").unwrap();
            assert!(!p.is_held_by(&one, Some(&wrong)), "{kt}: another passphrase");
            assert!(!p.is_held_by(&p.combined_pem(), Some(&pass)), "{kt}: a plain file is not encrypted");
            assert!(p.is_held_by(&p.combined_pem(), None), "{kt}");
            let (other_cert, other_key) = self_signed(kt);
            let other = pair(&other_cert, other_key.serialize_pem().as_bytes());
            assert!(!other.is_held_by(&one, Some(&pass)), "{kt}: another pair");
        }
    }

    #[test]
    fn a_pkcs1_rsa_key_is_encrypted_as_pkcs8_that_decrypts_to_the_same_key() {
        use pkcs8::PrivateKeyInfoRef;
        let (cert, key) = self_signed(KeyType::Rsa2048);
        let der = key.serialized_der();
        let pkcs1 = PrivateKeyInfoRef::try_from(der).unwrap().private_key.as_bytes().to_vec();
        let pkcs1_pem = pem::encode(&pem::Pem::new("RSA PRIVATE KEY", pkcs1));
        let p = pair(&cert, pkcs1_pem.as_bytes());
        assert!(String::from_utf8_lossy(&p.combined_pem()).starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let pass = Passphrase::new("correct horse battery").unwrap();
        let file = p.combined_pem_encrypted(&pass).unwrap();
        assert!(p.is_held_by(&file, Some(&pass)));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.pem");
        std::fs::write(&path, file.as_slice()).unwrap();
        let (back, kt) = key::load_key(&path, Some(&pass)).unwrap();
        assert_eq!(kt, KeyType::Rsa2048);
        assert_eq!(back.public_key_raw(), key.public_key_raw());
    }
}
