//! Report renderers: one [`Report`](crate::model::Report) in the forms people and tools read.
//!
//! - [`text`]: the terminal table (optionally coloured),
//! - [`json`]: the versioned JSON schema of [`Report`](crate::model::Report) ([`crate::model::REPORT_FORMAT`]),
//! - [`sarif`]: SARIF 2.1.0 for code-scanning tools,
//! - [`ckl`]: a DISA STIG Viewer 2.x checklist built from a user-supplied XCCDF benchmark.
//!
//! Owns: turning findings into bytes, and reading the XCCDF benchmark a checklist is built from.
//! Must not: gather evidence, decide statuses (a renderer shows what the report says and never
//! upgrades a finding), write files or print (the caller does), or ship DISA benchmark text
//! (that comes from the user's `--benchmark` file).

mod ckl;
mod json;
mod sarif;
mod text;

pub use ckl::{CklError, ckl};
pub use json::json;
pub use sarif::sarif;
pub use text::text;

use crate::model::{Audited, Severity, Status, StigIds};

/// The word a status is shown as in the text report.
fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::NotChecked => "NOT CHECKED",
        Status::Manual => "MANUAL",
    }
}

/// The severity as the STIG writes it (`high`, `medium`, `low`).
fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
    }
}

/// The family ids of a rule that are present, in PGS9, CD12, CD16 order.
fn stig_ids(stig: &StigIds) -> Vec<&str> {
    [&stig.pgs9, &stig.cd12, &stig.cd16]
        .into_iter()
        .filter_map(|id| id.as_deref())
        .map(bare_stig_id)
        .filter(|id| !id.is_empty())
        .collect()
}

/// A STIG version id without a crosswalk suffix: `PGS9-00-000100(V-214048,medium)` →
/// `PGS9-00-000100`. The model stores bare ids; this only makes matching forgiving.
fn bare_stig_id(id: &str) -> &str {
    id.split('(').next().unwrap_or(id).trim()
}

/// A one-line name for the audited cluster: `host:port (data_dir)`, or whatever is known.
fn target_label(target: &Audited) -> String {
    let endpoint = match (&target.host, target.port) {
        (Some(host), Some(port)) if host.contains(':') && !host.starts_with('[') => {
            Some(format!("[{host}]:{port}"))
        }
        (Some(host), Some(port)) => Some(format!("{host}:{port}")),
        (Some(host), None) => Some(host.clone()),
        (None, Some(port)) => Some(format!("port {port}")),
        (None, None) => None,
    };
    match (endpoint, &target.data_dir) {
        (Some(endpoint), Some(dir)) => format!("{endpoint} ({dir})"),
        (Some(endpoint), None) => endpoint,
        (None, Some(dir)) => dir.clone(),
        (None, None) => target.host_name.clone().unwrap_or_else(|| "PostgreSQL cluster".to_owned()),
    }
}

/// `PATH:LINE` at the start of an evidence string (`/etc/postgresql/16/main/pg_hba.conf:92: …`,
/// `postgresql.conf:12 ssl = on`). Only absolute paths, or relative names of the files a cluster
/// has (`.conf`, certificates, keys, logs), count: `db.example.com:5432` is not a file.
fn path_line(evidence: &str) -> Option<(&str, u32)> {
    let token = evidence.split_whitespace().next()?;
    let token = token.trim_end_matches([':', ',', ';']);
    let (path, line) = token.rsplit_once(':')?;
    if line.is_empty() || !line.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let line: u32 = line.parse().ok().filter(|&n| n > 0)?;
    if path.is_empty() || path.contains("://") {
        return None;
    }
    const FILE_SUFFIXES: [&str; 8] = [".conf", ".crt", ".key", ".crl", ".pem", ".log", ".sql", ".csv"];
    let absolute = path.starts_with('/') && path.len() > 1;
    let known_file = FILE_SUFFIXES.iter().any(|suffix| path.ends_with(suffix));
    (absolute || known_file).then_some((path, line))
}

/// Pretty JSON of a value whose `Serialize` is derived over strings, integers and options.
fn pretty_json<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_string_pretty(value) {
        Ok(mut json) => {
            json.push('\n');
            json
        }
        // Derived Serialize over strings, integers, options and vectors has no failure path.
        Err(e) => unreachable!("serialising a report cannot fail: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_line_recognises_files_only() {
        assert_eq!(
            path_line("/etc/postgresql/16/main/pg_hba.conf:92: hostssl all all 0.0.0.0/0 cert"),
            Some(("/etc/postgresql/16/main/pg_hba.conf", 92))
        );
        assert_eq!(path_line("postgresql.conf:12 ssl = on"), Some(("postgresql.conf", 12)));
        assert_eq!(path_line("db.example.com:5432 answered"), None);
        assert_eq!(path_line("127.0.0.1:5432"), None);
        assert_eq!(path_line("ssl = off"), None);
        assert_eq!(path_line("/etc/x.conf:0"), None);
        assert_eq!(path_line("/etc/x.conf:+3"), None);
        assert_eq!(path_line("https://example.com:443"), None);
    }

    #[test]
    fn bare_ids() {
        assert_eq!(bare_stig_id("PGS9-00-000100(V-214048,medium)"), "PGS9-00-000100");
        assert_eq!(bare_stig_id("CD16-00-003500"), "CD16-00-003500");
    }

    #[test]
    fn labels() {
        let mut t = Audited {
            data_dir: Some("/var/lib/pg".into()),
            host: Some("db1".into()),
            port: Some(5432),
            server_version: None,
            host_name: None,
        };
        assert_eq!(target_label(&t), "db1:5432 (/var/lib/pg)");
        t.host = Some("::1".into());
        t.data_dir = None;
        assert_eq!(target_label(&t), "[::1]:5432");
        t.host = None;
        t.port = None;
        assert_eq!(target_label(&t), "PostgreSQL cluster");
    }
}
