//! The PostgreSQL protocol at the byte level, for probes that need no credentials.
//!
//! Each function connects to one server, asks one question, and returns typed facts: does the
//! server offer TLS or GSSAPI encryption, would it admit a user/database in plaintext (and with
//! which authentication method), does it refuse TLS without a client certificate, which
//! certificate chain, TLS version and cipher suite does it negotiate, which TLS versions does it
//! accept at all, and does it speak PostgreSQL 17's direct TLS.
//!
//! ```no_run
//! use std::time::Duration;
//! use pgharden_wire::{SslAnswer, StartupReply, ProbeTarget};
//!
//! let target = ProbeTarget::new("127.0.0.1:5432".parse()?).with_timeout(Duration::from_secs(5));
//! if pgharden_wire::ssl_request(&target)? == SslAnswer::Accepted {
//!     let facts = pgharden_wire::server_certificate_chain(&target)?;
//!     println!("{} {} ({} certificates)", facts.negotiated_version, facts.cipher_suite, facts.chain.len());
//! }
//! match pgharden_wire::plaintext_startup(&target, "postgres", "postgres")?.reply {
//!     StartupReply::Authentication(method) => println!("plaintext admitted: {}", method.describe()),
//!     StartupReply::Refused(error) => println!("plaintext refused: {error}"),
//!     other => println!("{other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Guarantees, for every function:
//! * nothing that authenticates is ever sent — no password, no SASL response;
//! * one deadline ([`ProbeTarget::timeout`]) bounds the whole probe, connect included: each read and
//!   write gets only the time left, so a server trickling bytes cannot stall it;
//! * reads take exact lengths, capped ([`MAX_MESSAGE`] for protocol messages, 2^14 for TLS
//!   records), so garbage cannot make a probe allocate much or loop;
//! * answers the server gives in the protocol (`N`, an ErrorResponse, a TLS alert) are facts in the
//!   return value; [`Error`] is for what prevented an answer, and says what was sent and the first
//!   bytes that came back.
//!
//! This crate must not: know about pg_hba.conf or STIG rules (it reports, `audit` judges), check
//! host names (libpq's rules live in `pgharden-pki`), or keep state between calls.
//!
//! Modules: `link` (the socket and its deadline), `frontend` / `backend` (message bytes),
//! `negotiate` (SSLRequest, GSSENCRequest), `startup` (StartupMessage in plaintext or TLS),
//! `tls` (rustls handshakes, recorded chain), `hello` (hand-written ClientHello and ServerHello
//! parser), `versions` (per-version probes), `alert`, `version`, `error`.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod alert;
mod backend;
mod error;
mod flight;
mod frontend;
mod hello;
mod link;
mod negotiate;
pub mod scan;
mod startup;
pub mod suites;
mod tls;
mod version;
mod versions;

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

pub use alert::Alert;
pub use backend::{AuthRequest, MAX_MESSAGE, ServerMessage};
pub use error::{CloseKind, Error, IoFailure, Malformed, Received, Sent};
pub use frontend::APPLICATION_NAME;
pub use hello::group_name;
pub use negotiate::{SslAnswer, gssenc_request, ssl_request};
pub use scan::{Legacy, Scan, Verdict, VersionScan, scan};
pub use startup::{StartupAnswer, StartupReply, TlsStartupAnswer, plaintext_startup, tls_startup};
pub use suites::{Suite, SuiteWeakness};
pub use tls::{
    ALPN_POSTGRESQL, CertificateRequest, ClientIdentity, DirectTlsAnswer, TlsFacts, direct_tls,
    server_certificate_chain,
};
pub use version::TlsVersionName;
pub use versions::{Refusal, VersionOutcome, tls_version, tls_versions};

/// The timeout [`ProbeTarget::new`] starts with.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The server to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    /// The server's address and port.
    pub addr: SocketAddr,
    /// The name for TLS SNI; `None` sends none (as libpq does for a numeric host).
    pub server_name: Option<String>,
    /// The deadline for each probe, from connect to the last byte.
    pub timeout: Duration,
}

impl ProbeTarget {
    /// `addr` with [`DEFAULT_TIMEOUT`] and no server name.
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, server_name: None, timeout: DEFAULT_TIMEOUT }
    }

    /// Resolve `host` (with the system resolver and its own timeouts) and take the first address;
    /// `host` becomes the server name unless it is an IP address.
    pub fn lookup(host: &str, port: u16) -> Result<Self, Error> {
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|e| Error::InvalidArgument(format!("cannot resolve {host}: {e}")))?
            .next()
            .ok_or_else(|| Error::InvalidArgument(format!("{host} resolves to no address")))?;
        let name = host.parse::<std::net::IpAddr>().is_err().then(|| host.to_owned());
        Ok(Self { server_name: name, ..Self::new(addr) })
    }

    /// This target with `timeout` as the deadline of each probe.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// This target sending `name` in SNI (and nothing else: no host name is checked here).
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_keeps_names_but_not_addresses() {
        let t = ProbeTarget::lookup("127.0.0.1", 5432).unwrap();
        assert_eq!((t.addr.port(), t.server_name), (5432, None));
        let t = ProbeTarget::lookup("localhost", 5433).unwrap();
        assert_eq!(t.server_name.as_deref(), Some("localhost"));
        assert!(ProbeTarget::lookup("no-such-host.invalid", 1).is_err());
    }
}
