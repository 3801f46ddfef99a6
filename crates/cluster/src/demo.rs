//! A throwaway local cluster for `pgharden quickstart`: find the server binaries, initdb, start.
//!
//! Owns: choosing the PostgreSQL installation (Debian's /usr/lib/postgresql/N/bin, newest first, or
//! the `pg_ctl` on PATH), creating the cluster as an unprivileged account when run as root (initdb
//! refuses root), with peer authentication for its owner, and starting it on a loopback port with a
//! socket directory of its own. The directory is accepted only when no other account can swap it
//! (it holds the demo CA's keys): every directory above it belongs to root or to the caller; the
//! data and socket directories are created in it and handed to the owner by descriptor, never
//! through a link. Must not: touch any other cluster.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use nix::unistd::Uid;
use pgharden_privsep::{Account, FileKind};

use crate::error::{Error, Result};
use crate::files::Files;
use crate::tools::run;

/// The account a root-run quickstart gives the cluster to.
pub(crate) const DEMO_OS_USER: &str = "postgres";

/// A local demo cluster's layout under its directory.
#[derive(Debug)]
pub struct Demo {
    /// The quickstart directory, made absolute; everything below lives in it.
    pub dir: PathBuf,
    /// The data directory, `DIR/data`.
    pub data_dir: PathBuf,
    /// Where the server puts its Unix socket, `DIR/run`.
    pub socket_dir: PathBuf,
    /// The directory of `initdb`, `pg_ctl` and `postgres` used to make and run it.
    pub bindir: PathBuf,
    /// The TCP port the server listens on, on 127.0.0.1 only.
    pub port: u16,
    /// The OS account that owns the cluster: the invoking user, or `postgres` when run as root.
    pub owner: Account,
    /// The demo cluster's files, as its owner.
    files: Files,
}

/// `bindir` if it holds a server (initdb, pg_ctl and postgres), else the newest installation found.
pub(crate) fn choose_bindir(bindir: Option<&Path>) -> Result<PathBuf> {
    let Some(dir) = bindir else { return find_bindir() };
    let missing: Vec<&str> =
        ["initdb", "pg_ctl", "postgres"].into_iter().filter(|b| !dir.join(b).is_file()).collect();
    if !missing.is_empty() {
        return Err(Error::bad(
            dir,
            format!("not a PostgreSQL server's bin directory: it has no {}", missing.join(", ")),
        ));
    }
    Ok(dir.to_path_buf())
}

/// The newest server installation: Debian's versioned directories, else `pg_ctl` on PATH.
pub(crate) fn find_bindir() -> Result<PathBuf> {
    let mut debian: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let major = e.file_name().to_string_lossy().parse().ok()?;
                    let bin = e.path().join("bin");
                    bin.join("initdb").exists().then_some((major, bin))
                })
                .collect()
        })
        .unwrap_or_default();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path).find(|d| d.join("pg_ctl").exists() && d.join("initdb").exists())
        })
        .ok_or_else(|| {
            Error::bad(
                "/usr/lib/postgresql",
                "no PostgreSQL server found; install one (Debian: apt-get install postgresql-15)",
            )
        })
}

/// The account the demo cluster runs as: `postgres` when we are root, else ourselves.
fn demo_owner() -> Result<Account> {
    if !Uid::effective().is_root() {
        return Ok(Account::current());
    }
    Account::by_name(DEMO_OS_USER).map_err(|_| {
        Error::bad("/etc/passwd", format!("running as root needs an unprivileged `{DEMO_OS_USER}` account (initdb refuses root); create it with `useradd --system {DEMO_OS_USER}`"))
    })
}

/// The port an existing demo cluster uses: its running server's, else its last start's (both
/// read as the owner).
fn existing_port(data: &Path, files: &Files) -> Option<u16> {
    if let Ok(Some(pm)) = crate::postmaster::Postmaster::read(data, files) {
        return Some(pm.port);
    }
    let opts = files.read_text_if_exists(&data.join("postmaster.opts")).ok()??;
    let words: Vec<&str> = opts.split_whitespace().map(|w| w.trim_matches('"')).collect();
    words.windows(2).find(|w| w[0] == "-p").and_then(|w| w[1].parse().ok())
}

/// The first port from 5433 on that nobody listens to on loopback.
pub(crate) fn free_port() -> Result<u16> {
    (5433..5533)
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .ok_or_else(|| Error::bad("127.0.0.1", "no free port between 5433 and 5532; pass --port"))
}

impl Demo {
    /// The layout under `dir` (nothing is created yet), on `port`, else the port an existing demo
    /// cluster there uses, else the first free one; with the server in `bindir`, else the newest
    /// one found.
    pub fn at(dir: &Path, port: Option<u16>, bindir: Option<&Path>) -> Result<Self> {
        let dir = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            std::env::current_dir().map_err(|e| Error::io(".", e))?.join(dir)
        };
        let data_dir = dir.join("data");
        let owner = demo_owner()?;
        let files = Files::as_account(owner.clone(), &data_dir)?;
        let port = match port.or_else(|| existing_port(&data_dir, &files)) {
            Some(p) => p,
            None => free_port()?,
        };
        let bindir = choose_bindir(bindir)?;
        Ok(Self { data_dir, socket_dir: dir.join("run"), dir, bindir, port, owner, files })
    }

    /// Whether the data directory was made before (quickstart then reuses it).
    pub fn exists(&self) -> bool {
        let version = self.data_dir.join("PG_VERSION");
        self.files.stat(&version, false).ok().flatten().is_some_and(|m| m.kind == FileKind::Regular)
    }

    /// initdb as the owner, with peer authentication for local connections.
    pub fn init(&self) -> Result<()> {
        // The owner must be able to reach data/ and run/ below a directory root owns (0711).
        let dir = pgharden_privsep::private_dir(&self.dir, 0o711)?;
        for name in ["data", "run"] {
            pgharden_privsep::subdir_for(&dir, &self.dir, name, &self.owner, 0o700)?;
        }
        let mut cmd = self.owner.command(self.bindir.join("initdb"));
        cmd.arg("-D").arg(&self.data_dir).args([
            "-U",
            &self.owner.name,
            "--auth-local=peer",
            "--auth-host=scram-sha-256",
        ]);
        cmd.args(["--encoding=UTF8", "--locale=C.UTF-8"]);
        run(cmd, "initdb")
    }

    /// Start the server (if it is not running) on loopback and the private socket directory.
    pub fn start(&self) -> Result<()> {
        if crate::postmaster::Postmaster::read(&self.data_dir, &self.files)?.is_some() {
            return Ok(());
        }
        let mut cmd = self.owner.command(self.bindir.join("pg_ctl"));
        cmd.arg("start").arg("-D").arg(&self.data_dir).args(["-w", "-t", "60", "-s", "-l"]);
        cmd.arg(self.data_dir.join(crate::execute::PG_CTL_LOG));
        cmd.arg("-o").arg(format!(
            "-p {} -k '{}' -c listen_addresses=127.0.0.1",
            self.port,
            self.socket_dir.display()
        ));
        run(cmd, "pg_ctl start")
    }

    /// The command that stops the demo server, one argument a string, for the caller to quote
    /// and print: as the owner, through runuser, when that is not who runs this.
    pub fn stop_argv(&self) -> Vec<String> {
        let mut argv = Vec::new();
        if !self.owner.is_current() {
            argv.extend(["runuser".to_string(), "-u".to_string(), self.owner.name.clone(), "--".to_string()]);
        }
        argv.push(self.bindir.join("pg_ctl").to_string_lossy().into_owned());
        argv.extend(["stop".to_string(), "-D".to_string()]);
        argv.push(self.data_dir.to_string_lossy().into_owned());
        argv
    }
}
