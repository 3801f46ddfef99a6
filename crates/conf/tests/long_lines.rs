//! Huge lines give short messages: every error and problem quotes at most about 200 bytes of a
//! text from a file, cut with "… (N more bytes)", whatever field the text is in.

#![allow(clippy::unwrap_used)]

mod common;

use common::write;
use pgharden_conf::hba::{self, Connection, HbaFile, HbaSet, RuleSpec};
use pgharden_conf::ident::IdentFile;
use pgharden_conf::postgresql_conf::{ConfFile, ConfTree, Value};
use pgharden_conf::{Disk, Error, Token};

/// The review's case: a 20 MB line.
const TWENTY_MB: usize = 20_000_000;
/// Enough to show that each field is cut, in a fraction of the time.
const ONE_MB: usize = 1_000_000;

/// A message quoting a huge text is under 1 KB and says how much was left out.
fn assert_short(message: &str, what: &str) {
    assert!(
        message.len() < 1024,
        "{what}: {} bytes: {}…",
        message.len(),
        &message[..1024.min(message.len())]
    );
    assert!(message.contains("more bytes)"), "{what}: {message}");
}

fn long(c: char, len: usize) -> String {
    c.to_string().repeat(len)
}

#[test]
fn postgresql_conf_syntax_errors_quote_a_cut_line() {
    let (x, small) = (long('x', TWENTY_MB), long('x', ONE_MB));
    for (what, line) in [
        ("garbage after value", format!("a = 1 {x} # comment")),
        ("garbage of many tokens", format!("a = 1 {}", "b ".repeat(TWENTY_MB / 2))),
        ("invalid name", format!("1{small} = 1")),
        ("missing value", format!("a{small}")),
        ("invalid value", format!("a = /{small}")),
        ("control characters", format!("a = 1 b{}", long('\u{1}', ONE_MB))),
    ] {
        let err = ConfFile::parse(&format!("ok = 1\n{line}\n"), "/etc/pg.conf").unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("/etc/pg.conf:2: "), "{what}: {}", &message[..100]);
        assert_short(&message, what);
    }
    // The text that is kept is the start of the text, cut at a char boundary.
    let err = ConfFile::parse(&format!("a = 1 {}", "é".repeat(1000)), "p.conf").unwrap_err();
    let message = err.to_string();
    assert!(message.contains(&format!("\"{}… ({} more bytes)\"", "é".repeat(200), 1600)), "{message}");
}

#[test]
fn an_unterminated_string_of_quotes_and_backslashes_is_lexed_in_linear_time() {
    // `'\'\'\'…` after a value: no quote is ever closed, and the whole line is lexed to find
    // where the garbage ends; rescanning the rest of the line at each quote would take hours.
    let line = format!("a = 1 {}", "'\\".repeat(4_000_000));
    let err = common::within_10s("quotes", move || ConfFile::parse(&line, "p.conf").unwrap_err());
    assert_short(&err.to_string(), "garbage of quotes");
    let err = ConfFile::parse(&format!("a = {}", "'\\".repeat(1000)), "p.conf").unwrap_err();
    assert_eq!(err.to_string(), "p.conf:1: unterminated quoted string");
}

#[test]
fn edits_refuse_huge_names_and_values_with_short_messages() {
    let mut conf = ConfFile::parse("", "p.conf").unwrap();
    assert_short(&conf.set(&"a b".repeat(ONE_MB), &Value::int(1)).unwrap_err().to_string(), "name");
    assert_short(&Value::raw(&format!("a {}", long('b', ONE_MB))).unwrap_err().to_string(), "raw value");
    let spec = RuleSpec {
        conn_type: hba::ConnType::Local,
        databases: vec![Token::keyword(&long('a', ONE_MB))],
        users: vec![Token::keyword("all")],
        address: None,
        method: hba::Method::Unknown(format!("x {}", long('m', ONE_MB))),
        options: Vec::new(),
    };
    let mut file = HbaFile::parse("", "pg_hba.conf");
    assert_short(&file.insert(hba::Position::End, &spec).unwrap_err().to_string(), "rule spec");
    let mut ident = IdentFile::parse("", "pg_ident.conf");
    let err = ident.add(&long('m', ONE_MB), &Token::keyword("a b"), &Token::literal("r")).unwrap_err();
    assert_short(&err.to_string(), "mapping");
}

#[test]
fn pg_hba_problems_quote_cut_fields() {
    let x = long('x', ONE_MB);
    let lines = [
        format!("{x} all all trust"),
        format!("local all all {x}"),
        format!("host all all {x}/8 md5"),
        format!("host all all 10.0.0.1 {x} md5"),
        format!("host all all 10.0.0.0/{x} md5"),
        format!("host all all @{x} md5"),
        format!("hostssl all all all cert clientcert={x}"),
        format!("hostssl all all all cert {x}=1"),
        format!("hostssl all all all cert {x}"),
        format!("host all all all ldap ldapport={x} ldapbasedn=x"),
        format!("host all all all ldap ldapscheme={x} ldapbasedn=x"),
        format!("host all all all radius radiusservers=a radiussecrets=b radiusports={x}"),
        format!("hostssl all all all scram-sha-256 clientname={x}"),
        format!("local /({x} all trust"),
        format!("local all /{x} trust"),
        format!("local all /({} trust", "x".repeat(1000)),
    ];
    for line in lines {
        let what = &line[..30.min(line.len())];
        let file = HbaFile::parse(&format!("local all postgres peer\n{line}\n"), "/etc/pg_hba.conf");
        for major in [15, 16] {
            let problems = file.validate(major);
            assert!(!problems.is_empty(), "{what}");
            for problem in problems {
                let message = problem.to_string();
                assert!(message.len() < 1024, "{what}: {} bytes", message.len());
                if problem.at.line == 2 {
                    assert_short(&message, what);
                }
            }
        }
    }
}

#[test]
fn evaluation_and_records_display_cut_texts() {
    let file = HbaFile::parse(
        &format!("host all all {} md5\nlocal all all trust\n", long('h', TWENTY_MB)),
        "pg_hba.conf",
    );
    let rules: Vec<_> = file.rules().cloned().collect();
    let evaluation = hba::evaluate(&rules, &Connection::tcp("db", "u", "192.0.2.1".parse().unwrap()));
    let (_, reason) = &evaluation.undecidable[0];
    assert_short(&reason.to_string(), "undecidable host name");
    assert!(evaluation.why.len() < 1024, "{}", evaluation.why.len());
    // The data itself is kept whole: only what is shown is cut.
    assert!(matches!(&rules[0].address, Some(hba::Address::Hostname(h)) if h.len() == TWENTY_MB));
}

#[test]
fn pg_ident_problems_and_lookups_quote_cut_texts() {
    let x = long('x', ONE_MB);
    let y = long('y', 1000);
    let file =
        IdentFile::parse(&format!("m /({x} r\nm /^(a)$ +{x}\nn /^a$ \\1{x}\no /({y} r\n"), "pg_ident.conf");
    for major in [15, 16] {
        for problem in file.validate(major) {
            assert_short(&problem.to_string(), "ident problem");
        }
    }
    assert_short(&file.lookup("m", "a").unwrap_err().to_string(), "regex lookup");
    assert_short(&file.lookup("n", "a").unwrap_err().to_string(), "backreference lookup");
    assert_short(&file.lookup("o", "a").unwrap_err().to_string(), "regex syntax error");
}

#[test]
fn an_include_target_that_is_a_huge_path_gives_a_short_error() {
    let dir = tempfile::tempdir().unwrap();
    let target = "t".repeat(15 << 20);
    let conf = write(dir.path(), "postgresql.conf", format!("include '{target}'\n"));
    assert_short(&ConfTree::load_from(&conf, &Disk).unwrap_err().to_string(), "conf include");
    let hba = write(dir.path(), "pg_hba.conf", format!("include {target}\n"));
    assert_short(&HbaSet::load_from(&hba, &Disk).unwrap_err().to_string(), "hba include");
    let hba = write(dir.path(), "pg_hba.conf", format!("local all @{target} trust\n"));
    let err = HbaSet::load_from(&hba, &Disk).unwrap_err();
    assert!(matches!(err, Error::Include { .. }), "{err}");
    assert_short(&err.to_string(), "@file");
}
