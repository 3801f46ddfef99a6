//! The helper protocol: requests, replies, and how they travel over a Unix stream socket.
//!
//! A frame is a 4-byte little-endian header length, an 8-byte little-endian payload length, the
//! header (JSON), then the payload (raw bytes: file content). A reply that hands over a descriptor
//! (a connected socket, a lock file) carries it as `SCM_RIGHTS` ancillary data on the frame's first
//! bytes. Every read goes through `recvmsg`, so a descriptor is never silently dropped, and every
//! descriptor received is close-on-exec.
//!
//! The caller's side trusts nothing it receives: lengths are capped before anything is allocated,
//! and a descriptor is only taken when the reply says one was sent. The helper may be under the
//! control of the account it runs as (it can be ptraced by it), so its answers are worth exactly
//! what that account could have done itself — never more.
//! Must not: perform the operations (that is `ops`).

use std::io::{IoSlice, IoSliceMut, Write};
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer, SendAncillaryMessage,
    SendFlags,
};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::meta::Meta;
use crate::ops::{Entry, Range, Replaced};
use crate::wire_path;

/// The largest header accepted (requests and replies are small; entries lists are the largest).
pub(crate) const MAX_HEADER: usize = 32 << 20;
/// The largest payload accepted (file contents: configuration files, backups, log tails).
pub(crate) const MAX_PAYLOAD: u64 = 80 << 20;

/// What the caller asks the helper to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub(crate) enum Request {
    Read {
        #[serde(with = "wire_path")]
        path: PathBuf,
        limit: u64,
    },
    ReadRange {
        #[serde(with = "wire_path")]
        path: PathBuf,
        offset: u64,
        limit: u64,
    },
    Stat {
        #[serde(with = "wire_path")]
        path: PathBuf,
        follow: bool,
    },
    ReadDir {
        #[serde(with = "wire_path")]
        path: PathBuf,
    },
    Canonicalize {
        #[serde(with = "wire_path")]
        path: PathBuf,
    },
    ReadLink {
        #[serde(with = "wire_path")]
        path: PathBuf,
    },
    /// The new content is the payload.
    Replace {
        #[serde(with = "wire_path")]
        path: PathBuf,
        mode: u32,
        backup_tag: Option<String>,
    },
    Undo {
        replaced: Replaced,
    },
    RemoveTemps {
        #[serde(with = "wire_path")]
        path: PathBuf,
    },
    Mkdir {
        #[serde(with = "wire_path")]
        path: PathBuf,
        mode: u32,
    },
    OpenLock {
        #[serde(with = "wire_path")]
        path: PathBuf,
    },
    ConnectUnix {
        #[serde(with = "wire_path")]
        path: PathBuf,
    },
    Reload {
        pid: i32,
    },
}

/// What the helper answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "kebab-case")]
pub(crate) enum Reply {
    /// First frame after start: who the helper runs as.
    Hello {
        uid: u32,
        gid: u32,
    },
    Done,
    /// The payload holds the bytes.
    Bytes,
    /// The payload holds the bytes.
    Range {
        range: Range,
    },
    Meta {
        meta: Option<Meta>,
    },
    Entries {
        entries: Vec<Entry>,
    },
    Path {
        #[serde(with = "wire_path")]
        path: PathBuf,
    },
    Replaced {
        replaced: Replaced,
    },
    Count {
        count: usize,
    },
    Created {
        created: bool,
    },
    /// A descriptor travels with this frame.
    Descriptor,
    Failed {
        error: Error,
    },
}

/// A frame could not be sent or received.
#[derive(Debug)]
pub(crate) enum FrameError {
    /// The other side closed the socket (between frames).
    Closed,
    /// A read timed out.
    TimedOut,
    Broken(String),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Closed => f.write_str("the connection closed"),
            Self::TimedOut => f.write_str("no answer in time"),
            Self::Broken(why) => f.write_str(why),
        }
    }
}

/// Send one frame, with `fd` attached when given.
pub(crate) fn send<T: Serialize>(
    sock: &UnixStream,
    header: &T,
    payload: &[u8],
    fd: Option<&OwnedFd>,
) -> Result<(), FrameError> {
    let header = serde_json::to_vec(header).map_err(|e| FrameError::Broken(e.to_string()))?;
    let header_len =
        u32::try_from(header.len()).map_err(|_| FrameError::Broken("header too large".into()))?;
    let mut prefix = [0u8; 12];
    prefix[..4].copy_from_slice(&header_len.to_le_bytes());
    prefix[4..].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    let broken = |e: std::io::Error| FrameError::Broken(e.to_string());
    // The descriptor rides on the first bytes of the frame.
    let fds: Vec<_> = fd.iter().map(|fd| std::os::fd::AsFd::as_fd(*fd)).collect();
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() {
        control.push(SendAncillaryMessage::ScmRights(&fds));
    }
    let sent = rustix::net::sendmsg(sock, &[IoSlice::new(&prefix)], &mut control, SendFlags::NOSIGNAL)
        .map_err(|e| FrameError::Broken(e.to_string()))?;
    let mut writer = sock;
    writer.write_all(&prefix[sent..]).map_err(broken)?;
    writer.write_all(&header).map_err(broken)?;
    writer.write_all(payload).map_err(broken)?;
    Ok(())
}

/// Fill `buf` with `recvmsg`, keeping every descriptor that arrives. `Ok(false)`: the peer closed
/// before the first byte.
fn recv_exact(sock: &UnixStream, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> Result<bool, FrameError> {
    let mut filled = 0;
    while filled < buf.len() {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let got = rustix::net::recvmsg(
            sock,
            &mut [IoSliceMut::new(&mut buf[filled..])],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        );
        let got = match got {
            Ok(m) => m.bytes,
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::AGAIN) => return Err(FrameError::TimedOut),
            Err(e) => return Err(FrameError::Broken(e.to_string())),
        };
        for message in control.drain() {
            if let RecvAncillaryMessage::ScmRights(received) = message {
                // More than a handful is never sent; the rest are closed as they drop.
                fds.extend(received.take(4usize.saturating_sub(fds.len())));
            }
        }
        if got == 0 {
            return if filled == 0 { Ok(false) } else { Err(FrameError::Broken("truncated frame".into())) };
        }
        filled += got;
    }
    Ok(true)
}

/// One received frame.
pub(crate) struct Frame<T> {
    pub(crate) header: T,
    pub(crate) payload: Vec<u8>,
    pub(crate) fds: Vec<OwnedFd>,
}

/// Receive one frame, refusing lengths over the caps before allocating.
pub(crate) fn recv<T: for<'de> Deserialize<'de>>(sock: &UnixStream) -> Result<Frame<T>, FrameError> {
    let mut fds = Vec::new();
    let mut prefix = [0u8; 12];
    if !recv_exact(sock, &mut prefix, &mut fds)? {
        return Err(FrameError::Closed);
    }
    let header_len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    let mut payload_len = [0u8; 8];
    payload_len.copy_from_slice(&prefix[4..]);
    let payload_len = u64::from_le_bytes(payload_len);
    if header_len > MAX_HEADER || payload_len > MAX_PAYLOAD {
        return Err(FrameError::Broken(format!("oversized frame ({header_len} + {payload_len} bytes)")));
    }
    let mut header = vec![0u8; header_len];
    let mut payload = vec![0u8; payload_len as usize];
    for buf in [&mut header, &mut payload] {
        if !buf.is_empty() && !recv_exact(sock, buf, &mut fds)? {
            return Err(FrameError::Broken("truncated frame".into()));
        }
    }
    let header =
        serde_json::from_slice(&header).map_err(|e| FrameError::Broken(format!("bad frame: {e}")))?;
    Ok(Frame { header, payload, fds })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn frames_carry_headers_payloads_and_descriptors() {
        let (a, b) = UnixStream::pair().unwrap();
        let file = tempfile::tempfile().unwrap();
        let fd = OwnedFd::from(file);
        send(&a, &Reply::Descriptor, b"payload", Some(&fd)).unwrap();
        send(&a, &Reply::Count { count: 3 }, &[], None).unwrap();
        let first: Frame<Reply> = recv(&b).unwrap();
        assert!(matches!(first.header, Reply::Descriptor));
        assert_eq!((first.payload.as_slice(), first.fds.len()), (&b"payload"[..], 1));
        let second: Frame<Reply> = recv(&b).unwrap();
        assert!(matches!(second.header, Reply::Count { count: 3 }) && second.fds.is_empty());
        drop(a);
        assert!(matches!(recv::<Reply>(&b), Err(FrameError::Closed)));
    }

    #[test]
    fn oversized_frames_are_refused_before_allocation() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut prefix = [0u8; 12];
        prefix[..4].copy_from_slice(&2u32.to_le_bytes());
        prefix[4..].copy_from_slice(&u64::MAX.to_le_bytes());
        (&a).write_all(&prefix).unwrap();
        assert!(matches!(recv::<Reply>(&b), Err(FrameError::Broken(ref w)) if w.contains("oversized")));
    }
}
