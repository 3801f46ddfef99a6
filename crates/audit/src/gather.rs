//! Gathering the evidence for one audit: which connection, which files, which network target.
//!
//! Owns: the fallbacks that keep an audit useful with less access — without the data directory the
//! file rules say "not checked", without a superuser the password-hash rule says so, without a TCP
//! listener the network rules say so. Must not: judge.

use std::path::{Path, PathBuf};

use pgharden_cluster::Files;
use pgharden_cluster::db::Db;
use pgharden_cluster::discover::{self, Cluster};

use crate::evidence::{self, Evidence};
use crate::model::Target;

/// What to audit.
#[derive(Debug, Clone)]
pub enum Source {
    PgData(PathBuf),
    Conninfo(String),
}

/// Evidence plus a description of what was audited.
#[derive(Debug)]
pub struct Gathered {
    pub evidence: Evidence,
    pub target: Target,
    pub cluster: Option<Cluster>,
    /// host and port a network probe should use.
    pub probe: Option<(String, u16)>,
    /// Why the audit reached nothing at all (no such data directory, no connection): the caller
    /// must not report a verdict then.
    pub unreachable: Option<String>,
}

/// Gather files and database facts (the network part is added by the caller's probe). Files are
/// read as the cluster owner when pgharden runs as root or as the owner, else as whoever runs it.
pub fn gather(source: &Source) -> Gathered {
    let mut ev = Evidence::empty();
    let mut target =
        Target { data_dir: None, host: None, port: None, server_version: None, host_name: host_name() };
    let mut unreachable = None;
    let (cluster, probe, files) = match source {
        Source::PgData(dir) => {
            target.data_dir = Some(dir.display().to_string());
            match files_for(dir).and_then(|files| discover::from_data_dir(dir, &files).map(|c| (c, files))) {
                Ok((cluster, files)) => {
                    match Db::local(&cluster, &files, &cluster.owner.name, "postgres") {
                        Ok(mut db) => evidence::from_sql(&mut ev, &mut db),
                        Err(e) => set_sql_unavailable(&mut ev, &e.to_string()),
                    }
                    let probe = cluster.postmaster.as_ref().map(|pm| ("127.0.0.1".to_string(), pm.port));
                    (Some(cluster), probe, Some(files))
                }
                Err(e) => {
                    unreachable = Some(e.to_string());
                    set_sql_unavailable(&mut ev, &e.to_string());
                    set_files_unavailable(&mut ev, "the data directory could not be read");
                    (None, None, None)
                }
            }
        }
        Source::Conninfo(c) => match Db::settings(c).and_then(|s| Db::remote(&s).map(|db| (s, db))) {
            Ok((settings, mut db)) => {
                evidence::from_sql(&mut ev, &mut db);
                let probe = settings.hosts.iter().find_map(|h| match &h.name {
                    pgharden_pgconn::HostName::Tcp(name) => {
                        Some((h.hostaddr.map(|a| a.to_string()).unwrap_or(name.clone()), h.port))
                    }
                    pgharden_pgconn::HostName::Unix(_) => None,
                });
                let found = discover::data_directory(&mut db)
                    .and_then(|dir| files_for(&dir))
                    .and_then(|files| discover::from_server(None, &mut db, &files).map(|c| (c, files)));
                match found {
                    Ok((cluster, files)) => (Some(cluster), probe, Some(files)),
                    Err(e) => {
                        set_files_unavailable(&mut ev, &format!("the server's files cannot be located: {e}"));
                        (None, probe, None)
                    }
                }
            }
            Err(e) => {
                unreachable = Some(e.to_string());
                set_sql_unavailable(&mut ev, &e.to_string());
                set_files_unavailable(&mut ev, "no connection to ask where the files are");
                (None, None, None)
            }
        },
    };
    if let (Some(c), Some(files)) = (&cluster, &files) {
        evidence::from_files(&mut ev, c, files);
        target.data_dir = Some(c.data_dir.display().to_string());
        target.server_version =
            c.version_num.map(|v| format!("{}.{}", v / 10000, v % 10000)).or(Some(c.major.to_string()));
    }
    if let Some((host, port)) = &probe {
        target.host = Some(host.clone());
        target.port = Some(*port);
    }
    Gathered { evidence: ev, target, cluster, probe, unreachable }
}

/// The files of the cluster in `data_dir`, as its owner when that is possible (root, or the owner
/// itself), else as this process's own account, which sees what it may.
fn files_for(data_dir: &Path) -> pgharden_cluster::Result<Files> {
    let owner = Files::owner_of(data_dir)?;
    let me = pgharden_cluster::Account::current();
    if me.is_root() || owner.is_current() { Files::as_account(owner, data_dir) } else { Ok(Files::as_self()) }
}

/// A reason is recorded once in the evidence (and so once in the report), and each fact that
/// depends on it points there: a huge server error is never copied into every finding.
fn set_sql_unavailable(ev: &mut Evidence, why: &str) {
    ev.problems.push(format!("no database connection: {}", pgharden_text::cut(why, MAX_PROBLEM)));
    let why = "no database connection (see the report's problems)".to_string();
    ev.settings = Err(why.clone());
    ev.superusers = Err(why.clone());
    ev.md5_roles = Err(why.clone());
    ev.extensions = Err(why);
}

fn set_files_unavailable(ev: &mut Evidence, why: &str) {
    ev.problems.push(format!("no file evidence: {}", pgharden_text::cut(why, MAX_PROBLEM)));
    let why = "the files were not read (see the report's problems)".to_string();
    ev.hba_rules = Err(why.clone());
    ev.data_dir = Err(why.clone());
    ev.config_files = Err(why.clone());
    ev.server_key = Err(why.clone());
    ev.server_cert = Err(why.clone());
    ev.crl_files = Err(why.clone());
    ev.log_dir = Err(why);
}

/// The most of one gathering problem kept in the report.
const MAX_PROBLEM: usize = 4000;

fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|h| h.trim().to_string())
}

/// Add what the network says: probe the server's TCP listener (when there is one) as its bootstrap
/// superuser, without credentials. A probe that cannot run leaves the network rules "not checked".
pub fn with_probe(mut g: Gathered) -> Gathered {
    let Some((host, port)) = g.probe.clone() else { return g };
    let user = g.evidence.bootstrap_superuser.clone().unwrap_or_else(|| "postgres".into());
    let opts =
        crate::network::ProbeOptions { host, port, user, dbname: "postgres".into(), sslrootcert: None };
    if let Ok(report) = crate::network::probe(&opts) {
        g.evidence.network = Some(report.facts());
    }
    g
}
