//! Real PostgreSQL clusters for integration tests and benchmarks.
//!
//! This crate is test infrastructure. It owns:
//!
//! * finding PostgreSQL binaries ([`Installation`]), failing loudly with install
//!   instructions when there are none — tests never skip silently;
//! * creating a throw-away cluster in its own temporary directory with `initdb`,
//!   running the postmaster as an unprivileged OS account (`postgres` when the
//!   test runs as root, as it does in CI), on a free loopback port and a private
//!   Unix socket directory ([`Cluster`]);
//! * stopping it and removing every trace when the [`Cluster`] is dropped, and
//!   having the kernel stop it if the test process dies (`PR_SET_PDEATHSIG`);
//! * small helpers tests need around a live server: writing configuration files
//!   with exact owner and mode, reloading with error detection, reading the
//!   server log, running SQL with `psql`;
//! * a moved clock for a server or any command ([`FakeClock`], libfaketime preloaded), for tests
//!   of what happens when certificates and CRLs expire.
//!
//! It must not:
//!
//! * know anything about pgharden's features, checks or STIG rules — it offers
//!   primitives, and tests decide what to harden and what to assert;
//! * mock or emulate PostgreSQL — every cluster is a real server;
//! * move the real clock, or skip a test because libfaketime is missing;
//! * touch system clusters, `/etc/postgresql`, the real user's `~/.pgpass` or
//!   `~/.postgresql/`, or listen on anything but 127.0.0.1;
//! * download anything.
//!
//! Everything is safe to use from parallel test threads: each cluster has its own
//! directory and port, and the crate holds no global state besides the set of
//! ports it has handed out and one thread that forks postmasters.
//!
//! ```no_run
//! let cluster = pgharden_testcluster::Cluster::start_default()?;
//! assert_eq!(cluster.psql("select 1")?, "1");
//! # Ok::<(), pgharden_testcluster::Error>(())
//! ```

#![warn(missing_docs, unreachable_pub)]

mod cluster;
mod error;
mod faketime;
mod install;
mod options;
mod port;
mod process;
mod util;

pub use cluster::{Cluster, KEEP_ENV};
pub use error::Error;
pub use faketime::{FakeClock, LIBFAKETIME_ENV};
pub use install::{CACHE_ENV, DEFAULT_MAJOR, Installation, MATRIX_MAJORS, PGBIN_ENV};
pub use options::ClusterOptions;
pub use port::free_port;
pub use process::{DEFAULT_ROOT_OS_USER, OsUser};
