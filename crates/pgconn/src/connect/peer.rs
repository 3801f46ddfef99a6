//! Unix-socket sessions over a stream someone else connected, and libpq's `requirepeer`.
//!
//! Owns: [`connect_unix_stream`], the startup (no TLS, no password: `peer` or `trust`
//! authentication) over an already-connected Unix stream, and the `requirepeer` check of the
//! server's credentials.
//!
//! Why someone else connects: the server learns who is connecting from `SO_PEERCRED`, which the
//! kernel fills in from the credentials of the process that called `connect()`, and never
//! updates afterwards. To log in through a `local … peer` line as the cluster's owner while
//! pgharden runs as root, a helper process running as the owner connects the socket and passes
//! the descriptor back (SCM_RIGHTS); the session is then run here, in the root process, with the
//! owner's identity fixed on the socket. Nothing in this process changes its credentials.
//! Must not: open the socket itself for these sessions (that would make the peer root), or switch
//! the process's uid or gid.

use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::Path;
use std::time::Duration;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use nix::unistd::{Uid, User};
use tokio::net::UnixStream;
use tokio_postgres::{Client, Config};

use super::{Connected, Opened, Session, plain_session};
use crate::conninfo::Verification;
use crate::error::{Attempt, ConnectError, Endpoint, Error, Failure};

/// Startup (no TLS, no password: peer or trust authentication) over a Unix stream someone else
/// connected, as role `role` to database `dbname`. `socket` is the path the stream was connected
/// to; it is used only in messages and [`Connected::target`]. `timeout` covers the whole startup
/// (a zero timeout fails at once); the message and response limits apply as to every connection.
/// Must be called within a tokio runtime, which runs the connection's I/O task.
pub async fn connect_unix_stream(
    stream: StdUnixStream,
    socket: &Path,
    role: &str,
    dbname: &str,
    timeout: Duration,
) -> Result<(Client, Connected), Error> {
    let opened = connect_unix_stream_with_task(stream, socket, role, dbname, timeout).await?;
    Ok((opened.client, opened.info))
}

pub(crate) async fn connect_unix_stream_with_task(
    stream: StdUnixStream,
    socket: &Path,
    role: &str,
    dbname: &str,
    timeout: Duration,
) -> Result<Opened, Error> {
    let target = Endpoint::Unix { socket: socket.to_path_buf() };
    let failed = |failure: Failure| -> Error {
        ConnectError { attempts: vec![Attempt { target: target.clone(), tls: false, failure }] }.into()
    };
    // tokio needs the descriptor non-blocking; a blocking one would stall the runtime.
    stream.set_nonblocking(true).map_err(|e| failed(Failure::Io(e.to_string())))?;
    let stream = UnixStream::from_std(stream).map_err(|e| failed(Failure::Io(e.to_string())))?;
    let mut config = Config::new();
    config.user(role).dbname(dbname).ssl_mode(tokio_postgres::config::SslMode::Disable);
    let session: Session = match tokio::time::timeout(timeout, plain_session(&config, stream)).await {
        Err(_) => return Err(failed(Failure::Timeout)),
        Ok(Err((_, failure))) => return Err(failed(failure)),
        Ok(Ok(session)) => session,
    };
    let info = Connected {
        target,
        tls: false,
        verification: Verification::None,
        client_cert_sent: false,
        earlier_attempts: Vec::new(),
        warnings: Vec::new(),
        limits: session.limits.clone(),
    };
    Ok(Opened { client: session.client, task: session.task, info })
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
