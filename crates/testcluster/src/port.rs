//! Picking loopback TCP ports for servers.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;

use crate::Error;
use crate::error::IoContext;

/// A currently free TCP port on 127.0.0.1.
///
/// The kernel picks it (bind to port 0), and the listener is closed before
/// returning, so another process may take it before the server binds it; the
/// cluster retries with a new port when that happens. Within this process a port
/// is never handed out twice, so parallel tests cannot collide with each other
/// even if the kernel offers a recently released port again.
pub fn free_port() -> Result<u16, Error> {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    for _ in 0..100 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .ctx(|| "binding 127.0.0.1:0 to find a free port".to_owned())?;
        let port = listener.local_addr().ctx(|| "reading the address of a bound socket".to_owned())?.port();
        drop(listener);
        let mut seen = HANDED_OUT.lock().unwrap_or_else(|p| p.into_inner());
        if seen.insert(port) {
            return Ok(port);
        }
    }
    Err(Error::io(
        "finding a free port",
        std::io::Error::other("the kernel kept offering ports this process already used"),
    ))
}
