//! Checks on settings, judged in every session: the cluster-wide value and each per-role,
//! per-database and per-role-in-database override of it. Values are read as the server (or
//! pgaudit) reads them (`crate::values`), never by substring.
//!
//! Owns: one function per setting check. Must not: gather evidence.

use crate::evidence::{Evidence, Missing, Setting, Settings};
use crate::values::{self, AuditClass, MessageLevel};

use super::{Outcome, all, fail, not_checked, pass, unknown, verdict};

/// A judgement of one value: `Ok(())` meets the check, `Err(why)` does not.
type Judge<'a> = dyn Fn(&str) -> Result<(), String> + 'a;

fn settings(ev: &Evidence) -> Result<&Settings, Outcome> {
    ev.settings.as_ref().map_err(unknown)
}

/// Judge `name` in every session: the cluster-wide value and every override.
pub(super) fn each_value(ev: &Evidence, name: &str, judge: &Judge<'_>) -> Outcome {
    let s = match settings(ev) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let Some(cluster) = s.get(name) else { return unknown(&s.missing(name)) };
    if let Some(why) = &cluster.unknown {
        return unknown(&Missing::failed(name, why));
    }
    let mut problems = Vec::new();
    if let Err(why) = judge(&cluster.value) {
        problems.push(format!("{name} = {:?} ({}): {why}", cluster.value, origin(cluster)));
    }
    let mut overrides = 0;
    for o in s.overrides_of(name) {
        overrides += 1;
        if let Err(why) = judge(&o.value) {
            problems.push(format!("{name} = {:?} for {}: {why}", o.value, o.at));
        }
    }
    verdict(problems, || {
        let also = match overrides {
            0 => String::new(),
            1 => ", and its one per-role/database override".to_string(),
            n => format!(", and its {n} per-role/database overrides"),
        };
        format!("{name} = {} ({}){also}", cluster.value, origin(cluster))
    })
}

fn origin(s: &Setting) -> String {
    if s.masked { format!("{}; the auditor's own session has an override", s.origin()) } else { s.origin() }
}

/// One of `allowed`, case-insensitively (enum settings).
pub(super) fn expect(ev: &Evidence, name: &str, allowed: &[&str]) -> Outcome {
    each_value(ev, name, &|v: &str| {
        if allowed.iter().any(|a| a.eq_ignore_ascii_case(v.trim())) {
            Ok(())
        } else {
            Err(format!("wanted {}", allowed.join(" or ")))
        }
    })
}

/// A boolean that must be on.
pub(super) fn boolean(ev: &Evidence, name: &str) -> Outcome {
    each_value(ev, name, &|v: &str| match values::parse_bool(v) {
        Some(true) => Ok(()),
        Some(false) => Err("is off".into()),
        None => Err("is not a boolean".into()),
    })
}

pub(super) fn non_empty(ev: &Evidence, name: &str) -> Outcome {
    each_value(ev, name, &|v: &str| if v.is_empty() { Err("is empty".into()) } else { Ok(()) })
}

pub(super) fn ciphers(ev: &Evidence) -> Outcome {
    each_value(ev, "ssl_ciphers", &|list: &str| {
        // OpenSSL's default HIGH:MEDIUM:+3DES:!aNULL still enables 3DES and MEDIUM suites.
        let tokens: Vec<&str> = list.split([':', ',', ' ']).filter(|t| !t.is_empty()).collect();
        let allows = |weak: &str| tokens.iter().any(|t| t.trim_start_matches('+').eq_ignore_ascii_case(weak));
        let excludes = |weak: &str| tokens.iter().any(|t| t.eq_ignore_ascii_case(&format!("!{weak}")));
        let mut problems: Vec<String> = ["MEDIUM", "LOW", "EXPORT", "NULL", "eNULL", "RC4", "3DES", "MD5"]
            .iter()
            .filter(|w| allows(w))
            .map(|w| format!("allows {w}"))
            .collect();
        if !excludes("aNULL") {
            problems.push("does not exclude aNULL (anonymous key exchange)".into());
        }
        // HIGH, ALL, DEFAULT, AES… all hold static-RSA suites: without forward secrecy a recorded
        // session is readable once the server key leaks. Only an explicit exclusion removes them.
        let only_ephemeral = tokens.iter().filter(|t| !t.starts_with(['!', '-', '+', '@'])).all(|t| {
            let t = t.to_ascii_uppercase();
            t.starts_with("ECDHE")
                || t.starts_with("DHE")
                || t.starts_with("EECDH")
                || t.starts_with("EDH")
                || t.starts_with("TLS_")
        });
        if !only_ephemeral && !excludes("kRSA") && !excludes("RSA") {
            problems.push("allows static RSA key exchange (no forward secrecy): add !kRSA".into());
        }
        if problems.is_empty() { Ok(()) } else { Err(problems.join(", ")) }
    })
}

/// `log_connections`: on, or (PostgreSQL 18) a list naming receipt, authentication and
/// authorization — what `on` means there.
pub(super) fn log_connections(ev: &Evidence) -> Outcome {
    use values::ConnectionLogAspect as A;
    each_value(ev, "log_connections", &|v: &str| {
        let aspects = values::log_connections(v).map_err(|e| e.to_string())?;
        let missing: Vec<&str> = [
            (A::Receipt, "receipt"),
            (A::Authentication, "authentication"),
            (A::Authorization, "authorization"),
        ]
        .iter()
        .filter(|(a, _)| !aspects.contains(a))
        .map(|(_, n)| *n)
        .collect();
        if missing.is_empty() { Ok(()) } else { Err(format!("does not log {}", missing.join(", "))) }
    })
}

/// CD16-00-001000: "If both settings are off, this is a finding".
pub(super) fn connections_or_disconnections(ev: &Evidence) -> Outcome {
    let conn = log_connections(ev);
    let disc = boolean(ev, "log_disconnections");
    match (conn.status, disc.status) {
        (crate::model::Status::Pass, _) => conn,
        (_, crate::model::Status::Pass) => disc,
        _ => all(&[conn, disc]),
    }
}

/// `log_line_prefix` uses every escape in `wanted` (as the server expands it: `%%m` is text).
pub(super) fn prefix(ev: &Evidence, wanted: &[char]) -> Outcome {
    each_value(ev, "log_line_prefix", &|v: &str| {
        let missing = values::missing_escapes(v, wanted);
        if missing.is_empty() {
            Ok(())
        } else {
            let list: Vec<String> = missing.iter().map(|c| format!("%{c}")).collect();
            Err(format!("lacks {}", list.join(" ")))
        }
    })
}

/// CD16-00-000900: "If stderr or syslog are not in the current setting, this is a finding."
pub(super) fn log_destination(ev: &Evidence) -> Outcome {
    each_value(ev, "log_destination", &|v: &str| {
        let has = |d: &str| v.split(',').any(|x| x.trim().eq_ignore_ascii_case(d));
        if has("stderr") || has("syslog") { Ok(()) } else { Err("has neither stderr nor syslog".into()) }
    })
}

pub(super) fn log_timezone(ev: &Evidence) -> Outcome {
    each_value(ev, "log_timezone", &|v: &str| {
        if values::is_utc_zone(v.trim()) { Ok(()) } else { Err("is not UTC".into()) }
    })
}

/// Errors reach the server log, with the statement that caused them.
pub(super) fn log_levels(ev: &Evidence) -> Outcome {
    let at_least = |name: &'static str| {
        move |v: &str| -> Result<(), String> {
            let level = MessageLevel::parse(v).map_err(|e| e.to_string())?;
            if values::server_log_includes(level, MessageLevel::Error) {
                Ok(())
            } else {
                Err(format!("{name} must be error or a more verbose level, so refused statements are logged"))
            }
        }
    };
    all(&[
        each_value(ev, "log_min_messages", &at_least("log_min_messages")),
        each_value(ev, "log_min_error_statement", &at_least("log_min_error_statement")),
    ])
}

pub(super) fn pgaudit_loaded(ev: &Evidence) -> Outcome {
    match ev.setting("shared_preload_libraries") {
        Ok(libs) if libs.split(',').any(|l| l.trim().trim_matches('"') == "pgaudit") => {
            pass(format!("shared_preload_libraries = {libs}"))
        }
        Ok(libs) => fail(format!("shared_preload_libraries = {libs:?}: pgaudit is not loaded")),
        Err(why) => unknown(&why),
    }
}

pub(super) const ALL_FOUR: &[AuditClass] =
    &[AuditClass::Ddl, AuditClass::Role, AuditClass::Read, AuditClass::Write];
pub(super) const DDL_WRITE_ROLE: &[AuditClass] = &[AuditClass::Ddl, AuditClass::Write, AuditClass::Role];
pub(super) const ROLE_ONLY: &[AuditClass] = &[AuditClass::Role];

/// `pgaudit.log` covers `wanted`, with `-class` subtractions applied as pgaudit applies them.
pub(super) fn pgaudit_classes(ev: &Evidence, wanted: &[AuditClass]) -> Outcome {
    if let Err(why) = ev.setting("pgaudit.log") {
        return not_checked(format!("{why} (is pgaudit loaded?)"));
    }
    each_value(ev, "pgaudit.log", &|v: &str| {
        let classes = values::pgaudit_classes(v).map_err(|e| e.to_string())?;
        let missing: Vec<&str> = wanted.iter().filter(|c| !classes.contains(c)).map(|c| c.name()).collect();
        if missing.is_empty() { Ok(()) } else { Err(format!("does not log {}", missing.join(", "))) }
    })
}

/// pgaudit's catalog logging on (the STIG's `\du` test is a catalog query), and `log_level` =
/// log when `log_client` sends the records to clients too (pgaudit writes to the server log at
/// LOG otherwise, whatever log_level says).
pub(super) fn pgaudit_settings(ev: &Evidence) -> Outcome {
    let catalog = boolean(ev, "pgaudit.log_catalog");
    let client_on =
        |ev: &Evidence| ev.setting("pgaudit.log_client").map(|v| values::parse_bool(v) == Some(true));
    let level = match client_on(ev) {
        Ok(false) => pass("pgaudit.log_client = off: records go to the server log at LOG"),
        Ok(true) => expect(ev, "pgaudit.log_level", &["log"]),
        Err(why) => unknown(&why),
    };
    all(&[catalog, level])
}

/// CD16-00-004700: statement_timeout and the TCP keepalives "set to something other than zero".
pub(super) fn session_timeouts(ev: &Evidence) -> Outcome {
    let non_zero = |unit: values::DurationUnit| {
        move |v: &str| -> Result<(), String> {
            match values::duration_ms(v, unit) {
                Ok(0) => Err("is 0 (no limit, or the operating system's default)".into()),
                Ok(_) => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    all(&[
        each_value(ev, "statement_timeout", &non_zero(values::DurationUnit::Milliseconds)),
        each_value(ev, "tcp_keepalives_idle", &non_zero(values::DurationUnit::Seconds)),
        each_value(ev, "tcp_keepalives_interval", &non_zero(values::DurationUnit::Seconds)),
        each_value(ev, "tcp_keepalives_count", &|v: &str| match v.trim().parse::<i64>() {
            Ok(0) => Err("is 0 (the operating system's default)".into()),
            Ok(_) => Ok(()),
            Err(_) => Err("is not a number".into()),
        }),
    ])
}
