//! The plan: every file, setting and SQL statement `apply` would change, computed without changing
//! anything, so a person can review it (`--plan`) and a second `apply` can prove it has nothing left
//! to do (an empty plan).
//!
//! Owns: comparing the cluster with the `stig` profile — TLS files in PGDATA, postgresql.conf (edited
//! where the winning line is, auto.conf included), pg_hba.conf (the lines of the protection level
//! ([`level`]) first, every other operator line commented out once, never deleted; a line saying
//! what a profile line says, or one pgharden wrote for a network or level no longer chosen, is
//! replaced), pg_ident.conf (the `pgharden` map, at the `mutual` level only),
//! every configuration file mode 0600 and owned by the cluster owner (a Debian postgresql.conf keeps
//! 0644 unless the operator refuses Debian's conventions: [`debian`]), and what each database needs
//! ([`databases`]) — what of
//! the profile cannot be put in place on this host ([`unmet`]), and rendering the differences as
//! unified diffs.
//! Every file of the cluster is read as its owner ([`Files`]); every file the plan would write is
//! checked here already — inside PGDATA, the configuration directory or a directory the operator
//! named, and a regular file or nothing (never a symbolic link) — so `--plan` shows the refusal.
//! Must not: write files or run SQL that changes anything (that is `execute`).

use std::path::{Path, PathBuf};

use pgharden_conf::postgresql_conf::{ConfFile, ConfTree, Value};
use pgharden_pki::Pki;

use crate::material::Material;
use serde::Serialize;

use crate::discover::Cluster;
use crate::error::{Error, Result};
use crate::files::Files;
use crate::profile::{self, Accept, ProfileOptions, Wanted};
use crate::sql::Sql;

mod auth;
mod compare;
pub mod databases;
pub mod debian;
pub mod level;
mod live;
mod render;
pub mod tls;
pub mod unmet;

pub(crate) use compare::satisfies;
pub use debian::Convention;
pub use level::{Level, LevelCost, LevelSummary};
pub(crate) use live::{decoded, live, overridden_note};
pub use unmet::{InstallCommand, Unmet, UnmetKind};

/// Parameters whose change needs a restart (context `postmaster`), for when no server can be asked.
const RESTART_SETTINGS: &[&str] = &["logging_collector", "shared_preload_libraries"];

/// The mode of every file apply writes: configuration (CD16-00-002400 / PGS9-00-012200:
/// "postgresql.conf 0600 owned by the DBA", and likewise pg_hba.conf and pg_ident.conf), keys,
/// certificates and CRLs.
pub const FILE_MODE: u32 = 0o600;

/// What the plan says when it takes a Debian postgresql.conf from its packaged 0644 to 0600.
pub const DEBIAN_MODE_NOTE: &str = "Debian ships postgresql.conf mode 0644 so that every user can read the \
     cluster's port; at 0600, for users other than root and the cluster owner, pg_lsclusters shows the port, \
     owner, data directory and log file as <unknown>, and psql without -h/-p (or PGHOST/PGPORT) stops with \
     \"Error: Invalid data directory for cluster\", so those users must name the socket or port themselves";

/// What to apply.
#[derive(Debug)]
pub struct Request {
    /// The TLS files to install (from a pgharden PKI, or another CA's files).
    pub tls: Material,
    /// The settings the profile wants (timeouts, the pg_hba.conf rules and roles to allow).
    pub profile: ProfileOptions,
}

/// A file to write.
#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    /// Absolute path of the file.
    pub path: PathBuf,
    /// What the file is for, in words ("client authentication", "server settings", "permissions
    /// only", ...).
    pub what: String,
    /// The mode the file gets.
    pub mode: u32,
    /// The mode the file has now (`None`: a new file).
    pub from_mode: Option<u32>,
    /// A unified diff for text files; a one-line summary for keys and certificates.
    pub diff: String,
    #[serde(skip)]
    /// The bytes to write; not serialised (keys must not appear in `--plan --json`).
    pub contents: Vec<u8>,
}

/// A configuration parameter to change.
#[derive(Debug, Clone, Serialize)]
pub struct SettingChange {
    /// The parameter's name.
    pub name: String,
    /// The value in force now; `None` when it is not set (the built-in default applies).
    pub from: Option<String>,
    /// The value the profile wants, as postgresql.conf spells it.
    pub to: String,
    /// The configuration file the new value goes to: the one that sets it now, else postgresql.conf.
    pub file: PathBuf,
    /// Whether the parameter only takes effect after a restart.
    pub restart: bool,
    /// Why the profile wants it (the STIG requirement), in words.
    pub why: String,
    /// Which live values confirm the change (those the profile accepts in place of `to`).
    #[serde(skip)]
    pub accept: Accept,
}

/// A statement to run once the configuration is in force.
#[derive(Debug, Clone, Serialize)]
pub struct SqlAction {
    /// The database to run it in.
    pub database: String,
    /// The statement.
    pub statement: String,
    /// Why the profile wants it, in words.
    pub why: String,
}

/// Everything `apply` would do.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Version of this serialised form (`--plan --json`); 1 today.
    pub format: u32,
    /// The cluster the plan is for, as discovered.
    pub cluster: Cluster,
    /// Files to write, in order.
    pub files: Vec<FileChange>,
    /// Configuration parameters to change.
    pub settings: Vec<SettingChange>,
    /// Statements to run once the new configuration is in force.
    pub sql: Vec<SqlAction>,
    /// Whether the server must restart (and why), else a reload is enough.
    pub restart: Option<String>,
    /// Things the operator should know that change nothing (e.g. a setting overridden elsewhere).
    pub notes: Vec<String>,
    /// What of the profile this plan cannot put in place (pgaudit not installed): with any, the
    /// cluster does not have the profile however the files end up.
    pub unmet: Vec<Unmet>,
    /// The Debian conventions this plan keeps on a Debian cluster, each with the audit rules it
    /// costs (empty elsewhere).
    pub debian_conventions: Vec<Convention>,
    /// The protection level the plan is for, with the audit rules it fails; `None` for a plan of
    /// the TLS files alone (renew), which leaves pg_hba.conf as it is.
    pub level: Option<LevelSummary>,
    /// The tag of the backups the files' old versions are kept under (`FILE.pgharden-TAG`): `None`,
    /// a timestamp (apply keeps every version); a fixed tag keeps only the latest (renew, which runs
    /// on a timer, must not pile up old keys).
    #[serde(skip)]
    pub backup_tag: Option<String>,
}

/// A flat list of changes, for `--plan --json` consumers: empty when there is nothing to do.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// "file", "setting" or "sql".
    pub kind: &'static str,
    /// The file path, the parameter name, or the database.
    pub target: String,
    /// What changes: the file's purpose, `old -> new`, or the statement.
    pub detail: String,
}

impl Plan {
    /// Whether nothing would change. An empty plan may still leave parts of the profile unmet
    /// ([`Plan::unmet`]).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.settings.is_empty() && self.sql.is_empty()
    }

    /// What of the profile cannot be put in place, whatever is applied; empty when the plan (once
    /// applied) gives the whole profile.
    pub fn unmet(&self) -> &[Unmet] {
        &self.unmet
    }

    /// Every unmet part as text (`NOT MET: …` blocks), empty when there is none.
    pub fn render_unmet(&self) -> String {
        self.unmet.iter().map(Unmet::render).collect()
    }

    /// Every change as one list.
    pub fn changes(&self) -> Vec<Change> {
        let mut out: Vec<Change> = self
            .files
            .iter()
            .map(|f| Change { kind: "file", target: f.path.display().to_string(), detail: f.what.clone() })
            .collect();
        out.extend(self.settings.iter().map(|s| Change {
            kind: "setting",
            target: s.name.clone(),
            detail: format!("{} -> {}", s.from.as_deref().unwrap_or("(default)"), s.to),
        }));
        out.extend(self.sql.iter().map(|a| Change {
            kind: "sql",
            target: a.database.clone(),
            detail: a.statement.clone(),
        }));
        out
    }
}

/// Compute the plan. `pki`, when the certificates come from one, gives the pg_ident.conf lines of
/// client certificates whose CN is not their role. `sql` is a connection to the running server as a
/// superuser (needed to know which parameters need a restart, and which extensions exist); `sql_in`
/// opens one to another database for the per-database extension checks.
pub fn plan(
    cluster: &Cluster,
    files: &Files,
    pki: Option<&Pki>,
    req: &Request,
    sql: Option<&mut dyn Sql>,
    sql_in: &mut dyn FnMut(&str) -> Result<Box<dyn Sql>>,
) -> Result<Plan> {
    let mut notes = Vec::new();
    let mut profile = req.profile.clone();
    profile.pgaudit_installed = cluster.extensions.pgaudit;
    let layout = crate::discover::debian_layout(cluster, files);
    let keep = layout.is_some() && profile.debian_conventions;
    profile.log_file = debian::log_file(layout.as_ref(), &profile);
    let mut unmet = Vec::new();
    if !cluster.extensions.pgaudit {
        unmet.push(Unmet::pgaudit(cluster.major));
    }
    let protection = tls::protection(cluster, files, &req.tls)?;
    let mut changes = tls::tls_files(cluster, files, &req.tls, protection.as_ref())?;
    let mut wanted = wanted_settings(cluster, files, &profile)?;
    if let Some(p) = &protection {
        wanted.extend(profile::passphrase_settings(&p.command));
    }
    let (conf_files, mut settings) = conf_changes(cluster, files, &wanted, keep)?;
    changes.extend(conf_files);
    let owner_role = match sql {
        Some(sql) => {
            let (stale, overridden) = live::not_in_force(sql, cluster, &wanted, &settings)?;
            settings.extend(stale);
            notes.extend(overridden);
            sql.value("SELECT rolname FROM pg_roles WHERE oid = 10")?.unwrap_or(cluster.owner.name.clone())
        }
        None => cluster.owner.name.clone(),
    };
    changes.extend(auth::hba_change(cluster, files, &profile, &owner_role)?);
    changes.extend(auth::ident_change(cluster, files, pki, profile.level)?);
    for path in [&cluster.config_file, &cluster.hba_file, &cluster.ident_file] {
        if !changes.iter().any(|c| &c.path == path) {
            changes.extend(mode_change(cluster, files, path, keep)?);
        }
    }
    notes.extend(tls::legacy_note(cluster, files, &settings)?);
    notes.extend(tls::encryption_note(cluster, files, protection.as_ref())?);
    let config_mode = match changes.iter().find(|c| c.path == cluster.config_file) {
        Some(c) => c.mode,
        None => mode_now(files, &cluster.config_file)?.unwrap_or(FILE_MODE),
    };
    if cluster.debian
        && changes
            .iter()
            .any(|c| c.path == cluster.config_file && c.mode == FILE_MODE && c.from_mode != Some(FILE_MODE))
    {
        notes.push(DEBIAN_MODE_NOTE.to_string());
    }
    let debian_conventions = debian::conventions(layout.as_ref(), config_mode, profile.log_file.as_ref());
    for change in &changes {
        files.check_target(&change.path)?;
    }
    let sql_actions =
        if cluster.postmaster.is_some() { databases::database_actions(cluster, sql_in)? } else { Vec::new() };
    let restart = settings.iter().filter(|s| s.restart).map(|s| s.name.clone()).collect::<Vec<_>>();
    let restart =
        (!restart.is_empty()).then(|| format!("{} can only change at server start", restart.join(", ")));
    Ok(Plan {
        format: 1,
        cluster: cluster.clone(),
        files: changes,
        settings,
        sql: sql_actions,
        restart,
        notes,
        unmet,
        debian_conventions,
        level: Some(profile.level.summary()),
        backup_tag: None,
    })
}

/// The profile's settings for this cluster (its own preload list kept, with pgaudit added).
fn wanted_settings(cluster: &Cluster, files: &Files, profile_opts: &ProfileOptions) -> Result<Vec<Wanted>> {
    let mut wanted = profile::settings(profile_opts, cluster.major);
    if !profile_opts.pgaudit_installed {
        return Ok(wanted);
    }
    let tree = ConfTree::load_with_auto_conf_from(&cluster.config_file, &cluster.auto_conf, files)
        .map_err(|e| Error::bad(&cluster.config_file, e.to_string()))?;
    let current = tree.get("shared_preload_libraries").unwrap_or_default().to_string();
    // When the file already preloads pgaudit, the wanted value is the file's own, so that a
    // server not yet restarted onto it is still noticed.
    let value = profile::preload_with_pgaudit(&current)
        .unwrap_or_else(|| format!("'{}'", current.replace('\'', "''")));
    wanted.push(Wanted::new("shared_preload_libraries", value, "Appendix B: pgaudit must be preloaded"));
    Ok(wanted)
}

/// postgresql.conf (and whatever file holds the winning line) edits, and the settings they change.
/// `keep_debian`: a Debian postgresql.conf keeps its mode (see [`debian::file_mode`]).
pub(crate) fn conf_changes(
    cluster: &Cluster,
    files: &Files,
    wanted: &[Wanted],
    keep_debian: bool,
) -> Result<(Vec<FileChange>, Vec<SettingChange>)> {
    let tree = ConfTree::load_with_auto_conf_from(&cluster.config_file, &cluster.auto_conf, files)
        .map_err(|e| Error::bad(&cluster.config_file, e.to_string()))?;
    let mut edits: Vec<(PathBuf, String, Value, SettingChange)> = Vec::new();
    for w in wanted {
        let resolution = tree.resolve(w.name);
        let current = resolution.as_ref().map(|r| r.winner.setting.value().to_string());
        if current.as_deref().is_some_and(|c| satisfies(w.accept, w.name, c, &decoded(&w.value))) {
            continue;
        }
        // What is there may be kept in part (a log_connections that logs more than the profile's).
        let to = compare::raised(w.accept, current.as_deref(), &w.value);
        let value = Value::raw(&to).map_err(|e| Error::bad(&cluster.config_file, e.to_string()))?;
        let file =
            resolution.as_ref().map(|r| r.winner.file.to_path_buf()).unwrap_or(cluster.config_file.clone());
        let change = SettingChange {
            name: w.name.to_string(),
            from: current,
            to,
            file: file.clone(),
            restart: RESTART_SETTINGS.contains(&w.name),
            why: w.why.to_string(),
            accept: w.accept,
        };
        edits.push((file, w.name.to_string(), value, change));
    }
    let mut conf_files: Vec<ConfFile> = tree.into_files();
    let mut changed_paths: Vec<PathBuf> = Vec::new();
    let mut settings = Vec::new();
    for (path, name, value, change) in edits {
        let file =
            conf_files.iter_mut().find(|f| f.path() == path).ok_or_else(|| Error::bad(&path, "not read"))?;
        file.set(&name, &value).map_err(|e| Error::bad(&path, e.to_string()))?;
        if !changed_paths.contains(&path) {
            changed_paths.push(path);
        }
        settings.push(change);
    }
    let mut out = Vec::new();
    for path in changed_paths {
        files.check_target(&path)?;
        let old = String::from_utf8_lossy(&files.read(&path)?).into_owned();
        let new = conf_files.iter().find(|f| f.path() == path).map(ToString::to_string).unwrap_or_default();
        let from_mode = mode_now(files, &path)?;
        let mode = debian::file_mode(cluster, keep_debian, &path, from_mode);
        out.push(text_change(&path, "server settings", &old, new, from_mode, mode));
    }
    Ok((out, settings))
}

/// The mode a file has now (`None`: there is none). Whatever it is, apply writes it [`FILE_MODE`].
fn mode_now(files: &Files, path: &Path) -> Result<Option<u32>> {
    Ok(files.stat(path, false)?.map(|m| m.mode & 0o777))
}

fn text_change(
    path: &Path,
    what: &str,
    old: &str,
    new: String,
    from_mode: Option<u32>,
    mode: u32,
) -> FileChange {
    let diff = similar::TextDiff::from_lines(old, new.as_str())
        .unified_diff()
        .context_radius(2)
        .header(&path.display().to_string(), &format!("{} (pgharden)", path.display()))
        .to_string();
    FileChange {
        path: path.to_path_buf(),
        what: what.to_string(),
        mode,
        from_mode,
        diff,
        contents: new.into_bytes(),
    }
}

/// A configuration file whose contents are right but whose mode or owner is not: rewritten with the
/// same contents, mode [`FILE_MODE`] (a Debian postgresql.conf whose conventions are kept: see
/// [`debian::file_mode`]), owned by the cluster owner. Nothing when it is absent (a missing
/// pg_ident.conf is the ident step's to create).
fn mode_change(
    cluster: &Cluster,
    files: &Files,
    path: &Path,
    keep_debian: bool,
) -> Result<Option<FileChange>> {
    let Some(meta) = files.stat(path, false)? else { return Ok(None) };
    let mode = meta.mode & 0o777;
    let wanted = debian::file_mode(cluster, keep_debian, path, Some(mode));
    if mode == wanted && meta.uid == cluster.owner.uid {
        return Ok(None);
    }
    let diff =
        if mode == wanted { "  (owner corrected; contents unchanged)\n" } else { "  (contents unchanged)\n" };
    Ok(Some(FileChange {
        path: path.to_path_buf(),
        what: "permissions only".to_string(),
        mode: wanted,
        from_mode: Some(mode),
        diff: diff.to_string(),
        contents: files.read(path)?,
    }))
}
