//! libpq semantics for pgharden's own PostgreSQL connections.
//!
//! pgharden tells administrators to use `sslmode=verify-full` with client certificates; its own
//! sessions must therefore behave exactly like libpq's, from the same connection strings and the
//! same `PG*` variables, `~/.pgpass` and `~/.postgresql/` files. tokio-postgres alone ignores
//! `sslcert`/`sslrootcert` and knows only three sslmodes, so this crate supplies the rest:
//!
//! * [`conninfo`]: parse keyword/value strings and URIs ([`Conninfo`]) and resolve them with the
//!   environment ([`Env`]) into typed [`Settings`];
//! * [`tls`]: a rustls configuration that verifies the server like libpq with OpenSSL (chain,
//!   CRLs of the whole chain, libpq's host-name rules) and presents the client certificate;
//! * [`connect()`]: hosts in order, sslmode's tries, errors in libpq's words; a
//!   [`BlockingClient`] for synchronous callers; sessions over a Unix stream connected by the
//!   cluster owner ([`connect_unix_stream`]), for peer authentication as that owner.
//!
//! Two things differ from libpq on purpose, both so that a hostile or wedged server cannot hold
//! pgharden (which runs as root, often unattended) without bound:
//!
//! * **Sizes.** No backend message may exceed [`MAX_MESSAGE`] (4 MiB) and no response — what the
//!   server sends between two ReadyForQuery messages — [`MAX_RESPONSE`] (64 MiB). libpq has no
//!   such limits; a server exceeding them gets its connection closed with a
//!   [`LimitExceeded`] error naming the size.
//! * **Time.** Without `connect_timeout` or `PGCONNECT_TIMEOUT`, each connection attempt gives up
//!   after [`DEFAULT_CONNECT_TIMEOUT`] (15 s) instead of waiting forever; `connect_timeout=0`
//!   still waits forever, as in libpq. [`BlockingClient`] calls give up after
//!   [`DEFAULT_QUERY_TIMEOUT`] (120 s, adjustable).
//!
//! ```no_run
//! use pgharden_pgconn::{BlockingClient, Conninfo, Env};
//!
//! let settings = Conninfo::parse("host=db.example.com sslmode=verify-full sslcert=bob.crt sslkey=bob.key")?
//!     .resolve(&Env::from_process())?;
//! println!("connecting with {settings}"); // passwords print as ***
//! let db = BlockingClient::connect(&settings)?;
//! let row = db.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])?;
//! assert!(row.get::<_, bool>(0));
//! # Ok::<(), pgharden_pgconn::Error>(())
//! ```

#![warn(missing_docs, unreachable_pub)]

mod connect;
pub mod conninfo;
mod error;
mod secret;
pub mod tls;

pub use connect::{
    BlockingClient, Connected, DEFAULT_QUERY_TIMEOUT, MAX_MESSAGE, MAX_RESPONSE, connect, connect_unix_stream,
};
pub use conninfo::{
    ChannelBinding, ConnectTimeout, Conninfo, DEFAULT_CONNECT_TIMEOUT, Env, Host, HostName, RootCert,
    Settings, SslCertMode, SslMode, SslNegotiation, TargetSessionAttrs, TlsVersion, Verification,
};
pub use error::{
    Attempt, ConnectError, ConninfoError, Endpoint, Error, Failure, LimitExceeded, MessageType, QueryError,
    TlsError,
};
pub use secret::Secret;
pub use tls::{CertificateFailure, TlsContext, TlsOutcome};
/// Re-exported so callers can name rows and parameter types without their own dependency.
pub use tokio_postgres;
