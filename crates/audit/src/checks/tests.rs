use super::*;
use crate::evidence::{LineError, Reading, ServerReading, Settings, Where};

fn with(settings: &[(&str, &str)]) -> Evidence {
    let mut ev = Evidence::empty();
    ev.settings = Ok(Settings::from_pairs(settings.iter().copied()));
    ev
}

fn run_default(id: CheckId, ev: &Evidence) -> Outcome {
    run(id, ev, &Policy::default())
}

#[test]
fn missing_evidence_is_never_a_pass() {
    let ev = Evidence::empty();
    for id in CheckId::ALL {
        assert_ne!(run_default(*id, &ev).status, Status::Pass, "{id:?}");
    }
}

#[test]
fn default_ciphers_fail_and_the_profile_passes() {
    let weak = with(&[("ssl_ciphers", "HIGH:MEDIUM:+3DES:!aNULL")]);
    assert_eq!(run_default(CheckId::TlsCiphers, &weak).status, Status::Fail);
    // The profile before forward secrecy was required: static RSA key exchange is still in HIGH.
    let static_rsa = with(&[("ssl_ciphers", "HIGH:!aNULL:!eNULL:!MD5:!3DES:!RC4:!SHA1")]);
    let out = run_default(CheckId::TlsCiphers, &static_rsa);
    assert_eq!(out.status, Status::Fail);
    assert!(
        out.evidence.iter().any(|e| e.contains("static RSA") && e.contains("!kRSA")),
        "{:?}",
        out.evidence
    );
    let strict = with(&[("ssl_ciphers", pgharden_cluster::profile::SSL_CIPHERS)]);
    assert_eq!(run_default(CheckId::TlsCiphers, &strict).status, Status::Pass);
    let ephemeral_only = with(&[("ssl_ciphers", "ECDHE+AESGCM:DHE+AESGCM:!aNULL")]);
    assert_eq!(run_default(CheckId::TlsCiphers, &ephemeral_only).status, Status::Pass);
}

#[test]
fn each_rule_wants_the_escapes_its_text_names() {
    let profile = with(&[("log_line_prefix", "< %m %a %u %d %c %s %r %p >")]);
    for id in [
        CheckId::LogPrefixTime,
        CheckId::LogPrefixWho,
        CheckId::LogPrefixSession,
        CheckId::LogPrefixStatement,
        CheckId::LogPrefixClient,
    ] {
        assert_eq!(run_default(id, &profile).status, Status::Pass, "{id:?}");
    }
    let old = with(&[("log_line_prefix", "< %m %a %u %d %c %s %r >")]);
    let out = run_default(CheckId::LogPrefixClient, &old);
    assert_eq!(out.status, Status::Fail);
    assert!(out.evidence[0].contains("%p"), "{out:?}");
    assert_eq!(run_default(CheckId::LogPrefixStatement, &old).status, Status::Pass);
    let literal = with(&[("log_line_prefix", "%%m %%u %%d %%a %%c %%r %%s %%p ")]);
    assert_eq!(run_default(CheckId::LogPrefixTime, &literal).status, Status::Fail);
    let t = with(&[("log_line_prefix", "< %t %u %d %a %p %h >")]);
    assert_eq!(run_default(CheckId::LogPrefixTime, &t).status, Status::Fail);
}

#[test]
fn an_override_for_one_role_fails_the_setting() {
    let mut ev = with(&[("client_min_messages", "error")]);
    assert_eq!(run_default(CheckId::ClientMinMessages, &ev).status, Status::Pass);
    ev.settings = Ok(Settings::from_pairs([("client_min_messages", "error")]).with_override(
        Where::Role("alice".into()),
        "client_min_messages",
        "debug5",
    ));
    let out = run_default(CheckId::ClientMinMessages, &ev);
    assert_eq!(out.status, Status::Fail);
    assert!(out.evidence.iter().any(|e| e.contains("alice")), "{out:?}");
}

#[test]
fn pgaudit_subtractions_count() {
    let ev = with(&[("pgaudit.log", "all, -role")]);
    assert_eq!(run_default(CheckId::PgauditRoleClass, &ev).status, Status::Fail);
    assert_eq!(run_default(CheckId::PgauditClasses, &ev).status, Status::Fail);
    let ev = with(&[("pgaudit.log", "ddl, write, role")]);
    assert_eq!(run_default(CheckId::PgauditWriteClasses, &ev).status, Status::Pass);
    assert_eq!(run_default(CheckId::PgauditClasses, &ev).status, Status::Fail);
}

#[test]
fn stderr_is_a_destination_the_stig_accepts() {
    let ev = with(&[("log_destination", "stderr"), ("logging_collector", "off")]);
    assert_eq!(run_default(CheckId::LogDestination, &ev).status, Status::Pass);
    let ev = with(&[("log_destination", "csvlog"), ("logging_collector", "on")]);
    assert_eq!(run_default(CheckId::LogDestination, &ev).status, Status::Fail);
}

#[test]
fn every_name_of_utc_passes() {
    for zone in ["UTC", "Zulu", "Etc/Universal"] {
        assert_eq!(
            run_default(CheckId::LogTimezone, &with(&[("log_timezone", zone)])).status,
            Status::Pass,
            "{zone}"
        );
    }
    let ny = with(&[("log_timezone", "America/New_York")]);
    assert_eq!(run_default(CheckId::LogTimezone, &ny).status, Status::Fail);
}

#[test]
fn pgaudit_log_level_matters_only_with_log_client() {
    let quiet = with(&[
        ("pgaudit.log_catalog", "on"),
        ("pgaudit.log_client", "off"),
        ("pgaudit.log_level", "notice"),
    ]);
    assert_eq!(run_default(CheckId::PgauditSettings, &quiet).status, Status::Pass);
    let loud =
        with(&[("pgaudit.log_catalog", "on"), ("pgaudit.log_client", "on"), ("pgaudit.log_level", "notice")]);
    assert_eq!(run_default(CheckId::PgauditSettings, &loud).status, Status::Fail);
}

#[test]
fn one_of_connections_and_disconnections_is_enough_for_the_either_rule() {
    let ev = with(&[("log_connections", "on"), ("log_disconnections", "off")]);
    assert_eq!(run_default(CheckId::LogConnectionsOrDisconnections, &ev).status, Status::Pass);
    let ev = with(&[("log_connections", "off"), ("log_disconnections", "off")]);
    assert_eq!(run_default(CheckId::LogConnectionsOrDisconnections, &ev).status, Status::Fail);
    // PostgreSQL 18's list form.
    let ev = with(&[("log_connections", "receipt,authentication,authorization")]);
    assert_eq!(run_default(CheckId::LogConnections, &ev).status, Status::Pass);
    let ev = with(&[("log_connections", "receipt")]);
    assert_eq!(run_default(CheckId::LogConnections, &ev).status, Status::Fail);
}

#[test]
fn zero_timeouts_fail() {
    let good = [
        ("statement_timeout", "1h"),
        ("tcp_keepalives_idle", "300"),
        ("tcp_keepalives_interval", "30"),
        ("tcp_keepalives_count", "3"),
    ];
    assert_eq!(run_default(CheckId::SessionTimeouts, &with(&good)).status, Status::Pass);
    let mut bad = good;
    bad[0] = ("statement_timeout", "0");
    assert_eq!(run_default(CheckId::SessionTimeouts, &with(&bad)).status, Status::Fail);
}

#[test]
fn a_failed_version_probe_is_not_a_pass() {
    let mut ev = Evidence::empty();
    ev.network = Ok(crate::evidence::NetworkFacts {
        target: "db:5432".into(),
        plaintext_refused: Err(Missing::ProbeFailed("refused".into())),
        certless_refused: Err(Missing::ProbeFailed("refused".into())),
        tls_versions: Err(Missing::ProbeFailed("connection refused".into())),
        served_leaf: Err(Missing::ProbeFailed("connection refused".into())),
        scan: Err(Missing::ProbeFailed("connection refused".into())),
    });
    assert_eq!(run_default(CheckId::TlsVersionsRefused, &ev).status, Status::NotChecked);
    // TLS 1.0 accepted alone is a failure (the names are typed, not strings to compare).
    use pgharden_wire::TlsVersionName as V;
    if let Ok(n) = &mut ev.network {
        n.tls_versions =
            Ok(vec![(V::Tls1_0, true), (V::Tls1_1, false), (V::Tls1_2, true), (V::Tls1_3, true)]);
    }
    assert_eq!(run_default(CheckId::TlsVersionsRefused, &ev).status, Status::Fail);
}

#[test]
fn extensions_beyond_the_profile_need_approval_in_every_database() {
    let mut ev = Evidence::empty();
    ev.databases = Ok(vec![crate::evidence::DatabaseFacts {
        name: "app".into(),
        public_create_schemas: Vec::new(),
        public_create_database: false,
        untrusted_languages: Vec::new(),
        extensions: vec!["pgaudit".into(), "pg_trgm".into(), "plpgsql".into()],
        definers_without_search_path: vec!["public.elevate()".into()],
    }]);
    let out = run_default(CheckId::ApprovedExtensions, &ev);
    assert_eq!(out.status, Status::Fail);
    assert!(out.evidence[0].contains("database app: extension pg_trgm"), "{out:?}");
    let approved = Policy { approved_extensions: vec!["pg_trgm".into()], ..Policy::default() };
    assert_eq!(run(CheckId::ApprovedExtensions, &ev, &approved).status, Status::Pass);
    let out = run_default(CheckId::DefinerSearchPath, &ev);
    assert_eq!(out.status, Status::Fail);
    assert!(out.evidence[0].contains("public.elevate()"), "{out:?}");
}

/// A fresh PKI (unencrypted: no key is signed with here) holding a server certificate.
fn test_pki() -> (tempfile::TempDir, pgharden_pki::Pki, pgharden_pki::Issued) {
    let tmp = tempfile::tempdir().unwrap();
    let mut pki =
        pgharden_pki::Pki::init(&tmp.path().join("pki"), &pgharden_pki::InitOptions::default()).unwrap();
    let request = pgharden_pki::ServerRequest { hosts: vec!["db.example.com".into()], ..Default::default() };
    let issued = pki.issue_server(&request, None).unwrap();
    (tmp, pki, issued)
}

/// Evidence holding `cert` as ssl_cert_file, with a key file the check accepts.
fn with_certificate(cert: &std::path::Path) -> Evidence {
    let mut ev = Evidence::empty();
    ev.owner_uid = Some(999);
    ev.tls.key = Ok(crate::evidence::FileFacts {
        path: "/var/lib/postgresql/15/main/server.key".into(),
        uid: 999,
        gid: 999,
        mode: 0o600,
        kind: crate::evidence::EntryKind::File,
    });
    ev.tls.cert = Ok((cert.to_path_buf(), std::fs::read(cert).unwrap()));
    ev
}

/// The first certificate (the leaf) or CRL of a file, as the pki crate inspects it.
fn first_item(path: &std::path::Path) -> pgharden_pki::inspect::Item {
    let bytes = std::fs::read(path).unwrap();
    pgharden_pki::inspect::inspect_bytes("fixture", &bytes).unwrap().items.remove(0)
}

#[test]
fn remaining_life_is_in_days_and_under_two_days_in_hours() {
    let at = 1_800_000_000;
    assert_eq!(tls::life_left(at + 34 * 86_400 + 5 * 3_600, at), "34 days left");
    assert_eq!(tls::life_left(at + 2 * 86_400, at), "2 days left");
    assert_eq!(tls::life_left(at + 2 * 86_400 - 1, at), "47 hours left");
    assert_eq!(tls::life_left(at + 17 * 3_600 + 59 * 60, at), "17 hours left");
    assert_eq!(tls::life_left(at + 3_600, at), "1 hour left");
    assert_eq!(tls::life_left(at + 59 * 60, at), "less than an hour left");
    assert_eq!(tls::life_left(at - 3 * 86_400, at), "3 days ago");
}

#[test]
fn a_certificate_34_days_out_says_so_and_passes() {
    let (_tmp, _pki, issued) = test_pki();
    let pgharden_pki::inspect::Item::Certificate(leaf) = first_item(&issued.cert_path) else {
        panic!("the server certificate file starts with a certificate")
    };
    let now = leaf.not_after_unix - 34 * 86_400 - 5 * 3_600;
    let out = tls::server_certificate_at(&with_certificate(&issued.cert_path), &Policy::default(), now);
    assert_eq!(out.status, Status::Pass, "{out:?}");
    let wanted = format!("CN=db.example.com,O=pgharden valid until {}, 34 days left; ", leaf.not_after);
    assert!(out.evidence[0].contains(&wanted), "{wanted:?} not in {out:?}");
    assert!(leaf.not_after.ends_with('Z') && leaf.not_after.contains('T'), "RFC 3339: {}", leaf.not_after);
}

#[test]
fn a_certificate_17_hours_out_fails_saying_17_hours() {
    let (_tmp, _pki, issued) = test_pki();
    let pgharden_pki::inspect::Item::Certificate(leaf) = first_item(&issued.cert_path) else {
        panic!("the server certificate file starts with a certificate")
    };
    let now = leaf.not_after_unix - 17 * 3_600 - 20 * 60;
    let out = tls::server_certificate_at(&with_certificate(&issued.cert_path), &Policy::default(), now);
    assert_eq!(out.status, Status::Fail, "{out:?}");
    let wanted = format!(
        "#1 (CN=db.example.com,O=pgharden): valid until {}, 17 hours left, within the 7-day warning window",
        leaf.not_after
    );
    assert!(out.evidence.iter().any(|e| e.contains(&wanted)), "{wanted:?} not in {out:?}");
    // An hour after it ended, it is expired, and the evidence says since when.
    let out = tls::server_certificate_at(
        &with_certificate(&issued.cert_path),
        &Policy::default(),
        leaf.not_after_unix + 3 * 86_400,
    );
    assert_eq!(out.status, Status::Fail);
    let wanted = format!("expired on {}, 3 days ago", leaf.not_after);
    assert!(out.evidence.iter().any(|e| e.contains(&wanted)), "{wanted:?} not in {out:?}");
}

#[test]
fn a_crl_says_how_long_until_its_next_update() {
    let (tmp, _pki, _) = test_pki();
    let path = tmp.path().join("pki/root/crl.pem");
    let pgharden_pki::inspect::Item::Crl(crl) = first_item(&path) else { panic!("crl.pem holds a CRL") };
    let next = crl.next_update_unix.expect("a next update");
    let shown = crl.next_update.clone().unwrap();
    let mut ev = with(&[("ssl_crl_file", "root.crl"), ("ssl_crl_dir", "")]);
    ev.tls.crls = Ok(vec![(path.clone(), std::fs::read(&path).unwrap())]);

    let out = tls::crl_at(&ev, &Policy::default(), next - 9 * 86_400 - 3_600);
    assert_eq!(out.status, Status::Pass, "{out:?}");
    let wanted = format!("next update {shown}, 9 days left");
    assert!(out.evidence[0].contains(&wanted), "{wanted:?} not in {out:?}");

    let out = tls::crl_at(&ev, &Policy::default(), next - 5 * 3_600);
    assert_eq!(out.status, Status::Fail, "{out:?}");
    let wanted = format!("next update {shown}, 5 hours left, within the 7-day warning window");
    assert!(out.evidence.iter().any(|e| e.contains(&wanted)), "{wanted:?} not in {out:?}");

    let out = tls::crl_at(&ev, &Policy::default(), next + 2 * 86_400);
    assert_eq!(out.status, Status::Fail, "{out:?}");
    let wanted = format!("the next update was due {shown}, 2 days ago");
    assert!(out.evidence.iter().any(|e| e.contains(&wanted)), "{wanted:?} not in {out:?}");
}

// ---------------------------------------------------------------------------------------------
// Whether the server accepts pg_hba.conf and pg_ident.conf as they are on disk.
// ---------------------------------------------------------------------------------------------

fn hba_rules(text: &str) -> Vec<pgharden_conf::hba::Rule> {
    pgharden_conf::hba::HbaFile::parse(text, "/data/pg_hba.conf").rules().cloned().collect()
}

/// Evidence of `major` whose pg_hba.conf is `text`, with pgharden's reading of it and the server's
/// reading `server` (`None`: the server could not be asked).
fn hba_evidence(major: u32, text: &str, server: Option<Vec<LineError>>) -> Evidence {
    let mut ev = Evidence::empty();
    ev.major = Ok(major);
    ev.hba_rules = Ok(hba_rules(text));
    ev.hba_reading = Reading {
        server: match server {
            Some(errors) => {
                let entries = ev.hba_rules.as_ref().map(Vec::len).unwrap_or(0);
                Ok(ServerReading { view: "pg_hba_file_rules", errors, entries })
            }
            None => {
                Err(Missing::failed("pg_hba_file_rules", "permission denied (reading it needs a superuser)"))
            }
        },
        pgharden: Ok(pgharden_conf::hba::HbaFile::parse(text, "/data/pg_hba.conf").validate(major)),
    };
    ev
}

fn refused_line(line: usize, message: &str) -> LineError {
    LineError { file: "/data/pg_hba.conf".into(), line, message: message.into() }
}

#[test]
fn a_file_the_server_refuses_fails_and_its_lines_are_not_judged() {
    let text = "local all all peer\ninclude_if_exists extra.conf\n";
    let ev =
        hba_evidence(15, text, Some(vec![refused_line(2, "invalid connection type \"include_if_exists\"")]));
    let out = run_default(CheckId::HbaFileAccepted, &ev);
    assert_eq!(out.status, Status::Fail);
    assert!(
        out.evidence.iter().any(|e| e.contains("/data/pg_hba.conf:2") && e.contains("include_if_exists"))
    );
    assert!(out.evidence[0].contains("a restart fails"), "{out:?}");
    for id in [CheckId::HbaNoTrust, CheckId::HbaTcpOnlyTls, CheckId::HbaClientCertificates] {
        let line = run_default(id, &ev);
        assert_eq!(line.status, Status::NotChecked, "{id:?}: {line:?}");
        assert!(line.evidence[0].contains("not the ones in force"), "{line:?}");
    }
    let rule = crate::run::judge(crate::catalogue::by_id("PGH-AUTH-01").unwrap(), &ev, &Policy::default());
    assert_eq!(rule.status, Status::Fail, "the refusal fails the rule: {rule:?}");
}

#[test]
fn the_servers_reading_decides_and_pghardens_can_only_refuse() {
    let good = "local all all peer\nhostssl all all 0.0.0.0/0 cert\n";
    let accepted = run_default(CheckId::HbaFileAccepted, &hba_evidence(16, good, Some(vec![])));
    assert_eq!(accepted.status, Status::Pass, "{accepted:?}");
    assert!(accepted.evidence[0].contains("2 rules, pg_hba_file_rules"), "{accepted:?}");

    let no_superuser = run_default(CheckId::HbaFileAccepted, &hba_evidence(16, good, None));
    assert_eq!(no_superuser.status, Status::NotChecked, "never a pass without the server: {no_superuser:?}");
    assert!(no_superuser.evidence[0].contains("audit as a superuser"), "{no_superuser:?}");

    let bad = "local all all peer\nhost all all 10.0.0.0/8 peer\n";
    let ev = hba_evidence(16, bad, None);
    let refused = run_default(CheckId::HbaFileAccepted, &ev);
    assert_eq!(refused.status, Status::Fail, "{refused:?}");
    assert!(refused.evidence[0].starts_with("pgharden's reading: PostgreSQL 16 would refuse"), "{refused:?}");
    assert!(
        refused.evidence.iter().any(|e| e.contains("pg_hba.conf:2") && e.contains("peer")),
        "{refused:?}"
    );
    assert_eq!(run_default(CheckId::HbaNoTrust, &ev).status, Status::NotChecked);

    // A file the server reads without a single rule is refused all the same.
    let empty = run_default(CheckId::HbaFileAccepted, &hba_evidence(16, "# nothing\n", Some(vec![])));
    assert_eq!(empty.status, Status::Fail);
    assert!(empty.evidence.iter().any(|e| e.contains("contains no entries")), "{empty:?}");
}

#[test]
fn pg_ident_on_14_is_judged_by_pghardens_reading_alone() {
    let mut ev = Evidence::empty();
    ev.major = Ok(14);
    let clean = pgharden_conf::ident::IdentFile::parse("pgharden /^(.*)$ \\1\n", "/data/pg_ident.conf");
    ev.ident_reading = Reading {
        server: Err(Missing::failed(
            "pg_ident_file_mappings",
            "PostgreSQL 14 cannot show how it reads pg_ident.conf",
        )),
        pgharden: Ok(clean.validate(14)),
    };
    let out = run_default(CheckId::IdentFileAccepted, &ev);
    assert_eq!(out.status, Status::Pass, "{out:?}");
    assert!(out.evidence[0].contains("pgharden's reading"), "{out:?}");
    let bad = pgharden_conf::ident::IdentFile::parse("pgharden onlytwo\n", "/data/pg_ident.conf");
    ev.ident_reading.pgharden = Ok(bad.validate(14));
    assert_eq!(run_default(CheckId::IdentFileAccepted, &ev).status, Status::Fail);
    // On 15 the server has a view: without it (no superuser) a clean reading is not enough.
    ev.major = Ok(15);
    ev.ident_reading.pgharden = Ok(clean.validate(15));
    assert_eq!(run_default(CheckId::IdentFileAccepted, &ev).status, Status::NotChecked);
}

#[test]
fn map_roles_are_patterns_only_from_16() {
    let text = "hostssl all all 0.0.0.0/0 cert map=m\n";
    let ident = pgharden_conf::ident::IdentFile::parse("m alice all\nm bob +admins\n", "/data/pg_ident.conf");
    for (major, status) in [(15, Status::Pass), (16, Status::Fail)] {
        let mut ev = hba_evidence(major, text, Some(vec![]));
        ev.ident_mappings = Ok(ident.mappings().cloned().collect());
        ev.ident_reading = Reading {
            server: Ok(ServerReading { view: "pg_ident_file_mappings", errors: vec![], entries: 2 }),
            pgharden: Ok(ident.validate(major)),
        };
        ev.roles = Ok(Vec::new());
        let out = run_default(CheckId::IdentMappings, &ev);
        assert_eq!(out.status, status, "PostgreSQL {major}: {out:?}");
    }
}

#[test]
fn a_config_file_owned_right_but_open_names_only_the_mode() {
    let mut ev = Evidence::empty();
    ev.owner_uid = Some(101);
    let file = |uid: u32, mode: u32| crate::evidence::Trusted {
        role: crate::evidence::FileRole::Config,
        holds: Vec::new(),
        ancestor: false,
        facts: Ok(crate::evidence::FileFacts {
            path: "/etc/postgresql/15/main/postgresql.conf".into(),
            uid,
            gid: 101,
            mode,
            kind: crate::evidence::EntryKind::File,
        }),
    };
    ev.trusted = Ok(vec![file(101, 0o644)]);
    let out = run_default(CheckId::ConfigFileModes, &ev);
    assert_eq!(out.status, Status::Fail);
    let text = out.evidence.join("\n");
    assert!(text.contains("mode 0644: readable by group and others; must be 0600"), "{text}");
    assert!(text.contains("uid 101, is the cluster owner"), "{text}");
    assert!(!text.contains("must be owned"), "{text}");
    ev.trusted = Ok(vec![file(0, 0o600)]);
    let text = run_default(CheckId::ConfigFileModes, &ev).evidence.join("\n");
    assert!(text.contains("must be owned by the cluster owner (uid 101)"), "{text}");
    ev.trusted = Ok(vec![file(101, 0o600)]);
    assert_eq!(run_default(CheckId::ConfigFileModes, &ev).status, Status::Pass);
}

#[test]
fn the_fips_fix_says_what_applies_on_debian_and_ubuntu() {
    let rule = crate::catalogue::RULES.iter().find(|r| r.checks.contains(&CheckId::FipsMode)).unwrap();
    assert!(rule.fix.contains("fips-mode-setup --enable"), "{}", rule.fix);
    assert!(rule.fix.contains("pro enable fips"), "{}", rule.fix);
    assert!(rule.fix.contains("Debian itself has no supported FIPS mode"), "{}", rule.fix);
}

fn with_key(encrypted: bool, settings: &[(&str, &str)]) -> Evidence {
    let mut ev = with(settings);
    ev.tls.key = Ok(crate::evidence::FileFacts {
        path: "/data/server.pem".into(),
        uid: 999,
        gid: 999,
        mode: 0o600,
        kind: crate::evidence::EntryKind::File,
    });
    ev.tls.key_encrypted = Ok(encrypted);
    ev
}

#[test]
fn an_encrypted_key_passes_only_when_every_start_and_reload_can_unlock_it_without_a_literal() {
    let plain = run_default(CheckId::ServerKeyUnlock, &with_key(false, &[]));
    assert_eq!(plain.status, Status::Pass);
    assert!(plain.evidence[0].contains("not encrypted"), "{plain:?}");

    let command = "/bin/cat '/etc/postgresql/15/main/server.key.pass'";
    let good = with_key(
        true,
        &[("ssl_passphrase_command", command), ("ssl_passphrase_command_supports_reload", "on")],
    );
    let out = run_default(CheckId::ServerKeyUnlock, &good);
    assert_eq!(out.status, Status::Pass, "{out:?}");
    assert!(out.evidence[0].contains("is encrypted") && out.evidence[0].contains(command), "{out:?}");

    let no_reload = with_key(
        true,
        &[("ssl_passphrase_command", command), ("ssl_passphrase_command_supports_reload", "off")],
    );
    let out = run_default(CheckId::ServerKeyUnlock, &no_reload);
    assert_eq!(out.status, Status::Fail);
    assert!(out.evidence[0].contains("supports_reload = off"), "{out:?}");

    let no_command =
        with_key(true, &[("ssl_passphrase_command", ""), ("ssl_passphrase_command_supports_reload", "on")]);
    let out = run_default(CheckId::ServerKeyUnlock, &no_command);
    assert_eq!(out.status, Status::Fail);
    assert!(out.evidence[0].contains("not set"), "{out:?}");

    let literal = with_key(
        true,
        &[("ssl_passphrase_command", "echo hunter2"), ("ssl_passphrase_command_supports_reload", "on")],
    );
    let out = run_default(CheckId::ServerKeyUnlock, &literal);
    assert_eq!(out.status, Status::Fail);
    assert!(!out.evidence[0].contains("hunter2"), "the evidence must not repeat the passphrase: {out:?}");

    let unknown = with_key(true, &[]);
    assert_eq!(run_default(CheckId::ServerKeyUnlock, &unknown).status, Status::NotChecked);
}
