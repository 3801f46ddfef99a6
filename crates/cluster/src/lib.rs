//! One PostgreSQL cluster as a thing to act on.
//!
//! Owns: finding a cluster's files and its owner, reading `postmaster.pid`, running server tools as
//! the cluster owner, and replacing the cluster's files atomically with backups and rollback.
//! Must not: parse configuration file syntax (that is `pgharden-conf`) or issue certificates
//! (that is `pgharden-pki`).

pub mod db;
pub mod demo;
pub mod discover;
mod error;
pub mod execute;
pub mod files;
pub mod lock;
pub mod owner;
pub mod plan;
pub mod postmaster;
pub mod profile;
pub mod rls;
pub mod session;
pub mod sql;

pub use discover::Cluster;
pub use error::{Error, Result};
pub use execute::Applied;
pub use files::{Journal, Replaced};
pub use owner::Owner;
pub use plan::{Plan, Request};
pub use postmaster::Postmaster;
pub use profile::ProfileOptions;
pub use session::{Session, Target};
pub use sql::Sql;
