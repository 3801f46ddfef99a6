//! The one way to open a local cluster named by its data directory, so that everything pgharden
//! does to it (apply, audit) judges the same files.
//!
//! Owns: the rule that a running server is authoritative. When a postmaster runs, its own
//! `config_file`, `hba_file` and `ident_file` are the files that count — a `-c hba_file=…` on its
//! command line, an `include` or a Debian layout may put them anywhere, and only the server knows
//! which it loaded — so the cluster is discovered by asking it, over the Unix socket as the owner.
//! When no postmaster runs, the files are found offline (PGDATA, the postmaster's last command
//! line, Debian's `/etc/postgresql`). A server that runs but refuses the owner is an error, never a
//! silent fall back to the offline guess: that guess could name a different pg_hba.conf than the
//! one in force.
//! Must not: decide what to change, or keep the connection beyond handing it to the caller.

use std::path::Path;

use crate::db::Db;
use crate::discover::{self, Cluster};
use crate::error::Result;
use crate::files::Files;

/// A cluster opened by [`open_local`].
#[derive(Debug)]
pub struct Opened {
    /// What the running server reports (or, when it is stopped, what its files say).
    pub cluster: Cluster,
    /// A connection to database `postgres` as the cluster owner over the Unix socket, when the
    /// server runs; `None` when it is stopped.
    pub db: Option<Db>,
}

/// Open the cluster in `data_dir`, whose files `files` reaches as the cluster owner.
///
/// * A live postmaster (`postmaster.pid` checked, see [`crate::Postmaster::read`]): connect to
///   database `postgres` as the owner's role over the socket the postmaster announces (peer
///   authentication), and discover from the server ([`discover::from_server`]): the data
///   directory it serves must be `data_dir`, and `config_file`, `hba_file` and `ident_file` are the
///   ones it reports. The connection is returned in [`Opened::db`].
/// * No live postmaster: the offline discovery ([`discover::from_data_dir`]) and `db: None`.
///
/// # Errors
///
/// Everything [`discover::from_data_dir`] refuses (not a data directory, no configuration file to
/// be found, a `postmaster.pid` naming another process). For a running server that cannot be
/// reached, [`crate::Error::Socket`] (the socket could not be connected) or
/// [`crate::Error::Connect`], whose [`crate::Error::sqlstate`] tells a refusal by pg_hba.conf
/// (28000) from a missing `postgres` database (3D000) or too many connections (53300). A caller
/// that can still use the files alone (an audit) may then call [`discover::from_data_dir`] itself
/// and say that the server was not asked.
pub fn open_local(data_dir: &Path, files: &Files) -> Result<Opened> {
    let offline = discover::from_data_dir(data_dir, files)?;
    if offline.postmaster.is_none() {
        return Ok(Opened { cluster: offline, db: None });
    }
    let mut db = Db::local(&offline, files, &offline.owner.name, "postgres")?;
    let cluster = discover::from_server(Some(&offline.data_dir), &mut db, files)?;
    Ok(Opened { cluster, db: Some(db) })
}
