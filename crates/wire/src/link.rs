//! One TCP connection with a deadline and a memory of what was said.
//!
//! Owns: connecting with a timeout, giving every read and write only the time left until the
//! probe's deadline (so a server that trickles bytes cannot keep a probe alive), remembering the
//! last message sent and the first bytes received since, and turning `io::Error`s — including the
//! typed errors parsers and rustls tuck inside them — into [`Error`]s that say all of that.
//! Must not: know any message format.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::ProbeTarget;
use crate::error::{CloseKind, Error, IoFailure, Malformed, Received, Sent};

/// A connected socket and the probe's bookkeeping.
#[derive(Debug)]
pub(crate) struct Link {
    stream: TcpStream,
    addr: SocketAddr,
    timeout: Duration,
    deadline: Instant,
    sent: Sent,
    received: Received,
}

impl Link {
    /// Connect; the deadline for the whole probe starts now.
    pub(crate) fn connect(target: &ProbeTarget) -> Result<Self, Error> {
        let start = Instant::now();
        let stream = TcpStream::connect_timeout(&target.addr, target.timeout).map_err(|e| {
            Error::Connect { addr: target.addr, timeout: target.timeout, reason: IoFailure::from(&e) }
        })?;
        // Small messages, one at a time: Nagle would only add latency.
        let _ = stream.set_nodelay(true);
        Ok(Self {
            stream,
            addr: target.addr,
            timeout: target.timeout,
            deadline: start + target.timeout,
            sent: Sent::Nothing,
            received: Received::default(),
        })
    }

    /// Send one complete message.
    pub(crate) fn send(&mut self, what: Sent, bytes: &[u8]) -> Result<(), Error> {
        self.mark(what);
        self.write_all(bytes).and_then(|()| self.flush()).map_err(|e| self.fail(e))
    }

    /// Record that `what` is being sent by someone else (rustls) through this link.
    pub(crate) fn mark(&mut self, what: Sent) {
        self.sent = what;
        self.received = Received::default();
    }

    /// Read exactly `buf.len()` bytes.
    pub(crate) fn read_exact_or_fail(&mut self, buf: &mut [u8]) -> Result<(), Error> {
        self.read_exact(buf).map_err(|e| self.fail(e))
    }

    /// Close both directions; errors are irrelevant because the probe is over.
    pub(crate) fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Classify an I/O error from this link, or from a reader layered on it.
    pub(crate) fn fail(&self, e: io::Error) -> Error {
        let (addr, sent, received) = (self.addr, self.sent, self.received.clone());
        if let Some(problem) = e.get_ref().and_then(|inner| inner.downcast_ref::<Malformed>()) {
            return Error::Malformed { addr, sent, problem: problem.clone(), received };
        }
        if let Some(error) = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            return Error::Tls { addr, sent, error: error.clone(), received };
        }
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                Error::Timeout { addr, sent, timeout: self.timeout, received }
            }
            // rustls reports a peer that closed mid-handshake as UnexpectedEof too.
            io::ErrorKind::UnexpectedEof => Error::Closed { addr, sent, how: CloseKind::Closed, received },
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::BrokenPipe => {
                Error::Closed { addr, sent, how: CloseKind::Reset, received }
            }
            _ => Error::Io { addr, sent, reason: IoFailure::from(&e), received },
        }
    }

    /// The time left, or a timeout error when there is none.
    fn remaining(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        // A zero timeout means "block forever" to the socket API, so it must never be passed on.
        if left.is_zero() {
            Err(io::Error::new(io::ErrorKind::TimedOut, "the probe's time is up"))
        } else {
            Ok(left)
        }
    }
}

impl Read for Link {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.set_read_timeout(Some(self.remaining()?))?;
        let n = self.stream.read(buf)?;
        self.received.record(&buf[..n]);
        Ok(n)
    }
}

impl Write for Link {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.set_write_timeout(Some(self.remaining()?))?;
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    fn pair(timeout: Duration) -> (Link, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = ProbeTarget::new(listener.local_addr().unwrap()).with_timeout(timeout);
        let link = Link::connect(&target).unwrap();
        let (server, _) = listener.accept().unwrap();
        (link, server)
    }

    #[test]
    fn a_silent_server_times_out_within_the_deadline() {
        let (mut link, _server) = pair(Duration::from_millis(200));
        link.mark(Sent::SslRequest);
        let started = Instant::now();
        let err = link.read_exact_or_fail(&mut [0u8; 1]).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(matches!(err, Error::Timeout { sent: Sent::SslRequest, .. }), "{err}");
    }

    #[test]
    fn a_close_mid_message_reports_what_arrived() {
        let (mut link, mut server) = pair(Duration::from_secs(5));
        link.mark(Sent::StartupMessage);
        server.write_all(b"E\x00").unwrap();
        drop(server);
        let err = link.read_exact_or_fail(&mut [0u8; 5]).unwrap_err();
        match err {
            Error::Closed { received, sent: Sent::StartupMessage, .. } => assert_eq!(received.0, b"E\x00"),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn typed_errors_inside_io_errors_are_recovered() {
        let (link, _server) = pair(Duration::from_secs(5));
        let e = Malformed::Record("x").into_io();
        assert!(matches!(link.fail(e), Error::Malformed { problem: Malformed::Record("x"), .. }));
        let e = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert!(matches!(link.fail(e), Error::Tls { error: rustls::Error::DecryptError, .. }));
    }

    #[test]
    fn connecting_to_a_closed_port_is_a_connect_error() {
        let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let err = Link::connect(&ProbeTarget::new(addr)).unwrap_err();
        assert!(matches!(err, Error::Connect { .. }), "{err}");
    }
}
