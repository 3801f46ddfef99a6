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

/// Whether `current` is the `wanted` value of parameter `name`: durations by what they mean (`1h`
/// is `3600000` is `60min`), else as [`same_value`].
pub(crate) fn same_setting(name: &str, current: &str, wanted: &str) -> bool {
    let base = DURATIONS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, b)| *b);
    if let Some(base) = base
        && let (Some(a), Some(b)) = (duration_ms(current, base), duration_ms(wanted, base))
    {
        return a == b;
    }
    same_value(current, wanted)
}

/// Values compared as the server would: quotes already removed, case-insensitive for keywords.
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
