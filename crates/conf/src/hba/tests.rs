use std::net::IpAddr;

use super::*;
use crate::Severity;

fn hba(text: &str) -> HbaFile {
    HbaFile::parse(text, "pg_hba.conf")
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn rule_at(file: &HbaFile, line: usize) -> RuleRef {
    file.records().iter().map(Record::at).find(|a| a.line == line).unwrap().clone()
}

fn errors(file: &HbaFile, major: u32) -> Vec<(usize, String)> {
    file.validate(major)
        .into_iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| (p.at.line, p.message))
        .collect()
}

#[test]
fn parses_fields_like_hba_c() {
    let f = hba("# c\nhost  all,\"a b\"  +admins,\"+x\"  10.0.0.0/8  scram-sha-256 # trailing\n\
        hostssl db u 192.168.1.0 255.255.255.0 cert map=m clientname=DN\nlocal all all ident\n\
        host all all \\\n   ::1/128 md5\nhost all all .example.com trust\n");
    let rules: Vec<&Rule> = f.rules().collect();
    assert_eq!(rules.len(), 5);
    assert_eq!(rules[0].conn_type, ConnType::Host);
    assert_eq!(rules[0].databases[1], Item::Token(Token { text: "a b".into(), quoted: true }));
    assert_eq!(rules[0].users[1].token().unwrap().member_check(), None);
    assert_eq!(rules[0].method, Method::ScramSha256);
    assert_eq!(rules[1].address.as_ref().unwrap().to_string(), "192.168.1.0 255.255.255.0");
    assert_eq!(rules[1].option("clientname"), Some("DN"));
    assert_eq!(rules[2].effective_method(), Method::Peer);
    assert_eq!((rules[3].at.line, rules[3].at.last_line), (5, 6));
    assert_eq!(rules[4].address, Some(Address::Hostname(".example.com".into())));
}

#[test]
fn structural_errors_use_postgresql_messages() {
    let f = hba("foo all all trust\nhost all\nhost all all 10.0.0.0 md5\nhost all all db.example/8 md5\n\
        host all all 10.0.0.1/33 md5\nhost all all 10.0.0.1 ::0 md5\nhost all all 10.0.0.0/8 md5 nonsense\n");
    let messages: Vec<_> = errors(&f, 15).into_iter().map(|(_, m)| m).collect();
    assert_eq!(
        messages,
        [
            "invalid connection type \"foo\"",
            "end-of-line before role specification",
            "invalid IP mask \"md5\"",
            "specifying both host name and CIDR mask is invalid: \"db.example/8\"",
            "invalid CIDR mask in address \"10.0.0.1/33\"",
            "IP address and mask do not match",
            "authentication option not in name=value format: nonsense",
        ]
    );
}

#[test]
fn clientcert_rules_for_every_supported_version() {
    let f = hba("hostssl all all 0.0.0.0/0 md5 clientcert=1\n\
        hostssl all all 0.0.0.0/0 md5 clientcert=0\n\
        hostssl all all 0.0.0.0/0 md5 clientcert=no-verify\n\
        hostssl all all 0.0.0.0/0 cert clientcert=verify-ca\n\
        host all all 0.0.0.0/0 md5 clientcert=verify-full\n\
        hostssl all all 0.0.0.0/0 md5 clientcert=verify-ca\n\
        hostssl all all 0.0.0.0/0 cert clientcert=verify-full clientname=DN\n\
        host all all 0.0.0.0/0 md5 clientname=CN\n");
    for major in 14..=18 {
        let lines: Vec<usize> = errors(&f, major).into_iter().map(|(l, _)| l).collect();
        assert_eq!(lines, [1, 2, 3, 4, 5, 8], "PostgreSQL {major}");
    }
    assert!(errors(&f, 15)[0].1.contains("removed in PostgreSQL 14"));
    assert_eq!(
        errors(&f, 16)[3].1,
        "clientcert only accepts \"verify-full\" when using \"cert\" authentication"
    );
    assert_eq!(errors(&f, 17)[4].1, "clientcert can only be configured for \"hostssl\" rows");
}

#[test]
fn method_and_option_checks() {
    let f = hba("host all all 10.0.0.0/8 peer\nlocal all all gss\nhost all all 10.0.0.0/8 cert\n\
        host all all 10.0.0.0/8 foo\nhost all all 10.0.0.0/8 md5 map=x\nlocal all all peer map=x\n\
        host all all 10.0.0.0/8 ldap ldapserver=h\nhost all all 10.0.0.0/8 radius radiusservers=a,b radiussecrets=x,y,z\n\
        host all all 10.0.0.0/8 oauth issuer=https://i scope=openid\nhost all all 10.0.0.0/8 md5 bogus=1\n");
    let lines = |major| errors(&f, major).into_iter().map(|(l, _)| l).collect::<Vec<_>>();
    assert_eq!(lines(17), [1, 2, 3, 4, 5, 7, 8, 9, 10]);
    assert_eq!(lines(18), [1, 2, 3, 4, 5, 7, 8, 10]);
}

#[test]
fn version_specific_syntax() {
    let f = hba("include extra.conf\nhost /^db\\d+$ all 10.0.0.0/8 md5\n");
    assert_eq!(
        errors(&f, 15),
        [(1, "invalid connection type \"include\" (include directives need PostgreSQL 16)".to_owned())]
    );
    assert!(f.validate(15).iter().any(|p| p.severity == Severity::Warning && p.at.line == 2));
    assert!(f.validate(16).is_empty());
    let empty = hba("# nothing\n\n");
    assert_eq!(errors(&empty, 16), [(0, "configuration file contains no entries".to_owned())]);
}

#[test]
fn evaluation_takes_the_first_match_and_cert_does_not_fall_through() {
    let f = hba("local all postgres peer\nhostnossl all all 0.0.0.0/0 reject\n\
        hostssl all all 10.0.0.0/8 cert\nhostssl all all 0.0.0.0/0 scram-sha-256\n");
    let rules: Vec<Rule> = f.rules().cloned().collect();

    let plain = evaluate(&rules, &Connection::tcp("app", "alice", ip("10.1.1.1")));
    assert_eq!(plain.outcome, Outcome::Reject);
    assert!(plain.rejected_by_reject_rule);
    assert_eq!(plain.matched.as_ref().map(|r| r.line), Some(2));
    assert_eq!(plain.checked, [(rule_at(&f, 1), NoMatchReason::ConnectionType)]);

    let no_cert = evaluate(&rules, &Connection::tcp("app", "alice", ip("10.1.1.1")).with_ssl(false));
    assert_eq!(no_cert.outcome, Outcome::CertificateRequired);
    assert_eq!(no_cert.matched.unwrap().line, 3);

    let with_cert = evaluate(&rules, &Connection::tcp("app", "alice", ip("10.1.1.1")).with_ssl(true));
    assert_eq!(with_cert.outcome, Outcome::Authenticate(Method::Cert));

    let outside = evaluate(&rules, &Connection::tcp("app", "alice", ip("192.0.2.1")).with_ssl(false));
    assert_eq!(outside.outcome, Outcome::Authenticate(Method::ScramSha256));

    let v6 = evaluate(&rules, &Connection::tcp("app", "alice", ip("::1")).with_ssl(true));
    assert_eq!(v6.outcome, Outcome::ImplicitReject);

    let local = evaluate(&rules, &Connection::local("app", "alice"));
    assert_eq!(local.outcome, Outcome::ImplicitReject);
    assert_eq!(
        evaluate(&rules, &Connection::local("x", "postgres")).outcome,
        Outcome::Authenticate(Method::Peer)
    );
}

#[test]
fn keywords_quotes_groups_and_replication() {
    let f = hba("local \"all\" all trust\nlocal sameuser all md5\nlocal all +staff password\n\
        local replication all peer\nlocal all all reject\n");
    let rules: Vec<Rule> = f.rules().cloned().collect();
    let eval = |c: &Connection<'_>| evaluate(&rules, c).matched.map(|r| r.line);
    assert_eq!(eval(&Connection::local("all", "x")), Some(1));
    assert_eq!(eval(&Connection::local("bob", "bob")), Some(2));
    let staff = |role: &str| role == "staff";
    let member = Connection { user_groups: Some(&staff), ..Connection::local("db", "carol") };
    assert_eq!(eval(&member), Some(3));
    let unknown = evaluate(&rules, &Connection::local("db", "carol"));
    assert_eq!(unknown.outcome, Outcome::Undecidable);
    assert_eq!(unknown.undecidable[0].1, Undecidable::Membership("staff".into()));
    assert_eq!(unknown.matched.map(|r| r.line), Some(5));
    let repl = Connection { replication: true, ..Connection::local("whatever", "rep") };
    assert_eq!(eval(&repl), Some(4));
}

#[test]
fn host_names_and_samenet_are_undecidable() {
    let f =
        hba("host all all db.example.com trust\nhost all all samenet md5\nhost all all all scram-sha-256\n");
    let rules: Vec<Rule> = f.rules().cloned().collect();
    let e = evaluate(&rules, &Connection::tcp("d", "u", ip("10.0.0.1")));
    assert_eq!(e.outcome, Outcome::Undecidable);
    assert!(!e.is_certain());
    assert_eq!(e.undecidable.len(), 2);
    assert_eq!(e.matched.unwrap().line, 3);
}

#[test]
fn regexes_in_database_and_user_fields() {
    let f = hba("host /^app_\\d+$ /^svc_ 10.0.0.0/8 trust\nhost all all 10.0.0.0/8 reject\n");
    let rules: Vec<Rule> = f.rules().cloned().collect();
    let conn = Connection::tcp("app_12", "svc_web", ip("10.0.0.2"));
    assert_eq!(evaluate(&rules, &conn).outcome, Outcome::Authenticate(Method::Trust));
    assert_eq!(evaluate_as(15, &rules, &conn).outcome, Outcome::Reject);
    let literal = Connection::tcp("/^app_\\d+$", "/^svc_", ip("10.0.0.2"));
    assert_eq!(evaluate_as(15, &rules, &literal).outcome, Outcome::Authenticate(Method::Trust));
}

#[test]
fn shadowing() {
    let f = hba("host all all 0.0.0.0/0 md5\nhostssl all all 10.0.0.0/8 cert\nhost all all ::/0 md5\n\
        hostnossl all all 0.0.0.0/0 reject\nhostssl db bob 10.1.0.0/16 scram-sha-256\n\
        hostssl replication all 0.0.0.0/0 cert\nlocal all all peer\nlocal \"db\" bob trust\n");
    let rules: Vec<Rule> = f.rules().cloned().collect();
    let pairs: Vec<(usize, usize)> = shadowed(&rules).into_iter().map(|(s, by)| (s.line, by.line)).collect();
    assert_eq!(pairs, [(2, 1), (4, 1), (5, 1), (8, 7)]);

    let ordered = hba(
        "hostnossl all all 0.0.0.0/0 reject\nhostssl all all 0.0.0.0/0 cert\nhost all all 0.0.0.0/0 md5\n",
    );
    let rules: Vec<Rule> = ordered.rules().cloned().collect();
    assert!(shadowed(&rules).is_empty(), "host after hostnossl+hostssl is not covered by either alone");
}

#[test]
fn edits_keep_everything_else() {
    let text = "# TYPE DATABASE USER ADDRESS METHOD\r\n\r\nlocal all all peer\r\nhost all all \\\r\n 0.0.0.0/0 md5 # old\r\nhost all all ::/0 md5";
    let mut f = hba(text);
    assert_eq!(f.to_string(), text);
    let spec = RuleSpec {
        conn_type: ConnType::HostSsl,
        databases: vec![Token::keyword("all")],
        users: vec![Token::keyword("all")],
        address: Some("0.0.0.0/0".into()),
        method: Method::Cert,
        options: vec![AuthOption { name: "clientname".into(), value: "CN".into() }],
    };
    let before_host = |r: &Rule| r.conn_type == ConnType::Host;
    assert_eq!(f.insert(Position::BeforeFirst(&before_host), &spec).unwrap(), 4);
    let host = rule_at(&f, 5);
    f.disable(&host).unwrap();
    assert_eq!(
        f.to_string(),
        "# TYPE DATABASE USER ADDRESS METHOD\r\n\r\nlocal all all peer\r\n\
         hostssl   all             all             0.0.0.0/0               cert clientname=CN\r\n\
         # host all all \\\r\n#  0.0.0.0/0 md5 # old # disabled by pgharden\r\nhost all all ::/0 md5"
    );
    let v6 = rule_at(&f, 7);
    let mut v6_spec = spec.clone();
    v6_spec.address = Some("::/0".into());
    f.replace(&v6, &v6_spec).unwrap();
    assert!(f.to_string().ends_with(
        "\r\nhostssl   all             all             ::/0                    cert clientname=CN"
    ));
    assert_eq!(f.insert(Position::Top, &spec).unwrap(), 3);
    assert_eq!(f.rules().count(), 4);
    let nothing = |_: &Rule| false;
    assert_eq!(f.insert(Position::BeforeFirst(&nothing), &spec), Err(Error::NoRuleMatched));
    let bad = RuleSpec { address: None, ..spec };
    assert!(matches!(f.insert(Position::End, &bad), Err(Error::InvalidRecord(_))));
}

#[test]
fn set_follows_includes_and_at_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pg_hba.conf");
    std::fs::write(
        &root,
        "local all all peer\ninclude_dir conf.d\nhost all @admins 10.0.0.0/8 trust\ninclude_if_exists nope\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("conf.d")).unwrap();
    std::fs::write(dir.path().join("conf.d/10.conf"), "hostssl all all all cert\n").unwrap();
    std::fs::write(dir.path().join("admins"), "alice, bob\n\"carol x\" @more\n").unwrap();
    std::fs::write(dir.path().join("more"), "dave\n").unwrap();
    let set = HbaSet::load(&root).unwrap();
    let rules = set.rules();
    let lines: Vec<_> =
        rules.iter().map(|r| (r.at.file.file_name().unwrap().to_owned(), r.at.line)).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(rules[1].at.file, dir.path().join("conf.d/10.conf"));
    let Item::File { tokens: Some(tokens), .. } = &rules[2].users[0] else { panic!() };
    let names: Vec<_> = tokens.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(names, ["alice", "bob", "carol x", "dave"]);
    let e = evaluate(&rules, &Connection::tcp("x", "dave", ip("10.0.0.1")));
    assert_eq!(e.outcome, Outcome::Authenticate(Method::Trust));
    assert_eq!(set.skipped().len(), 1);
    assert!(set.validate(16).is_empty());
    assert_eq!(set.validate(15).iter().filter(|p| p.severity == Severity::Error).count(), 2);

    std::fs::write(dir.path().join("conf.d/10.conf"), "include ../pg_hba.conf\n").unwrap();
    assert!(matches!(
        HbaSet::load(&root),
        Err(Error::Include { kind: crate::IncludeError::Cycle { .. }, .. })
    ));
}

/// `check_oauth_validator` of PostgreSQL 18 (each case checked against 18.4's pg_hba_file_rules
/// in the pgharden crate's `audit_versions` test).
#[test]
fn oauth_lines_need_a_validator_the_settings_permit() {
    let f = hba("host all all 10.0.0.0/8 oauth issuer=https://i scope=openid\n\
        host all all 10.0.0.0/8 oauth issuer=https://i scope=openid validator=bar\n");
    let with = |libraries: Option<&str>| -> Vec<(usize, Severity, String)> {
        let mut server = ServerSettings::for_major(18);
        server.oauth_validator_libraries = libraries.map(str::to_string);
        f.validate_with(&server).into_iter().map(|p| (p.at.line, p.severity, p.message)).collect()
    };
    let unknown = with(None);
    assert_eq!(unknown.len(), 2, "{unknown:?}");
    assert!(
        unknown.iter().all(|(_, s, m)| *s == Severity::Warning && m.contains("not known")),
        "{unknown:?}"
    );
    assert_eq!(f.validate(18).len(), 2, "validate(major) knows no settings");

    let unset = "oauth_validator_libraries must be set for authentication method oauth";
    assert_eq!(with(Some("")), [(1, Severity::Error, unset.into()), (2, Severity::Error, unset.into())]);
    let not_permitted = "validator \"bar\" is not permitted by oauth_validator_libraries".to_string();
    assert_eq!(with(Some("foo")), [(2, Severity::Error, not_permitted.clone())]);
    assert_eq!(with(Some("bar")), []);
    assert_eq!(with(Some("\"foo,bar\"")), [(2, Severity::Error, not_permitted)]);
    let two = with(Some("foo, bar"));
    assert_eq!(two.len(), 1, "{two:?}");
    assert_eq!((two[0].0, two[0].1), (1, Severity::Error));
    assert!(two[0].2.contains("requires argument \"validator\""), "{two:?}");
    assert_eq!(with(Some("bar/")), [], "each library is a canonical path");
    let blanks = with(Some("  "));
    assert_eq!(blanks[0].0, 1);
    assert!(blanks[0].2.contains("crashes"), "{blanks:?}");
    assert!(blanks[1].2.contains("not permitted"), "{blanks:?}");
    let syntax = with(Some("foo,,bar"));
    assert!(syntax.iter().all(|(_, _, m)| m.contains("invalid list syntax")), "{syntax:?}");

    // Before 18 there is no oauth method: the settings do not matter.
    let on17 = f.validate_with(&ServerSettings::for_major(17).with_oauth_validator_libraries("bar"));
    assert!(on17.iter().all(|p| p.message.contains("oauth needs PostgreSQL 18")), "{on17:?}");
    // hba.c asks for scope and issuer first.
    let no_scope = hba("host all all 10.0.0.0/8 oauth issuer=https://i\n");
    let problems = no_scope.validate_with(&ServerSettings::for_major(18).with_oauth_validator_libraries(""));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].message.contains("\"scope\""), "{problems:?}");
}

/// Before 16 the server reads an include directive as a bad line: the files it names are not read.
#[test]
fn a_set_for_an_older_server_does_not_follow_includes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pg_hba.conf");
    std::fs::write(&root, "local all @admins peer\ninclude_if_exists extra.conf\n").unwrap();
    std::fs::write(dir.path().join("extra.conf"), "local all all trust\n").unwrap();
    std::fs::write(dir.path().join("admins"), "alice\n").unwrap();

    let on16 = HbaSet::load_for(16, &root, &Disk).unwrap();
    assert_eq!(on16.rules().len(), 2);
    assert_eq!(on16.paths_read(), [root.clone(), dir.path().join("admins"), dir.path().join("extra.conf")]);
    assert!(on16.validate(16).is_empty());

    let on15 = HbaSet::load_for(15, &root, &Disk).unwrap();
    let rules = on15.rules();
    assert_eq!(rules.len(), 1, "the included trust line is not in force on 15: {rules:?}");
    assert_eq!(on15.files().len(), 1);
    assert_eq!(on15.paths_read(), [root.clone(), dir.path().join("admins")], "@file lists are read");
    let errors: Vec<_> = on15.validate(15).into_iter().filter(|p| p.severity == Severity::Error).collect();
    assert_eq!(errors.len(), 1, "the include line, once: {errors:?}");
    assert_eq!((errors[0].at.file.clone(), errors[0].at.line), (root.clone(), 2));
}

#[test]
fn every_rendered_line_aligns_and_removal_leaves_no_trace() {
    let spec = |conn_type, address: Option<&str>, method| RuleSpec {
        conn_type,
        databases: vec![Token::keyword("all")],
        users: vec![Token::keyword("all")],
        address: address.map(Into::into),
        method,
        options: vec![],
    };
    let lines = [
        spec(ConnType::Local, None, Method::Peer).render(),
        spec(ConnType::HostSsl, Some("10.0.0.0/8"), Method::Cert).render(),
        spec(ConnType::HostNoSsl, Some("0.0.0.0/0"), Method::Reject).render(),
    ];
    let column = |l: &str| l.find("all").unwrap();
    assert!(lines.iter().all(|l| column(l) == column(&lines[0])), "{lines:#?}");
    let mut f = hba("# header\nlocal  all all   peer\nhost all all 10.0.0.0/8 md5\n");
    let local = rule_at(&f, 2);
    assert!(spec(ConnType::Local, None, Method::Peer).matches(f.rules().next().unwrap()), "layout aside");
    assert!(!spec(ConnType::Local, None, Method::Trust).matches(f.rules().next().unwrap()));
    f.remove(&local).unwrap();
    assert_eq!(f.to_string(), "# header\nhost all all 10.0.0.0/8 md5\n");
    assert_eq!(f.rules().next().unwrap().at.line, 2);
}

#[test]
fn every_matching_rule_and_the_roles_membership_needs() {
    let f = hba("host all all 127.0.0.0/8 scram-sha-256\nhostssl all all 127.0.0.1/32 cert\n\
        host samerole +admins,bob 0.0.0.0/0 md5\nhost all all 10.0.0.0/8 reject\n\
        local all +ops,+admins peer\n");
    let rules: Vec<Rule> = f.rules().cloned().collect();
    let tls = Connection::tcp("app", "alice", ip("127.0.0.1")).with_ssl(true);
    let lines = |refs: Vec<RuleRef>| refs.iter().map(|r| r.line).collect::<Vec<_>>();
    // Without membership the third line is undecidable, so it is not a certain match.
    assert_eq!(lines(matching_as(15, &rules, &tls)), vec![1, 2]);
    assert_eq!(lines(matching_as(15, &rules, &Connection { ssl: false, ..tls })), vec![1]);
    let members = |role: &str| role == "admins" || role == "app";
    let known = Connection { user_groups: Some(&members), ..tls };
    assert_eq!(lines(matching_as(15, &rules, &known)), vec![1, 2, 3]);
    assert_eq!(membership_roles(&rules, &tls), vec!["admins".to_owned(), "app".to_owned(), "ops".to_owned()]);
}

#[test]
fn rules_taken_between_earlier_rules_are_unreachable() {
    let f = hba(
        "hostnossl all all 0.0.0.0/0 reject\nhostssl all all 0.0.0.0/0 cert\nhost all all 10.0.0.0/8 md5\n\
        hostssl all all 10.0.0.0/8 trust\nhostgssenc all all ::/0 gss\nhost all all ::/0 md5\n\
        hostssl db u ::1/128 cert\nlocal all all peer\n",
    );
    let rules: Vec<Rule> = f.rules().cloned().collect();
    let found: Vec<(usize, Vec<usize>)> = unreachable_as(15, &rules)
        .into_iter()
        .map(|(r, by)| (r.line, by.iter().map(|b| b.line).collect()))
        .collect();
    // Line 3 is taken by lines 1 and 2 together; 4 by line 2 alone (a shadow); 6 only in part (TLS
    // and plaintext IPv6 are left); 7 by line 6.
    assert_eq!(found, [(3, vec![1, 2]), (4, vec![2]), (7, vec![6])]);
    let single: Vec<usize> = shadowed_as(15, &rules).into_iter().map(|(r, _)| r.line).collect();
    assert_eq!(single, [4, 7], "shadowed_as keeps to single rules");
}
