//! Peer authentication as the cluster owner while running as root.
//!
//! In a test binary of its own: switching the effective uid affects every thread of the process,
//! and other tests running concurrently as root could see permission errors during the switch.

use pgharden_pgconn::{BlockingClient, Conninfo, Env, Failure};
use testcluster::Cluster;

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn peer_connection_as_the_cluster_owner() -> TestResult {
    if !nix::unistd::geteuid().is_root() {
        // The switch needs root; CI runs as root, where this test is meaningful.
        eprintln!("skipped: not running as root");
        return Ok(());
    }
    let cluster = Cluster::start_default()?;
    let owner = cluster.os_user().clone();
    assert_ne!(owner.uid, 0);
    cluster.write_hba("local all postgres peer\nlocal all all reject\n")?;
    cluster.reload()?;

    let db = BlockingClient::connect_unix_as_os_user(
        cluster.socket_dir(),
        cluster.port(),
        "postgres",
        owner.uid,
        owner.gid,
        "postgres",
    )?;
    let user: String = db.query_one("SELECT current_user::text", &[])?.get(0);
    assert_eq!(user, "postgres");
    // The process is root again.
    assert!(nix::unistd::geteuid().is_root() && nix::unistd::getegid().as_raw() == 0);

    // As root itself, peer authentication for role postgres fails.
    let settings = Conninfo::parse(&format!(
        "host={} port={} user=postgres dbname=postgres",
        cluster.socket_dir().display(),
        cluster.port()
    ))?
    .resolve(&Env::new().with_os_user("root"))?;
    let err = BlockingClient::connect(&settings).unwrap_err();
    assert_eq!(err.sqlstate(), Some("28000"), "{err}");
    assert!(err.to_string().contains("Peer authentication failed for user \"postgres\""), "{err}");
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
    match BlockingClient::connect(&bad) {
        Err(pgharden_pgconn::Error::Connect(e)) => assert_eq!(
            e.last().map(|a| a.failure.clone()),
            Some(Failure::Rejected(format!(
                "requirepeer specifies \"someone-else\", but actual peer user name is \"{}\"",
                owner.name
            )))
        ),
        other => panic!("expected a requirepeer refusal, got {other:?}"),
    }
    Ok(())
}
