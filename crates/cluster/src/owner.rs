//! The cluster owner: the OS account that owns PGDATA and runs the server.
//!
//! Owns: looking the account up, and running server tools (`pg_ctl`, `postgres -C`) as that account
//! when pgharden runs as root (`initdb` and `pg_ctl` refuse to run as root). Must not: decide what
//! to run.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use nix::unistd::{Uid, User};
use serde::Serialize;

use crate::error::{Error, Result};

/// An OS account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl Owner {
    /// The owner of a directory (PostgreSQL refuses to start unless its owner runs it).
    pub fn of(path: &Path) -> Result<Owner> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let user = User::from_uid(Uid::from_raw(meta.uid())).ok().flatten();
        Ok(Owner {
            name: user.map(|u| u.name).unwrap_or_else(|| meta.uid().to_string()),
            uid: meta.uid(),
            gid: meta.gid(),
        })
    }

    /// Whether this process must switch user to act as the owner.
    pub fn needs_switch(&self) -> bool {
        Uid::effective().as_raw() != self.uid
    }

    /// Whether this process may act as the owner at all (it is the owner, or root).
    pub fn can_act_as(&self) -> bool {
        !self.needs_switch() || Uid::effective().is_root()
    }

    /// A command that runs as the owner: as root, with the owner's uid and gid and a clean set of
    /// supplementary groups; as the owner, unchanged.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        if self.needs_switch() && Uid::effective().is_root() {
            cmd.uid(self.uid).gid(self.gid);
            if let Some(user) = User::from_uid(Uid::from_raw(self.uid)).ok().flatten() {
                cmd.env("HOME", user.dir).env("USER", &user.name).env("LOGNAME", &user.name);
            }
        }
        cmd
    }
}

/// Run a server tool to completion; a failure carries what it printed.
pub fn run(mut cmd: Command, what: &str) -> Result<()> {
    let out = cmd.output().map_err(|e| Error::Command { command: what.into(), output: e.to_string() })?;
    if out.status.success() {
        return Ok(());
    }
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Err(Error::Command { command: what.into(), output: printed.trim().to_string() })
}
