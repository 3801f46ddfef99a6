//! Evidence, gathered once and shared by every rule.
//!
//! Owns: the facts the rules look at, as data — settings as every session sees them (the
//! cluster-wide value, where it was set, and each per-role and per-database override), roles and
//! their attributes, per-database privileges and languages, the files PostgreSQL trusts (owners,
//! modes, kinds), pg_hba.conf and pg_ident.conf as the server's major version reads them
//! (includes followed from 16), whether the server would accept those files as they are on disk
//! (its own reading, `pg_hba_file_rules` and `pg_ident_file_mappings`, and pgharden's), the
//! server's version, the TLS files' bytes, the log files on disk, the host's FIPS mode and the
//! network facts a probe gathers. Every fact that could not be gathered carries a typed
//! [`Missing`] reason, so a rule depending on it says "not checked" and why — never "pass".
//! Must not: judge (that is `checks`), or render beyond the reason texts.

mod files;
mod reading;
mod settings;
mod sql;

use std::path::PathBuf;

use pgharden_conf::hba::Rule as HbaRule;
use pgharden_conf::ident::Mapping;
use pgharden_wire::TlsVersionName;

pub use files::from_files;
pub use settings::{Override, Setting, Settings, Where};
pub(crate) use sql::from_sql;

/// Why a fact is missing. Each says what was not possible; the report's problems say why once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Missing {
    /// No connection to the server could be made, so no server fact was read.
    #[error("no database connection (see the report's problems)")]
    NoConnection,
    /// The cluster's files could not be read or located (the report's problems say why).
    #[error("the files were not read (see the report's problems)")]
    NoFiles,
    /// Nothing tried to gather the fact ([`Evidence::empty`] before any source filled it).
    #[error("not gathered")]
    NotGathered,
    /// The server has no such setting (an extension not loaded, an older major version).
    #[error("the server has no setting {0}")]
    NoSuchSetting(String),
    /// The setting exists, but the auditing role may not read it (SQLSTATE 42501).
    #[error("{name} is not readable by role {role} (needs pg_read_all_settings)")]
    HiddenSetting {
        /// The setting.
        name: String,
        /// The role the audit connected as.
        role: String,
    },
    /// `pg_settings` does not show the setting to a role that lacks pg_read_all_settings, and
    /// the server was not asked whether it exists.
    #[error("the server shows role {role} no setting {name} (without pg_read_all_settings it may be hidden)")]
    MaybeHiddenSetting {
        /// The setting.
        name: String,
        /// The role the audit connected as.
        role: String,
    },
    /// A query or a file read failed; `what` names it.
    #[error("{what}: {reason}")]
    Failed {
        /// The query or file, as the report names it.
        what: String,
        /// The error it failed with.
        reason: String,
    },
    /// The network probe was not run; the text says why (`--no-probe`, no TCP listener).
    #[error("no network probe was made ({0})")]
    NotProbed(String),
    /// The network probe ran and could not reach or talk to the server; the text is its error.
    #[error("the network probe failed: {0}")]
    ProbeFailed(String),
}

impl Missing {
    pub(crate) fn failed(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Failed { what: what.into(), reason: reason.to_string() }
    }
}

/// A fact, or why it is missing.
pub type Fact<T> = Result<T, Missing>;

/// What kind of file system entry a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed).
    Symlink,
    /// Anything else: a FIFO, socket or device.
    Other,
}

/// Owner, group, mode and kind of one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    /// The path as it was looked at.
    pub path: PathBuf,
    /// The owning user id.
    pub uid: u32,
    /// The owning group id.
    pub gid: u32,
    /// Permission bits only (`& 0o7777`).
    pub mode: u32,
    /// What the entry is.
    pub kind: EntryKind,
}

/// Why PostgreSQL reads a file: the check that judges it says so in its evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// postgresql.conf, an included file, or postgresql.auto.conf.
    Config,
    /// pg_hba.conf, or a file it includes.
    Hba,
    /// pg_ident.conf, or a file it includes.
    Ident,
    /// `ssl_cert_file`.
    SslCert,
    /// `ssl_key_file`.
    SslKey,
    /// `ssl_ca_file`.
    SslCa,
    /// `ssl_crl_file`.
    SslCrl,
    /// A file in `ssl_crl_dir`, or the directory itself.
    SslCrlDir,
    /// The directory holding one of the files above.
    Directory,
}

impl FileRole {
    /// How the report names the role: the setting or file name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Config => "configuration file",
            Self::Hba => "pg_hba.conf",
            Self::Ident => "pg_ident.conf",
            Self::SslCert => "ssl_cert_file",
            Self::SslKey => "ssl_key_file",
            Self::SslCa => "ssl_ca_file",
            Self::SslCrl => "ssl_crl_file",
            Self::SslCrlDir => "ssl_crl_dir",
            Self::Directory => "directory",
        }
    }

    /// Whether the file is one of the TLS files (or their directories, tagged separately).
    pub fn is_tls(self) -> bool {
        matches!(self, Self::SslCert | Self::SslKey | Self::SslCa | Self::SslCrl | Self::SslCrlDir)
    }
}

/// A file PostgreSQL trusts, or the directory holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trusted {
    /// Why PostgreSQL reads it.
    pub role: FileRole,
    /// For a directory: the roles of the files it holds (TLS, configuration, or both).
    pub holds: Vec<FileRole>,
    /// A directory further up than the one holding the files: whoever can rename its entries
    /// can swap the whole subtree, unless the sticky bit stops them.
    pub ancestor: bool,
    /// Its owner and mode, or why they could not be read.
    pub facts: Fact<FileFacts>,
}

/// A role and the attributes the STIG asks about (`pg_roles`, predefined `pg_*` roles left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleFacts {
    /// The role's name.
    pub name: String,
    /// `rolsuper`.
    pub superuser: bool,
    /// `rolcreaterole`.
    pub createrole: bool,
    /// `rolcreatedb`.
    pub createdb: bool,
    /// `rolbypassrls`.
    pub bypassrls: bool,
    /// `rolcanlogin`.
    pub login: bool,
    /// -1 is unlimited.
    pub connlimit: i64,
    /// The bootstrap superuser (oid 10).
    pub bootstrap: bool,
}

/// What one database holds that the privilege rules look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseFacts {
    /// The database's name.
    pub name: String,
    /// Schemas in which PUBLIC may CREATE.
    pub public_create_schemas: Vec<String>,
    /// Whether PUBLIC may CREATE schemas in the database itself.
    pub public_create_database: bool,
    /// Untrusted procedural languages installed (not `c` or `internal`).
    pub untrusted_languages: Vec<String>,
    /// The extensions installed in it, by name.
    pub extensions: Vec<String>,
    /// SECURITY DEFINER functions outside the system schemas that do not fix their search_path.
    pub definers_without_search_path: Vec<String>,
}

/// The TLS material as the server's settings name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `ssl_cert_file`, its path and bytes.
    pub cert: Fact<(PathBuf, Vec<u8>)>,
    /// `ssl_key_file`'s owner and mode.
    pub key: Fact<FileFacts>,
    /// Whether the private key in `ssl_key_file` is encrypted (an `ENCRYPTED PRIVATE KEY` or a
    /// legacy `Proc-Type: 4,ENCRYPTED` block); only the PEM labels are kept, never the key.
    pub key_encrypted: Fact<bool>,
    /// Every CRL file the server loads: `ssl_crl_file` and each file in `ssl_crl_dir`. `Err` when
    /// the configured file or directory could not be read (a missing one is `Failed`).
    pub crls: Fact<Vec<(PathBuf, Vec<u8>)>>,
}

/// The log files on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFiles {
    /// The log directory (`log_directory`, under PGDATA when relative).
    pub dir: FileFacts,
    /// The entries in it.
    pub files: Vec<FileFacts>,
    /// Entries left unlisted because the directory held more than the audit reads.
    pub truncated: bool,
}

/// What the network says about the server (filled by the probe).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkFacts {
    /// "host:port" probed.
    pub target: String,
    /// Plaintext startup: `Ok(true)` refused by pg_hba, `Ok(false)` allowed (with what the server said).
    pub plaintext_refused: Fact<(bool, String)>,
    /// TLS startup without a client certificate: refused?
    pub certless_refused: Fact<(bool, String)>,
    /// Each TLS version offered and whether the server accepted it.
    pub tls_versions: Fact<Vec<(TlsVersionName, bool)>>,
    /// The certificate the server served first (DER), to compare with `ssl_cert_file`.
    pub served_leaf: Fact<Vec<u8>>,
    /// Every version, suite and group the server accepts (the wire crate's scan).
    pub scan: Fact<pgharden_wire::Scan>,
}

/// One line a server refuses in an authentication file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The file holding the line (pg_hba.conf, pg_ident.conf or a file they include).
    pub file: PathBuf,
    /// 1-based; 0 for the file as a whole ("contains no entries").
    pub line: usize,
    /// The server's error for the line, as it reported it.
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, pgharden_text::line(&self.message))
    }
}

/// What the server itself makes of an authentication file on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerReading {
    /// The view that answered (`pg_hba_file_rules`, `pg_ident_file_mappings`).
    pub view: &'static str,
    /// The lines it refuses.
    pub errors: Vec<LineError>,
    /// The lines it reads without error.
    pub entries: usize,
}

/// Whether the server would accept pg_hba.conf or pg_ident.conf as they are on disk. One refused
/// line makes the server refuse the whole file: a reload keeps the file it read before and a
/// restart fails (pg_hba.conf) or starts without any map (pg_ident.conf).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// The server's own reading, or why it could not be asked (no superuser, no connection, a
    /// version without the view).
    pub server: Fact<ServerReading>,
    /// pgharden's reading of the same files, for the server's version and settings: every
    /// problem, errors (the server refuses the file) and warnings (pgharden cannot tell).
    pub pgharden: Fact<Vec<pgharden_conf::Problem>>,
}

impl Reading {
    fn unknown(why: Missing) -> Self {
        Self { server: Err(why.clone()), pgharden: Err(why) }
    }

    /// Why the file on disk is not what the server has in force, when it is refused: the server's
    /// errors, or (when the server could not be asked) pgharden's.
    pub fn refused(&self) -> Option<Vec<String>> {
        match (&self.server, &self.pgharden) {
            (Ok(r), _) if !r.errors.is_empty() => Some(r.errors.iter().map(ToString::to_string).collect()),
            (Ok(_), _) => None,
            (Err(_), Ok(problems)) => {
                let errors: Vec<String> = problems
                    .iter()
                    .filter(|p| p.severity == pgharden_conf::Severity::Error)
                    .map(ToString::to_string)
                    .collect();
                (!errors.is_empty()).then_some(errors)
            }
            (Err(_), Err(_)) => None,
        }
    }
}

/// Everything the rules look at.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// The server's major version: `server_version_num / 10000` from the server, or the data
    /// directory's `PG_VERSION` when the server could not be asked.
    pub major: Fact<u32>,
    /// Every setting the server reports, with where each was set.
    pub settings: Fact<Settings>,
    /// Every role but the predefined `pg_*` ones.
    pub roles: Fact<Vec<RoleFacts>>,
    /// Roles with an MD5 password hash (needs superuser: pg_authid).
    pub md5_roles: Fact<Vec<String>>,
    /// Every database that allows connections (`datallowconn`).
    pub databases: Fact<Vec<DatabaseFacts>>,
    /// pgaudit's installed files (`pgaudit.so`, control and SQL files) and the directories holding them.
    pub pgaudit_files: Fact<Vec<FileFacts>>,
    /// The installation's bin, lib, include and share directories and the programs in bin.
    pub software_files: Fact<Vec<FileFacts>>,
    /// The lines of pg_hba.conf and its includes, as pgharden parses them from disk.
    pub hba_rules: Fact<Vec<HbaRule>>,
    /// The maps of pg_ident.conf and its includes, as pgharden parses them from disk.
    pub ident_mappings: Fact<Vec<Mapping>>,
    /// Whether the server accepts pg_hba.conf as it is on disk.
    pub hba_reading: Reading,
    /// Whether the server accepts pg_ident.conf as it is on disk.
    pub ident_reading: Reading,
    /// PGDATA itself, then the entries checked inside it.
    pub data_dir: Fact<FileFacts>,
    /// The entries inside PGDATA.
    pub data_entries: Fact<Vec<FileFacts>>,
    /// The configuration, authentication and TLS files the server reads, and their directories.
    pub trusted: Fact<Vec<Trusted>>,
    /// The cluster owner's uid, as discovery found it; `None` when the files were not read.
    pub owner_uid: Option<u32>,
    /// The TLS files the settings name.
    pub tls: TlsFiles,
    /// The log directory and its files.
    pub logs: Fact<LogFiles>,
    /// Whether the host runs in FIPS mode (`/proc/sys/crypto/fips_enabled`).
    pub fips: Fact<bool>,
    /// What the network probe saw.
    pub network: Fact<NetworkFacts>,
    /// Why whole groups of facts are missing, each said once (the facts point here).
    pub problems: Vec<String>,
}

impl Evidence {
    /// No facts at all (every rule will say "not checked").
    pub fn empty() -> Self {
        fn no<T>() -> Fact<T> {
            Err(Missing::NotGathered)
        }
        Self {
            major: no(),
            settings: no(),
            roles: no(),
            md5_roles: no(),
            databases: no(),
            pgaudit_files: no(),
            software_files: no(),
            hba_rules: no(),
            ident_mappings: no(),
            hba_reading: Reading::unknown(Missing::NotGathered),
            ident_reading: Reading::unknown(Missing::NotGathered),
            data_dir: no(),
            data_entries: no(),
            trusted: no(),
            owner_uid: None,
            tls: TlsFiles { cert: no(), key: no(), key_encrypted: no(), crls: no() },
            logs: no(),
            fips: no(),
            network: Err(Missing::NotProbed("the probe was not run".into())),
            problems: Vec::new(),
        }
    }

    /// A setting's cluster-wide value, or why it is unknown.
    pub fn setting(&self, name: &str) -> Fact<&str> {
        match &self.settings {
            Ok(s) => match s.get(name) {
                Some(s) if s.unknown.is_some() => {
                    Err(Missing::failed(name, s.unknown.as_deref().unwrap_or_default()))
                }
                Some(s) => Ok(s.value.as_str()),
                None => Err(s.missing(name)),
            },
            Err(why) => Err(why.clone()),
        }
    }

    /// The bootstrap superuser's name (oid 10), when the roles are known.
    pub fn bootstrap_superuser(&self) -> Option<&str> {
        self.roles.as_ref().ok()?.iter().find(|r| r.bootstrap).map(|r| r.name.as_str())
    }

    /// Whether `name` is a superuser; `None` when the roles are unknown.
    pub fn is_superuser(&self, name: &str) -> Option<bool> {
        Some(self.roles.as_ref().ok()?.iter().any(|r| r.superuser && r.name == name))
    }

    /// Mark every database fact missing for `why` (said once in the problems).
    pub fn no_connection(&mut self, why: &str) {
        self.problems.push(format!("no database connection: {}", pgharden_text::cut(why, MAX_PROBLEM)));
        fn no<T>() -> Fact<T> {
            Err(Missing::NoConnection)
        }
        self.settings = no();
        self.roles = no();
        self.md5_roles = no();
        self.databases = no();
        self.pgaudit_files = no();
        self.software_files = no();
        self.hba_reading.server = no();
        self.ident_reading.server = no();
    }

    /// Mark every file fact missing for `why` (said once in the problems).
    pub fn no_files(&mut self, why: &str) {
        self.problems.push(format!("no file evidence: {}", pgharden_text::cut(why, MAX_PROBLEM)));
        fn no<T>() -> Fact<T> {
            Err(Missing::NoFiles)
        }
        self.hba_rules = no();
        self.ident_mappings = no();
        self.hba_reading.pgharden = no();
        self.ident_reading.pgharden = no();
        self.data_dir = no();
        self.data_entries = no();
        self.trusted = no();
        self.tls = TlsFiles { cert: no(), key: no(), key_encrypted: no(), crls: no() };
        self.logs = no();
    }
}

/// The most of one gathering problem kept in the report.
const MAX_PROBLEM: usize = 4000;

/// The kernel's FIPS flag; a kernel without the flag has no FIPS mode, so it is off.
pub(crate) fn fips_mode() -> Fact<bool> {
    match std::fs::read_to_string("/proc/sys/crypto/fips_enabled") {
        Ok(t) => Ok(t.trim() == "1"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Missing::failed("/proc/sys/crypto/fips_enabled", e)),
    }
}
