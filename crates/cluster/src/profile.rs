//! The `stig` profile: what a hardened cluster's configuration says, and why.
//!
//! Owns: the settings of STIG Appendix C (logging: where, what, when), Appendix B (pgaudit),
//! Appendix G 2.7.2 (TLS files and `ssl_*`), password hashing, the STIG checks' own values
//! (`client_min_messages`, `statement_timeout`, `tcp_keepalives_*`), the protection level (which
//! pg_hba.conf lines the plan's `hba_specs` write; the pg_ident.conf map of mutual TLS) and, on a
//! Debian cluster, the collector's fixed log file — each with the reason an operator reads in the
//! plan, chosen for the server's major version; and reading durations as postgresql.conf spells
//! them.
//! Must not: read or write files (the plan compares this with what is there).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

pub use crate::plan::level::Level;

/// The server's key followed by its certificate chain, in the data directory: both `ssl_cert_file`
/// and `ssl_key_file` name it, so the pair is replaced by one atomic rename and can never mismatch
/// (Appendix G's separate server.crt and server.key need two, and a crash between them leaves a
/// server that cannot start).
pub const SERVER_PEM: &str = "server.pem";
/// Where earlier pgharden releases (and Appendix G) put the server certificate.
pub const LEGACY_SERVER_CERT: &str = "server.crt";
/// The server key's passphrase, when the key is encrypted: in the directory of postgresql.conf
/// (PGDATA, or /etc/postgresql/VERSION/NAME on Debian, where a base backup of PGDATA does not copy it
/// along with the encrypted key), mode 0600, owned by the cluster owner, read by
/// [`passphrase_command`] at every start and reload.
pub const SERVER_KEY_PASSPHRASE: &str = "server.key.pass";
/// The program `ssl_passphrase_command` runs: it prints the file it is given, so the command line
/// (in postgresql.conf, `SHOW`, `ps`) names only the file, never the passphrase.
pub const CAT: &str = "/bin/cat";
/// Root CA and client intermediate: the CAs a client certificate may chain to.
pub const CA_FILE: &str = "root.crt";
/// Every CA's CRL, root included (OpenSSL checks revocation for the whole chain).
pub const CRL_FILE: &str = "root.crl";
/// The TLS 1.2 suites the profile allows (TLS 1.3's are all strong): only ephemeral key exchange,
/// so every certificate key type (RSA, ECDSA, Ed25519) gets forward secrecy; no anonymous or NULL
/// suites, no MD5/SHA-1 MACs, no RC4/3DES, and no CAMELLIA/ARIA (not NIST-approved); PSK and SRP
/// need secrets PostgreSQL never has.
pub const SSL_CIPHERS: &str = "HIGH:!aNULL:!eNULL:!MD5:!3DES:!RC4:!SHA1:!kRSA:!PSK:!SRP:!CAMELLIA:!ARIA";
/// PostgreSQL 18's `ssl_tls13_ciphers`: OpenSSL's own default TLS 1.3 suites, pinned. They are the
/// AEAD ciphers the TLS 1.2 list ([`SSL_CIPHERS`]) allows too (AES-GCM with 256- and 128-bit keys,
/// ChaCha20-Poly1305); the CCM suites, whose CCM_8 variant has 8-byte tags, stay out. Pinned so that
/// neither another OpenSSL's defaults nor a line elsewhere in the files can widen it.
pub const SSL_TLS13_CIPHERS: &str =
    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";
/// The TLS 1.3 suites a `ssl_tls13_ciphers` already there may list and still meet the profile.
const TLS13_SUITES: &[&str] =
    &["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"];
/// PostgreSQL 18's `ssl_groups`: X25519 first (what clients offer a key share for), then the NIST
/// curves, every one of them a group the audit approves on the wire (SP 800-186 / SP 800-56A).
/// The finite-field groups are approved too but left out: OpenSSL 1.1.1, which PostgreSQL 18 still
/// builds with, does not know them in a group list and the server would then refuse to start.
pub const SSL_GROUPS: &str = "X25519:P-256:P-384:P-521";
/// The groups a `ssl_groups` already there may list and still meet the profile: the approved ones,
/// by every name OpenSSL 1.1.1 and 3 both accept.
const APPROVED_GROUPS: &[&str] =
    &["X25519", "X448", "P-256", "prime256v1", "secp256r1", "P-384", "secp384r1", "P-521", "secp521r1"];
/// PostgreSQL 14 to 17's `ssl_ecdh_curve`, the one curve ECDHE uses there: P-256 (the server's
/// default), which every client supports and the audit approves.
pub const SSL_ECDH_CURVE: &str = "prime256v1";
/// The curves an `ssl_ecdh_curve` already there may name and still meet the profile (by the short
/// names OpenSSL's `OBJ_sn2nid` knows, which is how PostgreSQL 14 to 17 read it).
const APPROVED_CURVES: &[&str] = &["prime256v1", "secp384r1", "secp521r1"];

/// The pg_ident.conf map the hostssl lines use.
pub const IDENT_MAP: &str = "pgharden";

/// Choices the operator makes for the profile.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileOptions {
    /// Networks allowed to connect (with a client certificate); Appendix G uses the loopback ones.
    pub allow: Vec<String>,
    /// Log to syslog (Appendix C 2.3.1.2, "advised whenever possible") instead of stderr files.
    pub syslog: bool,
    /// Whether the pgaudit library is installed (Appendix B needs it preloaded).
    pub pgaudit_installed: bool,
    /// The server-wide `statement_timeout` (never zero).
    pub statement_timeout: StatementTimeout,
    /// On a Debian cluster, keep Debian's conventions (the log in /var/log/postgresql where
    /// pg_lsclusters and logrotate expect it, postgresql.conf readable by all); `false` takes the
    /// STIG's stricter layout instead.
    pub debian_conventions: bool,
    /// The one log file the collector writes (Debian's, set by the plan when conventions are
    /// kept); `None`: weekday files in PGDATA/log.
    pub log_file: Option<LogFile>,
    /// How TCP logins authenticate: client certificates (`mutual`, the STIG's) or, at a lower
    /// level, a SCRAM password over TLS.
    pub level: Level,
}

/// A fixed log file for the collector: Debian's `/var/log/postgresql/postgresql-VERSION-NAME.log`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogFile {
    /// The value for `log_directory` (absolute).
    pub directory: String,
    /// The value for `log_filename` (no `%` escapes: one file the collector appends to).
    pub filename: String,
}

/// The mode of Debian's log file: pg_ctlcluster creates it `0640`, group `adm` (Debian's log
/// readers), before the server starts, so the collector only appends to it and its own
/// `log_file_mode` (0600, the STIG's) applies only to a file it has to create itself.
pub const DEBIAN_LOG_FILE_MODE: u32 = 0o640;

impl Default for ProfileOptions {
    fn default() -> Self {
        Self {
            allow: vec!["127.0.0.1/32".into(), "::1/128".into()],
            syslog: false,
            pgaudit_installed: false,
            statement_timeout: StatementTimeout::default(),
            debian_conventions: true,
            log_file: None,
            level: Level::Mutual,
        }
    }
}

/// Units of time as postgresql.conf spells them, largest first, in milliseconds.
const TIME_UNITS: [(&str, u64); 5] =
    [("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1_000), ("ms", 1)];

/// The longest `statement_timeout` PostgreSQL accepts (an `int` of milliseconds).
const MAX_STATEMENT_TIMEOUT_MS: u64 = i32::MAX as u64;

/// The `statement_timeout` apply sets: a limit, never 0, because 0 turns the timeout off and the
/// STIG (CD16-00-004700, PGS9-00-010600) says "If these settings are not set to something other
/// than zero, this is a finding." Parsed from what an operator types (`1h`, `90min`, `30000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementTimeout {
    millis: u64,
}

impl StatementTimeout {
    /// The limit in milliseconds (1 to 2147483647).
    pub fn millis(self) -> u64 {
        self.millis
    }

    /// The value as postgresql.conf and `SHOW` spell it: the largest unit that divides it exactly.
    pub fn to_conf(self) -> String {
        let (unit, size) =
            TIME_UNITS.iter().find(|(_, size)| self.millis.is_multiple_of(*size)).unwrap_or(&("ms", 1));
        format!("{}{unit}", self.millis / size)
    }
}

impl Default for StatementTimeout {
    /// One hour: longer than any interactive statement, short enough that a runaway one ends.
    fn default() -> Self {
        Self { millis: 3_600_000 }
    }
}

impl FromStr for StatementTimeout {
    type Err = TimeoutError;

    fn from_str(text: &str) -> Result<Self, TimeoutError> {
        let millis = duration_ms(text, 1).ok_or_else(|| TimeoutError::Syntax(text.to_string()))?;
        match millis {
            0 => Err(TimeoutError::Zero),
            m if m > MAX_STATEMENT_TIMEOUT_MS => Err(TimeoutError::TooLong(text.to_string())),
            millis => Ok(Self { millis }),
        }
    }
}

impl fmt::Display for StatementTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_conf())
    }
}

impl Serialize for StatementTimeout {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_conf())
    }
}

/// Why a `statement_timeout` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeoutError {
    #[error(
        "0 turns statement_timeout off, and the STIG (CD16-00-004700, PGS9-00-010600) says: \"If these \
         settings are not set to something other than zero, this is a finding.\" Give a limit such as 1h; \
         a long batch job can `SET statement_timeout` in its own session"
    )]
    /// 0, which turns the timeout off.
    Zero,
    #[error(
        "{0:?} is not a duration: give a whole number followed by ms, s, min, h or d (no unit means \
         milliseconds), such as 1h or 90min"
    )]
    /// Not a whole number with an optional unit.
    Syntax(String),
    #[error("{0:?} is longer than PostgreSQL allows for statement_timeout (2147483647 ms, about 24 days)")]
    /// More than PostgreSQL's maximum of 2147483647 ms.
    TooLong(String),
}

/// A duration as postgresql.conf spells it — a whole number, optionally followed by a unit (`ms`,
/// `s`, `min`, `h`, `d`; case matters, as it does to PostgreSQL) — in milliseconds. `base_ms` is the
/// setting's own unit, used when there is none (1 for `statement_timeout`, 1000 for
/// `tcp_keepalives_idle`). `None` for anything else (fractions included: the caller then compares
/// the text).
pub fn duration_ms(text: &str, base_ms: u64) -> Option<u64> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let number: u64 = text[..digits].parse().ok()?;
    let unit = text[digits..].trim();
    let size = if unit.is_empty() {
        base_ms
    } else {
        TIME_UNITS.iter().find(|(name, _)| *name == unit).map(|(_, size)| *size)?
    };
    number.checked_mul(size)
}

/// One setting the profile wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Wanted {
    /// The parameter's name.
    pub name: &'static str,
    /// The value as postgresql.conf spells it (strings quoted).
    pub value: String,
    /// Why the profile wants it (the STIG requirement), in words.
    pub why: &'static str,
    /// Which values already there meet the profile (and are left alone).
    #[serde(skip)]
    pub accept: Accept,
}

/// Which values of a setting meet the profile: a value that does is left as it is, so that apply
/// never lowers what an operator set higher (a `log_connections` that also logs durations, a
/// CNSA-minded `ssl_ecdh_curve = secp384r1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Accept {
    /// The wanted value only, compared as the server reads values (booleans, case, units of time).
    #[default]
    Same,
    /// PostgreSQL 18's list-valued `log_connections`: any value that logs at least the aspects the
    /// wanted value logs. A value that logs less is raised by adding the missing aspects.
    ConnectionAspects,
    /// Any one of these values, exactly as OpenSSL names them.
    OneOf(&'static [&'static str]),
    /// A colon-separated OpenSSL list (not empty) of these names only.
    ListOf(&'static [&'static str]),
}

impl Wanted {
    /// The setting with only its own value accepted.
    pub fn new(name: &'static str, value: impl Into<String>, why: &'static str) -> Self {
        Self { name, value: value.into(), why, accept: Accept::Same }
    }

    fn accepting(mut self, accept: Accept) -> Self {
        self.accept = accept;
        self
    }
}

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn w(name: &'static str, value: impl Into<String>, why: &'static str) -> Wanted {
    Wanted::new(name, value, why)
}

/// The `log_line_prefix`: the union of what Appendix C and the STIG checks name (`%m %u %d %s`,
/// `%m %u %d %p %r %a`, `< %m %a %u %d %r %p >`, `%m %u %d %c`): time with milliseconds,
/// application, user, database, session id, session start, remote host and port, process id.
pub const LOG_LINE_PREFIX: &str = "< %m %a %u %d %c %s %r %p >";

/// TCP keepalives: a client that vanished is noticed after about 300 + 3 × 30 seconds.
pub const TCP_KEEPALIVES_IDLE: &str = "300";
/// TCP keepalives: seconds between probes once a connection is idle.
pub const TCP_KEEPALIVES_INTERVAL: &str = "30";
/// TCP keepalives: probes lost before the connection is dropped.
pub const TCP_KEEPALIVES_COUNT: &str = "3";

/// Why the keepalives are set (all three: the check reads them together).
const WHY_KEEPALIVES: &str = "CD16-00-004700 / PGS9-00-010600: a dead client's session is found and ended (0, the OS default, is a finding)";

/// The settings that make the server use the TLS files in the data directory: `ssl`, the server
/// certificate and key (one file, [`SERVER_PEM`]), and the CA and CRL files when there are any.
/// Every one changes with a reload.
pub fn tls_settings(ca: bool, crl: bool) -> Vec<Wanted> {
    let mut out = vec![
        w("ssl", "on", "Appendix G 2.7.2: TLS for every TCP connection"),
        w(
            "ssl_cert_file",
            q(SERVER_PEM),
            "Appendix G 2.7.2: server certificate followed by its intermediate (in one file with the key)",
        ),
        w(
            "ssl_key_file",
            q(SERVER_PEM),
            "Appendix G 2.7.2: server key, mode 0600, owned by the cluster owner (one file with its \
             certificate, so the pair is replaced atomically)",
        ),
    ];
    if ca {
        out.push(w(
            "ssl_ca_file",
            q(CA_FILE),
            "Appendix G 2.7.2: CAs that client certificates must chain to",
        ));
    }
    if crl {
        out.push(w(
            "ssl_crl_file",
            q(CRL_FILE),
            "revoked certificates stop working (CRLs of every CA, root included)",
        ));
    }
    out
}

/// The `ssl_passphrase_command` that prints the passphrase file at `path`: [`CAT`] with the path
/// quoted for the shell that runs it (`'…'`) and `%` doubled (the server replaces `%p` and `%%`).
/// `None` for a path that is not UTF-8 or holds control characters (no quoting makes those safe in
/// both postgresql.conf and a shell).
pub fn passphrase_command(path: &std::path::Path) -> Option<String> {
    let text = path.to_str().filter(|t| !t.chars().any(char::is_control))?;
    let shell = format!("'{}'", text.replace('\'', r"'\''"));
    Some(format!("{CAT} {}", shell.replace('%', "%%")))
}

/// The settings that let the server unlock an encrypted key with `command` (from
/// [`passphrase_command`]) at start and at every reload; both change with a reload.
pub fn passphrase_settings(command: &str) -> Vec<Wanted> {
    vec![
        w(
            "ssl_passphrase_command",
            q(command),
            "the server key is encrypted: the server reads its passphrase from a file only the cluster \
             owner can read (the command names the file, never the passphrase)",
        ),
        w(
            "ssl_passphrase_command_supports_reload",
            "on",
            "reloads (apply, renew, deploy) unlock the encrypted key too; off, a reload keeps the old \
             TLS configuration and only a restart takes a new key",
        ),
    ]
}

/// The settings of the profile for a server of `major` version.
pub fn settings(opts: &ProfileOptions, major: u32) -> Vec<Wanted> {
    let mut out = tls_settings(true, true);
    out.extend([
        w("ssl_min_protocol_version", q("TLSv1.2"), "no TLS 1.0/1.1 (SRG: NIST-approved protocols only)"),
        w(
            "ssl_ciphers",
            q(SSL_CIPHERS),
            "TLS 1.2 suites: forward secrecy (no static RSA), authenticated, NIST-approved ciphers, no SHA-1 MACs",
        ),
        w("ssl_prefer_server_ciphers", "on", "the server's cipher order wins"),
    ]);
    out.extend(key_exchange_settings(major));
    out.extend([
        w(
            "password_encryption",
            q("scram-sha-256"),
            "passwords, where still used, hashed with SCRAM (no MD5)",
        ),
        log_connections(major),
        w("log_disconnections", "on", "Appendix C 2.3.2: log every disconnection and its duration"),
        w(
            "log_line_prefix",
            q(LOG_LINE_PREFIX),
            "Appendix C 2.3.2, PGS9-00-006200/-007100/-007800/-009700: who, where and when on every line",
        ),
        w("log_checkpoints", "on", "Appendix C 2.3.2"),
        w("log_lock_waits", "on", "Appendix C 2.3.2"),
        w("log_hostname", "off", "Appendix C 2.3.2: addresses, not reverse DNS"),
        w("log_error_verbosity", "default", "Appendix C 2.3.2"),
        w("log_statement", q("none"), "Appendix C 2.3.2: pgaudit logs statements instead"),
        w("log_duration", "off", "Appendix C 2.3.2"),
        w("log_timezone", q("UTC"), "Appendix C 2.3.2: one time zone for every log"),
        w(
            "client_min_messages",
            "error",
            "PGS9-00-000600 / CD16-00-006000: \"If client_min_messages is not set to error, this is a finding\"",
        ),
        w("log_min_messages", "warning", "Appendix C 2.3.3"),
        w("log_min_error_statement", "error", "Appendix C 2.3.3"),
        w("log_min_duration_statement", "-1", "Appendix C 2.3.3"),
        w(
            "statement_timeout",
            q(&opts.statement_timeout.to_conf()),
            "CD16-00-004700 / PGS9-00-010600: 0 (no limit) is a finding; long batch jobs SET statement_timeout \
             in their own session, or apply is run with a larger --statement-timeout",
        ),
        w("tcp_keepalives_idle", TCP_KEEPALIVES_IDLE, WHY_KEEPALIVES),
        w("tcp_keepalives_interval", TCP_KEEPALIVES_INTERVAL, WHY_KEEPALIVES),
        w("tcp_keepalives_count", TCP_KEEPALIVES_COUNT, WHY_KEEPALIVES),
    ]);
    if opts.syslog {
        out.extend([
            w("log_destination", q("syslog"), "Appendix C 2.3.1.2: central logs owned by root"),
            w("syslog_facility", q("LOCAL0"), "Appendix C 2.3.1.2"),
            w("syslog_ident", q("postgres"), "Appendix C 2.3.1.2"),
        ]);
    } else {
        out.extend([
            w("log_destination", q("stderr"), "Appendix C 2.3.1.1"),
            w("logging_collector", "on", "Appendix C 2.3.1.1: the server writes its own log files"),
        ]);
        match &opts.log_file {
            Some(log) => out.extend([
                w(
                    "log_directory",
                    q(&log.directory),
                    "Debian convention: where pg_lsclusters shows the log and logrotate rotates it",
                ),
                w(
                    "log_filename",
                    q(&log.filename),
                    "Debian convention: the one file pg_ctlcluster creates and logrotate rotates (copytruncate; \
                     the collector appends)",
                ),
                w(
                    "log_file_mode",
                    "0600",
                    "Appendix C 2.3.1.1: a log file the collector creates is the owner's only (the one \
                     pg_ctlcluster creates keeps Debian's 0640 for group adm)",
                ),
            ]),
            None => out.extend([
                w("log_directory", q("log"), "Appendix C 2.3.1.1 (pg_log before PostgreSQL 10)"),
                w("log_filename", q("postgresql-%a.log"), "Appendix C 2.3.1.1: one file per weekday"),
                w("log_file_mode", "0600", "Appendix C 2.3.1.1: logs readable by the owner only"),
            ]),
        }
        out.extend([
            w(
                "log_truncate_on_rotation",
                "on",
                "Appendix C 2.3.1.1 (a fixed file name is never truncated: only a new name is)",
            ),
            w("log_rotation_age", q("1d"), "Appendix C 2.3.1.1"),
            w("log_rotation_size", "0", "Appendix C 2.3.1.1"),
        ]);
    }
    if opts.pgaudit_installed {
        out.extend([
            w(
                "pgaudit.log",
                q("ddl, role, read, write"),
                "Appendix B 2.2.2.1 (ddl, role, read) plus write, which the STIG's audit rules check",
            ),
            w("pgaudit.log_catalog", "on", "Appendix B 2.2.2.1"),
            w("pgaudit.log_level", q("log"), "Appendix B 2.2.2.1"),
            w("pgaudit.log_parameter", "on", "Appendix B 2.2.2.1"),
            w("pgaudit.log_relation", "off", "Appendix B 2.2.2.1"),
            w("pgaudit.log_statement_once", "off", "Appendix B 2.2.2.1"),
        ]);
    }
    out
}

/// `log_connections`: a boolean before PostgreSQL 18; a list there, where `on` still means receipt,
/// authentication and authorization, and a value that logs more is kept.
fn log_connections(major: u32) -> Wanted {
    if major >= 18 {
        w(
            "log_connections",
            "on",
            "Appendix C 2.3.2: log every connection (receipt, authentication and authorization, which on \
             means; a value that logs more, such as all, is kept, and one that logs less gains what it lacks)",
        )
        .accepting(Accept::ConnectionAspects)
    } else {
        w("log_connections", "on", "Appendix C 2.3.2: log every connection")
    }
}

/// The TLS 1.3 suites and the key-exchange groups: PostgreSQL 18 names both (`ssl_tls13_ciphers`,
/// `ssl_groups`); 14 to 17 leave TLS 1.3's suites to OpenSSL (all of them AEAD) and take one curve.
fn key_exchange_settings(major: u32) -> Vec<Wanted> {
    if major >= 18 {
        vec![
            w(
                "ssl_tls13_ciphers",
                q(SSL_TLS13_CIPHERS),
                "TLS 1.3 suites: the AEAD ciphers ssl_ciphers allows for TLS 1.2 (AES-GCM, ChaCha20-Poly1305), \
                 no CCM_8; pinned so OpenSSL's defaults cannot widen them (a shorter list of these is kept)",
            )
            .accepting(Accept::ListOf(TLS13_SUITES)),
            w(
                "ssl_groups",
                q(SSL_GROUPS),
                "key exchange: X25519 and the NIST curves P-256/384/521, groups NIST approves (a list of only \
                 approved groups is kept); no finite-field groups, which OpenSSL 1.1.1 cannot list",
            )
            .accepting(Accept::ListOf(APPROVED_GROUPS)),
        ]
    } else {
        vec![
            w(
                "ssl_ecdh_curve",
                q(SSL_ECDH_CURVE),
                "ECDHE curve: P-256, which every client supports and NIST approves (the server's default, \
                 pinned against an unapproved curve elsewhere in the files; secp384r1 or secp521r1 is kept)",
            )
            .accepting(Accept::OneOf(APPROVED_CURVES)),
        ]
    }
}

/// The value of `shared_preload_libraries` that adds pgaudit to what is there (kept in order).
pub(crate) fn preload_with_pgaudit(current: &str) -> Option<String> {
    let libs: Vec<&str> = current.split(',').map(str::trim).filter(|l| !l.is_empty()).collect();
    if libs.iter().any(|l| l.trim_matches('"') == "pgaudit") {
        return None;
    }
    let mut all: Vec<&str> = libs;
    all.push("pgaudit");
    Some(q(&all.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgaudit_is_appended_once() {
        assert_eq!(preload_with_pgaudit(""), Some("'pgaudit'".into()));
        assert_eq!(preload_with_pgaudit("pg_stat_statements"), Some("'pg_stat_statements, pgaudit'".into()));
        assert_eq!(preload_with_pgaudit("pgaudit, auto_explain"), None);
    }

    #[test]
    fn statement_timeouts_are_read_as_postgresql_reads_them() {
        let parse = |t: &str| t.parse::<StatementTimeout>();
        assert_eq!(parse("1h").unwrap().millis(), 3_600_000);
        assert_eq!(parse("90min").unwrap().to_conf(), "90min");
        assert_eq!(parse("3600 s").unwrap().to_conf(), "1h");
        assert_eq!(parse("1500").unwrap().to_conf(), "1500ms");
        assert_eq!(parse("2d").unwrap().to_conf(), "2d");
        assert_eq!(StatementTimeout::default().to_conf(), "1h");
        assert_eq!(parse("0"), Err(TimeoutError::Zero));
        assert_eq!(parse("0min"), Err(TimeoutError::Zero));
        assert!(TimeoutError::Zero.to_string().contains("this is a finding"));
        assert!(matches!(parse("1H"), Err(TimeoutError::Syntax(_))), "units are case-sensitive");
        assert!(matches!(parse("1.5h"), Err(TimeoutError::Syntax(_))));
        assert!(matches!(parse("-5s"), Err(TimeoutError::Syntax(_))));
        assert!(matches!(parse(""), Err(TimeoutError::Syntax(_))));
        assert!(matches!(parse("25d"), Err(TimeoutError::TooLong(_))));
        assert!(matches!(parse("99999999999999999999d"), Err(TimeoutError::Syntax(_))));
    }

    #[test]
    fn durations_use_the_settings_own_unit_without_one() {
        assert_eq!(duration_ms("300", 1000), Some(300_000));
        assert_eq!(duration_ms("5min", 1000), Some(300_000));
        assert_eq!(duration_ms("300", 1), Some(300));
        assert_eq!(duration_ms("5 fortnights", 1), None);
    }

    #[test]
    fn the_profile_sets_what_the_stig_checks_require() {
        let all = settings(&ProfileOptions::default(), 15);
        let value = |name: &str| all.iter().find(|w| w.name == name).map(|w| w.value.clone());
        assert_eq!(value("client_min_messages").as_deref(), Some("error"));
        assert_eq!(value("statement_timeout").as_deref(), Some("'1h'"));
        for name in ["tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count"] {
            assert!(value(name).is_some_and(|v| v != "0"), "{name}");
        }
        let prefix = value("log_line_prefix").unwrap();
        for escape in ["%m", "%a", "%u", "%d", "%c", "%s", "%r", "%p"] {
            assert!(prefix.contains(escape), "{escape} in {prefix}");
        }
    }

    #[test]
    fn each_major_gets_the_tls_settings_it_has() {
        let names =
            |major| settings(&ProfileOptions::default(), major).iter().map(|s| s.name).collect::<Vec<_>>();
        for major in 14..=17 {
            let n = names(major);
            assert!(n.contains(&"ssl_ecdh_curve") && !n.contains(&"ssl_groups"), "{major}: {n:?}");
            assert!(!n.contains(&"ssl_tls13_ciphers"), "{major}: {n:?}");
        }
        let n = names(18);
        assert!(n.contains(&"ssl_groups") && n.contains(&"ssl_tls13_ciphers"), "{n:?}");
        assert!(!n.contains(&"ssl_ecdh_curve"), "{n:?}");
        let connections = |major| {
            settings(&ProfileOptions::default(), major)
                .into_iter()
                .find(|s| s.name == "log_connections")
                .unwrap()
        };
        assert_eq!(connections(17).accept, Accept::Same);
        assert_eq!(connections(18).accept, Accept::ConnectionAspects);
        assert_eq!(connections(18).value, "on");
    }

    #[test]
    fn the_passphrase_command_quotes_the_path_for_the_shell_and_the_server() {
        let cmd = |p: &str| passphrase_command(std::path::Path::new(p));
        assert_eq!(
            cmd("/etc/postgresql/15/main/server.key.pass").unwrap(),
            "/bin/cat '/etc/postgresql/15/main/server.key.pass'"
        );
        assert_eq!(cmd("/srv/it's 100%/k.pass").unwrap(), r"/bin/cat '/srv/it'\''s 100%%/k.pass'");
        assert_eq!(cmd("/srv/new\nline"), None);
        let settings = passphrase_settings("/bin/cat '/a'");
        assert_eq!(settings[0].value, "'/bin/cat ''/a'''");
        assert_eq!(settings[1].value, "on");
    }

    #[test]
    fn syslog_replaces_the_collector() {
        let opts = ProfileOptions { syslog: true, ..Default::default() };
        let names: Vec<_> = settings(&opts, 15).iter().map(|s| s.name).collect();
        assert!(names.contains(&"syslog_facility") && !names.contains(&"logging_collector"));
    }
}
