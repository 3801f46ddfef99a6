//! Lossless reading and editing of PostgreSQL's three configuration formats — `postgresql.conf`
//! (and `postgresql.auto.conf`), `pg_hba.conf` and `pg_ident.conf` — and evaluation of pg_hba rules
//! ("which line matches this connection?").
//!
//! Why this crate is hand-written: no crate does lossless (byte-for-byte) editing of PostgreSQL's
//! configuration formats with include handling and error positions, and pgharden must edit
//! operators' files without destroying their comments and layout. Every file keeps each physical
//! line (text and line ending); an unchanged file renders back byte for byte, and an edit touches
//! only the lines it names.
//!
//! The grammar follows the PostgreSQL sources of versions 14 to 18: `guc-file.l` for
//! `postgresql.conf`, `hba.c` (`next_token`, `tokenize_auth_file`, `parse_hba_line`, `check_hba`,
//! `check_usermap`) and `conffiles.c` for the authentication files.
//!
//! This crate is a leaf: it reads files and renders text. It does not write files (the caller does
//! that atomically), talk to a server, resolve host names or look up roles. It does not touch the
//! file system itself either: every loader reads through a [`Source`] (`load_from`), and the
//! `load` functions are shorthands for [`Disk`], this process's own credentials. Reads refuse
//! FIFOs and devices without blocking, and a load is bounded ([`MAX_FILE_BYTES`] per file,
//! [`MAX_LOAD_FILES`] files, [`MAX_LOAD_BYTES`], [`MAX_LOAD_LINES`] and [`MAX_LOAD_TOKENS`] in
//! all, [`MAX_DIR_ENTRIES`] per directory), so that its time and memory are bounded too.
//! Messages quote at most about 200 bytes of any text from a file.
//!
//! ```
//! use pgharden_conf::postgresql_conf::{ConfFile, Value};
//!
//! let mut conf = ConfFile::parse("#ssl = off\nssl = off   # TLS\n", "postgresql.conf")?;
//! conf.set("ssl", &Value::bool(true))?;
//! conf.set("ssl_min_protocol_version", &Value::string("TLSv1.2"))?;
//! assert_eq!(
//!     conf.to_string(),
//!     "#ssl = off\nssl = on   # TLS\nssl_min_protocol_version = 'TLSv1.2'\n"
//! );
//! # Ok::<(), pgharden_conf::Error>(())
//! ```

#![warn(missing_docs, unreachable_pub)]

mod authfile;
mod error;
pub mod hba;
pub mod ident;
mod include;
mod pg_regex;
pub mod postgresql_conf;
mod source;
mod text;
mod tokens;

pub use error::{Error, IncludeError, LimitError, Location, Problem, Severity, SyntaxError};
pub use include::{IncludeKind, SkippedInclude};
pub use source::{
    Disk, MAX_DIR_ENTRIES, MAX_FILE_BYTES, MAX_LOAD_BYTES, MAX_LOAD_FILES, MAX_LOAD_LINES, MAX_LOAD_TOKENS,
    Source,
};
pub use tokens::{Item, Token};

/// The oldest PostgreSQL major version whose rules this crate encodes.
pub const OLDEST_MAJOR: u32 = 14;
/// The newest PostgreSQL major version whose rules this crate encodes.
pub const NEWEST_MAJOR: u32 = 18;
