//! The `stig` profile: what a hardened cluster's configuration says, and why.
//!
//! Owns: the settings of STIG Appendix C (logging: where, what, when), Appendix B (pgaudit),
//! Appendix G 2.7.2 (TLS files and `ssl_*`), password hashing, and the pg_hba.conf / pg_ident.conf
//! lines of mutual TLS — each with the reason an operator reads in the plan, chosen for the server's
//! major version. Must not: read or write files (the plan compares this with what is there).

use serde::Serialize;

/// File names the profile installs in the data directory (as Appendix G does).
pub const SERVER_CERT: &str = "server.crt";
pub const SERVER_KEY: &str = "server.key";
/// Root CA and client intermediate: the CAs a client certificate may chain to.
pub const CA_FILE: &str = "root.crt";
/// Every CA's CRL, root included (OpenSSL checks revocation for the whole chain).
pub const CRL_FILE: &str = "root.crl";
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
}

impl Default for ProfileOptions {
    fn default() -> Self {
        ProfileOptions {
            allow: vec!["127.0.0.1/32".into(), "::1/128".into()],
            syslog: false,
            pgaudit_installed: false,
        }
    }
}

/// One setting the profile wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Wanted {
    pub name: &'static str,
    /// The value as postgresql.conf spells it (strings quoted).
    pub value: String,
    pub why: &'static str,
}

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn w(name: &'static str, value: impl Into<String>, why: &'static str) -> Wanted {
    Wanted { name, value: value.into(), why }
}

/// The Appendix C `log_line_prefix`: time with milliseconds, application, user, database, session id,
/// session start, remote host and port.
pub const LOG_LINE_PREFIX: &str = "< %m %a %u %d %c %s %r >";

/// The settings of the profile for a server of `major` version.
pub fn settings(opts: &ProfileOptions, major: u32) -> Vec<Wanted> {
    let mut out = vec![
        w("ssl", "on", "Appendix G 2.7.2: TLS for every TCP connection"),
        w(
            "ssl_cert_file",
            q(SERVER_CERT),
            "Appendix G 2.7.2: server certificate followed by its intermediate",
        ),
        w(
            "ssl_key_file",
            q(SERVER_KEY),
            "Appendix G 2.7.2: server key, mode 0600, owned by the cluster owner",
        ),
        w("ssl_ca_file", q(CA_FILE), "Appendix G 2.7.2: CAs that client certificates must chain to"),
        w("ssl_crl_file", q(CRL_FILE), "revoked certificates stop working (CRLs of every CA, root included)"),
        w("ssl_min_protocol_version", q("TLSv1.2"), "no TLS 1.0/1.1 (SRG: NIST-approved protocols only)"),
        w(
            "ssl_ciphers",
            q("HIGH:!aNULL:!eNULL:!MD5:!3DES:!RC4:!SHA1"),
            "TLS 1.2 suites: strong, authenticated, no SHA-1 MACs",
        ),
        w("ssl_prefer_server_ciphers", "on", "the server's cipher order wins"),
        w(
            "password_encryption",
            q("scram-sha-256"),
            "passwords, where still used, hashed with SCRAM (no MD5)",
        ),
        w("log_connections", "on", "Appendix C 2.3.2: log every connection"),
        w("log_disconnections", "on", "Appendix C 2.3.2: log every disconnection and its duration"),
        w("log_line_prefix", q(LOG_LINE_PREFIX), "Appendix C 2.3.2: who, where and when on every line"),
        w("log_checkpoints", "on", "Appendix C 2.3.2"),
        w("log_lock_waits", "on", "Appendix C 2.3.2"),
        w("log_hostname", "off", "Appendix C 2.3.2: addresses, not reverse DNS"),
        w("log_error_verbosity", "default", "Appendix C 2.3.2"),
        w("log_statement", q("none"), "Appendix C 2.3.2: pgaudit logs statements instead"),
        w("log_duration", "off", "Appendix C 2.3.2"),
        w("log_timezone", q("UTC"), "Appendix C 2.3.2: one time zone for every log"),
        w("client_min_messages", "notice", "Appendix C 2.3.3"),
        w("log_min_messages", "warning", "Appendix C 2.3.3"),
        w("log_min_error_statement", "error", "Appendix C 2.3.3"),
        w("log_min_duration_statement", "-1", "Appendix C 2.3.3"),
    ];
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
            w("log_directory", q("log"), "Appendix C 2.3.1.1 (pg_log before PostgreSQL 10)"),
            w("log_filename", q("postgresql-%a.log"), "Appendix C 2.3.1.1: one file per weekday"),
            w("log_file_mode", "0600", "Appendix C 2.3.1.1: logs readable by the owner only"),
            w("log_truncate_on_rotation", "on", "Appendix C 2.3.1.1"),
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
    // Versions differ only in what exists; every setting above exists in 14 to 18.
    let _ = major;
    out
}

/// The value of `shared_preload_libraries` that adds pgaudit to what is there (kept in order).
pub fn preload_with_pgaudit(current: &str) -> Option<String> {
    let libs: Vec<&str> = current.split(',').map(str::trim).filter(|l| !l.is_empty()).collect();
    if libs.iter().any(|l| l.trim_matches('"') == "pgaudit") {
        return None;
    }
    let mut all: Vec<&str> = libs;
    all.push("pgaudit");
    Some(q(&all.join(", ")))
}

/// The pg_hba.conf lines of mutual TLS: the owner's local socket rule first (never remove the
/// operator's way in), certificate authentication over TLS for each allowed network (databases and
/// replication), and an explicit refusal of everything not encrypted.
pub fn hba_lines(opts: &ProfileOptions, owner_role: &str) -> Vec<String> {
    let mut lines = vec![format!("local   all             {owner_role:<15} peer")];
    for net in &opts.allow {
        for db in ["all", "replication"] {
            lines.push(format!(
                "hostssl {db:<15} all             {net:<23} cert clientcert=verify-full map={IDENT_MAP}"
            ));
        }
    }
    for net in ["0.0.0.0/0", "::/0"] {
        lines.push(format!("hostnossl all             all             {net:<23} reject"));
    }
    lines
}

/// pg_ident.conf lines for the map: every CN that is a role name logs in as itself, and each
/// certificate issued with a different CN (`pki client --cn`) maps to its role.
pub fn ident_lines(mappings: &[(String, String)]) -> Vec<String> {
    let mut lines = vec![format!("{IDENT_MAP:<15} {:<31} \\1", "/^(.*)$")];
    for (cn, role) in mappings {
        if cn != role {
            lines.push(format!("{IDENT_MAP:<15} {:<31} {}", quote_ident_token(cn), quote_ident_token(role)));
        }
    }
    lines
}

/// Tokens with spaces, commas, quotes or `#`, or a leading `/` (regex) or `+` (group), are quoted.
fn quote_ident_token(s: &str) -> String {
    if s.is_empty()
        || s.starts_with(['/', '+'])
        || s.chars().any(|c| c.is_whitespace() || matches!(c, ',' | '"' | '#'))
    {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
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
    fn hba_keeps_the_owner_and_refuses_plaintext() {
        let lines = hba_lines(&ProfileOptions::default(), "postgres");
        assert!(lines[0].starts_with("local") && lines[0].contains("postgres") && lines[0].ends_with("peer"));
        assert!(
            lines
                .iter()
                .any(|l| l.contains("127.0.0.1/32") && l.contains("clientcert=verify-full map=pgharden"))
        );
        assert!(lines.iter().all(|l| !l.contains("clientcert=1")));
        assert!(lines.last().unwrap().contains("reject"));
    }

    #[test]
    fn ident_maps_cns_to_roles() {
        let lines = ident_lines(&[("bob".into(), "bob".into()), ("bob@ssl-test.com".into(), "bob".into())]);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].contains("bob@ssl-test.com") && lines[1].ends_with("bob"));
        assert!(ident_lines(&[("a b".into(), "ab".into())])[1].contains("\"a b\""));
    }

    #[test]
    fn syslog_replaces_the_collector() {
        let opts = ProfileOptions { syslog: true, ..Default::default() };
        let names: Vec<_> = settings(&opts, 15).iter().map(|s| s.name).collect();
        assert!(names.contains(&"syslog_facility") && !names.contains(&"logging_collector"));
    }
}
