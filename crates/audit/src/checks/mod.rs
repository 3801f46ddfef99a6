//! The automated checks: each a small function from evidence to a status and what it saw.
//!
//! Owns: the judgement of one check at a time, from typed evidence (parsed values, certificate
//! and CRL data, file modes) — never from rendered text. A check whose evidence is missing returns
//! `NotChecked` with the reason, never `Pass`. A setting is judged in every session that can see
//! it: its cluster-wide value and each per-role and per-database override.
//! Must not: gather evidence or know about STIG ids.

mod acceptance;
mod access;
mod files;
mod settings;
mod suites;
mod tls;

use crate::check_id::CheckId;
use crate::evidence::{Evidence, Missing};
use crate::model::Policy;
use crate::model::Status;

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The verdict: `Pass`, `Fail` or `NotChecked` (a check never answers `Manual`).
    pub status: Status,
    /// What the check looked at and what it found, one line each, for the finding.
    pub evidence: Vec<String>,
}

pub(crate) fn pass(what: impl Into<String>) -> Outcome {
    Outcome { status: Status::Pass, evidence: vec![what.into()] }
}

pub(crate) fn fail(what: impl Into<String>) -> Outcome {
    Outcome { status: Status::Fail, evidence: vec![what.into()] }
}

pub(crate) fn unknown(why: &Missing) -> Outcome {
    Outcome { status: Status::NotChecked, evidence: vec![why.to_string()] }
}

/// "Not checked", with the reason said in `words` (which name what was missing).
pub(crate) fn not_checked(words: String) -> Outcome {
    Outcome { status: Status::NotChecked, evidence: vec![words] }
}

/// A verdict from a list of problems: none is a pass with `ok`, any is a failure listing them.
pub(crate) fn verdict(problems: Vec<String>, ok: impl FnOnce() -> String) -> Outcome {
    if problems.is_empty() { pass(ok()) } else { Outcome { status: Status::Fail, evidence: problems } }
}

/// Run one check.
pub fn run(id: CheckId, ev: &Evidence, policy: &Policy) -> Outcome {
    use CheckId as C;
    match id {
        C::SslOn => settings::expect(ev, "ssl", &["on"]),
        C::TlsMinVersion => settings::expect(ev, "ssl_min_protocol_version", &["TLSv1.2", "TLSv1.3"]),
        C::TlsCiphers => settings::ciphers(ev),
        C::ServerCertificate => tls::server_certificate(ev, policy),
        C::ServedCertificate => tls::served_certificate(ev),
        C::ServerKeyUnlock => tls::server_key_unlock(ev),
        C::TlsFileModes => files::tls_files(ev),
        C::CrlConfigured => tls::crl(ev, policy),
        C::ClientCaConfigured => settings::non_empty(ev, "ssl_ca_file"),
        C::HbaNoTrust => access::no_trust(ev),
        C::HbaNoWeakPassword => access::no_weak_password(ev),
        C::HbaTcpOnlyTls => access::tcp_only_encrypted(ev),
        C::HbaClientCertificates => access::client_certificates(ev),
        C::HbaStrongAuthentication => access::strong_authentication(ev),
        C::IdentMappings => access::ident_mappings(ev, policy),
        C::HbaFileAccepted => acceptance::hba_file(ev),
        C::IdentFileAccepted => acceptance::ident_file(ev),
        C::PlaintextRefused => tls::network(ev, |n| &n.plaintext_refused, "plaintext startup"),
        C::CertificateRequired => {
            tls::network(ev, |n| &n.certless_refused, "TLS without a client certificate")
        }
        C::TlsVersionsRefused => tls::tls_versions(ev),
        C::TlsSuitesAccepted => suites::accepted_suites(ev),
        C::TlsGroupsAccepted => suites::accepted_groups(ev),
        C::PasswordEncryption => settings::expect(ev, "password_encryption", &["scram-sha-256"]),
        C::NoMd5Passwords => access::no_md5(ev),
        C::LogConnections => settings::log_connections(ev),
        C::LogDisconnections => settings::boolean(ev, "log_disconnections"),
        C::LogConnectionsOrDisconnections => settings::connections_or_disconnections(ev),
        C::LogPrefixTime => settings::prefix(ev, &['m']),
        C::LogPrefixWho => settings::prefix(ev, &['m', 'u', 'd']),
        C::LogPrefixSession => settings::prefix(ev, &['m', 'u', 'd', 'c']),
        C::LogPrefixStatement => settings::prefix(ev, &['m', 'u', 'd', 's']),
        C::LogPrefixClient => settings::prefix(ev, &['m', 'u', 'd', 'p', 'r', 'a']),
        C::LogDestination => settings::log_destination(ev),
        C::LogFileMode => files::log_files(ev),
        C::LogTimezone => settings::log_timezone(ev),
        C::LogLevels => settings::log_levels(ev),
        C::ClientMinMessages => settings::expect(ev, "client_min_messages", &["error"]),
        C::PgauditLoaded => settings::pgaudit_loaded(ev),
        C::PgauditClasses => settings::pgaudit_classes(ev, settings::ALL_FOUR),
        C::PgauditWriteClasses => settings::pgaudit_classes(ev, settings::DDL_WRITE_ROLE),
        C::PgauditRoleClass => settings::pgaudit_classes(ev, settings::ROLE_ONLY),
        C::PgauditSettings => settings::pgaudit_settings(ev),
        C::PgauditFiles => {
            files::root_owned(&ev.pgaudit_files, "pgaudit is not installed (no files to protect)")
        }
        C::InstallationFiles => {
            files::root_owned(&ev.software_files, "no installation directories were named")
        }
        C::PgcryptoInstalled => access::pgcrypto(ev),
        C::DataDirectoryMode => files::data_dir(ev),
        C::ConfigFileModes => files::config_files(ev),
        C::SuperuserCount => access::superusers(ev, policy),
        C::AdminAttributes => access::admin_attributes(ev, policy),
        C::ConnectionLimits => access::connection_limits(ev),
        C::SessionTimeouts => settings::session_timeouts(ev),
        C::PublicCreate => access::public_create(ev),
        C::UntrustedLanguages => access::untrusted_languages(ev, policy),
        C::DefinerSearchPath => access::definer_search_path(ev),
        C::ApprovedExtensions => access::approved_extensions(ev, policy),
        C::FipsMode => match &ev.fips {
            Ok(true) => pass("/proc/sys/crypto/fips_enabled = 1"),
            Ok(false) => fail("the host is not in FIPS mode (/proc/sys/crypto/fips_enabled is 0 or absent)"),
            Err(why) => unknown(why),
        },
    }
}

/// Combine outcomes: any failure fails, else anything unknown is unknown, else pass. Evidence two
/// checks share (the same missing fact, say) is said once.
pub(crate) fn all(outcomes: &[Outcome]) -> Outcome {
    let mut evidence: Vec<String> = Vec::new();
    for e in outcomes.iter().flat_map(|o| &o.evidence) {
        if !evidence.contains(e) {
            evidence.push(e.clone());
        }
    }
    let status = if outcomes.iter().any(|o| o.status == Status::Fail) {
        Status::Fail
    } else if outcomes.iter().any(|o| o.status == Status::NotChecked) {
        Status::NotChecked
    } else {
        Status::Pass
    };
    Outcome { status, evidence }
}

#[cfg(test)]
mod tests;
