//! Resolving a [`Conninfo`] into typed [`Settings`]: libpq's `conninfo_add_defaults` followed by
//! the checks and special cases of `connectOptions2` and `initialize_SSL`'s file defaults.
//!
//! Owns: default precedence (explicit value > `PG*` variable > compiled-in default > derived
//! default), the host/hostaddr/port list rules, the password file lookup per host, the
//! `~/.postgresql/` file defaults, the `sslrootcert=system` rules, and refusing options whose
//! behaviour this crate does not implement when ignoring them could weaken a connection.
//! Must not: read certificate or key files (only their paths are decided here) or connect.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::env::{DEFAULT_PORT, Env};
use super::keywords::{self, KEYWORDS};
use super::pgpass::{self, PgpassEntry};
use super::timeout::ConnectTimeout;
use super::{Conninfo, ConninfoWriter};
use crate::error::{ConninfoError, Error};
use crate::secret::Secret;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SslMode {
    /// Only plaintext; never TLS.
    Disable,
    /// Plaintext first; TLS only if the server refuses plaintext.
    Allow,
    /// TLS if the server offers it, else plaintext; the certificate is not checked.
    Prefer,
    /// TLS or nothing; the certificate is checked only if a root file exists (libpq's rule).
    Require,
    /// TLS, and the server's chain must lead to a trusted root.
    VerifyCa,
    /// TLS, a trusted chain, and the host name must match the certificate: what pgharden recommends.
    VerifyFull,
}

impl SslMode {
    /// The mode a `sslmode` value names (libpq's spelling, case-sensitive); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "disable" => Self::Disable,
            "allow" => Self::Allow,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    /// libpq's spelling, as `sslmode` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where trusted root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// A PEM file (explicit `sslrootcert`, or the default `~/.postgresql/root.crt`, which may not exist).
    File(PathBuf),
    /// `sslrootcert=system`: the system's trust store (OpenSSL's default paths, honouring
    /// `SSL_CERT_FILE` and `SSL_CERT_DIR`). Forces `verify-full`; CRLs are not used.
    System,
}

/// A TLS protocol version for `ssl_min_protocol_version` / `ssl_max_protocol_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// `TLSv1` (1.0): libpq accepts the name; no connection of this crate negotiates it.
    Tls1_0,
    /// `TLSv1.1`: accepted as a name, never negotiated.
    Tls1_1,
    /// `TLSv1.2`.
    Tls1_2,
    /// `TLSv1.3`.
    Tls1_3,
}

impl TlsVersion {
    /// libpq compares case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "tlsv1" => Self::Tls1_0,
            "tlsv1.1" => Self::Tls1_1,
            "tlsv1.2" => Self::Tls1_2,
            "tlsv1.3" => Self::Tls1_3,
            _ => return None,
        })
    }

    /// The spelling PostgreSQL's settings and libpq use (`TLSv1.2`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tls1_0 => "TLSv1",
            Self::Tls1_1 => "TLSv1.1",
            Self::Tls1_2 => "TLSv1.2",
            Self::Tls1_3 => "TLSv1.3",
        }
    }
}

/// libpq's `sslcertmode` (PostgreSQL 16+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SslCertMode {
    /// Never send a client certificate.
    Disable,
    /// Send one if the server asks and one is configured.
    Allow,
    /// Fail unless a client certificate was sent.
    Require,
}

/// libpq's `sslnegotiation` (PostgreSQL 17+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SslNegotiation {
    /// SSLRequest first, then TLS.
    Postgres,
    /// TLS straight away, with ALPN `postgresql`.
    Direct,
}

/// libpq's `channel_binding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelBinding {
    /// Never use SCRAM channel binding.
    Disable,
    /// Use it when the server offers SCRAM-SHA-256-PLUS over TLS (libpq's default).
    Prefer,
    /// Fail unless the authentication used channel binding.
    Require,
}

/// libpq's `target_session_attrs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetSessionAttrs {
    /// Any server will do (the default).
    Any,
    /// A server that accepts writes.
    ReadWrite,
    /// A server that does not accept writes.
    ReadOnly,
    /// A server not in recovery.
    Primary,
    /// A server in recovery.
    Standby,
    /// A standby if any host is one, else any server.
    PreferStandby,
}

/// A host to try: its name or socket directory, the address to use instead of resolving it, the
/// port, and the password the password file holds for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// What `host` named: a TCP host name or address, or a socket directory.
    pub name: HostName,
    /// `hostaddr`: connect here without resolving `name`; `name` still serves verify-full and the
    /// password file.
    pub hostaddr: Option<IpAddr>,
    /// The port for this host (the matching `port` entry, else `PGPORT`, else 5432).
    pub port: u16,
    /// From the password file; used only when no `password` was given.
    pub password: Option<Secret>,
}

impl Host {
    /// The Unix socket file for a Unix host: `DIR/.s.PGSQL.PORT`.
    pub fn socket_path(&self) -> Option<PathBuf> {
        match &self.name {
            HostName::Unix(dir) if self.hostaddr.is_none() => {
                Some(dir.join(format!(".s.PGSQL.{}", self.port)))
            }
            _ => None,
        }
    }

    /// The `host` text as libpq keeps it (a name, an address, a directory, or empty).
    pub fn host_str(&self) -> String {
        match &self.name {
            HostName::Tcp(name) => name.clone(),
            HostName::Unix(dir) => dir.display().to_string(),
        }
    }
}

/// A host name (or address) reached over TCP, or a Unix socket directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostName {
    /// As given; may be empty when only `hostaddr` was given.
    Tcp(String),
    /// The directory holding `.s.PGSQL.PORT`.
    Unix(PathBuf),
}

/// Everything a connection needs, with every default applied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settings {
    /// Tried in order.
    pub hosts: Vec<Host>,
    /// The role to log in as (`user`, `PGUSER`, else the OS user's name).
    pub user: String,
    /// The database (`dbname`, `PGDATABASE`, else the user name).
    pub dbname: String,
    /// `password` or `PGPASSWORD`; when `None`, each host's password-file entry applies.
    pub password: Option<Secret>,
    /// The password file consulted (`passfile`, `PGPASSFILE` or `~/.pgpass`).
    pub passfile: Option<PathBuf>,
    /// `sslmode`, `PGSSLMODE`, else `prefer`.
    pub sslmode: SslMode,
    /// `None` only when no home directory is known and none was given.
    pub sslrootcert: Option<RootCert>,
    /// The client certificate file (`sslcert`, else `~/.postgresql/postgresql.crt`, which may not exist).
    pub sslcert: Option<PathBuf>,
    /// Its private key (`sslkey`, else `~/.postgresql/postgresql.key`).
    pub sslkey: Option<PathBuf>,
    /// Passphrase of an encrypted `sslkey`.
    pub sslpassword: Option<Secret>,
    /// A CRL file checked for every certificate of the server's chain (`sslcrl`; else
    /// `~/.postgresql/root.crl` when `sslcrldir` is not set either).
    pub sslcrl: Option<PathBuf>,
    /// A directory of CRLs, hashed as OpenSSL's `c_rehash` names them.
    pub sslcrldir: Option<PathBuf>,
    /// Whether a host name (never an address) is sent in TLS's SNI extension (`sslsni`, default 1).
    pub sslsni: bool,
    /// When a client certificate is sent.
    pub sslcertmode: SslCertMode,
    /// How TLS starts: after an SSLRequest, or directly (PostgreSQL 17+).
    pub sslnegotiation: SslNegotiation,
    /// `None`: no lower bound asked for (TLS 1.2 is still the lowest this crate speaks).
    pub ssl_min_protocol_version: Option<TlsVersion>,
    /// `None`: no upper bound asked for (TLS 1.3 is the highest this crate speaks).
    pub ssl_max_protocol_version: Option<TlsVersion>,
    /// Per attempt; [`ConnectTimeout::NotGiven`] when neither `connect_timeout` nor
    /// `PGCONNECT_TIMEOUT` was given, which pgharden's connections treat as
    /// [`DEFAULT_CONNECT_TIMEOUT`](super::DEFAULT_CONNECT_TIMEOUT).
    pub connect_timeout: ConnectTimeout,
    /// Sent in the startup message; shown in `pg_stat_activity` and the server log.
    pub application_name: Option<String>,
    /// Command-line options for the server, sent at startup (`-c name=value …`).
    pub options: Option<String>,
    /// Whether SCRAM channel binding is used.
    pub channel_binding: ChannelBinding,
    /// Which kind of server is acceptable; the next host is tried otherwise.
    pub target_session_attrs: TargetSessionAttrs,
    /// Over Unix sockets: the OS user the server must run as.
    pub requirepeer: Option<String>,
    /// What libpq would print on stderr while resolving (an ignored password file, say), and
    /// options accepted but without effect here.
    pub warnings: Vec<String>,
}

/// How the server's certificate will be checked, after libpq's rules about root files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verification {
    /// Any certificate is accepted (handshake signatures are still checked).
    None,
    /// The chain must lead to a trusted root (and pass the CRLs, if any).
    Chain,
    /// The chain, and the host name against the certificate.
    Full,
}

impl Settings {
    /// The password to send to `host`: the explicit one, else the password file's.
    pub fn password_for<'a>(&'a self, host: &'a Host) -> Option<&'a Secret> {
        self.password.as_ref().or(host.password.as_ref())
    }

    /// How TLS connections will verify the server. libpq verifies the chain in every mode that
    /// uses TLS as soon as the root certificate file exists, so `require` (and even `prefer` and
    /// `allow`) behave like `verify-ca` when `~/.postgresql/root.crt` or `sslrootcert` is present.
    pub fn verification(&self) -> Verification {
        match self.sslmode {
            SslMode::VerifyFull => Verification::Full,
            SslMode::VerifyCa => Verification::Chain,
            SslMode::Disable => Verification::None,
            SslMode::Allow | SslMode::Prefer | SslMode::Require => match &self.sslrootcert {
                Some(RootCert::File(p)) if p.exists() => Verification::Chain,
                Some(RootCert::System) => Verification::Full,
                _ => Verification::None,
            },
        }
    }

    /// The settings as a conninfo string (secrets as `***`), one `host`/`hostaddr`/`port` list.
    pub fn to_conninfo_string(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut w = ConninfoWriter::new(f);
        let join = |items: Vec<String>| items.join(",");
        w.pair("host", Some(&join(self.hosts.iter().map(Host::host_str).collect())))?;
        if self.hosts.iter().any(|h| h.hostaddr.is_some()) {
            let addrs = self.hosts.iter().map(|h| h.hostaddr.map(|a| a.to_string()).unwrap_or_default());
            w.pair("hostaddr", Some(&join(addrs.collect())))?;
        }
        w.pair("port", Some(&join(self.hosts.iter().map(|h| h.port.to_string()).collect())))?;
        w.pair("user", Some(&self.user))?;
        w.pair("dbname", Some(&self.dbname))?;
        if self.password.is_some() {
            w.pair("password", None)?;
        }
        w.pair("sslmode", Some(self.sslmode.as_str()))?;
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let root = match &self.sslrootcert {
            Some(RootCert::System) => Some("system".to_owned()),
            Some(RootCert::File(p)) => Some(p.display().to_string()),
            None => None,
        };
        for (k, v) in [
            ("sslrootcert", root),
            ("sslcert", path(&self.sslcert)),
            ("sslkey", path(&self.sslkey)),
            ("sslcrl", path(&self.sslcrl)),
            ("sslcrldir", path(&self.sslcrldir)),
        ] {
            if let Some(v) = v {
                w.pair(k, Some(&v))?;
            }
        }
        if self.sslpassword.is_some() {
            w.pair("sslpassword", None)?;
        }
        if let Some(v) = self.ssl_min_protocol_version {
            w.pair("ssl_min_protocol_version", Some(v.as_str()))?;
        }
        // The effective value, pgharden's default included.
        w.pair("connect_timeout", Some(&self.connect_timeout.to_string()))?;
        if let Some(a) = &self.application_name {
            w.pair("application_name", Some(a))?;
        }
        Ok(())
    }
}

/// The effective text value of every keyword after `conninfo_add_defaults`.
struct Values {
    values: Vec<Option<Zeroizing<String>>>,
    /// sslmode came from the compiled-in default (so `sslrootcert=system` may raise it).
    sslmode_defaulted: bool,
}

impl Values {
    fn get(&self, name: &str) -> Option<&str> {
        keywords::lookup(name).and_then(|i| self.values[i].as_deref()).map(String::as_str)
    }

    /// The value if set and non-empty (libpq treats most empty values as unset).
    fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }
}

/// libpq's `conninfo_add_defaults`: explicit value, else environment variable (`PGREQUIRESSL=1`
/// counting for `sslmode`), else the compiled-in default. `user` is filled in later.
fn add_defaults(info: &Conninfo, env: &Env) -> Values {
    let mut sslmode_defaulted = false;
    let values = KEYWORDS
        .iter()
        .enumerate()
        .map(|(i, kw)| {
            if let Some(v) = info.values.get(&i) {
                return Some(v.clone());
            }
            if let Some(v) = kw.env.and_then(|name| env.var(name)) {
                return Some(Zeroizing::new(v.to_owned()));
            }
            if kw.name == "sslmode" {
                if env.var("PGREQUIRESSL").is_some_and(|v| v.starts_with('1')) {
                    return Some(Zeroizing::new("require".to_owned()));
                }
                sslmode_defaulted = true;
            }
            kw.default.map(|d| Zeroizing::new(d.to_owned()))
        })
        .collect();
    Values { values, sslmode_defaulted }
}

pub(super) fn resolve(info: &Conninfo, env: &Env) -> Result<Settings, Error> {
    let v = add_defaults(info, env);
    let mut warnings = Vec::new();
    refuse_unsupported(&v, &mut warnings)?;

    // connectOptions2's order: hosts, then user, then dbname (defaulting to the user), then the
    // password file, whose lookup needs all three.
    let (mut hosts, port_texts) = hosts(&v, env)?;
    let user = match v.non_empty("user") {
        Some(u) => u.to_owned(),
        None => os_user(env)?,
    };
    let dbname = v.non_empty("dbname").map_or_else(|| user.clone(), str::to_owned);
    let password = v.non_empty("password").map(Secret::from);
    let passfile =
        v.non_empty("passfile").map(PathBuf::from).or_else(|| env.home().map(|h| h.join(".pgpass")));
    if password.is_none()
        && let Some(file) = &passfile
    {
        let key = PassKey { file, dbname: &dbname, user: &user, env };
        fill_passwords(&mut hosts, &port_texts, &key, &mut warnings);
    }

    let (sslmode, sslrootcert) = ssl_mode_and_root(&v, env)?;
    let sslnegotiation = ssl_negotiation(&v, sslmode)?;
    let (ssl_min_protocol_version, ssl_max_protocol_version) = protocol_range(&v)?;
    let pg_file = |name: &str| env.home().map(|h| h.join(".postgresql").join(name));
    let sslcrl = v.non_empty("sslcrl").map(PathBuf::from);
    let sslcrldir = v.non_empty("sslcrldir").map(PathBuf::from);
    // libpq consults ~/.postgresql/root.crl only when neither sslcrl nor sslcrldir is set.
    let sslcrl = if sslcrl.is_none() && sslcrldir.is_none() { pg_file("root.crl") } else { sslcrl };

    Ok(Settings {
        hosts,
        dbname,
        password,
        passfile,
        sslmode,
        sslrootcert,
        sslcert: v.non_empty("sslcert").map(PathBuf::from).or_else(|| pg_file("postgresql.crt")),
        sslkey: v.non_empty("sslkey").map(PathBuf::from).or_else(|| pg_file("postgresql.key")),
        sslpassword: v.non_empty("sslpassword").map(Secret::from),
        sslcrl,
        sslcrldir,
        // libpq looks only at the first character.
        sslsni: v.get("sslsni").is_some_and(|s| s.starts_with('1')),
        sslcertmode: one_of(&v, "sslcertmode", SSLCERTMODES)?,
        sslnegotiation,
        ssl_min_protocol_version,
        ssl_max_protocol_version,
        connect_timeout: ConnectTimeout::parse(v.get("connect_timeout"))?,
        application_name: v
            .non_empty("application_name")
            .or(v.non_empty("fallback_application_name"))
            .map(str::to_owned),
        options: v.non_empty("options").map(str::to_owned),
        channel_binding: one_of(&v, "channel_binding", CHANNEL_BINDINGS)?,
        target_session_attrs: one_of(&v, "target_session_attrs", TARGET_SESSION_ATTRS)?,
        requirepeer: v.non_empty("requirepeer").map(str::to_owned),
        user,
        warnings,
    })
}

const SSLCERTMODES: &[(&str, SslCertMode)] =
    &[("disable", SslCertMode::Disable), ("allow", SslCertMode::Allow), ("require", SslCertMode::Require)];

const CHANNEL_BINDINGS: &[(&str, ChannelBinding)] = &[
    ("disable", ChannelBinding::Disable),
    ("prefer", ChannelBinding::Prefer),
    ("require", ChannelBinding::Require),
];

const TARGET_SESSION_ATTRS: &[(&str, TargetSessionAttrs)] = &[
    ("any", TargetSessionAttrs::Any),
    ("read-write", TargetSessionAttrs::ReadWrite),
    ("read-only", TargetSessionAttrs::ReadOnly),
    ("primary", TargetSessionAttrs::Primary),
    ("standby", TargetSessionAttrs::Standby),
    ("prefer-standby", TargetSessionAttrs::PreferStandby),
];

/// libpq's `pg_fe_getauthname`: the passwd name of the effective uid.
fn os_user(env: &Env) -> Result<String, Error> {
    env.os_user().map(str::to_owned).ok_or_else(|| {
        ConninfoError::NoOsUser {
            uid: env.euid(),
            reason: "no passwd entry for the effective uid".to_owned(),
        }
        .into()
    })
}

/// `sslnegotiation=direct` (PostgreSQL 17) skips the SSLRequest, so plaintext fallback is
/// impossible and weak sslmodes are refused.
fn ssl_negotiation(v: &Values, sslmode: SslMode) -> Result<SslNegotiation, Error> {
    match v.get("sslnegotiation").unwrap_or("postgres") {
        "postgres" => Ok(SslNegotiation::Postgres),
        "direct" if sslmode >= SslMode::Require => Ok(SslNegotiation::Direct),
        "direct" => Err(ConninfoError::WeakSslModeWithDirect(sslmode.as_str().to_owned()).into()),
        other => Err(invalid("sslnegotiation", other)),
    }
}

/// What the password file is searched with, besides each host.
struct PassKey<'a> {
    file: &'a Path,
    dbname: &'a str,
    user: &'a str,
    env: &'a Env,
}

/// Look every host up in the password file (libpq does it per host, since each may have its own
/// line). A warning about the file is kept once, not once per host.
fn fill_passwords(hosts: &mut [Host], port_texts: &[String], key: &PassKey<'_>, warnings: &mut Vec<String>) {
    for (host, port) in hosts.iter_mut().zip(port_texts) {
        let (found, warning) = pgpass_for(key, host, port);
        host.password = found;
        if let Some(w) = warning.filter(|w| !warnings.contains(w)) {
            warnings.push(w);
        }
    }
}

fn invalid(keyword: &'static str, value: &str) -> Error {
    ConninfoError::InvalidValue { keyword, value: value.to_owned() }.into()
}

/// Map a keyword's value onto an enum. Every keyword passed here has a compiled-in default, so
/// the value is only missing if the table changes; the first choice stands in then.
fn one_of<T: Copy>(v: &Values, keyword: &'static str, choices: &[(&str, T)]) -> Result<T, Error> {
    let value = v.get(keyword).unwrap_or(choices[0].0);
    choices.iter().find(|(name, _)| *name == value).map(|(_, t)| *t).ok_or_else(|| invalid(keyword, value))
}

/// Options libpq knows whose behaviour is not implemented here. Those that only tune or decorate
/// a connection are ignored with a warning; those that would make it stricter (or use a mechanism
/// we lack) are refused, because silently dropping them would weaken what the caller asked for.
fn refuse_unsupported(v: &Values, warnings: &mut Vec<String>) -> Result<(), Error> {
    let refuse = |keyword: &'static str, reason: &'static str| -> Result<(), Error> {
        match v.non_empty(keyword) {
            Some(value) => {
                Err(ConninfoError::Unsupported { keyword, value: value.to_owned(), reason }.into())
            }
            None => Ok(()),
        }
    };
    refuse("service", "connection service files are not read")?;
    refuse("require_auth", "authentication methods cannot be restricted")?;
    refuse("scram_client_key", "SCRAM keys cannot be passed")?;
    refuse("scram_server_key", "SCRAM keys cannot be passed")?;
    refuse("oauth_issuer", "OAuth is not supported")?;
    refuse("oauth_client_id", "OAuth is not supported")?;
    refuse("oauth_client_secret", "OAuth is not supported")?;
    if v.non_empty("replication").is_some_and(|r| !matches!(r, "0" | "false" | "off" | "no")) {
        refuse("replication", "replication connections are not supported")?;
    }
    if v.non_empty("min_protocol_version").is_some_and(|p| p != "3.0") {
        refuse("min_protocol_version", "only protocol 3.0 is spoken")?;
    }
    match v.get("gssencmode").unwrap_or("disable") {
        "disable" | "prefer" | "allow" => {}
        "require" => refuse("gssencmode", "GSSAPI encryption is not supported")?,
        other => return Err(invalid("gssencmode", other)),
    }
    match v.get("load_balance_hosts").unwrap_or("disable") {
        "disable" => {}
        "random" => refuse("load_balance_hosts", "hosts are always tried in the order given")?,
        other => return Err(invalid("load_balance_hosts", other)),
    }
    for ignored in [
        "sslkeylogfile",
        "krbsrvname",
        "gsslib",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
    ] {
        if v.non_empty(ignored).is_some() {
            warnings.push(format!("connection option \"{ignored}\" is ignored by pgharden"));
        }
    }
    if v.non_empty("client_encoding")
        .is_some_and(|e| !e.eq_ignore_ascii_case("utf8") && !e.eq_ignore_ascii_case("utf-8"))
    {
        warnings.push("client_encoding is ignored: pgharden always uses UTF8".to_owned());
    }
    Ok(())
}

/// sslmode and sslrootcert, with the PostgreSQL 16+ rules for `sslrootcert=system`: an unset
/// sslmode becomes verify-full, an explicit weaker one is an error.
fn ssl_mode_and_root(v: &Values, env: &Env) -> Result<(SslMode, Option<RootCert>), Error> {
    let text = v.get("sslmode").unwrap_or("prefer");
    let mut mode = SslMode::parse(text).ok_or_else(|| invalid("sslmode", text))?;
    let root = match v.non_empty("sslrootcert") {
        Some("system") => Some(RootCert::System),
        Some(path) => Some(RootCert::File(PathBuf::from(path))),
        None => env.home().map(|h| RootCert::File(h.join(".postgresql").join("root.crt"))),
    };
    if root == Some(RootCert::System) {
        if v.sslmode_defaulted {
            mode = SslMode::VerifyFull;
        } else if mode != SslMode::VerifyFull {
            return Err(ConninfoError::WeakSslModeWithSystemRoots(mode.as_str().to_owned()).into());
        }
    }
    Ok((mode, root))
}

fn protocol_range(v: &Values) -> Result<(Option<TlsVersion>, Option<TlsVersion>), Error> {
    let parse = |keyword: &'static str| -> Result<Option<TlsVersion>, Error> {
        match v.non_empty(keyword) {
            None => Ok(None),
            Some(s) => TlsVersion::parse(s).map(Some).ok_or_else(|| invalid(keyword, s)),
        }
    };
    let (min, max) = (parse("ssl_min_protocol_version")?, parse("ssl_max_protocol_version")?);
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        return Err(ConninfoError::InvalidProtocolRange { min: lo.as_str(), max: hi.as_str() }.into());
    }
    Ok((min, max))
}

/// libpq's `pqParseIntParam`: leading whitespace and a sign allowed, trailing whitespace allowed,
/// nothing else, and the value must fit an `int`.
pub(super) fn parse_int(text: &str) -> Option<i32> {
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r');
    let t = text.trim_start_matches(is_space).trim_end_matches(is_space);
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<i32>().ok()
}

/// `connectOptions2`'s host list: hostaddr, else host, sets the count; one port applies to all.
/// Returns the hosts and each host's port text (as the password file lookup needs it).
fn hosts(v: &Values, env: &Env) -> Result<(Vec<Host>, Vec<String>), Error> {
    let split = |s: Option<&str>| s.map(|s| s.split(',').map(str::to_owned).collect::<Vec<_>>());
    let addrs = split(v.non_empty("hostaddr"));
    let names = split(v.non_empty("host"));
    let count = addrs.as_ref().or(names.as_ref()).map_or(1, Vec::len);
    if let Some(n) = &names
        && n.len() != count
    {
        return Err(ConninfoError::HostCountMismatch { hosts: n.len(), hostaddrs: count }.into());
    }
    let ports = match split(v.non_empty("port")) {
        None => vec![String::new(); count],
        Some(p) if p.len() == 1 => vec![p[0].clone(); count],
        Some(p) if p.len() == count => p,
        Some(p) => return Err(ConninfoError::PortCountMismatch { ports: p.len(), hosts: count }.into()),
    };
    let mut hosts = Vec::with_capacity(count);
    for (i, port_text) in ports.iter().enumerate() {
        let name = names.as_ref().map_or("", |n| n[i].as_str());
        let addr = addrs.as_ref().map_or("", |a| a[i].as_str());
        hosts.push(host(name, addr, port_text, env)?);
    }
    Ok((hosts, ports))
}

fn host(name: &str, addr: &str, port_text: &str, env: &Env) -> Result<Host, Error> {
    let hostaddr = if addr.is_empty() {
        None
    } else {
        Some(addr.parse::<IpAddr>().map_err(|_| ConninfoError::InvalidHostaddr(addr.to_owned()))?)
    };
    let name = if hostaddr.is_some() {
        HostName::Tcp(name.to_owned())
    } else if name.is_empty() {
        HostName::Unix(env.socket_dir().to_path_buf())
    } else if name.starts_with('/') {
        HostName::Unix(PathBuf::from(name))
    } else if name.starts_with('@') {
        return Err(ConninfoError::Unsupported {
            keyword: "host",
            value: name.to_owned(),
            reason: "abstract Unix sockets are not supported",
        }
        .into());
    } else {
        HostName::Tcp(name.to_owned())
    };
    Ok(Host { name, hostaddr, port: parse_port(port_text)?, password: None })
}

fn parse_port(text: &str) -> Result<u16, Error> {
    if text.is_empty() {
        return Ok(DEFAULT_PORT);
    }
    let n = parse_int(text)
        .ok_or_else(|| ConninfoError::InvalidInteger { keyword: "port", value: text.to_owned() })?;
    u16::try_from(n)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| ConninfoError::InvalidPort(text.to_owned()).into())
}

/// `passwordFromFile`'s key: the host text (else the address); `localhost` for an empty host or
/// the default socket directory; port `5432` when empty.
fn pgpass_for(key: &PassKey<'_>, host: &Host, port_text: &str) -> (Option<Secret>, Option<String>) {
    let mut key_host = host.host_str();
    if key_host.is_empty() {
        key_host = host.hostaddr.map(|a| a.to_string()).unwrap_or_default();
    }
    if key_host.is_empty() || (key_host.starts_with('/') && Path::new(&key_host) == key.env.socket_dir()) {
        key_host = "localhost".to_owned();
    }
    let port = if port_text.is_empty() { "5432" } else { port_text };
    pgpass::lookup(key.file, &PgpassEntry { host: &key_host, port, dbname: key.dbname, user: key.user })
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn env() -> Env {
        Env::new().with_os_user("osuser")
    }

    fn resolve(s: &str, env: &Env) -> Result<Settings, Error> {
        Conninfo::parse(s)?.resolve(env)
    }

    fn tcp(name: &str, port: u16) -> Host {
        Host { name: HostName::Tcp(name.into()), hostaddr: None, port, password: None }
    }

    #[test]
    fn built_in_defaults() {
        let s = resolve("", &env()).unwrap();
        assert_eq!(
            s.hosts,
            vec![Host {
                name: HostName::Unix("/var/run/postgresql".into()),
                hostaddr: None,
                port: 5432,
                password: None
            }]
        );
        assert_eq!(s.hosts[0].socket_path().unwrap(), Path::new("/var/run/postgresql/.s.PGSQL.5432"));
        assert_eq!((s.user.as_str(), s.dbname.as_str()), ("osuser", "osuser"));
        assert_eq!(s.sslmode, SslMode::Prefer);
        assert_eq!(s.ssl_min_protocol_version, Some(TlsVersion::Tls1_2));
        assert!(s.sslsni);
        assert_eq!((s.sslrootcert.clone(), s.sslcert.clone(), s.passfile.clone()), (None, None, None));
        assert_eq!(s.verification(), Verification::None);

        let s = resolve("", &env().with_home("/home/u").with_socket_dir("/tmp")).unwrap();
        assert_eq!(s.hosts[0].name, HostName::Unix("/tmp".into()));
        assert_eq!(s.sslrootcert, Some(RootCert::File("/home/u/.postgresql/root.crt".into())));
        assert_eq!(s.sslcert.as_deref(), Some(Path::new("/home/u/.postgresql/postgresql.crt")));
        assert_eq!(s.sslkey.as_deref(), Some(Path::new("/home/u/.postgresql/postgresql.key")));
        assert_eq!(s.sslcrl.as_deref(), Some(Path::new("/home/u/.postgresql/root.crl")));
        assert_eq!(s.passfile.as_deref(), Some(Path::new("/home/u/.pgpass")));
        // An explicit sslcrldir turns the default root.crl off.
        let s = resolve("sslcrldir=/crls", &env().with_home("/home/u")).unwrap();
        assert_eq!((s.sslcrl, s.sslcrldir.as_deref()), (None, Some(Path::new("/crls"))));
    }

    #[test]
    fn no_os_user_is_an_error_only_when_needed() {
        assert!(matches!(resolve("", &Env::new()), Err(Error::Conninfo(ConninfoError::NoOsUser { .. }))));
        assert_eq!(resolve("user=u", &Env::new()).unwrap().dbname, "u");
    }

    #[test]
    fn precedence_explicit_then_env_then_default() {
        let e = env()
            .with_var("PGHOST", "envhost")
            .with_var("PGPORT", "6000")
            .with_var("PGUSER", "envuser")
            .with_var("PGDATABASE", "envdb")
            .with_var("PGSSLMODE", "require")
            .with_var("PGAPPNAME", "envapp")
            .with_var("PGCONNECT_TIMEOUT", "1")
            .with_var("PGPASSWORD", "envpw");
        let s = resolve("", &e).unwrap();
        assert_eq!(s.hosts, vec![tcp("envhost", 6000)]);
        assert_eq!((s.user.as_str(), s.dbname.as_str()), ("envuser", "envdb"));
        assert_eq!(s.sslmode, SslMode::Require);
        assert_eq!(s.application_name.as_deref(), Some("envapp"));
        assert_eq!(s.connect_timeout, ConnectTimeout::After(std::time::Duration::from_secs(2)));
        assert_eq!(s.password.as_ref().map(Secret::expose), Some("envpw"));

        let s = resolve("host=h port=7000 user=u dbname=d sslmode=disable password=pw connect_timeout=0", &e)
            .unwrap();
        assert_eq!(s.hosts, vec![tcp("h", 7000)]);
        assert_eq!((s.user.as_str(), s.dbname.as_str(), s.sslmode), ("u", "d", SslMode::Disable));
        assert_eq!(s.password.as_ref().map(Secret::expose), Some("pw"));
        assert_eq!(s.connect_timeout, ConnectTimeout::Indefinite);
        // Not given at all: pgharden's default applies.
        assert_eq!(resolve("", &env()).unwrap().connect_timeout, ConnectTimeout::NotGiven);

        // An empty dbname falls back to the user, not to PGDATABASE (the value is set, just empty).
        assert_eq!(resolve("dbname='' user=u", &e).unwrap().dbname, "u");
        // PGREQUIRESSL is honoured, below PGSSLMODE.
        assert_eq!(resolve("", &env().with_var("PGREQUIRESSL", "1")).unwrap().sslmode, SslMode::Require);
        let both = env().with_var("PGREQUIRESSL", "1").with_var("PGSSLMODE", "allow");
        assert_eq!(resolve("", &both).unwrap().sslmode, SslMode::Allow);
        // fallback_application_name applies only without application_name.
        assert_eq!(
            resolve("fallback_application_name=f", &env()).unwrap().application_name.as_deref(),
            Some("f")
        );
    }

    #[test]
    fn host_lists() {
        let s = resolve("host=a,/sock,,b port=1,2,3,", &env()).unwrap();
        assert_eq!(s.hosts.len(), 4);
        assert_eq!(s.hosts[0], tcp("a", 1));
        assert_eq!(s.hosts[1].name, HostName::Unix("/sock".into()));
        assert_eq!(s.hosts[2].name, HostName::Unix("/var/run/postgresql".into()));
        assert_eq!(s.hosts[3], tcp("b", 5432));
        let s = resolve("host=a,b port=6543", &env()).unwrap();
        assert_eq!(s.hosts, vec![tcp("a", 6543), tcp("b", 6543)]);
        let s = resolve("host=db.example.com hostaddr=192.0.2.1", &env()).unwrap();
        assert_eq!(s.hosts[0].hostaddr, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(s.hosts[0].name, HostName::Tcp("db.example.com".into()));
        let s = resolve("hostaddr=::1", &env()).unwrap();
        assert_eq!(s.hosts[0].name, HostName::Tcp(String::new()));
        let s = resolve("postgresql://h1:5433,[::1]:5434/db", &env()).unwrap();
        assert_eq!(s.hosts, vec![tcp("h1", 5433), tcp("::1", 5434)]);
        assert_eq!(resolve("port=' 5433 '", &env()).unwrap().hosts[0].port, 5433);
    }

    #[test]
    fn value_errors() {
        use ConninfoError as E;
        let cases: &[(&str, ConninfoError)] = &[
            ("host=a,b port=1,2,3", E::PortCountMismatch { ports: 3, hosts: 2 }),
            ("host=a,b hostaddr=127.0.0.1", E::HostCountMismatch { hosts: 2, hostaddrs: 1 }),
            ("port=abc", E::InvalidInteger { keyword: "port", value: "abc".into() }),
            ("port=70000", E::InvalidPort("70000".into())),
            ("port=0", E::InvalidPort("0".into())),
            ("connect_timeout=5s", E::InvalidInteger { keyword: "connect_timeout", value: "5s".into() }),
            ("hostaddr=example.com", E::InvalidHostaddr("example.com".into())),
            ("sslmode=strict", E::InvalidValue { keyword: "sslmode", value: "strict".into() }),
            ("sslmode=''", E::InvalidValue { keyword: "sslmode", value: String::new() }),
            (
                "target_session_attrs=master",
                E::InvalidValue { keyword: "target_session_attrs", value: "master".into() },
            ),
            (
                "ssl_min_protocol_version=TLSv1.4",
                E::InvalidValue { keyword: "ssl_min_protocol_version", value: "TLSv1.4".into() },
            ),
            (
                "ssl_min_protocol_version=tlsv1.3 ssl_max_protocol_version=TLSv1.2",
                E::InvalidProtocolRange { min: "TLSv1.3", max: "TLSv1.2" },
            ),
            ("sslrootcert=system sslmode=require", E::WeakSslModeWithSystemRoots("require".into())),
            ("sslrootcert=system sslmode=verify-ca", E::WeakSslModeWithSystemRoots("verify-ca".into())),
            ("sslnegotiation=direct", E::WeakSslModeWithDirect("prefer".into())),
        ];
        for (s, want) in cases {
            assert_eq!(resolve(s, &env()), Err(want.clone().into()), "{s}");
        }
        assert!(matches!(
            resolve("service=x", &env()),
            Err(Error::Conninfo(E::Unsupported { keyword: "service", .. }))
        ));
        assert!(matches!(resolve("host=@abstract", &env()), Err(Error::Conninfo(E::Unsupported { .. }))));
    }

    #[test]
    fn system_roots_force_verify_full() {
        let s = resolve("sslrootcert=system", &env()).unwrap();
        assert_eq!((s.sslmode, s.sslrootcert.clone()), (SslMode::VerifyFull, Some(RootCert::System)));
        assert_eq!(s.verification(), Verification::Full);
        // Also when the root comes from the environment.
        assert_eq!(
            resolve("", &env().with_var("PGSSLROOTCERT", "system")).unwrap().sslmode,
            SslMode::VerifyFull
        );
        // An sslmode from the environment is explicit.
        let e = env().with_var("PGSSLROOTCERT", "system").with_var("PGSSLMODE", "prefer");
        assert!(resolve("", &e).is_err());
    }

    #[test]
    fn require_with_a_root_file_verifies_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        let e = env().with_home(home);
        assert_eq!(resolve("sslmode=require", &e).unwrap().verification(), Verification::None);
        fs::create_dir(home.join(".postgresql")).unwrap();
        fs::write(home.join(".postgresql/root.crt"), "x").unwrap();
        assert_eq!(resolve("sslmode=require", &e).unwrap().verification(), Verification::Chain);
        assert_eq!(resolve("sslmode=verify-full", &e).unwrap().verification(), Verification::Full);
        assert_eq!(resolve("sslmode=disable", &e).unwrap().verification(), Verification::None);
    }

    #[test]
    fn password_file_per_host() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        fs::write(
            &file,
            "localhost:5432:db:u:socketpw\nh1:5433:db:u:h1pw\n192.0.2.9:5432:*:*:addrpw\n*:*:other:*:otherpw\n",
        )
        .unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        let e = env().with_var("PGPASSFILE", file.to_str().unwrap());
        let s =
            resolve("host=h1,,/var/run/postgresql,h2 port=5433,5432,5432,5432 user=u dbname=db", &e).unwrap();
        let pw: Vec<Option<&str>> = s.hosts.iter().map(|h| s.password_for(h).map(Secret::expose)).collect();
        assert_eq!(pw, vec![Some("h1pw"), Some("socketpw"), Some("socketpw"), None]);
        // hostaddr stands in for an empty host.
        let s = resolve("hostaddr=192.0.2.9 user=u dbname=x", &e).unwrap();
        assert_eq!(s.password_for(&s.hosts[0]).map(Secret::expose), Some("addrpw"));
        // An explicit password wins and the file is not consulted.
        let s = resolve("host=h1 port=5433 user=u dbname=db password=explicit", &e).unwrap();
        assert_eq!(s.hosts[0].password, None);
        assert_eq!(s.password_for(&s.hosts[0]).map(Secret::expose), Some("explicit"));
        // passfile= beats PGPASSFILE; a group-readable file is ignored with libpq's warning.
        fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
        let s = resolve(&format!("passfile={} host=h1 port=5433 user=u dbname=db", file.display()), &env())
            .unwrap();
        assert_eq!(s.hosts[0].password, None);
        assert_eq!(s.warnings.len(), 1);
        assert!(
            s.warnings[0].contains("has group or world access; permissions should be u=rw (0600) or less")
        );
    }

    #[test]
    fn display_never_shows_passwords() {
        let s = resolve("host=h user=u password=topsecret sslpassword=alsosecret dbname='my db'", &env())
            .unwrap();
        let text = s.to_string();
        assert!(!text.contains("topsecret") && !text.contains("alsosecret"), "{text}");
        assert!(text.contains("password=***") && text.contains("dbname='my db'"), "{text}");
        assert!(!format!("{s:?}").contains("topsecret"));
        // The text reads back (minus the secrets).
        let back = resolve(
            &s.to_conninfo_string().replace("sslpassword=*** ", "").replace("password=*** ", ""),
            &env(),
        )
        .unwrap();
        assert_eq!((back.hosts, back.dbname), (s.hosts.clone(), s.dbname.clone()));
    }

    #[test]
    fn parse_int_is_libpqs() {
        assert_eq!(parse_int(" 12 "), Some(12));
        assert_eq!(parse_int("-3"), Some(-3));
        assert_eq!(parse_int("+4"), Some(4));
        for bad in ["", " ", "1 2", "0x10", "99999999999", "-", "1.5"] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
    }
}
