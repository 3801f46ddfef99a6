#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use super::*;

fn set(chars: &str) -> BTreeSet<char> {
    chars.chars().collect()
}

// --- log_line_prefix -------------------------------------------------------

#[test]
fn prefix_reads_plain_escapes() {
    assert_eq!(prefix_escapes("< %m %a %u %d %c %s %r >"), set("macudsr"));
    assert_eq!(prefix_escapes("%m [%p] %q%u@%d "), set("mpqud"));
}

#[test]
fn doubled_percent_is_literal() {
    assert_eq!(prefix_escapes("%%m %%u %%d %%a %%c %%r %%s %%p "), set(""));
    // "%%%m": a literal percent, then %m.
    assert_eq!(prefix_escapes("%%%m"), set("m"));
    assert_eq!(missing_escapes("%%m %u", &['m', 'u']), vec!['m']);
}

#[test]
fn padding_sits_between_percent_and_letter() {
    assert_eq!(prefix_escapes("%-10u %5p %-3d %012m"), set("upmd"));
}

#[test]
fn unknown_letters_and_odd_characters_are_ignored() {
    // %z and %Z are not escapes; "% m" is % followed by a space (ignored), then a literal m.
    assert_eq!(prefix_escapes("%z %Z % m %é"), set(""));
    // "%--5m": the second '-' is not padding, so it is the (unknown) escape and "5m" is literal.
    assert_eq!(prefix_escapes("%--5m"), set(""));
}

#[test]
fn a_trailing_percent_or_padding_ends_the_prefix() {
    assert_eq!(prefix_escapes("%m %"), set("m"));
    assert_eq!(prefix_escapes("%m %-"), set("m"));
    assert_eq!(prefix_escapes("%m %10"), set("m"));
    assert_eq!(prefix_escapes(""), set(""));
}

#[test]
fn q_is_recorded_and_splits_off_session_only_escapes() {
    let prefix = "%m %p %q%u %d";
    assert_eq!(prefix_escapes(prefix), set("mpqud"));
    assert_eq!(prefix_escapes_outside_sessions(prefix), set("mp"));
    assert_eq!(prefix_escapes_outside_sessions("%u"), set("u"));
}

#[test]
fn missing_escapes_keeps_order_and_says_each_once() {
    assert_eq!(missing_escapes("%m %u", &['p', 'm', 'd', 'p']), vec!['p', 'd']);
    assert!(missing_escapes("%m %u %d", &['m', 'u', 'd']).is_empty());
}

// --- pgaudit.log -----------------------------------------------------------

fn classes(names: &[AuditClass]) -> BTreeSet<AuditClass> {
    names.iter().copied().collect()
}

#[test]
fn pgaudit_all_minus_role_has_no_role() {
    use AuditClass::*;
    let got = pgaudit_classes("all, -role").unwrap();
    assert_eq!(got, classes(&[Read, Write, Function, Ddl, Misc, MiscSet]));
}

#[test]
fn pgaudit_is_case_insensitive_and_allows_spaces_and_quotes() {
    use AuditClass::*;
    assert_eq!(pgaudit_classes(" DDL ,Write,\tROLE , \"read\"").unwrap(), classes(&[Ddl, Write, Role, Read]));
    assert_eq!(pgaudit_classes("\"-Role\", all").unwrap(), classes(&AuditClass::ALL));
}

#[test]
fn pgaudit_none_adds_and_removes_nothing() {
    use AuditClass::*;
    assert_eq!(pgaudit_classes("none").unwrap(), classes(&[]));
    assert_eq!(pgaudit_classes("read, none").unwrap(), classes(&[Read]));
    assert_eq!(pgaudit_classes("none, read").unwrap(), classes(&[Read]));
    assert_eq!(pgaudit_classes("read, -none").unwrap(), classes(&[Read]));
    assert_eq!(pgaudit_classes("").unwrap(), classes(&[]));
}

#[test]
fn pgaudit_order_matters() {
    use AuditClass::*;
    assert_eq!(pgaudit_classes("-role, all").unwrap(), classes(&AuditClass::ALL));
    assert_eq!(pgaudit_classes("all, -all, ddl").unwrap(), classes(&[Ddl]));
}

#[test]
fn pgaudit_misc_includes_misc_set() {
    use AuditClass::*;
    assert_eq!(pgaudit_classes("misc").unwrap(), classes(&[Misc, MiscSet]));
    assert_eq!(pgaudit_classes("misc_set").unwrap(), classes(&[MiscSet]));
    assert_eq!(pgaudit_classes("all, -misc").unwrap(), classes(&[Read, Write, Function, Role, Ddl]));
    assert_eq!(pgaudit_classes("misc, -misc_set").unwrap(), classes(&[Misc]));
}

#[test]
fn pgaudit_refuses_unknown_classes_and_bad_lists() {
    let err = pgaudit_classes("ddl, rol").unwrap_err();
    assert_eq!(err.problem, Problem::UnknownAuditClass("rol".into()));
    assert_eq!(err.value, "ddl, rol");
    assert!(err.to_string().contains("\"rol\""), "{err}");
    assert_eq!(pgaudit_classes("dml").unwrap_err().problem, Problem::UnknownAuditClass("dml".into()));
    assert_eq!(pgaudit_classes("-").unwrap_err().problem, Problem::UnknownAuditClass(String::new()));
    for bad in ["read,", ",read", "read,,write", "read write", "\"read", "\"read\"x"] {
        assert_eq!(pgaudit_classes(bad).unwrap_err().problem, Problem::ListSyntax, "{bad:?}");
    }
}

#[test]
fn audit_class_names_read_back() {
    for class in AuditClass::ALL {
        let expected: BTreeSet<_> = match class {
            AuditClass::Misc => classes(&[AuditClass::Misc, AuditClass::MiscSet]),
            other => classes(&[other]),
        };
        assert_eq!(pgaudit_classes(class.name()).unwrap(), expected);
        assert_eq!(class.to_string(), class.name());
    }
}

// --- booleans --------------------------------------------------------------

#[test]
fn bool_words_and_unique_prefixes() {
    for yes in ["on", "ON", "true", "t", "Tr", "yes", "y", "1"] {
        assert_eq!(parse_bool(yes), Some(true), "{yes}");
    }
    for no in ["off", "of", "OFF", "false", "f", "fal", "no", "N", "0"] {
        assert_eq!(parse_bool(no), Some(false), "{no}");
    }
}

#[test]
fn bool_refusals() {
    for bad in ["", "o", "onn", "offf", "truex", "yess", "10", "00", " on", "on ", "2", "enable"] {
        assert_eq!(parse_bool(bad), None, "{bad:?}");
    }
}

// --- log_connections -------------------------------------------------------

fn aspects(names: &[ConnectionLogAspect]) -> BTreeSet<ConnectionLogAspect> {
    names.iter().copied().collect()
}

#[test]
fn log_connections_lists() {
    use ConnectionLogAspect::*;
    assert_eq!(log_connections("").unwrap(), aspects(&[]));
    assert_eq!(log_connections("receipt, Authorization").unwrap(), aspects(&[Receipt, Authorization]));
    assert_eq!(log_connections("ALL").unwrap(), aspects(&ConnectionLogAspect::ALL));
    assert_eq!(log_connections("setup_durations,all").unwrap(), aspects(&ConnectionLogAspect::ALL));
}

#[test]
fn log_connections_booleans_whole_and_alone() {
    use ConnectionLogAspect::*;
    for on in ["on", "TRUE", "yes", "1"] {
        assert_eq!(log_connections(on).unwrap(), aspects(&[Receipt, Authentication, Authorization]), "{on}");
    }
    for off in ["off", "False", "no", "0"] {
        assert_eq!(log_connections(off).unwrap(), aspects(&[]), "{off}");
    }
    // Prefixes were fine for the old boolean, not for the list.
    assert_eq!(log_connections("tr").unwrap_err().problem, Problem::UnknownConnectionOption("tr".into()));
    assert_eq!(
        log_connections("on, receipt").unwrap_err().problem,
        Problem::ConnectionOptionNotAlone("on".into())
    );
    // Only the first element is checked for the old spellings; later it is an unknown option.
    assert_eq!(
        log_connections("receipt, on").unwrap_err().problem,
        Problem::UnknownConnectionOption("on".into())
    );
    assert_eq!(log_connections("receipt,").unwrap_err().problem, Problem::ListSyntax);
}

// --- time zones ------------------------------------------------------------

#[test]
fn utc_zones_case_insensitively() {
    for name in
        ["UTC", "utc", "Zulu", "etc/universal", "Etc/GMT-0", "GREENWICH", "posix/UTC", "POSIX/Etc/Zulu"]
    {
        assert!(is_utc_zone(name), "{name}");
    }
    for name in [
        "America/New_York",
        "Etc/GMT+5",
        "Etc/GMT-1",
        "GMT+1",
        "Europe/London",
        "",
        "posix/",
        "UTC0",
        "Factory",
    ] {
        assert!(!is_utc_zone(name), "{name}");
    }
}

// --- message levels --------------------------------------------------------

#[test]
fn levels_parse_case_insensitively_with_debug_alias() {
    assert_eq!(MessageLevel::parse("ERROR").unwrap(), MessageLevel::Error);
    assert_eq!(MessageLevel::parse("debug").unwrap(), MessageLevel::Debug2);
    assert_eq!(MessageLevel::parse("Debug5").unwrap(), MessageLevel::Debug5);
    assert_eq!(MessageLevel::parse("warn").unwrap_err().problem, Problem::UnknownMessageLevel);
    for level in MessageLevel::ALL {
        assert_eq!(MessageLevel::parse(level.name()).unwrap(), level);
    }
}

#[test]
fn server_log_puts_log_between_error_and_fatal() {
    use MessageLevel::*;
    // log_min_messages = error: LOG lines are still written, WARNING not.
    assert!(server_log_includes(Error, Log));
    assert!(!server_log_includes(Error, Warning));
    // log_min_messages = log: ERROR is not written, FATAL is.
    assert!(!server_log_includes(Log, Error));
    assert!(server_log_includes(Log, Fatal));
    assert!(server_log_includes(Log, Log));
    // log_min_messages = fatal / panic: no LOG.
    assert!(!server_log_includes(Fatal, Log));
    assert!(!server_log_includes(Panic, Log));
    assert!(server_log_includes(Debug5, Debug5));
    assert!(!server_log_includes(Debug1, Debug2));
    // log_min_error_statement = panic: an ERROR's statement is not logged.
    assert!(!server_log_includes(Panic, Error));
}

#[test]
fn server_log_order_is_a_total_order() {
    use MessageLevel::*;
    let order = [Debug5, Debug4, Debug3, Debug2, Debug1, Info, Notice, Warning, Error, Log, Fatal, Panic];
    for (t, threshold) in order.iter().enumerate() {
        for (l, level) in order.iter().enumerate() {
            assert_eq!(server_log_includes(*threshold, *level), l >= t, "{threshold} {level}");
        }
    }
}

#[test]
fn client_order_puts_log_below_notice_and_always_sends_info() {
    use MessageLevel::*;
    assert!(!client_receives(Notice, Log));
    assert!(client_receives(Log, Notice));
    assert!(client_receives(Error, Info));
    assert!(!client_receives(Error, Warning));
    assert!(client_receives(Error, Error));
    assert!(client_receives(Debug5, Log));
}

// --- durations and modes ---------------------------------------------------

#[test]
fn durations_with_units() {
    use DurationUnit::*;
    let ms = |v| duration_ms(v, Milliseconds).unwrap();
    assert_eq!(ms("0"), 0);
    assert_eq!(ms("300"), 300);
    assert_eq!(ms("5min"), 300_000);
    assert_eq!(ms("5 min"), 300_000);
    assert_eq!(ms("1h"), 3_600_000);
    assert_eq!(ms("1d"), 86_400_000);
    assert_eq!(ms("1.5s"), 1500);
    assert_eq!(ms("1500us"), 2);
    assert_eq!(ms(" 30s "), 30_000);
    assert_eq!(ms("-1"), -1);
    assert_eq!(ms("1e3"), 1000);
    assert_eq!(ms("0x10"), 16);
    assert_eq!(ms("010"), 8);
    assert_eq!(ms(".5s"), 500);
    let s = |v| duration_ms(v, Seconds).unwrap();
    assert_eq!(s("300"), 300_000);
    assert_eq!(s("1.5s"), 2000);
    assert_eq!(s("2.5s"), 2000, "rint rounds ties to even");
    assert_eq!(s("1500ms"), 2000);
    assert_eq!(s("1.5min"), 90_000);
    assert_eq!(duration_ms("90", Minutes).unwrap(), 5_400_000);
    assert_eq!(duration_ms("0.5h", Minutes).unwrap(), 1_800_000);
}

#[test]
fn duration_refusals() {
    use DurationUnit::*;
    let problem = |v| duration_ms(v, Milliseconds).unwrap_err().problem;
    assert_eq!(problem("5 minutes"), Problem::InvalidUnit("minutes".into()));
    assert_eq!(problem("5MIN"), Problem::InvalidUnit("MIN".into()));
    assert_eq!(problem("5 m"), Problem::InvalidUnit("m".into()));
    assert_eq!(problem("5s x"), Problem::InvalidUnit("s x".into()));
    assert_eq!(problem(""), Problem::NotANumber);
    assert_eq!(problem("s"), Problem::NotANumber);
    assert_eq!(problem("-.5s"), Problem::NotANumber);
    assert_eq!(problem(" .5s"), Problem::NotANumber);
    assert_eq!(problem("1e999"), Problem::NotANumber);
    assert_eq!(problem("3000000000"), Problem::OutOfIntRange);
    assert_eq!(problem("25d"), Problem::OutOfIntRange);
    assert_eq!(problem("99999999999999999999"), Problem::OutOfIntRange);
}

#[test]
fn file_modes_are_c_integers() {
    for same in ["0600", "384", "0x180", "0X180", " 0600", "0600 ", "384.4"] {
        assert_eq!(file_mode(same).unwrap(), 0o600, "{same:?}");
    }
    assert_eq!(file_mode("0").unwrap(), 0);
    assert_eq!(file_mode("0777").unwrap(), 0o777);
    assert_eq!(file_mode("0o600").unwrap_err().problem, Problem::TrailingText("o600".into()));
    assert_eq!(file_mode("600").unwrap_err().problem, Problem::ModeOutOfRange);
    assert_eq!(file_mode("0600.0").unwrap_err().problem, Problem::ModeOutOfRange, "600.0 is decimal");
    assert_eq!(file_mode("-1").unwrap_err().problem, Problem::ModeOutOfRange);
    assert_eq!(file_mode("0600s").unwrap_err().problem, Problem::TrailingText("s".into()));
    assert_eq!(file_mode("08").unwrap_err().problem, Problem::TrailingText("8".into()));
}

#[test]
fn errors_quote_the_value_escaped() {
    let err = pgaudit_classes("ddl, \"x\x1b[2J\"").unwrap_err();
    let text = err.to_string();
    assert!(!text.contains('\x1b'), "{text}");
    assert!(text.contains("\\x1b[2J"), "{text}");
}
