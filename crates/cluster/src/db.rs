//! [`Sql`] over a real connection (`pgharden-pgconn`): as the cluster owner through the Unix socket
//! (peer authentication, the way `sudo -u postgres psql` gets in: the socket is connected by the
//! owner-side helper and its descriptor handed back, so the server sees the owner as its peer and
//! no thread of pgharden ever changes credentials), or from a CONNINFO.
//!
//! Owns: opening those connections and turning simple-query results into text rows.
//! Must not: decide what to run.

use pgharden_pgconn::tokio_postgres::SimpleQueryMessage;
use pgharden_pgconn::{BlockingClient, Settings};

use crate::discover::Cluster;
use crate::error::{Error, Result};
use crate::files::Files;
use crate::sql::{Rows, Sql};

/// The most of a server's error message kept in an error.
const MAX_MESSAGE_TEXT: usize = 2000;

/// A live connection.
pub struct Db {
    client: BlockingClient,
    what: String,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("what", &self.what).finish()
    }
}

impl Db {
    /// Connect to `dbname` over the cluster's Unix socket as its owner (`files`' account), to `role`.
    pub fn local(cluster: &Cluster, files: &Files, role: &str, dbname: &str) -> Result<Db> {
        let pm = cluster.postmaster.as_ref().ok_or_else(|| {
            Error::bad(
                &cluster.data_dir,
                "the server is not running (no live postmaster.pid); start it first",
            )
        })?;
        let socket_dir = pm.socket_dir.as_ref().ok_or_else(|| {
            Error::bad(
                &cluster.data_dir,
                "the server listens on no Unix socket (unix_socket_directories is empty)",
            )
        })?;
        let socket = socket_dir.join(format!(".s.PGSQL.{}", pm.port));
        let owner = files.account();
        let failed = |e: &dyn std::fmt::Display| Error::Database {
            reason: format!(
                "connecting to {dbname} as {role} through {} as OS user {}: {e} \
                 (pg_hba.conf must allow `local all {role} peer`)",
                socket.display(),
                owner.name
            ),
        };
        let stream = files.actor().connect_unix(&socket).map_err(|e| failed(&e.detail()))?;
        let client = BlockingClient::connect_unix_stream(
            stream,
            &socket,
            role,
            dbname,
            pgharden_pgconn::DEFAULT_CONNECT_TIMEOUT,
        )
        .map_err(|e| failed(&e))?;
        Ok(Db { client, what: format!("{role}@{dbname} via {}", socket_dir.display()) })
    }

    /// Connect with resolved libpq settings (from a CONNINFO, PG* variables and ~/.postgresql).
    pub fn remote(settings: &Settings) -> Result<Db> {
        let client =
            BlockingClient::connect(settings).map_err(|e| Error::Database { reason: e.to_string() })?;
        Ok(Db { client, what: format!("{}@{}", settings.user, settings.dbname) })
    }

    /// Parse and resolve a CONNINFO the way libpq does.
    pub fn settings(conninfo: &str) -> Result<Settings> {
        pgharden_pgconn::Conninfo::parse(conninfo)
            .and_then(|c| c.resolve(&pgharden_pgconn::Env::from_process()))
            .map_err(|e| Error::Database { reason: format!("CONNINFO: {e}") })
    }
}

impl Sql for Db {
    fn query(&mut self, sql: &str) -> Result<Rows> {
        let messages = self.client.simple_query(sql).map_err(|e| {
            // The server's own message (or pgconn's size-limit or timeout text), with the SQLSTATE.
            let message = match e.sqlstate() {
                Some(code) => format!("{e} ({code})"),
                None => e.to_string(),
            };
            // A hostile server's message is capped by pgconn; it is still cut to a readable size.
            let message = pgharden_text::cut(&message, MAX_MESSAGE_TEXT);
            Error::Database {
                reason: format!(
                    "{message} [{}; via {}]",
                    pgharden_text::cut(first_line(sql), 200),
                    self.what
                ),
            }
        })?;
        let mut rows = Vec::new();
        for m in messages {
            match m {
                SimpleQueryMessage::Row(row) => {
                    rows.push((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect());
                }
                SimpleQueryMessage::CommandComplete(_) => {}
                _ => {}
            }
        }
        Ok(rows)
    }
}

fn first_line(sql: &str) -> &str {
    sql.lines().next().unwrap_or(sql)
}
