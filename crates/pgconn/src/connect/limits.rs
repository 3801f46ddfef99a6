//! Caps on what a server can make us hold: one backend message at most [`MAX_MESSAGE`] bytes, one
//! response (everything between two ReadyForQuery messages) at most [`MAX_RESPONSE`].
//!
//! Owns: [`Bounded`], a stream adapter that sits between tokio-postgres and every transport
//! (plaintext TCP, Unix socket, the TLS stream after SSLRequest or direct TLS). It follows the
//! backend framing of the bytes the server sends — a type byte, then a 4-byte big-endian length
//! that counts itself — and fails the read as soon as a header declares too much, in the same
//! poll in which the header completes. tokio-postgres buffers a whole message whatever its
//! declared length, so it must never see such a header: a length of 0x7FFFFFF0 followed by a
//! trickle of bytes would otherwise grow its buffer for as long as the server cares to send.
//! The limit that was hit is recorded in a [`Tripwire`] shared with the client side, because
//! tokio-postgres reports a connection that died under a running statement only as "connection
//! closed".
//! Must not: buffer, reorder or alter bytes. The adapter only looks at what passes through, and
//! never reads more than the caller asked for (the one-byte answer to SSLRequest must not swallow
//! the start of the TLS handshake).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, TlsStream};

use crate::error::{LimitExceeded, MessageType};

/// The largest backend message pgharden accepts, type byte and length field included: 4 MiB.
///
/// Nothing pgharden asks for comes near it (the largest values it reads are settings and role
/// lists), while a `text` value of a few MiB still fits. The `probe` command's own parser is
/// stricter (1 MiB), since it reads only startup messages.
pub const MAX_MESSAGE: u64 = 4 << 20;

/// The most a server may send between two ReadyForQuery messages — one statement's rows,
/// notices and errors, or the whole startup: 64 MiB.
///
/// tokio-postgres keeps every row of a result in memory, so without this cap a server streaming
/// DataRows forever would exhaust memory one small message at a time.
pub const MAX_RESPONSE: u64 = 64 << 20;

/// A backend message header: type byte and length.
const HEADER: usize = 5;

/// The backend message type of ReadyForQuery, which ends a response.
const READY_FOR_QUERY: u8 = b'Z';

/// What the first bytes the server sends on a stream are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// Backend messages from the first byte: no TLS negotiation, or the stream inside TLS.
    Messages,
    /// The one-byte answer to SSLRequest. After `S`, TLS records follow; they are not framed
    /// here (the TLS stream is). After anything else, plaintext messages follow.
    SslAnswer,
    /// TLS records from the first byte (`sslnegotiation=direct`): only the TLS stream is framed.
    Tls,
}

/// Where the framer is in the server's byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Waiting for the answer to SSLRequest.
    SslAnswer,
    /// Not framing: TLS records pass through.
    Off,
    /// Collecting a header; `have` bytes of it so far.
    Header { buf: [u8; HEADER], have: usize },
    /// Inside a message body, `left` bytes to go.
    Body { left: u64 },
    /// A limit was exceeded; every later read fails the same way.
    Failed(LimitExceeded),
}

impl State {
    fn header() -> Self {
        Self::Header { buf: [0; HEADER], have: 0 }
    }
}

/// The backend framing state machine, fed with every byte the server sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Framer {
    state: State,
    /// Bytes declared since the last ReadyForQuery (whole messages, counted at their header).
    response: u64,
}

impl Framer {
    pub(crate) fn new(start: Start) -> Self {
        let state = match start {
            Start::Messages => State::header(),
            Start::SslAnswer => State::SslAnswer,
            Start::Tls => State::Off,
        };
        Self { state, response: 0 }
    }

    /// Follow `data`, the next bytes from the server. The first error is sticky.
    pub(crate) fn feed(&mut self, mut data: &[u8]) -> Result<(), LimitExceeded> {
        while let Some(&first) = data.first() {
            match &mut self.state {
                State::Failed(limit) => return Err(limit.clone()),
                State::Off => return Ok(()),
                State::SslAnswer => {
                    self.state = if first == b'S' { State::Off } else { State::header() };
                    data = &data[1..];
                }
                State::Header { buf, have } => {
                    let n = (HEADER - *have).min(data.len());
                    buf[*have..*have + n].copy_from_slice(&data[..n]);
                    *have += n;
                    data = &data[n..];
                    if *have == HEADER {
                        let kind = buf[0];
                        let length = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]);
                        if let Err(limit) = self.header(kind, length) {
                            self.state = State::Failed(limit.clone());
                            return Err(limit);
                        }
                    }
                }
                State::Body { left } => {
                    let n = usize::try_from(*left).map_or(data.len(), |left| left.min(data.len()));
                    *left -= n as u64;
                    data = &data[n..];
                    if *left == 0 {
                        self.state = State::header();
                    }
                }
            }
        }
        match &self.state {
            State::Failed(limit) => Err(limit.clone()),
            _ => Ok(()),
        }
    }

    /// A complete header: check both limits, then skip the body.
    fn header(&mut self, kind: u8, length: u32) -> Result<(), LimitExceeded> {
        // The type byte is not counted by the length field.
        let size = 1 + u64::from(length);
        if size > MAX_MESSAGE {
            return Err(LimitExceeded::Message { size, kind: MessageType(kind) });
        }
        self.response += size;
        if self.response > MAX_RESPONSE {
            return Err(LimitExceeded::Response { size: self.response, kind: MessageType(kind) });
        }
        if kind == READY_FOR_QUERY {
            self.response = 0;
        }
        // A length under 4 is malformed; tokio-postgres refuses it itself.
        let body = u64::from(length).saturating_sub(4);
        self.state = if body == 0 { State::header() } else { State::Body { left: body } };
        Ok(())
    }
}

/// Which limit a connection hit, shared by its streams and its client side. Set once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tripwire(Arc<OnceLock<LimitExceeded>>);

impl Tripwire {
    fn trip(&self, limit: &LimitExceeded) {
        // Only the first limit matters; the connection is dead after it.
        let _ = self.0.set(limit.clone());
    }

    pub(crate) fn get(&self) -> Option<&LimitExceeded> {
        self.0.get()
    }
}

/// A transport whose reads are checked by a [`Framer`]; writes pass through untouched.
#[derive(Debug)]
pub(crate) struct Bounded<S> {
    inner: S,
    framer: Framer,
    tripwire: Tripwire,
}

impl<S> Bounded<S> {
    pub(crate) fn new(inner: S, start: Start, tripwire: Tripwire) -> Self {
        Self { inner, framer: Framer::new(start), tripwire }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Bounded<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Err(limit) = this.framer.feed(&[]) {
            return Poll::Ready(Err(limit_error(limit)));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        match this.framer.feed(&buf.filled()[before..]) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(limit) => {
                // Hand back none of this read: the caller must not see the oversized header.
                buf.set_filled(before);
                this.tripwire.trip(&limit);
                Poll::Ready(Err(limit_error(limit)))
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Bounded<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl<S: TlsStream + Unpin> TlsStream for Bounded<S> {
    fn channel_binding(&self) -> ChannelBinding {
        self.inner.channel_binding()
    }
}

/// The read error tokio-postgres gets; the caller learns the reason from the [`Tripwire`].
fn limit_error(limit: LimitExceeded) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, limit)
}

/// Wraps the stream a TLS handshake produces in a [`Bounded`] framing from its first byte.
#[derive(Debug)]
pub(crate) struct BoundedHandshake<F> {
    handshake: F,
    tripwire: Tripwire,
}

impl<F> BoundedHandshake<F> {
    pub(crate) fn new(handshake: F, tripwire: Tripwire) -> Self {
        Self { handshake, tripwire }
    }
}

impl<F, S, E> Future for BoundedHandshake<F>
where
    F: Future<Output = Result<S, E>> + Unpin,
{
    type Output = Result<Bounded<S>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let stream = ready!(Pin::new(&mut this.handshake).poll(cx))?;
        Poll::Ready(Ok(Bounded::new(stream, Start::Messages, this.tripwire.clone())))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    fn header(kind: u8, length: u32) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&length.to_be_bytes());
        m
    }

    /// Feed `data` in chunks of the given sizes (cycled).
    fn feed_chunked(framer: &mut Framer, data: &[u8], sizes: &[usize]) -> Result<(), LimitExceeded> {
        let mut rest = data;
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes[i % sizes.len()].clamp(1, rest.len());
            framer.feed(&rest[..n])?;
            rest = &rest[n..];
            i += 1;
        }
        Ok(())
    }

    #[test]
    fn oversized_header_fails_when_it_completes() {
        let mut f = Framer::new(Start::Messages);
        let mut data = message(b'R', &[0, 0, 0, 0]);
        data.extend(header(b'E', 0x7FFF_FFF0));
        // Everything up to the last header byte is fine.
        f.feed(&data[..data.len() - 1]).unwrap();
        let err = f.feed(&data[data.len() - 1..]).unwrap_err();
        assert_eq!(err, LimitExceeded::Message { size: 0x7FFF_FFF1, kind: MessageType(b'E') });
        assert_eq!(
            err.to_string(),
            "the server sent a message of 2147483633 bytes (type 'E'); pgharden accepts at most 4 MiB"
        );
        // Sticky, even for an empty read.
        assert_eq!(f.feed(&[]), Err(err.clone()));
        assert_eq!(f.feed(b"more"), Err(err));
    }

    #[test]
    fn the_largest_accepted_message_passes() {
        let mut f = Framer::new(Start::Messages);
        let body = vec![b'x'; usize::try_from(MAX_MESSAGE).unwrap() - HEADER];
        f.feed(&message(b'D', &body)).unwrap();
        f.feed(&message(b'Z', b"I")).unwrap();
        let mut f = Framer::new(Start::Messages);
        let too_big = u32::try_from(MAX_MESSAGE).unwrap();
        assert!(matches!(f.feed(&header(b'D', too_big)), Err(LimitExceeded::Message { .. })));
    }

    #[test]
    fn responses_are_counted_between_ready_for_query() {
        let row = vec![b'x'; 1 << 20];
        let row = message(b'D', &row);
        let per_row = row.len() as u64;
        let fit = MAX_RESPONSE / per_row;
        let mut f = Framer::new(Start::Messages);
        for _ in 0..fit {
            f.feed(&row).unwrap();
        }
        // ReadyForQuery resets the count: the same again passes.
        f.feed(&message(b'Z', b"I")).unwrap();
        for _ in 0..fit {
            f.feed(&row).unwrap();
        }
        let err = f.feed(&row).unwrap_err();
        assert_eq!(err, LimitExceeded::Response { size: (fit + 1) * per_row, kind: MessageType(b'D') });
        assert!(err.to_string().contains("pgharden accepts at most 64 MiB per response"), "{err}");
    }

    #[test]
    fn ssl_answer_s_stops_framing_and_n_starts_it() {
        // After 'S', TLS records: even bytes that look like a huge header pass.
        let mut f = Framer::new(Start::SslAnswer);
        let mut data = vec![b'S'];
        data.extend(header(b'E', 0x7FFF_FFF0));
        f.feed(&data).unwrap();
        // After 'N', plaintext messages, framed from the next byte.
        let mut f = Framer::new(Start::SslAnswer);
        f.feed(b"N").unwrap();
        assert!(matches!(f.feed(&header(b'E', 0x7FFF_FFF0)), Err(LimitExceeded::Message { .. })));
        // Direct TLS is never framed on the raw stream.
        let mut f = Framer::new(Start::Tls);
        f.feed(&header(b'E', 0x7FFF_FFF0)).unwrap();
    }

    #[test]
    fn message_types_print_readably() {
        assert_eq!(MessageType(b'E').to_string(), "'E'");
        assert_eq!(MessageType(0).to_string(), "0x00");
        assert_eq!(MessageType(0xff).to_string(), "0xff");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Legitimate traffic passes however the reads split it.
        #[test]
        fn legitimate_streams_pass_in_any_chunking(
            bodies in prop::collection::vec((any::<u8>(), prop::collection::vec(any::<u8>(), 0..300)), 0..20),
            sizes in prop::collection::vec(1usize..64, 1..8),
        ) {
            let mut data = Vec::new();
            for (kind, body) in &bodies {
                data.extend(message(*kind, body));
            }
            data.extend(message(b'Z', b"I"));
            let mut f = Framer::new(Start::Messages);
            prop_assert!(feed_chunked(&mut f, &data, &sizes).is_ok());
            prop_assert_eq!(f.state, State::header());
            prop_assert_eq!(f.response, 0);
        }

        /// An oversized header is caught however the reads split it, and never later.
        #[test]
        fn oversized_headers_are_caught_in_any_chunking(
            prefix in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..100), 0..5),
            length in (MAX_MESSAGE as u32)..=u32::MAX,
            kind in any::<u8>(),
            sizes in prop::collection::vec(1usize..16, 1..8),
        ) {
            let mut data = Vec::new();
            for body in &prefix {
                data.extend(message(b'N', body));
            }
            let at = data.len() + HEADER;
            data.extend(header(kind, length));
            data.extend([0u8; 32]);
            let mut f = Framer::new(Start::Messages);
            // Up to the byte before the header completes, everything is accepted.
            prop_assert!(feed_chunked(&mut f, &data[..at - 1], &sizes).is_ok());
            let err = f.feed(&data[at - 1..]).unwrap_err();
            prop_assert_eq!(err, LimitExceeded::Message { size: 1 + u64::from(length), kind: MessageType(kind) });
        }
    }
}
