//! Property tests: edits read back as written, touch only their own line, and parsing never
//! loses a byte. And the repeatable version of the review's configuration fuzzing: a whole
//! configuration (postgresql.conf with includes and auto.conf, pg_hba.conf with includes and an
//! `@file`, pg_ident.conf) mutated with bit flips, inserts, deletes, unterminated quotes, NUL,
//! invalid UTF-8, BOMs, long lines, long lists and include loops, then loaded through
//! `load_from`: no load panics, every error names a file and a line and is short, and every
//! file that loads renders back byte for byte.

#![allow(clippy::unwrap_used)]

use std::net::IpAddr;
use std::path::Path;

use pgharden_conf::hba::{self, Connection, HbaFile, HbaSet};
use pgharden_conf::ident::{IdentFile, IdentSet};
use pgharden_conf::postgresql_conf::{ConfFile, ConfTree, Edit, Value};
use pgharden_conf::{Disk, Error, Problem};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

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

/// The configuration the mutations start from: every kind of include, in every format.
const SEEDS: [(&str, &str); 10] = [
    (
        "postgresql.conf",
        "listen_addresses = '*'\nport 5432\ninclude 'inc.conf'\ninclude_dir 'conf.d'\n\
         include_if_exists 'missing.conf'\nssl = on # tls\n",
    ),
    ("inc.conf", "ssl_min_protocol_version = 'TLSv1.2'\napplication_name = 'it''s \\101'\n"),
    ("conf.d/01-a.conf", "max_connections = 200\n"),
    ("conf.d/02-b.conf", "ssl = 'off'\r\nwork_mem = 0x1000kB"),
    ("postgresql.auto.conf", "# Do not edit this file manually!\nssl = 'on'\n"),
    (
        "pg_hba.conf",
        "local all postgres peer\nhostssl all @admins 10.0.0.0/8 cert clientcert=verify-full \\\n  map=m\n\
         include_if_exists hba.d/extra.conf\nhost \"db, x\" +staff,/^u ::1/128 scram-sha-256\n",
    ),
    ("admins", "alice, bob\n\"carol x\"\n"),
    ("hba.d/extra.conf", "hostssl all all all cert\ninclude ../tail.conf\n"),
    ("tail.conf", "host replication r 192.0.2.1/32 md5\n"),
    ("pg_ident.conf", "m \"CN=a,O=x\" a\nm /^(.*)@X$ \\1\ninclude_if_exists ident.d/x.conf\n"),
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip { file: usize, at: usize, bit: u8 },
    Insert { file: usize, at: usize, bytes: Vec<u8> },
    Delete { file: usize, at: usize, len: usize },
    Replace { file: usize, bytes: Vec<u8> },
}

/// What the review inserted: syntax breakers, encodings, directives that make loops or point
/// at directories and other formats, long lines and long lists.
fn snippet() -> impl Strategy<Value = Vec<u8>> {
    let fixed: Vec<&'static [u8]> = vec![
        b"'",
        b"\"",
        b"\0",
        "\u{feff}".as_bytes(),
        b"\xff\xfe",
        b"\xc3",
        b"\\\n",
        b"\r",
        b"#",
        b",",
        b"=",
        b"\ninclude 'postgresql.conf'\n",
        b"\ninclude 'inc.conf'\n",
        b"\ninclude_dir '.'\n",
        b"\ninclude_dir 'conf.d'\n",
        b"\ninclude_if_exists 'conf.d'\n",
        b"\ninclude ''\n",
        b"\ninclude pg_hba.conf\n",
        b"\ninclude_dir hba.d\n",
        b"\ninclude admins\n",
        b"@admins",
        b"@pg_hba.conf",
        b"@admins,@tail.conf",
        b"\ninclude_if_exists nope\n",
        b"\ninclude_dir .\n",
        b"\nhost all all ",
        b"/(",
        b"/^a$",
        b"\"\"",
    ];
    prop_oneof![
        4 => proptest::sample::select(fixed).prop_map(<[u8]>::to_vec),
        2 => proptest::collection::vec(any::<u8>(), 0..16),
        1 => (1..200_000usize).prop_map(|n| vec![b'x'; n]),
        1 => (1..20_000usize).prop_map(|n| b"a,".repeat(n)),
        1 => (1..2_000usize).prop_map(|n| b"'\\".repeat(n)),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let file = 0..SEEDS.len();
    prop_oneof![
        3 => (file.clone(), any::<usize>(), 0..8u8).prop_map(|(file, at, bit)| Mutation::Flip { file, at, bit }),
        4 => (file.clone(), any::<usize>(), snippet()).prop_map(|(file, at, bytes)| Mutation::Insert { file, at, bytes }),
        2 => (file.clone(), any::<usize>(), 1..40usize).prop_map(|(file, at, len)| Mutation::Delete { file, at, len }),
        1 => (file, proptest::collection::vec(any::<u8>(), 0..300)).prop_map(|(file, bytes)| Mutation::Replace { file, bytes }),
    ]
}

fn mutate(files: &mut [Vec<u8>], m: &Mutation) {
    match m {
        Mutation::Flip { file, at, bit } => {
            let text = &mut files[*file];
            if !text.is_empty() {
                let i = at % text.len();
                text[i] ^= 1 << bit;
            }
        }
        Mutation::Insert { file, at, bytes } => {
            let text = &mut files[*file];
            let i = at % (text.len() + 1);
            text.splice(i..i, bytes.iter().copied());
        }
        Mutation::Delete { file, at, len } => {
            let text = &mut files[*file];
            let i = at % (text.len() + 1);
            text.drain(i..(i + len).min(text.len()));
        }
        Mutation::Replace { file, bytes } => files[*file] = bytes.clone(),
    }
}

/// An error names a file of the configuration and a line in it, first thing, and is short.
fn check_error(err: &Error, dir: &Path) -> Result<(), TestCaseError> {
    let at = match err {
        Error::Syntax { at, .. }
        | Error::NotUtf8 { at }
        | Error::Include { at, .. }
        | Error::Limit { at, .. } => at,
        other => return Err(TestCaseError::fail(format!("an error without a line: {other:?}"))),
    };
    let message = err.to_string();
    prop_assert!(at.file.starts_with(dir) && at.line >= 1, "{message}");
    prop_assert!(message.starts_with(&format!("{}:{}: ", at.file.display(), at.line)), "{message}");
    prop_assert!(message.len() < 1024, "{} bytes: {message:.300}", message.len());
    Ok(())
}

/// A problem is at a line of a file of the configuration (line 0 only for whole-file problems
/// of the root), and is short.
fn check_problems(problems: &[Problem], dir: &Path, root: &Path) -> Result<(), TestCaseError> {
    for p in problems {
        let message = p.to_string();
        prop_assert!(p.at.file.starts_with(dir), "{message}");
        prop_assert!(p.at.line >= 1 || p.at.file == root, "{message}");
        prop_assert!(message.len() < 1024, "{} bytes: {message:.300}", message.len());
    }
    Ok(())
}

/// A file that loaded renders back as the bytes on disk.
fn check_lossless(path: &Path, rendered: String) -> Result<(), TestCaseError> {
    prop_assert_eq!(rendered.into_bytes(), std::fs::read(path).unwrap(), "{}", path.display());
    Ok(())
}

fn load_everything(dir: &Path) -> Result<(), TestCaseError> {
    let root = dir.join("postgresql.conf");
    match ConfTree::load_with_auto_conf_from(&root, dir.join("postgresql.auto.conf"), &Disk) {
        Ok(tree) => {
            for file in tree.files() {
                check_lossless(file.path(), file.to_string())?;
            }
            let _ = tree.effective();
        }
        Err(err) => check_error(&err, dir)?,
    }
    let hba_root = dir.join("pg_hba.conf");
    match HbaSet::load_from(&hba_root, &Disk) {
        Ok(set) => {
            for file in set.files() {
                check_lossless(file.path(), file.to_string())?;
            }
            check_problems(&set.validate(15), dir, &hba_root)?;
            check_problems(&set.validate(16), dir, &hba_root)?;
            let rules = set.rules();
            let ip: IpAddr = "10.1.2.3".parse().unwrap();
            let evaluation = hba::evaluate(&rules, &Connection::tcp("db", "alice", ip).with_ssl(true));
            prop_assert!(evaluation.why.len() < 1024, "{:.300}", evaluation.why);
            let _ = hba::shadowed(&rules);
        }
        Err(err) => check_error(&err, dir)?,
    }
    let ident_root = dir.join("pg_ident.conf");
    match IdentSet::load_from(&ident_root, &Disk) {
        Ok(set) => {
            for file in set.files() {
                check_lossless(file.path(), file.to_string())?;
            }
            check_problems(&set.validate(16), dir, &ident_root)?;
            if let Err(err) = set.lookup("m", "a@X") {
                prop_assert!(err.to_string().len() < 1024);
            }
        }
        Err(err) => check_error(&err, dir)?,
    }
    Ok(())
}

proptest! {
    // A thousand configurations take a few seconds in a debug build.
    #![proptest_config(ProptestConfig { failure_persistence: None, cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_configurations_load_or_fail_with_a_file_and_line(mutations in proptest::collection::vec(mutation(), 1..8)) {
        let mut files: Vec<Vec<u8>> = SEEDS.iter().map(|(_, text)| text.as_bytes().to_vec()).collect();
        for m in &mutations {
            mutate(&mut files, m);
        }
        let dir = tempfile::tempdir().unwrap();
        for ((name, _), text) in SEEDS.iter().zip(&files) {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        load_everything(dir.path())?;
    }
}

#[test]
fn the_seed_configuration_loads() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in SEEDS {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let tree = ConfTree::load_with_auto_conf_from(
        dir.path().join("postgresql.conf"),
        dir.path().join("postgresql.auto.conf"),
        &Disk,
    )
    .unwrap();
    assert_eq!((tree.files().len(), tree.get("ssl"), tree.skipped().len()), (5, Some("on"), 1));
    let set = HbaSet::load_from(dir.path().join("pg_hba.conf"), &Disk).unwrap();
    assert_eq!((set.files().len(), set.rules().len()), (3, 5));
    assert_eq!(set.validate(16), []);
    let ident = IdentSet::load_from(dir.path().join("pg_ident.conf"), &Disk).unwrap();
    assert_eq!((ident.entries().len(), ident.skipped().len()), (2, 1));
    load_everything(dir.path()).unwrap();
}
