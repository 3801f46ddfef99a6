//! One PostgreSQL cluster as a thing to act on.
//!
//! Owns: finding a cluster's files and its owner (for a local cluster one way, [`open_local`], which
//! asks the running server); reaching those files only as the owner
//! ([`Files`], over `pgharden-privsep`); reading and checking `postmaster.pid`; planning and
//! applying the profile (files replaced atomically with backups and rollback, the server asked to
//! validate, reload or restart); running server tools as the owner with a clean environment; the
//! emergency lock of logins, row-level security by label, and the quickstart demo cluster.
//! Must not: parse configuration file syntax (that is `pgharden-conf`) or issue certificates
//! (that is `pgharden-pki`).

#![warn(missing_docs, unreachable_pub)]

pub mod db;
pub mod demo;
pub mod discover;
mod error;
pub mod execute;
mod files;
pub mod lock;
mod material;
mod open;
pub mod plan;
mod postmaster;
pub mod profile;
pub mod rls;
mod session;
pub mod sql;
mod tools;

pub use discover::Cluster;
pub use error::{Error, Result};
pub use execute::Applied;
pub use files::{Files, Journal};
pub use material::{Material, Source};
pub use open::{Opened, open_local};
pub use pgharden_privsep::{Account, Replaced};
pub use plan::{Plan, Request};
pub use postmaster::Postmaster;
pub use profile::ProfileOptions;
pub use session::{Locator, Session};
pub use sql::Sql;
