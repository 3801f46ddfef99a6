//! What a `stat` says about a file, as plain data that can cross the helper boundary.

use serde::{Deserialize, Serialize};

/// The type of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    /// A regular file: the only kind pgharden reads or writes.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link (seen only where links are not followed).
    Symlink,
    /// A named pipe: opening it for reading blocks until a writer comes.
    Fifo,
    /// A Unix domain socket.
    Socket,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A type `stat` reported that none of the above covers.
    Unknown,
}

impl FileKind {
    pub(crate) fn from_mode(mode: u32) -> Self {
        use rustix::fs::FileType as T;
        match T::from_raw_mode(mode) {
            T::RegularFile => Self::Regular,
            T::Directory => Self::Directory,
            T::Symlink => Self::Symlink,
            T::Fifo => Self::Fifo,
            T::Socket => Self::Socket,
            T::CharacterDevice => Self::CharDevice,
            T::BlockDevice => Self::BlockDevice,
            _ => Self::Unknown,
        }
    }
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Regular => "regular file",
            Self::Directory => "directory",
            Self::Symlink => "symbolic link",
            Self::Fifo => "FIFO",
            Self::Socket => "socket",
            Self::CharDevice => "character device",
            Self::BlockDevice => "block device",
            Self::Unknown => "file of unknown type",
        })
    }
}

/// Owner, mode, size and identity of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// What the file is.
    pub kind: FileKind,
    /// Owning user id.
    pub uid: u32,
    /// Owning group id.
    pub gid: u32,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Size in bytes (`st_size`).
    pub len: u64,
    /// Device the file lives on; with `ino`, its identity (a replaced file gets a new one).
    pub dev: u64,
    /// Inode number on `dev`.
    pub ino: u64,
}

impl Meta {
    pub(crate) fn from_stat(st: &rustix::fs::Stat) -> Self {
        let mode = st.st_mode;
        Self {
            kind: FileKind::from_mode(mode),
            uid: st.st_uid,
            gid: st.st_gid,
            mode: mode & 0o7777,
            len: u64::try_from(st.st_size).unwrap_or(0),
            dev: st.st_dev,
            ino: st.st_ino,
        }
    }

    /// Whether another account than the owner (and its group) may write the file.
    pub fn others_may_write(&self) -> bool {
        self.mode & 0o002 != 0
    }
}
