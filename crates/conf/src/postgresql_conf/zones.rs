//! Time-zone names as the server reads them: which of `timezone` and `log_timezone`'s values mean
//! UTC. Shared by the audit (is the log in UTC?) and the plan (is `Etc/UTC` already the profile's
//! `UTC`?), so the two can never disagree.
//!
//! Owns: the list of UTC names and the comparison. Must not: read the tz database (the audit's tests
//! check the list against the system's).

/// The tz-database names whose zone is UTC: the `Etc/UTC` links and the `Etc/GMT` links (zero
/// offset, no transitions, abbreviation GMT).
pub const UTC_ZONE_NAMES: [&str; 18] = [
    "UTC",
    "Etc/UTC",
    "UCT",
    "Etc/UCT",
    "Universal",
    "Etc/Universal",
    "Zulu",
    "Etc/Zulu",
    "GMT",
    "Etc/GMT",
    "GMT0",
    "Etc/GMT0",
    "GMT+0",
    "GMT-0",
    "Etc/GMT+0",
    "Etc/GMT-0",
    "Greenwich",
    "Etc/Greenwich",
];

/// Does the time-zone name `name` (of `timezone` or `log_timezone`) mean UTC?
///
/// PostgreSQL opens the zone file under its time-zone directory, matching each path component
/// case-insensitively, so `zulu` and `ETC/utc` are UTC too. Debian's packages read the system
/// tz database, where `posix/NAME` is the same file as `NAME`; it is accepted as well. POSIX-style
/// zone specifications (`UTC0`, `<+00>0`) are not tz-database names and are not recognised here.
pub fn is_utc_zone(name: &str) -> bool {
    let name = match name.get(..6) {
        Some(head) if head.eq_ignore_ascii_case("posix/") => &name[6..],
        _ => name,
    };
    UTC_ZONE_NAMES.iter().any(|utc| utc.eq_ignore_ascii_case(name))
}
