//! What the files show: every file PostgreSQL trusts and the directories holding them, PGDATA and
//! what is in it, pg_hba.conf and pg_ident.conf with their includes (as the server's major version
//! reads them: 14 and 15 follow none) and pgharden's reading of them, the TLS files, the log files.
//!
//! Owns: reading all of that through [`Files`] (as the cluster owner when pgharden runs as root:
//! the server names these paths, and its owner controls what is there), with caps on how many
//! directory entries are read. Paths the server reports relative to PGDATA are made absolute
//! there. Must not: judge.

use std::path::{Path, PathBuf};

use pgharden_cluster::Files;
use pgharden_cluster::discover::Cluster;
use pgharden_conf::hba::HbaSet;
use pgharden_conf::ident::IdentSet;
use pgharden_conf::postgresql_conf::ConfTree;
use pgharden_privsep::FileKind;

use super::{EntryKind, Evidence, Fact, FileFacts, FileRole, LogFiles, Missing, TlsFiles, Trusted};

/// At most this many log files are listed (a log directory rotates; the newest are enough).
const MAX_LOG_FILES: usize = 10_000;
/// At most this many CRL files are read from `ssl_crl_dir`.
const MAX_CRL_FILES: usize = 1_000;
/// PGDATA subdirectories whose entries are checked besides PGDATA's own (the relation files under
/// `base/` can number millions and are made by the server with the same mode).
const DATA_SUBDIRS: &[&str] = &["global", "pg_wal", "pg_tblspc"];

/// Gather what the files show, once `ev.settings` holds the server's settings: they name the TLS and
/// log files.
pub fn from_files(ev: &mut Evidence, cluster: &Cluster, files: &Files) {
    ev.owner_uid = Some(cluster.owner.uid);
    ev.data_dir = stat(files, &cluster.data_dir);
    ev.data_entries = data_entries(files, &cluster.data_dir);
    // The server's own word on its version, else the data directory's (the server that starts on
    // it is of that major).
    let major = *ev.major.as_ref().unwrap_or(&cluster.major);
    if ev.major.is_err() {
        ev.major = Ok(major);
    }
    // Read once, as that major reads them: the rules are judged, pgharden's reading says whether
    // the server would take them, and every file read is a file the server trusts.
    let hba = HbaSet::load_for(major, &cluster.hba_file, files)
        .map_err(|e| Missing::failed(cluster.hba_file.display().to_string(), e));
    let ident = IdentSet::load_for(major, &cluster.ident_file, files)
        .map_err(|e| Missing::failed(cluster.ident_file.display().to_string(), e));
    ev.hba_rules = hba.as_ref().map(|set| set.rules()).map_err(Clone::clone);
    ev.ident_mappings = ident
        .as_ref()
        .map(|set| set.entries().into_iter().filter_map(mapping).collect())
        .map_err(Clone::clone);
    let server = super::reading::server_settings(ev, major);
    ev.hba_reading.pgharden = hba.as_ref().map(|set| set.validate_with(&server)).map_err(Clone::clone);
    ev.ident_reading.pgharden = ident.as_ref().map(|set| set.validate(major)).map_err(Clone::clone);
    let setting = |name: &str| ev.settings.as_ref().ok().and_then(|s| s.get(name)).map(|s| s.value.clone());
    let in_data = |name: &str| absolute(files, &cluster.data_dir, name);
    let cert = setting("ssl_cert_file").filter(|v| !v.is_empty()).map(|v| in_data(&v));
    let key = setting("ssl_key_file").filter(|v| !v.is_empty()).map(|v| in_data(&v));
    let ca = setting("ssl_ca_file").filter(|v| !v.is_empty()).map(|v| in_data(&v));
    let crl = setting("ssl_crl_file").filter(|v| !v.is_empty()).map(|v| in_data(&v));
    let crl_dir = setting("ssl_crl_dir").filter(|v| !v.is_empty()).map(|v| in_data(&v));
    let settings_known = ev.settings.is_ok();

    let mut trusted = Vec::new();
    match config_files(cluster, files) {
        Ok(paths) => trusted.extend(paths.iter().map(|p| (FileRole::Config, p.clone()))),
        Err(e) => ev.problems.push(format!("configuration files: {e}")),
    }
    trusted.push((FileRole::Hba, cluster.hba_file.clone()));
    trusted.push((FileRole::Ident, cluster.ident_file.clone()));
    // Included files and `@file` lists: the root is listed above even when it cannot be read.
    if let Ok(set) = &hba {
        trusted.extend(set.paths_read().iter().skip(1).map(|p| (FileRole::Hba, p.clone())));
    }
    if let Ok(set) = &ident {
        trusted.extend(set.paths_read().iter().skip(1).map(|p| (FileRole::Ident, p.clone())));
    }
    for (role, path) in [
        (FileRole::SslCert, &cert),
        (FileRole::SslKey, &key),
        (FileRole::SslCa, &ca),
        (FileRole::SslCrl, &crl),
        (FileRole::SslCrlDir, &crl_dir),
    ] {
        if let Some(p) = path {
            trusted.push((role, p.clone()));
        }
    }
    let crl_dir_files = crl_dir.as_ref().map(|d| crl_dir_listing(files, d));
    if let Some(Ok(list)) = &crl_dir_files {
        trusted.extend(list.iter().map(|p| (FileRole::SslCrlDir, p.clone())));
    }
    // Without the settings the TLS files are unknown and the TLS check says so; the configuration
    // files are still judged (a stopped server's pg_hba.conf matters as much as a running one's).
    ev.trusted = Ok(with_directories(files, trusted));

    ev.tls = TlsFiles {
        cert: match &cert {
            Some(p) => read(files, p).map(|b| (p.clone(), b)),
            None if settings_known => Err(Missing::failed("ssl_cert_file", "is not set")),
            None => Err(Missing::NoConnection),
        },
        key: match &key {
            Some(p) => stat(files, p),
            None if settings_known => Err(Missing::failed("ssl_key_file", "is not set")),
            None => Err(Missing::NoConnection),
        },
        key_encrypted: match &key {
            Some(p) => key_encrypted(files, p),
            None if settings_known => Err(Missing::failed("ssl_key_file", "is not set")),
            None => Err(Missing::NoConnection),
        },
        crls: if settings_known {
            crls(files, crl.as_deref(), crl_dir.as_deref(), crl_dir_files)
        } else {
            Err(Missing::NoConnection)
        },
    };
    ev.logs = match setting("log_directory") {
        Some(dir) => log_files(files, &in_data(&dir)),
        None => Err(Missing::NoConnection),
    };
    ev.fips = super::fips_mode();
}

fn mapping(entry: &pgharden_conf::ident::Entry) -> Option<pgharden_conf::ident::Mapping> {
    match entry {
        pgharden_conf::ident::Entry::Mapping(m) => Some(m.clone()),
        _ => None,
    }
}

/// A path as the server resolves it: relative ones are under PGDATA; links resolved as the owner.
fn absolute(files: &Files, data_dir: &Path, name: &str) -> PathBuf {
    let p = Path::new(name);
    let path = if p.is_absolute() { p.to_path_buf() } else { data_dir.join(p) };
    files.canonicalize(&path).unwrap_or(path)
}

/// postgresql.conf, every file it includes, and postgresql.auto.conf, as the server reads them.
fn config_files(cluster: &Cluster, files: &Files) -> Result<Vec<PathBuf>, String> {
    let tree = ConfTree::load_with_auto_conf_from(&cluster.config_file, &cluster.auto_conf, files)
        .map_err(|e| e.to_string())?;
    Ok(tree.files().iter().map(|f| f.path().to_path_buf()).collect())
}

/// Each trusted file, then each directory holding one, then the directories above those up to `/`
/// (each once).
fn with_directories(files: &Files, list: Vec<(FileRole, PathBuf)>) -> Vec<Trusted> {
    let mut out: Vec<Trusted> = Vec::new();
    let mut dirs: Vec<(PathBuf, Vec<FileRole>)> = Vec::new();
    for (role, path) in list {
        if out.iter().any(|t| t.role == role && t.facts.as_ref().is_ok_and(|f| f.path == path)) {
            continue;
        }
        if let Some(parent) = path.parent() {
            // The directory of a CRL directory's files is the CRL directory itself, listed already.
            let holds = if role == FileRole::SslCrlDir { FileRole::SslCrl } else { role };
            add_holder(&mut dirs, parent, holds);
        }
        out.push(Trusted { role, holds: Vec::new(), ancestor: false, facts: stat(files, &path) });
    }
    let mut ancestors: Vec<(PathBuf, Vec<FileRole>)> = Vec::new();
    for (dir, holds) in &dirs {
        for up in dir.ancestors().skip(1) {
            if dirs.iter().any(|(d, _)| d == up) {
                continue;
            }
            for h in holds {
                add_holder(&mut ancestors, up, *h);
            }
        }
    }
    for (ancestor, list) in [(false, dirs), (true, ancestors)] {
        for (dir, holds) in list {
            out.push(Trusted { role: FileRole::Directory, holds, ancestor, facts: stat(files, &dir) });
        }
    }
    out
}

fn add_holder(dirs: &mut Vec<(PathBuf, Vec<FileRole>)>, dir: &Path, holds: FileRole) {
    match dirs.iter_mut().find(|(d, _)| d == dir) {
        Some((_, roles)) if !roles.contains(&holds) => roles.push(holds),
        Some(_) => {}
        None => dirs.push((dir.to_path_buf(), vec![holds])),
    }
}

fn kind(k: FileKind) -> EntryKind {
    match k {
        FileKind::Regular => EntryKind::File,
        FileKind::Directory => EntryKind::Dir,
        FileKind::Symlink => EntryKind::Symlink,
        _ => EntryKind::Other,
    }
}

/// Owner, mode and kind of `path` itself (a link is reported as a link).
fn stat(files: &Files, path: &Path) -> Fact<FileFacts> {
    match files.stat(path, false) {
        Ok(Some(m)) => Ok(FileFacts {
            path: path.to_path_buf(),
            uid: m.uid,
            gid: m.gid,
            mode: m.mode & 0o7777,
            kind: kind(m.kind),
        }),
        Ok(None) => Err(Missing::failed(path.display().to_string(), "No such file or directory")),
        Err(e) => Err(Missing::failed(path.display().to_string(), e)),
    }
}

/// Like [`stat`], but an entry removed since the directory was listed (a recycled WAL segment, a
/// rotated log) is simply gone.
fn stat_if_there(files: &Files, path: &Path) -> Fact<Option<FileFacts>> {
    match files.stat(path, false) {
        Ok(Some(_)) => stat(files, path).map(Some),
        Ok(None) => Ok(None),
        Err(e) => Err(Missing::failed(path.display().to_string(), e)),
    }
}

fn read(files: &Files, path: &Path) -> Fact<Vec<u8>> {
    files.read(path).map_err(|e| Missing::failed(path.display().to_string(), e))
}

/// Whether the key file's private key is encrypted, from its PEM labels: the bytes are read as the
/// owner, zeroized once looked at, and nothing of the key is kept.
fn key_encrypted(files: &Files, path: &Path) -> Fact<bool> {
    let bytes = zeroize::Zeroizing::new(read(files, path)?);
    let blocks = pem::parse_many(bytes.as_slice())
        .map_err(|e| Missing::failed(path.display().to_string(), format!("not a PEM file: {e}")))?;
    let key = blocks.iter().find(|b| b.tag().ends_with("PRIVATE KEY")).ok_or_else(|| {
        Missing::failed(path.display().to_string(), "holds no PEM private key (DER keys are not judged)")
    })?;
    let legacy = key.headers().get("Proc-Type").is_some_and(|v| v.contains("ENCRYPTED"));
    Ok(key.tag() == "ENCRYPTED PRIVATE KEY" || legacy)
}

/// PGDATA's own entries and those of the small directories the server keeps beside the relations.
fn data_entries(files: &Files, data_dir: &Path) -> Fact<Vec<FileFacts>> {
    let mut out = Vec::new();
    for dir in std::iter::once(data_dir.to_path_buf()).chain(DATA_SUBDIRS.iter().map(|d| data_dir.join(d))) {
        let entries = match files.actor().read_dir(&dir) {
            Ok(e) => e,
            Err(_) if dir != data_dir => continue,
            Err(e) => return Err(Missing::failed(dir.display().to_string(), e)),
        };
        for e in entries {
            out.extend(stat_if_there(files, &dir.join(&e.name))?);
        }
    }
    Ok(out)
}

/// The files in `ssl_crl_dir`, as OpenSSL's lookup reads them (every regular file; it finds them
/// by hashed name, and anything else there is at least something the server may read).
fn crl_dir_listing(files: &Files, dir: &Path) -> Fact<Vec<PathBuf>> {
    let entries = files.actor().read_dir(dir).map_err(|e| Missing::failed(dir.display().to_string(), e))?;
    let mut paths: Vec<PathBuf> =
        entries.into_iter().filter(|e| e.kind == FileKind::Regular).map(|e| dir.join(e.name)).collect();
    if paths.len() > MAX_CRL_FILES {
        return Err(Missing::failed(
            dir.display().to_string(),
            format!("holds more than {MAX_CRL_FILES} files"),
        ));
    }
    paths.sort();
    Ok(paths)
}

fn crls(
    files: &Files,
    file: Option<&Path>,
    dir: Option<&Path>,
    listing: Option<Fact<Vec<PathBuf>>>,
) -> Fact<Vec<(PathBuf, Vec<u8>)>> {
    let mut out = Vec::new();
    if let Some(f) = file {
        out.push((f.to_path_buf(), read(files, f)?));
    }
    if let (Some(_), Some(listing)) = (dir, listing) {
        for p in listing? {
            let bytes = read(files, &p)?;
            out.push((p, bytes));
        }
    }
    Ok(out)
}

/// The log directory and the files in it.
fn log_files(files: &Files, dir: &Path) -> Fact<LogFiles> {
    let dir_facts = stat(files, dir)?;
    let entries = files.actor().read_dir(dir).map_err(|e| Missing::failed(dir.display().to_string(), e))?;
    let truncated = entries.len() > MAX_LOG_FILES;
    let mut list = Vec::new();
    for e in entries.into_iter().take(MAX_LOG_FILES) {
        list.extend(stat_if_there(files, &dir.join(&e.name))?);
    }
    list.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(LogFiles { dir: dir_facts, files: list, truncated })
}
