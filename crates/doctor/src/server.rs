//! The server's side, from its data directory: `ssl_ca_file`, `ssl_crl_file`, `ssl_cert_file`
//! and pg_hba.conf, as postgresql.conf (and postgresql.auto.conf) name them.
//!
//! Owns: finding and reading those files through the caller's [`Source`] (as the cluster owner
//! when run as root, so root never reads through a file someone else controls), and keeping what
//! could not be read as a reason. Must not: judge (the steps do), or write anything.

use std::path::{Path, PathBuf};

use pgharden_conf::Source;
use pgharden_conf::hba::{HbaSet, Rule};
use pgharden_conf::postgresql_conf::ConfTree;

/// A data directory, the files the server reads its configuration from, and the way to read them.
pub struct ServerFiles<'a> {
    /// The data directory (relative paths in postgresql.conf are relative to it; the server's
    /// `postgresql.auto.conf` is there).
    pub pgdata: PathBuf,
    /// The server's `config_file` (Debian's is in `/etc/postgresql/N/NAME`, not in PGDATA).
    pub config_file: PathBuf,
    /// The server's `hba_file` as the running server (or, stopped, postgresql.conf) names it.
    pub hba_file: PathBuf,
    /// Reads the files (pgharden's binary passes one acting as the cluster owner).
    pub source: &'a dyn Source,
}

impl std::fmt::Debug for ServerFiles<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerFiles").field("pgdata", &self.pgdata).finish_non_exhaustive()
    }
}

/// A file the server reads: its path and contents, or why it could not be read.
#[derive(Debug)]
pub(crate) struct Read<T> {
    pub(crate) path: PathBuf,
    pub(crate) value: Result<T, String>,
}

/// The pg_hba.conf rules in server order, and the text of each file read (to quote lines).
pub(crate) type HbaFiles = (Vec<Rule>, Vec<(PathBuf, String)>);

/// What the server's files say.
#[derive(Debug)]
pub(crate) struct Facts {
    pub(crate) pgdata: PathBuf,
    pub(crate) major: u32,
    /// The certificates of `ssl_ca_file` (DER), when it is set.
    pub(crate) ca: Option<Read<Vec<Vec<u8>>>>,
    /// The CRLs of `ssl_crl_file` (DER), when it is set.
    pub(crate) crl: Option<Read<Vec<Vec<u8>>>>,
    /// `ssl_cert_file`.
    pub(crate) cert_file: PathBuf,
    /// The pg_hba.conf rules, with the text of each file for quoting lines.
    pub(crate) hba: Read<HbaFiles>,
}

impl Facts {
    pub(crate) fn load(files: &ServerFiles<'_>) -> Self {
        let pgdata = files.pgdata.clone();
        let src = files.source;
        let major = src
            .read(&pgdata.join("PG_VERSION"))
            .ok()
            .and_then(|b| String::from_utf8_lossy(&b).trim().parse().ok())
            .unwrap_or(pgharden_conf::NEWEST_MAJOR);
        let conf = ConfTree::load_with_auto_conf_from(
            files.config_file.clone(),
            pgdata.join("postgresql.auto.conf"),
            src,
        )
        .ok();
        let get = |name: &str| conf.as_ref().and_then(|c| c.get(name)).filter(|v| !v.is_empty());
        let at = |v: &str| {
            let p = Path::new(v);
            if p.is_absolute() { p.to_path_buf() } else { pgdata.join(p) }
        };
        let pem_file = |path: PathBuf, tag: &str| {
            let value = src.read(&path).map_err(|e| format!("cannot read {}: {e}", path.display())).and_then(
                |bytes| {
                    pem::parse_many(&bytes)
                        .map_err(|e| format!("{} is not a PEM file ({e})", path.display()))
                        .map(|blocks| {
                            blocks
                                .into_iter()
                                .filter(|b| b.tag() == tag)
                                .map(|b| b.contents().to_vec())
                                .collect()
                        })
                },
            );
            Read { path, value }
        };
        let ca = get("ssl_ca_file").map(|v| pem_file(at(v), "CERTIFICATE"));
        let crl = get("ssl_crl_file").map(|v| pem_file(at(v), "X509 CRL"));
        let cert_file = at(get("ssl_cert_file").unwrap_or("server.crt"));
        let hba_path = files.hba_file.clone();
        let hba = match HbaSet::load_for(major, &hba_path, src) {
            Ok(set) => {
                let texts = set
                    .paths_read()
                    .iter()
                    .filter_map(|p| {
                        src.read(p).ok().map(|b| (p.clone(), String::from_utf8_lossy(&b).into_owned()))
                    })
                    .collect();
                Read { path: hba_path, value: Ok((set.rules(), texts)) }
            }
            Err(e) => Read { path: hba_path, value: Err(e.to_string()) },
        };
        Self { pgdata, major, ca, crl, cert_file, hba }
    }

    /// The text of a rule's first line, trimmed.
    pub(crate) fn line_text(&self, file: &Path, line: usize) -> String {
        let Ok((_, texts)) = &self.hba.value else { return String::new() };
        texts
            .iter()
            .find(|(p, _)| p == file)
            .and_then(|(_, t)| t.lines().nth(line.saturating_sub(1)))
            .map(|l| l.trim().to_string())
            .unwrap_or_default()
    }

    /// `kill -HUP` of the postmaster: a reload that runs as root as printed.
    pub(crate) fn reload_command(&self) -> String {
        format!("kill -HUP $(head -1 '{}')", self.pgdata.join("postmaster.pid").display())
    }
}
