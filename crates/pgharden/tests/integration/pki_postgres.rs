//! The PKI against a real PostgreSQL 15 server and psql/libpq: verify-full with a client certificate
//! through `cert` authentication, a pg_ident map for a CN that is not the role, and revocation.

use std::fs;

use pgharden_testcluster::Cluster;

use crate::support::{Psql, TestPki, install_server_tls, psql};

const HBA: &str = "\
local all postgres trust
hostssl all all 127.0.0.1/32 cert clientcert=verify-full map=pgh
hostnossl all all 0.0.0.0/0 reject
";

const IDENT: &str = "\
pgh bob bob
pgh alice@example.com alice
";

fn mtls_cluster(pki: &TestPki) -> Cluster {
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    install_server_tls(&cluster, pki, "localhost");
    cluster.write_hba(HBA).unwrap();
    cluster.write_ident(IDENT).unwrap();
    reload(&cluster);
    cluster.psql("CREATE ROLE bob LOGIN; CREATE ROLE alice LOGIN;").unwrap();
    cluster
}

/// `ssl = on` and every `ssl_*` file are reloadable; the harness reports a file the server rejected.
pub(crate) fn reload(cluster: &Cluster) {
    cluster.reload().unwrap_or_else(|e| panic!("reload failed: {e}\n{}", cluster.log()));
}

fn connect(cluster: &Cluster, pki: &TestPki, user: &str, cert_of: &str, sslmode: &str) -> Psql {
    let conninfo = format!(
        "host=127.0.0.1 port={} dbname=postgres user={user} sslmode={sslmode} sslrootcert={} sslcrl={} sslcert={} sslkey={}",
        cluster.port(),
        pki.p("root/ca.crt"),
        pki.p("crls.pem"),
        pki.p(&format!("{cert_of}.crt")),
        pki.p(&format!("{cert_of}.key")),
    );
    psql(
        cluster,
        &conninfo,
        "SELECT current_user, ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )
}

fn mutual_tls_works_end_to_end(key_type: &str) {
    let pki = TestPki::new(key_type);
    let cluster = mtls_cluster(&pki);

    let bob = connect(&cluster, &pki, "bob", "clients/bob/client", "verify-full");
    assert!(bob.ok, "{key_type}: bob must connect: {}\n{}", bob.stderr, cluster.log());
    assert!(bob.stdout.starts_with("bob|t|TLSv1."), "{key_type}: {}", bob.stdout);

    let alice = connect(&cluster, &pki, "alice", "clients/alice/client", "verify-full");
    assert!(
        alice.ok && alice.stdout.starts_with("alice|t|"),
        "{key_type}: CN alice@example.com maps to alice: {alice:?}"
    );

    let stolen = connect(&cluster, &pki, "alice", "clients/bob/client", "verify-full");
    assert!(!stolen.ok, "{key_type}: bob's certificate must not log in as alice");
    assert!(
        stolen.stderr.contains("certificate authentication failed for user \"alice\""),
        "{}",
        stolen.stderr
    );

    let plain = connect(&cluster, &pki, "bob", "clients/bob/client", "disable");
    assert!(
        !plain.ok && plain.stderr.contains("no encryption"),
        "{key_type}: plaintext must be refused: {}",
        plain.stderr
    );

    let server_as_client = connect(&cluster, &pki, "bob", "servers/localhost/server", "verify-full");
    assert!(!server_as_client.ok, "{key_type}: a server certificate is not a client certificate");

    pki.ok(&["pki", "revoke", "--cert", &pki.p("clients/bob/client.crt")]);
    cluster.write_file("crls.pem", &fs::read(pki.path("crls.pem")).unwrap(), 0o600).unwrap();
    reload(&cluster);
    let revoked = connect(&cluster, &pki, "bob", "clients/bob/client", "verify-full");
    assert!(!revoked.ok, "{key_type}: a revoked certificate must be refused");
    assert!(revoked.stderr.contains("certificate revoked"), "{key_type}: {}", revoked.stderr);
    let alice = connect(&cluster, &pki, "alice", "clients/alice/client", "verify-full");
    assert!(alice.ok, "{key_type}: alice is unaffected by bob's revocation: {}", alice.stderr);
}

#[test]
fn mutual_tls_with_p384_certificates() {
    mutual_tls_works_end_to_end("p384");
}

#[test]
fn mutual_tls_with_ed25519_certificates() {
    mutual_tls_works_end_to_end("ed25519");
}

#[test]
fn mutual_tls_with_rsa2048_certificates() {
    mutual_tls_works_end_to_end("rsa2048");
}

/// TLS without a client certificate is refused by a `cert` line.
#[test]
fn tls_without_a_client_certificate_is_refused() {
    let pki = TestPki::new("p256");
    let cluster = mtls_cluster(&pki);
    let conninfo = format!(
        "host=127.0.0.1 port={} dbname=postgres user=bob sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
        cluster.port(),
        pki.p("root/ca.crt"),
        pki.tmp.path().join("none.crt").display(),
        pki.tmp.path().join("none.key").display(),
    );
    let out = psql(&cluster, &conninfo, "SELECT 1");
    assert!(!out.ok, "a connection without a certificate must fail");
    assert!(out.stderr.contains("connection requires a valid client certificate"), "{}", out.stderr);
}

/// `pgharden client` installs ~/.postgresql/ for a role, and the connection string it prints works
/// with nothing else: libpq finds the certificate, key, root and CRLs there by itself.
#[test]
fn client_files_in_home_let_psql_connect_with_the_printed_string() {
    use std::os::unix::fs::MetadataExt;

    let pki = TestPki::new("p384");
    let cluster = mtls_cluster(&pki);
    let home = pki.tmp.path().join("home");
    fs::create_dir(&home).unwrap();
    let out = crate::support::pgharden()
        .args(["client", "--pki", &pki.p(""), "--role", "bob", "--host", "127.0.0.1"])
        .args(["--port", &cluster.port().to_string()])
        .env("HOME", &home)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let uri = text.lines().find_map(|l| l.trim().strip_prefix("psql '")).unwrap().trim_end_matches('\'');
    assert_eq!(uri, format!("postgresql://bob@127.0.0.1:{}/postgres?sslmode=verify-full", cluster.port()));
    for f in ["root.crt", "postgresql.crt", "postgresql.key", "root.crl"] {
        assert_eq!(crate::support::mode(&home.join(".postgresql").join(f)), 0o600, "{f}");
    }
    let psql = cluster
        .psql_command()
        .env("HOME", &home)
        .args([
            "-X",
            "-A",
            "-t",
            "-d",
            uri,
            "-c",
            "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ])
        .output()
        .unwrap();
    assert!(psql.status.success(), "{}", String::from_utf8_lossy(&psql.stderr));
    assert_eq!(String::from_utf8_lossy(&psql.stdout).trim(), "bob|t");

    // Installing for another account (as root): the files belong to the home's owner.
    let other = pki.tmp.path().join("other");
    fs::create_dir(&other).unwrap();
    let uid = cluster.os_user().uid;
    std::os::unix::fs::chown(&other, Some(uid), Some(cluster.os_user().gid)).unwrap();
    let out = crate::support::run(&[
        "client",
        "--pki",
        &pki.p(""),
        "--role",
        "alice",
        "--home",
        other.to_str().unwrap(),
        "--host",
        "127.0.0.1",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("sslrootcert="), "a foreign home needs explicit paths: {stdout}");
    assert_eq!(fs::metadata(other.join(".postgresql/postgresql.key")).unwrap().uid(), uid);
}
