//! Property tests: edits read back as written, touch only their own line, and parsing never
//! loses a byte.

use pgharden_conf::hba::HbaFile;
use pgharden_conf::ident::IdentFile;
use pgharden_conf::postgresql_conf::{ConfFile, Edit, Value};
use proptest::prelude::*;

/// Parameter names: plain or with a custom class; never an include directive.
fn name() -> impl Strategy<Value = String> {
    ("[a-zA-Z_][a-zA-Z0-9_]{0,12}", proptest::option::of("[a-zA-Z_][a-zA-Z0-9_]{0,8}"))
        .prop_map(|(a, b)| match b {
            Some(b) => format!("{a}.{b}"),
            None => a,
        })
        .prop_filter("directive", |n| !n.to_ascii_lowercase().starts_with("include"))
}

/// A value and what PostgreSQL makes of it.
fn value() -> impl Strategy<Value = (Value, String)> {
    prop_oneof![
        any::<String>().prop_filter("no NUL", |s| !s.contains('\0')).prop_map(|s| (Value::string(&s), s)),
        any::<i64>().prop_map(|i| (Value::int(i), i.to_string())),
        any::<bool>().prop_map(|b| (Value::bool(b), if b { "on" } else { "off" }.to_owned())),
        "[a-zA-Z0-9 ,.:/_-]{0,20}".prop_map(|s| (Value::auto(&s), s)),
    ]
}

/// Lines of a postgresql.conf: valid settings in various layouts, comments, blanks, directives.
fn conf_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[ \t]{0,3}#[^\r\n]{0,30}",
        (
            name(),
            "[ \t]{0,2}",
            prop_oneof![Just("="), Just(" "), Just("\t=\t")],
            "[a-z][a-z0-9_]{0,5}|[0-9]{1,4}[a-zA-Z]{0,2}",
            "( *#[^\r\n]{0,10})?"
        )
            .prop_map(|(n, lead, eq, v, c)| format!("{lead}{n}{eq}{v}{c}")),
        (name(), "[^'\\\\\r\n]{0,12}").prop_map(|(n, v)| format!("{n} = '{v}'")),
        Just("include_if_exists 'x.conf'".to_owned()),
    ]
}

fn ending() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("\n"), Just("\r\n")]
}

fn conf_text() -> impl Strategy<Value = String> {
    (proptest::collection::vec((conf_line(), ending()), 0..12), any::<bool>()).prop_map(
        |(lines, final_newline)| {
            let mut text: String = lines.iter().map(|(l, e)| format!("{l}{e}")).collect();
            if !final_newline && text.ends_with('\n') {
                text.truncate(text.trim_end_matches(['\r', '\n']).len());
            }
            text
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn set_then_get_returns_the_value(text in conf_text(), n in name(), (v, decoded) in value()) {
        let mut conf = ConfFile::parse(&text, "p.conf").unwrap();
        conf.set(&n, &v).unwrap();
        let reparsed = ConfFile::parse(&conf.to_string(), "p.conf").unwrap();
        prop_assert_eq!(reparsed.get(&n), Some(decoded.as_str()));
    }

    #[test]
    fn setting_one_name_changes_no_other_line(text in conf_text(), n in name(), (v, _) in value()) {
        let before = ConfFile::parse(&text, "p.conf").unwrap();
        let mut after = before.clone();
        let edit = after.set(&n, &v).unwrap();
        let old: Vec<&str> = text.split('\n').collect();
        let rendered = after.to_string();
        let new: Vec<&str> = rendered.split('\n').collect();
        match edit {
            Edit::Replaced { line, .. } => {
                prop_assert_eq!(old.len(), new.len());
                for (i, (a, b)) in old.iter().zip(&new).enumerate() {
                    if i + 1 != line {
                        prop_assert_eq!(a, b);
                    }
                }
            }
            Edit::Appended { line } => {
                prop_assert_eq!(line, before.line_count() + 1);
                // Every old line is kept; at most a missing final terminator was added.
                prop_assert!(rendered.starts_with(&text));
                let added = &rendered[text.len()..];
                prop_assert_eq!(added.trim_start_matches(['\r', '\n']).trim_end_matches(['\r', '\n']), format!("{n} = {v}"));
            }
        }
        for s in before.settings() {
            if !s.name().eq_ignore_ascii_case(&n) {
                prop_assert_eq!(after.get(s.name()), before.get(s.name()));
            }
        }
    }

    #[test]
    fn generated_conf_files_round_trip(text in conf_text()) {
        prop_assert_eq!(ConfFile::parse(&text, "p.conf").unwrap().to_string(), text);
    }

    #[test]
    fn any_text_round_trips_in_every_format(text in any::<String>()) {
        prop_assert_eq!(ConfFile::parse_lenient(&text, "p.conf").0.to_string(), text.clone());
        prop_assert_eq!(HbaFile::parse(&text, "pg_hba.conf").to_string(), text.clone());
        prop_assert_eq!(IdentFile::parse(&text, "pg_ident.conf").to_string(), text);
    }

    #[test]
    fn hba_like_text_round_trips(lines in proptest::collection::vec(
        ("(local|host|hostssl|#|\"all\"|)[ \t]{0,2}(all|\"a b\"|x,y|@f)[ \t]{1,2}[a-z+\"/]{0,6}[ \t]{0,2}(10.0.0.0/8|::1/128|samenet)? ?(md5|cert|trust)?( map=m)?(\\\\)?", ending()), 0..10)) {
        let text: String = lines.iter().map(|(l, e)| format!("{l}{e}")).collect();
        let file = HbaFile::parse(&text, "pg_hba.conf");
        prop_assert_eq!(file.to_string(), text);
        let _ = file.validate(16);
    }
}
