//! A blocking client for the command line: a connection plus its own current-thread runtime.
//!
//! Owns: running [`connect`](super::connect) and queries to completion on a private tokio runtime,
//! so that synchronous code (the CLI) needs no runtime of its own, and bounding every such wait:
//! a statement that gets no answer within the query timeout ([`DEFAULT_QUERY_TIMEOUT`] unless
//! [`BlockingClient::set_query_timeout`] says otherwise) fails instead of hanging the CLI.
//! Must not: be used from inside an async context (tokio forbids nested `block_on`).

use std::fmt;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::path::Path;
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, SimpleQueryMessage};

use super::{Connected, Opened};
use crate::conninfo::{Conninfo, Env, Settings};
use crate::error::Error;

/// How long a [`BlockingClient`] waits for the server to answer one call: 120 s.
///
/// Everything pgharden runs is catalogue reads and small DDL that take milliseconds; two minutes
/// leaves room for a loaded server or a lock wait while still ending a session whose server has
/// gone silent.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(120);

/// How long dropping a client waits for the connection task to say goodbye.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection usable from synchronous code. The connection's I/O progresses only while one of
/// its methods runs, which is all a request/response client needs.
pub struct BlockingClient {
    /// `None` only while dropping.
    client: Option<Client>,
    task: Option<JoinHandle<()>>,
    info: Connected,
    query_timeout: Duration,
    runtime: Runtime,
}

impl BlockingClient {
    /// Connect with resolved settings (an absent `connect_timeout` means
    /// [`DEFAULT_CONNECT_TIMEOUT`](crate::DEFAULT_CONNECT_TIMEOUT), see [`connect`](super::connect)).
    pub fn connect(settings: &Settings) -> Result<Self, Error> {
        let runtime = runtime()?;
        let opened = runtime.block_on(super::connect_with_task(settings))?;
        Ok(Self::from_opened(opened, runtime))
    }

    /// Parse `conninfo`, resolve it against the process environment, and connect.
    pub fn connect_str(conninfo: &str) -> Result<Self, Error> {
        let settings = Conninfo::parse(conninfo)?.resolve(&Env::from_process())?;
        Self::connect(&settings)
    }

    /// [`connect_unix_stream`](super::connect_unix_stream), blocking: startup (no TLS, no
    /// password: peer or trust authentication) over a Unix stream someone else connected.
    pub fn connect_unix_stream(
        stream: StdUnixStream,
        socket: &Path,
        role: &str,
        dbname: &str,
        timeout: Duration,
    ) -> Result<Self, Error> {
        let runtime = runtime()?;
        let opened = runtime
            .block_on(super::peer::connect_unix_stream_with_task(stream, socket, role, dbname, timeout))?;
        Ok(Self::from_opened(opened, runtime))
    }

    fn from_opened(opened: Opened, runtime: Runtime) -> Self {
        Self {
            client: Some(opened.client),
            task: Some(opened.task),
            info: opened.info,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            runtime,
        }
    }

    /// Where and how the connection was made.
    pub fn info(&self) -> &Connected {
        &self.info
    }

    /// How long each call waits for the server.
    pub fn query_timeout(&self) -> Duration {
        self.query_timeout
    }

    /// Change how long each call waits for the server ([`DEFAULT_QUERY_TIMEOUT`] until then). A
    /// statement that times out may still run on the server; the call only stops waiting.
    pub fn set_query_timeout(&mut self, timeout: Duration) {
        self.query_timeout = timeout;
    }

    /// The async client, for what the wrappers below do not cover (use with [`Self::block_on`]).
    pub fn client(&self) -> &Client {
        // Invariant: `client` is `Some` from construction until `drop`.
        self.client.as_ref().expect("client is present until drop")
    }

    /// Run a future on this client's runtime, giving up with [`Error::QueryTimeout`] after the
    /// query timeout. If the future fails because the server exceeded a limit, tokio-postgres says
    /// only "connection closed"; [`Connected::limit_exceeded`] on [`Self::info`] says why (the
    /// wrappers below do this themselves).
    pub fn block_on<F: Future>(&self, future: F) -> Result<F::Output, Error> {
        let limit = self.query_timeout;
        // The timer must be created inside the runtime, hence the async block.
        self.runtime
            .block_on(async { tokio::time::timeout(limit, future).await })
            .map_err(|_| Error::QueryTimeout(limit))
    }

    /// Run `sql` with `params` and return every row; bounded by the query timeout, like every call.
    pub fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
        self.run(self.client().query(sql, params))
    }

    /// Run `sql` and return its only row; an error when it returns none or several.
    pub fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
        self.run(self.client().query_one(sql, params))
    }

    /// Run `sql` and return its row, or `None` when it returns none; an error when it returns several.
    pub fn query_opt(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, Error> {
        self.run(self.client().query_opt(sql, params))
    }

    /// Returns the number of rows affected.
    pub fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        self.run(self.client().execute(sql, params))
    }

    /// Several statements, separated by semicolons, without parameters.
    pub fn batch_execute(&self, sql: &str) -> Result<(), Error> {
        self.run(self.client().batch_execute(sql))
    }

    /// The simple query protocol: statements separated by semicolons, every value as text.
    pub fn simple_query(&self, sql: &str) -> Result<Vec<SimpleQueryMessage>, Error> {
        self.run(self.client().simple_query(sql))
    }

    /// A call under the query timeout, its failure explained by the limit it hit if any.
    fn run<T>(&self, call: impl Future<Output = Result<T, tokio_postgres::Error>>) -> Result<T, Error> {
        self.block_on(call)?.map_err(|e| match self.info.limit_exceeded() {
            Some(limit) => Error::Limit(limit.clone()),
            None => e.into(),
        })
    }
}

impl Drop for BlockingClient {
    /// Close like psql does: dropping the client lets the connection task send Terminate, and we
    /// wait for it, so the server logs no "could not receive data from client" for our sessions.
    fn drop(&mut self) {
        drop(self.client.take());
        if let Some(task) = self.task.take() {
            // The timer must be created inside the runtime, hence the async block.
            let _ = self.runtime.block_on(async { tokio::time::timeout(CLOSE_TIMEOUT, task).await });
        }
    }
}

impl fmt::Debug for BlockingClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingClient")
            .field("info", &self.info)
            .field("query_timeout", &self.query_timeout)
            .finish_non_exhaustive()
    }
}

fn runtime() -> Result<Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error::Runtime(e.to_string()))
}
