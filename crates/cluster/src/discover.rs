//! Finding a cluster: data directory, configuration files, version, owner, server state, extensions.
//!
//! Owns: the rules of Appendix F made exact — ask a running server (`SHOW data_directory`,
//! `config_file`, `hba_file`, `ident_file`), and for a stopped one read `PG_VERSION`, the
//! postmaster's command line or Debian's `/etc/postgresql/VERSION/NAME/` (where Debian keeps the
//! configuration, while RHEL and initdb keep it in PGDATA). Never guess: a path that cannot be
//! established is an error that says what was tried.
//! Must not: change anything.

use std::path::{Path, PathBuf};

use serde::Serialize;

use pgharden_privsep::{Account, FileKind};

use crate::error::{Error, Result};
use crate::files::Files;
use crate::postmaster::Postmaster;
use crate::sql::Sql;

/// Where Debian keeps cluster configuration.
pub const DEBIAN_ETC: &str = "/etc/postgresql";

/// Everything apply and audit need to know about a cluster.
#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    /// The data directory (PGDATA), absolute.
    pub data_dir: PathBuf,
    /// The `postgresql.conf` in use, as the server (or the postmaster's command line) names it.
    pub config_file: PathBuf,
    /// `pg_hba.conf`, where the server (or the configuration) says it is.
    pub hba_file: PathBuf,
    /// `pg_ident.conf`, where the server (or the configuration) says it is.
    pub ident_file: PathBuf,
    /// `postgresql.auto.conf` (ALTER SYSTEM), read after postgresql.conf: its settings win.
    pub auto_conf: PathBuf,
    /// Major version (14, 15, …) and, when the server runs, `server_version_num`.
    pub major: u32,
    /// `server_version_num` (150004 for 15.4); `None` when the server is not running.
    pub version_num: Option<u32>,
    /// The OS account that owns the data directory; pgharden acts on the files as this account.
    pub owner: Account,
    /// The running postmaster; `None` when the server is stopped.
    pub postmaster: Option<Postmaster>,
    /// Directory of the server binaries (`pg_ctl`, `postgres`).
    pub bindir: Option<PathBuf>,
    /// Whether the layout is Debian's (configuration under /etc/postgresql).
    pub debian: bool,
    /// Which of the extensions the STIG asks for have their files installed.
    pub extensions: Extensions,
}

/// Extensions the STIG asks for, and whether their files are installed.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Extensions {
    /// Whether pgaudit's files are installed (needed for STIG Appendix B audit logging).
    pub pgaudit: bool,
    /// Whether pgcrypto's files are installed.
    pub pgcrypto: bool,
}

/// Read `PGDATA/PG_VERSION`.
pub fn major_version(data_dir: &Path, files: &Files) -> Result<u32> {
    let path = data_dir.join("PG_VERSION");
    let bytes =
        files.read(&path).map_err(|e| Error::bad(&path, format!("not a PostgreSQL data directory ({e})")))?;
    let text = String::from_utf8_lossy(&bytes);
    text.trim().parse().map_err(|_| {
        Error::bad(&path, format!("unexpected contents {:?}", pgharden_text::cut(text.trim(), 40)))
    })
}

/// The data directory a running server reports (`SHOW data_directory`), before anything else is
/// asked: it says whose files these are.
pub fn data_directory(sql: &mut dyn Sql) -> Result<PathBuf> {
    let value = sql.value("SELECT current_setting('data_directory')")?;
    value
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| Error::Rejected { reason: "the server reports no data_directory".into() })
}

/// Discover a running cluster by asking its server over `sql`; `files` acts as the owner of the
/// data directory it reports. The server's paths are canonicalized as the owner.
pub fn from_server(data_dir_hint: Option<&Path>, sql: &mut dyn Sql, files: &Files) -> Result<Cluster> {
    let rows = sql.query(
        "SELECT current_setting('data_directory'), current_setting('config_file'), current_setting('hba_file'), \
         current_setting('ident_file'), current_setting('server_version_num')",
    )?;
    let row = rows.first().ok_or_else(|| Error::Rejected { reason: "SHOW returned nothing".into() })?;
    let col = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    let data_dir = files.canonicalize(Path::new(&col(0)))?;
    if let Some(hint) = data_dir_hint
        && files.canonicalize(hint)? != data_dir
    {
        return Err(Error::bad(
            hint,
            format!("the server on this socket serves {}, not this data directory", data_dir.display()),
        ));
    }
    let version_num: u32 = col(4).parse().unwrap_or(0);
    let path = |i: usize| -> Result<PathBuf> { files.canonicalize_file(&absolute(&data_dir, &col(i))) };
    let mut cluster = offline_parts(&data_dir, path(1)?, path(2)?, path(3)?, files)?;
    cluster.version_num = Some(version_num);
    cluster.major = version_num / 10000;
    cluster.extensions = available_extensions(sql)?;
    Ok(cluster)
}

/// Discover a cluster from its data directory alone (the server may be stopped). The configuration
/// file is where the running postmaster's command line says, else PGDATA/postgresql.conf, else the
/// Debian cluster under /etc/postgresql whose `data_directory` is this one.
pub fn from_data_dir(data_dir: &Path, files: &Files) -> Result<Cluster> {
    let data_dir = files.canonicalize(data_dir)?;
    let major = major_version(&data_dir, files)?;
    let postmaster = Postmaster::read(&data_dir, files)?;
    let in_data = data_dir.join("postgresql.conf");
    let config_file =
        match postmaster.as_ref().and_then(|pm| config_file_from_command_line(&pm.command_line())) {
            Some(file) => Some(file),
            None if files.stat(&in_data, true)?.is_some_and(|m| m.kind == FileKind::Regular) => Some(in_data),
            None => debian_config_for(&data_dir, major, files),
        };
    let config_file = config_file.ok_or_else(|| {
        Error::bad(
            &data_dir,
            format!("no postgresql.conf here, and no {DEBIAN_ETC}/{major}/*/postgresql.conf names this data directory"),
        )
    })?;
    let config_file = files.canonicalize_file(&absolute(&data_dir, &config_file.to_string_lossy()))?;
    let conf_dir = config_file.parent().map(Path::to_path_buf).unwrap_or_else(|| data_dir.clone());
    let tree = pgharden_conf::postgresql_conf::ConfTree::load_from(&config_file, files)
        .map_err(|e| Error::bad(&config_file, e.to_string()))?;
    // hba_file and ident_file default to the directory given with -D: PGDATA, or Debian's /etc dir.
    let default_dir = if conf_dir == data_dir { data_dir.clone() } else { conf_dir.clone() };
    let file_setting = |name: &str, default: &str| {
        let path = tree
            .get(name)
            .filter(|v| !v.is_empty())
            .map(|v| absolute(&data_dir, v))
            .unwrap_or_else(|| default_dir.join(default));
        files.canonicalize_file(&path)
    };
    let hba_file = file_setting("hba_file", "pg_hba.conf")?;
    let ident_file = file_setting("ident_file", "pg_ident.conf")?;
    let mut cluster = offline_parts(&data_dir, config_file, hba_file, ident_file, files)?;
    cluster.major = major;
    cluster.extensions = installed_extensions(cluster.bindir.as_deref(), major);
    Ok(cluster)
}

fn offline_parts(
    data_dir: &Path,
    config_file: PathBuf,
    hba_file: PathBuf,
    ident_file: PathBuf,
    files: &Files,
) -> Result<Cluster> {
    let major = major_version(data_dir, files)?;
    let postmaster = Postmaster::read(data_dir, files)?;
    let bindir = postmaster.as_ref().and_then(|pm| pm.bindir(files)).or_else(|| {
        Some(PathBuf::from(format!("/usr/lib/postgresql/{major}/bin"))).filter(|p| p.join("pg_ctl").exists())
    });
    Ok(Cluster {
        debian: config_file.starts_with(DEBIAN_ETC) || debian_marked(&config_file, data_dir, major, files),
        auto_conf: data_dir.join("postgresql.auto.conf"),
        data_dir: data_dir.to_path_buf(),
        config_file,
        hba_file,
        ident_file,
        major,
        version_num: None,
        owner: files.account().clone(),
        postmaster,
        bindir,
        extensions: Extensions::default(),
    })
}

/// Whether the configuration directory is one postgresql-common made (`ROOT/MAJOR/NAME/` holding
/// `start.conf`), wherever its root is (`PG_CLUSTER_CONF_ROOT` moves it from /etc/postgresql).
/// Configuration kept in the data directory is initdb's layout, whatever files are beside it.
fn debian_marked(config_file: &Path, data_dir: &Path, major: u32, files: &Files) -> bool {
    let Some(dir) = config_file.parent() else { return false };
    if dir.starts_with(data_dir) {
        return false;
    }
    let version_dir = dir.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned());
    version_dir.as_deref() == Some(major.to_string().as_str())
        && files
            .stat(&dir.join("start.conf"), false)
            .ok()
            .flatten()
            .is_some_and(|m| m.kind == FileKind::Regular)
}

/// A Debian cluster as postgresql-common names it: `pg_ctlcluster VERSION NAME`, the root of its
/// configuration directories, and the log file its tools show and logrotate rotates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DebianLayout {
    /// The major version directory, e.g. `15` (the first argument of `pg_ctlcluster`).
    pub version: String,
    /// The cluster's name, e.g. `main` (the second argument).
    pub name: String,
    /// `/etc/postgresql`, or where `PG_CLUSTER_CONF_ROOT` put it.
    pub conf_root: PathBuf,
    /// Where postgresql-common sends the server's output: the target of the configuration
    /// directory's `log` link, else `/var/log/postgresql/postgresql-VERSION-NAME.log`.
    pub log_file: PathBuf,
}

/// Where Debian keeps server logs (logrotate's `/etc/logrotate.d/postgresql-common` rotates
/// `*.log` in it).
pub const DEBIAN_LOG_DIR: &str = "/var/log/postgresql";

/// The Debian names of a cluster whose layout is Debian's, read as the owner (the `log` link).
pub fn debian_layout(cluster: &Cluster, files: &Files) -> Option<DebianLayout> {
    if !cluster.debian {
        return None;
    }
    let dir = cluster.config_file.parent()?;
    let name = dir.file_name()?.to_string_lossy().into_owned();
    let version_dir = dir.parent()?;
    let version = version_dir.file_name()?.to_string_lossy().into_owned();
    let conf_root = version_dir.parent()?.to_path_buf();
    // PgCommon.pm: the link's target when `log` is a link, else the default name; a relative
    // target means nothing fixed to it, so the default is kept.
    let link = dir.join("log");
    let linked = match files.stat(&link, false) {
        Ok(Some(m)) if m.kind == FileKind::Symlink => files.actor().read_link(&link).ok(),
        _ => None,
    };
    let log_file = linked
        .filter(|p| p.is_absolute() && p.file_name().is_some())
        .unwrap_or_else(|| Path::new(DEBIAN_LOG_DIR).join(format!("postgresql-{version}-{name}.log")));
    Some(DebianLayout { version, name, conf_root, log_file })
}

/// `-c config_file=X` or `--config-file=X` / `--config_file=X` on the postmaster's command line.
fn config_file_from_command_line(args: &[String]) -> Option<PathBuf> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = if a == "-c" { it.next().map(String::as_str) } else { Some(a.as_str()) };
        let Some(v) = value else { continue };
        for prefix in ["config_file=", "--config_file=", "--config-file="] {
            if let Some(path) = v.strip_prefix(prefix) {
                return Some(PathBuf::from(path));
            }
        }
    }
    None
}

/// Debian: the `/etc/postgresql/MAJOR/NAME/postgresql.conf` whose `data_directory` is `data_dir`.
fn debian_config_for(data_dir: &Path, major: u32, files: &Files) -> Option<PathBuf> {
    let dir = Path::new(DEBIAN_ETC).join(major.to_string());
    let entries = files.actor().read_dir(&dir).ok()?;
    entries
        .into_iter()
        .filter(|e| e.kind == FileKind::Directory)
        .map(|e| dir.join(&e.name).join("postgresql.conf"))
        .find(|conf| {
            pgharden_conf::postgresql_conf::ConfTree::load_from(conf, files)
                .ok()
                .and_then(|t| t.get("data_directory").map(|d| files.canonicalize(Path::new(d)).ok()))
                .flatten()
                .is_some_and(|d| d == data_dir)
        })
}

fn absolute(base: &Path, value: &str) -> PathBuf {
    let p = Path::new(value);
    if p.is_absolute() { p.to_path_buf() } else { base.join(p) }
}

/// Extensions whose control files the server can see.
fn available_extensions(sql: &mut dyn Sql) -> Result<Extensions> {
    let rows = sql.query("SELECT name FROM pg_available_extensions WHERE name IN ('pgaudit', 'pgcrypto')")?;
    let has = |n: &str| rows.iter().any(|r| r.first().cloned().flatten().as_deref() == Some(n));
    Ok(Extensions { pgaudit: has("pgaudit"), pgcrypto: has("pgcrypto") })
}

/// Extensions installed on disk, for a stopped server: a control file in the share directory and,
/// for pgaudit, its library (Debian `/usr/share/postgresql/N`, RHEL and source builds `BINDIR/../share`).
fn installed_extensions(bindir: Option<&Path>, major: u32) -> Extensions {
    let mut share = vec![PathBuf::from(format!("/usr/share/postgresql/{major}/extension"))];
    let mut lib = vec![PathBuf::from(format!("/usr/lib/postgresql/{major}/lib"))];
    if let Some(prefix) = bindir.and_then(Path::parent) {
        share.extend([prefix.join("share/extension"), prefix.join("share/postgresql/extension")]);
        lib.extend([prefix.join("lib"), prefix.join("lib/postgresql")]);
    }
    let control = |name: &str| share.iter().any(|d| d.join(format!("{name}.control")).exists());
    let library = |name: &str| lib.iter().any(|d| d.join(format!("{name}.so")).exists());
    Extensions { pgaudit: control("pgaudit") && library("pgaudit"), pgcrypto: control("pgcrypto") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_is_read_from_debian_style_command_lines() {
        let args: Vec<String> = [
            "/usr/lib/postgresql/15/bin/postgres",
            "-D",
            "/var/lib/postgresql/15/main",
            "-c",
            "config_file=/etc/postgresql/15/main/postgresql.conf",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            config_file_from_command_line(&args),
            Some(PathBuf::from("/etc/postgresql/15/main/postgresql.conf"))
        );
        assert_eq!(config_file_from_command_line(&["postgres".into(), "-D".into(), "/x".into()]), None);
    }

    #[test]
    fn a_directory_without_pg_version_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err =
            major_version(&dir.path().canonicalize().unwrap(), &Files::as_self()).unwrap_err().to_string();
        assert!(err.contains("PG_VERSION") && err.contains("not a PostgreSQL data directory"), "{err}");
    }
}
