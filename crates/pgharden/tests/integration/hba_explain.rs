//! `pgharden hba explain` against real servers: for each described connection, the line it names
//! must be the one the server uses — psql connects or is refused with the very message explain
//! predicts — and its line numbers (and, on 16+, included files) are the server's own
//! (`pg_hba_file_rules`).

use std::process::Stdio;

use pgharden_testcluster::{Cluster, ClusterOptions, Installation};
use serde_json::Value;

use crate::support::{TestPki, install_server_tls, pgharden, psql};

/// `pgharden hba explain --pgdata DIR ARGS --json`: the exit code and the document.
fn explain(cluster: &Cluster, args: &[&str]) -> (i32, Value) {
    let out = pgharden()
        .args(["hba", "explain", "--pgdata", cluster.data_dir().to_str().unwrap(), "--json"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), doc)
}

/// The explanation of line `n` of the root file.
fn line(doc: &Value, n: u64) -> &Value {
    doc["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["line"] == n)
        .unwrap_or_else(|| panic!("no line {n}: {doc:#}"))
}

fn tcp(cluster: &Cluster, user: &str, db: &str, sslmode: &str) -> String {
    format!(
        "host=127.0.0.1 port={} user={user} dbname={db} sslmode={sslmode} connect_timeout=10",
        cluster.port()
    )
}

#[test]
fn explain_names_the_line_the_server_uses() {
    let pki = TestPki::new("p256");
    let mut cluster = Cluster::start_default().unwrap();
    install_server_tls(&cluster, &pki, "localhost");
    cluster
        .psql(
            "CREATE ROLE alice LOGIN; CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN; CREATE ROLE admins; \
               GRANT admins TO carol; CREATE DATABASE app;",
        )
        .unwrap();
    let su = cluster.superuser().to_owned();
    cluster
        .write_hba(&format!(
            "hostssl certdb all 127.0.0.1/32 cert\n\
             local all {su} peer\n\
             host all alice 127.0.0.1/32 trust\n\
             hostssl all alice 127.0.0.1/32 reject\n\
             host app all 127.0.0.1/32 reject\n\
             host all +admins 127.0.0.1/32 reject\n\
             host all all 127.0.0.1/32 trust\n\
             host all bob 127.0.0.1/32 reject\n\
             hostssl postgres bob 10.0.0.0/8 trust\n\
             hostnossl postgres bob 10.0.0.0/8 reject\n\
             host postgres bob 10.0.0.0/8 scram-sha-256\n"
        ))
        .unwrap();
    cluster.reload().unwrap();

    // The line numbers are the server's.
    let server_lines = cluster
        .psql("SELECT string_agg(line_number::text, ',' ORDER BY line_number) FROM pg_hba_file_rules WHERE error IS NULL")
        .unwrap();
    let (_, doc) = explain(&cluster, &["--user", "bob", "--address", "127.0.0.1"]);
    let mine: Vec<String> = doc["lines"].as_array().unwrap().iter().map(|l| l["line"].to_string()).collect();
    assert_eq!(mine.join(","), server_lines);
    // Unreachable: the hostssl line behind the host line, the line after `all all`, and the host
    // line that a hostssl and a hostnossl line leave nothing to.
    let shadowed: Vec<(u64, Vec<u64>)> = doc["shadowed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let by = s["by"].as_array().unwrap().iter().map(|b| b["line"].as_u64().unwrap()).collect();
            (s["line"].as_u64().unwrap(), by)
        })
        .collect();
    assert_eq!(shadowed, [(4, vec![3]), (8, vec![7]), (11, vec![9, 10])], "{doc:#}");
    assert!(doc["problems"].as_array().unwrap().is_empty(), "{doc:#}");

    // bob to postgres: `all all` takes it; the reject line for bob is never reached.
    let (code, doc) =
        explain(&cluster, &["--user", "bob", "--database", "postgres", "--address", "127.0.0.1"]);
    assert_eq!(
        (code, &doc["outcome"], &doc["matched"]["line"]),
        (0, &"authenticate".into(), &7.into()),
        "{doc:#}"
    );
    assert_eq!(line(&doc, 8)["would_also_match"], true, "{doc:#}");
    assert!(line(&doc, 3)["reason"].as_str().unwrap().contains("user bob is not in alice"), "{doc:#}");
    assert!(line(&doc, 2)["reason"].as_str().unwrap().contains("local line"), "{doc:#}");
    assert!(
        line(&doc, 4)["reason"].as_str().unwrap().contains("hostssl fits TLS connections only"),
        "{doc:#}"
    );
    assert!(line(&doc, 5)["reason"].as_str().unwrap().contains("database postgres is not in app"), "{doc:#}");
    assert!(psql(&cluster, &tcp(&cluster, "bob", "postgres", "disable"), "SELECT 1").ok);

    // alice over TLS: the host line takes it before the hostssl reject line, so psql gets in.
    let (code, doc) =
        explain(&cluster, &["--user", "alice", "--database", "postgres", "--address", "127.0.0.1", "--ssl"]);
    assert_eq!((code, &doc["matched"]["line"], &doc["method"]), (0, &3.into(), &"trust".into()), "{doc:#}");
    assert_eq!(line(&doc, 4)["verdict"], "not_tried");
    assert_eq!(line(&doc, 4)["would_also_match"], true, "{doc:#}");
    let tls = psql(
        &cluster,
        &tcp(&cluster, "alice", "postgres", "require"),
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    );
    assert_eq!((tls.ok, tls.stdout.as_str()), (true, "t"), "{}", tls.stderr);

    // bob to app: the reject line, with the server's own words.
    let (code, doc) = explain(&cluster, &["--user", "bob", "--database", "app", "--address", "127.0.0.1"]);
    assert_eq!((code, &doc["outcome"], &doc["matched"]["line"]), (1, &"reject".into(), &5.into()), "{doc:#}");
    let said = psql(&cluster, &tcp(&cluster, "bob", "app", "disable"), "SELECT 1");
    assert!(!said.ok);
    assert!(said.stderr.contains(doc["server_message"].as_str().unwrap()), "{said:?} vs {doc:#}");

    // carol is a member of admins (the server says so), so line 6 rejects her.
    let (code, doc) =
        explain(&cluster, &["--user", "carol", "--database", "postgres", "--address", "127.0.0.1"]);
    assert_eq!(
        (code, &doc["matched"]["line"], &doc["membership"]["source"]),
        (1, &6.into(), &"server".into())
    );
    let said = psql(&cluster, &tcp(&cluster, "carol", "postgres", "disable"), "SELECT 1");
    assert!(!said.ok && said.stderr.contains(doc["server_message"].as_str().unwrap()), "{said:?} vs {doc:#}");

    // The superuser is no member of admins as pg_hba.conf counts it (pg_has_role would say it is).
    let (code, doc) = explain(&cluster, &["--user", &su, "--database", "postgres", "--address", "127.0.0.1"]);
    assert_eq!((code, &doc["matched"]["line"]), (0, &7.into()), "{doc:#}");
    assert!(line(&doc, 6)["reason"].as_str().unwrap().contains("+admins"), "{doc:#}");
    assert!(psql(&cluster, &tcp(&cluster, &su, "postgres", "disable"), "SELECT 1").ok);

    // alice through the socket: no line fits; psql (as root, asking for alice) hears the same.
    let (code, doc) = explain(&cluster, &["--user", "alice", "--database", "postgres"]);
    assert_eq!((code, &doc["outcome"]), (1, &"implicit_reject".into()), "{doc:#}");
    let socket =
        format!("host={} port={} user=alice dbname=postgres", cluster.socket_dir().display(), cluster.port());
    let said = psql(&cluster, &socket, "SELECT 1");
    assert!(!said.ok && said.stderr.contains(doc["server_message"].as_str().unwrap()), "{said:?} vs {doc:#}");

    // A physical replication connection: `all` does not take it, and the server says so its way.
    let (code, doc) = explain(&cluster, &["--user", "bob", "--address", "127.0.0.1", "--replication"]);
    assert_eq!((code, &doc["outcome"]), (1, &"implicit_reject".into()), "{doc:#}");
    assert!(line(&doc, 7)["reason"].as_str().unwrap().contains("replication keyword"), "{doc:#}");
    let said = psql(
        &cluster,
        &format!("{} replication=true", tcp(&cluster, "bob", "postgres", "disable")),
        "SELECT 1",
    );
    assert!(!said.ok && said.stderr.contains(doc["server_message"].as_str().unwrap()), "{said:?} vs {doc:#}");

    // A cert line and a TLS client without a certificate: refused there, later lines not tried.
    let (code, doc) =
        explain(&cluster, &["--user", "bob", "--database", "certdb", "--address", "127.0.0.1", "--ssl"]);
    assert_eq!(
        (code, &doc["outcome"], &doc["matched"]["line"]),
        (1, &"certificate_required".into(), &1.into())
    );
    let said = psql(&cluster, &tcp(&cluster, "bob", "certdb", "require"), "SELECT 1");
    assert!(!said.ok && said.stderr.contains(doc["server_message"].as_str().unwrap()), "{said:?} vs {doc:#}");
    let (code, doc) =
        explain(&cluster, &["--user", "bob", "--database", "certdb", "--address", "127.0.0.1", "--cert"]);
    assert_eq!((code, &doc["method"], doc["connection"]["ssl"].as_bool()), (0, &"cert".into(), Some(true)));

    // The text form says the same, and teaches.
    let out = pgharden()
        .args(["hba", "explain", "--pgdata", cluster.data_dir().to_str().unwrap()])
        .args(["--user", "alice", "--database", "postgres", "--address", "127.0.0.1", "--ssl"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("Result: line 3 decides: trust authentication"), "{text}");
    assert!(text.contains("would match too, but line 3 takes the connection first"), "{text}");
    assert!(
        text.contains("shadowed by line 3  host all alice 127.0.0.1/32 trust (a host line takes"),
        "{text}"
    );
    assert!(text.contains("taken between line 9 and line 10"), "{text}");

    // Stopped: membership cannot be asked, so carol's fate is undecidable, and says why.
    cluster.stop().unwrap();
    let (code, doc) =
        explain(&cluster, &["--user", "carol", "--database", "postgres", "--address", "127.0.0.1"]);
    assert_eq!(
        (code, &doc["outcome"], &doc["membership"]["source"]),
        (1, &"undecidable".into(), &"unknown".into())
    );
    assert_eq!(line(&doc, 6)["verdict"], "undecidable", "{doc:#}");
    assert!(line(&doc, 6)["reason"].as_str().unwrap().contains("admins"), "{doc:#}");
}

#[test]
fn explain_follows_include_files_on_16() {
    let install = Installation::for_major(16)
        .unwrap_or_else(|e| panic!("PostgreSQL 16 must be installed (scripts/postgres-versions): {e}"));
    let cluster = Cluster::start(ClusterOptions::new(install)).unwrap();
    cluster.psql("CREATE ROLE alice LOGIN").unwrap();
    let extra = cluster
        .write_file("hba_extra.conf", b"# included\nhost all alice 127.0.0.1/32 reject\n", 0o600)
        .unwrap();
    let su = cluster.superuser().to_owned();
    cluster
        .write_hba(&format!("local all {su} peer\ninclude hba_extra.conf\nhost all all 127.0.0.1/32 trust\n"))
        .unwrap();
    cluster.reload().unwrap();
    let server = cluster
        .psql("SELECT file_name || ':' || line_number FROM pg_hba_file_rules WHERE auth_method = 'reject'")
        .unwrap();

    let (code, doc) =
        explain(&cluster, &["--user", "alice", "--database", "postgres", "--address", "127.0.0.1"]);
    assert_eq!(
        (code, &doc["outcome"], doc["includes_followed"].as_bool()),
        (1, &"reject".into(), Some(true))
    );
    let matched = format!("{}:{}", doc["matched"]["file"].as_str().unwrap(), doc["matched"]["line"]);
    assert_eq!(matched, server, "{doc:#}");
    assert_eq!(matched, format!("{}:2", extra.display()));
    assert!(doc["problems"].as_array().unwrap().is_empty(), "{doc:#}");
    let said = psql(&cluster, &tcp(&cluster, "alice", "postgres", "disable"), "SELECT 1");
    assert!(!said.ok && said.stderr.contains(doc["server_message"].as_str().unwrap()), "{said:?} vs {doc:#}");
    // The included line comes before the root file's last line, which alice never reaches.
    let (_, bob) = explain(&cluster, &["--user", "bob", "--database", "postgres", "--address", "127.0.0.1"]);
    assert_eq!(bob["matched"]["line"], 3, "{bob:#}");
}
