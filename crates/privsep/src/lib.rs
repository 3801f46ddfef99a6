//! Privilege separation for a tool that runs as root on files other accounts own.
//!
//! pgharden runs as root, but a cluster's data directory, its configuration directories, includes,
//! logs and `postmaster.pid` belong to the cluster owner, and a home directory belongs to its user.
//! Anything root does *through* such a path — follow a link planted there, chown what it names,
//! read what a FIFO there feeds it — hands root's power to that account. So pgharden never does:
//! every operation on another account's files, and every peer connection to a server that
//! authenticates by the connecting process's uid, is done by an [`Actor`] for that account. When
//! pgharden runs as root, the actor is a helper process started as the account (see `helper`); the
//! kernel then enforces that the account can only do what it could already do. When pgharden
//! already runs as the account, the actor works in-process, with the same rules.
//!
//! The rules (`ops`): writes never go through a symbolic link (every path component is opened
//! `O_NOFOLLOW`), only regular files are written, new content is written to a fresh `O_EXCL` temp
//! file with its final mode and renamed into place, backups are copies of the content; reads open
//! only regular files and stop at a limit; processes started for an account get a clean
//! environment ([`Account::command`]).
//!
//! Why hand-written: no crate offers a descriptor-passing privilege-separation helper; the
//! system calls come from `rustix`.
//!
//! Every binary that uses this crate must call [`serve_if_helper`] first thing in `main`:
//!
//! ```no_run
//! // First thing in `main`:
//! pgharden_privsep::serve_if_helper();
//! // Later, as root: read the cluster's configuration as its owner.
//! let owner = pgharden_privsep::Account::of_path("/var/lib/postgresql/15/main".as_ref())?;
//! let actor = pgharden_privsep::Actor::new(owner)?;
//! let conf = actor.read("/var/lib/postgresql/15/main/postgresql.auto.conf".as_ref(), 16 << 20)?;
//! # drop(conf);
//! # Ok::<(), pgharden_privsep::Error>(())
//! ```

#![warn(missing_docs, unreachable_pub)]

mod account;
mod actor;
mod error;
mod helper;
mod meta;
mod ops;
mod protocol;
mod trusted;
mod wire_path;

pub use account::{Account, CLEAN_PATH};
pub use actor::Actor;
pub use error::{Error, Result};
pub use helper::serve_if_helper;
pub use meta::{FileKind, Meta};
pub use ops::{Entry, MAX_BACKUP, MAX_ENTRIES, Range, Replaced, TEMP_MARKER};
pub use trusted::{private_dir, subdir_for};

/// The same operations with this process's own credentials, for callers that never act for
/// another account (reading what the operator named, a non-root audit).
pub mod local {
    pub use crate::ops::{canonicalize, read, read_dir, read_range, stat, write_named};
}
