//! The plan: every file, setting and SQL statement `apply` would change, computed without changing
//! anything, so a person can review it (`--plan`) and a second `apply` can prove it has nothing left
//! to do (an empty plan).
//!
//! Owns: comparing the cluster with the `stig` profile — TLS files in PGDATA, postgresql.conf (edited
//! where the winning line is, auto.conf included), pg_hba.conf (mutual TLS lines first, every other
//! line commented out, never deleted), pg_ident.conf (the `pgharden` map), and the extensions of
//! Appendices B and E — and rendering the differences as unified diffs.
//! Every file of the cluster is read as its owner ([`Files`]); every file the plan would write is
//! checked here already — inside PGDATA, the configuration directory or a directory the operator
//! named, and a regular file or nothing (never a symbolic link) — so `--plan` shows the refusal.
//! Must not: write files or run SQL that changes anything (that is `execute`).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use pgharden_conf::Token;
use pgharden_conf::hba::{AuthOption, ConnType, HbaFile, Method, Position, RuleSpec};
use pgharden_conf::ident::IdentFile;
use pgharden_conf::postgresql_conf::{ConfFile, ConfTree, Value};
use pgharden_pki::{Kind, Pki, Status};
use serde::Serialize;

use crate::discover::Cluster;
use crate::error::{Error, Result};
use crate::files::Files;
use crate::profile::{self, IDENT_MAP, ProfileOptions, Wanted};
use crate::sql::{Sql, ident};

/// Parameters whose change needs a restart (context `postmaster`), for when no server can be asked.
const RESTART_SETTINGS: &[&str] = &["logging_collector", "shared_preload_libraries"];

/// What to apply.
#[derive(Debug, Clone)]
pub struct Request {
    pub pki: PathBuf,
    /// Host names clients use; the server certificate must carry them all.
    pub hosts: Vec<String>,
    pub profile: ProfileOptions,
}

/// A file to write.
#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    pub path: PathBuf,
    pub what: String,
    pub mode: u32,
    /// A unified diff for text files; a one-line summary for keys and certificates.
    pub diff: String,
    #[serde(skip)]
    pub contents: Vec<u8>,
}

/// A configuration parameter to change.
#[derive(Debug, Clone, Serialize)]
pub struct SettingChange {
    pub name: String,
    pub from: Option<String>,
    pub to: String,
    pub file: PathBuf,
    pub restart: bool,
    pub why: String,
}

/// A statement to run once the configuration is in force.
#[derive(Debug, Clone, Serialize)]
pub struct SqlAction {
    pub database: String,
    pub statement: String,
    pub why: String,
}

/// Everything `apply` would do.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub format: u32,
    pub cluster: Cluster,
    pub files: Vec<FileChange>,
    pub settings: Vec<SettingChange>,
    pub sql: Vec<SqlAction>,
    /// Whether the server must restart (and why), else a reload is enough.
    pub restart: Option<String>,
    pub notes: Vec<String>,
}

/// A flat list of changes, for `--plan --json` consumers: empty when there is nothing to do.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub kind: &'static str,
    pub target: String,
    pub detail: String,
}

impl Plan {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.settings.is_empty() && self.sql.is_empty()
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

    /// The plan in words and diffs. Everything that came from the cluster's files or catalogs is
    /// escaped ([`pgharden_text`]): the owner writes those files, and a plan a DBA reviews must not
    /// be redrawn by escape sequences or faked by a line break in a value.
    pub fn render_text(&self) -> String {
        use pgharden_text::{block, line};
        let path = |p: &Path| line(&p.display().to_string()).into_owned();
        if self.is_empty() {
            return format!(
                "Nothing to change: {} already has the stig profile.\n",
                path(&self.cluster.data_dir)
            );
        }
        let mut out = format!(
            "Plan for the cluster in {} (PostgreSQL {}, owner {}):\n",
            path(&self.cluster.data_dir),
            self.cluster.major,
            line(&self.cluster.owner.name)
        );
        if !self.settings.is_empty() {
            out.push_str("\nSettings:\n");
            for s in &self.settings {
                let when = if s.restart { "restart" } else { "reload" };
                out.push_str(&format!(
                    "  {:<28} {} -> {}  [{when}; {}]\n",
                    line(&s.name),
                    line(s.from.as_deref().unwrap_or("(default)")),
                    line(&s.to),
                    line(&s.why)
                ));
            }
        }
        for f in &self.files {
            out.push_str(&format!(
                "\n{} ({}, mode {:04o}):\n{}",
                path(&f.path),
                line(&f.what),
                f.mode,
                block(&f.diff)
            ));
            if !f.diff.ends_with('\n') {
                out.push('\n');
            }
        }
        if !self.sql.is_empty() {
            out.push_str("\nSQL:\n");
            for a in &self.sql {
                out.push_str(&format!(
                    "  [{}] {}  -- {}\n",
                    line(&a.database),
                    line(&a.statement),
                    line(&a.why)
                ));
            }
        }
        out.push_str(&match &self.restart {
            Some(why) => format!("\nThe server will be restarted: {}.\n", line(why)),
            None => "\nThe server will be reloaded (no restart needed).\n".to_string(),
        });
        for n in &self.notes {
            out.push_str(&format!("Note: {}\n", line(n)));
        }
        out
    }
}

/// Compute the plan. `sql` is a connection to the running server as a superuser (needed to know
/// which parameters need a restart, and which extensions exist); `sql_in` opens one to another
/// database for the per-database extension checks.
pub fn plan(
    cluster: &Cluster,
    files: &Files,
    pki: &Pki,
    req: &Request,
    sql: Option<&mut dyn Sql>,
    sql_in: &mut dyn FnMut(&str) -> Result<Box<dyn Sql>>,
) -> Result<Plan> {
    let mut notes = Vec::new();
    let mut profile = req.profile.clone();
    profile.pgaudit_installed = cluster.extensions.pgaudit;
    if !cluster.extensions.pgaudit {
        notes.push(format!(
            "pgaudit is not installed, so Appendix B is skipped: install it (Debian: apt-get install postgresql-{0}-pgaudit; \
             RHEL: dnf install pgaudit_{0}) and run apply again",
            cluster.major
        ));
    }
    let mut changes = tls_files(cluster, files, pki, &req.hosts)?;
    let (conf_files, mut settings, wanted) = conf_changes(cluster, files, &profile)?;
    changes.extend(conf_files);
    let owner_role = match sql {
        Some(sql) => {
            settings.extend(not_in_force(sql, cluster, &wanted, &settings)?);
            sql.value("SELECT rolname FROM pg_roles WHERE oid = 10")?.unwrap_or(cluster.owner.name.clone())
        }
        None => cluster.owner.name.clone(),
    };
    changes.extend(hba_change(cluster, files, &profile, &owner_role)?);
    changes.extend(ident_change(cluster, files, pki)?);
    for change in &changes {
        files.check_target(&change.path)?;
    }
    let sql_actions =
        if cluster.postmaster.is_some() { extension_actions(cluster, sql_in)? } else { Vec::new() };
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
    })
}

/// The server certificate (leaf + intermediate), its key, the CAs a client may chain to, and every
/// CRL, in PGDATA under the names the profile's `ssl_*` settings use.
fn tls_files(cluster: &Cluster, files: &Files, pki: &Pki, hosts: &[String]) -> Result<Vec<FileChange>> {
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
            meta.as_ref().is_some_and(|m| m.uid == cluster.owner.uid && m.mode & 0o777 == 0o600);
        if current.as_deref() == Some(contents.as_slice()) && right_owner {
            continue;
        }
        let diff = match (&current, name == profile::SERVER_KEY) {
            (None, _) => "  (new file)\n".to_string(),
            (Some(old), _) if old == &contents => "  (owner or mode corrected)\n".to_string(),
            (Some(_), true) => "  (key replaced; contents not shown)\n".to_string(),
            (Some(old), false) => pem_summary_diff(old, &contents),
        };
        out.push(FileChange { path, what: what.into(), mode: 0o600, diff, contents });
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

/// postgresql.conf (and whatever file holds the winning line) edits, and the settings they change.
fn conf_changes(
    cluster: &Cluster,
    files: &Files,
    profile_opts: &ProfileOptions,
) -> Result<(Vec<FileChange>, Vec<SettingChange>, Vec<Wanted>)> {
    let tree = ConfTree::load_with_auto_conf_from(&cluster.config_file, &cluster.auto_conf, files)
        .map_err(|e| Error::bad(&cluster.config_file, e.to_string()))?;
    let mut wanted = profile::settings(profile_opts, cluster.major);
    if profile_opts.pgaudit_installed {
        let current = tree.get("shared_preload_libraries").unwrap_or_default().to_string();
        // When the file already preloads pgaudit, the wanted value is the file's own, so that a
        // server not yet restarted onto it is still noticed.
        let value = profile::preload_with_pgaudit(&current)
            .unwrap_or_else(|| format!("'{}'", current.replace('\'', "''")));
        wanted.push(Wanted {
            name: "shared_preload_libraries",
            value,
            why: "Appendix B: pgaudit must be preloaded",
        });
    }
    let mut edits: Vec<(PathBuf, String, Value, SettingChange)> = Vec::new();
    for w in &wanted {
        let value = Value::raw(&w.value).map_err(|e| Error::bad(&cluster.config_file, e.to_string()))?;
        let resolution = tree.resolve(w.name);
        let current = resolution.as_ref().map(|r| r.winner.setting.value().to_string());
        if current.as_deref().is_some_and(|c| same_value(c, &value.decoded())) {
            continue;
        }
        let file =
            resolution.as_ref().map(|r| r.winner.file.to_path_buf()).unwrap_or(cluster.config_file.clone());
        let change = SettingChange {
            name: w.name.to_string(),
            from: current,
            to: w.value.clone(),
            file: file.clone(),
            restart: RESTART_SETTINGS.contains(&w.name),
            why: w.why.to_string(),
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
        out.push(text_change(&path, "server settings", &old, new, mode_of(files, &path)?));
    }
    Ok((out, settings, wanted))
}

/// Settings the files already have right but the server does not run with: an earlier apply was
/// interrupted before its reload or restart, or someone edited the files by hand. They need the
/// reload or restart all the same.
fn not_in_force(
    sql: &mut dyn Sql,
    cluster: &Cluster,
    wanted: &[Wanted],
    changing: &[SettingChange],
) -> Result<Vec<SettingChange>> {
    let mut out = Vec::new();
    for w in wanted.iter().filter(|w| !changing.iter().any(|c| c.name == w.name)) {
        let row = sql.query(&format!(
            "SELECT current_setting(name), context FROM pg_settings WHERE name = {}",
            crate::sql::literal(w.name)
        ))?;
        let Some(row) = row.into_iter().next() else { continue };
        let live = row.first().cloned().flatten().unwrap_or_default();
        let decoded = Value::raw(&w.value).map(|v| v.decoded()).unwrap_or(w.value.clone());
        if same_value(&live, &decoded) {
            continue;
        }
        out.push(SettingChange {
            name: w.name.to_string(),
            from: Some(live),
            to: w.value.clone(),
            file: cluster.config_file.clone(),
            restart: row.get(1).cloned().flatten().as_deref() == Some("postmaster"),
            why: format!("already in the files, not yet in force ({})", w.why),
        });
    }
    Ok(out)
}

/// Values compared as the server would: quotes already removed, case-insensitive for keywords.
pub(crate) fn same_value(current: &str, wanted: &str) -> bool {
    let norm = |s: &str| {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "true" | "yes" | "1" | "on" => "on".to_string(),
            "false" | "no" | "0" | "off" => "off".to_string(),
            _ => s,
        }
    };
    norm(current) == norm(wanted)
}

/// The mode a rewritten file keeps: its current one, or 0600 for a new file.
fn mode_of(files: &Files, path: &Path) -> Result<u32> {
    Ok(files.stat(path, false)?.map_or(0o600, |m| m.mode & 0o777))
}

fn text_change(path: &Path, what: &str, old: &str, new: String, mode: u32) -> FileChange {
    let diff = similar::TextDiff::from_lines(old, new.as_str())
        .unified_diff()
        .context_radius(2)
        .header(&path.display().to_string(), &format!("{} (pgharden)", path.display()))
        .to_string();
    FileChange { path: path.to_path_buf(), what: what.to_string(), mode, diff, contents: new.into_bytes() }
}

/// The rules of the profile, as pg_hba.conf lines.
pub fn hba_specs(opts: &ProfileOptions, owner_role: &str) -> Vec<RuleSpec> {
    let cert_options = vec![
        AuthOption { name: "clientcert".into(), value: "verify-full".into() },
        AuthOption { name: "map".into(), value: IDENT_MAP.into() },
    ];
    let mut specs = vec![RuleSpec {
        conn_type: ConnType::Local,
        databases: vec![Token::keyword("all")],
        users: vec![Token::literal(owner_role)],
        address: None,
        method: Method::Peer,
        options: vec![],
    }];
    for net in &opts.allow {
        for db in ["all", "replication"] {
            specs.push(RuleSpec {
                conn_type: ConnType::HostSsl,
                databases: vec![Token::keyword(db)],
                users: vec![Token::keyword("all")],
                address: Some(net.clone()),
                method: Method::Cert,
                options: cert_options.clone(),
            });
        }
    }
    for net in ["0.0.0.0/0", "::/0"] {
        specs.push(RuleSpec {
            conn_type: ConnType::HostNoSsl,
            databases: vec![Token::keyword("all")],
            users: vec![Token::keyword("all")],
            address: Some(net.into()),
            method: Method::Reject,
            options: vec![],
        });
    }
    specs
}

/// pg_hba.conf: the profile's lines first; every other active line commented out (kept for the
/// record), so the file is a fixpoint: a second run finds exactly the profile's lines active.
fn hba_change(
    cluster: &Cluster,
    files: &Files,
    opts: &ProfileOptions,
    owner_role: &str,
) -> Result<Option<FileChange>> {
    let mut hba = HbaFile::load_from(&cluster.hba_file, files)
        .map_err(|e| Error::bad(&cluster.hba_file, e.to_string()))?;
    let specs = hba_specs(opts, owner_role);
    let wanted: Vec<String> = specs.iter().map(RuleSpec::render).collect();
    let text = hba.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let active: Vec<String> = hba
        .records()
        .iter()
        .map(|r| lines.get(r.at().line - 1).map(|l| l.trim_end().to_string()).unwrap_or_default())
        .collect();
    if active == wanted {
        return Ok(None);
    }
    // New lines go where the first old record was (after the file's header comments); the old
    // records, now N lines further down, are commented out in place.
    let old_records: Vec<_> = hba.records().iter().map(|r| r.at().clone()).collect();
    for spec in specs.iter().rev() {
        let pos = if hba.records().is_empty() { Position::End } else { Position::Top };
        hba.insert(pos, spec).map_err(|e| Error::bad(&cluster.hba_file, e.to_string()))?;
    }
    for mut at in old_records {
        at.line += specs.len();
        at.last_line += specs.len();
        hba.disable(&at).map_err(|e| Error::bad(&cluster.hba_file, e.to_string()))?;
    }
    let problems: Vec<String> = hba.validate(cluster.major).iter().map(ToString::to_string).collect();
    if !problems.is_empty() {
        return Err(Error::Rejected {
            reason: format!("the new pg_hba.conf would be refused: {}", problems.join("; ")),
        });
    }
    Ok(Some(text_change(
        &cluster.hba_file,
        "client authentication",
        &text,
        hba.to_string(),
        mode_of(files, &cluster.hba_file)?,
    )))
}

/// pg_ident.conf: the `pgharden` map holds exactly the profile's lines; other maps are untouched.
fn ident_change(cluster: &Cluster, files: &Files, pki: &Pki) -> Result<Option<FileChange>> {
    let path = &cluster.ident_file;
    // PostgreSQL starts without a pg_ident.conf; any other failure to read it is an error.
    let old = files.read_text_if_exists(path)?.unwrap_or_default();
    let mut ident = IdentFile::parse(&old, path);
    let mut wanted: Vec<(Token, Token)> = vec![(Token::regex("^(.*)$"), Token::literal("\\1"))];
    for l in pki.list() {
        if l.entry.kind != Kind::Client || !matches!(l.status, Status::Valid) {
            continue;
        }
        let (Some(role), Some(cn)) = (l.entry.role.clone(), common_name(&l.entry.subject)) else { continue };
        let pair = (Token::literal(&cn), Token::literal(&role));
        if cn != role && !wanted.contains(&pair) {
            wanted.push(pair);
        }
    }
    let current: Vec<(Token, Token)> =
        ident.mappings().filter(|m| m.map == IDENT_MAP).map(|m| (m.system.clone(), m.role.clone())).collect();
    if current == wanted {
        return Ok(None);
    }
    for (system, role) in &current {
        ident.remove(IDENT_MAP, system, role);
    }
    for (system, role) in &wanted {
        ident.add(IDENT_MAP, system, role).map_err(|e| Error::bad(path, e.to_string()))?;
    }
    let problems: Vec<String> = ident.validate(cluster.major).iter().map(ToString::to_string).collect();
    if !problems.is_empty() {
        return Err(Error::Rejected {
            reason: format!("the new pg_ident.conf would be refused: {}", problems.join("; ")),
        });
    }
    Ok(Some(text_change(
        path,
        "certificate name to role map",
        &old,
        ident.to_string(),
        mode_of(files, path)?,
    )))
}

/// The CN of an RFC 4514 subject such as `CN=bob,O=Example`.
fn common_name(subject: &str) -> Option<String> {
    subject.split(',').find_map(|rdn| rdn.trim().strip_prefix("CN=")).map(|cn| cn.replace("\\,", ","))
}

/// Appendix E (pgcrypto) and B (pgaudit): the extension in every database that accepts
/// connections, and in template1 so new databases get it.
fn extension_actions(
    cluster: &Cluster,
    sql_in: &mut dyn FnMut(&str) -> Result<Box<dyn Sql>>,
) -> Result<Vec<SqlAction>> {
    let mut wanted = Vec::new();
    if cluster.extensions.pgcrypto {
        wanted.push(("pgcrypto", "Appendix E: cryptographic functions for data at rest"));
    }
    if cluster.extensions.pgaudit {
        wanted.push(("pgaudit", "Appendix B: session and object audit logging"));
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut postgres = sql_in("postgres")?;
    let databases: Vec<String> = postgres
        .query("SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname")?
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect();
    let mut out = Vec::new();
    for db in databases {
        let mut conn = sql_in(&db)?;
        for (ext, why) in &wanted {
            let present =
                conn.value(&format!("SELECT 1 FROM pg_extension WHERE extname = '{ext}'"))?.is_some();
            if !present {
                out.push(SqlAction {
                    database: db.clone(),
                    statement: format!("CREATE EXTENSION IF NOT EXISTS {}", ident(ext)),
                    why: why.to_string(),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_compare_as_the_server_reads_them() {
        assert!(same_value("true", "on"));
        assert!(same_value("TLSv1.2", "tlsv1.2"));
        assert!(!same_value("md5", "scram-sha-256"));
    }

    #[test]
    fn common_names_come_out_of_rfc4514_subjects() {
        assert_eq!(common_name("CN=bob@ssl-test.com,O=Example"), Some("bob@ssl-test.com".into()));
        assert_eq!(common_name("O=Example"), None);
    }

    #[test]
    fn hba_specs_render_the_profile() {
        let lines: Vec<String> =
            hba_specs(&ProfileOptions::default(), "postgres").iter().map(RuleSpec::render).collect();
        assert!(lines[0].starts_with("local") && lines[0].ends_with("peer"), "{lines:?}");
        assert!(lines.iter().any(|l| l.contains("clientcert=verify-full") && l.contains("map=pgharden")));
        assert!(lines.last().unwrap().contains("reject"));
    }
}
