//! A blocking client for the command line: a connection plus its own current-thread runtime.
//!
//! Owns: running [`connect`](super::connect) and queries to completion on a private tokio runtime,
//! so that synchronous code (the CLI) needs no runtime of its own.
//! Must not: be used from inside an async context (tokio forbids nested `block_on`).

use std::fmt;
use std::path::Path;
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row};

use super::Connected;
use crate::conninfo::{Conninfo, Env, Settings};
use crate::error::Error;

/// How long dropping a client waits for the connection task to say goodbye.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection usable from synchronous code. The connection's I/O progresses only while one of
/// its methods runs, which is all a request/response client needs.
pub struct BlockingClient {
    /// `None` only while dropping.
    client: Option<Client>,
    task: Option<JoinHandle<()>>,
    info: Connected,
    runtime: Runtime,
}

impl BlockingClient {
    /// Connect with resolved settings.
    pub fn connect(settings: &Settings) -> Result<BlockingClient, Error> {
        let runtime = runtime()?;
        let (client, task, info) = runtime.block_on(super::connect_with_task(settings))?;
        Ok(BlockingClient { client: Some(client), task: Some(task), info, runtime })
    }

    /// Parse `conninfo`, resolve it against the process environment, and connect.
    pub fn connect_str(conninfo: &str) -> Result<BlockingClient, Error> {
        let settings = Conninfo::parse(conninfo)?.resolve(&Env::from_process())?;
        Self::connect(&settings)
    }

    /// [`connect_unix_as_os_user`](super::connect_unix_as_os_user), blocking.
    pub fn connect_unix_as_os_user(
        socket_dir: &Path,
        port: u16,
        role: &str,
        os_uid: u32,
        os_gid: u32,
        dbname: &str,
    ) -> Result<BlockingClient, Error> {
        let runtime = runtime()?;
        let (client, task, info) = runtime.block_on(super::peer::connect_unix_as_os_user_with_task(
            socket_dir, port, role, os_uid, os_gid, dbname,
        ))?;
        Ok(BlockingClient { client: Some(client), task: Some(task), info, runtime })
    }

    /// Where and how the connection was made.
    pub fn info(&self) -> &Connected {
        &self.info
    }

    /// The async client, for what the wrappers below do not cover (use with [`Self::block_on`]).
    pub fn client(&self) -> &Client {
        // Invariant: `client` is `Some` from construction until `drop`.
        self.client.as_ref().expect("client is present until drop")
    }

    /// Run a future on this client's runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    pub fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
        Ok(self.block_on(self.client().query(sql, params))?)
    }

    pub fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
        Ok(self.block_on(self.client().query_one(sql, params))?)
    }

    pub fn query_opt(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, Error> {
        Ok(self.block_on(self.client().query_opt(sql, params))?)
    }

    /// Returns the number of rows affected.
    pub fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        Ok(self.block_on(self.client().execute(sql, params))?)
    }

    /// Several statements, separated by semicolons, without parameters.
    pub fn batch_execute(&self, sql: &str) -> Result<(), Error> {
        Ok(self.block_on(self.client().batch_execute(sql))?)
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
        f.debug_struct("BlockingClient").field("info", &self.info).finish_non_exhaustive()
    }
}

fn runtime() -> Result<Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error::Runtime(e.to_string()))
}
