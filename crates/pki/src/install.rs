//! `pgharden client`: put a role's certificate where libpq looks for it (STIG Appendix G 2.7.3).
//!
//! Owns: writing `~/.postgresql/{root.crt,postgresql.crt,postgresql.key,root.crl}` with mode 0600 in a
//! 0700 directory, refusing to install a certificate that libpq or the server would refuse (revoked,
//! expired, wrong purpose), keeping a copy of any file it replaces, and composing the verify-full
//! connection string. The PKI is read here, with this process's credentials; everything in the home
//! is done by an [`Actor`] for the home's owner (a helper running as that user when a root operator
//! installs for someone), so the files are created by the user, nothing is chowned, and a link the
//! user planted in their own home leads nowhere they could not already write. Must not: touch
//! server configuration.
//!
//! `root.crl` holds every CA's CRL: libpq checks revocation for the whole server chain, so a CRL for
//! the server intermediate alone would make it reject valid servers.

use std::path::PathBuf;

use pgharden_privsep::{Actor, FileKind};
use serde::Serialize;
use time::OffsetDateTime;

use crate::authority::{CRL_BUNDLE, Pki};
use crate::error::{Error, Result};
use crate::files::{self, DIR_MODE, KEY_MODE};

/// What the copies of replaced files are called: `NAME.pgharden-bak-UNIXTIME`.
const BACKUP_PREFIX: &str = "bak-";
use crate::ledger::{Entry, Kind};
use crate::verify::{Purpose, Trust, verify_file};

/// The files libpq reads by default, relative to the home directory.
pub(crate) const CLIENT_DIR: &str = ".postgresql";

/// What to install.
#[derive(Debug, Clone)]
pub struct ClientInstall {
    /// The role whose current (newest valid) client certificate is installed.
    pub role: String,
    /// Home directory whose `.postgresql/` receives the files.
    pub home: PathBuf,
    /// Replace existing files (each is first copied to `NAME.pgharden-bak-TIMESTAMP`).
    pub force: bool,
}

/// What was installed.
#[derive(Debug, Clone, Serialize)]
pub struct Installed {
    /// The role the installed certificate logs in as.
    pub role: String,
    /// The `.postgresql/` directory that received the files.
    pub dir: PathBuf,
    /// Every file written: `root.crt`, `postgresql.crt`, `postgresql.key`, `root.crl`.
    pub files: Vec<PathBuf>,
    /// Copies of the files `force` replaced; empty when nothing was there before.
    pub backups: Vec<PathBuf>,
    /// uid and gid the files belong to.
    pub owner: (u32, u32),
    /// The ledger record of the installed certificate.
    pub certificate: Entry,
}

/// Install the current certificate of `role` from the PKI into `home/.postgresql/`, acting in the
/// home as `actor` (the home's owner: see [`Actor::new`]).
pub fn install_client(pki: &Pki, req: &ClientInstall, actor: &Actor) -> Result<Installed> {
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
    let home = actor.canonicalize(&req.home)?;
    match actor.stat(&home, true)? {
        Some(m) if m.kind == FileKind::Directory => {}
        _ => return Err(Error::bad_file(&req.home, "not a directory")),
    }
    let dir = home.join(CLIENT_DIR);
    actor.mkdir(&dir, DIR_MODE)?;
    let contents = [
        ("root.crt", files::read(&pki.ca_cert_path(Kind::Root))?),
        ("postgresql.crt", files::read(&cert_path)?),
        ("postgresql.key", files::read(&key_path)?),
        ("root.crl", files::read(&pki.dir().join(CRL_BUNDLE))?),
    ];
    let targets: Vec<PathBuf> = contents.iter().map(|(name, _)| dir.join(name)).collect();
    for target in &targets {
        match actor.stat(target, false)? {
            None => {}
            Some(m) if m.kind == FileKind::Symlink => {
                return Err(pgharden_privsep::Error::Symlink { path: target.clone() }.into());
            }
            Some(m) if m.kind != FileKind::Regular => {
                return Err(pgharden_privsep::Error::NotRegular { path: target.clone(), kind: m.kind }.into());
            }
            Some(_) if !req.force => return Err(Error::Exists(target.clone())),
            Some(_) => {}
        }
    }
    let tag = format!("{BACKUP_PREFIX}{}", OffsetDateTime::now_utc().unix_timestamp());
    let mut backups = Vec::new();
    for ((_, bytes), target) in contents.iter().zip(&targets) {
        let replaced = actor.replace(target, bytes, KEY_MODE, Some(&tag))?;
        backups.extend(replaced.backup);
    }
    let account = actor.account();
    Ok(Installed {
        role: req.role.clone(),
        dir,
        files: targets,
        backups,
        owner: (account.uid, account.gid),
        certificate: entry,
    })
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
    use std::fs;
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
        let me = Actor::current();
        let installed = install_client(&pki, &req, &me).unwrap();
        assert_eq!(installed.files.len(), 4);
        for f in &installed.files {
            assert_eq!(fs::metadata(f).unwrap().permissions().mode() & 0o777, 0o600, "{}", f.display());
        }
        assert_eq!(fs::metadata(home.join(".postgresql")).unwrap().permissions().mode() & 0o777, 0o700);
        let chain = fs::read_to_string(home.join(".postgresql/postgresql.crt")).unwrap();
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
        let crls = fs::read_to_string(home.join(".postgresql/root.crl")).unwrap();
        assert_eq!(crls.matches("BEGIN X509 CRL").count(), 3);
        assert!(matches!(install_client(&pki, &req, &me), Err(Error::Exists(_))));
        let again = install_client(&pki, &ClientInstall { force: true, ..req }, &me).unwrap();
        assert_eq!(again.backups.len(), 4);
    }

    #[test]
    fn a_revoked_or_unknown_role_is_not_installed() {
        let (tmp, mut pki) = pki_with_bob();
        let home = tmp.path().to_path_buf();
        let err = install_client(
            &pki,
            &ClientInstall { role: "carol".into(), home: home.clone(), force: false },
            &Actor::current(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("no client certificate"), "{err}");
        let serial = pki.ledger().certificates.last().unwrap().serial.clone();
        pki.revoke(&serial, Reason::KeyCompromise, None).unwrap();
        let err = install_client(
            &pki,
            &ClientInstall { role: "bob".into(), home, force: false },
            &Actor::current(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("revoked"), "{err}");
    }

    #[test]
    fn the_uri_is_verify_full_and_spells_out_foreign_paths() {
        let (tmp, pki) = pki_with_bob();
        let installed = install_client(
            &pki,
            &ClientInstall { role: "bob".into(), home: tmp.path().into(), force: false },
            &Actor::current(),
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
