//! Messages that tell the truth, as a user meets them: the binary's own output for an audit by a
//! role that may not read every setting, for CONNINFOs that cannot be probed or reached, for a
//! probe's TLS alerts and certificate list, and for a client certificate checked as a server's.

use std::process::{Output, Stdio};

use pgharden_testcluster::Cluster;

use crate::support::{TestPki, pgharden};

fn audit(conninfo: &str) -> (Option<i32>, String) {
    let out = pgharden().args(["audit", conninfo]).stdin(Stdio::null()).output().unwrap();
    (out.status.code(), text(&out))
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A cluster with a plain login role `alice` that TCP connections from loopback admit.
fn cluster_with_alice() -> Cluster {
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    cluster.write_hba("local all all trust\nhost all all 127.0.0.1/32 trust\n").unwrap();
    cluster.reload().unwrap();
    cluster.psql("CREATE ROLE alice LOGIN").unwrap();
    cluster
}

#[test]
fn an_audit_by_a_role_without_pg_read_all_settings_says_what_it_may_not_read() {
    let cluster = cluster_with_alice();
    let conninfo =
        format!("host=127.0.0.1 port={} user=alice dbname=postgres sslmode=disable", cluster.port());
    let (code, out) = audit(&conninfo);
    assert_eq!(code, Some(1), "{out}");
    // The setting exists; the role may not read it (SQLSTATE 42501), and the evidence says so.
    assert!(
        out.contains("ssl_min_protocol_version is not readable by role alice (needs pg_read_all_settings)"),
        "{out}"
    );
    assert!(!out.contains("has no setting ssl_min_protocol_version"), "{out}");
    assert!(!out.contains("has no setting ssl_ciphers"), "{out}");
    // A setting that really is absent (pgaudit not loaded) is still called absent.
    assert!(out.contains("the server has no setting pgaudit.log"), "{out}");
    // Why the files are missing is said once, in words, not as the server's error and query.
    assert_eq!(out.matches("cannot be located").count(), 1, "{out}");
    assert!(
        out.contains(
            "the server's files cannot be located: data_directory is not readable by role alice (needs pg_read_all_settings)"
        ),
        "{out}"
    );
    assert!(!out.contains("[SELECT"), "no query text in the evidence: {out}");
    for line in out.lines() {
        assert!(line.matches("the files were not read").count() <= 1, "{line}");
    }
    // The CONNINFO had a host and a port: the probe ran (and found no TLS), it was not skipped.
    assert!(!out.contains("no network probe was made"), "{out}");
    assert!(out.contains(&format!("127.0.0.1:{} does not offer TLS", cluster.port())), "{out}");
    assert!(
        !out.contains(&format!("127.0.0.1:{0}: the network probe failed: 127.0.0.1:{0}", cluster.port()))
    );

    // The same cluster audited by its superuser: the setting is read, not "hidden".
    let conninfo =
        format!("host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=disable", cluster.port());
    let (_, out) = audit(&conninfo);
    assert!(out.contains("ssl_min_protocol_version = TLSv1.2"), "{out}");
    assert!(!out.contains("pg_read_all_settings"), "{out}");
}

#[test]
fn a_conninfo_with_nothing_listening_says_the_connection_failed() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (code, out) = audit(&format!("host=127.0.0.1 port={port} user=alice sslmode=disable"));
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("the audit reached nothing"), "{out}");
    assert!(out.contains(&format!("port {port} failed: Connection refused")), "{out}");
    assert!(!out.contains("no network probe was made"), "{out}");
}

#[test]
fn a_unix_socket_conninfo_says_how_to_probe() {
    let cluster = cluster_with_alice();
    let conninfo = format!(
        "host={} port={} user=postgres dbname=postgres",
        cluster.socket_dir().display(),
        cluster.port()
    );
    let (_, out) = audit(&conninfo);
    assert!(
        out.contains(
            "no network probe was made (the CONNINFO names no TCP host; give host=NAME port=N to probe)"
        ),
        "{out}"
    );
    assert!(!out.contains("no TCP listener"), "the server does listen on TCP: {out}");
}

#[test]
fn the_probe_names_alerts_in_words_and_says_what_issued_numbers_mean() {
    let pki = TestPki::new("p256");
    let cluster = Cluster::start_default().unwrap();
    crate::support::install_server_tls(&cluster, &pki, "localhost");
    cluster.reload().unwrap();
    let out = pgharden()
        .args(["probe", &format!("localhost:{}", cluster.port()), "--sslrootcert", &pki.p("root/ca.crt")])
        .output()
        .unwrap();
    let out = text(&out);
    // ssl_min_protocol_version = TLSv1.2: the server refuses 1.0 and 1.1 with an alert, named.
    let tls11 =
        out.lines().find(|l| l.trim_start().starts_with("TLSv1.1:")).unwrap_or_else(|| panic!("{out}"));
    assert!(tls11.contains("refused: protocol_version alert"), "{tls11}");
    for debug in ["Alert {", "description:", "Some(", "Err(", "Ok("] {
        assert!(!out.contains(debug), "Rust debug text {debug:?} in: {out}");
    }
    // The intermediate's line says what its numbers are.
    assert!(out.contains("Issuer of:") && out.contains("in this list"), "{out}");
    assert!(!out.lines().any(|l| l.trim_start().starts_with("Issued:")), "{out}");
}

#[test]
fn pki_verify_of_a_client_certificate_says_to_check_it_with_client() {
    let pki = TestPki::new("p256");
    let hint =
        "hint: this is a client certificate (extendedKeyUsage clientAuth); check it as one with --client";
    let out = pki.fails(&["pki", "verify", &pki.p("clients/bob/client.crt")], 1);
    assert!(out.contains("REJECTED"), "{out}");
    assert!(out.contains(hint), "{out}");
    let out = pki.ok(&["pki", "verify", "--client", &pki.p("clients/bob/client.crt")]);
    assert!(!out.contains("hint:"), "{out}");
    // A server certificate checked as a client's gets no such hint, nor one that passes.
    let out = pki.fails(&["pki", "verify", "--client", &pki.p("servers/localhost/server.crt")], 1);
    assert!(!out.contains("hint:"), "{out}");
    let out = pki.ok(&["pki", "verify", &pki.p("servers/localhost/server.crt"), "--host", "localhost"]);
    assert!(!out.contains("hint:"), "{out}");
}
