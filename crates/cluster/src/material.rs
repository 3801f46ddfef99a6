//! The TLS material a cluster serves, wherever it comes from: pgharden's PKI (the server
//! certificate covering the host names, the CAs a client certificate may chain to, every CA's CRL)
//! or files from another CA (step-ca, Vault, certbot, a corporate CA).
//!
//! Owns: choosing and reading that material, checked before anything is touched (the key belongs
//! to the leaf, the leaf covers every host and is valid now, the CA and CRL files parse), and reading
//! back which leaf a cluster's data directory holds. The key and chain become one file
//! ([`pgharden_pki::ServerPair`] says why), its key encrypted when the operator gives a passphrase
//! ([`Material::with_key_passphrase`]).
//! Must not: write anything (the plan and `execute` do).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pgharden_pki::{Entry, Kind, Passphrase, Pki, ServerPair, Status};
use serde::Serialize;
use time::OffsetDateTime;

use crate::discover::Cluster;
use crate::error::{Error, Result};
use crate::files::Files;
use crate::profile;

/// Certificates, key, CAs and CRLs to install.
#[derive(Debug)]
pub struct Material {
    /// The server certificate chain and its key, checked to belong together.
    pub pair: ServerPair,
    /// For `ssl_ca_file`: the CAs a client certificate must chain to.
    pub ca: Option<Vec<u8>>,
    /// For `ssl_crl_file`: PEM CRLs.
    pub crl: Option<Vec<u8>>,
    /// Where it came from, for plans and errors.
    pub source: Source,
    /// The passphrase to encrypt the server key under in PGDATA (the server then reads it with
    /// `ssl_passphrase_command`); `None` keeps what the cluster has: a key pgharden encrypted
    /// before stays encrypted under the passphrase the cluster holds, any other is written plain.
    pub key_passphrase: Option<Passphrase>,
}

/// The origin of a [`Material`].
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum Source {
    /// A server certificate of a pgharden PKI.
    Pki {
        /// The PKI directory.
        dir: PathBuf,
        /// The certificate's serial, lowercase hex without separators.
        serial: String,
        /// The certificate's directory name under `servers/`.
        name: String,
    },
    /// Files from another CA.
    Files {
        /// The certificate (chain) file.
        cert: PathBuf,
        /// The private key file.
        key: PathBuf,
    },
}

impl Material {
    /// The newest valid server certificate of `pki` covering every host, the root and client
    /// intermediate CAs, and every CA's CRL.
    pub fn for_hosts(pki: &Pki, hosts: &[String]) -> Result<Self> {
        let entry = server_certificate(pki, hosts)?;
        Self::from_pki(pki, &entry)
    }

    /// A given server certificate of `pki`, with the PKI's CAs and CRLs.
    pub fn from_pki(pki: &Pki, entry: &Entry) -> Result<Self> {
        let cert = pki.dir().join(&entry.path);
        let key = cert.with_file_name("server.key");
        let pair = ServerPair::read(&cert, &key)?;
        let mut ca = read(&pki.ca_cert_path(Kind::Root))?;
        ca.extend(read(&pki.ca_cert_path(Kind::ClientCa))?);
        let bundle = pki.dir().join(pgharden_pki::CRL_BUNDLE);
        let crl = pgharden_pki::pair::crls_as_pem(&bundle, &read(&bundle)?)?;
        Ok(Self {
            pair,
            ca: Some(ca),
            crl: Some(crl),
            source: Source::Pki {
                dir: pki.dir().to_path_buf(),
                serial: entry.serial.clone(),
                name: entry.name.clone(),
            },
            key_passphrase: None,
        })
    }

    /// Files from another CA: `cert` (leaf first), its unencrypted `key`, optionally the CAs for
    /// client certificates and CRLs (PEM or DER). The leaf must be valid at `now` and carry every
    /// host in `hosts`.
    pub fn from_files(
        cert: &Path,
        key: &Path,
        ca: Option<&Path>,
        crls: &[PathBuf],
        hosts: &[String],
        now: OffsetDateTime,
    ) -> Result<Self> {
        let pair = ServerPair::read(cert, key)?;
        pair.check_serves(cert, hosts, now)?;
        let ca = match ca {
            Some(path) => {
                let bytes = read(path)?;
                if !pem_tags(&bytes).iter().any(|t| t == "CERTIFICATE") {
                    return Err(Error::bad(path, "no CERTIFICATE in the file (PEM expected)"));
                }
                Some(bytes)
            }
            None => None,
        };
        let crl = if crls.is_empty() {
            None
        } else {
            let mut all = Vec::new();
            for path in crls {
                all.extend(pgharden_pki::pair::crls_as_pem(path, &read(path)?)?);
            }
            Some(all)
        };
        Ok(Self {
            pair,
            ca,
            crl,
            source: Source::Files { cert: cert.to_path_buf(), key: key.to_path_buf() },
            key_passphrase: None,
        })
    }

    /// The same material, its key to be encrypted under `pass` in PGDATA.
    pub fn with_key_passphrase(mut self, pass: Passphrase) -> Self {
        self.key_passphrase = Some(pass);
        self
    }

    /// The leaf certificate, DER.
    pub fn leaf(&self) -> &[u8] {
        self.pair.leaf()
    }
}

/// The leaf certificate (DER) in the cluster's server certificate file, read as the owner: the
/// profile's `server.pem`, else the `server.crt` earlier pgharden releases installed.
pub(crate) fn deployed_leaf(cluster: &Cluster, files: &Files) -> Result<Option<Vec<u8>>> {
    for name in [profile::SERVER_PEM, profile::LEGACY_SERVER_CERT] {
        let path = cluster.data_dir.join(name);
        if files.stat(&path, false)?.is_none() {
            continue;
        }
        let bytes = files.read(&path)?;
        let leaf = pem::parse_many(&bytes)
            .ok()
            .and_then(|blocks| blocks.into_iter().find(|b| b.tag() == "CERTIFICATE"))
            .map(|b| b.contents().to_vec());
        return Ok(leaf);
    }
    Ok(None)
}

/// The newest valid server certificate whose SANs cover every host.
fn server_certificate(pki: &Pki, hosts: &[String]) -> Result<Entry> {
    let wanted: BTreeSet<String> = hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
    pki.list()
        .into_iter()
        .filter(|l| l.entry.kind == Kind::Server && l.status == Status::Valid)
        .filter(|l| {
            let sans: BTreeSet<String> = l.entry.sans.iter().map(|h| h.to_ascii_lowercase()).collect();
            wanted.is_subset(&sans)
        })
        .max_by_key(|l| l.entry.not_before)
        .map(|l| l.entry)
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

fn pem_tags(bytes: &[u8]) -> Vec<String> {
    pem::parse_many(bytes).map(|b| b.iter().map(|p| p.tag().to_string()).collect()).unwrap_or_default()
}

/// Files named by the operator or in the PKI directory, read with the PKI's size cap.
fn read(path: &Path) -> Result<Vec<u8>> {
    Ok(pgharden_pki::files::read(path)?)
}
