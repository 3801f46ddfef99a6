//! Opening connections the way libpq does: hosts in order, every address of each, sslmode's
//! sequence of plaintext and TLS tries, `connect_timeout` per attempt, `target_session_attrs`.
//! Every stream is wrapped in a framing check (`limits.rs`) so that no server can make us hold
//! more than [`MAX_MESSAGE`] per message or [`MAX_RESPONSE`] per response.
//!
//! Owns: the attempt loop and its outcome ([`Connected`] or a [`ConnectError`] listing every
//! attempt in libpq's words), driving tokio-postgres over sockets we open ourselves so that the
//! sslmodes tokio-postgres lacks (allow, verify-ca, verify-full) behave as in libpq:
//!
//! | sslmode | tries |
//! |---|---|
//! | disable | plaintext |
//! | allow | plaintext; TLS again if the server refused (ErrorResponse) |
//! | prefer | TLS if the server answers `S`; plaintext again if TLS failed or the server refused |
//! | require, verify-ca, verify-full | TLS or nothing (verification per [`Verification`]) |
//!
//! Unix sockets never use TLS, whatever the sslmode (as in libpq). A server's ErrorResponse ends
//! the whole connection (libpq: "if authentication fails, the remaining hosts are not tried"),
//! except SQLSTATE 57P03 (cannot connect now); unreachable hosts, TLS failures and
//! `target_session_attrs` mismatches move on to the next address or host.
//!
//! The one deliberate difference from libpq in what the connection options mean: when neither
//! `connect_timeout` nor `PGCONNECT_TIMEOUT` is given, each attempt gives up after
//! [`DEFAULT_CONNECT_TIMEOUT`](crate::DEFAULT_CONNECT_TIMEOUT) instead of waiting forever, because
//! pgharden runs unattended as root (audit, lock, restore) and a server that accepts the
//! connection and then says nothing must not hang it. An explicit `connect_timeout=0` still
//! means "wait indefinitely", as in libpq. (The size limits are not options: libpq has none.)
//! Must not: parse conninfo or read certificate files (`conninfo`, `tls`), or decide which SQL
//! pgharden runs.

mod blocking;
mod limits;
mod peer;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio::task::JoinHandle;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config, NoTls, SimpleQueryMessage};
use tokio_postgres_rustls::MakeRustlsConnect;

pub use blocking::{BlockingClient, DEFAULT_QUERY_TIMEOUT};
pub use limits::{MAX_MESSAGE, MAX_RESPONSE};
pub use peer::connect_unix_stream;

use self::limits::{Bounded, BoundedHandshake, Start, Tripwire};
use crate::conninfo::{
    ChannelBinding, Host, Settings, SslCertMode, SslMode, SslNegotiation, TargetSessionAttrs, Verification,
};
use crate::error::{Attempt, ConnectError, Endpoint, Error, Failure, LimitExceeded, describe, inner};
use crate::tls::{TlsContext, TlsOutcome, rustls_server_name};

/// SQLSTATE `cannot_connect_now` (starting up, shutting down): libpq tries the next host.
const CANNOT_CONNECT_NOW: &str = "57P03";

/// What a successful connection is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Connected {
    /// The host (and address) that accepted the connection.
    pub target: Endpoint,
    /// Whether the session is encrypted.
    pub tls: bool,
    /// How the server's certificate was checked (`None` without TLS).
    pub verification: Verification,
    /// Whether the server asked for, and got, a client certificate.
    pub client_cert_sent: bool,
    /// Attempts that failed before this one (a `prefer` fallback, an unreachable first host).
    pub earlier_attempts: Vec<Attempt>,
    /// What libpq would have printed as warnings (ignored password file, ignored options, …).
    pub warnings: Vec<String>,
    /// Set if the server exceeded a limit, which closed the connection.
    limits: Tripwire,
}

impl Connected {
    /// Why the connection was closed, if the server sent more than [`MAX_MESSAGE`] in one message
    /// or [`MAX_RESPONSE`] in one response. tokio-postgres then reports only "connection closed"
    /// to the statement that was running; this says why.
    pub fn limit_exceeded(&self) -> Option<&LimitExceeded> {
        self.limits.get()
    }
}

/// Connect as libpq would with `settings` — except that an absent `connect_timeout` means
/// [`DEFAULT_CONNECT_TIMEOUT`](crate::DEFAULT_CONNECT_TIMEOUT), not forever (see the module docs).
/// The connection's I/O task is spawned on the current tokio runtime and ends when the returned
/// client is dropped. If the server later exceeds [`MAX_MESSAGE`] or [`MAX_RESPONSE`], the
/// connection is closed and [`Connected::limit_exceeded`] says why.
pub async fn connect(settings: &Settings) -> Result<(Client, Connected), Error> {
    let opened = connect_with_task(settings).await?;
    Ok((opened.client, opened.info))
}

/// A connection that passed startup and every check, with its I/O task (which ends once the client
/// is dropped and the Terminate message is sent), for callers that must wait for a clean goodbye.
pub(crate) struct Opened {
    pub(crate) client: Client,
    pub(crate) task: JoinHandle<()>,
    pub(crate) info: Connected,
}

/// [`connect`], keeping the connection's task.
pub(crate) async fn connect_with_task(settings: &Settings) -> Result<Opened, Error> {
    let tls = match settings.sslmode {
        SslMode::Disable => None,
        _ => Some(TlsContext::load(settings)?),
    };
    let mut warnings = settings.warnings.clone();
    warnings.extend(tls.iter().flat_map(|t| t.warnings().iter().cloned()));
    // libpq's prefer-standby: a pass looking for a standby, then one accepting anything.
    let passes = match settings.target_session_attrs {
        TargetSessionAttrs::PreferStandby => vec![TargetSessionAttrs::Standby, TargetSessionAttrs::Any],
        attrs => vec![attrs],
    };
    let mut attempts = Vec::new();
    for attrs in passes {
        let ctx = Ctx { settings, tls: tls.as_ref(), attrs };
        for host in &settings.hosts {
            match ctx.try_host(host, &mut attempts).await {
                Step::Done(mut opened) => {
                    opened.info.earlier_attempts = attempts;
                    opened.info.warnings = warnings;
                    return Ok(*opened);
                }
                Step::Next => {}
                Step::Stop => return Err(ConnectError { attempts }.into()),
            }
        }
    }
    Err(ConnectError { attempts }.into())
}

/// After an attempt: connected, try the next address/host, or give up.
enum Step {
    Done(Box<Opened>),
    Next,
    Stop,
}

/// How one attempt treats TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    PreferTls,
    RequireTls,
}

/// A failed attempt before it is tied to its target: whether TLS was in use, and why.
type Failed = (bool, Failure);

/// A session that passed startup, before the post-connection checks.
struct Session {
    client: Client,
    task: JoinHandle<()>,
    tls: bool,
    outcome: Option<Arc<TlsOutcome>>,
    limits: Tripwire,
}

struct Ctx<'a> {
    settings: &'a Settings,
    tls: Option<&'a TlsContext>,
    attrs: TargetSessionAttrs,
}

impl Ctx<'_> {
    async fn try_host(&self, host: &Host, attempts: &mut Vec<Attempt>) -> Step {
        if let Some(socket) = host.socket_path() {
            let target = Endpoint::Unix { socket: socket.clone() };
            let result = self.timed(self.unix_session(host, &socket)).await;
            return self.conclude(result, target, attempts).unwrap_or_else(|step| step);
        }
        let addrs = match addresses(host).await {
            Ok(addrs) => addrs,
            Err(failure) => {
                let target = Endpoint::Tcp { host: host.host_str(), addr: None, port: host.port };
                attempts.push(Attempt { target, tls: false, failure });
                return Step::Next;
            }
        };
        for addr in addrs {
            match self.try_addr(host, addr, attempts).await {
                Step::Next => {}
                done_or_stop => return done_or_stop,
            }
        }
        Step::Next
    }

    /// One address, with sslmode's sequence of tries.
    async fn try_addr(&self, host: &Host, addr: SocketAddr, attempts: &mut Vec<Attempt>) -> Step {
        let plan: &[Mode] = match self.settings.sslmode {
            SslMode::Disable => &[Mode::Plain],
            SslMode::Allow => &[Mode::Plain, Mode::RequireTls],
            SslMode::Prefer => &[Mode::PreferTls, Mode::Plain],
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => &[Mode::RequireTls],
        };
        let target = Endpoint::Tcp { host: host.host_str(), addr: Some(addr.ip()), port: addr.port() };
        for (i, mode) in plan.iter().enumerate() {
            let result = self.timed(self.tcp_session(host, addr, *mode)).await;
            let retry = |(tls, failure): &Failed| i + 1 < plan.len() && retry_allowed(*mode, *tls, failure);
            let retry = matches!(&result, Err(f) if retry(f));
            match self.conclude(result, target.clone(), attempts) {
                Ok(step) => return step,
                Err(_) if retry => {}
                Err(step) => return step,
            }
        }
        Step::Next
    }

    /// Turn a checked session (or failure) into a step, recording the attempt on failure. `Err`
    /// carries the step to take if no retry follows.
    fn conclude(
        &self,
        result: Result<Session, Failed>,
        target: Endpoint,
        attempts: &mut Vec<Attempt>,
    ) -> Result<Step, Step> {
        let failed = match result {
            Ok(session) => return Ok(self.done(session, target)),
            Err(failed) => failed,
        };
        let step = match &failed.1 {
            Failure::Server { sqlstate, .. } if sqlstate != CANNOT_CONNECT_NOW => Step::Stop,
            _ => Step::Next,
        };
        attempts.push(Attempt { target, tls: failed.0, failure: failed.1 });
        Err(step)
    }

    fn done(&self, session: Session, target: Endpoint) -> Step {
        let verification = match (&session.outcome, self.tls) {
            (Some(_), Some(tls)) if session.tls => tls.verification(),
            _ => Verification::None,
        };
        let info = Connected {
            target,
            tls: session.tls,
            verification,
            client_cert_sent: session.outcome.as_ref().is_some_and(|o| o.client_cert_sent()),
            earlier_attempts: Vec::new(),
            warnings: Vec::new(),
            limits: session.limits,
        };
        Step::Done(Box::new(Opened { client: session.client, task: session.task, info }))
    }

    /// `connect_timeout` covers a whole attempt — socket, TLS, authentication and the
    /// post-connection checks, as libpq's does — and defaults to
    /// [`DEFAULT_CONNECT_TIMEOUT`](crate::DEFAULT_CONNECT_TIMEOUT) when not given.
    async fn timed(&self, open: impl Future<Output = Result<Session, Failed>>) -> Result<Session, Failed> {
        let work = async {
            let session = open.await?;
            match self.check_session(&session).await {
                Ok(()) => Ok(session),
                Err(failure) => Err((session.tls, limit_or(&session.limits, failure))),
            }
        };
        match self.settings.connect_timeout.effective() {
            Some(limit) => tokio::time::timeout(limit, work).await.unwrap_or(Err((false, Failure::Timeout))),
            None => work.await,
        }
    }

    async fn unix_session(&self, host: &Host, socket: &Path) -> Result<Session, Failed> {
        let stream = UnixStream::connect(socket).await.map_err(|e| (false, connect_failure(&e, true)))?;
        if let Some(expected) = &self.settings.requirepeer {
            peer::check_requirepeer(&stream, expected).map_err(|f| (false, f))?;
        }
        let mut config = self.pg_config(host);
        config.ssl_mode(tokio_postgres::config::SslMode::Disable);
        plain_session(&config, stream).await
    }

    async fn tcp_session(&self, host: &Host, addr: SocketAddr, mode: Mode) -> Result<Session, Failed> {
        let stream = TcpStream::connect(addr).await.map_err(|e| (false, connect_failure(&e, false)))?;
        // As libpq: small startup and query packets should not wait for Nagle.
        let _ = stream.set_nodelay(true);
        let mut config = self.pg_config(host);
        let tls = match (mode, self.tls) {
            (Mode::Plain, _) | (_, None) => None,
            (_, Some(tls)) => Some(tls),
        };
        let Some(tls) = tls else {
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
            return plain_session(&config, stream).await;
        };
        config.ssl_mode(match mode {
            Mode::PreferTls => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        // verify-full compares the `host` text, never hostaddr.
        let name = host.host_str();
        let (rustls_config, outcome) =
            tls.client_config(&name).map_err(|e| (false, Failure::Tls(e.to_string())))?;
        let mut make = MakeRustlsConnect::new(rustls_config);
        let inner = <MakeRustlsConnect as MakeTlsConnect<TcpStream>>::make_tls_connect(
            &mut make,
            &rustls_server_name(&name),
        )
        .map_err(|e| (false, Failure::Tls(describe(&e))))?;
        let used = Arc::new(AtomicBool::new(false));
        let limits = Tripwire::default();
        let connector = RecordingConnect { inner, used: Arc::clone(&used), limits: limits.clone() };
        // With SSLRequest the raw stream carries the one-byte answer first; with direct TLS it
        // carries only TLS records. Either way the TLS stream is framed by the connector.
        let start_with = match self.settings.sslnegotiation {
            SslNegotiation::Postgres => Start::SslAnswer,
            SslNegotiation::Direct => Start::Tls,
        };
        let stream = Bounded::new(stream, start_with, limits.clone());
        match start(&config, stream, connector).await {
            Ok((client, task)) => {
                Ok(Session { client, task, tls: used.load(Ordering::SeqCst), outcome: Some(outcome), limits })
            }
            Err(e) => {
                let tls_used = used.load(Ordering::SeqCst);
                Err((tls_used, limit_or(&limits, pg_failure(&e, tls_used, Some(&outcome)))))
            }
        }
    }

    /// What libpq checks once the server said ReadyForQuery.
    async fn check_session(&self, session: &Session) -> Result<(), Failure> {
        if self.settings.sslcertmode == SslCertMode::Require
            && !session.outcome.as_ref().is_some_and(|o| session.tls && o.client_cert_sent())
        {
            return Err(Failure::Rejected(
                "server accepted connection without a valid SSL certificate".to_owned(),
            ));
        }
        check_session_attrs(&session.client, self.attrs).await
    }

    fn pg_config(&self, host: &Host) -> Config {
        let s = self.settings;
        let mut config = Config::new();
        config.user(&s.user).dbname(&s.dbname);
        // tokio-postgres keeps its own copy of the password for the lifetime of `config`, which
        // ends with this attempt.
        if let Some(password) = s.password_for(host) {
            config.password(password.expose());
        }
        if let Some(options) = &s.options {
            config.options(options);
        }
        if let Some(name) = &s.application_name {
            config.application_name(name);
        }
        config.channel_binding(match s.channel_binding {
            ChannelBinding::Disable => tokio_postgres::config::ChannelBinding::Disable,
            ChannelBinding::Prefer => tokio_postgres::config::ChannelBinding::Prefer,
            ChannelBinding::Require => tokio_postgres::config::ChannelBinding::Require,
        });
        config.ssl_negotiation(match s.sslnegotiation {
            SslNegotiation::Postgres => tokio_postgres::config::SslNegotiation::Postgres,
            SslNegotiation::Direct => tokio_postgres::config::SslNegotiation::Direct,
        });
        config
    }
}

/// Whether sslmode's next try follows a failed one.
fn retry_allowed(mode: Mode, tls_used: bool, failure: &Failure) -> bool {
    match mode {
        // allow: the server refused the plaintext session; maybe it wants TLS.
        Mode::Plain => matches!(failure, Failure::Server { .. }),
        // prefer: TLS was set up but failed, or the server refused the TLS session.
        Mode::PreferTls => {
            tls_used
                && matches!(failure, Failure::Server { .. } | Failure::Tls(_) | Failure::Certificate { .. })
        }
        Mode::RequireTls => false,
    }
}

/// Startup without TLS over `stream` (a Unix socket, or TCP with `sslmode=disable` or the
/// plaintext try of `allow`/`prefer`), framed from the first byte.
async fn plain_session<S>(config: &Config, stream: S) -> Result<Session, Failed>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = Tripwire::default();
    let stream = Bounded::new(stream, Start::Messages, limits.clone());
    match start(config, stream, NoTls).await {
        Ok((client, task)) => Ok(Session { client, task, tls: false, outcome: None, limits }),
        Err(e) => Err((false, limit_or(&limits, pg_failure(&e, false, None)))),
    }
}

/// The limit the server exceeded, if it did: that, not the I/O error it caused, is the failure.
fn limit_or(limits: &Tripwire, failure: Failure) -> Failure {
    limits.get().map_or(failure, |limit| Failure::Limit(limit.clone()))
}

/// Startup and authentication over `stream`; the connection task is spawned.
async fn start<S, T>(
    config: &Config,
    stream: S,
    tls: T,
) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: TlsConnect<S>,
    T::Stream: Send + 'static,
{
    let (client, connection) = config.connect_raw(stream, tls).await?;
    let task = tokio::spawn(async move {
        // Errors surface to the client as a closed connection; there is nobody else to tell.
        let _ = connection.await;
    });
    Ok((client, task))
}

/// The addresses to try for a TCP host: `hostaddr`, or every address `host` resolves to.
async fn addresses(host: &Host) -> Result<Vec<SocketAddr>, Failure> {
    if let Some(addr) = host.hostaddr {
        return Ok(vec![SocketAddr::new(addr, host.port)]);
    }
    let name = host.host_str();
    match tokio::net::lookup_host((name.as_str(), host.port)).await {
        Ok(addrs) => Ok(addrs.collect()),
        Err(e) => {
            Err(Failure::Resolve(format!("could not translate host name \"{name}\" to address: {}", e)))
        }
    }
}

/// libpq's message for a failed `connect()`: the system error text and a hint.
fn connect_failure(e: &std::io::Error, unix: bool) -> Failure {
    let text = e
        .raw_os_error()
        .map_or_else(|| e.to_string(), |code| nix::errno::Errno::from_raw(code).desc().to_owned());
    let hint = if unix {
        "Is the server running locally and accepting connections on that socket?"
    } else {
        "Is the server running on that host and accepting TCP/IP connections?"
    };
    Failure::Io(format!("{text}\n\t{hint}"))
}

/// A tokio-postgres startup error as libpq would report it.
fn pg_failure(e: &tokio_postgres::Error, tls_used: bool, outcome: Option<&TlsOutcome>) -> Failure {
    if let Some(db) = e.as_db_error() {
        return Failure::Server {
            severity: db.severity().to_owned(),
            sqlstate: db.code().code().to_owned(),
            message: db.message().to_owned(),
            detail: db.detail().map(str::to_owned),
            hint: db.hint().map(str::to_owned),
        };
    }
    if let Some(f) = outcome.and_then(TlsOutcome::certificate_failure) {
        return Failure::Certificate { message: f.message, reason: f.reason };
    }
    let text = describe(e);
    if text.contains("server does not support TLS") {
        return Failure::Tls("server does not support SSL, but SSL was required".to_owned());
    }
    match rustls_error(e) {
        Some(r) => Failure::Tls(format!("SSL error: {}", openssl_words(r))),
        None if tls_used => Failure::Tls(text),
        None => Failure::Io(text),
    }
}

fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        next = inner(err);
    }
    None
}

/// A TLS alert in the words OpenSSL (and so libpq) uses for it.
fn openssl_words(e: &rustls::Error) -> String {
    use rustls::AlertDescription as A;
    match e {
        rustls::Error::AlertReceived(alert) => match alert {
            A::BadCertificate => "sslv3 alert bad certificate".to_owned(),
            A::CertificateRevoked => "sslv3 alert certificate revoked".to_owned(),
            A::CertificateExpired => "sslv3 alert certificate expired".to_owned(),
            A::CertificateUnknown => "sslv3 alert certificate unknown".to_owned(),
            A::UnknownCA => "tlsv1 alert unknown ca".to_owned(),
            A::HandshakeFailure => "sslv3 alert handshake failure".to_owned(),
            A::ProtocolVersion => "tlsv1 alert protocol version".to_owned(),
            A::AccessDenied => "tlsv1 alert access denied".to_owned(),
            A::DecryptError => "tlsv1 alert decrypt error".to_owned(),
            A::CertificateRequired => "tlsv13 alert certificate required".to_owned(),
            A::NoApplicationProtocol => "tlsv1 alert no application protocol".to_owned(),
            other => format!("alert {other:?}"),
        },
        other => other.to_string(),
    }
}

/// libpq's `target_session_attrs` checks, asked of the server directly.
async fn check_session_attrs(client: &Client, attrs: TargetSessionAttrs) -> Result<(), Failure> {
    let (sql, want, refusal) = match attrs {
        TargetSessionAttrs::Any | TargetSessionAttrs::PreferStandby => return Ok(()),
        TargetSessionAttrs::ReadWrite => ("SHOW transaction_read_only", false, "session is read-only"),
        TargetSessionAttrs::ReadOnly => ("SHOW transaction_read_only", true, "session is not read-only"),
        TargetSessionAttrs::Primary => {
            ("SELECT pg_catalog.pg_is_in_recovery()", false, "server is in hot standby mode")
        }
        TargetSessionAttrs::Standby => {
            ("SELECT pg_catalog.pg_is_in_recovery()", true, "server is not in hot standby mode")
        }
    };
    let messages = client.simple_query(sql).await.map_err(|e| Failure::Io(describe(&e)))?;
    let value = messages.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
        _ => None,
    });
    let on = matches!(value.as_deref(), Some("on" | "t"));
    if on == want { Ok(()) } else { Err(Failure::Rejected(refusal.to_owned())) }
}

/// Wraps a TLS connector to record whether tokio-postgres started a handshake (it does not say
/// whether `prefer` ended up encrypted), and to frame the TLS stream it produces.
struct RecordingConnect<T> {
    inner: T,
    used: Arc<AtomicBool>,
    limits: Tripwire,
}

impl<S, T> TlsConnect<S> for RecordingConnect<T>
where
    T: TlsConnect<S>,
    T::Future: Unpin,
{
    type Stream = Bounded<T::Stream>;
    type Error = T::Error;
    type Future = BoundedHandshake<T::Future>;

    fn connect(self, stream: S) -> Self::Future {
        self.used.store(true, Ordering::SeqCst);
        BoundedHandshake::new(self.inner.connect(stream), self.limits)
    }
}
