//! Reloads of a running cluster and waiting for them: SIGHUP with the log's verdict
//! ([`Cluster::reload`]), and `pg_conf_load_time()` for reloads anyone asked for
//! ([`Cluster::await_conf_load_after`]). Must not: sleep for a fixed time to guess a reload is done.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::Cluster;
use crate::Error;
use crate::error::IoContext;

impl Cluster {
    /// Send SIGHUP to the postmaster and wait until the reload has been
    /// processed. Returns [`Error::Reload`] with the new log lines if the server
    /// reports that pg_hba.conf or pg_ident.conf was not reloaded or that a
    /// configuration file contains errors.
    ///
    /// Completion is detected without a login (which the new pg_hba.conf may
    /// forbid): after the "received SIGHUP" log line, an SSLRequest is sent
    /// over the Unix socket and its answer awaited. The postmaster only accepts
    /// that connection after finishing the reload it was processing, and the
    /// exchange leaves no trace in the log. If the log does not receive LOG messages (a test enabled
    /// `logging_collector`, say), errors cannot be seen and this returns Ok.
    pub fn reload(&self) -> Result<(), Error> {
        let pid = self.running_pid().ok_or_else(|| Error::NotRunning { data_dir: self.data_dir.clone() })?;
        let offset = self.log_len();
        kill(Pid::from_raw(pid as i32), Signal::SIGHUP)
            .ctx(|| format!("sending SIGHUP to the postmaster (pid {pid})"))?;

        let marker = "received SIGHUP, reloading configuration files";
        let deadline = Instant::now() + Duration::from_secs(2);
        while !self.log_since(offset).contains(marker) && Instant::now() < deadline {
            if !self.is_running() {
                return Err(Error::Reload {
                    reason: "the server exited during reload".to_owned(),
                    log: self.log_since(offset),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // Twice: since PostgreSQL 16 the postmaster may accept a connection that
        // arrived together with the signal before processing the reload in the
        // same loop iteration; the second request arrives after that iteration.
        for _ in 0..2 {
            if self.postmaster_round_trip().is_err() {
                std::thread::sleep(Duration::from_millis(200));
            }
        }

        let log = self.log_since(offset);
        let bad: Vec<&str> =
            log.lines().filter(|l| l.contains("was not reloaded") || l.contains("contains errors")).collect();
        if bad.is_empty() { Ok(()) } else { Err(Error::Reload { reason: bad.join("; "), log }) }
    }

    /// Connect to the socket, send an SSLRequest, and wait for the answer, which
    /// comes from the child the postmaster forked after accepting. Over a Unix
    /// socket the answer is always `N` (PostgreSQL never does SSL there), and a
    /// client that hangs up right after it is deliberately not logged. (A
    /// CancelRequest would also work but logs "PID 0 in cancel request did not
    /// match any process".)
    fn postmaster_round_trip(&self) -> std::io::Result<()> {
        let mut s = UnixStream::connect(self.socket_path())?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.set_write_timeout(Some(Duration::from_secs(10)))?;
        // length 8, SSLRequest code 1234/5679
        let mut msg = [0u8; 8];
        msg[..4].copy_from_slice(&8u32.to_be_bytes());
        msg[4..].copy_from_slice(&80_877_103u32.to_be_bytes());
        s.write_all(&msg)?;
        let mut answer = [0u8; 1];
        s.read_exact(&mut answer)?;
        Ok(())
    }

    /// `pg_conf_load_time()` as a new session sees it: the time the postmaster last (re)loaded its
    /// configuration files, in a form [`Cluster::await_conf_load_after`] accepts.
    pub fn conf_load_time(&self) -> Result<String, Error> {
        self.psql("SELECT pg_conf_load_time()")
    }

    /// Wait until a new session reports a configuration load later than `before` (from
    /// [`Cluster::conf_load_time`]): the reload a test asked for with `pg_reload_conf()`, or one
    /// that the code under test did, is then in force for every new session. A backend inherits the
    /// postmaster's load time when it is forked, so this needs no log line and no fixed sleep.
    /// Errors after 10 seconds, or if the server stops.
    pub fn await_conf_load_after(&self, before: &str) -> Result<(), Error> {
        let sql = format!("SELECT pg_conf_load_time() > {}::timestamptz", sql_literal(before));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.psql(&sql)? == "t" {
                return Ok(());
            }
            if !self.is_running() || Instant::now() > deadline {
                return Err(Error::Reload {
                    reason: format!("no configuration load after {before} within 10 s"),
                    log: self.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Run `sql` (settings changes, say), then `pg_reload_conf()`, and wait until the reload is in
    /// force ([`Cluster::await_conf_load_after`]). Returns what `sql` printed.
    pub fn psql_and_reload(&self, sql: &str) -> Result<String, Error> {
        let before = self.conf_load_time()?;
        let out = self.psql(sql)?;
        self.psql("SELECT pg_reload_conf()")?;
        self.await_conf_load_after(&before)?;
        Ok(out)
    }
}

/// `text` as an SQL string literal.
fn sql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
