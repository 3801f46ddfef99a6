//! The TLS files apply installs in PGDATA: the server certificate with its intermediate, its key,
//! the CAs a client certificate may chain to, and every CA's CRL, under the names the profile's
//! `ssl_*` settings use, mode 0600 and owned by the cluster owner.
//!
//! Owns: choosing the server certificate that covers every host name, refusing a key the server
//! could not load (before anything is touched), and describing certificate changes by what the
//! certificates say. Must not: write files (that is `execute`).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use pgharden_pki::{Kind, Pki, Status};

use crate::discover::Cluster;
use crate::error::{Error, Result};
use crate::files::Files;
use crate::plan::{FILE_MODE, FileChange};
use crate::profile;

/// The server certificate (leaf + intermediate), its key, the CAs a client may chain to, and every
/// CRL, in PGDATA under the names the profile's `ssl_*` settings use.
pub(super) fn tls_files(
    cluster: &Cluster,
    files: &Files,
    pki: &Pki,
    hosts: &[String],
) -> Result<Vec<FileChange>> {
    let server = server_certificate(pki, hosts)?;
    let cert = pki.dir().join(&server);
    let key = cert.with_file_name("server.key");
    check_key_pair(&cert, &key)?;
    let mut ca = read(&pki.ca_cert_path(Kind::Root))?;
    ca.extend(read(&pki.ca_cert_path(Kind::ClientCa))?);
    let wanted = [
        (profile::SERVER_CERT, read(&cert)?, "server certificate and its intermediate"),
        (profile::SERVER_KEY, read(&key)?, "server private key"),
        (profile::CA_FILE, ca, "root and client intermediate CA certificates"),
        (profile::CRL_FILE, read(&pki.dir().join(pgharden_pki::CRL_BUNDLE))?, "CRLs of every CA"),
    ];
    let mut out = Vec::new();
    for (name, contents, what) in wanted {
        let path = cluster.data_dir.join(name);
        files.check_target(&path)?;
        let meta = files.stat(&path, false)?;
        let current = if meta.is_some() { Some(files.read(&path)?) } else { None };
        let right_owner =
            meta.as_ref().is_some_and(|m| m.uid == cluster.owner.uid && m.mode & 0o777 == FILE_MODE);
        if current.as_deref() == Some(contents.as_slice()) && right_owner {
            continue;
        }
        let diff = match (&current, name == profile::SERVER_KEY) {
            (None, _) => "  (new file)\n".to_string(),
            (Some(old), _) if old == &contents => "  (owner or mode corrected)\n".to_string(),
            (Some(_), true) => "  (key replaced; contents not shown)\n".to_string(),
            (Some(old), false) => pem_summary_diff(old, &contents),
        };
        let from_mode = meta.map(|m| m.mode & 0o777);
        out.push(FileChange { path, what: what.into(), mode: FILE_MODE, from_mode, diff, contents });
    }
    Ok(out)
}

/// The newest valid server certificate whose SANs cover every host.
fn server_certificate(pki: &Pki, hosts: &[String]) -> Result<PathBuf> {
    let wanted: BTreeSet<String> = hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
    pki.list()
        .into_iter()
        .filter(|l| l.entry.kind == Kind::Server && l.status == Status::Valid)
        .filter(|l| {
            let sans: BTreeSet<String> = l.entry.sans.iter().map(|h| h.to_ascii_lowercase()).collect();
            wanted.is_subset(&sans)
        })
        .max_by_key(|l| l.entry.not_before)
        .map(|l| l.entry.path)
        .ok_or_else(|| {
            let args: Vec<String> = hosts.iter().map(|h| format!("--host {h}")).collect();
            Error::bad(
                pki.dir(),
                format!(
                    "no valid server certificate covers {}; issue one: pgharden pki server --dir {} {}",
                    hosts.join(", "),
                    pki.dir().display(),
                    args.join(" ")
                ),
            )
        })
}

/// A key the server could not load would stop it at the next start: refuse it before touching the
/// cluster.
fn check_key_pair(cert: &Path, key: &Path) -> Result<()> {
    let (pair, _) = pgharden_pki::key::load_key(key, None)
        .map_err(|e| Error::bad(key, format!("not a usable server key: {e}")))?;
    let bytes = read(cert)?;
    let block = pem_first_cert(&bytes).ok_or_else(|| Error::bad(cert, "no certificate in the file"))?;
    let (_, x509) =
        x509_parser::parse_x509_certificate(&block).map_err(|e| Error::bad(cert, e.to_string()))?;
    if x509.public_key().subject_public_key.data.as_ref() != pair.public_key_raw() {
        return Err(Error::bad(key, format!("this key does not belong to {}", cert.display())));
    }
    Ok(())
}

fn pem_first_cert(bytes: &[u8]) -> Option<Vec<u8>> {
    pem::parse_many(bytes).ok()?.into_iter().find(|b| b.tag() == "CERTIFICATE").map(|b| b.contents().to_vec())
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| Error::io(path, e))
}

/// Certificates are compared by what they say, not by base64.
fn pem_summary_diff(old: &[u8], new: &[u8]) -> String {
    let describe = |bytes: &[u8]| {
        pgharden_pki::inspect::inspect_bytes("file", bytes)
            .map(|i| {
                i.render_text()
                    .lines()
                    .filter(|l| l.contains("Subject:") || l.contains("Serial:"))
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_else(|_| "unreadable".into())
    };
    format!("  - {}\n  + {}\n", describe(old), describe(new))
}
