//! The owner-side helper: a child process running as another account (the cluster owner, a home's
//! owner) that performs file operations and socket connections for a root caller, with that
//! account's credentials only.
//!
//! Why a process and not a credential switch in this one: the effective uid is process-wide (glibc
//! applies `seteuid` to every thread), so a switch would make every other thread of pgharden run as
//! the owner for a moment; and `SO_PEERCRED`, which peer authentication reads, is taken from the
//! process that calls `connect()`. A child started with the account's uid and gid, no supplementary
//! groups, an empty environment and `/` as its directory holds nothing of root's: no descriptors (all
//! of ours are close-on-exec), no secrets in memory, no terminal. It is this same executable started
//! again through `/proc/self/exe` with [`HELPER_ARG`], which is why every program that uses this
//! crate calls [`serve_if_helper`] first thing in `main`.
//!
//! Owns: starting the helper, the request loop on its side, and the caller's side of one exchange
//! (with a deadline: a helper that stops answering is killed, never waited for forever).
//! Must not: decide what to do (that is the caller's) or how (that is `ops`).

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::account::Account;
use crate::error::{Error, Result};
use crate::ops;
use crate::protocol::{self, Frame, FrameError, Reply, Request};

/// The argument that makes this executable the helper.
pub(crate) const HELPER_ARG: &str = "__pgharden-privsep-helper";

/// How long one request may take the helper.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a helper may take to start and say hello.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// When this process was started as the helper, serve requests until the caller closes the socket
/// and exit; otherwise return at once. Call it first thing in `main`, before anything else runs.
pub fn serve_if_helper() {
    let mut args = std::env::args_os();
    if args.nth(1).as_deref() != Some(std::ffi::OsStr::new(HELPER_ARG)) {
        return;
    }
    std::process::exit(match helper_socket() {
        Ok(sock) => serve(&sock),
        Err(why) => {
            eprintln!("{HELPER_ARG}: {why}; this mode is started by pgharden itself");
            2
        }
    });
}

/// Standard input, which must be the socket the caller gave us.
fn helper_socket() -> std::result::Result<UnixStream, String> {
    let fd = std::io::stdin().as_fd().try_clone_to_owned().map_err(|e| e.to_string())?;
    let st = rustix::fs::fstat(&fd).map_err(|e| e.to_string())?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::Socket {
        return Err("standard input is not a socket".into());
    }
    Ok(UnixStream::from(fd))
}

/// The request loop. Returns the exit code.
fn serve(sock: &UnixStream) -> i32 {
    let hello =
        Reply::Hello { uid: rustix::process::geteuid().as_raw(), gid: rustix::process::getegid().as_raw() };
    if protocol::send(sock, &hello, &[], None).is_err() {
        return 1;
    }
    loop {
        let frame: Frame<Request> = match protocol::recv(sock) {
            Ok(f) => f,
            Err(FrameError::Closed) => return 0,
            Err(_) => return 1,
        };
        let (reply, payload, fd) = handle(frame.header, frame.payload);
        if protocol::send(sock, &reply, &payload, fd.as_ref()).is_err() {
            return 1;
        }
    }
}

/// One request, done with this process's credentials.
fn handle(request: Request, payload: Vec<u8>) -> (Reply, Vec<u8>, Option<OwnedFd>) {
    let done = |r: Result<Reply>| match r {
        Ok(reply) => (reply, Vec::new(), None),
        Err(error) => (Reply::Failed { error }, Vec::new(), None),
    };
    let fd = |r: Result<OwnedFd>| match r {
        Ok(fd) => (Reply::Descriptor, Vec::new(), Some(fd)),
        Err(error) => (Reply::Failed { error }, Vec::new(), None),
    };
    match request {
        Request::Read { path, limit } => match ops::read(&path, limit) {
            Ok(bytes) => (Reply::Bytes, bytes, None),
            Err(error) => done(Err(error)),
        },
        Request::ReadRange { path, offset, limit } => match ops::read_range(&path, offset, limit) {
            Ok((bytes, range)) => (Reply::Range { range }, bytes, None),
            Err(error) => done(Err(error)),
        },
        Request::Stat { path, follow } => done(ops::stat(&path, follow).map(|meta| Reply::Meta { meta })),
        Request::ReadDir { path } => done(ops::read_dir(&path).map(|entries| Reply::Entries { entries })),
        Request::Canonicalize { path } => done(ops::canonicalize(&path).map(|path| Reply::Path { path })),
        Request::ReadLink { path } => done(ops::read_link(&path).map(|path| Reply::Path { path })),
        Request::Replace { path, mode, backup_tag } => done(
            ops::replace(&path, &payload, mode, backup_tag.as_deref())
                .map(|replaced| Reply::Replaced { replaced }),
        ),
        Request::Undo { replaced } => done(ops::undo(&replaced).map(|()| Reply::Done)),
        Request::RemoveTemps { path } => done(ops::remove_temps(&path).map(|count| Reply::Count { count })),
        Request::Mkdir { path, mode } => {
            done(ops::mkdir(&path, mode).map(|created| Reply::Created { created }))
        }
        Request::OpenLock { path } => fd(ops::open_lock(&path).map(OwnedFd::from)),
        Request::ConnectUnix { path } => fd(ops::connect_unix(&path).map(OwnedFd::from)),
        Request::Reload { pid } => done(ops::reload(pid).map(|()| Reply::Done)),
    }
}

/// The caller's handle on a running helper.
pub(crate) struct Helper {
    child: Option<Child>,
    sock: UnixStream,
    account: String,
}

impl std::fmt::Debug for Helper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Helper")
            .field("account", &self.account)
            .field("pid", &self.child.as_ref().map(Child::id))
            .finish()
    }
}

impl Helper {
    /// Start the helper as `account` (the caller must be root) and wait for its hello.
    pub(crate) fn spawn(account: &Account) -> Result<Self> {
        let failed = |reason: String| Error::Helper { account: account.name.clone(), reason };
        let (ours, theirs) = UnixStream::pair().map_err(|e| failed(format!("socketpair: {e}")))?;
        let mut cmd = account.command("/proc/self/exe");
        cmd.arg(HELPER_ARG)
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = cmd.spawn().map_err(|e| {
            let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default();
            failed(format!(
                "could not start {exe} as {} ({e}); the helper is pgharden itself, so the binary must be executable by that account (mode 0755)",
                account.name
            ))
        })?;
        let mut helper = Self { child: Some(child), sock: ours, account: account.name.clone() };
        helper.sock.set_read_timeout(Some(START_TIMEOUT)).map_err(|e| failed(e.to_string()))?;
        match protocol::recv::<Reply>(&helper.sock) {
            Ok(Frame { header: Reply::Hello { uid, gid }, .. })
                if (uid, gid) == (account.uid, account.gid) => {}
            Ok(Frame { header: Reply::Hello { uid, gid }, .. }) => {
                return Err(failed(format!(
                    "it runs as uid {uid} gid {gid}, not {} {}",
                    account.uid, account.gid
                )));
            }
            Ok(_) => return Err(failed("it did not say hello".into())),
            Err(e) => return Err(failed(format!("it did not start: {e}{}", helper.stderr_tail()))),
        }
        helper.sock.set_read_timeout(Some(ANSWER_TIMEOUT)).map_err(|e| failed(e.to_string()))?;
        Ok(helper)
    }

    /// One request and its reply. A helper that fails to answer is stopped for good.
    pub(crate) fn call(&mut self, request: &Request, payload: &[u8]) -> Result<Frame<Reply>> {
        let account = self.account.clone();
        let failed = |reason: String| Error::Helper { account, reason };
        if self.child.is_none() {
            return Err(failed("it was stopped after an earlier failure".into()));
        }
        let answer =
            protocol::send(&self.sock, request, payload, None).and_then(|()| protocol::recv(&self.sock));
        match answer {
            Ok(Frame { header: Reply::Failed { error }, .. }) => Err(error),
            Ok(frame) => Ok(frame),
            Err(e) => {
                let why = match e {
                    FrameError::TimedOut => format!("no answer within {} s", ANSWER_TIMEOUT.as_secs()),
                    other => other.to_string(),
                };
                let tail = self.stop();
                Err(failed(format!("{why}{tail}")))
            }
        }
    }

    /// Whatever the helper wrote to standard error (a panic message), once it has exited.
    fn stderr_tail(&mut self) -> String {
        let Some(mut child) = self.child.take() else { return String::new() };
        finish(&mut child);
        let mut text = String::new();
        if let Some(mut err) = child.stderr.take() {
            let _ = err.by_ref().take(4096).read_to_string(&mut text);
        }
        let text = text.trim();
        if text.is_empty() { String::new() } else { format!(" ({text})") }
    }

    /// Stop the helper; returns what it printed, for the error message.
    fn stop(&mut self) -> String {
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
        self.stderr_tail()
    }
}

/// Wait briefly for a child that was asked to leave, then kill it.
fn finish(child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Helper {
    /// Closing the socket ends the helper's loop.
    fn drop(&mut self) {
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
        if let Some(mut child) = self.child.take() {
            finish(&mut child);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The request loop, in a thread, over a socketpair: the protocol end to end without a
    /// credential switch (the real switch is tested in tests/helper.rs).
    #[test]
    fn the_loop_answers_every_request_kind() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let server = std::thread::spawn(move || serve(&theirs));
        let hello: Frame<Reply> = protocol::recv(&ours).unwrap();
        assert!(matches!(hello.header, Reply::Hello { .. }));
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        let ask = |request: Request, payload: &[u8]| {
            protocol::send(&ours, &request, payload, None).unwrap();
            protocol::recv::<Reply>(&ours).unwrap()
        };
        let r = ask(Request::Replace { path: file.clone(), mode: 0o600, backup_tag: None }, b"hello");
        assert!(matches!(r.header, Reply::Replaced { .. }));
        let r = ask(Request::Read { path: file.clone(), limit: 100 }, &[]);
        assert_eq!(r.payload, b"hello");
        let r = ask(Request::Read { path: file.clone(), limit: 2 }, &[]);
        assert!(matches!(r.header, Reply::Failed { error: Error::TooLarge { .. } }));
        let r = ask(Request::OpenLock { path: tmp.path().join("lock") }, &[]);
        assert!(matches!(r.header, Reply::Descriptor) && r.fds.len() == 1);
        drop(ours);
        assert_eq!(server.join().unwrap(), 0);
    }
}
