//! A running (or not) postmaster, as `postmaster.pid` describes it — and checked, since the cluster
//! owner can write anything into that file.
//!
//! Owns: reading `PGDATA/postmaster.pid` as the owner (pid, data directory, port, socket directory,
//! listen addresses, status); establishing that its pid really is this cluster's postmaster before
//! anything trusts it (the process runs as the cluster owner — all four uids —, its working
//! directory is the data directory, its program is `postgres`); and signalling it (reload) with the
//! owner's credentials, so even a wrong pid could only reach the owner's own processes.
//! Must not: start or stop servers (that is `execute` and `demo`).

use std::path::{Path, PathBuf};

use nix::sys::signal::kill;
use nix::unistd::Pid;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::files::Files;

/// What `postmaster.pid` says about the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Postmaster {
    /// The postmaster's process id, checked to be this cluster's postmaster and alive.
    pub pid: i32,
    /// The TCP port it listens on (and its socket files are named after).
    pub port: u16,
    /// First Unix socket directory (empty when sockets are off).
    pub socket_dir: Option<PathBuf>,
    /// The first `listen_addresses` entry, as the file records it (empty when TCP is off).
    pub listen_addresses: String,
    /// `ready`, `starting`, `stopping` or `standby` (PostgreSQL 10+).
    pub status: String,
}

impl Postmaster {
    /// Read `postmaster.pid` of the cluster in `data_dir` (canonical) whose owner is `files`'
    /// account; `Ok(None)` when there is none or its pid is not alive. A live pid that is not this
    /// cluster's postmaster is an error: nothing pgharden does may reach that process.
    pub fn read(data_dir: &Path, files: &Files) -> Result<Option<Self>> {
        let path = data_dir.join("postmaster.pid");
        let Some(text) = files.read_text_if_exists(&path)? else { return Ok(None) };
        let lines: Vec<&str> = text.lines().collect();
        let field = |i: usize| lines.get(i).map(|l| l.trim()).unwrap_or_default();
        let pid: i32 = field(0).parse().map_err(|_| Error::bad(&path, "first line is not a pid"))?;
        if pid <= 1 {
            return Err(Error::bad(&path, format!("names pid {pid}, which is no postmaster")));
        }
        // Signal 0 checks for existence only; it delivers nothing.
        if kill(Pid::from_raw(pid), None).is_err() {
            return Ok(None);
        }
        identify(pid, data_dir, files).map_err(|why| {
            Error::bad(&path, format!("names process {pid}, which is not this cluster's postmaster ({why}); pgharden will not signal or trust it"))
        })?;
        let port = field(3).parse().map_err(|_| Error::bad(&path, "fourth line is not a port"))?;
        let socket_dir = Some(field(4)).filter(|s| !s.is_empty()).map(PathBuf::from);
        Ok(Some(Self {
            pid,
            port,
            socket_dir,
            listen_addresses: field(5).to_string(),
            status: field(7).to_string(),
        }))
    }

    /// Ask the server to re-read its configuration files (SIGHUP, as `pg_ctl reload` does), sent
    /// with the cluster owner's credentials.
    pub fn reload(&self, files: &Files) -> Result<()> {
        files.actor().reload(self.pid).map_err(Error::from)
    }

    /// The server binary's directory, from `/proc/PID/exe` (Linux), read as the owner.
    pub fn bindir(&self, files: &Files) -> Option<PathBuf> {
        let exe = files.actor().read_link(Path::new(&format!("/proc/{}/exe", self.pid))).ok()?;
        exe.parent().map(Path::to_path_buf)
    }

    /// The command line the server runs with (Debian passes `-c config_file=…`).
    pub fn command_line(&self) -> Vec<String> {
        std::fs::read(format!("/proc/{}/cmdline", self.pid))
            .map(|raw| {
                raw.split(|b| *b == 0)
                    .filter(|a| !a.is_empty())
                    .take(1000)
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Whether `pid` is a postmaster of the cluster in `data_dir` run by the owner `files` acts as;
/// else why not. The process's links (`cwd`, `exe`) are read as the owner: for root they need
/// CAP_SYS_PTRACE, which a sandboxed service (renew's systemd unit) should not hold.
fn identify(pid: i32, data_dir: &Path, files: &Files) -> std::result::Result<(), String> {
    let owner_uid = files.account().uid;
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let status =
        std::fs::read_to_string(proc_dir.join("status")).map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let uids: Vec<u32> = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .map(|ids| ids.split_whitespace().filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_default();
    if uids.len() != 4 || uids.iter().any(|u| *u != owner_uid) {
        return Err(format!("it runs as uid {uids:?}, not the owner's {owner_uid}"));
    }
    let link = |name: &str| {
        files
            .actor()
            .read_link(&proc_dir.join(name))
            .map_err(|e| format!("/proc/{pid}/{name}: {}", e.detail()))
    };
    let cwd = link("cwd")?;
    if cwd != data_dir {
        return Err(format!("its directory is {}, not {}", cwd.display(), data_dir.display()));
    }
    let exe = link("exe")?;
    let name = exe.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name = name.trim_end_matches(" (deleted)");
    if name != "postgres" && name != "postmaster" {
        return Err(format!("it runs {}, not postgres", exe.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_stale_or_missing_pid_file_means_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().canonicalize().unwrap();
        let files = Files::as_self();
        assert_eq!(Postmaster::read(&data, &files).unwrap(), None);
        // pid 2^22+1 is above Linux's pid_max default and cannot be alive.
        std::fs::write(data.join("postmaster.pid"), "4194305\n/x\n1\n5432\n/tmp\n*\n1\nready\n").unwrap();
        assert_eq!(Postmaster::read(&data, &files).unwrap(), None);
    }

    #[test]
    fn a_live_pid_that_is_not_the_postmaster_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().canonicalize().unwrap();
        let me = std::process::id();
        std::fs::write(
            data.join("postmaster.pid"),
            format!("{me}\n{}\n1\n5433\n/run/pg\n127.0.0.1\n1\nready \n", data.display()),
        )
        .unwrap();
        let err = Postmaster::read(&data, &Files::as_self()).unwrap_err().to_string();
        assert!(err.contains("not this cluster's postmaster"), "{err}");
    }
}
