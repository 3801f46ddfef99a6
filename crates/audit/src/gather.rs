//! Gathering the evidence for one audit: which connection, which files, which network target.
//!
//! Owns: the fallbacks that keep an audit useful with less access — without the data directory the
//! file rules say "not checked", without a superuser the password-hash rule says so, without a TCP
//! listener the network rules say so. Must not: judge.

use std::path::{Path, PathBuf};

use pgharden_cluster::Files;
use pgharden_cluster::db::Db;
use pgharden_cluster::discover::{self, Cluster};

use pgharden_cluster::Sql;

use crate::evidence::{self, Evidence, Missing};
use crate::model::Audited;

/// What to audit.
#[derive(Debug, Clone)]
pub enum Source {
    /// A data directory (`--pgdata`): its files, and its server over the local socket when it runs.
    PgData(PathBuf),
    /// A libpq connection string (`--conninfo`): what that server shows; its files are read only
    /// when they are on this machine.
    Conninfo(String),
}

/// Evidence plus a description of what was audited.
#[derive(Debug)]
pub struct Gathered {
    /// Every fact gathered, and why the others are missing.
    pub evidence: Evidence,
    /// What was audited, for the report.
    pub target: Audited,
    /// The cluster as discovery found it; `None` when its files could not be located.
    pub cluster: Option<Cluster>,
    /// host and port a network probe should use.
    pub probe: Option<(String, u16)>,
    /// Why the audit reached nothing at all (no such data directory, no connection): the caller
    /// must not report a verdict then.
    pub unreachable: Option<String>,
}

/// Gather files and database facts (the network part is added by the caller's probe). Files are
/// read as the cluster owner when pgharden runs as root or as the owner, else as whoever runs it.
/// With `--pgdata` and a running server, the cluster is the one the server reports (its
/// `hba_file`, `ident_file`, `config_file`), exactly as `apply` opens it.
pub fn gather(source: &Source) -> Gathered {
    let mut ev = Evidence::empty();
    let mut target =
        Audited { data_dir: None, host: None, port: None, server_version: None, host_name: host_name() };
    let mut unreachable = None;
    let (cluster, probe, files) = match source {
        Source::PgData(dir) => {
            target.data_dir = Some(dir.display().to_string());
            match files_for(dir).and_then(|files| open_or_offline(dir, &files).map(|o| (o, files))) {
                Ok(((cluster, db), files)) => {
                    match db {
                        Ok(mut db) => {
                            let owner = cluster.owner.name.clone();
                            let mut connect = |dbname: &str| -> Result<Box<dyn Sql>, String> {
                                Db::local(&cluster, &files, &owner, dbname)
                                    .map(|d| Box::new(d) as Box<dyn Sql>)
                                    .map_err(|e| e.to_string())
                            };
                            evidence::from_sql(&mut ev, &mut db, &mut connect);
                        }
                        Err(why) => ev.no_connection(&why),
                    }
                    let probe = cluster
                        .postmaster
                        .as_ref()
                        .and_then(|pm| probe_host(&ev).map(|host| (host, pm.port)));
                    (Some(cluster), probe, Some(files))
                }
                Err(e) => {
                    unreachable = Some(e.to_string());
                    ev.no_connection(&e.to_string());
                    ev.no_files("the data directory could not be read");
                    (None, None, None)
                }
            }
        }
        Source::Conninfo(c) => match Db::settings(c).and_then(|s| Db::remote(&s).map(|db| (s, db))) {
            Ok((settings, mut db)) => {
                let mut connect = |dbname: &str| -> Result<Box<dyn Sql>, String> {
                    let mut other = settings.clone();
                    other.dbname = dbname.to_string();
                    Db::remote(&other).map(|d| Box::new(d) as Box<dyn Sql>).map_err(|e| e.to_string())
                };
                evidence::from_sql(&mut ev, &mut db, &mut connect);
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
                        ev.no_files(&format!("the server's files cannot be located: {}", unlocated(&ev, &e)));
                        (None, probe, None)
                    }
                }
            }
            Err(e) => {
                unreachable = Some(e.to_string());
                ev.no_connection(&e.to_string());
                ev.no_files("no connection to ask where the files are");
                (None, None, None)
            }
        },
    };
    if let (Some(c), Some(files)) = (&cluster, &files) {
        evidence::from_files(&mut ev, c, files);
        target.data_dir = Some(c.data_dir.display().to_string());
        target.server_version =
            c.version_num.map(|v| format!("{}.{}", v / 10000, v % 10000)).or(Some(c.major.to_string()));
    } else {
        ev.fips = evidence::fips_mode();
    }
    match &probe {
        Some((host, port)) => {
            target.host = Some(host.clone());
            target.port = Some(*port);
            ev.network = Err(Missing::NotProbed("--no-probe".into()));
        }
        None => {
            let why = match source {
                // Connected through a Unix socket: the server may well listen on TCP too.
                Source::Conninfo(_) => "the CONNINFO names no TCP host; give host=NAME port=N to probe",
                Source::PgData(_) => "the server has no TCP listener to probe",
            };
            ev.network = Err(Missing::NotProbed(why.into()));
        }
    }
    Gathered { evidence: ev, target, cluster, probe, unreachable }
}

/// Why the data directory could not be asked for: a role without pg_read_all_settings gets
/// SQLSTATE 42501, said in those words rather than as the server's error and query.
fn unlocated(ev: &Evidence, e: &pgharden_cluster::Error) -> String {
    let text = e.to_string();
    let role = ev.settings.as_ref().ok().and_then(|s| s.limited_reader.clone());
    match role {
        Some(role) if text.contains("(42501)") => {
            format!("data_directory is not readable by role {role} (needs pg_read_all_settings)")
        }
        _ => text,
    }
}

/// Where a local server can be probed: the first address of `listen_addresses` (a wildcard is
/// reached on loopback), or 127.0.0.1 when the settings are unknown. `None` when it listens on no
/// TCP address at all.
fn probe_host(ev: &Evidence) -> Option<String> {
    let Ok(listen) = ev.setting("listen_addresses") else { return Some("127.0.0.1".into()) };
    let first = listen.split(',').map(str::trim).find(|a| !a.is_empty())?;
    Some(
        match first {
            "*" | "0.0.0.0" => "127.0.0.1",
            "::" => "::1",
            other => other,
        }
        .to_string(),
    )
}

/// The cluster as `apply` opens it ([`pgharden_cluster::open_local`]: a running server names its
/// own files); when the server runs but refuses the owner, the files the data directory names, with
/// why the server could not be asked — the file rules can still be judged, the rest are not.
fn open_or_offline(dir: &Path, files: &Files) -> pgharden_cluster::Result<(Cluster, Result<Db, String>)> {
    match pgharden_cluster::open_local(dir, files) {
        Ok(o) => {
            let db = o.db.ok_or_else(|| "the server is not running (no live postmaster.pid)".to_string());
            Ok((o.cluster, db))
        }
        Err(e @ (pgharden_cluster::Error::Connect { .. } | pgharden_cluster::Error::Socket { .. })) => {
            let offline = discover::from_data_dir(dir, files)?;
            Ok((offline, Err(format!("{e} (judging the files the data directory names)"))))
        }
        Err(e) => Err(e),
    }
}

/// The files of the cluster in `data_dir`, as its owner when that is possible (root, or the owner
/// itself), else as this process's own account, which sees what it may.
fn files_for(data_dir: &Path) -> pgharden_cluster::Result<Files> {
    let owner = Files::owner_of(data_dir)?;
    let me = pgharden_cluster::Account::current();
    if me.is_root() || owner.is_current() { Files::as_account(owner, data_dir) } else { Ok(Files::as_self()) }
}

fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|h| h.trim().to_string())
}

/// Add what the network says: probe the server's TCP listener (when there is one) as its bootstrap
/// superuser, without credentials. A probe that cannot run leaves the network rules "not checked".
pub fn with_probe(mut g: Gathered) -> Gathered {
    let Some((host, port)) = g.probe.clone() else { return g };
    let user = g.evidence.bootstrap_superuser().unwrap_or("postgres").to_string();
    let opts = crate::network::ProbeOptions { user, ..crate::network::ProbeOptions::new(host, port) };
    g.evidence.network = match crate::network::probe(&opts) {
        Ok(report) => Ok(report.facts()),
        Err(e) => Err(Missing::ProbeFailed(format!("{}:{}: {e}", opts.host, opts.port))),
    };
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::Settings;

    fn listening(on: &str) -> Option<String> {
        let mut ev = Evidence::empty();
        ev.settings = Ok(Settings::from_pairs([("listen_addresses", on)]));
        probe_host(&ev)
    }

    #[test]
    fn the_probe_dials_an_address_the_server_listens_on() {
        assert_eq!(listening("127.0.0.2").as_deref(), Some("127.0.0.2"));
        assert_eq!(listening(" 10.0.0.5, localhost").as_deref(), Some("10.0.0.5"));
        assert_eq!(listening("*").as_deref(), Some("127.0.0.1"));
        assert_eq!(listening("::").as_deref(), Some("::1"));
        assert_eq!(listening(""), None, "no TCP listener: nothing to probe");
        assert_eq!(probe_host(&Evidence::empty()).as_deref(), Some("127.0.0.1"));
    }
}
