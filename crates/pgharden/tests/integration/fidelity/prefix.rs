//! Group B: `log_line_prefix` parsed as PostgreSQL expands it (`%%` is a literal `%`, padding
//! `%-10m` is still `%m`, `%t` is not `%m`, `%h` is not `%r`), each rule wanting the escapes its
//! check text names; and where the log goes (`stderr` or `syslog` must be in `log_destination`,
//! with or without the collector) (review P10, P13, F5).

use pgharden_testcluster::Cluster;

use super::Want::{self, Fails, Holds};
use super::{Cases, describe, hardened, judge, literal, mended, reset_system, set_system, sql, system_value};

/// The rules that judge `log_line_prefix` and the escapes their texts name:
/// LOG-13 `%m %u %d %c`, LOG-14 `%m %u %d %s`, LOG-15 and LOG-20 `%m`, LOG-16 `%m %u %d %p %r %a`,
/// AUD-29 `< %m %a %u %d %r %p >`.
const PREFIX_RULES: [&str; 6] =
    ["PGH-LOG-13", "PGH-LOG-14", "PGH-LOG-15", "PGH-LOG-16", "PGH-LOG-20", "PGH-AUD-29"];

fn all(want: Want<'static>) -> Vec<(&'static str, Want<'static>)> {
    PREFIX_RULES.iter().map(|r| (*r, want)).collect()
}

#[test]
fn fidelity_log_prefix_and_destination() {
    let (_pki, mut c) = hardened();
    let mut cases = Cases::new("B, log_line_prefix and log destination");
    prefixes(&mut cases, &c);
    destinations(&mut cases, &c);
    without_collector(&mut cases, &mut c);
    cases.finish();
}

/// P10: four prefixes from the review, and two more (padding; LOG-13's minimum without `%s`).
fn prefixes(cases: &mut Cases, c: &Cluster) {
    let variants: Vec<(&str, Vec<(&str, Want<'_>)>)> = vec![
        ("< %m %a %u %d %c %r %p >", vec![("PGH-LOG-14", Fails(&[])), ("PGH-LOG-16", Holds)]),
        ("< %t %u %d %a %p %h >", all(Fails(&[]))),
        (
            "< %m %a %u %d %c %s %r >",
            vec![("PGH-LOG-16", Fails(&[])), ("PGH-AUD-29", Fails(&[])), ("PGH-LOG-14", Holds)],
        ),
        ("%%m %%u %%d %%a %%c %%r %%s %%p ", all(Fails(&[]))),
        ("%-10m %u %d %c %s %r %p %a ", all(Holds)),
        ("%m %u %d %c", vec![("PGH-LOG-13", Holds), ("PGH-LOG-14", Fails(&[]))]),
    ];
    let was = system_value(c, "log_line_prefix");
    for (prefix, wants) in &variants {
        set_system(c, "log_line_prefix", prefix);
        cases.check(&format!("log_line_prefix {prefix:?}: {}", describe(wants)), || {
            judge(c, &[], wants);
        });
    }
    reset_system(c, "log_line_prefix", &was);
    mended(cases, c, "log_line_prefix reset", &all(Fails(&[])));
}

/// P13: a destination without stderr or syslog is a finding even with the collector on.
fn destinations(cases: &mut Cases, c: &Cluster) {
    let was = system_value(c, "log_destination");
    for (dest, want) in [("csvlog", Fails(&[])), ("jsonlog", Fails(&[])), ("stderr,csvlog", Holds)] {
        set_system(c, "log_destination", dest);
        cases.check(&format!("log_destination={dest}: {}", describe(&[("PGH-AUD-28", want)])), || {
            judge(c, &[], &[("PGH-AUD-28", want)]);
        });
    }
    reset_system(c, "log_destination", &was);
    mended(cases, c, "log_destination reset", &[("PGH-AUD-28", Fails(&[]))]);
}

/// `ALTER SYSTEM SET name = value` for a setting that needs a restart, and the restart.
fn set_and_restart(c: &mut Cluster, name: &str, value: Option<&str>) {
    match value {
        Some(v) => sql(c, &format!("ALTER SYSTEM SET {name} = {}", literal(v))),
        None => sql(c, &format!("ALTER SYSTEM RESET {name}")),
    };
    c.restart().unwrap_or_else(|e| panic!("setup: restart for {name}: {e}"));
}

/// F5: stderr without the collector (the Debian packaging) is what the text accepts; so is syslog.
fn without_collector(cases: &mut Cases, c: &mut Cluster) {
    assert_eq!(system_value(c, "logging_collector"), "on", "setup: apply turns the collector on");
    set_and_restart(c, "logging_collector", Some("off"));
    assert_eq!(system_value(c, "logging_collector"), "off", "setup: the collector is off after the restart");
    assert_eq!(system_value(c, "log_destination"), "stderr", "setup: the profile logs to stderr");
    cases.check("logging_collector=off, log_destination=stderr: PGH-AUD-28 holds", || {
        judge(c, &[], &[("PGH-AUD-28", Holds)]);
    });
    let was = set_system(c, "log_destination", "syslog");
    cases.check("logging_collector=off, log_destination=syslog: PGH-AUD-28 holds", || {
        judge(c, &[], &[("PGH-AUD-28", Holds)]);
    });
    reset_system(c, "log_destination", &was);
    set_and_restart(c, "logging_collector", None);
    assert_eq!(system_value(c, "logging_collector"), "on", "setup: the collector is back after the restart");
    cases.check("logging_collector back on: PGH-AUD-28 holds", || {
        judge(c, &[], &[("PGH-AUD-28", Holds)]);
    });
}
