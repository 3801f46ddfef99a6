//! [`Actor`]: file operations and socket connections done as one account — in this process when it
//! already is that account, else by an owner-side helper process (which only root can start).
//!
//! Owns: choosing between the two, and turning helper replies back into typed results (checking
//! every descriptor the helper hands over: a lock must be a regular file, a connection a socket).
//! Must not: decide which files to touch; policy (which directories may be written) is the
//! caller's.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::account::Account;
use crate::error::{Error, Result};
use crate::helper::Helper;
use crate::meta::{FileKind, Meta};
use crate::ops::{self, Entry, Range, Replaced};
use crate::protocol::{Frame, Reply, Request};

/// Acts as one account.
#[derive(Debug)]
pub struct Actor {
    account: Account,
    /// `None`: this process is the account.
    helper: Option<Mutex<Helper>>,
}

impl Actor {
    /// Act as `account`: directly when this process runs as it, through a helper started as it when
    /// this process is root, and not at all otherwise.
    pub fn new(account: Account) -> Result<Self> {
        if account.is_current() {
            return Ok(Self { account, helper: None });
        }
        if !rustix::process::geteuid().is_root() {
            return Err(Error::Helper {
                account: account.name.clone(),
                reason: format!(
                    "acting as another account needs root, and pgharden runs as {}; run it as root or as {}",
                    Account::current().name,
                    account.name
                ),
            });
        }
        let helper = Helper::spawn(&account)?;
        Ok(Self { account, helper: Some(Mutex::new(helper)) })
    }

    /// Act as this process's own account.
    pub fn current() -> Self {
        Self { account: Account::current(), helper: None }
    }

    /// The account acted as.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// Whether a helper process does the work (this process is root acting for someone else).
    pub fn is_separate(&self) -> bool {
        self.helper.is_some()
    }

    fn call(&self, helper: &Mutex<Helper>, request: Request, payload: &[u8]) -> Result<Frame<Reply>> {
        let mut helper = helper.lock().unwrap_or_else(|p| p.into_inner());
        helper.call(&request, payload)
    }

    fn unexpected(&self, reply: &Reply) -> Error {
        Error::Helper { account: self.account.name.clone(), reason: format!("unexpected answer {reply:?}") }
    }

    /// The whole content of a regular file of at most `limit` bytes (links followed).
    pub fn read(&self, path: &Path, limit: u64) -> Result<Vec<u8>> {
        let Some(helper) = &self.helper else { return ops::read(path, limit) };
        let frame = self.call(helper, Request::Read { path: path.into(), limit }, &[])?;
        match frame.header {
            Reply::Bytes if frame.payload.len() as u64 <= limit => Ok(frame.payload),
            other => Err(self.unexpected(&other)),
        }
    }

    /// At most `limit` bytes of a regular file from `offset`.
    pub fn read_range(&self, path: &Path, offset: u64, limit: u64) -> Result<(Vec<u8>, Range)> {
        let Some(helper) = &self.helper else { return ops::read_range(path, offset, limit) };
        let frame = self.call(helper, Request::ReadRange { path: path.into(), offset, limit }, &[])?;
        match frame.header {
            Reply::Range { range } if frame.payload.len() as u64 <= limit => Ok((frame.payload, range)),
            other => Err(self.unexpected(&other)),
        }
    }

    /// `stat` (`follow`) or `lstat`; `None` when nothing is there.
    pub fn stat(&self, path: &Path, follow: bool) -> Result<Option<Meta>> {
        let Some(helper) = &self.helper else { return ops::stat(path, follow) };
        match self.call(helper, Request::Stat { path: path.into(), follow }, &[])?.header {
            Reply::Meta { meta } => Ok(meta),
            other => Err(self.unexpected(&other)),
        }
    }

    /// The entries of a directory, with what each is after following links.
    pub fn read_dir(&self, path: &Path) -> Result<Vec<Entry>> {
        let Some(helper) = &self.helper else { return ops::read_dir(path) };
        match self.call(helper, Request::ReadDir { path: path.into() }, &[])?.header {
            Reply::Entries { entries } if entries.len() <= ops::MAX_ENTRIES => Ok(entries),
            other => Err(self.unexpected(&other)),
        }
    }

    /// `realpath`, as the account sees it.
    pub fn canonicalize(&self, path: &Path) -> Result<PathBuf> {
        let Some(helper) = &self.helper else { return ops::canonicalize(path) };
        match self.call(helper, Request::Canonicalize { path: path.into() }, &[])?.header {
            Reply::Path { path } => Ok(path),
            other => Err(self.unexpected(&other)),
        }
    }

    /// The target of the symbolic link `path` (not followed further), as the account sees it:
    /// `/proc/PID/cwd` and `/proc/PID/exe` of the account's own processes need no privilege.
    pub fn read_link(&self, path: &Path) -> Result<PathBuf> {
        let Some(helper) = &self.helper else { return ops::read_link(path) };
        match self.call(helper, Request::ReadLink { path: path.into() }, &[])?.header {
            Reply::Path { path } => Ok(path),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Atomically replace or create the regular file `path`, never through a link; with
    /// `backup_tag` the old content is kept as `NAME.pgharden-TAG`.
    pub fn replace(
        &self,
        path: &Path,
        bytes: &[u8],
        mode: u32,
        backup_tag: Option<&str>,
    ) -> Result<Replaced> {
        let Some(helper) = &self.helper else { return ops::replace(path, bytes, mode, backup_tag) };
        let request =
            Request::Replace { path: path.into(), mode, backup_tag: backup_tag.map(str::to_string) };
        match self.call(helper, request, bytes)?.header {
            Reply::Replaced { replaced } if replaced.path == path => Ok(replaced),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Undo a [`Actor::replace`].
    pub fn undo(&self, replaced: &Replaced) -> Result<()> {
        let Some(helper) = &self.helper else { return ops::undo(replaced) };
        match self.call(helper, Request::Undo { replaced: replaced.clone() }, &[])?.header {
            Reply::Done => Ok(()),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Remove temp files an interrupted replace left in `dir`.
    pub fn remove_temps(&self, dir: &Path) -> Result<usize> {
        let Some(helper) = &self.helper else { return ops::remove_temps(dir) };
        match self.call(helper, Request::RemoveTemps { path: dir.into() }, &[])?.header {
            Reply::Count { count } => Ok(count),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Create a directory with exactly `mode`; `false` when a real directory is already there.
    pub fn mkdir(&self, path: &Path, mode: u32) -> Result<bool> {
        let Some(helper) = &self.helper else { return ops::mkdir(path, mode) };
        match self.call(helper, Request::Mkdir { path: path.into(), mode }, &[])?.header {
            Reply::Created { created } => Ok(created),
            other => Err(self.unexpected(&other)),
        }
    }

    /// A descriptor for the regular file `path` (created 0600 if missing), to lock.
    pub fn open_lock(&self, path: &Path) -> Result<File> {
        let Some(helper) = &self.helper else { return ops::open_lock(path) };
        let fd = self.descriptor(helper, Request::OpenLock { path: path.into() }, path, FileKind::Regular)?;
        Ok(File::from(fd))
    }

    /// A Unix stream socket connected to `path` by the account, so the server it reaches sees the
    /// account as its peer.
    pub fn connect_unix(&self, path: &Path) -> Result<UnixStream> {
        let Some(helper) = &self.helper else { return ops::connect_unix(path) };
        let fd =
            self.descriptor(helper, Request::ConnectUnix { path: path.into() }, path, FileKind::Socket)?;
        Ok(UnixStream::from(fd))
    }

    /// Send SIGHUP to `pid` with the account's credentials (only its own processes can get it).
    pub fn reload(&self, pid: i32) -> Result<()> {
        let Some(helper) = &self.helper else { return ops::reload(pid) };
        match self.call(helper, Request::Reload { pid }, &[])?.header {
            Reply::Done => Ok(()),
            other => Err(self.unexpected(&other)),
        }
    }

    /// A request answered with a descriptor of the `kind` expected.
    fn descriptor(
        &self,
        helper: &Mutex<Helper>,
        request: Request,
        path: &Path,
        kind: FileKind,
    ) -> Result<OwnedFd> {
        let mut frame = self.call(helper, request, &[])?;
        match (&frame.header, frame.fds.len()) {
            (Reply::Descriptor, 1) => {}
            (other, _) => return Err(self.unexpected(other)),
        }
        let fd = frame.fds.remove(0);
        let meta = ops::fd_meta(&fd, path)?;
        if meta.kind != kind {
            return Err(Error::Helper {
                account: self.account.name.clone(),
                reason: format!("handed over a {} for {}, not a {kind}", meta.kind, path.display()),
            });
        }
        Ok(fd)
    }
}
