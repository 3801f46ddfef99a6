//! `pgharden client`: put a role's certificate where libpq looks for it (STIG Appendix G 2.7.3).
//!
//! Owns: writing `~/.postgresql/{root.crt,postgresql.crt,postgresql.key,root.crl}` with mode 0600 in a
//! 0700 directory, owned by the owner of the home directory (so a root operator can install for a
//! user), refusing to install a certificate that libpq or the server would refuse (revoked, expired,
//! wrong purpose), keeping a backup of any file it replaces, and composing the verify-full connection
//! string. Must not: touch server configuration.
//!
//! `root.crl` holds every CA's CRL: libpq checks revocation for the whole server chain, so a CRL for
//! the server intermediate alone would make it reject valid servers.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;

use crate::authority::{CRL_BUNDLE, Pki};
use crate::error::{Error, Result};
use crate::files::{self, DIR_MODE, KEY_MODE};
use crate::ledger::{Entry, Kind};
use crate::verify::{Purpose, Trust, verify_file};

/// The files libpq reads by default, relative to the home directory.
pub const CLIENT_DIR: &str = ".postgresql";

/// What to install.
#[derive(Debug, Clone)]
pub struct ClientInstall {
    pub role: String,
    /// Home directory whose `.postgresql/` receives the files.
    pub home: PathBuf,
    /// Replace existing files (each is first copied to `NAME.bak-TIMESTAMP`).
    pub force: bool,
}

/// What was installed.
#[derive(Debug, Clone, Serialize)]
pub struct Installed {
    pub role: String,
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
    pub backups: Vec<PathBuf>,
    /// uid and gid the files belong to.
    pub owner: (u32, u32),
    pub certificate: Entry,
}

/// Install the current certificate of `role` from the PKI into `home/.postgresql/`.
pub fn install_client(pki: &Pki, req: &ClientInstall) -> Result<Installed> {
    let entry = current_client(pki, &req.role)?;
    let cert_path = pki.dir().join(&entry.path);
    let key_path = cert_path.with_file_name("client.key");
    let report = verify_file(&Trust::from_pki_dir(pki.dir())?, &cert_path, Purpose::Client, None)?;
    if let Some(failed) = report.checks.iter().find(|c| !c.ok) {
        return Err(Error::bad_file(
            &cert_path,
            format!("will not install: {} check failed: {}", failed.name, failed.detail),
        ));
    }
    let meta = fs::metadata(&req.home).map_err(|e| Error::io(&req.home, e))?;
    if !meta.is_dir() {
        return Err(Error::bad_file(&req.home, "not a directory"));
    }
    let owner = (meta.uid(), meta.gid());
    let dir = req.home.join(CLIENT_DIR);
    files::ensure_dir(&dir, DIR_MODE)?;
    chown(&dir, owner)?;
    let contents = [
        ("root.crt", files::read(&pki.ca_cert_path(Kind::Root))?),
        ("postgresql.crt", files::read(&cert_path)?),
        ("postgresql.key", files::read(&key_path)?),
        ("root.crl", files::read(&pki.dir().join(CRL_BUNDLE))?),
    ];
    let targets: Vec<PathBuf> = contents.iter().map(|(name, _)| dir.join(name)).collect();
    if !req.force {
        if let Some(existing) = targets.iter().find(|p| p.exists()) {
            return Err(Error::Exists(existing.clone()));
        }
    }
    let mut backups = Vec::new();
    for ((_, bytes), target) in contents.iter().zip(&targets) {
        if let Some(backup) = back_up(target)? {
            backups.push(backup);
        }
        files::write_atomic(target, bytes, KEY_MODE, true)?;
        chown(target, owner)?;
    }
    Ok(Installed { role: req.role.clone(), dir, files: targets, backups, owner, certificate: entry })
}

/// The newest valid, unrevoked client certificate of a role.
fn current_client(pki: &Pki, role: &str) -> Result<Entry> {
    let now = OffsetDateTime::now_utc();
    let mut candidates: Vec<&Entry> = pki
        .ledger()
        .certificates
        .iter()
        .filter(|e| e.kind == Kind::Client && e.role.as_deref() == Some(role) && e.replaced_by.is_none())
        .collect();
    if candidates.is_empty() {
        return Err(Error::invalid(
            "--role",
            role,
            format!(
                "no client certificate for this role; issue one with `pgharden pki client --dir {} --role ROLE`",
                pki.dir().display()
            ),
        ));
    }
    candidates.retain(|e| e.revoked.is_none() && e.not_after > now);
    candidates.sort_by_key(|e| e.not_before);
    candidates.pop().cloned().ok_or_else(|| {
        Error::invalid(
            "--role",
            role,
            "every client certificate of this role is revoked or expired; issue a new one",
        )
    })
}

/// Copy an existing file aside before it is replaced, keeping its mode.
fn back_up(path: &Path) -> Result<Option<PathBuf>> {
    if !path.exists() {
        return Ok(None);
    }
    let stamp = OffsetDateTime::now_utc().unix_timestamp();
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".bak-{stamp}"));
    let backup = path.with_file_name(name);
    let bytes = files::read(path)?;
    files::write_atomic(&backup, &bytes, KEY_MODE, true)?;
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    chown(&backup, (meta.uid(), meta.gid()))?;
    Ok(Some(backup))
}

/// Give a file to the home directory's owner; only root can, and only root needs to.
fn chown(path: &Path, (uid, gid): (u32, u32)) -> Result<()> {
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.uid() == uid && meta.gid() == gid {
        return Ok(());
    }
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| Error::io(path, e))
}

/// The `sslmode=verify-full` connection string for the installed files, as a URI. When the files are
/// not in the connecting user's own home, the paths are spelled out, since libpq would not find them.
pub fn connection_uri(installed: &Installed, host: &str, port: u16, dbname: &str, own_home: bool) -> String {
    let host_part = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
    let mut uri = format!(
        "postgresql://{}@{host_part}:{port}/{}?sslmode=verify-full",
        percent_encode(&installed.role),
        percent_encode(dbname)
    );
    if !own_home {
        for (param, file) in [
            ("sslrootcert", "root.crt"),
            ("sslcert", "postgresql.crt"),
            ("sslkey", "postgresql.key"),
            ("sslcrl", "root.crl"),
        ] {
            uri.push_str(&format!(
                "&{param}={}",
                percent_encode(&installed.dir.join(file).to_string_lossy())
            ));
        }
    }
    uri
}

/// Percent-encode everything but RFC 3986 unreserved characters (and '/', harmless in paths).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::authority::{ClientRequest, InitOptions};
    use crate::key::KeyType;
    use crate::ledger::Reason;

    fn pki_with_bob() -> (tempfile::TempDir, Pki) {
        let tmp = tempfile::tempdir().unwrap();
        let opts = InitOptions { key_type: KeyType::P256, ..Default::default() };
        let mut pki = Pki::init(&tmp.path().join("pki"), &opts).unwrap();
        pki.issue_client(&ClientRequest { role: "bob".into(), ..Default::default() }, None).unwrap();
        (tmp, pki)
    }

    #[test]
    fn installs_four_private_files_and_refuses_to_overwrite() {
        let (tmp, pki) = pki_with_bob();
        let home = tmp.path().join("home");
        fs::create_dir(&home).unwrap();
        let req = ClientInstall { role: "bob".into(), home: home.clone(), force: false };
        let installed = install_client(&pki, &req).unwrap();
        assert_eq!(installed.files.len(), 4);
        for f in &installed.files {
            assert_eq!(fs::metadata(f).unwrap().permissions().mode() & 0o777, 0o600, "{}", f.display());
        }
        assert_eq!(fs::metadata(home.join(".postgresql")).unwrap().permissions().mode() & 0o777, 0o700);
        let chain = fs::read_to_string(home.join(".postgresql/postgresql.crt")).unwrap();
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
        let crls = fs::read_to_string(home.join(".postgresql/root.crl")).unwrap();
        assert_eq!(crls.matches("BEGIN X509 CRL").count(), 3);
        assert!(matches!(install_client(&pki, &req), Err(Error::Exists(_))));
        let again = install_client(&pki, &ClientInstall { force: true, ..req }).unwrap();
        assert_eq!(again.backups.len(), 4);
    }

    #[test]
    fn a_revoked_or_unknown_role_is_not_installed() {
        let (tmp, mut pki) = pki_with_bob();
        let home = tmp.path().to_path_buf();
        let err =
            install_client(&pki, &ClientInstall { role: "carol".into(), home: home.clone(), force: false })
                .unwrap_err();
        assert!(err.to_string().contains("no client certificate"), "{err}");
        let serial = pki.ledger().certificates.last().unwrap().serial.clone();
        pki.revoke(&serial, Reason::KeyCompromise, None).unwrap();
        let err =
            install_client(&pki, &ClientInstall { role: "bob".into(), home, force: false }).unwrap_err();
        assert!(err.to_string().contains("revoked"), "{err}");
    }

    #[test]
    fn the_uri_is_verify_full_and_spells_out_foreign_paths() {
        let (tmp, pki) = pki_with_bob();
        let installed = install_client(
            &pki,
            &ClientInstall { role: "bob".into(), home: tmp.path().into(), force: false },
        )
        .unwrap();
        let own = connection_uri(&installed, "db.example.com", 5432, "postgres", true);
        assert_eq!(own, "postgresql://bob@db.example.com:5432/postgres?sslmode=verify-full");
        let foreign = connection_uri(&installed, "::1", 5433, "app db", false);
        assert!(
            foreign.starts_with("postgresql://bob@[::1]:5433/app%20db?sslmode=verify-full&sslrootcert="),
            "{foreign}"
        );
        assert!(foreign.contains("sslcrl=") && foreign.contains("sslkey="), "{foreign}");
    }
}
