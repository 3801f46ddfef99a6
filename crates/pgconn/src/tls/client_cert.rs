//! The client certificate and its key (`sslcert`, `sslkey`, `sslpassword`), loaded as libpq does.
//!
//! Owns: libpq's order of checks and its messages — a missing certificate file means "no client
//! certificate" (silently); once a certificate is present the key must exist, be a regular file,
//! and pass the permission rule (no group/other access, except group read when owned by root);
//! then it is decoded (PKCS#8, SEC1 `EC PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`, or encrypted
//! PKCS#8 with `sslpassword`) and must match the certificate.
//! Must not: keep key bytes longer than needed: file contents and decoded DER live in zeroizing
//! buffers; the only other copy is the transient `PrivateKeyDer` handed to the crypto provider.

use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pkcs8::{EncryptedPrivateKeyInfoRef, PrivateKeyInfoRef};
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};
use zeroize::Zeroizing;

use crate::conninfo::{Settings, SslCertMode};
use crate::error::TlsError;
use crate::secret::Secret;

/// The client certificate chain and key, or `None` when there is no certificate to send.
pub(crate) fn load(
    settings: &Settings,
    provider: &CryptoProvider,
) -> Result<Option<Arc<CertifiedKey>>, TlsError> {
    if settings.sslcertmode == SslCertMode::Disable {
        return Ok(None);
    }
    let Some(cert_path) = &settings.sslcert else {
        return Ok(None);
    };
    let Some(chain) = read_chain(cert_path)? else {
        return Ok(None);
    };
    let key_path = settings.sslkey.clone().unwrap_or_default();
    check_key_file(&key_path)?;
    let key_der = read_key(&key_path, settings.sslpassword.as_ref())?;
    let signing_key = provider
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| TlsError::LoadKey { path: key_path.clone(), reason: e.to_string() })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(Some(Arc::new(certified)))
        }
        Err(e) => Err(TlsError::KeyMismatch { path: key_path, reason: e.to_string() }),
    }
}

/// The certificate chain of `path`, leaf first. `None` if the file does not exist (libpq then
/// sends no certificate); other errors are reported.
fn read_chain(path: &Path) -> Result<Option<Vec<CertificateDer<'static>>>, TlsError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound || e.raw_os_error() == Some(nix::libc::ENOTDIR) => {
            return Ok(None);
        }
        Err(e) => return Err(TlsError::OpenCert { path: path.to_path_buf(), reason: e.to_string() }),
    };
    let read_err = |reason: String| TlsError::ReadCert { path: path.to_path_buf(), reason };
    let blocks = pem::parse_many(&bytes).map_err(|e| read_err(format!("not a PEM file: {e}")))?;
    let chain: Vec<CertificateDer<'static>> = blocks
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(|b| CertificateDer::from(b.into_contents()))
        .collect();
    if chain.is_empty() {
        return Err(read_err("no certificate in the file".to_owned()));
    }
    Ok(Some(chain))
}

/// libpq's checks before it reads the key: present, regular, and not readable by others.
fn check_key_file(path: &Path) -> Result<(), TlsError> {
    let shown = path.display().to_string();
    // On Unix libpq reads `engine:key` wherever the value contains a colon.
    if shown.contains(':') {
        return Err(TlsError::EngineKey(shown));
    }
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(TlsError::KeyMissing(path.to_path_buf())),
        Err(e) => return Err(TlsError::StatKey { path: path.to_path_buf(), reason: e.to_string() }),
    };
    if !meta.is_file() {
        return Err(TlsError::KeyNotRegular(path.to_path_buf()));
    }
    if !key_mode_ok(meta.uid(), meta.mode()) {
        return Err(TlsError::KeyPermissions(path.to_path_buf()));
    }
    Ok(())
}

/// libpq: root-owned keys may be group-readable (0640), others must be 0600 or stricter. The
/// owner is not compared with the current user: if we can read a 0600 file, it is ours (or we
/// are root, and libpq deliberately lets root use another user's key).
pub fn key_mode_ok(uid: u32, mode: u32) -> bool {
    let forbidden = if uid == 0 { 0o037 } else { 0o077 };
    mode & forbidden == 0
}

/// Decode the first private key block of `path`.
fn read_key(path: &Path, password: Option<&Secret>) -> Result<PrivateKeyDer<'static>, TlsError> {
    let err = |reason: &str| TlsError::LoadKey { path: PathBuf::from(path), reason: reason.to_owned() };
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| err(&e.to_string()))?);
    let blocks = pem::parse_many(bytes.as_slice()).map_err(|_| err("not a PEM file"))?;
    let block = blocks
        .into_iter()
        .find(|b| b.tag().ends_with("PRIVATE KEY"))
        .ok_or_else(|| err("no private key in the file"))?;
    if block.headers().get("Proc-Type").is_some_and(|v| v.contains("ENCRYPTED")) {
        return Err(err(
            "legacy OpenSSL-encrypted PEM keys are not supported; convert with `openssl pkcs8 -topk8 -v2 aes-256-cbc`",
        ));
    }
    let der = Zeroizing::new(block.contents().to_vec());
    match block.tag() {
        "PRIVATE KEY" => Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.to_vec()))),
        "EC PRIVATE KEY" => Ok(PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der.to_vec()))),
        "RSA PRIVATE KEY" => Ok(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der.to_vec()))),
        "ENCRYPTED PRIVATE KEY" => decrypt(&der, password).map_err(err),
        other => Err(err(&format!("unsupported key type \"{other}\""))),
    }
}

/// Encrypted PKCS#8 (PBES2: PBKDF2 or scrypt with AES), as libpq reads it with `sslpassword`.
fn decrypt(der: &[u8], password: Option<&Secret>) -> Result<PrivateKeyDer<'static>, &'static str> {
    // libpq's default passphrase hook supplies sslpassword, or nothing (and OpenSSL then fails).
    let password = password.ok_or("the key is encrypted and no sslpassword was given")?;
    let info = EncryptedPrivateKeyInfoRef::try_from(der).map_err(|_| "corrupt encrypted key")?;
    let doc = info.decrypt(password.expose()).map_err(|_| "bad decrypt (wrong sslpassword?)")?;
    // A wrong password can still yield valid padding; then the plaintext is not PKCS#8.
    PrivateKeyInfoRef::try_from(doc.as_bytes()).map_err(|_| "bad decrypt (wrong sslpassword?)")?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(doc.as_bytes().to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_mode_rule() {
        // Owned by a user: 0600 or stricter.
        for ok in [0o600, 0o400, 0o700, 0o100600] {
            assert!(key_mode_ok(1000, ok), "{ok:o}");
        }
        for bad in [0o640, 0o604, 0o620, 0o610, 0o601, 0o100640] {
            assert!(!key_mode_ok(1000, bad), "{bad:o}");
        }
        // Owned by root: group read allowed, nothing else.
        for ok in [0o600, 0o640, 0o440, 0o100640] {
            assert!(key_mode_ok(0, ok), "{ok:o}");
        }
        for bad in [0o660, 0o650, 0o644, 0o641] {
            assert!(!key_mode_ok(0, bad), "{bad:o}");
        }
    }
}
