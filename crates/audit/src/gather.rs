//! Gathering the evidence for one audit: which connection, which files, which network target.
//!
//! Owns: the fallbacks that keep an audit useful with less access — without the data directory the
//! file rules say "not checked", without a superuser the password-hash rule says so, without a TCP
//! listener the network rules say so. Must not: judge.

use std::path::PathBuf;

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
}

/// Gather files and database facts (the network part is added by the caller's probe).
pub fn gather(source: &Source) -> Gathered {
    let mut ev = Evidence::empty();
    let mut target =
        Target { data_dir: None, host: None, port: None, server_version: None, host_name: host_name() };
    let (cluster, probe) = match source {
        Source::PgData(dir) => {
            target.data_dir = Some(dir.display().to_string());
            match discover::from_data_dir(dir) {
                Ok(cluster) => {
                    let why = match Db::local(&cluster, &cluster.owner.name, "postgres") {
                        Ok(mut db) => {
                            evidence::from_sql(&mut ev, &mut db);
                            None
                        }
                        Err(e) => Some(e.to_string()),
                    };
                    if let Some(why) = why {
                        set_sql_unavailable(&mut ev, &why);
                    }
                    let probe = cluster.postmaster.as_ref().map(|pm| ("127.0.0.1".to_string(), pm.port));
                    (Some(cluster), probe)
                }
                Err(e) => {
                    set_sql_unavailable(&mut ev, &e.to_string());
                    set_files_unavailable(&mut ev, &e.to_string());
                    (None, None)
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
                match discover::from_server(None, &mut db) {
                    Ok(cluster) => (Some(cluster), probe),
                    Err(e) => {
                        set_files_unavailable(&mut ev, &format!("the server's files cannot be located: {e}"));
                        (None, probe)
                    }
                }
            }
            Err(e) => {
                set_sql_unavailable(&mut ev, &e.to_string());
                set_files_unavailable(&mut ev, "no connection to ask where the files are");
                (None, None)
            }
        },
    };
    if let Some(c) = &cluster {
        evidence::from_files(&mut ev, c);
        target.data_dir = Some(c.data_dir.display().to_string());
        target.server_version =
            c.version_num.map(|v| format!("{}.{}", v / 10000, v % 10000)).or(Some(c.major.to_string()));
    }
    if let Some((host, port)) = &probe {
        target.host = Some(host.clone());
        target.port = Some(*port);
    }
    Gathered { evidence: ev, target, cluster, probe }
}

fn set_sql_unavailable(ev: &mut Evidence, why: &str) {
    let why = format!("no database connection: {why}");
    ev.settings = Err(why.clone());
    ev.superusers = Err(why.clone());
    ev.md5_roles = Err(why.clone());
    ev.extensions = Err(why);
}

fn set_files_unavailable(ev: &mut Evidence, why: &str) {
    ev.hba_rules = Err(why.to_string());
    ev.data_dir = Err(why.to_string());
    ev.config_files = Err(why.to_string());
    ev.server_key = Err(why.to_string());
    ev.server_cert = Err(why.to_string());
    ev.crl_files = Err(why.to_string());
    ev.log_dir = Err(why.to_string());
}

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
