//! Whether a value a file or the server has meets what the profile wants, and the value to write
//! when it does not.
//!
//! Owns: comparing values as the server reads them (booleans, case, units of time), the profile's
//! wider acceptances ([`Accept`]: PostgreSQL 18's `log_connections` by the aspects it logs, OpenSSL
//! names and lists by membership), and raising a `log_connections` that logs too little by adding
//! what it lacks instead of replacing it.
//! Must not: read anything (values come in as text, quotes already removed).

use std::collections::BTreeSet;

use pgharden_conf::postgresql_conf::{ConnectionLogAspect, log_connections, log_connections_value};

use crate::profile::{Accept, duration_ms};

/// Parameters that are durations, with the unit a bare number means, in milliseconds.
const DURATIONS: &[(&str, u64)] = &[
    ("statement_timeout", 1),
    ("tcp_keepalives_idle", 1_000),
    ("tcp_keepalives_interval", 1_000),
    ("log_rotation_age", 60_000),
    ("log_min_duration_statement", 1),
];

/// Parameters that are sizes, with the unit a bare number means, in bytes.
const SIZES: &[(&str, u64)] = &[("log_rotation_size", 1_024)];

/// Parameters that are integers the server reads like C's `strtol(…, 0)` (`0600` is octal).
const INTEGERS: &[&str] = &["log_file_mode", "tcp_keepalives_count"];

/// Parameters whose values are keywords the server reads without regard to case (booleans and
/// enums); every other string (a log_line_prefix, a cipher list, a file name) must match exactly.
const KEYWORDS: &[&str] = &[
    "ssl",
    "ssl_min_protocol_version",
    "ssl_prefer_server_ciphers",
    "password_encryption",
    "log_connections",
    "log_disconnections",
    "log_checkpoints",
    "log_lock_waits",
    "log_hostname",
    "log_error_verbosity",
    "log_statement",
    "log_duration",
    "client_min_messages",
    "log_min_messages",
    "log_min_error_statement",
    "log_destination",
    "logging_collector",
    "log_truncate_on_rotation",
    "syslog_facility",
    "pgaudit.log",
    "pgaudit.log_catalog",
    "pgaudit.log_level",
    "pgaudit.log_parameter",
    "pgaudit.log_relation",
    "pgaudit.log_statement_once",
];

/// Whether `current` (as the server or a file has it, quotes removed) meets the `wanted` value of
/// parameter `name` under `accept`.
pub(crate) fn satisfies(accept: Accept, name: &str, current: &str, wanted: &str) -> bool {
    match accept {
        Accept::Same => same_setting(name, current, wanted),
        Accept::ConnectionAspects => match (log_connections(current), log_connections(wanted)) {
            (Ok(have), Ok(want)) => have.is_superset(&want),
            _ => false,
        },
        Accept::OneOf(names) => names.contains(&current.trim()),
        Accept::ListOf(names) => {
            let items: Vec<&str> = current.split(':').map(str::trim).collect();
            !current.trim().is_empty() && items.iter().all(|i| names.contains(i))
        }
    }
}

/// The value to write (as postgresql.conf spells it) for a setting whose `current` value (quotes
/// removed; `None` when nothing sets it) does not meet `wanted_raw`: the wanted value itself, except
/// that a `log_connections` that can be read keeps what it logs and gains what it lacks.
pub(crate) fn raised(accept: Accept, current: Option<&str>, wanted_raw: &str) -> String {
    let Accept::ConnectionAspects = accept else { return wanted_raw.to_string() };
    let wanted = super::decoded(wanted_raw);
    let (Some(Ok(have)), Ok(want)) = (current.map(log_connections), log_connections(&wanted)) else {
        return wanted_raw.to_string();
    };
    let all: BTreeSet<ConnectionLogAspect> = have.union(&want).copied().collect();
    let value = log_connections_value(&all);
    // A list needs quotes in postgresql.conf; `on` and `all` do not.
    if value.contains(',') { format!("'{value}'") } else { value }
}

/// Whether `current` is the `wanted` value of parameter `name`: durations and sizes by what they
/// mean (`1h` is `3600000` is `60min`, `0` is `0kB`), integers by value (`0600` is `384`), time
/// zones by zone (`Etc/UTC` is `UTC`), keywords as [`same_value`], any other string exactly.
pub(crate) fn same_setting(name: &str, current: &str, wanted: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let is = |list: &[&str]| list.contains(&name.as_str());
    let base = DURATIONS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b);
    if let Some(base) = base
        && let (Some(a), Some(b)) = (duration_ms(current, base), duration_ms(wanted, base))
    {
        return a == b;
    }
    let base = SIZES.iter().find(|(n, _)| *n == name).map(|(_, b)| *b);
    if let Some(base) = base
        && let (Some(a), Some(b)) = (size_bytes(current, base), size_bytes(wanted, base))
    {
        return a == b;
    }
    if is(INTEGERS)
        && let (Some(a), Some(b)) = (c_integer(current), c_integer(wanted))
    {
        return a == b;
    }
    if name == "log_timezone" || name == "timezone" {
        let utc = |v: &str| pgharden_conf::postgresql_conf::is_utc_zone(v.trim());
        return (utc(current) && utc(wanted)) || current.trim().eq_ignore_ascii_case(wanted.trim());
    }
    if is(KEYWORDS) { same_value(current, wanted) } else { current == wanted }
}

/// A size as postgresql.conf spells it (`0`, `10MB`; `base` is what a bare number means), in bytes.
fn size_bytes(text: &str, base: u64) -> Option<u64> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let number: u64 = text[..digits].parse().ok()?;
    let size = match text[digits..].trim() {
        "" => base,
        "B" => 1,
        "kB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        "TB" => 1 << 40,
        _ => return None,
    };
    number.checked_mul(size)
}

/// An integer as the server parses one (`strtol` with base 0): `0x` hexadecimal, a leading `0`
/// octal, else decimal.
fn c_integer(text: &str) -> Option<i64> {
    let t = text.trim();
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let value = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()?
    } else if t.len() > 1 && t.starts_with('0') {
        i64::from_str_radix(&t[1..], 8).ok()?
    } else {
        t.parse().ok()?
    };
    Some(if negative { -value } else { value })
}

/// Keyword values compared as the server reads them: quotes already removed, case-insensitive,
/// booleans by meaning (`true` is `on`).
pub(crate) fn same_value(current: &str, wanted: &str) -> bool {
    let norm = |s: &str| {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "true" | "yes" | "1" | "on" => "on".to_string(),
            "false" | "no" | "0" | "off" => "off".to_string(),
            _ => s,
        }
    };
    norm(current) == norm(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_compare_as_the_server_reads_them() {
        assert!(same_value("true", "on"));
        assert!(same_value("TLSv1.2", "tlsv1.2"));
        assert!(!same_value("md5", "scram-sha-256"));
    }

    #[test]
    fn durations_compare_by_what_they_mean() {
        assert!(same_setting("statement_timeout", "3600000", "1h"));
        assert!(same_setting("statement_timeout", "60min", "1h"));
        assert!(!same_setting("statement_timeout", "0", "1h"));
        assert!(same_setting("tcp_keepalives_idle", "5min", "300"));
        assert!(!same_setting("tcp_keepalives_idle", "300ms", "300"));
        assert!(same_setting("log_rotation_age", "1440", "1d"));
        assert!(!same_setting("tcp_keepalives_count", "3", "30"), "a count is no duration");
        assert!(same_setting("log_rotation_size", "0kB", "0"));
        assert!(!same_setting("log_rotation_size", "10MB", "0"));
    }

    #[test]
    fn equivalent_values_are_already_right() {
        assert!(same_setting("log_timezone", "Etc/UTC", "UTC"), "Debian's default");
        assert!(same_setting("log_timezone", "zulu", "UTC"));
        assert!(!same_setting("log_timezone", "Europe/Berlin", "UTC"));
        assert!(same_setting("log_file_mode", "0600", "384"));
        assert!(same_setting("log_file_mode", "600", "600"));
        assert!(!same_setting("log_file_mode", "0640", "0600"));
        assert!(same_setting("logging_collector", "TRUE", "on"));
        assert!(same_setting("client_min_messages", "ERROR", "error"));
        assert!(same_setting("log_min_duration_statement", "-1", "-1"));
    }

    #[test]
    fn strings_that_are_not_keywords_match_exactly() {
        assert!(!same_setting("log_line_prefix", "< %M %a >", "< %m %a >"), "%M is not %m");
        assert!(!same_setting("ssl_ciphers", "high:!anull", "HIGH:!aNULL"));
        assert!(same_setting("log_filename", "postgresql-15-main.log", "postgresql-15-main.log"));
    }

    #[test]
    fn connection_logging_that_logs_at_least_as_much_is_kept() {
        let ok = |current: &str| satisfies(Accept::ConnectionAspects, "log_connections", current, "on");
        for current in ["on", "true", "receipt,authentication,authorization", "all", "setup_durations, all"] {
            assert!(ok(current), "{current}");
        }
        for current in ["off", "", "authentication", "receipt,authorization", "on,receipt", "bogus"] {
            assert!(!ok(current), "{current}");
        }
        let raise = |current: Option<&str>| raised(Accept::ConnectionAspects, current, "on");
        assert_eq!(raise(Some("authentication")), "on");
        assert_eq!(raise(Some("setup_durations,receipt")), "all");
        assert_eq!(raise(Some("authentication,setup_durations")), "all");
        assert_eq!(raise(Some("off")), "on");
        assert_eq!(raise(None), "on");
        assert_eq!(raise(Some("nonsense")), "on", "a value the server refuses is replaced");
        assert_eq!(raised(Accept::Same, Some("off"), "on"), "on");
    }

    #[test]
    fn openssl_names_are_accepted_by_membership() {
        let curves = Accept::OneOf(&["prime256v1", "secp384r1"]);
        assert!(satisfies(curves, "ssl_ecdh_curve", "secp384r1", "prime256v1"));
        assert!(!satisfies(curves, "ssl_ecdh_curve", "brainpoolP256r1", "prime256v1"));
        let groups = Accept::ListOf(&["X25519", "P-256", "P-384"]);
        assert!(satisfies(groups, "ssl_groups", "P-384", "X25519:P-256"));
        assert!(satisfies(groups, "ssl_groups", "X25519:P-256", "X25519:P-256"));
        assert!(!satisfies(groups, "ssl_groups", "X25519:ffdhe2048", "X25519:P-256"));
        assert!(!satisfies(groups, "ssl_groups", "", "X25519:P-256"), "empty is the server's default");
        assert!(!satisfies(groups, "ssl_groups", "X25519:", "X25519:P-256"));
    }
}
