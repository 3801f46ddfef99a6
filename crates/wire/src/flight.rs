//! The server's first flight before TLS 1.3, read without any cryptography: up to TLS 1.2 the
//! ServerHello, Certificate and ServerKeyExchange messages travel in the clear, so the chain and
//! the (EC)DHE group can be read from any version's handshake, TLS 1.0 included (rustls, which
//! fetches chains otherwise, speaks only TLS 1.2 and 1.3).
//!
//! Owns: reading handshake messages until ServerHelloDone (or an alert), bounded in records and
//! bytes, and parsing the three messages. Must not: answer the server; the caller hangs up.

use std::io::{self, Read};

use crate::alert::Alert;
use crate::error::Malformed;
use crate::hello::{
    CONTENT_ALERT, CONTENT_HANDSHAKE, ServerHello, parse_alert, parse_server_hello, read_record,
};

const SERVER_HELLO: u8 = 2;
const CERTIFICATE: u8 = 11;
const SERVER_KEY_EXCHANGE: u8 = 12;
const SERVER_HELLO_DONE: u8 = 14;
/// At most this many records are read for one flight.
const MAX_RECORDS: usize = 48;
/// At most this many bytes of handshake messages (a chain of a few certificates fits easily).
const MAX_BYTES: usize = 256 << 10;

/// What the server sent before it waits for the client.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Flight {
    pub hello: Option<ServerHello>,
    /// The alert that ended the flight instead of a ServerHello.
    pub alert: Option<Alert>,
    /// The Certificate message's chain, DER, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// ECDHE: the named group of the ServerKeyExchange.
    pub ecdhe_group: Option<u16>,
    /// DHE: the size of the server's prime, in bits.
    pub dhe_bits: Option<u16>,
}

/// Read the flight: stop at ServerHelloDone, at an alert, or (`hello_only`) after the ServerHello.
pub(crate) fn read_flight(r: &mut impl Read, hello_only: bool) -> io::Result<Flight> {
    let mut flight = Flight::default();
    let mut buf: Vec<u8> = Vec::new();
    for _ in 0..MAX_RECORDS {
        let (content_type, fragment) = read_record(r)?;
        match content_type {
            CONTENT_ALERT => {
                flight.alert = Some(parse_alert(&fragment).map_err(Malformed::into_io)?);
                return Ok(flight);
            }
            CONTENT_HANDSHAKE => buf.extend_from_slice(&fragment),
            _ => return Err(Malformed::Record("neither a handshake nor an alert record").into_io()),
        }
        if buf.len() > MAX_BYTES {
            return Err(Malformed::Record("the server's first flight is too long").into_io());
        }
        while let Some((kind, body, used)) = next_message(&buf) {
            let message = buf[..used].to_vec();
            match kind {
                SERVER_HELLO => {
                    let hello = parse_server_hello(&message).map_err(Malformed::into_io)?;
                    // TLS 1.3 encrypts everything after the ServerHello.
                    let last = hello_only || hello.version() >= 0x0304 || hello.hello_retry_request;
                    flight.hello = Some(hello);
                    if last {
                        return Ok(flight);
                    }
                }
                CERTIFICATE => flight.chain = parse_certificates(body).map_err(Malformed::into_io)?,
                SERVER_KEY_EXCHANGE => read_key_exchange(body, &mut flight),
                SERVER_HELLO_DONE => return Ok(flight),
                _ => {}
            }
            buf.drain(..used);
        }
    }
    Err(Malformed::Record("the server's first flight spans too many records").into_io())
}

/// The next complete handshake message in `buf`: (type, body, bytes used).
fn next_message(buf: &[u8]) -> Option<(u8, &[u8], usize)> {
    let header = buf.first_chunk::<4>()?;
    let length = usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
    let body = buf.get(4..4 + length)?;
    Some((header[0], body, 4 + length))
}

/// A Certificate message body: a u24 list of u24-prefixed DER certificates.
fn parse_certificates(body: &[u8]) -> Result<Vec<Vec<u8>>, Malformed> {
    let bad = || Malformed::Record("the Certificate message is truncated");
    let total = u24(body.get(..3).ok_or_else(bad)?);
    let mut rest = body.get(3..3 + total).ok_or_else(bad)?;
    let mut chain = Vec::new();
    while !rest.is_empty() {
        let len = u24(rest.get(..3).ok_or_else(bad)?);
        chain.push(rest.get(3..3 + len).ok_or_else(bad)?.to_vec());
        rest = &rest[3 + len..];
        if chain.len() > 16 {
            return Err(Malformed::Record("the chain holds more than 16 certificates"));
        }
    }
    Ok(chain)
}

/// ECDHE: curve_type 3 (named_curve) and the group; DHE: the prime's length. Anything else (a
/// static-RSA flight has no ServerKeyExchange) is left unknown.
fn read_key_exchange(body: &[u8], flight: &mut Flight) {
    match body {
        [3, hi, lo, ..] => flight.ecdhe_group = Some(u16::from_be_bytes([*hi, *lo])),
        [hi, lo, rest @ ..] if rest.len() >= usize::from(u16::from_be_bytes([*hi, *lo])) => {
            let p = &rest[..usize::from(u16::from_be_bytes([*hi, *lo]))];
            let significant = p.iter().skip_while(|b| **b == 0).count();
            flight.dhe_bits = u16::try_from(significant * 8).ok();
        }
        _ => {}
    }
}

fn u24(b: &[u8]) -> usize {
    usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind, 0, (body.len() >> 8) as u8, body.len() as u8];
        m.extend_from_slice(body);
        m
    }

    fn record(fragment: &[u8]) -> Vec<u8> {
        let mut r = vec![CONTENT_HANDSHAKE, 3, 3, (fragment.len() >> 8) as u8, fragment.len() as u8];
        r.extend_from_slice(fragment);
        r
    }

    fn server_hello(version: [u8; 2], suite: u16) -> Vec<u8> {
        let mut body = version.to_vec();
        body.extend_from_slice(&[0x11; 32]);
        body.push(0);
        body.extend_from_slice(&suite.to_be_bytes());
        body.push(0);
        msg(SERVER_HELLO, &body)
    }

    #[test]
    fn a_tls10_flight_yields_its_chain_and_curve() {
        let cert_a = vec![0x30, 0x03, 1, 2, 3];
        let cert_b = vec![0x30, 0x01, 9];
        let mut list = Vec::new();
        for c in [&cert_a, &cert_b] {
            list.extend_from_slice(&[0, 0, c.len() as u8]);
            list.extend_from_slice(c);
        }
        let mut certs = vec![0, 0, list.len() as u8];
        certs.extend(list);
        let mut flight = server_hello([3, 1], 0xc014);
        flight.extend(msg(CERTIFICATE, &certs));
        flight.extend(msg(SERVER_KEY_EXCHANGE, &[3, 0x00, 0x17, 65]));
        flight.extend(msg(SERVER_HELLO_DONE, &[]));
        // Split across two records, as servers do with long chains.
        let mut bytes = record(&flight[..20]);
        bytes.extend(record(&flight[20..]));
        let f = read_flight(&mut bytes.as_slice(), false).unwrap();
        assert_eq!(f.hello.unwrap().cipher_suite, 0xc014);
        assert_eq!(f.chain, vec![cert_a, cert_b]);
        assert_eq!(f.ecdhe_group, Some(0x0017));
    }

    #[test]
    fn a_dhe_flight_reports_the_prime_size() {
        let mut ske = vec![0x01, 0x00];
        ske.extend(std::iter::once(0x80).chain(std::iter::repeat_n(0xff, 255)));
        ske.extend_from_slice(&[0, 1, 2]);
        let mut flight = server_hello([3, 3], 0x009f);
        flight.extend(msg(SERVER_KEY_EXCHANGE, &ske));
        flight.extend(msg(SERVER_HELLO_DONE, &[]));
        let f = read_flight(&mut record(&flight).as_slice(), false).unwrap();
        assert_eq!(f.dhe_bits, Some(2048));
    }

    #[test]
    fn an_alert_ends_the_flight_and_garbage_is_refused() {
        let alert = [CONTENT_ALERT, 3, 3, 0, 2, 2, 40];
        let f = read_flight(&mut alert.as_slice(), false).unwrap();
        assert_eq!(f.alert, Some(Alert { description: 40 }));
        let endless: Vec<u8> = (0..100).flat_map(|_| record(&[0])).collect();
        assert!(read_flight(&mut endless.as_slice(), false).is_err());
        let bad_chain = [server_hello([3, 3], 0x002f), msg(CERTIFICATE, &[0, 0, 9, 0, 0, 50])].concat();
        assert!(read_flight(&mut record(&bad_chain).as_slice(), false).is_err());
    }
}
