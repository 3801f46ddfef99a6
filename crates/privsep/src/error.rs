//! The crate's error type. Every variant about a file names the file. Errors cross the boundary
//! between the owner-side helper and the caller, so they are plain data (serializable, comparable):
//! an OS error keeps its errno and message instead of a `std::io::Error`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::meta::FileKind;
use crate::wire_path;

/// What can go wrong acting on a file or socket, or with the helper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused or failed.
    #[error("{}: {message}", path.display())]
    Os {
        /// The file or socket the operation was on.
        #[serde(with = "wire_path")]
        path: PathBuf,
        /// `errno`, when the failure came with one.
        errno: Option<i32>,
        /// The operating system's description of the error (`strerror`), or what failed.
        message: String,
    },

    /// A symbolic link where pgharden writes or walks: it never follows one there.
    #[error("{}: is a symbolic link; pgharden does not write through links (replace it with the real file or directory)", path.display())]
    Symlink {
        /// The link itself (not its target).
        #[serde(with = "wire_path")]
        path: PathBuf,
    },

    /// A FIFO, device, socket or directory where a regular file was expected. Refused before it is
    /// opened: opening a FIFO blocks, opening a device can have side effects.
    #[error("{}: not a regular file (a {kind})", path.display())]
    NotRegular {
        /// The file that is not regular.
        #[serde(with = "wire_path")]
        path: PathBuf,
        /// What it is instead.
        kind: FileKind,
    },

    /// A file larger than the caller's limit: a hostile file costs megabytes, not gigabytes.
    #[error("{}: larger than {limit} bytes ({} MiB), the most pgharden reads from it", path.display(), limit >> 20)]
    TooLarge {
        /// The file that is too large.
        #[serde(with = "wire_path")]
        path: PathBuf,
        /// The caller's limit, in bytes.
        limit: u64,
    },

    /// A request pgharden itself refuses (a relative path, a name with `/`, too many entries).
    #[error("{}: {reason}", path.display())]
    Refused {
        /// The path the request named.
        #[serde(with = "wire_path")]
        path: PathBuf,
        /// Why it was refused, as a phrase to show after the path.
        reason: String,
    },

    /// The owner-side helper could not be started, stopped answering, or broke the protocol.
    #[error("the helper acting as {account}: {reason}")]
    Helper {
        /// Login name of the account the helper acts as.
        account: String,
        /// What went wrong with it (start failure, exit, malformed reply).
        reason: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An OS error on `path`.
    pub(crate) fn os(path: &Path, e: rustix::io::Errno) -> Self {
        Self::Os { path: path.to_path_buf(), errno: Some(e.raw_os_error()), message: e.to_string() }
    }

    /// A `std::io::Error` on `path`.
    pub(crate) fn io(path: &Path, e: &std::io::Error) -> Self {
        Self::Os { path: path.to_path_buf(), errno: e.raw_os_error(), message: e.to_string() }
    }

    pub(crate) fn refused(path: &Path, reason: impl Into<String>) -> Self {
        Self::Refused { path: path.to_path_buf(), reason: reason.into() }
    }

    /// Whether the file or directory does not exist (`ENOENT`).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Os { errno: Some(e), .. } if *e == rustix::io::Errno::NOENT.raw_os_error())
    }

    /// Whether the account lacked permission (`EACCES`, `EPERM`).
    pub fn is_permission_denied(&self) -> bool {
        let denied = [rustix::io::Errno::ACCESS.raw_os_error(), rustix::io::Errno::PERM.raw_os_error()];
        matches!(self, Self::Os { errno: Some(e), .. } if denied.contains(e))
    }

    /// What went wrong, without the path (for callers that name the file themselves).
    pub fn detail(&self) -> String {
        let full = self.to_string();
        match self.path() {
            Some(path) => {
                let prefix = format!("{}: ", path.display());
                full.strip_prefix(&prefix).map(str::to_string).unwrap_or(full)
            }
            None => full,
        }
    }

    /// The file the error is about, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Os { path, .. }
            | Self::Symlink { path }
            | Self::NotRegular { path, .. }
            | Self::TooLarge { path, .. }
            | Self::Refused { path, .. } => Some(path),
            Self::Helper { .. } => None,
        }
    }

    /// The same error as a `std::io::Error` (for traits that speak `io::Result`), keeping its
    /// kind where there is one; the message is [`Error::detail`], since such callers name the file.
    pub fn into_io(self) -> std::io::Error {
        let kind = match &self {
            Self::Os { errno: Some(e), .. } => std::io::Error::from_raw_os_error(*e).kind(),
            Self::NotRegular { .. } | Self::Symlink { .. } | Self::Refused { .. } => {
                std::io::ErrorKind::InvalidInput
            }
            Self::TooLarge { .. } => std::io::ErrorKind::InvalidData,
            Self::Os { errno: None, .. } | Self::Helper { .. } => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, self.detail())
    }
}
