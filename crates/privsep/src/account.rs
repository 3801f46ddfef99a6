//! OS accounts, and starting programs as one of them with a clean environment.
//!
//! Owns: looking an account up (by the owner of a path, by name, or this process's own), and the
//! [`Command`] every program pgharden starts for an account is built from: that account's uid and
//! gid (and no supplementary groups) when pgharden runs as root, a fixed minimal environment — never
//! the caller's, which holds root's secrets (`PGHARDEN_CA_PASSPHRASE`, `PGPASSWORD`) — and `/` as the
//! working directory. Must not: decide which programs to run.

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::unistd::{Uid, User};
use serde::Serialize;

use crate::error::{Error, Result};

/// The search path of every started program: system directories only.
pub const CLEAN_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// An OS account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Login name (the uid in decimal when the account has no passwd entry).
    pub name: String,
    /// Numeric user id: what the kernel compares, and what files are owned by.
    pub uid: u32,
    /// Primary group (from the passwd entry; the file's group when there is none).
    pub gid: u32,
    /// Home directory, when the passwd entry names one.
    pub home: Option<PathBuf>,
}

impl Account {
    /// The account that owns `path` (following a link the operator named).
    pub fn of_path(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, &e))?;
        Ok(Self::by_uid(meta.uid(), meta.gid()))
    }

    /// The account with this uid; `gid` is used when it has no passwd entry.
    pub fn by_uid(uid: u32, gid: u32) -> Self {
        match User::from_uid(Uid::from_raw(uid)) {
            Ok(Some(user)) => Self::from_user(user),
            _ => Self { name: uid.to_string(), uid, gid, home: None },
        }
    }

    /// The account with this login name.
    pub fn by_name(name: &str) -> Result<Self> {
        match User::from_name(name) {
            Ok(Some(user)) => Ok(Self::from_user(user)),
            Ok(None) => Err(Error::refused(Path::new("/etc/passwd"), format!("no account named {name:?}"))),
            Err(e) => Err(Error::refused(Path::new("/etc/passwd"), format!("looking up {name:?}: {e}"))),
        }
    }

    /// The account this process runs as (effective ids).
    pub fn current() -> Self {
        let uid = rustix::process::geteuid().as_raw();
        let mut account = Self::by_uid(uid, rustix::process::getegid().as_raw());
        account.gid = rustix::process::getegid().as_raw();
        account
    }

    fn from_user(user: User) -> Self {
        Self { name: user.name, uid: user.uid.as_raw(), gid: user.gid.as_raw(), home: Some(user.dir) }
    }

    /// Whether this process already runs as this account (same effective uid).
    pub fn is_current(&self) -> bool {
        rustix::process::geteuid().as_raw() == self.uid
    }

    /// Whether this is the superuser account.
    pub fn is_root(&self) -> bool {
        self.uid == 0
    }

    /// A command that runs `program` as this account: with its uid and gid and no supplementary
    /// groups when this process is root and another account; with a fixed minimal environment
    /// (`PATH`, `HOME`, `USER`, `LOGNAME`, `LANG=C`) in every case; in `/`.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        if !self.is_current() && Uid::effective().is_root() {
            // std drops the supplementary groups (setgroups(0)) before setuid when uid is set as root.
            cmd.uid(self.uid).gid(self.gid);
        }
        cmd.env_clear()
            .env("PATH", CLEAN_PATH)
            .env("HOME", self.home.as_deref().unwrap_or(Path::new("/")))
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .env("LANG", "C")
            .current_dir("/");
        cmd
    }
}

impl std::fmt::Display for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (uid {})", self.name, self.uid)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn commands_get_a_clean_environment() {
        let out = Account::current().command("/usr/bin/env").output().unwrap();
        let env = String::from_utf8(out.stdout).unwrap();
        let mut names: Vec<&str> = env.lines().filter_map(|l| l.split_once('=').map(|(k, _)| k)).collect();
        names.sort_unstable();
        assert_eq!(names, ["HOME", "LANG", "LOGNAME", "PATH", "USER"], "{env}");
    }
}
