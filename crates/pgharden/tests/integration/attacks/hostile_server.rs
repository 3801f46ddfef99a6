//! Review §11, §12, §14: `audit` and `lock` against servers that are not there, that answer with a
//! 100 MB error, or that never answer. The fake servers here are the attacker, speaking just enough
//! of the protocol to get a client to read them: an unreachable server is an error (exit 2), a
//! hostile one costs bounded memory and output, and a silent one times out by default.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::support::{Bounded, Violations, contains_ci, run_bounded};

/// SSLRequest and GSSENCRequest codes: answered with `N`, then the real startup message follows.
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;

#[derive(Clone)]
enum Behaviour {
    /// After the startup message, send this (an ErrorResponse) and hang up.
    Send(Arc<Vec<u8>>),
    /// Accept and never say anything.
    Silent,
}

/// A fake server on 127.0.0.1 that behaves the same way on every connection until dropped.
struct Hostile {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Hostile {
    fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        match &behaviour {
                            Behaviour::Silent => held.push(stream),
                            Behaviour::Send(bytes) => {
                                let bytes = bytes.clone();
                                std::thread::spawn(move || {
                                    let _ = answer(stream, &bytes);
                                });
                            }
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Self { port, stop, thread: Some(thread) }
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Read the startup message (refusing SSL and GSS encryption first), then send `bytes`.
fn answer(mut s: TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    s.set_write_timeout(Some(Duration::from_secs(60)))?;
    loop {
        let mut head = [0u8; 8];
        s.read_exact(&mut head)?;
        let len = u32::from_be_bytes(head[..4].try_into().unwrap()) as usize;
        let code = u32::from_be_bytes(head[4..].try_into().unwrap());
        if code == SSL_REQUEST || code == GSSENC_REQUEST {
            s.write_all(b"N")?;
            continue;
        }
        let mut rest = vec![0u8; len.saturating_sub(8).min(1 << 20)];
        s.read_exact(&mut rest)?;
        break;
    }
    s.write_all(bytes)?;
    s.flush()
}

/// An ErrorResponse whose message is `size` bytes long.
fn huge_error(size: usize) -> Vec<u8> {
    let mut fields = Vec::with_capacity(size + 64);
    for (code, value) in [(b'S', "FATAL"), (b'V', "FATAL"), (b'C', "28000")] {
        fields.push(code);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(b'M');
    fields.resize(fields.len() + size, b'A');
    fields.push(0);
    fields.push(0);
    let mut msg = vec![b'E'];
    msg.extend_from_slice(&u32::try_from(fields.len() + 4).unwrap().to_be_bytes());
    msg.extend_from_slice(&fields);
    msg
}

/// The binary under a 1 GiB address-space limit, from a scratch directory (lock's restore file).
fn pgharden_limited(args: &[&str], cwd: &Path, limit: Duration) -> Bounded {
    let mut cmd = Command::new("prlimit");
    cmd.arg("--as=1073741824").arg("--").arg(env!("CARGO_BIN_EXE_pgharden")).args(args);
    cmd.env_remove("PGHARDEN_CA_PASSPHRASE").env_remove("PGHARDEN_PKI_DIR").env_remove("PGCONNECT_TIMEOUT");
    cmd.env("NO_COLOR", "1").current_dir(cwd);
    run_bounded(&mut cmd, limit)
}

fn pgharden_in(args: &[&str], cwd: &Path, limit: Duration) -> Bounded {
    let mut cmd = crate::support::pgharden();
    cmd.args(args).env_remove("PGCONNECT_TIMEOUT").current_dir(cwd);
    run_bounded(&mut cmd, limit)
}

/// (a) Nothing listens: the audit could not run, and says so with exit 2 (never 0).
#[test]
fn audit_exits_2_when_it_cannot_connect() {
    let tmp = tempfile::tempdir().unwrap();
    let out = pgharden_in(
        &["audit", "host=127.0.0.1 port=1 user=x dbname=y sslmode=require", "--fail-on", "high"],
        tmp.path(),
        Duration::from_secs(60),
    );
    assert_eq!(out.code, Some(2), "{}", out.describe());
}

/// (b) A plaintext server whose ErrorResponse is 100 MB long, with 1 GiB of address space.
#[test]
fn a_100_mb_error_response_costs_bounded_memory_and_output() {
    let server = Hostile::start(Behaviour::Send(Arc::new(huge_error(100 << 20))));
    let tmp = tempfile::tempdir().unwrap();
    let conninfo = format!("host=127.0.0.1 port={} user=x dbname=y sslmode=disable", server.port);
    let restore = tmp.path().join("restore_login");
    let runs = [
        ("audit", vec!["audit", conninfo.as_str(), "--no-probe"]),
        ("lock", vec!["lock", conninfo.as_str(), "--restore-file", restore.to_str().unwrap()]),
    ];
    let mut v = Violations::default();
    let mut context = String::new();
    for (what, args) in runs {
        let out = pgharden_limited(&args, tmp.path(), Duration::from_secs(30));
        v.check(
            out.code == Some(2),
            format!(
                "{what}: exit code {:?}, signal {:?}, hung {} (wanted 2, not an abort)",
                out.code, out.signal, out.hung
            ),
        );
        v.check(
            out.output_len() < 1 << 20,
            format!("{what}: {} bytes of output, wanted under 1 MB", out.output_len()),
        );
        context.push_str(&format!("{what}: {}\n", out.describe()));
    }
    v.assert_none(&context);
}

/// (c) A server that accepts and never answers: a default connect timeout, and `connect_timeout`
/// honoured.
fn silent(command: &str, extra: &[&str]) {
    let server = Hostile::start(Behaviour::Silent);
    let tmp = tempfile::tempdir().unwrap();
    let base = format!("host=127.0.0.1 port={} user=x dbname=y sslmode=disable", server.port);
    let mut v = Violations::default();
    let mut context = String::new();
    for (conninfo, limit) in [
        (base.clone(), Duration::from_secs(40)),
        (format!("{base} connect_timeout=2"), Duration::from_secs(10)),
    ] {
        let mut args = vec![command, conninfo.as_str()];
        args.extend_from_slice(extra);
        let out = pgharden_in(&args, tmp.path(), limit);
        let text = out.text();
        v.check(!out.hung, format!("{conninfo:?}: still running after {} s", limit.as_secs()));
        v.check(out.code == Some(2), format!("{conninfo:?}: exit code {:?}, wanted 2", out.code));
        v.check(
            contains_ci(&text, "timeout") || contains_ci(&text, "timed out"),
            format!("{conninfo:?}: the message does not mention a timeout"),
        );
        context.push_str(&format!("{conninfo:?}: {}\n", out.describe()));
    }
    v.assert_none(&context);
}

#[test]
fn a_silent_server_times_out_audit() {
    silent("audit", &["--no-probe"]);
}

#[test]
fn a_silent_server_times_out_lock() {
    silent("lock", &["--dry-run"]);
}
