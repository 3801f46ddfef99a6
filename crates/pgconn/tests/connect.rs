//! Connections to real PostgreSQL servers (testcluster), with certificates made by pgharden-pki at
//! test time. Each test has its own cluster and PKI, so tests may run in parallel.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use pgharden_pgconn::{
    BlockingClient, Conninfo, Env, Error, Failure, LimitExceeded, MAX_RESPONSE, MessageType, SslMode,
    TlsError, Verification, tls::VERIFY_FAILED,
};
use pgharden_pki::{ClientRequest, InitOptions, Issued, KeyType, Pki, Reason, ServerRequest};
use pgharden_testcluster::Cluster;
use tempfile::TempDir;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A running cluster with TLS on, certificates from a fresh PKI, and role `bob` (a client
/// certificate for it). The client's HOME is an empty directory, so no real `~/.postgresql/` or
/// `~/.pgpass` can interfere.
struct Fixture {
    cluster: Cluster,
    pki: Pki,
    pki_dir: PathBuf,
    server: Issued,
    bob: Issued,
    home: TempDir,
    _dir: TempDir,
}

impl Fixture {
    fn start(server_hosts: &[&str]) -> Result<Self, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let pki_dir = dir.path().join("pki");
        let mut pki = Pki::init(&pki_dir, &InitOptions { key_type: KeyType::P256, ..Default::default() })?;
        let hosts = server_hosts.iter().map(|h| (*h).to_owned()).collect();
        let server = pki.issue_server(&ServerRequest { hosts, ..Default::default() }, None)?;
        let bob = pki.issue_client(&ClientRequest { role: "bob".into(), ..Default::default() }, None)?;
        let cluster = Cluster::start_default()?;
        cluster.write_file("server.crt", &fs::read(&server.cert_path)?, 0o600)?;
        cluster.write_file("server.key", &fs::read(&server.key_path)?, 0o600)?;
        cluster.write_file("root.crt", &fs::read(pki_dir.join("root/ca.crt"))?, 0o600)?;
        cluster.write_file("crls.pem", &fs::read(pki_dir.join("crls.pem"))?, 0o600)?;
        cluster.append_conf(
            "ssl = on\nssl_cert_file='server.crt'\nssl_key_file='server.key'\nssl_ca_file='root.crt'\nssl_crl_file='crls.pem'\n",
        )?;
        cluster.psql("CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN PASSWORD 'carol-pw'")?;
        cluster.write_hba("local all all trust\nhostssl all all 127.0.0.1/32 cert\n")?;
        cluster.reload()?;
        Ok(Self { cluster, pki, pki_dir, server, bob, home: tempfile::tempdir()?, _dir: dir })
    }

    fn env(&self) -> Env {
        Env::new().with_os_user("nobody-here").with_home(self.home.path())
    }

    /// A conninfo for `host` with the PKI's root, CRLs and bob's certificate, plus `extra`.
    fn conninfo(&self, host: &str, extra: &str) -> String {
        format!(
            "host={host} port={} user=bob dbname=postgres sslrootcert={} sslcrl={} sslcert={} sslkey={} {extra}",
            self.cluster.port(),
            self.pki_dir.join("root/ca.crt").display(),
            self.pki_dir.join("crls.pem").display(),
            self.bob.cert_path.display(),
            self.bob.key_path.display(),
        )
    }

    fn connect(&self, conninfo: &str) -> Result<BlockingClient, Error> {
        BlockingClient::connect(&Conninfo::parse(conninfo)?.resolve(&self.env())?)
    }

    /// Publish the PKI's current CRLs to the server and reload.
    fn push_crls(&self) -> TestResult {
        self.cluster.write_file("crls.pem", &fs::read(self.pki_dir.join("crls.pem"))?, 0o600)?;
        self.cluster.reload()?;
        Ok(())
    }
}

fn in_ssl(db: &BlockingClient) -> Result<bool, Error> {
    Ok(db.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])?.get(0))
}

/// The single failure of a connection that was refused.
fn failure(result: Result<BlockingClient, Error>) -> Failure {
    match result {
        Err(Error::Connect(e)) => e.last().expect("at least one attempt").failure.clone(),
        Err(other) => panic!("expected a connection failure, got {other:?}"),
        Ok(db) => panic!("expected a failure, connected: {:?}", db.info()),
    }
}

#[test]
fn verify_full_with_client_certificate() -> TestResult {
    let f = Fixture::start(&["localhost", "127.0.0.1"])?;
    // `localhost` may resolve to ::1 first, where nothing listens: the next address is tried.
    for host in ["localhost", "127.0.0.1"] {
        let db = f.connect(&f.conninfo(host, "sslmode=verify-full"))?;
        assert!(in_ssl(&db)?);
        let user: String = db.query_one("SELECT current_user::text", &[])?.get(0);
        assert_eq!(user, "bob");
        let info = db.info();
        assert!(info.tls && info.client_cert_sent);
        assert_eq!(info.verification, Verification::Full);
        // The server saw the client certificate, and its CN is the role.
        let dn: String =
            db.query_one("SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])?.get(0);
        assert!(dn.contains("CN=bob"), "{dn}");
    }
    // Dropped clients said goodbye (Terminate), so the server logged no broken connections.
    let probe = f.connect(&f.conninfo("127.0.0.1", "sslmode=verify-full"))?;
    drop(probe);
    assert!(f.cluster.psql("SELECT 1").is_ok());
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = f.cluster.log();
    assert!(!log.contains("could not receive data from client"), "{log}");
    Ok(())
}

#[test]
fn large_legitimate_results_pass_through_the_limits_and_oversized_ones_do_not() -> TestResult {
    let f = Fixture::start(&["localhost", "127.0.0.1"])?;
    let unix = format!(
        "host={} port={} user=bob dbname=postgres sslmode=disable",
        f.cluster.socket_dir().display(),
        f.cluster.port()
    );
    // Inside TLS (verify-full, the stream framed after the handshake) and in plaintext.
    for conninfo in [f.conninfo("127.0.0.1", "sslmode=verify-full"), unix] {
        let db = f.connect(&conninfo)?;
        // A 3 MB value is one DataRow of a little over 3 MB: under the 4 MiB cap.
        let big: String = db.query_one("SELECT repeat('x', 3000000)", &[])?.get(0);
        assert_eq!(big.len(), 3_000_000);
        // Many rows, 25 MB or so in all: under the response cap.
        let rows = db.query("SELECT g, repeat('y', 100) FROM generate_series(1, 200000) g", &[])?;
        assert_eq!(rows.len(), 200_000);
        assert_eq!(rows[199_999].get::<_, i32>(0), 200_000);
        let simple = db.simple_query("SELECT repeat('z', 3000000)")?;
        let value = simple.iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::len),
            _ => None,
        });
        assert_eq!(value, Some(3_000_000));

        // 5 MB in one value: the DataRow (type, length, column count, value length, value) is
        // 5000011 bytes.
        let err = db.query_one("SELECT repeat('x', 5000000)", &[]).unwrap_err();
        assert_eq!(err, Error::Limit(LimitExceeded::Message { size: 5_000_011, kind: MessageType(b'D') }));
        assert_eq!(
            err.to_string(),
            "the server sent a message of 5000011 bytes (type 'D'); pgharden accepts at most 4 MiB"
        );
        // The connection is closed; later calls say why.
        assert_eq!(db.query_one("SELECT 1", &[]).unwrap_err(), err);

        // 70 rows of 1 MB: each fits, the response does not.
        let db = f.connect(&conninfo)?;
        let err = db.query("SELECT repeat('x', 1000000) FROM generate_series(1, 70)", &[]).unwrap_err();
        match &err {
            Error::Limit(LimitExceeded::Response { size, kind }) => {
                assert!(*size > MAX_RESPONSE && *size < MAX_RESPONSE + 1_100_000, "{size}");
                assert_eq!(*kind, MessageType(b'D'));
            }
            other => panic!("expected the response limit, got {other:?}"),
        }
        // A fresh connection is fine.
        let one: i32 = f.connect(&conninfo)?.query_one("SELECT 1", &[])?.get(0);
        assert_eq!(one, 1);
    }
    Ok(())
}

#[test]
fn verify_full_name_mismatch_uses_libpqs_message_and_verify_ca_passes() -> TestResult {
    let f = Fixture::start(&["localhost"])?;
    let refused = failure(f.connect(&f.conninfo("127.0.0.1", "sslmode=verify-full")));
    assert_eq!(
        refused,
        Failure::Certificate {
            // The CN (also "localhost") is the other name: an IP host with only DNS SANs falls
            // back to the CN in libpq.
            message: "server certificate for \"localhost\" (and 1 other name) does not match host name \"127.0.0.1\""
                .into(),
            reason: None
        }
    );
    // hostaddr does not stand in for host in the name check: host=localhost matches.
    let db = f.connect(&f.conninfo("localhost", "hostaddr=127.0.0.1 sslmode=verify-full"))?;
    assert!(in_ssl(&db)?);
    // verify-ca checks only the chain.
    let db = f.connect(&f.conninfo("127.0.0.1", "sslmode=verify-ca"))?;
    assert!(in_ssl(&db)?);
    assert_eq!(db.info().verification, Verification::Chain);
    Ok(())
}

#[test]
fn sslmodes_against_hostnossl_reject() -> TestResult {
    let f = Fixture::start(&["localhost", "127.0.0.1"])?;
    f.cluster.write_hba(
        "local all all trust\nhostnossl all all 127.0.0.1/32 reject\nhostssl all all 127.0.0.1/32 trust\n",
    )?;
    f.cluster.reload()?;
    let plain = format!("host=127.0.0.1 port={} user=bob dbname=postgres", f.cluster.port());

    let err = f.connect(&format!("{plain} sslmode=disable")).unwrap_err();
    assert_eq!(err.sqlstate(), Some("28000"), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "connection to server at \"127.0.0.1\", port {} failed: FATAL:  ",
            f.cluster.port()
        )),
        "{text}"
    );
    assert!(text.contains("pg_hba.conf rejects connection") && text.contains("no encryption"), "{text}");

    // prefer: the server says S, TLS without verification.
    let db = f.connect(&format!("{plain} sslmode=prefer"))?;
    assert!(in_ssl(&db)? && db.info().tls);
    assert_eq!(db.info().verification, Verification::None);
    // allow: plaintext first, refused, then TLS.
    let db = f.connect(&format!("{plain} sslmode=allow"))?;
    assert!(in_ssl(&db)?);
    assert_eq!(db.info().earlier_attempts.len(), 1);
    assert!(!db.info().earlier_attempts[0].tls);
    // Over the Unix socket no TLS is used, whatever sslmode says.
    let sock = format!(
        "host={} port={} user=bob dbname=postgres sslmode=require",
        f.cluster.socket_dir().display(),
        f.cluster.port()
    );
    let db = f.connect(&sock)?;
    assert!(!db.info().tls);
    Ok(())
}

#[test]
fn prefer_falls_back_to_plaintext_when_the_tls_session_is_refused() -> TestResult {
    let f = Fixture::start(&["localhost"])?;
    f.cluster.write_hba(
        "local all all trust\nhostssl all all 127.0.0.1/32 reject\nhostnossl all all 127.0.0.1/32 trust\n",
    )?;
    f.cluster.reload()?;
    let db = f.connect(&format!(
        "host=127.0.0.1 port={} user=bob dbname=postgres sslmode=prefer",
        f.cluster.port()
    ))?;
    assert!(!in_ssl(&db)?);
    let earlier = &db.info().earlier_attempts;
    assert_eq!(earlier.len(), 1);
    assert!(earlier[0].tls);
    assert!(matches!(&earlier[0].failure, Failure::Server { sqlstate, .. } if sqlstate == "28000"));
    Ok(())
}

#[test]
fn revoked_client_certificate_is_refused_once_the_server_has_the_crl() -> TestResult {
    let mut f = Fixture::start(&["localhost", "127.0.0.1"])?;
    let conninfo = f.conninfo("localhost", "sslmode=verify-full");
    assert!(in_ssl(&f.connect(&conninfo)?)?);
    f.pki.revoke(&f.bob.entry.serial, Reason::KeyCompromise, None)?;
    // The server still has the old CRL.
    assert!(f.connect(&conninfo).is_ok());
    f.push_crls()?;
    let refused = failure(f.connect(&conninfo));
    match &refused {
        Failure::Tls(message) => assert!(message.contains("certificate revoked"), "{message}"),
        other => panic!("expected a TLS alert, got {other:?}"),
    }
    // PostgreSQL 15 logs only OpenSSL's summary, possibly after the client has seen the alert.
    let needle = "could not accept SSL connection: certificate verify failed";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !f.cluster.log().contains(needle) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(f.cluster.log().contains(needle), "{}", f.cluster.log());
    Ok(())
}

#[test]
fn client_crl_listing_the_server_certificate_fails_verify_full() -> TestResult {
    let mut f = Fixture::start(&["localhost", "127.0.0.1"])?;
    let conninfo = f.conninfo("127.0.0.1", "sslmode=verify-full");
    assert!(f.connect(&conninfo).is_ok());
    f.pki.revoke(&f.server.entry.serial, Reason::KeyCompromise, None)?;
    let refused = failure(f.connect(&conninfo));
    assert_eq!(
        refused,
        Failure::Certificate { message: VERIFY_FAILED.into(), reason: Some("certificate revoked".into()) }
    );
    // Without a CRL (and no ~/.postgresql/root.crl) revocation is not checked, as in libpq.
    let without = format!(
        "host=127.0.0.1 port={} user=bob dbname=postgres sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
        f.cluster.port(),
        f.pki_dir.join("root/ca.crt").display(),
        f.bob.cert_path.display(),
        f.bob.key_path.display()
    );
    assert!(f.connect(&without).is_ok());
    Ok(())
}

#[test]
fn crl_checking_covers_the_whole_chain() -> TestResult {
    let f = Fixture::start(&["localhost", "127.0.0.1"])?;
    // A CRL file with only the server CA's CRL: the root's own CRL is missing, which OpenSSL
    // (CRL_CHECK_ALL) refuses.
    let partial = f.home.path().join("server-ca-only.pem");
    fs::copy(f.pki_dir.join("server-ca/crl.pem"), &partial)?;
    let conninfo = f.conninfo("127.0.0.1", "sslmode=verify-full").replace(
        &format!("sslcrl={}", f.pki_dir.join("crls.pem").display()),
        &format!("sslcrl={}", partial.display()),
    );
    let refused = failure(f.connect(&conninfo));
    assert_eq!(
        refused,
        Failure::Certificate {
            message: VERIFY_FAILED.into(),
            reason: Some("unable to get certificate CRL".into())
        }
    );
    Ok(())
}

#[test]
fn require_verifies_the_chain_when_a_root_file_exists() -> TestResult {
    let f = Fixture::start(&["localhost"])?;
    f.cluster.write_hba("local all all trust\nhostssl all all 127.0.0.1/32 trust\n")?;
    f.cluster.reload()?;
    let base = format!("host=127.0.0.1 port={} user=bob dbname=postgres sslmode=require", f.cluster.port());
    // No ~/.postgresql/root.crt: any certificate is accepted.
    let db = f.connect(&base)?;
    assert_eq!(db.info().verification, Verification::None);
    // A root.crt from another PKI: require now verifies the chain, and fails.
    let other_dir = f.home.path().join("other-pki");
    Pki::init(&other_dir, &InitOptions { key_type: KeyType::P256, ..Default::default() })?;
    let dot = f.home.path().join(".postgresql");
    fs::create_dir(&dot)?;
    fs::copy(other_dir.join("root/ca.crt"), dot.join("root.crt"))?;
    let refused = failure(f.connect(&base));
    assert_eq!(
        refused,
        Failure::Certificate {
            message: VERIFY_FAILED.into(),
            reason: Some("unable to get local issuer certificate".into())
        }
    );
    // The right root makes require behave like verify-ca.
    fs::copy(f.pki_dir.join("root/ca.crt"), dot.join("root.crt"))?;
    let db = f.connect(&base)?;
    assert_eq!(db.info().verification, Verification::Chain);
    Ok(())
}

#[test]
fn key_file_permissions_follow_libpq() -> TestResult {
    let f = Fixture::start(&["localhost", "127.0.0.1"])?;
    let key = f.home.path().join("bob.key");
    fs::copy(&f.bob.key_path, &key)?;
    let conninfo = f
        .conninfo("127.0.0.1", "sslmode=verify-full")
        .replace(&format!("sslkey={}", f.bob.key_path.display()), &format!("sslkey={}", key.display()));
    let owner = f.cluster.os_user();
    let as_user = |mode: u32, uid: u32, gid: u32| -> TestResult {
        fs::set_permissions(&key, fs::Permissions::from_mode(mode))?;
        std::os::unix::fs::chown(&key, Some(uid), Some(gid))?;
        Ok(())
    };
    // Group-readable and owned by an ordinary user: refused with libpq's words.
    as_user(0o640, owner.uid, owner.gid)?;
    let err = f.connect(&conninfo).unwrap_err();
    assert_eq!(err, Error::Tls(TlsError::KeyPermissions(key.clone())));
    assert_eq!(
        err.to_string(),
        format!(
            "private key file \"{}\" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root",
            key.display()
        )
    );
    // World-readable and owned by root: refused too.
    as_user(0o644, 0, 0)?;
    assert_eq!(f.connect(&conninfo).unwrap_err(), Error::Tls(TlsError::KeyPermissions(key.clone())));
    // Root-owned 0640 is libpq's exception (system-wide keys read through a group).
    as_user(0o640, 0, 0)?;
    assert!(in_ssl(&f.connect(&conninfo)?)?);
    // A missing key next to a present certificate.
    let missing = conninfo.replace(&key.display().to_string(), "/nonexistent/bob.key");
    assert_eq!(
        f.connect(&missing).unwrap_err().to_string(),
        "certificate present, but not private key file \"/nonexistent/bob.key\""
    );
    Ok(())
}

#[test]
fn encrypted_pkcs8_key_with_sslpassword() -> TestResult {
    let f = Fixture::start(&["localhost", "127.0.0.1"])?;
    let (pair, _) = pgharden_pki::key::load_key(&f.bob.key_path, None)?;
    let pass = pgharden_pki::Passphrase::new("correct horse battery")?;
    let encrypted = f.home.path().join("bob-encrypted.key");
    fs::write(&encrypted, pgharden_pki::key::key_pem(&pair, Some(&pass))?.as_bytes())?;
    fs::set_permissions(&encrypted, fs::Permissions::from_mode(0o600))?;
    let conninfo = f
        .conninfo("127.0.0.1", "sslmode=verify-full")
        .replace(&format!("sslkey={}", f.bob.key_path.display()), &format!("sslkey={}", encrypted.display()));
    let db = f.connect(&format!("{conninfo} sslpassword='correct horse battery'"))?;
    assert!(db.info().client_cert_sent && in_ssl(&db)?);
    for (extra, reason) in [
        ("sslpassword=wrong", "bad decrypt (wrong sslpassword?)"),
        ("", "the key is encrypted and no sslpassword was given"),
    ] {
        let err = f.connect(&format!("{conninfo} {extra}")).unwrap_err();
        assert_eq!(err, Error::Tls(TlsError::LoadKey { path: encrypted.clone(), reason: reason.into() }));
        assert!(!format!("{err} {err:?}").contains("correct horse"));
    }
    Ok(())
}

#[test]
fn password_file_and_password_errors() -> TestResult {
    let f = Fixture::start(&["localhost"])?;
    f.cluster.write_hba("local all all trust\nhost all carol 127.0.0.1/32 scram-sha-256\n")?;
    f.cluster.reload()?;
    let port = f.cluster.port();
    let base = format!("host=127.0.0.1 port={port} user=carol dbname=postgres sslmode=disable");
    let pgpass = f.home.path().join(".pgpass");
    fs::write(&pgpass, format!("127.0.0.1:{port}:*:carol:carol-pw\n"))?;
    fs::set_permissions(&pgpass, fs::Permissions::from_mode(0o600))?;
    let db = f.connect(&base)?;
    let user: String = db.query_one("SELECT current_user::text", &[])?.get(0);
    assert_eq!(user, "carol");
    // A wrong explicit password beats the file: 28P01.
    let err = f.connect(&format!("{base} password=wrong")).unwrap_err();
    assert_eq!(err.sqlstate(), Some("28P01"), "{err}");
    assert!(!err.to_string().contains("wrong"));
    Ok(())
}

#[test]
fn unreachable_hosts_are_reported_in_order() -> TestResult {
    let settings =
        Conninfo::parse("host=/nonexistent-dir,127.0.0.1 port=1 user=u sslmode=disable connect_timeout=5")?
            .resolve(&Env::new())?;
    assert_eq!(settings.sslmode, SslMode::Disable);
    let err = BlockingClient::connect(&settings).unwrap_err();
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "connection to server on socket \"/nonexistent-dir/.s.PGSQL.1\" failed: No such file or directory"
    );
    assert_eq!(lines[1], "\tIs the server running locally and accepting connections on that socket?");
    assert_eq!(lines[2], "connection to server at \"127.0.0.1\", port 1 failed: Connection refused");
    assert_eq!(lines[3], "\tIs the server running on that host and accepting TCP/IP connections?");
    Ok(())
}

#[test]
fn verify_full_without_root_file_is_refused_before_connecting() -> TestResult {
    let home = tempfile::tempdir()?;
    let settings = Conninfo::parse("host=127.0.0.1 port=1 user=u sslmode=verify-full")?
        .resolve(&Env::new().with_home(home.path()))?;
    let err = BlockingClient::connect(&settings).unwrap_err();
    let expected: PathBuf = home.path().join(".postgresql/root.crt");
    assert_eq!(err, Error::Tls(TlsError::RootCertMissing(expected.clone())));
    assert!(
        err.to_string()
            .starts_with(&format!("root certificate file \"{}\" does not exist\n", expected.display()))
    );
    Ok(())
}
