//! The TLS files in PGDATA: the server key and certificate chain (one file), the CAs a client
//! certificate may chain to, and the CRLs, under the names the profile's `ssl_*` settings use, mode
//! 0600 and owned by the cluster owner; when the key is encrypted, its passphrase file beside
//! postgresql.conf; and the plan that installs them alone (`renew`, `deploy`), without the rest of
//! the profile.
//!
//! Owns: comparing what is in PGDATA with a [`Material`] (an encrypted key by what it decrypts to,
//! since every encryption has a fresh salt), choosing the key's protection (the operator's
//! passphrase, else the one a cluster pgharden encrypted holds, so renew and deploy keep the key
//! encrypted), describing certificate changes by what the certificates say (a key and a passphrase
//! are never shown), and the TLS-only plan (files plus the `ssl_*` settings that point at them, all
//! of which change with a reload). Must not: write files (that is `execute`).

use std::path::PathBuf;

use pgharden_conf::postgresql_conf::ConfTree;
use pgharden_pki::Passphrase;
use pgharden_pki::inspect::{Inspection, Item, inspect_bytes};
use zeroize::Zeroizing;

use crate::discover::Cluster;
use crate::error::{Error, Result};
use crate::files::Files;
use crate::material::Material;
use crate::plan::{FILE_MODE, FileChange, Plan, SettingChange, conf_changes, live};
use crate::profile;
use crate::sql::Sql;

/// The tag of the one backup a TLS-only plan keeps of each file (`server.pem.pgharden-previous`).
pub const TLS_BACKUP_TAG: &str = "previous";

/// An encrypted server key: the passphrase, the file the server reads it from, and the
/// `ssl_passphrase_command` that reads it.
pub(crate) struct Protection {
    pass: Passphrase,
    /// [`profile::SERVER_KEY_PASSPHRASE`] in the directory of postgresql.conf.
    pub(crate) file: PathBuf,
    /// The value of `ssl_passphrase_command` ([`profile::passphrase_command`]).
    pub(crate) command: String,
}

/// How the server key is to be protected: under `material`'s passphrase; else, when the cluster's
/// configuration runs pgharden's own `ssl_passphrase_command`, under the passphrase in the file it
/// names (an earlier apply's), so a new key is encrypted as the old one was; else not at all.
pub(crate) fn protection(
    cluster: &Cluster,
    files: &Files,
    material: &Material,
) -> Result<Option<Protection>> {
    let dir = cluster.config_file.parent().unwrap_or(&cluster.data_dir);
    let file = dir.join(profile::SERVER_KEY_PASSPHRASE);
    let command = profile::passphrase_command(&file);
    if let Some(pass) = &material.key_passphrase {
        let command = command.ok_or_else(|| {
            Error::bad(
                &file,
                "the passphrase file's path is not UTF-8 or holds control characters, which                  ssl_passphrase_command cannot quote safely",
            )
        })?;
        return Ok(Some(Protection { pass: pass.clone(), file, command }));
    }
    let Some(command) = command else { return Ok(None) };
    let tree = ConfTree::load_with_auto_conf_from(&cluster.config_file, &cluster.auto_conf, files)
        .map_err(|e| Error::bad(&cluster.config_file, e.to_string()))?;
    if tree.get("ssl_passphrase_command") != Some(command.as_str()) {
        return Ok(None);
    }
    if files.stat(&file, false)?.is_none() {
        return Err(Error::bad(
            &file,
            "ssl_passphrase_command reads the server key's passphrase from this file, which is missing;              give the passphrase again with apply --server-key-passphrase-file FILE",
        ));
    }
    let bytes = Zeroizing::new(files.read(&file)?);
    let pass = Passphrase::from_bytes(&file, &bytes)?;
    Ok(Some(Protection { pass, file, command }))
}

/// The TLS files of `material`, where they differ from what PGDATA holds; with `protection`, the
/// key encrypted and its passphrase file first.
pub(crate) fn tls_files(
    cluster: &Cluster,
    files: &Files,
    material: &Material,
    protection: Option<&Protection>,
) -> Result<Vec<FileChange>> {
    let mut out = Vec::new();
    if let Some(p) = protection {
        out.extend(passphrase_file(cluster, files, p)?);
    }
    out.extend(server_pem(cluster, files, material, protection)?);
    let mut wanted = Vec::new();
    if let Some(ca) = &material.ca {
        wanted.push((profile::CA_FILE, ca.clone(), "CA certificates client certificates must chain to"));
    }
    if let Some(crl) = &material.crl {
        wanted.push((profile::CRL_FILE, crl.clone(), "CRLs of every CA"));
    }
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
        let diff = match &current {
            None => format!("  (new file: {})\n", summary(&contents)),
            Some(old) if old == &contents => "  (owner or mode corrected)\n".to_string(),
            Some(old) => format!("  - {}\n  + {}\n", summary(old), summary(&contents)),
        };
        let from_mode = meta.map(|m| m.mode & 0o777);
        out.push(FileChange { path, what: what.into(), mode: FILE_MODE, from_mode, diff, contents });
    }
    Ok(out)
}

/// When the key is newly encrypted: the backup apply keeps of the old `server.pem` holds the key
/// in the clear, and pgharden deletes nothing in PGDATA, so the operator is told to.
pub(crate) fn encryption_note(
    cluster: &Cluster,
    files: &Files,
    protection: Option<&Protection>,
) -> Result<Option<String>> {
    if protection.is_none() {
        return Ok(None);
    }
    let path = cluster.data_dir.join(profile::SERVER_PEM);
    if files.stat(&path, false)?.is_none() {
        return Ok(None);
    }
    let bytes = Zeroizing::new(files.read(&path)?);
    let plain = pem::parse_many(bytes.as_slice()).is_ok_and(|blocks| {
        blocks.iter().any(|b| b.tag().ends_with("PRIVATE KEY") && !b.tag().starts_with("ENCRYPTED"))
    });
    Ok(plain.then(|| {
        format!(
            "{} holds the key unencrypted now; the copy kept of it ({}.pgharden-*) still does: delete it \
             (and any other copy of the old file) once the server runs on the encrypted key",
            path.display(),
            path.display()
        )
    }))
}

/// The passphrase file, where it is missing, differs, or has the wrong owner or mode. Its contents
/// are never shown.
fn passphrase_file(cluster: &Cluster, files: &Files, p: &Protection) -> Result<Option<FileChange>> {
    files.check_target(&p.file)?;
    let contents = p.pass.file_contents();
    let meta = files.stat(&p.file, false)?;
    let same = match &meta {
        Some(_) => Zeroizing::new(files.read(&p.file)?).as_slice() == contents.as_slice(),
        None => false,
    };
    let right_owner =
        meta.as_ref().is_some_and(|m| m.uid == cluster.owner.uid && m.mode & 0o777 == FILE_MODE);
    if same && right_owner {
        return Ok(None);
    }
    let diff = match (&meta, same) {
        (None, _) => "  (new file: the passphrase, not shown)\n",
        (Some(_), true) => "  (owner or mode corrected)\n",
        (Some(_), false) => "  (a different passphrase; neither is shown)\n",
    };
    Ok(Some(FileChange {
        path: p.file.clone(),
        what: "passphrase of the server key, printed by ssl_passphrase_command".into(),
        mode: FILE_MODE,
        from_mode: meta.map(|m| m.mode & 0o777),
        diff: diff.into(),
        contents: contents.to_vec(),
    }))
}

/// `server.pem`, where it does not hold `material`'s pair (encrypted under `protection`'s
/// passphrase when there is one) or has the wrong owner or mode.
fn server_pem(
    cluster: &Cluster,
    files: &Files,
    material: &Material,
    protection: Option<&Protection>,
) -> Result<Option<FileChange>> {
    let path = cluster.data_dir.join(profile::SERVER_PEM);
    files.check_target(&path)?;
    let meta = files.stat(&path, false)?;
    let current = if meta.is_some() { Some(Zeroizing::new(files.read(&path)?)) } else { None };
    let pass = protection.map(|p| &p.pass);
    let held = current.as_ref().is_some_and(|c| material.pair.is_held_by(c, pass));
    let right_owner =
        meta.as_ref().is_some_and(|m| m.uid == cluster.owner.uid && m.mode & 0o777 == FILE_MODE);
    if held && right_owner {
        return Ok(None);
    }
    let contents = match pass {
        Some(pass) => material.pair.combined_pem_encrypted(pass)?,
        None => material.pair.combined_pem(),
    };
    let diff = match &current {
        None => format!("  (new file: {})\n", summary(&contents)),
        Some(_) if held => "  (owner or mode corrected)\n".to_string(),
        Some(old) => format!("  - {}\n  + {}\n", summary(old), summary(&contents)),
    };
    Ok(Some(FileChange {
        path,
        what: if pass.is_some() {
            "server key (encrypted), certificate and intermediates (one file)".into()
        } else {
            "server key, certificate and intermediates (one file)".into()
        },
        mode: FILE_MODE,
        from_mode: meta.map(|m| m.mode & 0o777),
        diff,
        contents: contents.to_vec(),
    }))
}

/// The plan that installs `material` and points the `ssl_*` settings at it, and nothing else. It
/// never needs a restart: every `ssl_*` setting is reloadable (PostgreSQL 10+).
pub fn tls_plan(
    cluster: &Cluster,
    files: &Files,
    material: &Material,
    sql: Option<&mut dyn Sql>,
) -> Result<Plan> {
    let protection = protection(cluster, files, material)?;
    let mut changes = tls_files(cluster, files, material, protection.as_ref())?;
    let mut wanted = profile::tls_settings(material.ca.is_some(), material.crl.is_some());
    if let Some(p) = &protection {
        wanted.extend(profile::passphrase_settings(&p.command));
    }
    let encrypting = encryption_note(cluster, files, protection.as_ref())?;
    // A renewal changes no file's mode the operator's apply chose (Debian's postgresql.conf keeps
    // its own, never loosened).
    let (conf_files, mut settings) = conf_changes(cluster, files, &wanted, cluster.debian)?;
    changes.extend(conf_files);
    let mut notes = Vec::new();
    if let Some(sql) = sql {
        let (stale, overridden) = live::not_in_force(sql, cluster, &wanted, &settings)?;
        settings.extend(stale);
        notes.extend(overridden);
    }
    for change in &changes {
        files.check_target(&change.path)?;
    }
    notes.extend(legacy_note(cluster, files, &settings)?);
    notes.extend(encrypting);
    if let Some(s) = settings.iter().find(|s| s.restart) {
        return Err(Error::Rejected {
            reason: format!("{} would need a restart; TLS files are only ever changed with a reload", s.name),
        });
    }
    Ok(Plan {
        format: 1,
        cluster: cluster.clone(),
        files: changes,
        settings,
        sql: Vec::new(),
        restart: None,
        notes,
        unmet: Vec::new(),
        debian_conventions: Vec::new(),
        level: None,
        backup_tag: Some(TLS_BACKUP_TAG.into()),
    })
}

/// Moving a cluster from Appendix G's separate files to `server.pem` leaves the old ones unused;
/// the old key is the operator's to remove (pgharden deletes nothing in PGDATA).
pub(super) fn legacy_note(
    cluster: &Cluster,
    files: &Files,
    settings: &[SettingChange],
) -> Result<Option<String>> {
    if !settings.iter().any(|s| s.name == "ssl_key_file") {
        return Ok(None);
    }
    let mut old = Vec::new();
    for name in [profile::LEGACY_SERVER_CERT, "server.key"] {
        let path = cluster.data_dir.join(name);
        if files.stat(&path, false)?.is_some() {
            old.push(path.display().to_string());
        }
    }
    Ok((!old.is_empty()).then(|| {
        format!(
            "{} will no longer be used (the key and certificate move to {}); remove them once the server runs on the new file",
            old.join(" and "),
            profile::SERVER_PEM
        )
    }))
}

/// Certificates are compared by what they say (subject, serial, expiry), never by base64; a key
/// is never shown, only whether it is encrypted.
fn summary(bytes: &[u8]) -> String {
    let described = match inspect_bytes("file", bytes) {
        Ok(Inspection { items, .. }) => {
            let described: Vec<String> = items.iter().filter_map(describe).collect();
            if described.is_empty() { "no certificate or CRL".into() } else { described.join("; ") }
        }
        Err(_) => return "unreadable".into(),
    };
    let tags: Vec<String> =
        pem::parse_many(bytes).map(|b| b.iter().map(|p| p.tag().to_string()).collect()).unwrap_or_default();
    if tags.iter().any(|t| t == "ENCRYPTED PRIVATE KEY") {
        format!("{described}; key encrypted")
    } else if tags.iter().any(|t| t.ends_with("PRIVATE KEY")) {
        format!("{described}; key not encrypted")
    } else {
        described
    }
}

fn describe(item: &Item) -> Option<String> {
    match item {
        Item::Certificate(c) => Some(format!("{} serial {} until {}", c.subject, c.serial, c.not_after)),
        Item::Crl(c) => Some(format!(
            "CRL of {} number {} next update {}",
            c.issuer,
            c.crl_number.as_deref().unwrap_or("?"),
            c.next_update.as_deref().unwrap_or("none")
        )),
        _ => None,
    }
}
