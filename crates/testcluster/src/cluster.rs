//! A cluster: its directory, its initdb, its postmaster.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Gid, Pid, Uid};
use tempfile::TempDir;

use crate::error::IoContext;
use crate::process::{running_as_root, set_parent_death_signal, spawn_long_lived};
use crate::util::{command_line, conninfo_value, tail_lines};
use crate::{ClusterOptions, Error, Installation, OsUser, free_port};

mod reload;

/// Set to `1` to keep cluster directories after the test (the path is printed
/// on stderr). The server is still stopped.
pub const KEEP_ENV: &str = "PGHARDEN_TEST_KEEP";

/// How many lines of server log go into startup errors.
const LOG_TAIL_LINES: usize = 60;
/// How long the server gets to write `ready` into postmaster.pid.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Fast shutdown (SIGINT) waits for running sessions' transactions to roll back.
const FAST_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// Immediate shutdown (SIGQUIT) only waits for children to die.
const IMMEDIATE_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// How often readiness and exit are polled.
const POLL: Duration = Duration::from_millis(20);
/// Attempts with a fresh port when the first start finds its port taken.
const PORT_ATTEMPTS: usize = 3;

/// A PostgreSQL cluster in its own temporary directory, usually running.
///
/// Layout of the directory (mode 0711, so the server's account can reach its
/// files without being able to list the directory):
///
/// ```text
/// data/         PGDATA, 0700, owned by the OS user
/// sock/         the Unix socket directory, 0700, owned by the OS user
/// server.log    the postmaster's stdout and stderr
/// home/         empty HOME for psql_command(), owned by the caller
/// server-home/  empty HOME for the server and psql(), owned by the OS user
/// ```
///
/// Dropping it stops the server (fast shutdown, then immediate, then SIGKILL)
/// and removes the directory unless `PGHARDEN_TEST_KEEP=1`. Drop never panics.
///
/// The server listens on 127.0.0.1 only; `port`, the socket directory,
/// `listen_addresses` and `fsync=off` are on the command line and therefore
/// cannot be changed through postgresql.conf.
#[derive(Debug)]
pub struct Cluster {
    install: Installation,
    os_user: OsUser,
    superuser: String,
    settings: Vec<(String, String)>,
    /// Extra environment of the postmaster, set on every start.
    env: Vec<(String, String)>,
    /// `None` only during Drop when the directory is kept.
    dir: Option<TempDir>,
    root: PathBuf,
    data_dir: PathBuf,
    sock_dir: PathBuf,
    log_path: PathBuf,
    caller_home: PathBuf,
    server_home: PathBuf,
    port: u16,
    /// Until the first successful start the port may be replaced if it turns out
    /// to be taken; afterwards callers may have stored it, so it stays.
    port_fixed: bool,
    /// The postmaster. A Mutex so that `&self` methods (`is_running`, `reload`)
    /// can reap it, and so a shared `static` cluster is `Sync`.
    child: Mutex<Option<Child>>,
}

impl Cluster {
    /// initdb, then start the server.
    pub fn start(opts: ClusterOptions) -> Result<Self, Error> {
        let mut cluster = Self::init(opts)?;
        cluster.start_server()?;
        Ok(cluster)
    }

    /// [`Cluster::start`] with [`Installation::for_tests`] and default options.
    pub fn start_default() -> Result<Self, Error> {
        Self::start(ClusterOptions::for_tests()?)
    }

    /// Create the directory and run initdb, without starting the server (so a
    /// test can edit the configuration first). Then call
    /// [`Cluster::start_server`].
    pub fn init(opts: ClusterOptions) -> Result<Self, Error> {
        let os_user = OsUser::resolve(opts.os_user.as_deref())?;
        let dir = tempfile::Builder::new()
            .prefix("pgharden-testcluster-")
            .tempdir_in(std::env::temp_dir())
            .ctx(|| format!("creating a temporary directory in {}", std::env::temp_dir().display()))?;
        let root = dir.path().to_path_buf();
        set_mode(&root, 0o711)?;

        let cluster = Self {
            superuser: initdb_superuser(&opts.initdb_args),
            install: opts.install,
            settings: opts.settings,
            env: opts.env,
            data_dir: root.join("data"),
            sock_dir: root.join("sock"),
            log_path: root.join("server.log"),
            caller_home: root.join("home"),
            server_home: root.join("server-home"),
            port: free_port()?,
            port_fixed: false,
            child: Mutex::new(None),
            os_user,
            root,
            dir: Some(dir),
        };
        // initdb would create data/ itself, but the root directory is not
        // writable by the OS user; an existing empty directory is accepted.
        for d in [&cluster.data_dir, &cluster.sock_dir, &cluster.server_home] {
            cluster.mkdir_owned(d)?;
        }
        fs::create_dir(&cluster.caller_home).ctx(|| format!("creating {}", cluster.caller_home.display()))?;
        set_mode(&cluster.caller_home, 0o700)?;
        let log = OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(&cluster.log_path)
            .ctx(|| format!("creating {}", cluster.log_path.display()))?;
        cluster.chown_to_user(&log, &cluster.log_path)?;
        drop(log);

        cluster.initdb(&opts.initdb_args)?;
        Ok(cluster)
    }

    fn initdb(&self, extra: &[String]) -> Result<(), Error> {
        let run = |locale: &str| -> Result<std::process::Output, Error> {
            let mut cmd = self.server_command("initdb");
            cmd.arg("-D")
                .arg(&self.data_dir)
                .args(["-U", "postgres"])
                .args(["--auth=trust", "--no-sync", "--encoding=UTF8"])
                .arg(format!("--locale={locale}"))
                .args(extra)
                .stdin(Stdio::null());
            set_parent_death_signal(&mut cmd);
            cmd.output()
                .map_err(|e| Error::Command {
                    command: command_line(&cmd),
                    status: format!("could not be spawned: {e}"),
                    stderr: String::new(),
                    stdout: String::new(),
                })
                .and_then(|out| {
                    if out.status.success() {
                        Ok(out)
                    } else {
                        Err(Error::Command {
                            command: command_line(&cmd),
                            status: out.status.to_string(),
                            stderr: String::from_utf8_lossy(&out.stderr).into_owned()
                                + &self.traversal_hint(),
                            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                        })
                    }
                })
        };
        match run("C.UTF-8") {
            Ok(_) => Ok(()),
            // Older or minimal systems lack C.UTF-8. initdb removes what it
            // created in an existing data directory when it fails, so retrying
            // in the same directory is fine.
            Err(Error::Command { stderr, .. }) if stderr.contains("locale") && stderr.contains("C.UTF-8") => {
                run("C").map(drop)
            }
            Err(e) => Err(e),
        }
    }

    /// Start the server (after [`Cluster::init`] or [`Cluster::stop`]) and wait
    /// until it accepts connections.
    pub fn start_server(&mut self) -> Result<(), Error> {
        if let Some(pid) = self.running_pid() {
            return Err(Error::AlreadyRunning { pid });
        }
        let attempts = if self.port_fixed { 1 } else { PORT_ATTEMPTS };
        let mut last = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                self.port = free_port()?;
            }
            match self.spawn_postmaster() {
                Ok(child) => {
                    *self.lock_child() = Some(child);
                    self.port_fixed = true;
                    return Ok(());
                }
                Err((e, port_taken)) => {
                    if !port_taken {
                        return Err(e);
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::NotRunning { data_dir: self.data_dir.clone() }))
    }

    /// Spawn postgres and wait for readiness. On error, the flag says whether
    /// the failure was the port being taken (worth a retry with another port).
    fn spawn_postmaster(&self) -> Result<Child, (Error, bool)> {
        let fail = |e: Error| (e, false);
        let offset = self.log_len();
        let log = OpenOptions::new()
            .append(true)
            .open(&self.log_path)
            .ctx(|| format!("opening {}", self.log_path.display()))
            .map_err(fail)?;
        let log2 = log.try_clone().ctx(|| "duplicating the log file handle".to_owned()).map_err(fail)?;

        let mut cmd = self.server_command("postgres");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(&self.sock_dir)
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]);
        for (k, v) in &self.settings {
            cmd.arg("-c").arg(format!("{k}={v}"));
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.stdin(Stdio::null()).stdout(Stdio::from(log)).stderr(Stdio::from(log2));
        set_parent_death_signal(&mut cmd);
        let command = command_line(&cmd);

        let mut child = spawn_long_lived(cmd).map_err(|e| {
            fail(Error::StartFailed {
                command: command.clone(),
                reason: format!("could not spawn postgres: {e}"),
                log: self.log_path.clone(),
                log_tail: self.log_tail(),
            })
        })?;
        let pid = child.id();
        let started = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    let new_log = self.log_since(offset);
                    let port_taken = new_log.contains("Address already in use");
                    return Err((
                        Error::StartFailed {
                            command,
                            reason: format!("postgres exited with {status} before becoming ready"),
                            log: self.log_path.clone(),
                            log_tail: self.log_tail(),
                        },
                        port_taken,
                    ));
                }
                Ok(None) => {}
                Err(e) => {
                    let _ = shut_down(&mut child);
                    return Err(fail(Error::io(format!("waiting for postgres (pid {pid})"), e)));
                }
            }
            if self.pidfile_says_ready(pid) {
                return Ok(child);
            }
            if started.elapsed() > READY_TIMEOUT {
                let _ = shut_down(&mut child);
                return Err(fail(Error::StartFailed {
                    command,
                    reason: format!(
                        "not ready after {}s (postmaster.pid never said \"ready\")",
                        READY_TIMEOUT.as_secs()
                    ),
                    log: self.log_path.clone(),
                    log_tail: self.log_tail(),
                }));
            }
            std::thread::sleep(POLL);
        }
    }

    /// postmaster.pid: line 1 is the pid, line 8 the status, which becomes
    /// `ready` once connections are accepted (PostgreSQL 10 and later). Checking
    /// the pid guards against a stale file from an earlier run.
    fn pidfile_says_ready(&self, pid: u32) -> bool {
        let Ok(text) = fs::read_to_string(self.data_dir.join("postmaster.pid")) else {
            return false;
        };
        let lines: Vec<&str> = text.lines().collect();
        lines.first().map(|l| l.trim()) == Some(pid.to_string().as_str())
            && lines.get(7).map(|l| l.trim()) == Some("ready")
    }

    /// Stop the server: fast shutdown (SIGINT), after 30 s immediate shutdown
    /// (SIGQUIT), after 10 more seconds SIGKILL. Returns an error if fast shutdown
    /// did not work, but the server is stopped either way. No-op if not running.
    pub fn stop(&mut self) -> Result<(), Error> {
        let child = self.lock_child().take();
        let Some(mut child) = child else {
            return self.stop_adopted();
        };
        shut_down(&mut child).map_err(|reason| Error::StopFailed {
            pid: child.id(),
            reason,
            log_tail: self.log_tail(),
        })?;
        // Our child may have been replaced by a server someone restarted with pg_ctl.
        self.stop_adopted()
    }

    /// Stop and start again, on the same port.
    pub fn restart(&mut self) -> Result<(), Error> {
        self.stop()?;
        self.start_server()
    }

    /// Whether the postmaster is alive (it is reaped if it has exited).
    pub fn is_running(&self) -> bool {
        self.running_pid().is_some()
    }

    /// The postmaster's pid, if it is running.
    pub fn pid(&self) -> Option<u32> {
        self.running_pid()
    }

    fn running_pid(&self) -> Option<u32> {
        let mut guard = self.lock_child();
        let Some(child) = guard.as_mut() else {
            return self.adopted_pid();
        };
        match child.try_wait() {
            Ok(None) => Some(child.id()),
            // Exited (reaped now) or unknowable: either way not usable.
            _ => {
                *guard = None;
                self.adopted_pid()
            }
        }
    }

    /// A postmaster that is not our child but serves this data directory: the code under test
    /// restarted the server with `pg_ctl`, as an operator's tool would. PostgreSQL removes
    /// `postmaster.pid` when it shuts down, so a live pid there is that server.
    fn adopted_pid(&self) -> Option<u32> {
        let text = fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        let pid: i32 = text.lines().next()?.trim().parse().ok()?;
        kill(Pid::from_raw(pid), None).ok()?;
        u32::try_from(pid).ok()
    }

    /// Stop a postmaster we did not start (see [`Cluster::adopted_pid`]): fast shutdown, then
    /// immediate, waiting for `postmaster.pid` to go away.
    fn stop_adopted(&self) -> Result<(), Error> {
        let Some(pid) = self.adopted_pid() else {
            return Ok(());
        };
        let pid_file = self.data_dir.join("postmaster.pid");
        for (sig, timeout) in
            [(Signal::SIGINT, FAST_SHUTDOWN_TIMEOUT), (Signal::SIGQUIT, IMMEDIATE_SHUTDOWN_TIMEOUT)]
        {
            let _ = kill(Pid::from_raw(pid as i32), sig);
            let deadline = Instant::now() + timeout;
            while pid_file.exists() && Instant::now() < deadline {
                std::thread::sleep(POLL);
            }
            if !pid_file.exists() {
                return Ok(());
            }
        }
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        Err(Error::StopFailed {
            pid,
            reason: "the adopted postmaster ignored SIGINT and SIGQUIT".into(),
            log_tail: self.log_tail(),
        })
    }

    fn lock_child(&self) -> MutexGuard<'_, Option<Child>> {
        // A panic while holding the lock cannot leave `Option<Child>` in a
        // half-updated state, so a poisoned lock is still good.
        self.child.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// PGDATA.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The TCP port (also the Unix socket's port number).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The private Unix socket directory.
    pub fn socket_dir(&self) -> &Path {
        &self.sock_dir
    }

    /// The Unix socket file itself.
    pub fn socket_path(&self) -> PathBuf {
        self.sock_dir.join(format!(".s.PGSQL.{}", self.port))
    }

    /// The TCP host, always `127.0.0.1`.
    pub fn host(&self) -> &str {
        "127.0.0.1"
    }

    /// The bootstrap superuser role (`postgres`, unless `-U` was among the
    /// initdb arguments).
    pub fn superuser(&self) -> &str {
        &self.superuser
    }

    /// The OS account the server runs as and owns the files.
    pub fn os_user(&self) -> &OsUser {
        &self.os_user
    }

    /// The installation in use.
    pub fn install(&self) -> &Installation {
        &self.install
    }

    /// The cluster's temporary directory (parent of data/, sock/, server.log).
    pub fn root_dir(&self) -> &Path {
        &self.root
    }

    /// The server log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The whole server log so far.
    pub fn log(&self) -> String {
        self.log_since(0)
    }

    /// The server log from byte `offset` on (take offsets from [`Cluster::log_len`]).
    pub fn log_since(&self, offset: usize) -> String {
        let Ok(bytes) = fs::read(&self.log_path) else {
            return String::new();
        };
        let start = offset.min(bytes.len());
        String::from_utf8_lossy(&bytes[start..]).into_owned()
    }

    /// The log's current length in bytes.
    pub fn log_len(&self) -> usize {
        fs::metadata(&self.log_path).map(|m| usize::try_from(m.len()).unwrap_or(usize::MAX)).unwrap_or(0)
    }

    fn log_tail(&self) -> String {
        tail_lines(&self.log(), LOG_TAIL_LINES)
    }

    /// Write `contents` to `rel` (relative to the data directory), owned by the
    /// cluster's OS user with exactly `mode`. The file is created under a
    /// temporary name with that mode and owner before any content is written,
    /// then renamed over the target, so its content is never readable with other
    /// permissions and the server never sees a half-written file. Missing parent
    /// directories are created with mode 0700.
    pub fn write_file(&self, rel: &str, contents: &[u8], mode: u32) -> Result<PathBuf, Error> {
        let rel_path = Path::new(rel);
        let invalid = |reason: &str| Error::InvalidPath { path: rel.to_owned(), reason: reason.to_owned() };
        if rel.is_empty() {
            return Err(invalid("empty"));
        }
        if !rel_path.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(invalid("must be relative to the data directory, without `..` or `.`"));
        }
        let target = self.data_dir.join(rel_path);
        let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
            return Err(invalid("has no file name"));
        };
        // Create missing parents from the top down, each owned by the OS user.
        let mut missing = Vec::new();
        let mut p = parent;
        while !p.exists() && p.starts_with(&self.data_dir) {
            missing.push(p.to_path_buf());
            match p.parent() {
                Some(up) => p = up,
                None => break,
            }
        }
        for d in missing.iter().rev() {
            self.mkdir_owned(d)?;
        }

        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let tmp = parent.join(format!(
            ".{}.testcluster-{}-{}",
            name.to_string_lossy(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&tmp)
                .ctx(|| format!("creating {}", tmp.display()))?;
            self.chown_to_user(&f, &tmp)?;
            // The umask may have removed bits; set the exact mode while the file
            // is still empty.
            f.set_permissions(fs::Permissions::from_mode(mode))
                .ctx(|| format!("setting mode {mode:o} on {}", tmp.display()))?;
            f.write_all(contents).ctx(|| format!("writing {}", tmp.display()))?;
            drop(f);
            fs::rename(&tmp, &target).ctx(|| format!("renaming {} to {}", tmp.display(), target.display()))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map(|()| target)
    }

    /// Append `text` (and a newline) to postgresql.conf. Takes effect on
    /// [`Cluster::reload`] or [`Cluster::restart`], except for the settings fixed
    /// on the command line.
    pub fn append_conf(&self, text: &str) -> Result<(), Error> {
        let path = self.data_dir.join("postgresql.conf");
        let mut f =
            OpenOptions::new().append(true).open(&path).ctx(|| format!("opening {}", path.display()))?;
        let mut block = String::from("\n");
        block.push_str(text);
        if !text.ends_with('\n') {
            block.push('\n');
        }
        f.write_all(block.as_bytes()).ctx(|| format!("appending to {}", path.display()))
    }

    /// Replace pg_hba.conf (mode 0600). Call [`Cluster::reload`] afterwards.
    pub fn write_hba(&self, text: &str) -> Result<(), Error> {
        self.write_file("pg_hba.conf", text.as_bytes(), 0o600).map(drop)
    }

    /// Replace pg_ident.conf (mode 0600). Call [`Cluster::reload`] afterwards.
    pub fn write_ident(&self, text: &str) -> Result<(), Error> {
        self.write_file("pg_ident.conf", text.as_bytes(), 0o600).map(drop)
    }

    /// Run SQL in database `postgres` as the superuser; see [`Cluster::psql_db`].
    pub fn psql(&self, sql: &str) -> Result<String, Error> {
        self.psql_db("postgres", sql)
    }

    /// Run SQL (one or more statements, fed on stdin) in database `db` as the
    /// superuser over the private Unix socket with
    /// `psql -X -A -t -v ON_ERROR_STOP=1 -q`, and return stdout trimmed.
    ///
    /// psql runs as the cluster's OS user, so `peer` authentication for the
    /// superuser keeps working when a test hardens pg_hba.conf.
    pub fn psql_db(&self, db: &str, sql: &str) -> Result<String, Error> {
        let mut cmd = self.install.command_for(self.install.psql_path());
        self.os_user.apply(&mut cmd);
        psql_env(&mut cmd, &self.server_home);
        cmd.current_dir(&self.root)
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-q", "-f", "-", "-d"])
            .arg(format!(
                "host={} port={} user={} dbname={} connect_timeout=10",
                conninfo_value(&self.sock_dir.to_string_lossy()),
                self.port,
                conninfo_value(&self.superuser),
                conninfo_value(db)
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let command = command_line(&cmd);
        let psql_error = |status: String, stderr: String| Error::Psql {
            command: command.clone(),
            status,
            sql: sql.to_owned(),
            stderr,
        };
        let mut child =
            cmd.spawn().map_err(|e| psql_error(format!("could not be spawned: {e}"), String::new()))?;
        let stdin = child.stdin.take();
        // Feed stdin from another thread: psql may fill its stdout pipe before
        // it has read all of a long script.
        let output = std::thread::scope(|s| {
            s.spawn(move || {
                if let Some(mut stdin) = stdin {
                    let _ = stdin.write_all(sql.as_bytes());
                }
            });
            child.wait_with_output()
        })
        .map_err(|e| psql_error(format!("waiting failed: {e}"), String::new()))?;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if !output.status.success() {
            return Err(psql_error(output.status.to_string(), stderr));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// A bare `psql` command for tests to add their own connection options to.
    /// It runs as the caller, with every `PG*` variable removed, `HOME` set to an
    /// empty directory owned by the caller (so the real `~/.postgresql/`,
    /// `~/.pgpass` and `~/.psqlrc` never interfere), and `PGSERVICEFILE` and
    /// `PGSYSCONFDIR` pointing at paths that do not exist.
    pub fn psql_command(&self) -> Command {
        let mut cmd = self.install.command_for(self.install.psql_path());
        psql_env(&mut cmd, &self.caller_home);
        cmd
    }

    /// libpq conninfo for TCP: `host=127.0.0.1 port=N`.
    pub fn tcp_conninfo(&self) -> String {
        format!("host={} port={}", self.host(), self.port)
    }

    /// A command for a server binary, run as the OS user in the cluster root.
    fn server_command(&self, name: &str) -> Command {
        let mut cmd = self.install.command(name);
        self.os_user.apply(&mut cmd);
        cmd.current_dir(&self.root).env("HOME", &self.server_home);
        cmd
    }

    fn mkdir_owned(&self, dir: &Path) -> Result<(), Error> {
        fs::create_dir(dir).ctx(|| format!("creating {}", dir.display()))?;
        set_mode(dir, 0o700)?;
        if self.needs_chown() {
            nix::unistd::chown(
                dir,
                Some(Uid::from_raw(self.os_user.uid)),
                Some(Gid::from_raw(self.os_user.gid)),
            )
            .ctx(|| format!("chown {} to {}", dir.display(), self.os_user.name))?;
        }
        Ok(())
    }

    fn chown_to_user(&self, f: &File, path: &Path) -> Result<(), Error> {
        if self.needs_chown() {
            std::os::unix::fs::fchown(f, Some(self.os_user.uid), Some(self.os_user.gid))
                .ctx(|| format!("chown {} to {}", path.display(), self.os_user.name))?;
        }
        Ok(())
    }

    fn needs_chown(&self) -> bool {
        running_as_root() && self.os_user.uid != 0
    }

    /// If initdb failed because the OS user cannot reach the directory (TMPDIR
    /// under /root, say), say so.
    fn traversal_hint(&self) -> String {
        if !self.needs_chown() {
            return String::new();
        }
        for dir in self.root.ancestors().skip(1) {
            let Ok(meta) = fs::metadata(dir) else { continue };
            use std::os::unix::fs::MetadataExt;
            let bit = if meta.uid() == self.os_user.uid {
                0o100
            } else if meta.gid() == self.os_user.gid {
                0o010
            } else {
                0o001
            };
            if meta.mode() & bit == 0 {
                return format!(
                    "\n(hint: {} is probably not traversable by OS user {}; set TMPDIR to a directory it can reach, such as /tmp)",
                    dir.display(),
                    self.os_user.name
                );
            }
        }
        String::new()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Errors are ignored: there is no one to report them to, and a panic here
        // during unwinding would abort the whole test binary.
        let _ = self.stop();
        if std::env::var_os(KEEP_ENV).is_some_and(|v| v == "1")
            && let Some(dir) = self.dir.take()
        {
            let kept = dir.keep();
            let _ = writeln!(std::io::stderr(), "{KEEP_ENV}=1: keeping cluster directory {}", kept.display());
        }
        // Otherwise the TempDir is dropped with `self` and removes the directory.
    }
}

/// Environment for psql: no `PG*` from the caller (already removed by
/// `Installation::command_for`), an empty HOME, no service file or system
/// config directory, and UTF-8 with untranslated messages.
fn psql_env(cmd: &mut Command, home: &Path) {
    cmd.env("HOME", home)
        .env("PGSERVICEFILE", home.join("nonexistent-pg_service.conf"))
        .env("PGSYSCONFDIR", home.join("nonexistent-sysconfdir"))
        .env("LC_ALL", "C.UTF-8");
}

fn set_mode(path: &Path, mode: u32) -> Result<(), Error> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .ctx(|| format!("setting mode {mode:o} on {}", path.display()))
}

/// The superuser name initdb will create: `-U`/`--username` among the extra
/// arguments wins over our `-U postgres` because it comes later.
fn initdb_superuser(args: &[String]) -> String {
    let mut user = "postgres".to_owned();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-U" || a == "--username" {
            if let Some(v) = it.next() {
                user = v.clone();
            }
        } else if let Some(v) = a.strip_prefix("--username=") {
            user = v.to_owned();
        } else if let Some(v) = a.strip_prefix("-U") {
            user = v.to_owned();
        }
    }
    user
}

/// Stop a postmaster: SIGINT, then SIGQUIT, then SIGKILL. Err describes which
/// escalation was needed (the process is gone in every case but a failed kill).
fn shut_down(child: &mut Child) -> Result<(), String> {
    let pid = Pid::from_raw(child.id() as i32);
    let steps = [(Signal::SIGINT, FAST_SHUTDOWN_TIMEOUT), (Signal::SIGQUIT, IMMEDIATE_SHUTDOWN_TIMEOUT)];
    for (i, (sig, timeout)) in steps.into_iter().enumerate() {
        if let Ok(Some(_)) = child.try_wait() {
            return Ok(());
        }
        if let Err(e) = kill(pid, sig) {
            return match child.try_wait() {
                Ok(Some(_)) => Ok(()),
                _ => Err(format!("kill({pid}, {sig}) failed: {e}")),
            };
        }
        if wait_timeout(child, timeout).is_some() {
            return if i == 0 {
                Ok(())
            } else {
                Err(format!(
                    "fast shutdown (SIGINT) did not finish within {}s; immediate shutdown (SIGQUIT) did",
                    FAST_SHUTDOWN_TIMEOUT.as_secs()
                ))
            };
        }
    }
    let _ = child.kill();
    let status = child.wait();
    Err(format!(
        "fast and immediate shutdown did not finish within {}s; killed with SIGKILL ({status:?})",
        (FAST_SHUTDOWN_TIMEOUT + IMMEDIATE_SHUTDOWN_TIMEOUT).as_secs()
    ))
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::initdb_superuser;

    #[test]
    fn superuser_from_initdb_args() {
        let s = |v: &[&str]| initdb_superuser(&v.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(s(&[]), "postgres");
        assert_eq!(s(&["-U", "admin"]), "admin");
        assert_eq!(s(&["--username=admin"]), "admin");
        assert_eq!(s(&["-Uadmin", "--data-checksums"]), "admin");
    }
}
