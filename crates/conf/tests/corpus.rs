//! Real-world files (Debian's shipped configuration, PostgreSQL's samples, an initdb-generated data
//! directory, hand-written nasty cases) parse and render back byte for byte, and read as
//! PostgreSQL reads them.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use pgharden_conf::hba::{self, Connection, HbaFile, HbaSet, Method, Outcome};
use pgharden_conf::ident::{IdentFile, RoleMatch};
use pgharden_conf::postgresql_conf::{ConfFile, ConfTree, Value};
use pgharden_conf::{Location, Severity};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("corpus directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() { all_files(&path, out) } else { out.push(path) }
    }
}

fn read(path: &Path) -> String {
    String::from_utf8(std::fs::read(path).expect("corpus file")).expect("UTF-8")
}

#[test]
fn every_corpus_file_round_trips_byte_for_byte() {
    let mut files = Vec::new();
    all_files(&corpus(), &mut files);
    assert!(files.len() >= 20, "{files:?}");
    for path in files {
        let text = read(&path);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // Every file renders back unchanged under each parser (they must never lose bytes, even
        // on input of another format).
        assert_eq!(ConfFile::parse_lenient(&text, &path).0.to_string(), text, "{}", path.display());
        assert_eq!(HbaFile::parse(&text, &path).to_string(), text, "{}", path.display());
        assert_eq!(IdentFile::parse(&text, &path).to_string(), text, "{}", path.display());
        if name.ends_with(".conf")
            && !name.contains("hba")
            && !name.contains("ident")
            && !path.ends_with("hba.d/extra.conf")
        {
            ConfFile::parse(&text, &path).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[test]
fn debian_15_reads_as_the_server_does() {
    let dir = corpus().join("debian-15");
    let conf = ConfFile::load(dir.join("postgresql.conf")).unwrap();
    assert_eq!(conf.get("data_directory"), Some("/var/lib/postgresql/15/main"));
    assert_eq!(conf.get("ssl"), Some("on"));
    assert_eq!(conf.get("SSL_CERT_FILE"), Some("/etc/ssl/certs/ssl-cert-snakeoil.pem"));
    assert_eq!(conf.get("port"), Some("5432"));
    assert_eq!(conf.get("ssl_ciphers"), None, "commented out in the shipped file");
    assert_eq!(conf.includes().map(|i| i.target.as_str()).collect::<Vec<_>>(), ["conf.d"]);

    let hba = HbaFile::load(dir.join("pg_hba.conf")).unwrap();
    for major in 14..=18 {
        assert_eq!(hba.validate(major), [], "PostgreSQL {major}");
    }
    let rules: Vec<_> = hba.rules().cloned().collect();
    let peer = hba::evaluate(&rules, &Connection::local("postgres", "postgres"));
    assert_eq!(peer.outcome, Outcome::Authenticate(Method::Peer));
    let tcp = hba::evaluate(&rules, &Connection::tcp("app", "alice", "127.0.0.1".parse().unwrap()));
    assert_eq!(tcp.outcome, Outcome::Authenticate(Method::ScramSha256));
    let remote = hba::evaluate(&rules, &Connection::tcp("app", "alice", "192.0.2.1".parse().unwrap()));
    assert_eq!(remote.outcome, Outcome::ImplicitReject);

    let ident = IdentFile::load(dir.join("pg_ident.conf")).unwrap();
    assert_eq!(ident.mappings().count(), 0);
    assert_eq!(ident.validate(15), []);
}

#[test]
fn initdb_15_data_directory() {
    let dir = corpus().join("initdb-15");
    let tree =
        ConfTree::load_with_auto_conf(dir.join("postgresql.conf"), dir.join("postgresql.auto.conf")).unwrap();
    assert_eq!(tree.files().len(), 2);
    assert_eq!(tree.get("max_connections"), Some("100"));
    let hba = HbaFile::load(dir.join("pg_hba.conf")).unwrap();
    assert_eq!(hba.rules().count(), 6);
    for major in 14..=18 {
        assert_eq!(hba.validate(major), []);
    }
    let rules: Vec<_> = hba.rules().cloned().collect();
    // initdb's trust rules for local and replication connections.
    let repl = Connection { replication: true, ..Connection::tcp("x", "postgres", "::1".parse().unwrap()) };
    assert_eq!(hba::evaluate(&rules, &repl).matched.unwrap().line, rules[5].at.line);
}

#[test]
fn samples_are_templates() {
    let dir = corpus().join("sample-15");
    let conf = ConfFile::load(dir.join("postgresql.conf")).unwrap();
    assert_eq!(conf.settings().count(), 0, "every parameter in the sample is commented out");
    let hba = HbaFile::load(dir.join("pg_hba.conf")).unwrap();
    // The sample's @authmethodlocal@ placeholders are filled in by initdb; as they stand the
    // server would refuse them.
    assert!(hba.validate(15).iter().any(|p| p.severity == Severity::Error));
}

#[test]
fn nasty_postgresql_conf_tree() {
    let dir = corpus().join("nasty");
    let root = dir.join("postgresql.conf");
    let conf = ConfFile::load(&root).unwrap();
    assert_eq!(conf.get("application_name"), Some("it's 'quoted' A \n"));
    assert_eq!(conf.get("search_path"), Some("\"$user\", public"));
    assert_eq!(conf.get("max_connections"), Some("100"));
    assert_eq!(conf.get("custom.trailing_ws"), Some("on"));
    assert_eq!(conf.get("port"), Some("5433"));

    let tree = ConfTree::load_with_auto_conf(&root, dir.join("postgresql.auto.conf")).unwrap();
    let ssl = tree.resolve("ssl").unwrap();
    assert_eq!(ssl.winner.location(), Location::new(dir.join("postgresql.auto.conf"), 3));
    let overridden: Vec<_> = ssl.overridden.iter().map(|o| o.location()).collect();
    assert_eq!(
        overridden,
        [
            Location::new(&root, 7),
            Location::new(dir.join("inc/extra.conf"), 1),
            Location::new(dir.join("conf.d/02-second.conf"), 1),
        ]
    );
    assert_eq!(tree.get("max_connections"), Some("300"));
    assert_eq!(tree.get("port"), Some("5433"));
    assert_eq!(tree.skipped().len(), 1);
    assert_eq!(tree.files().len(), 5);

    // Edit the file that wins, the way `apply` will: one line changes.
    let mut files = tree.into_files();
    let auto = files.iter_mut().find(|f| f.path().ends_with("postgresql.auto.conf")).unwrap();
    auto.set("ssl", &Value::bool(true)).unwrap();
    assert_eq!(auto.to_string().lines().nth(2), Some("ssl = on"));
}

#[test]
fn nasty_pg_hba_conf() {
    let dir = corpus().join("nasty");
    let set = HbaSet::load(dir.join("pg_hba.conf")).unwrap();
    let rules = set.rules();
    let lines: Vec<(usize, usize)> = rules.iter().map(|r| (r.at.line, r.at.last_line)).collect();
    assert_eq!(lines, [(2, 2), (3, 3), (4, 4), (5, 7), (8, 8), (11, 11), (1, 1), (13, 13)]);
    assert_eq!(rules[6].at.file, dir.join("hba.d/extra.conf"));
    assert_eq!(rules[1].databases.len(), 2);
    assert_eq!(rules[1].users[0].token().unwrap().text, "user name");
    assert_eq!(rules[3].option("map"), Some("certmap"));

    let problems = set.validate(16);
    assert_eq!(problems, [], "{problems:?}");
    let on15: Vec<_> = set.validate(15).into_iter().filter(|p| p.severity == Severity::Error).collect();
    assert_eq!(on15.len(), 1);
    assert_eq!(on15[0].at.line, 12);

    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let carol = Connection::tcp("app", "carol with space", ip("10.9.9.9")).with_ssl(true);
    assert_eq!(hba::evaluate(&rules, &carol).matched.unwrap().line, 5);
    let quoted = Connection::local("db, with comma", "user name");
    assert_eq!(hba::evaluate(&rules, &quoted).outcome, Outcome::Authenticate(Method::ScramSha256));
    let staff = |role: &str| role == "staff";
    let literal_plus = Connection {
        user_groups: Some(&staff),
        ..Connection::tcp("sameuser", "+literal", ip("::1")).with_ssl(true)
    };
    assert_eq!(hba::evaluate(&rules, &literal_plus).matched.unwrap().line, 8);
    let shadows: Vec<_> = hba::shadowed(&rules).into_iter().map(|(s, by)| (s.line, by.line)).collect();
    assert_eq!(shadows, []);
}

#[test]
fn nasty_pg_ident_conf() {
    let ident = IdentFile::load(corpus().join("nasty/pg_ident.conf")).unwrap();
    assert_eq!(ident.mappings().count(), 5);
    // An unquoted regex with a comma is two tokens: PostgreSQL refuses the line.
    let problems = ident.validate(16);
    assert_eq!(problems.len(), 1);
    assert_eq!((problems[0].at.line, problems[0].message.as_str()), (3, "multiple values in ident field"));
    assert_eq!(
        ident.lookup("certmap", "CN=alice,O=Example").unwrap(),
        [RoleMatch::Role("alice".into()), RoleMatch::Role("alice".into())]
    );
    assert_eq!(ident.lookup("certmap", "CN=bob,O=Example").unwrap(), [RoleMatch::Role("bob".into())]);
    assert_eq!(
        ident.lookup("krb", "admin@EXAMPLE.COM").unwrap(),
        [RoleMatch::Role("admin".into()), RoleMatch::Role("postgres".into())]
    );
    assert_eq!(ident.lookup("krb", "ops@EXAMPLE.COM").unwrap()[1], RoleMatch::MemberOf("operators".into()));
    assert_eq!(
        ident.lookup_as(15, "krb", "ops@EXAMPLE.COM").unwrap()[1],
        RoleMatch::Role("+operators".into())
    );
}

/// RHEL keeps its configuration in PGDATA, made by initdb with `ident` for TCP and `peer` locally,
/// and its packages turn the logging collector on with weekday log files.
#[test]
fn rhel_15_style_data_directory() {
    let dir = corpus().join("rhel-15");
    let tree =
        ConfTree::load_with_auto_conf(dir.join("postgresql.conf"), dir.join("postgresql.auto.conf")).unwrap();
    assert_eq!(tree.get("logging_collector"), Some("on"));
    assert_eq!(tree.get("log_filename"), Some("postgresql-%a.log"));
    let hba = HbaFile::load(dir.join("pg_hba.conf")).unwrap();
    let rules: Vec<_> = hba.rules().cloned().collect();
    assert!(rules.iter().any(|r| r.method == Method::Ident));
    let tcp = Connection::tcp("postgres", "alice", "127.0.0.1".parse().unwrap());
    assert_eq!(hba::evaluate(&rules, &tcp).outcome, Outcome::Authenticate(Method::Ident));
}
