//! What a hostile or wedged server can make pgharden hold: fake servers written here (they are
//! the attacker, each a thread with a real socket) send huge messages, endless rows, or nothing.
//!
//! Peak memory is read from `VmHWM` in /proc/self/status, reset before each measurement through
//! /proc/self/clear_refs; the tests that measure it, or allocate much, hold [`MEMORY`] so that no
//! other test's allocations land in their window.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use pgharden_pgconn::{
    BlockingClient, ConnectTimeout, Conninfo, DEFAULT_CONNECT_TIMEOUT, DEFAULT_QUERY_TIMEOUT, Endpoint, Env,
    Error, Failure, LimitExceeded, MAX_RESPONSE, MessageType, Settings,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Serialises the tests that measure or use much memory.
static MEMORY: Mutex<()> = Mutex::new(());

fn memory_lock() -> MutexGuard<'static, ()> {
    MEMORY.lock().unwrap_or_else(|p| p.into_inner())
}

/// 100 MiB: the body of the review's largest ErrorResponse.
const HUGE: u32 = 100 << 20;

// ---------------------------------------------------------------------------------------------
// Memory

/// Peak resident memory of this process since the last [`reset_peak`], in KiB.
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Set the peak to the current resident size (Linux ≥ 4.0).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

/// Run `work`, returning its result and how far the peak rose above the resident size at the
/// start, in MiB.
fn peak_growth_mib<T>(work: impl FnOnce() -> T) -> (T, u64) {
    reset_peak();
    let before = peak_kib();
    let result = work();
    (result, peak_kib().saturating_sub(before) / 1024)
}

// ---------------------------------------------------------------------------------------------
// The fake servers' side of the protocol

/// What a client sent first.
#[derive(Debug, PartialEq, Eq)]
enum First {
    SslRequest,
    Startup,
}

/// Read one length-prefixed startup-phase packet (no type byte).
fn read_startup(s: &mut impl Read) -> First {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize - 4];
    s.read_exact(&mut body).unwrap();
    if body == [0x04, 0xd2, 0x16, 0x2f] { First::SslRequest } else { First::Startup }
}

/// A backend message.
fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// What a server accepting `trust` sends after the startup packet.
fn trust_startup() -> Vec<u8> {
    let mut out = message(b'R', &0u32.to_be_bytes());
    out.extend(message(b'S', b"server_version\x0015.0\x00"));
    out.extend(message(b'S', b"client_encoding\x00UTF8\x00"));
    out.extend(message(b'K', &[0, 0, 0, 42, 0, 0, 0, 7]));
    out.extend(message(b'Z', b"I"));
    out
}

/// A header declaring a `body`-byte message of type `kind`, then as much of the body as the
/// client reads (until the connection breaks), from one small buffer.
fn send_huge(s: &mut impl Write, kind: u8, body: u32) {
    let mut header = vec![kind];
    header.extend_from_slice(&(body + 4).to_be_bytes());
    if s.write_all(&header).is_err() {
        return;
    }
    let chunk = [b'x'; 64 << 10];
    let mut left = body as usize;
    while left > 0 {
        let n = left.min(chunk.len());
        if s.write_all(&chunk[..n]).is_err() {
            return;
        }
        left -= n;
    }
}

/// Wait until the client goes away (EOF or error), discarding what it sends.
fn drain(s: &mut impl Read) {
    let mut buf = [0u8; 4096];
    while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
}

/// A TCP listener on a free loopback port whose first connection is handed to `behave` on a
/// thread of its own.
fn fake_server(behave: impl FnOnce(TcpStream) + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            behave(stream);
        }
    });
    port
}

/// A server-side TLS session on `tcp`, with a certificate made now for `localhost`.
fn tls_accept(tcp: TcpStream, alpn: bool) -> rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    let issued = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = CertificateDer::from(issued.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(issued.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    if alpn {
        config.alpn_protocols = vec![b"postgresql".to_vec()];
    }
    let conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).unwrap();
    }
    tls
}

// ---------------------------------------------------------------------------------------------
// The client's side

/// Settings for the fake server at `port`; no home directory, so no `~/.postgresql` files.
fn settings(port: u16, extra: &str) -> Settings {
    Conninfo::parse(&format!("host=127.0.0.1 port={port} user=u dbname=d {extra}"))
        .unwrap()
        .resolve(&Env::new())
        .unwrap()
}

/// The one failed attempt of a refused connection.
fn only_attempt(result: Result<BlockingClient, Error>) -> (pgharden_pgconn::Attempt, String) {
    match result {
        Err(Error::Connect(e)) => {
            assert_eq!(e.attempts.len(), 1, "{e}");
            (e.attempts[0].clone(), e.to_string())
        }
        Err(other) => panic!("expected a connection failure, got {other:?}"),
        Ok(db) => panic!("expected a failure, connected: {:?}", db.info()),
    }
}

/// The failure a 100 MiB ErrorResponse must produce.
fn huge_error_response() -> Failure {
    Failure::Limit(LimitExceeded::Message { size: u64::from(HUGE) + 5, kind: MessageType(b'E') })
}

// ---------------------------------------------------------------------------------------------
// Message size, every transport

#[test]
fn plaintext_huge_error_response_is_refused_at_its_header() {
    let _serial = memory_lock();
    let port = fake_server(|mut s| {
        assert_eq!(read_startup(&mut s), First::Startup);
        send_huge(&mut s, b'E', HUGE);
    });
    let started = Instant::now();
    let (result, grown) =
        peak_growth_mib(|| BlockingClient::connect(&settings(port, "sslmode=disable connect_timeout=60")));
    let (attempt, text) = only_attempt(result);
    assert_eq!(attempt.failure, huge_error_response());
    assert!(!attempt.tls);
    assert_eq!(
        text,
        format!(
            "connection to server at \"127.0.0.1\", port {port} failed: the server sent a message of 104857605 bytes (type 'E'); pgharden accepts at most 4 MiB"
        )
    );
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert!(grown < 64, "peak memory grew by {grown} MiB");
}

#[test]
fn prefer_after_n_refuses_the_huge_plaintext_message_and_require_refuses_n() {
    let _serial = memory_lock();
    let answer_n = |mut s: TcpStream| {
        assert_eq!(read_startup(&mut s), First::SslRequest);
        s.write_all(b"N").unwrap();
        if read_startup(&mut s) == First::Startup {
            send_huge(&mut s, b'E', HUGE);
        }
    };
    let port = fake_server(answer_n);
    let (result, grown) =
        peak_growth_mib(|| BlockingClient::connect(&settings(port, "sslmode=prefer connect_timeout=60")));
    let (attempt, _) = only_attempt(result);
    assert_eq!(attempt.failure, huge_error_response());
    assert!(!attempt.tls);
    assert!(grown < 64, "peak memory grew by {grown} MiB");

    // require: 'N' alone ends it, before any message.
    let port = fake_server(|mut s| {
        assert_eq!(read_startup(&mut s), First::SslRequest);
        s.write_all(b"N").unwrap();
        drain(&mut s);
    });
    let (attempt, _) = only_attempt(BlockingClient::connect(&settings(port, "sslmode=require")));
    assert_eq!(attempt.failure, Failure::Tls("server does not support SSL, but SSL was required".into()));
}

#[test]
fn tls_after_s_refuses_the_huge_message_inside_tls() {
    let _serial = memory_lock();
    for sslmode in ["prefer", "require"] {
        let port = fake_server(|mut s| {
            assert_eq!(read_startup(&mut s), First::SslRequest);
            s.write_all(b"S").unwrap();
            let mut tls = tls_accept(s, false);
            assert_eq!(read_startup(&mut tls), First::Startup);
            send_huge(&mut tls, b'E', HUGE);
        });
        let conninfo = format!("sslmode={sslmode} connect_timeout=60");
        let started = Instant::now();
        let (result, grown) = peak_growth_mib(|| BlockingClient::connect(&settings(port, &conninfo)));
        // One attempt: prefer does not fall back to plaintext for a server that broke a limit.
        let (attempt, text) = only_attempt(result);
        assert_eq!(attempt.failure, huge_error_response(), "{sslmode}");
        assert!(attempt.tls, "{sslmode}");
        assert!(text.ends_with("pgharden accepts at most 4 MiB"), "{text}");
        assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
        assert!(grown < 64, "{sslmode}: peak memory grew by {grown} MiB");
    }
}

#[test]
fn direct_tls_refuses_the_huge_message() {
    let _serial = memory_lock();
    let port = fake_server(|s| {
        // No SSLRequest: the first bytes are the TLS ClientHello.
        let mut tls = tls_accept(s, true);
        assert_eq!(read_startup(&mut tls), First::Startup);
        send_huge(&mut tls, b'E', HUGE);
    });
    let (result, grown) = peak_growth_mib(|| {
        BlockingClient::connect(&settings(port, "sslmode=require sslnegotiation=direct connect_timeout=60"))
    });
    let (attempt, _) = only_attempt(result);
    assert_eq!(attempt.failure, huge_error_response());
    assert!(attempt.tls);
    assert!(grown < 64, "peak memory grew by {grown} MiB");
}

#[test]
fn unix_socket_huge_message_is_refused() {
    let _serial = memory_lock();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join(".s.PGSQL.5432");
    let listener = UnixListener::bind(&socket).unwrap();
    thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        read_startup(&mut s);
        send_huge(&mut s, b'E', HUGE);
    });
    let settings = Conninfo::parse(&format!("host={} port=5432 user=u dbname=d", dir.path().display()))
        .unwrap()
        .resolve(&Env::new())
        .unwrap();
    let (result, grown) = peak_growth_mib(|| BlockingClient::connect(&settings));
    let (attempt, _) = only_attempt(result);
    assert_eq!(attempt.target, Endpoint::Unix { socket });
    assert_eq!(attempt.failure, huge_error_response());
    assert!(grown < 64, "peak memory grew by {grown} MiB");
}

#[test]
fn a_trickle_after_a_huge_length_fails_at_once() {
    let _serial = memory_lock();
    let port = fake_server(|mut s| {
        read_startup(&mut s);
        let mut header = vec![b'E'];
        header.extend_from_slice(&0x7FFF_FFF0u32.to_be_bytes());
        s.write_all(&header).unwrap();
        // A byte every 50 ms for up to a minute, or until the client hangs up.
        for _ in 0..1200 {
            thread::sleep(Duration::from_millis(50));
            if s.write_all(b"x").is_err() {
                return;
            }
        }
    });
    let started = Instant::now();
    let (result, grown) =
        peak_growth_mib(|| BlockingClient::connect(&settings(port, "sslmode=disable connect_timeout=120")));
    let (attempt, text) = only_attempt(result);
    assert_eq!(
        attempt.failure,
        Failure::Limit(LimitExceeded::Message { size: 0x7FFF_FFF1, kind: MessageType(b'E') })
    );
    assert!(text.contains("the server sent a message of 2147483633 bytes (type 'E')"), "{text}");
    // At once: not after the trickle, not after the connect timeout.
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(grown < 64, "peak memory grew by {grown} MiB");
}

// ---------------------------------------------------------------------------------------------
// Response size

#[test]
fn endless_data_rows_stop_at_the_response_cap() {
    let _serial = memory_lock();
    let port = fake_server(|mut s| {
        read_startup(&mut s);
        s.write_all(&trust_startup()).unwrap();
        // The simple query.
        let mut head = [0u8; 5];
        s.read_exact(&mut head).unwrap();
        assert_eq!(head[0], b'Q');
        let mut sql = vec![0u8; u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize - 4];
        s.read_exact(&mut sql).unwrap();
        // One text column "x", then 256 KiB rows forever.
        let mut desc = 1u16.to_be_bytes().to_vec();
        desc.extend(b"x\0");
        desc.extend([0; 6]);
        desc.extend(25u32.to_be_bytes());
        desc.extend((-1i16).to_be_bytes());
        desc.extend((-1i32).to_be_bytes());
        desc.extend(0u16.to_be_bytes());
        let value = vec![b'y'; 256 << 10];
        let mut row = 1u16.to_be_bytes().to_vec();
        row.extend(u32::try_from(value.len()).unwrap().to_be_bytes());
        row.extend(&value);
        let row = message(b'D', &row);
        if s.write_all(&message(b'T', &desc)).is_err() {
            return;
        }
        while s.write_all(&row).is_ok() {}
    });
    let db = BlockingClient::connect(&settings(port, "sslmode=disable")).unwrap();
    let started = Instant::now();
    let (result, grown) = peak_growth_mib(|| db.simple_query("SELECT x FROM forever"));
    let err = result.unwrap_err();
    let Error::Limit(LimitExceeded::Response { size, kind }) = &err else {
        panic!("expected the response limit, got {err:?}");
    };
    assert_eq!(*kind, MessageType(b'D'));
    assert!(*size > MAX_RESPONSE && *size <= MAX_RESPONSE + (256 << 10) + 64, "{size}");
    assert!(err.to_string().ends_with("pgharden accepts at most 64 MiB per response"), "{err}");
    assert_eq!(db.info().limit_exceeded(), Some(&LimitExceeded::Response { size: *size, kind: *kind }));
    // The rows received before the limit are held until the statement fails, and no more.
    assert!(grown < 2 * (MAX_RESPONSE >> 20), "peak memory grew by {grown} MiB");
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
    // The connection is closed; later calls say why, too.
    assert!(matches!(db.simple_query("SELECT 1"), Err(Error::Limit(_))));
}

// ---------------------------------------------------------------------------------------------
// Time

/// A server that accepts and never says anything.
fn silent_server() -> u16 {
    fake_server(|mut s| drain(&mut s))
}

#[test]
fn silent_server_gives_up_after_connect_timeout() {
    let port = silent_server();
    let settings = settings(port, "sslmode=disable connect_timeout=1");
    // libpq (up to PostgreSQL 17, whose libpq the Debian 15 packages ship) raises 1 s to 2 s.
    assert_eq!(settings.connect_timeout, ConnectTimeout::After(Duration::from_secs(2)));
    let started = Instant::now();
    let (attempt, text) = only_attempt(BlockingClient::connect(&settings));
    let took = started.elapsed();
    assert_eq!(attempt.failure, Failure::Timeout);
    assert_eq!(text, format!("connection to server at \"127.0.0.1\", port {port} failed: timeout expired"));
    assert!(took >= Duration::from_millis(1900) && took < Duration::from_secs(6), "took {took:?}");
}

/// With a paused clock, tokio jumps to the next timer as soon as nothing else can run, so the
/// timeout a connection really uses shows up as the (virtual) time it took, without waiting.
#[tokio::test(start_paused = true)]
async fn the_default_connect_timeout_applies_when_none_is_given() {
    let port = silent_server();
    let real = Instant::now();

    let absent = settings(port, "sslmode=disable");
    assert_eq!(absent.connect_timeout, ConnectTimeout::NotGiven);
    assert!(absent.to_string().contains("connect_timeout=15"), "{absent}");
    let started = tokio::time::Instant::now();
    let err = pgharden_pgconn::connect(&absent).await.unwrap_err();
    let took = started.elapsed();
    let Error::Connect(e) = &err else { panic!("{err:?}") };
    assert_eq!(e.last().unwrap().failure, Failure::Timeout);
    assert!(
        took >= DEFAULT_CONNECT_TIMEOUT && took < DEFAULT_CONNECT_TIMEOUT + Duration::from_secs(1),
        "{took:?}"
    );

    // PGCONNECT_TIMEOUT counts as given. Each case gets its own silent server: the first one stops
    // listening once its only client has gone, and a refused connection would end at once.
    let port = silent_server();
    let from_env = Conninfo::parse(&format!("host=127.0.0.1 port={port} user=u dbname=d sslmode=disable"))
        .unwrap()
        .resolve(&Env::new().with_var("PGCONNECT_TIMEOUT", "3"))
        .unwrap();
    let started = tokio::time::Instant::now();
    assert!(pgharden_pgconn::connect(&from_env).await.is_err());
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(3) && took < Duration::from_secs(4), "{took:?}");

    // connect_timeout=0 keeps libpq's meaning: no limit at all. An hour later it still waits.
    let port = silent_server();
    let zero = settings(port, "sslmode=disable connect_timeout=0");
    assert_eq!(zero.connect_timeout, ConnectTimeout::Indefinite);
    assert_eq!(zero.connect_timeout.effective(), None);
    assert!(zero.to_string().contains("connect_timeout=0"), "{zero}");
    let hour = Duration::from_secs(3600);
    assert!(tokio::time::timeout(hour, pgharden_pgconn::connect(&zero)).await.is_err());

    assert!(real.elapsed() < Duration::from_secs(10), "took {:?} of real time", real.elapsed());
}

#[test]
fn a_server_silent_after_startup_times_queries_out() {
    let port = fake_server(|mut s| {
        read_startup(&mut s);
        s.write_all(&trust_startup()).unwrap();
        drain(&mut s);
    });
    let mut db = BlockingClient::connect(&settings(port, "sslmode=disable")).unwrap();
    assert_eq!(db.query_timeout(), DEFAULT_QUERY_TIMEOUT);
    assert_eq!(
        Error::QueryTimeout(DEFAULT_QUERY_TIMEOUT).to_string(),
        "the server did not answer within 120 s"
    );
    let limit = Duration::from_millis(500);
    db.set_query_timeout(limit);
    let started = Instant::now();
    let err = db.query("SELECT 1", &[]).unwrap_err();
    let took = started.elapsed();
    assert_eq!(err, Error::QueryTimeout(limit));
    assert_eq!(err.to_string(), "the server did not answer within 0.5 s");
    assert!(took >= Duration::from_millis(450) && took < Duration::from_secs(5), "took {took:?}");
    // Every kind of call is bounded, block_on included.
    assert_eq!(db.simple_query("SELECT 1").unwrap_err(), Error::QueryTimeout(limit));
    assert_eq!(db.batch_execute("SELECT 1").unwrap_err(), Error::QueryTimeout(limit));
    let pending = db.block_on(db.client().simple_query("SELECT 1"));
    assert!(matches!(pending, Err(Error::QueryTimeout(_))));
}
