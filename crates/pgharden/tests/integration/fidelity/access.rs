//! Group E: who may get in and what they may do. pg_ident.conf maps that turn a certificate into
//! another role, administrative attributes and superusers on roles the organization did not
//! approve (and the flags that approve them), login roles without a connection limit, CREATE for
//! PUBLIC, untrusted languages, and the authentication methods the STIG names as compliant (review
//! P7, P16, P17, F1, F2).

use std::fs;

use pgharden_testcluster::Cluster;

use super::Want::{Fails, Holds, NotFail};
use super::{Cases, Want, describe, hardened, judge, literal, mended, reload_ok, setting_path, sql, sql_db};

#[test]
fn fidelity_hba_ident_and_roles() {
    let (_pki, c) = hardened();
    sql(&c, "CREATE DATABASE app");
    let mut cases = Cases::new("E, pg_hba, pg_ident, roles");
    ident_maps(&mut cases, &c);
    admin_roles(&mut cases, &c);
    limits_and_grants(&mut cases, &c);
    untrusted_language(&mut cases, &c);
    org_authentication(&mut cases, &c);
    cases.finish();
}

/// Audit with `extra`, judge `wants`, as one case.
fn case(cases: &mut Cases, c: &Cluster, what: &str, extra: &[&str], wants: &[(&str, Want<'_>)]) {
    let flags = if extra.is_empty() { String::new() } else { format!(" {}", extra.join(" ")) };
    cases.check(&format!("{what}{flags}: {}", describe(wants)), || {
        judge(c, extra, wants);
    });
}

/// P7: a pg_ident.conf line of the hostssl lines' map that makes certificates log in as the
/// superuser; the evidence names the line, and `--approved-mapping` approves it.
fn ident_maps(cases: &mut Cases, c: &Cluster) {
    let path = setting_path(c, "ident_file");
    let original = fs::read_to_string(&path).unwrap();
    for (line, approval) in
        [("pgharden /^.*$ postgres", Some("pgharden:postgres")), ("pgharden alice postgres", None)]
    {
        fs::write(&path, format!("{original}{line}\n")).unwrap();
        reload_ok(c);
        let (system, _) = line.split_once(" postgres").unwrap();
        let system = system.trim_start_matches("pgharden ");
        let number = sql(
            c,
            &format!(
                "SELECT line_number FROM pg_ident_file_mappings WHERE map_name = 'pgharden' \
                 AND sys_name = {} AND pg_username = 'postgres' AND error IS NULL",
                literal(system)
            ),
        );
        assert!(!number.is_empty(), "setup: the server reads {line:?} from {}", path.display());
        let at = format!("pg_ident.conf:{number}");
        let wants = [("PGH-AUTH-08", Fails(&[&at]))];
        case(cases, c, &format!("pg_ident line {line:?}"), &[], &wants);
        if let Some(approved) = approval {
            case(
                cases,
                c,
                &format!("pg_ident line {line:?}"),
                &["--approved-mapping", approved],
                &[("PGH-AUTH-08", Holds)],
            );
        }
        fs::write(&path, &original).unwrap();
        reload_ok(c);
        mended(cases, c, "pg_ident.conf restored", &wants);
    }
}

/// P16, F2: CREATEROLE / BYPASSRLS on a role nobody approved, and a second superuser.
fn admin_roles(cases: &mut Cases, c: &Cluster) {
    sql(c, "CREATE ROLE app2 LOGIN CONNECTION LIMIT 5 CREATEROLE");
    let wants = [("PGH-PRIV-10", Fails(&["app2"]))];
    case(cases, c, "role app2 CREATEROLE", &[], &wants);
    case(cases, c, "role app2 CREATEROLE", &["--approved-admin", "app2"], &[("PGH-PRIV-10", Holds)]);
    sql(c, "ALTER ROLE app2 NOCREATEROLE BYPASSRLS");
    case(cases, c, "role app2 BYPASSRLS", &[], &wants);
    sql(c, "DROP ROLE app2");
    mended(cases, c, "role app2 dropped", &wants);

    sql(c, "CREATE ROLE dba2 SUPERUSER");
    let wants = [("PGH-PRIV-01", Fails(&["dba2"]))];
    case(cases, c, "second superuser dba2", &[], &wants);
    case(
        cases,
        c,
        "second superuser dba2",
        &["--approved-superuser", "dba2"],
        &[("PGH-PRIV-01", Holds), ("PGH-AUD-02", Holds), ("PGH-PRIV-10", Holds)],
    );
    sql(c, "DROP ROLE dba2");
    mended(cases, c, "role dba2 dropped", &wants);
}

/// P17: a login role without a connection limit; CREATE for PUBLIC on schema public, and on a
/// schema of another database.
fn limits_and_grants(cases: &mut Cases, c: &Cluster) {
    sql(c, "CREATE ROLE bob LOGIN");
    let wants = [("PGH-OTH-02", Fails(&["bob"]))];
    case(cases, c, "login role bob without a connection limit", &[], &wants);
    sql(c, "ALTER ROLE bob CONNECTION LIMIT 5");
    mended(cases, c, "bob CONNECTION LIMIT 5", &wants);

    sql(c, "GRANT CREATE ON SCHEMA public TO PUBLIC");
    let wants = [("PGH-PRIV-09", Fails(&["public"]))];
    case(cases, c, "GRANT CREATE ON SCHEMA public TO PUBLIC", &[], &wants);
    sql(c, "REVOKE CREATE ON SCHEMA public FROM PUBLIC");
    mended(cases, c, "REVOKE CREATE ON SCHEMA public FROM PUBLIC", &wants);

    // The schema is not called `s` (as in the brief): a one-letter name is in any evidence.
    sql_db(c, "app", "CREATE SCHEMA scratch; GRANT CREATE ON SCHEMA scratch TO PUBLIC");
    let wants = [("PGH-PRIV-09", Fails(&["app", "scratch"]))];
    case(cases, c, "database app: GRANT CREATE ON SCHEMA scratch TO PUBLIC", &[], &wants);
    sql_db(c, "app", "DROP SCHEMA scratch");
    mended(cases, c, "schema scratch dropped", &wants);
}

/// An untrusted procedural language in another database than the auditor's.
fn untrusted_language(cases: &mut Cases, c: &Cluster) {
    sql_db(c, "app", "CREATE LANGUAGE evil HANDLER plpgsql_call_handler");
    let trusted = sql_db(c, "app", "SELECT lanpltrusted FROM pg_language WHERE lanname = 'evil'");
    assert_eq!(trusted, "f", "setup: language evil is untrusted");
    let wants = [("PGH-PRIV-14", Fails(&["evil", "app"]))];
    case(cases, c, "database app: untrusted language evil", &[], &wants);
    case(
        cases,
        c,
        "database app: untrusted language evil",
        &["--approved-language", "evil"],
        &[("PGH-PRIV-14", Holds)],
    );
    sql_db(c, "app", "DROP LANGUAGE evil");
    mended(cases, c, "language evil dropped", &wants);
}

/// F1: ldap and gss on hostssl, and gss on hostgssenc, are the methods the STIG names.
fn org_authentication(cases: &mut Cases, c: &Cluster) {
    let path = setting_path(c, "hba_file");
    let original = fs::read_to_string(&path).unwrap();
    let ldap: &[&str] = &[
        "hostssl all all 10.5.0.0/16 ldap ldapserver=ldap.example.com ldapbasedn=\"dc=example,dc=com\" ldaptls=1",
    ];
    let gss: &[&str] = &["hostssl all all 10.7.0.0/16 gss", "hostgssenc all all 10.6.0.0/16 gss"];
    let rules = ["PGH-AUTH-01", "PGH-AUTH-02", "PGH-AUTH-06"];
    for (method, lines, extra_rule) in [("ldap", ldap, None), ("gss", gss, Some("PGH-TLS-01"))] {
        let at =
            original.find("\nhostnossl").expect("setup: apply's pg_hba.conf ends with hostnossl rejects");
        let text = format!("{}\n{}{}", &original[..at], lines.join("\n"), &original[at..]);
        fs::write(&path, text).unwrap();
        reload_ok(c);
        let errors = sql(c, "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL");
        assert_eq!(errors, "0", "setup: the server accepts the {method} lines");
        let loaded =
            sql(c, &format!("SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = '{method}'"));
        assert_eq!(loaded, lines.len().to_string(), "setup: the {method} lines are read");
        let wants: Vec<(&str, Want<'_>)> =
            rules.iter().chain(extra_rule.iter()).map(|r| (*r, NotFail)).collect();
        case(cases, c, &format!("pg_hba.conf {lines:?}"), &[], &wants);
        fs::write(&path, &original).unwrap();
        reload_ok(c);
    }
}
