//! Evidence, gathered once and shared by every rule.
//!
//! Owns: one database connection's worth of facts (settings, roles, password hashes, extensions,
//! the server's view of pg_hba.conf), the files under PGDATA and the configuration paths (owners,
//! modes, pg_hba.conf rules), the server certificate, the host's FIPS mode, and the network facts a
//! probe gathers. Every fact that could not be gathered carries why, so a rule depending on it says
//! "not checked" and why — never "pass".
//! Must not: judge (that is `checks`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pgharden_cluster::discover::Cluster;
use pgharden_cluster::{Files, Sql};
use pgharden_conf::hba::{HbaFile, Rule as HbaRule};

/// A fact, or why it is missing.
pub type Fact<T> = Result<T, String>;

/// Owner and mode of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    pub path: PathBuf,
    pub uid: u32,
    pub mode: u32,
}

/// What the network says about the server (filled by the probe).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkFacts {
    /// "host:port" probed.
    pub target: String,
    /// Plaintext startup: `Ok(true)` refused by pg_hba, `Ok(false)` allowed (with what the server said).
    pub plaintext_refused: Option<Fact<(bool, String)>>,
    /// TLS startup without a client certificate: refused?
    pub certless_refused: Option<Fact<(bool, String)>>,
    /// TLS versions the server accepted, e.g. ["TLSv1.2", "TLSv1.3"], and refused.
    pub tls_versions: Option<Fact<Vec<(String, bool)>>>,
}

/// Everything the rules look at.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// `pg_settings` name → current_setting().
    pub settings: Fact<BTreeMap<String, String>>,
    pub superusers: Fact<Vec<String>>,
    pub bootstrap_superuser: Option<String>,
    /// Roles with an MD5 password hash (needs superuser: pg_authid).
    pub md5_roles: Fact<Vec<String>>,
    pub extensions: Fact<Vec<String>>,
    pub hba_rules: Fact<Vec<HbaRule>>,
    pub data_dir: Fact<FileFacts>,
    pub config_files: Fact<Vec<FileFacts>>,
    pub owner_uid: Option<u32>,
    pub server_key: Fact<FileFacts>,
    /// The server certificate file's bytes (chain) and the CA file's.
    pub server_cert: Fact<Vec<u8>>,
    pub crl_files: Fact<Vec<(PathBuf, Vec<u8>)>>,
    pub log_dir: Fact<FileFacts>,
    pub fips: Fact<bool>,
    pub network: Option<NetworkFacts>,
    /// Why whole groups of facts are missing, each said once (the facts point here).
    pub problems: Vec<String>,
}

fn not_gathered<T>() -> Fact<T> {
    Err("not gathered".into())
}

impl Evidence {
    /// No facts at all (every rule will say "not checked").
    pub fn empty() -> Evidence {
        Evidence {
            settings: not_gathered(),
            superusers: not_gathered(),
            bootstrap_superuser: None,
            md5_roles: not_gathered(),
            extensions: not_gathered(),
            hba_rules: not_gathered(),
            data_dir: not_gathered(),
            config_files: not_gathered(),
            owner_uid: None,
            server_key: not_gathered(),
            server_cert: not_gathered(),
            crl_files: not_gathered(),
            log_dir: not_gathered(),
            fips: not_gathered(),
            network: None,
            problems: Vec::new(),
        }
    }

    /// A setting's current value, or why it is unknown.
    pub fn setting(&self, name: &str) -> Fact<&str> {
        match &self.settings {
            Ok(map) => {
                map.get(name).map(String::as_str).ok_or_else(|| format!("the server has no setting {name}"))
            }
            Err(why) => Err(why.clone()),
        }
    }
}

/// Gather what a database connection shows.
pub fn from_sql(ev: &mut Evidence, sql: &mut dyn Sql) {
    ev.settings = sql
        .query("SELECT name, current_setting(name) FROM pg_settings")
        .map(|rows| {
            rows.into_iter().filter_map(|r| Some((r.first()?.clone()?, r.get(1)?.clone()?))).collect()
        })
        .map_err(|e| e.to_string());
    ev.superusers = column(sql, "SELECT rolname FROM pg_roles WHERE rolsuper ORDER BY rolname");
    ev.bootstrap_superuser = sql.value("SELECT rolname FROM pg_roles WHERE oid = 10").ok().flatten();
    ev.md5_roles =
        column(sql, "SELECT rolname FROM pg_authid WHERE rolpassword LIKE 'md5%' ORDER BY rolname")
            .map_err(|e| format!("{e} (reading password hashes needs a superuser)"));
    ev.extensions = column(sql, "SELECT extname FROM pg_extension ORDER BY extname");
}

fn column(sql: &mut dyn Sql, query: &str) -> Fact<Vec<String>> {
    sql.query(query)
        .map(|rows| rows.into_iter().filter_map(|r| r.into_iter().next().flatten()).collect())
        .map_err(|e| e.to_string())
}

/// Gather what the files show, reading them through `files` (as the cluster owner when pgharden
/// runs as root: the server names these paths, and its owner controls what is there). Paths the
/// server reports are canonicalized before use.
pub fn from_files(ev: &mut Evidence, cluster: &Cluster, files: &Files) {
    ev.owner_uid = Some(cluster.owner.uid);
    ev.data_dir = file_facts(files, &cluster.data_dir);
    ev.config_files = [&cluster.config_file, &cluster.hba_file, &cluster.ident_file]
        .iter()
        .map(|p| file_facts(files, p))
        .collect::<Result<Vec<_>, _>>();
    ev.hba_rules = HbaFile::load_from(&cluster.hba_file, files)
        .map(|f| f.rules().cloned().collect())
        .map_err(|e| format!("{}: {e}", cluster.hba_file.display()));
    let in_data = |name: &str| {
        let p = Path::new(name);
        let path = if p.is_absolute() { p.to_path_buf() } else { cluster.data_dir.join(p) };
        files.canonicalize(&path).unwrap_or(path)
    };
    let read = |path: &Path| files.read(path).map_err(|e| e.to_string());
    if let Ok(settings) = &ev.settings {
        if let Some(key) = settings.get("ssl_key_file") {
            ev.server_key = file_facts(files, &in_data(key));
        }
        if let Some(cert) = settings.get("ssl_cert_file") {
            ev.server_cert = read(&in_data(cert));
        }
        ev.crl_files = match settings.get("ssl_crl_file").filter(|v| !v.is_empty()) {
            Some(crl) => {
                let path = in_data(crl);
                read(&path).map(|b| vec![(path.clone(), b)])
            }
            None => Ok(Vec::new()),
        };
        if let Some(dir) = settings.get("log_directory") {
            ev.log_dir = file_facts(files, &in_data(dir));
        }
    }
    ev.fips = fips_mode();
}

/// The kernel's FIPS flag; a kernel without the flag has no FIPS mode, so it is off.
fn fips_mode() -> Fact<bool> {
    match std::fs::read_to_string("/proc/sys/crypto/fips_enabled") {
        Ok(t) => Ok(t.trim() == "1"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("/proc/sys/crypto/fips_enabled: {e}")),
    }
}

fn file_facts(files: &Files, path: &Path) -> Fact<FileFacts> {
    match files.stat(path, true) {
        Ok(Some(m)) => Ok(FileFacts { path: path.to_path_buf(), uid: m.uid, mode: m.mode & 0o7777 }),
        Ok(None) => Err(format!("{}: No such file or directory", path.display())),
        Err(e) => Err(e.to_string()),
    }
}
