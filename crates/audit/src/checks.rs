//! The automated checks: each a small function from evidence to a status and what it saw.
//!
//! Owns: the judgement of one check at a time. A check whose evidence is missing returns
//! `NotChecked` with the reason, never `Pass`. Must not: gather evidence or know about STIG ids.

use pgharden_conf::hba::{ConnType, Method};

use crate::check_id::CheckId;
use crate::evidence::{Evidence, Fact};
use crate::model::Status;

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub evidence: Vec<String>,
}

fn pass(what: impl Into<String>) -> Outcome {
    Outcome { status: Status::Pass, evidence: vec![what.into()] }
}

fn fail(what: impl Into<String>) -> Outcome {
    Outcome { status: Status::Fail, evidence: vec![what.into()] }
}

fn unknown(why: impl Into<String>) -> Outcome {
    Outcome { status: Status::NotChecked, evidence: vec![why.into()] }
}

/// Run one check.
pub fn run(id: CheckId, ev: &Evidence, policy: &crate::run::Policy) -> Outcome {
    let _ = policy;
    use CheckId as C;
    match id {
        C::SslOn => expect(ev, "ssl", &["on"]),
        C::TlsMinVersion => expect(ev, "ssl_min_protocol_version", &["TLSv1.2", "TLSv1.3"]),
        C::TlsCiphers => ciphers(ev),
        C::ServerCertificate => server_certificate(ev),
        C::CrlConfigured => crl(ev),
        C::ClientCaConfigured => non_empty(ev, "ssl_ca_file"),
        C::HbaNoTrust => hba_lines(ev, "trust", |r| r.effective_method() == Method::Trust),
        C::HbaNoWeakPassword => hba_lines(ev, "password or md5", |r| {
            matches!(r.effective_method(), Method::Password | Method::Md5)
        }),
        C::HbaTcpOnlyTls => hba_lines(ev, "TCP without TLS", |r| {
            matches!(
                r.conn_type,
                ConnType::Host | ConnType::HostNoSsl | ConnType::HostNoGssEnc | ConnType::HostGssEnc
            ) && r.effective_method() != Method::Reject
        }),
        C::HbaClientCertificates => hba_lines(ev, "TLS without a client certificate", |r| {
            r.conn_type == ConnType::HostSsl
                && r.effective_method() != Method::Reject
                && !r.requires_client_cert()
        }),
        C::PlaintextRefused => network(ev, |n| n.plaintext_refused.clone(), "plaintext startup"),
        C::CertificateRequired => {
            network(ev, |n| n.certless_refused.clone(), "TLS without a client certificate")
        }
        C::TlsVersionsRefused => tls_versions(ev),
        C::PasswordEncryption => expect(ev, "password_encryption", &["scram-sha-256"]),
        C::NoMd5Passwords => none_listed(&ev.md5_roles, "roles with MD5 password hashes"),
        C::LogConnections => expect(ev, "log_connections", &["on"]),
        C::LogDisconnections => expect(ev, "log_disconnections", &["on"]),
        C::LogLinePrefix => log_line_prefix(ev),
        C::LogDestination => log_destination(ev),
        C::LogFileMode => log_file_mode(ev),
        C::LogTimezone => expect(ev, "log_timezone", &["UTC", "Etc/UTC", "GMT", "Etc/GMT"]),
        C::LogLevels => log_levels(ev),
        C::PgauditLoaded => pgaudit_loaded(ev),
        C::PgauditClasses => pgaudit_classes(ev),
        C::PgauditSettings => all(&[
            expect(ev, "pgaudit.log_catalog", &["on"]),
            expect(ev, "pgaudit.log_parameter", &["on"]),
            expect(ev, "pgaudit.log_level", &["log"]),
        ]),
        C::PgcryptoInstalled => listed(&ev.extensions, "pgcrypto", "installed extensions"),
        C::DataDirectoryMode => data_dir(ev),
        C::ConfigFileModes => config_files(ev),
        C::SuperuserCount => superusers(ev),
        C::FipsMode => match &ev.fips {
            Ok(true) => pass("/proc/sys/crypto/fips_enabled = 1"),
            Ok(false) => fail("the host is not in FIPS mode (/proc/sys/crypto/fips_enabled is 0 or absent)"),
            Err(why) => unknown(why.clone()),
        },
    }
}

/// Combine outcomes: any failure fails, else anything unknown is unknown, else pass.
pub fn all(outcomes: &[Outcome]) -> Outcome {
    let evidence = outcomes.iter().flat_map(|o| o.evidence.clone()).collect();
    let status = if outcomes.iter().any(|o| o.status == Status::Fail) {
        Status::Fail
    } else if outcomes.iter().any(|o| o.status == Status::NotChecked) {
        Status::NotChecked
    } else {
        Status::Pass
    };
    Outcome { status, evidence }
}

fn expect(ev: &Evidence, name: &str, allowed: &[&str]) -> Outcome {
    match ev.setting(name) {
        Ok(v) if allowed.iter().any(|a| a.eq_ignore_ascii_case(v)) => pass(format!("{name} = {v}")),
        Ok(v) => fail(format!("{name} = {v:?}, wanted {}", allowed.join(" or "))),
        Err(why) => unknown(why),
    }
}

fn non_empty(ev: &Evidence, name: &str) -> Outcome {
    match ev.setting(name) {
        Ok("") => fail(format!("{name} is empty")),
        Ok(v) => pass(format!("{name} = {v}")),
        Err(why) => unknown(why),
    }
}

fn ciphers(ev: &Evidence) -> Outcome {
    let list = match ev.setting("ssl_ciphers") {
        Ok(v) => v.to_string(),
        Err(why) => return unknown(why),
    };
    // OpenSSL's default HIGH:MEDIUM:+3DES:!aNULL still enables 3DES and MEDIUM suites.
    let tokens: Vec<&str> = list.split([':', ',', ' ']).filter(|t| !t.is_empty()).collect();
    let allows = |weak: &str| tokens.iter().any(|t| t.trim_start_matches('+').eq_ignore_ascii_case(weak));
    let excludes = |weak: &str| tokens.iter().any(|t| t.eq_ignore_ascii_case(&format!("!{weak}")));
    let mut problems = Vec::new();
    for weak in ["MEDIUM", "LOW", "EXPORT", "NULL", "eNULL", "RC4", "3DES", "MD5"] {
        if allows(weak) {
            problems.push(format!("allows {weak}"));
        }
    }
    if !excludes("aNULL") {
        problems.push("does not exclude aNULL (anonymous key exchange)".into());
    }
    if problems.is_empty() {
        pass(format!("ssl_ciphers = {list}"))
    } else {
        fail(format!("ssl_ciphers = {list}: {}", problems.join(", ")))
    }
}

fn server_certificate(ev: &Evidence) -> Outcome {
    let key = match &ev.server_key {
        Ok(k) => k,
        Err(why) => return unknown(why.clone()),
    };
    let owner_ok = Some(key.uid) == ev.owner_uid && key.mode & 0o077 == 0;
    let root_ok = key.uid == 0 && key.mode & 0o037 == 0;
    if !owner_ok && !root_ok {
        return fail(format!(
            "{}: mode {:04o}, uid {}: must be 0600 owned by the cluster owner, or 0640 owned by root",
            key.path.display(),
            key.mode,
            key.uid
        ));
    }
    let bytes = match &ev.server_cert {
        Ok(b) => b,
        Err(why) => return unknown(why.clone()),
    };
    match pgharden_pki::inspect::inspect_bytes("ssl_cert_file", bytes) {
        Ok(inspection) => {
            let text = inspection.render_text();
            let expired = text.lines().any(|l| l.contains("EXPIRED") || l.contains("not yet valid"));
            let summary: Vec<&str> = text
                .lines()
                .filter(|l| l.contains("Subject:") || l.contains("Status:"))
                .map(str::trim)
                .take(2)
                .collect();
            if expired {
                fail(format!("server certificate: {}", summary.join("; ")))
            } else {
                pass(format!(
                    "server certificate: {}; key {} mode {:04o}",
                    summary.join("; "),
                    key.path.display(),
                    key.mode
                ))
            }
        }
        Err(e) => fail(format!("server certificate unreadable: {e}")),
    }
}

fn crl(ev: &Evidence) -> Outcome {
    let file = ev.setting("ssl_crl_file").unwrap_or_default().to_string();
    let dir = ev.setting("ssl_crl_dir").unwrap_or_default().to_string();
    if file.is_empty() && dir.is_empty() {
        return match &ev.settings {
            Ok(_) => {
                fail("neither ssl_crl_file nor ssl_crl_dir is set: revoked client certificates still work")
            }
            Err(why) => unknown(why.clone()),
        };
    }
    let files = match &ev.crl_files {
        Ok(f) => f,
        Err(why) => return unknown(why.clone()),
    };
    for (path, bytes) in files {
        match pgharden_pki::inspect::inspect_bytes(&path.display().to_string(), bytes) {
            Ok(i) if i.render_text().contains("stale") || i.render_text().contains("EXPIRED") => {
                return fail(format!(
                    "{}: a CRL is past its next update; PostgreSQL rejects every client",
                    path.display()
                ));
            }
            Ok(_) => {}
            Err(e) => return fail(format!("{}: {e}", path.display())),
        }
    }
    pass(format!("ssl_crl_file = {file:?}, ssl_crl_dir = {dir:?}; every CRL current"))
}

fn hba_lines(ev: &Evidence, what: &str, bad: impl Fn(&pgharden_conf::hba::Rule) -> bool) -> Outcome {
    let rules = match &ev.hba_rules {
        Ok(r) => r,
        Err(why) => return unknown(why.clone()),
    };
    let offending: Vec<String> =
        rules.iter().filter(|r| bad(r)).map(|r| format!("{}:{}", r.at.file.display(), r.at.line)).collect();
    if offending.is_empty() {
        pass(format!("no pg_hba.conf line allows {what} ({} lines)", rules.len()))
    } else {
        Outcome {
            status: Status::Fail,
            evidence: offending.into_iter().map(|l| format!("{l}: allows {what}")).collect(),
        }
    }
}

fn network(
    ev: &Evidence,
    pick: impl Fn(&crate::evidence::NetworkFacts) -> Option<Fact<(bool, String)>>,
    what: &str,
) -> Outcome {
    let Some(net) = &ev.network else {
        return unknown("no network probe was made (give a host and port)");
    };
    match pick(net) {
        Some(Ok((true, said))) => pass(format!("{}: {what} refused: {said}", net.target)),
        Some(Ok((false, said))) => fail(format!("{}: {what} accepted: {said}", net.target)),
        Some(Err(why)) => unknown(format!("{}: {why}", net.target)),
        None => unknown(format!("{}: {what} was not probed", net.target)),
    }
}

fn tls_versions(ev: &Evidence) -> Outcome {
    let Some(net) = &ev.network else {
        return unknown("no network probe was made (give a host and port)");
    };
    match &net.tls_versions {
        Some(Ok(versions)) => {
            let old: Vec<&str> = versions
                .iter()
                .filter(|(v, ok)| *ok && (v == "TLSv1.0" || v == "TLSv1.1"))
                .map(|(v, _)| v.as_str())
                .collect();
            let accepted: Vec<&str> =
                versions.iter().filter(|(_, ok)| *ok).map(|(v, _)| v.as_str()).collect();
            if old.is_empty() {
                pass(format!("{} accepts {}", net.target, accepted.join(", ")))
            } else {
                fail(format!("{} accepts {}", net.target, old.join(", ")))
            }
        }
        Some(Err(why)) => unknown(why.clone()),
        None => unknown("TLS versions were not probed"),
    }
}

fn none_listed(fact: &Fact<Vec<String>>, what: &str) -> Outcome {
    match fact {
        Ok(list) if list.is_empty() => pass(format!("no {what}")),
        Ok(list) => fail(format!("{what}: {}", list.join(", "))),
        Err(why) => unknown(why.clone()),
    }
}

fn listed(fact: &Fact<Vec<String>>, item: &str, what: &str) -> Outcome {
    match fact {
        Ok(list) if list.iter().any(|i| i == item) => pass(format!("{item} is among the {what}")),
        Ok(list) => fail(format!("{item} is not among the {what} ({})", list.join(", "))),
        Err(why) => unknown(why.clone()),
    }
}

fn log_line_prefix(ev: &Evidence) -> Outcome {
    let prefix = match ev.setting("log_line_prefix") {
        Ok(p) => p,
        Err(why) => return unknown(why),
    };
    let missing: Vec<&str> =
        [("%m", "%t"), ("%u", "%u"), ("%d", "%d"), ("%a", "%a"), ("%c", "%p"), ("%r", "%h")]
            .iter()
            .filter(|(a, b)| !prefix.contains(a) && !prefix.contains(b))
            .map(|(a, _)| *a)
            .collect();
    if missing.is_empty() {
        pass(format!("log_line_prefix = {prefix:?}"))
    } else {
        fail(format!("log_line_prefix = {prefix:?} lacks {}", missing.join(" ")))
    }
}

fn log_destination(ev: &Evidence) -> Outcome {
    let dest = match ev.setting("log_destination") {
        Ok(d) => d.to_ascii_lowercase(),
        Err(why) => return unknown(why),
    };
    let collector = ev.setting("logging_collector").map(|v| v == "on").unwrap_or(false);
    if dest.contains("syslog") || collector {
        pass(format!(
            "log_destination = {dest}, logging_collector = {}",
            if collector { "on" } else { "off" }
        ))
    } else {
        fail(format!(
            "log_destination = {dest} without the logging collector: the log goes wherever stderr goes"
        ))
    }
}

fn log_file_mode(ev: &Evidence) -> Outcome {
    let mode = match ev.setting("log_file_mode") {
        Ok(m) => u32::from_str_radix(m.trim_start_matches('0'), 8).unwrap_or(0o777),
        Err(why) => return unknown(why),
    };
    let mut outcomes = vec![if mode & 0o077 == 0 {
        pass(format!("log_file_mode = {mode:04o}"))
    } else {
        fail(format!("log_file_mode = {mode:04o}: others can read the logs"))
    }];
    if let Ok(dir) = &ev.log_dir {
        outcomes.push(if dir.mode & 0o007 == 0 {
            pass(format!("{} mode {:04o}", dir.path.display(), dir.mode))
        } else {
            fail(format!("{} mode {:04o}: others can reach the logs", dir.path.display(), dir.mode))
        });
    }
    all(&outcomes)
}

fn log_levels(ev: &Evidence) -> Outcome {
    all(&[
        expect(
            ev,
            "log_min_messages",
            &["warning", "notice", "info", "debug1", "debug2", "debug3", "debug4", "debug5"],
        ),
        expect(
            ev,
            "log_min_error_statement",
            &["error", "warning", "notice", "info", "debug1", "debug2", "debug3", "debug4", "debug5"],
        ),
        expect(
            ev,
            "client_min_messages",
            &["notice", "warning", "error", "log", "debug1", "debug2", "debug3", "debug4", "debug5"],
        ),
    ])
}

fn pgaudit_loaded(ev: &Evidence) -> Outcome {
    match ev.setting("shared_preload_libraries") {
        Ok(libs) if libs.split(',').any(|l| l.trim().trim_matches('"') == "pgaudit") => {
            pass(format!("shared_preload_libraries = {libs}"))
        }
        Ok(libs) => fail(format!("shared_preload_libraries = {libs:?}: pgaudit is not loaded")),
        Err(why) => unknown(why),
    }
}

fn pgaudit_classes(ev: &Evidence) -> Outcome {
    let log = match ev.setting("pgaudit.log") {
        Ok(l) => l.to_ascii_lowercase(),
        Err(why) => return unknown(format!("{why} (is pgaudit loaded?)")),
    };
    let classes: Vec<&str> = log.split(',').map(str::trim).collect();
    let has = |c: &str| classes.contains(&c) || classes.contains(&"all");
    let missing: Vec<&str> = ["ddl", "role", "read", "write"].into_iter().filter(|c| !has(c)).collect();
    if missing.is_empty() {
        pass(format!("pgaudit.log = {log}"))
    } else {
        fail(format!("pgaudit.log = {log:?} lacks {}", missing.join(", ")))
    }
}

fn data_dir(ev: &Evidence) -> Outcome {
    match &ev.data_dir {
        Ok(d) if d.mode & 0o027 == 0 && Some(d.uid) == ev.owner_uid => {
            pass(format!("{} mode {:04o}", d.path.display(), d.mode))
        }
        Ok(d) => fail(format!(
            "{} mode {:04o} uid {}: must be 0700 (or 0750) and owned by the cluster owner",
            d.path.display(),
            d.mode,
            d.uid
        )),
        Err(why) => unknown(why.clone()),
    }
}

fn config_files(ev: &Evidence) -> Outcome {
    let files = match &ev.config_files {
        Ok(f) => f,
        Err(why) => return unknown(why.clone()),
    };
    let outcomes: Vec<Outcome> = files
        .iter()
        .map(|f| {
            let owner_ok = Some(f.uid) == ev.owner_uid || f.uid == 0;
            if owner_ok && f.mode & 0o022 == 0 && f.mode & 0o004 == 0 {
                pass(format!("{} mode {:04o}", f.path.display(), f.mode))
            } else {
                fail(format!("{} mode {:04o} uid {}: must be owned by the cluster owner (or root), not readable or writable by others", f.path.display(), f.mode, f.uid))
            }
        })
        .collect();
    all(&outcomes)
}

fn superusers(ev: &Evidence) -> Outcome {
    match &ev.superusers {
        Ok(list) => {
            let extra: Vec<&String> =
                list.iter().filter(|r| Some(*r) != ev.bootstrap_superuser.as_ref()).collect();
            if extra.is_empty() {
                pass(format!("only the bootstrap superuser: {}", list.join(", ")))
            } else {
                let names: Vec<&str> = extra.iter().map(|s| s.as_str()).collect();
                fail(format!("superusers besides the bootstrap one: {}", names.join(", ")))
            }
        }
        Err(why) => unknown(why.clone()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn run_default(id: CheckId, ev: &Evidence) -> Outcome {
        run(id, ev, &Default::default())
    }

    fn with(settings: &[(&str, &str)]) -> Evidence {
        let mut ev = Evidence::empty();
        ev.settings =
            Ok(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>());
        ev
    }

    #[test]
    fn missing_evidence_is_never_a_pass() {
        let ev = Evidence::empty();
        for id in CheckId::ALL {
            assert_ne!(run(*id, &ev, &Default::default()).status, Status::Pass, "{id:?}");
        }
    }

    #[test]
    fn default_ciphers_fail_and_the_profile_passes() {
        assert_eq!(
            run_default(CheckId::TlsCiphers, &with(&[("ssl_ciphers", "HIGH:MEDIUM:+3DES:!aNULL")])).status,
            Status::Fail
        );
        let strict = with(&[("ssl_ciphers", "HIGH:!aNULL:!eNULL:!MD5:!3DES:!RC4:!SHA1")]);
        assert_eq!(run_default(CheckId::TlsCiphers, &strict).status, Status::Pass);
    }

    #[test]
    fn log_line_prefix_needs_every_field() {
        let ok = with(&[("log_line_prefix", "< %m %a %u %d %c %s %r >")]);
        assert_eq!(run_default(CheckId::LogLinePrefix, &ok).status, Status::Pass);
        let bad = with(&[("log_line_prefix", "%m [%p] ")]);
        let out = run_default(CheckId::LogLinePrefix, &bad);
        assert_eq!(out.status, Status::Fail);
        assert!(out.evidence[0].contains("%u"), "{out:?}");
    }
}
