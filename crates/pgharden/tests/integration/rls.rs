//! `pgharden rls label` and `pgharden rls check` against real PostgreSQL 15 clusters, on the STIG
//! supplement's Appendix D schema: after labelling, bob and alice each see exactly their row (the
//! Appendix D results), `check` reports the same, unknown and NULL labels hide rows without failing
//! queries, labelling twice is the same as once, the owner is filtered too, and names that need
//! quotes work.

use std::process::Output;

use pgharden_testcluster::Cluster;
use serde_json::{Value, json};

use crate::support::pgharden;

/// Appendix D's setup, minus its policy (that is what `label` installs).
const APPENDIX_D: &str = "
CREATE TABLE accounts (id SERIAL PRIMARY KEY, name TEXT NOT NULL,
    phone_number TEXT NOT NULL, security_label TEXT);
CREATE ROLE unclassified;
CREATE ROLE classified;
CREATE ROLE bob LOGIN IN GROUP unclassified;
CREATE ROLE alice LOGIN IN GROUP classified;
INSERT INTO accounts(name, phone_number, security_label) VALUES ('bob', '123-456-7890', 'unclassified');
INSERT INTO accounts(name, phone_number, security_label) VALUES ('alice', '098-765-4321', 'classified');
GRANT SELECT ON accounts TO classified;
GRANT SELECT ON accounts TO unclassified;
";

const BOB_ROW: &str = "1|bob|123-456-7890|unclassified";
const ALICE_ROW: &str = "2|alice|098-765-4321|classified";

fn appendix_d() -> Cluster {
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    cluster.psql(APPENDIX_D).unwrap();
    cluster
}

/// A CONNINFO over the private socket, where initdb's trust authentication lets any role in.
fn conninfo(cluster: &Cluster, user: &str) -> String {
    format!("host={} port={} user={user} dbname=postgres", cluster.socket_dir().display(), cluster.port())
}

/// psql logged in as `user`; `extra` are psql options (`-A -t` for bare rows).
fn psql_as(cluster: &Cluster, user: &str, extra: &[&str], sql: &str) -> String {
    let out = cluster
        .psql_command()
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .args(extra)
        .args(["-d", &conninfo(cluster, user), "-c", sql])
        .output()
        .unwrap();
    assert!(out.status.success(), "psql as {user}: {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The rows `user` sees, one `a|b|c` line each.
fn rows_as(cluster: &Cluster, user: &str, table: &str) -> String {
    psql_as(cluster, user, &["-A", "-t"], &format!("SELECT * FROM {table} ORDER BY 1")).trim().to_string()
}

fn rls(args: &[&str]) -> Output {
    pgharden().arg("rls").args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn label(cluster: &Cluster, table: &str, column: &str) -> Value {
    let out = rls(&["label", &conninfo(cluster, "postgres"), "--table", table, "--column", column, "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn check(cluster: &Cluster, table: &str) -> (Option<i32>, Value) {
    let out = rls(&["check", &conninfo(cluster, "postgres"), "--table", table, "--json"]);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    (out.status.code(), report)
}

/// label → member → rows, from a check report.
fn seen(report: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for l in report["labels"].as_array().unwrap() {
        for m in l["members"].as_array().unwrap() {
            out.push((
                l["label"].as_str().unwrap().into(),
                m["role"].as_str().unwrap().into(),
                m["rows"].clone(),
            ));
        }
    }
    out
}

#[test]
fn appendix_d_results_hold_for_bob_and_alice() {
    let cluster = appendix_d();
    let out =
        rls(&["label", &conninfo(&cluster, "postgres"), "--table", "accounts", "--column", "security_label"]);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    assert!(printed.contains("ALTER TABLE \"public\".\"accounts\" FORCE ROW LEVEL SECURITY"), "{printed}");
    assert!(printed.contains("pg_has_role"), "{printed}");

    // The Appendix D results, each logged in as the role itself.
    assert_eq!(rows_as(&cluster, "bob", "accounts"), BOB_ROW);
    assert_eq!(rows_as(&cluster, "alice", "accounts"), ALICE_ROW);
    // And with SET ROLE inside a superuser's session, as Appendix D does it.
    assert_eq!(
        cluster.psql("SET ROLE bob; SELECT current_user; SELECT * FROM accounts; RESET ROLE").unwrap(),
        format!("bob\n{BOB_ROW}")
    );

    let (code, report) = check(&cluster, "accounts");
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["table"], "public.accounts");
    assert_eq!(report["column"], "security_label");
    assert_eq!((report["enabled"].clone(), report["forced"].clone()), (json!(true), json!(true)));
    assert_eq!(report["problems"], json!([]));
    assert_eq!(
        report["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect::<Vec<_>>(),
        ["id", "name", "phone_number", "security_label"]
    );
    assert_eq!(
        seen(&report),
        [
            ("classified".into(), "alice".into(), json!([["2", "alice", "098-765-4321", "classified"]])),
            ("unclassified".into(), "bob".into(), json!([["1", "bob", "123-456-7890", "unclassified"]])),
        ]
    );

    // The text report is the results table: each member's rows exactly as psql prints them.
    let out = rls(&["check", &conninfo(&cluster, "postgres"), "--table", "public.accounts"]);
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(0), "{printed}");
    for user in ["bob", "alice"] {
        let table = psql_as(&cluster, user, &[], "SELECT * FROM accounts ORDER BY 1");
        assert!(printed.contains(&format!("current_user: {user}\n{table}")), "{printed}\n---\n{table}");
    }
}

#[test]
fn a_label_naming_no_role_or_null_hides_the_row_without_failing() {
    let cluster = appendix_d();
    cluster
        .psql(
            "INSERT INTO accounts(name, phone_number, security_label) VALUES ('eve', '555-0100', 'no_such_role');
             INSERT INTO accounts(name, phone_number, security_label) VALUES ('nobody', '555-0101', NULL);
             CREATE ROLE secret;
             CREATE ROLE dave LOGIN IN ROLE secret;
             INSERT INTO accounts(name, phone_number, security_label) VALUES ('dave', '555-0102', 'secret');",
        )
        .unwrap();
    label(&cluster, "accounts", "security_label");

    assert_eq!(rows_as(&cluster, "bob", "accounts"), BOB_ROW);
    assert_eq!(rows_as(&cluster, "alice", "accounts"), ALICE_ROW);
    assert_eq!(cluster.psql("SELECT count(*) FROM accounts").unwrap(), "5", "the superuser sees every row");

    let (code, report) = check(&cluster, "accounts");
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(
        report["hidden"],
        json!([{"label": null, "rows": 1}, {"label": "no_such_role", "rows": 1}]),
        "{report:#}"
    );
    // secret was never granted SELECT: dave's query fails, and that is dave's result, not the check's.
    let dave =
        &report["labels"].as_array().unwrap().iter().find(|l| l["label"] == "secret").unwrap()["members"][0];
    assert_eq!(dave["role"], "dave");
    assert_eq!(dave["rows"], json!([]));
    assert_eq!(dave["error"], "dave has no SELECT privilege on public.accounts");
}

#[test]
fn labelling_twice_is_labelling_once_and_the_owner_is_filtered_too() {
    let cluster = appendix_d();
    cluster.psql("CREATE ROLE app LOGIN; ALTER TABLE accounts OWNER TO app").unwrap();
    assert_eq!(rows_as(&cluster, "app", "accounts").lines().count(), 2, "the owner sees all before");

    // Labelled by the owner itself, with SQL's folding of an unquoted name.
    for run in 0..2 {
        let out = rls(&[
            "label",
            &conninfo(&cluster, "app"),
            "--table",
            "Public.Accounts",
            "--column",
            "Security_Label",
            "--json",
        ]);
        assert!(out.status.success(), "{}", text(&out));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["replaced"], json!(run == 1), "{report:#}");
        assert_eq!(report["was_forced"], json!(run == 1), "{report:#}");
        assert_eq!(report["statements"].as_array().unwrap().len(), 5);
    }
    assert_eq!(
        cluster
            .psql(
                "SELECT count(*), bool_and(c.relrowsecurity AND c.relforcerowsecurity) \
                 FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relname = 'accounts'"
            )
            .unwrap(),
        "1|t"
    );
    assert_eq!(
        rows_as(&cluster, "app", "accounts"),
        "",
        "FORCE: the owner sees no row it is not cleared for"
    );
    cluster.psql("GRANT unclassified TO app").unwrap();
    assert_eq!(rows_as(&cluster, "app", "accounts"), BOB_ROW);
    assert_eq!(rows_as(&cluster, "alice", "accounts"), ALICE_ROW);
    let (code, report) = check(&cluster, "accounts");
    assert_eq!(code, Some(0), "{report:#}");
    let unclassified: Vec<_> =
        seen(&report).into_iter().filter(|(l, _, _)| l == "unclassified").map(|(_, m, _)| m).collect();
    assert_eq!(unclassified, ["app", "bob"]);
}

#[test]
fn names_that_need_quotes_work() {
    let cluster = Cluster::start_default().unwrap();
    cluster
        .psql(
            r#"CREATE SCHEMA "Sales Dept";
               CREATE TABLE "Sales Dept"."Top Secret Accounts" (id int PRIMARY KEY, name text, "Security Label" varchar(40));
               CREATE ROLE "Top Secret";
               CREATE ROLE "Carol O'Hara" LOGIN IN ROLE "Top Secret";
               CREATE ROLE bob LOGIN;
               GRANT USAGE ON SCHEMA "Sales Dept" TO PUBLIC;
               GRANT SELECT ON "Sales Dept"."Top Secret Accounts" TO PUBLIC;
               INSERT INTO "Sales Dept"."Top Secret Accounts" VALUES
                   (1, 'carol', 'Top Secret'), (2, 'bob', 'bob'), (3, 'lower', 'top secret');"#,
        )
        .unwrap();
    let table = r#""Sales Dept"."Top Secret Accounts""#;
    let report = label(&cluster, table, r#""Security Label""#);
    assert_eq!(report["table"], r#""Sales Dept"."Top Secret Accounts""#);
    assert_eq!(report["column"], "Security Label");

    let carol = cluster
        .psql(&format!(r#"SET ROLE "Carol O'Hara"; SELECT * FROM {table} ORDER BY 1; RESET ROLE"#))
        .unwrap();
    assert_eq!(carol, "1|carol|Top Secret");
    // A label may name a login role directly: that role sees its own rows.
    assert_eq!(rows_as(&cluster, "bob", table), "2|bob|bob");

    let (code, report) = check(&cluster, table);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(
        seen(&report),
        [
            ("Top Secret".into(), "Carol O'Hara".into(), json!([["1", "carol", "Top Secret"]])),
            ("bob".into(), "bob".into(), json!([["2", "bob", "bob"]])),
        ]
    );
    assert_eq!(report["hidden"], json!([{"label": "top secret", "rows": 1}]));
}

#[test]
fn check_finds_a_permissive_policy_that_widens_the_labels() {
    let cluster = appendix_d();
    label(&cluster, "accounts", "security_label");
    cluster.psql("CREATE POLICY everyone ON accounts FOR SELECT USING (true)").unwrap();
    let (code, report) = check(&cluster, "accounts");
    assert_eq!(code, Some(1), "{report:#}");
    let problems = report["problems"].to_string();
    assert!(problems.contains("everyone"), "{problems}");
    assert!(problems.contains("bob sees rows labelled classified"), "{problems}");
    assert!(problems.contains("alice sees rows labelled unclassified"), "{problems}");

    cluster
        .psql("DROP POLICY everyone ON accounts; ALTER TABLE accounts NO FORCE ROW LEVEL SECURITY")
        .unwrap();
    let (code, report) = check(&cluster, "accounts");
    assert_eq!(code, Some(1));
    assert!(report["problems"].to_string().contains("not forced"), "{report:#}");
}

#[test]
fn mistakes_are_named() {
    let cluster = appendix_d();
    let c = conninfo(&cluster, "postgres");
    let fails = |args: &[&str], needle: &str| {
        let out = rls(args);
        let printed = text(&out);
        assert_eq!(out.status.code(), Some(2), "{printed}");
        assert!(printed.contains(needle), "{needle:?} not in: {printed}");
    };
    fails(&["label", &c, "--table", "acounts", "--column", "security_label"], r#"no table "acounts""#);
    fails(&["label", &c, "--table", "nope.accounts", "--column", "x"], r#"in schema "nope""#);
    fails(
        &["label", &c, "--table", "accounts", "--column", "label"],
        r#"no column "label" (its columns: "id", "name", "phone_number", "security_label")"#,
    );
    fails(&["label", &c, "--table", "accounts", "--column", "id"], "must be a text type");
    fails(&["label", &c, "--table", "Top Secret", "--column", "x"], r#"'"Top Secret"'"#);
    fails(&["check", &c, "--table", "accounts"], "run `pgharden rls label`");
    cluster.psql("CREATE VIEW v AS SELECT * FROM accounts").unwrap();
    fails(&["label", &c, "--table", "v", "--column", "security_label"], "public.v is a view");
    // Nothing was half done.
    assert_eq!(cluster.psql("SELECT relrowsecurity FROM pg_class WHERE relname = 'accounts'").unwrap(), "f");
}
