//! Unix-socket peer credentials: connecting *as* another OS user, and libpq's `requirepeer`.
//!
//! Owns: [`connect_unix_as_os_user`], which lets pgharden (running as root) log in through a
//! `local … peer` line as the cluster's owner — the way `sudo -u postgres psql` would, but without
//! a child process — and the `requirepeer` check of the server's credentials.
//!
//! Why the effective uid: the server learns who is connecting from `SO_PEERCRED`, which the kernel
//! fills in from the connecting process's *effective* credentials at the moment of `connect()`,
//! and never updates afterwards. So we switch the effective gid and uid to the cluster owner, call
//! `connect()`, and switch straight back; the socket keeps the owner's identity for its whole life
//! while the process returns to root within microseconds. The alternatives are worse: a forked
//! helper would need to pass the descriptor back over another socket, and a thread cannot change
//! only its own credentials through glibc (glibc applies `seteuid` to every thread).
//!
//! Must not: do anything but `connect()` while switched. The effective uid is process-wide, so a
//! global mutex serialises switches, and other threads briefly run as the cluster owner too —
//! callers should not run file operations that need root concurrently (the tests that use this
//! live in their own test binary for that reason).

use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::Path;
use std::sync::Mutex;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use nix::unistd::{Gid, Uid, User, getegid, geteuid, setegid, seteuid};
use tokio::net::UnixStream;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Config, NoTls};

use super::{Connected, connect_failure, pg_failure, start};
use crate::conninfo::Verification;
use crate::error::{Attempt, ConnectError, Error, Failure, Target};

/// Serialises effective-uid switches: the uid is process-wide state.
static EUID_SWITCH: Mutex<()> = Mutex::new(());

/// Connect to the server at `socket_dir`/`.s.PGSQL.port` as role `role`, with the socket's peer
/// credentials those of `os_uid`/`os_gid` (so `peer` authentication sees that OS user). Needs
/// root, unless the ids are the process's own. No TLS (Unix socket), no password.
pub async fn connect_unix_as_os_user(
    socket_dir: &Path,
    port: u16,
    role: &str,
    os_uid: u32,
    os_gid: u32,
    dbname: &str,
) -> Result<(Client, Connected), Error> {
    let (client, _task, info) =
        connect_unix_as_os_user_with_task(socket_dir, port, role, os_uid, os_gid, dbname).await?;
    Ok((client, info))
}

pub(crate) async fn connect_unix_as_os_user_with_task(
    socket_dir: &Path,
    port: u16,
    role: &str,
    os_uid: u32,
    os_gid: u32,
    dbname: &str,
) -> Result<(Client, JoinHandle<()>, Connected), Error> {
    let socket = socket_dir.join(format!(".s.PGSQL.{port}"));
    let target = Target::Unix { socket: socket.clone() };
    let failed = |failure: Failure| -> Error {
        ConnectError { attempts: vec![Attempt { target: target.clone(), tls: false, failure }] }.into()
    };
    let std_stream = connect_as(&socket, os_uid, os_gid)?.map_err(|e| failed(connect_failure(&e, true)))?;
    std_stream.set_nonblocking(true).map_err(|e| failed(Failure::Io(e.to_string())))?;
    let stream = UnixStream::from_std(std_stream).map_err(|e| failed(Failure::Io(e.to_string())))?;
    let mut config = Config::new();
    config.user(role).dbname(dbname).ssl_mode(tokio_postgres::config::SslMode::Disable);
    let (client, task) =
        start(&config, stream, NoTls).await.map_err(|e| failed(pg_failure(&e, false, None)))?;
    let info = Connected {
        target,
        tls: false,
        verification: Verification::None,
        client_cert_sent: false,
        earlier_attempts: Vec::new(),
        warnings: Vec::new(),
    };
    Ok((client, task, info))
}

/// `connect()` with the effective ids switched to `uid`/`gid`. The outer `Result` is about the
/// switch, the inner one about the connection.
fn connect_as(socket: &Path, uid: u32, gid: u32) -> Result<std::io::Result<StdUnixStream>, Error> {
    let _guard = EUID_SWITCH.lock().unwrap_or_else(|p| p.into_inner());
    let (my_uid, my_gid) = (geteuid(), getegid());
    if my_uid.as_raw() == uid && my_gid.as_raw() == gid {
        return Ok(StdUnixStream::connect(socket));
    }
    let refused = |what: &str, e: nix::errno::Errno| {
        Error::Credentials(format!(
            "could not switch the effective {what} to {} ({e}); connecting as another OS user needs root",
            if what == "uid" { uid } else { gid }
        ))
    };
    // Group first: once the uid is not root, the gid can no longer be changed.
    setegid(Gid::from_raw(gid)).map_err(|e| refused("gid", e))?;
    if let Err(e) = seteuid(Uid::from_raw(uid)) {
        restore(my_uid, my_gid);
        return Err(refused("uid", e));
    }
    let result = StdUnixStream::connect(socket);
    restore(my_uid, my_gid);
    Ok(result)
}

/// Switch back. This cannot fail: `seteuid` left the saved set-user-ID at its original value, and
/// a process may always set its effective uid to its saved one. Should it fail anyway, the process
/// would go on as the cluster owner, so it is aborted rather than left in that state (a panic
/// could be caught and ignored).
fn restore(uid: Uid, gid: Gid) {
    if seteuid(uid).is_err() || setegid(gid).is_err() {
        eprintln!("pgharden: could not restore the effective uid/gid after a peer connection; aborting");
        std::process::abort();
    }
}

/// libpq's `requirepeer`: the server process must run as this OS user.
pub(super) fn check_requirepeer(stream: &UnixStream, expected: &str) -> Result<(), Failure> {
    let creds = getsockopt(stream, PeerCredentials)
        .map_err(|e| Failure::Rejected(format!("could not get peer credentials: {e}")))?;
    let uid = creds.uid();
    let name = match User::from_uid(Uid::from_raw(uid)) {
        Ok(Some(user)) => user.name,
        Ok(None) => {
            return Err(Failure::Rejected(format!(
                "could not look up local user ID {uid}: user does not exist"
            )));
        }
        Err(e) => return Err(Failure::Rejected(format!("could not look up local user ID {uid}: {e}"))),
    };
    if name == expected {
        Ok(())
    } else {
        Err(Failure::Rejected(format!(
            "requirepeer specifies \"{expected}\", but actual peer user name is \"{name}\""
        )))
    }
}
