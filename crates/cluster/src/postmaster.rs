//! A running (or not) postmaster, as `postmaster.pid` describes it.
//!
//! Owns: reading `PGDATA/postmaster.pid` (pid, data directory, start time, port, socket directory,
//! listen addresses, status), telling whether that pid is alive, and signalling it (reload).
//! Must not: start or stop servers (that is `control`).

use std::path::{Path, PathBuf};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::Serialize;

use crate::error::{Error, Result};

/// What `postmaster.pid` says about the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Postmaster {
    pub pid: i32,
    pub port: u16,
    /// First Unix socket directory (empty when sockets are off).
    pub socket_dir: Option<PathBuf>,
    pub listen_addresses: String,
    /// `ready`, `starting`, `stopping` or `standby` (PostgreSQL 10+).
    pub status: String,
}

impl Postmaster {
    /// Read `postmaster.pid`; `Ok(None)` when there is none or its pid is not alive.
    pub fn read(data_dir: &Path) -> Result<Option<Postmaster>> {
        let path = data_dir.join("postmaster.pid");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let lines: Vec<&str> = text.lines().collect();
        let field = |i: usize| lines.get(i).map(|l| l.trim()).unwrap_or_default();
        let pid: i32 = field(0).parse().map_err(|_| Error::bad(&path, "first line is not a pid"))?;
        if kill(Pid::from_raw(pid), None).is_err() {
            return Ok(None);
        }
        let port = field(3).parse().map_err(|_| Error::bad(&path, "fourth line is not a port"))?;
        let socket_dir = Some(field(4)).filter(|s| !s.is_empty()).map(PathBuf::from);
        Ok(Some(Postmaster {
            pid,
            port,
            socket_dir,
            listen_addresses: field(5).to_string(),
            status: field(7).to_string(),
        }))
    }

    /// Ask the server to re-read its configuration files (SIGHUP, as `pg_ctl reload` does).
    pub fn reload(&self) -> Result<()> {
        kill(Pid::from_raw(self.pid), Signal::SIGHUP)
            .map_err(|e| Error::Command { command: format!("kill -HUP {}", self.pid), output: e.to_string() })
    }

    /// The server binary's directory, from `/proc/PID/exe` (Linux).
    pub fn bindir(&self) -> Option<PathBuf> {
        std::fs::read_link(format!("/proc/{}/exe", self.pid)).ok()?.parent().map(Path::to_path_buf)
    }

    /// The command line the server runs with (Debian passes `-c config_file=…`).
    pub fn command_line(&self) -> Vec<String> {
        std::fs::read(format!("/proc/{}/cmdline", self.pid))
            .map(|raw| {
                raw.split(|b| *b == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_or_missing_pid_file_means_not_running() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Postmaster::read(dir.path()).unwrap(), None);
        // pid 2^22+1 is above Linux's pid_max default and cannot be alive.
        std::fs::write(dir.path().join("postmaster.pid"), "4194305\n/x\n1\n5432\n/tmp\n*\n1\nready\n")
            .unwrap();
        assert_eq!(Postmaster::read(dir.path()).unwrap(), None);
    }

    #[test]
    fn a_live_pid_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let me = std::process::id();
        std::fs::write(
            dir.path().join("postmaster.pid"),
            format!("{me}\n/x\n1\n5433\n/run/pg\n127.0.0.1\n1\nready \n"),
        )
        .unwrap();
        let pm = Postmaster::read(dir.path()).unwrap().unwrap();
        assert_eq!((pm.port, pm.status.as_str()), (5433, "ready"));
        assert_eq!(pm.socket_dir, Some(PathBuf::from("/run/pg")));
    }
}
