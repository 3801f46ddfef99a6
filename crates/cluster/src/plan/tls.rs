//! The TLS files in PGDATA: the server key and certificate chain (one file), the CAs a client
//! certificate may chain to, and the CRLs, under the names the profile's `ssl_*` settings use, mode
//! 0600 and owned by the cluster owner; and the plan that installs them alone (`renew`, `deploy`),
//! without the rest of the profile.
//!
//! Owns: comparing what is in PGDATA with a [`Material`], describing certificate changes by what the
//! certificates say, and the TLS-only plan (files plus the `ssl_*` settings that point at them, all
//! of which change with a reload). Must not: write files (that is `execute`).

use pgharden_pki::inspect::{Inspection, Item, inspect_bytes};

use crate::discover::Cluster;
use crate::error::{Error, Result};
use crate::files::Files;
use crate::material::Material;
use crate::plan::{FILE_MODE, FileChange, Plan, SettingChange, conf_changes, live};
use crate::profile;
use crate::sql::Sql;

/// The tag of the one backup a TLS-only plan keeps of each file (`server.pem.pgharden-previous`).
pub const TLS_BACKUP_TAG: &str = "previous";

/// The TLS files of `material`, where they differ from what PGDATA holds.
pub(crate) fn tls_files(cluster: &Cluster, files: &Files, material: &Material) -> Result<Vec<FileChange>> {
    let mut wanted = vec![(
        profile::SERVER_PEM,
        material.pair.combined_pem().to_vec(),
        "server key, certificate and intermediates (one file)",
    )];
    if let Some(ca) = &material.ca {
        wanted.push((profile::CA_FILE, ca.clone(), "CA certificates client certificates must chain to"));
    }
    if let Some(crl) = &material.crl {
        wanted.push((profile::CRL_FILE, crl.clone(), "CRLs of every CA"));
    }
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

/// The plan that installs `material` and points the `ssl_*` settings at it, and nothing else. It
/// never needs a restart: every `ssl_*` setting is reloadable (PostgreSQL 10+).
pub fn tls_plan(
    cluster: &Cluster,
    files: &Files,
    material: &Material,
    sql: Option<&mut dyn Sql>,
) -> Result<Plan> {
    let mut changes = tls_files(cluster, files, material)?;
    let wanted = profile::tls_settings(material.ca.is_some(), material.crl.is_some());
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
/// is never shown.
fn summary(bytes: &[u8]) -> String {
    match inspect_bytes("file", bytes) {
        Ok(Inspection { items, .. }) => {
            let described: Vec<String> = items.iter().filter_map(describe).collect();
            if described.is_empty() { "no certificate or CRL".into() } else { described.join("; ") }
        }
        Err(_) => "unreadable".into(),
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
