//! Sessions over a Unix stream connected by someone else, and `requirepeer`, against real servers.
//!
//! pgharden's owner-side helper connects the socket as the cluster owner and passes the
//! descriptor back; here a thread of this process stands in for it, with its own (per-thread,
//! kernel-level) credentials switched to the owner's, so the rest of the process stays root.

#![allow(clippy::unwrap_used)]

use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use pgharden_pgconn::{BlockingClient, Conninfo, Endpoint, Env, Error, Failure};
use pgharden_testcluster::Cluster;
use rustix::thread::{Gid, Uid};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const STARTUP: Duration = Duration::from_secs(10);

/// Connect `socket` from a thread running as `uid`/`gid` (the thread ends, its credentials with it).
fn connect_as(socket: &Path, uid: u32, gid: u32) -> std::io::Result<UnixStream> {
    let socket = socket.to_path_buf();
    std::thread::spawn(move || {
        // Group first: once the uid is not root, the gid can no longer be changed.
        let gid = Gid::from_raw(gid);
        rustix::thread::set_thread_res_gid(gid, gid, gid)?;
        let uid = Uid::from_raw(uid);
        rustix::thread::set_thread_res_uid(uid, uid, uid)?;
        UnixStream::connect(&socket)
    })
    .join()
    .unwrap()
}

/// The single failure of a refused connection.
fn failure(result: Result<BlockingClient, Error>) -> Failure {
    match result {
        Err(Error::Connect(e)) => e.last().unwrap().failure.clone(),
        Err(other) => panic!("expected a connection failure, got {other:?}"),
        Ok(db) => panic!("expected a failure, connected: {:?}", db.info()),
    }
}

#[test]
fn a_stream_connected_elsewhere_carries_the_session() -> TestResult {
    let cluster = Cluster::start_default()?;
    let socket = cluster.socket_path();
    // As root, the test cluster's local authentication is trust.
    let stream = UnixStream::connect(&socket)?;
    let db = BlockingClient::connect_unix_stream(stream, &socket, "postgres", "postgres", STARTUP)?;
    let user: String = db.query_one("SELECT current_user::text", &[])?.get(0);
    assert_eq!(user, "postgres");
    let info = db.info();
    assert_eq!(info.target, Endpoint::Unix { socket: socket.clone() });
    assert!(!info.tls && info.limit_exceeded().is_none());
    // The message limits apply to these sessions too.
    let err = db.query_one("SELECT repeat('x', 5000000)", &[]).unwrap_err();
    assert!(err.to_string().starts_with("the server sent a message of 5000011 bytes (type 'D')"), "{err}");

    // A database that does not exist: the server's error, in libpq's words.
    let stream = UnixStream::connect(&socket)?;
    let err =
        BlockingClient::connect_unix_stream(stream, &socket, "postgres", "nosuchdb", STARTUP).unwrap_err();
    assert_eq!(err.sqlstate(), Some("3D000"), "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "connection to server on socket \"{}\" failed: FATAL:  database \"nosuchdb\" does not exist",
            socket.display()
        )),
        "{err}"
    );
    Ok(())
}

#[test]
fn peer_authentication_sees_whoever_connected_the_stream() -> TestResult {
    let cluster = Cluster::start_default()?;
    let owner = cluster.os_user().clone();
    assert_ne!(owner.uid, 0);
    cluster.write_hba("local all postgres peer\nlocal all all reject\n")?;
    cluster.reload()?;
    let socket = cluster.socket_path();

    let stream = connect_as(&socket, owner.uid, owner.gid)?;
    let db = BlockingClient::connect_unix_stream(stream, &socket, "postgres", "postgres", STARTUP)?;
    let user: String = db.query_one("SELECT current_user::text", &[])?.get(0);
    assert_eq!(user, "postgres");
    // Nothing in this process changed its credentials.
    assert!(nix::unistd::geteuid().is_root() && nix::unistd::getegid().as_raw() == 0);

    // A stream root connected is root's: peer authentication for role postgres fails.
    let stream = UnixStream::connect(&socket)?;
    let err =
        BlockingClient::connect_unix_stream(stream, &socket, "postgres", "postgres", STARTUP).unwrap_err();
    assert_eq!(err.sqlstate(), Some("28000"), "{err}");
    assert!(err.to_string().contains("Peer authentication failed for user \"postgres\""), "{err}");
    Ok(())
}

#[test]
fn startup_over_a_given_stream_is_bounded_in_time() -> TestResult {
    let dir = tempfile::tempdir()?;
    let socket = dir.path().join(".s.PGSQL.5432");
    let listener = UnixListener::bind(&socket)?;
    // Accepts, reads, never answers.
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let _ = std::io::copy(&mut s, &mut std::io::sink());
    });
    let stream = UnixStream::connect(&socket)?;
    let started = Instant::now();
    let result =
        BlockingClient::connect_unix_stream(stream, &socket, "postgres", "postgres", Duration::from_secs(1));
    let took = started.elapsed();
    assert_eq!(failure(result), Failure::Timeout);
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(5), "took {took:?}");
    Ok(())
}

#[test]
fn requirepeer_checks_the_server_account() -> TestResult {
    let cluster = Cluster::start_default()?;
    let owner = cluster.os_user().clone();
    let base = format!(
        "host={} port={} user=postgres dbname=postgres",
        cluster.socket_dir().display(),
        cluster.port()
    );
    let env = Env::new().with_os_user("root");
    let good = Conninfo::parse(&format!("{base} requirepeer={}", owner.name))?.resolve(&env)?;
    assert!(BlockingClient::connect(&good).is_ok());
    let bad = Conninfo::parse(&format!("{base} requirepeer=someone-else"))?.resolve(&env)?;
    assert_eq!(
        failure(BlockingClient::connect(&bad)),
        Failure::Rejected(format!(
            "requirepeer specifies \"someone-else\", but actual peer user name is \"{}\"",
            owner.name
        ))
    );
    Ok(())
}
