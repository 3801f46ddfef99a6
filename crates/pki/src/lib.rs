//! The PKI of the DISA PostgreSQL STIG, Appendix G: a root CA, a server and a client intermediate CA,
//! server certificates with a SAN for every host name, client certificates whose CN is the role,
//! CRLs for every CA, encrypted CA keys, and the checks libpq and the server apply to them.
//!
//! This crate knows nothing about PostgreSQL servers; `pgharden apply` puts its files in place.
//!
//! ```no_run
//! use pgharden_pki::{ClientRequest, InitOptions, Pki, ServerRequest};
//!
//! let dir = std::path::Path::new("/tmp/pki");
//! let mut pki = Pki::init(dir, &InitOptions::default())?; // no passphrase: CA keys unencrypted
//! pki.issue_server(&ServerRequest { hosts: vec!["db.example.com".into()], ..Default::default() }, None)?;
//! let bob = pki.issue_client(&ClientRequest { role: "bob".into(), ..Default::default() }, None)?;
//! println!("{}", bob.cert_path.display());
//! # Ok::<(), pgharden_pki::Error>(())
//! ```

#![warn(missing_docs, unreachable_pub)]

mod authority;
mod clock;
mod error;
pub mod files;
pub mod hostname;
pub mod inspect;
mod install;
pub mod key;
pub mod ledger;
pub mod pair;
mod renewal;
mod validity;
pub mod verify;

pub use authority::{
    CLIENT_DAYS, CRL_BUNDLE, CRL_DAYS, ClientRequest, INTERMEDIATE_DAYS, InitOptions, Issued, Listed, Pki,
    ROOT_DAYS, SERVER_DAYS, ServerRequest, Status, fingerprint, normalize_serial, parse_host, serial_of_file,
};
pub use clock::Clock;
pub use error::{Error, Result};
pub use install::{ClientInstall, Installed, connection_uri, install_client};
pub use key::{KeyType, Passphrase};
pub use ledger::{Entry, Kind, Ledger, Reason, Requested};
pub use pair::ServerPair;
pub use renewal::{Due, Item, Schedule};
pub use validity::{Threshold, Validity};
pub use verify::{Purpose, Report, Trust, verify_chain, verify_file};
