//! Carrying out a plan, safely.
//!
//! Owns the order that keeps a cluster working:
//! 1. write every file atomically, owned by the cluster owner, keeping the old version;
//! 2. ask the running server whether it accepts the files (`pg_file_settings`, `pg_hba_file_rules`,
//!    `pg_ident_file_mappings` errors) before it loads them;
//! 3. reload, or restart when a parameter needs it — and confirm: the reload took (the server log
//!    must not say "was not reloaded" / "contains errors"), every wanted value is in force;
//! 4. run the SQL (extensions) once the configuration is live.
//!
//! Any failure puts every file back and reloads or restarts the server on its old configuration,
//! and the error says what failed and what was restored. Every file operation, the log read and the
//! reload signal are done as the cluster owner ([`Files`]); server tools run as the owner with a
//! clean environment. Must not: decide what to change.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::discover::Cluster;
use crate::error::{Error, Result};
use crate::files::{Files, Journal};
use crate::plan::Plan;
use crate::sql::Sql;

/// The most of the server log read after a reload (only what it wrote since).
const MAX_LOG_READ: u64 = 4 << 20;

/// Where the server's early output goes when pgharden restarts it with pg_ctl (inside PGDATA,
/// owned by the cluster owner, like the server's own logs).
pub const PG_CTL_LOG: &str = "pgharden-pg_ctl.log";

/// The most of [`PG_CTL_LOG`] read after a failed start (only what that start wrote).
const MAX_START_LOG_READ: u64 = 1 << 20;

/// The most of the server's FATAL and PANIC lines quoted when a start fails.
const MAX_QUOTED_LINES: usize = 5;

/// What an apply did.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// The files written, in order.
    pub files: Vec<PathBuf>,
    /// Where their previous versions were copied (`FILE.pgharden-TAG`), for the user to keep or remove.
    pub backups: Vec<PathBuf>,
    /// Whether the server was restarted onto the new configuration.
    pub restarted: bool,
    /// Whether the server was reloaded (instead of restarted).
    pub reloaded: bool,
    /// The statements run after the configuration took effect, each as `[database] statement`.
    pub sql: Vec<String>,
    /// What could not be confirmed, for the operator to look at (e.g. an unreadable server log).
    pub warnings: Vec<String>,
}

/// Connections an apply needs: one for checks, and new ones after a restart or per database.
pub trait Connector {
    /// A connection to `dbname` as the superuser the apply runs as.
    fn connect(&mut self, dbname: &str) -> Result<Box<dyn Sql>>;
}

impl<F: FnMut(&str) -> Result<Box<dyn Sql>>> Connector for F {
    fn connect(&mut self, dbname: &str) -> Result<Box<dyn Sql>> {
        self(dbname)
    }
}

/// Carry out `plan` on the running cluster.
pub fn execute(
    cluster: &Cluster,
    files: &Files,
    plan: &Plan,
    connector: &mut dyn Connector,
) -> Result<Applied> {
    execute_proven(cluster, files, plan, connector, &mut || Ok(()))
}

/// [`execute`], with a proof run once the server has reloaded or restarted onto the new files (a
/// handshake that shows the new certificate, say): if it fails, everything is undone as for any
/// other failure.
pub fn execute_proven(
    cluster: &Cluster,
    files: &Files,
    plan: &Plan,
    connector: &mut dyn Connector,
    prove: &mut dyn FnMut() -> Result<()>,
) -> Result<Applied> {
    if cluster.postmaster.is_none() {
        return Err(Error::bad(
            &cluster.data_dir,
            "the server is not running; apply validates with the live server, so start it first",
        ));
    }
    let _lock = ApplyLock::take(cluster)?;
    // The format has only numeric fields, so formatting cannot fail.
    let stamp = time::OffsetDateTime::now_utc().format(BACKUP_STAMP).unwrap_or_default();
    let mut journal = Journal::new(plan.backup_tag.clone().unwrap_or(stamp));
    let mut dirs: Vec<&Path> = plan.files.iter().filter_map(|f| f.path.parent()).collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        // Only where apply may write, and as the owner: nothing elsewhere is ever deleted.
        if files.may_write_in(dir) {
            files.actor().remove_temps(dir)?;
        }
    }
    let mut sql = connector.connect("postgres")?;
    for f in &plan.files {
        if let Err(e) = journal.replace(files, &f.path, &f.contents, f.mode) {
            return Err(undo(&mut journal, cluster, files, None, e));
        }
    }
    if let Err(e) = server_accepts_files(sql.as_mut(), cluster.major) {
        return Err(undo(&mut journal, cluster, files, None, e));
    }
    let mut warnings = Vec::new();
    let (restarted, reloaded) = if plan.files.is_empty() && plan.settings.is_empty() {
        (false, false)
    } else if plan.restart.is_some() {
        if let Err(e) = restart(cluster, files) {
            return Err(undo(&mut journal, cluster, files, Some(Recovery::Start), e));
        }
        sql = connector.connect("postgres")?;
        (true, false)
    } else {
        match reload_and_confirm(cluster, files, sql.as_mut()) {
            Ok(found) => warnings.extend(found),
            Err(e) => return Err(undo(&mut journal, cluster, files, Some(Recovery::Reload), e)),
        }
        (false, true)
    };
    let recovery = if restarted { Recovery::Restart } else { Recovery::Reload };
    match settings_in_force(sql.as_mut(), connector, plan) {
        Ok(found) => warnings.extend(found),
        Err(e) => return Err(undo(&mut journal, cluster, files, Some(recovery), e)),
    }
    if let Err(e) = prove() {
        return Err(undo(&mut journal, cluster, files, Some(recovery), e));
    }
    let mut ran = Vec::new();
    for action in &plan.sql {
        let mut conn = connector.connect(&action.database)?;
        conn.execute(&action.statement)?;
        ran.push(format!("[{}] {}", action.database, action.statement));
    }
    Ok(Applied {
        files: plan.files.iter().map(|f| f.path.clone()).collect(),
        backups: journal.backups(),
        restarted,
        reloaded,
        sql: ran,
        warnings,
    })
}

/// The suffix of a backup, `20261202T132935Z`: UTC, and sorting by name sorts by time.
const BACKUP_STAMP: &[time::format_description::FormatItem<'_>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

/// One apply at a time per cluster: an exclusive `flock` on the data directory itself, released
/// when dropped (or when the process ends, however it ends). Locking the directory creates
/// nothing, so apply leaves no file behind that its plan did not name.
struct ApplyLock(std::fs::File);

impl ApplyLock {
    fn take(cluster: &Cluster) -> Result<Self> {
        let dir = &cluster.data_dir;
        // Opened only to hold the lock: O_DIRECTORY|O_NOFOLLOW so nothing but the (canonical) data
        // directory itself is ever opened, and nothing is read through the descriptor.
        let handle = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_DIRECTORY | nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
            .open(dir)
            .map_err(|e| Error::bad(dir, format!("cannot open the data directory to lock it: {e}")))?;
        lock_exclusive(&handle).map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => {
                Error::bad(dir, "another pgharden apply is running on this cluster")
            }
            std::fs::TryLockError::Error(e) => {
                Error::bad(dir, format!("cannot lock the data directory: {e}"))
            }
        })?;
        Ok(Self(handle))
    }
}

/// The one place apply takes a file lock (`flock(LOCK_EX | LOCK_NB)` on Linux).
fn lock_exclusive(handle: &std::fs::File) -> std::result::Result<(), std::fs::TryLockError> {
    handle.try_lock()
}

impl Drop for ApplyLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

#[derive(Debug, Clone, Copy)]
enum Recovery {
    /// The server stopped: start it on the restored files.
    Start,
    Reload,
    Restart,
}

/// Put the files back and bring the server onto them; the error keeps the original cause.
fn undo(
    journal: &mut Journal,
    cluster: &Cluster,
    files: &Files,
    recovery: Option<Recovery>,
    cause: Error,
) -> Error {
    let failed = journal.roll_back(files);
    let recovered = match recovery {
        None => Ok(()),
        Some(Recovery::Start) => pg_ctl(cluster, files, "start"),
        Some(Recovery::Restart) => restart(cluster, files),
        Some(Recovery::Reload) => match &cluster.postmaster {
            Some(pm) => pm.reload(files),
            None => Err(Error::bad(&cluster.data_dir, "no postmaster to reload")),
        },
    };
    let mut outcome = "every file was restored".to_string();
    if !failed.is_empty() {
        let list: Vec<String> = failed.iter().map(|(p, e)| format!("{} ({e})", p.display())).collect();
        outcome = format!("could NOT restore {}: put the .pgharden-* backups back by hand", list.join(", "));
    }
    match recovered {
        Ok(()) if recovery.is_some() => {
            outcome.push_str(" and the server runs on its previous configuration");
        }
        Ok(()) => {}
        Err(e) => outcome.push_str(&format!("; bringing the server back failed too: {e}")),
    }
    Error::RolledBack { cause: Box::new(cause), outcome }
}

/// Reload the server onto the files as they are (nothing written), confirmed as in an apply.
pub fn reload_only(cluster: &Cluster, files: &Files, sql: &mut dyn Sql) -> Result<()> {
    if cluster.postmaster.is_none() {
        return Err(Error::bad(&cluster.data_dir, "the server is not running"));
    }
    server_accepts_files(sql, cluster.major)?;
    reload_and_confirm(cluster, files, sql).map(|_| ())
}

/// The server's own verdict on the files now on disk, before it loads them.
fn server_accepts_files(sql: &mut dyn Sql, major: u32) -> Result<()> {
    let mut problems = Vec::new();
    let mut collect = |query: &str| -> Result<()> {
        for row in sql.query(query)? {
            let cols: Vec<String> = row.into_iter().map(|c| c.unwrap_or_default()).collect();
            problems.push(cols.join(": "));
        }
        Ok(())
    };
    // A hostssl line "cannot match because SSL is disabled" until the same reload turns ssl on.
    // "could not be applied" is also what a parameter that changes only at restart shows.
    collect(
        "SELECT f.sourcefile || ':' || coalesce(f.sourceline::text, '?'), coalesce(f.name, ''), f.error \
         FROM pg_file_settings f LEFT JOIN pg_settings s ON s.name = f.name \
         WHERE f.error IS NOT NULL \
           AND NOT (f.error = 'setting could not be applied' AND s.context = 'postmaster')",
    )?;
    collect(
        "SELECT 'pg_hba.conf line ' || line_number, error FROM pg_hba_file_rules \
         WHERE error IS NOT NULL AND error <> 'hostssl record cannot match because SSL is disabled'",
    )?;
    if major >= 15 {
        collect(
            "SELECT 'pg_ident.conf line ' || line_number, error FROM pg_ident_file_mappings WHERE error IS NOT NULL",
        )?;
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Rejected {
            reason: format!("the server reports errors in the new files: {}", problems.join("; ")),
        })
    }
}

/// Reload and make sure it took: the backend sees a new load time, and the server log, when the
/// server writes one, has no "was not reloaded" or "contains errors" since. The log is read as the
/// owner, from where it ended before the reload and at most [`MAX_LOG_READ`] bytes; a log that
/// cannot be read is reported as a warning, never skipped silently.
fn reload_and_confirm(cluster: &Cluster, files: &Files, sql: &mut dyn Sql) -> Result<Vec<String>> {
    let before = sql.value("SELECT pg_conf_load_time()")?;
    let mut warnings = Vec::new();
    let log = match current_log(cluster, files, sql) {
        Ok(log) => log,
        Err(e) => {
            warnings.push(format!("the server log was not checked for a refused reload: {e}"));
            None
        }
    };
    let offset = log.as_ref().and_then(|p| files.stat(p, true).ok().flatten()).map_or(0, |m| m.len);
    sql.execute("SELECT pg_reload_conf()")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while sql.value("SELECT pg_conf_load_time()")? == before {
        if Instant::now() > deadline {
            return Err(Error::Rejected { reason: "the server did not reload within 10 seconds".into() });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Some(path) = log {
        match files.read_range(&path, offset, MAX_LOG_READ) {
            Ok(bytes) => {
                let new = String::from_utf8_lossy(&bytes);
                let bad: Vec<String> = new
                    .lines()
                    .filter(|l| {
                        l.contains("was not reloaded")
                            || l.contains("contains errors")
                            || l.contains("could not load")
                    })
                    .take(10)
                    .map(|l| pgharden_text::cut(l, 500).into_owned())
                    .collect();
                if !bad.is_empty() {
                    return Err(Error::Rejected {
                        reason: format!("{}: {}", path.display(), bad.join(" | ")),
                    });
                }
            }
            Err(e) => warnings.push(format!("the server log was not checked for a refused reload: {e}")),
        }
    }
    Ok(warnings)
}

/// The log file the server writes now, when it runs the logging collector (canonicalized as the
/// owner: `current_logfiles` is the owner's to write).
fn current_log(cluster: &Cluster, files: &Files, sql: &mut dyn Sql) -> Result<Option<PathBuf>> {
    let Some(rel) = sql.value("SELECT pg_current_logfile()")? else { return Ok(None) };
    let path = Path::new(&rel);
    let path = if path.is_absolute() { path.to_path_buf() } else { cluster.data_dir.join(path) };
    files.canonicalize(&path).map(Some)
}

/// Every setting of the plan is the server's current value and none waits for a restart. A value
/// overridden in apply's own session (`ALTER ROLE … SET`) cannot be confirmed this way: it becomes
/// a warning, not a failure that would undo files that are right. A setting that a reload gives
/// only to new sessions (context `backend` or `superuser-backend`, such as `log_connections`) is
/// read on a new connection, made when the first one needs it.
fn settings_in_force(sql: &mut dyn Sql, connector: &mut dyn Connector, plan: &Plan) -> Result<Vec<String>> {
    let mut wrong = Vec::new();
    let mut warnings = Vec::new();
    let mut fresh: Option<Box<dyn Sql>> = None;
    for s in &plan.settings {
        let mut live = crate::plan::live(sql, &s.name)?;
        if live.as_ref().is_some_and(|l| NEW_SESSIONS_ONLY.contains(&l.context.as_str())) {
            let conn = match &mut fresh {
                Some(conn) => conn,
                None => fresh.insert(connector.connect("postgres")?),
            };
            live = crate::plan::live(conn.as_mut(), &s.name)?;
        }
        let Some(live) = live else {
            wrong.push(format!("{} is unknown to the server", s.name));
            continue;
        };
        if let Some(source) = &live.overridden_by {
            warnings.push(crate::plan::overridden_note(&s.name, source));
            continue;
        }
        let wanted = crate::plan::decoded(&s.to);
        if live.pending_restart || !crate::plan::satisfies(s.accept, &s.name, &live.value, &wanted) {
            wrong.push(format!(
                "{} is {:?}, wanted {wanted:?}{}",
                s.name,
                live.value,
                if live.pending_restart { " (restart pending)" } else { "" }
            ));
        }
    }
    if wrong.is_empty() {
        Ok(warnings)
    } else {
        Err(Error::Rejected {
            reason: format!("settings not in force after the change: {}", wrong.join("; ")),
        })
    }
}

/// The `pg_settings.context` of parameters whose reloaded value only new sessions get.
const NEW_SESSIONS_ONLY: &[&str] = &["backend", "superuser-backend"];

/// Restart with the tools of the layout: `pg_ctlcluster` for Debian clusters, `pg_ctl` otherwise.
fn restart(cluster: &Cluster, files: &Files) -> Result<()> {
    pg_ctl(cluster, files, "restart")
}

/// Debian's cluster tool, run as root (it switches to the owner itself) with a clean environment.
const PG_CTLCLUSTER: &str = "/usr/bin/pg_ctlcluster";

fn pg_ctl(cluster: &Cluster, files: &Files, action: &str) -> Result<()> {
    let what = format!("pg_ctl {action}");
    if let Some((version, name, root)) = debian_cluster(cluster, files) {
        let mut c = Command::new(PG_CTLCLUSTER);
        c.env_clear().env("PATH", pgharden_privsep::CLEAN_PATH).env("LANG", "C").current_dir("/");
        // Where the cluster's configuration root is, as found from its own path (never from
        // pgharden's environment): postgresql-common reads it from this variable.
        if let Some(root) = root {
            c.env("PG_CLUSTER_CONF_ROOT", root);
        }
        c.args([&version, &name, action, "--", "-w", "-t", "120"]);
        return crate::tools::run(c, &what);
    }
    let bindir = cluster.bindir.as_ref().ok_or_else(|| {
        Error::bad(&cluster.data_dir, "cannot find pg_ctl: the server binaries' directory is unknown")
    })?;
    let log = cluster.data_dir.join(PG_CTL_LOG);
    let log_offset = files.stat(&log, false).ok().flatten().map_or(0, |m| m.len);
    let mut c = cluster.owner.command(bindir.join("pg_ctl"));
    c.arg(action);
    // `pg_ctl restart` reuses the server's last command line (postmaster.opts), which names the
    // data directory itself; a start after a failed restart must reproduce it too, or the server
    // comes back on another port or socket. pg_ctl puts its own `-D` in front of `-o`'s options, so
    // the directory goes in PGDATA instead and the command line is the last one, exactly.
    match (action == "start").then(|| last_options(&cluster.data_dir, files)).flatten() {
        Some(options) => {
            c.env("PGDATA", &cluster.data_dir).arg("-o").arg(options);
        }
        None => {
            c.arg("-D").arg(&cluster.data_dir);
        }
    }
    // Without -l the new postmaster would inherit our pipes, and we would wait for it forever.
    c.args(["-w", "-t", "120", "-s"]).arg("-l").arg(&log);
    if action == "restart" {
        c.args(["-m", "fast"]);
    }
    crate::tools::run(c, &what).map_err(|e| match e {
        Error::Command { command, output } => {
            let said = server_said(files, &log, log_offset);
            Error::StartFailed { command, output, log, said }
        }
        other => other,
    })
}

/// The FATAL and PANIC lines that a start wrote to `log` after `offset`, from the level on (the
/// line prefix is the server's own choice), at most [`MAX_QUOTED_LINES`] of them, each cut to 500
/// characters. Read as the owner, at most [`MAX_START_LOG_READ`] bytes; a log that is shorter than
/// before (replaced) is read from its start; one that cannot be read quotes nothing.
fn server_said(files: &Files, log: &Path, offset: u64) -> Vec<String> {
    let len = files.stat(log, false).ok().flatten().map_or(0, |m| m.len);
    let from = if len < offset { 0 } else { offset };
    let Ok(bytes) = files.read_range(log, from, MAX_START_LOG_READ) else { return Vec::new() };
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|l| {
            ["FATAL:", "PANIC:"].iter().filter_map(|level| l.find(level)).min().map(|at| &l[at..])
        })
        .take(MAX_QUOTED_LINES)
        .map(|l| pgharden_text::cut(l.trim_end(), 500).into_owned())
        .collect()
}

/// The arguments of the server's last start, from `PGDATA/postmaster.opts` (already shell-quoted by
/// PostgreSQL), without the program itself.
fn last_options(data_dir: &Path, files: &Files) -> Option<String> {
    let text = files.read_text_if_exists(&data_dir.join("postmaster.opts")).ok()??;
    let text = text.trim();
    let rest = text.split_once(' ').map(|(_, rest)| rest.trim().to_string())?;
    (!rest.is_empty()).then_some(rest)
}

/// `(version, name, root)` of a Debian cluster, when Debian's `pg_ctlcluster` is installed to
/// manage it; `root` is the configuration root when it is not /etc/postgresql.
fn debian_cluster(cluster: &Cluster, files: &Files) -> Option<(String, String, Option<PathBuf>)> {
    if !Path::new(PG_CTLCLUSTER).exists() {
        return None;
    }
    let layout = crate::discover::debian_layout(cluster, files)?;
    let root = (layout.conf_root != Path::new(crate::discover::DEBIAN_ETC)).then_some(layout.conf_root);
    Some((layout.version, layout.name, root))
}
