//! The OS account the server runs as, and how server processes are spawned.
//!
//! Two things here are less obvious than they look:
//!
//! * `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, not
//!   when the process exits. `cargo test` runs every test on its own thread, so a
//!   cluster shared between tests (a `static LazyLock<Cluster>`) would get
//!   SIGQUIT as soon as the test that happened to create it returned. Postmasters
//!   are therefore forked by one dedicated thread that lives as long as the
//!   process ([`spawn_long_lived`]).
//! * The kernel clears the parent-death signal whenever the credentials change,
//!   so it has to be set after the switch to the cluster's OS user. `std` runs
//!   `pre_exec` hooks after `setgid`/`setuid`, which is what we rely on.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::sync::mpsc;

use nix::sys::signal::Signal;
use nix::unistd::{Uid, User};

use crate::Error;

/// The OS account a cluster's server processes run as and its files belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsUser {
    /// Login name.
    pub name: String,
    /// Numeric user id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

/// The account used when running as root and no user is requested. Debian's
/// PostgreSQL packages create it.
pub const DEFAULT_ROOT_OS_USER: &str = "postgres";

impl OsUser {
    /// The account this process runs as (effective uid).
    pub fn current() -> Result<Self, Error> {
        let uid = nix::unistd::geteuid();
        match User::from_uid(uid) {
            Ok(Some(u)) => Ok(Self::from_user(u)),
            Ok(None) => Err(Error::OsUser(format!("the current uid {uid} has no passwd entry"))),
            Err(e) => Err(Error::OsUser(format!("looking up uid {uid}: {e}"))),
        }
    }

    /// An account by login name.
    pub fn by_name(name: &str) -> Result<Self, Error> {
        match User::from_name(name) {
            Ok(Some(u)) => Ok(Self::from_user(u)),
            Ok(None) => Err(Error::OsUser(format!(
                "no OS user named {name:?}; create it (Debian: `apt-get install postgresql-common` \
                 creates `postgres`) or pass another unprivileged user in ClusterOptions::os_user"
            ))),
            Err(e) => Err(Error::OsUser(format!("looking up user {name:?}: {e}"))),
        }
    }

    fn from_user(u: User) -> Self {
        Self { name: u.name, uid: u.uid.as_raw(), gid: u.gid.as_raw() }
    }

    /// Decide who the server runs as. As root: the requested user, default
    /// `postgres` (initdb and postgres refuse to run as root). Otherwise: the
    /// current user, since an unprivileged process cannot switch.
    pub(crate) fn resolve(requested: Option<&str>) -> Result<Self, Error> {
        if running_as_root() {
            let user = Self::by_name(requested.unwrap_or(DEFAULT_ROOT_OS_USER))?;
            if user.uid == 0 {
                return Err(Error::OsUser(format!(
                    "{:?} has uid 0; initdb and postgres refuse to run as root, \
                     use an unprivileged account",
                    user.name
                )));
            }
            Ok(user)
        } else {
            let me = Self::current()?;
            match requested {
                Some(name) if name != me.name => Err(Error::OsUser(format!(
                    "cannot run the server as {name:?}: switching users needs root, \
                     and this process runs as {:?}",
                    me.name
                ))),
                _ => Ok(me),
            }
        }
    }

    /// Make `cmd` run as this user when that needs a switch (we are root).
    pub(crate) fn apply(&self, cmd: &mut Command) {
        if running_as_root() && self.uid != 0 {
            cmd.uid(self.uid).gid(self.gid);
        }
    }
}

pub(crate) fn running_as_root() -> bool {
    nix::unistd::geteuid() == Uid::from_raw(0)
}

/// Have the child receive `SIGQUIT` (PostgreSQL's immediate shutdown) when its
/// parent thread dies, so that an aborted or killed test run does not leave
/// servers behind.
pub(crate) fn set_parent_death_signal(cmd: &mut Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child between fork and exec, where
    // only async-signal-safe work is allowed. It makes two system calls (prctl,
    // getppid) and on failure builds an io::Error from a raw errno; nothing
    // allocates, locks, or touches state shared with other threads. It runs after
    // std's setgid/setuid, so the kernel's clearing of the death signal on
    // credential change does not undo it.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGQUIT).map_err(io::Error::from)?;
            // The parent may have died between fork and prctl; then the signal
            // will never come, so refuse to exec an orphan.
            if nix::unistd::getppid().as_raw() as u32 != parent {
                return Err(io::Error::from(nix::errno::Errno::ESRCH));
            }
            Ok(())
        });
    }
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawn `cmd` from a thread that lives until the process exits, so that the
/// parent-death signal tracks the test *process* rather than the test thread that
/// asked for the server (see the module docs).
pub(crate) fn spawn_long_lived(mut cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        // If the thread cannot be created, `rx` is dropped with the closure,
        // every send below fails, and we fall back to spawning on the calling
        // thread: the server then dies with that thread, which is still safe.
        let _ = std::thread::Builder::new().name("testcluster-spawner".into()).spawn(move || {
            for (mut cmd, reply) in rx {
                let _ = reply.send(cmd.spawn());
            }
        });
        tx
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    match tx.send((cmd, reply_tx)) {
        Ok(()) => reply_rx.recv().unwrap_or_else(|_| Err(io::Error::other("spawner thread vanished"))),
        Err(mpsc::SendError((returned, _))) => {
            cmd = returned;
            cmd.spawn()
        }
    }
}
