//! [`Sql`] over a real connection (`pgharden-pgconn`): as the cluster owner through the Unix socket
//! (peer authentication, the way `sudo -u postgres psql` gets in: the socket is connected by the
//! owner-side helper and its descriptor handed back, so the server sees the owner as its peer and
//! no thread of pgharden ever changes credentials), or from a CONNINFO.
//!
//! Owns: opening those connections, turning simple-query results into text rows, and turning
//! failures into [`Error::Socket`], [`Error::Connect`] and [`Error::Query`], which keep pgconn's error
//! (and with it the server's SQLSTATE, see [`Error::sqlstate`]).
//! Must not: decide what to run.

use pgharden_pgconn::tokio_postgres::SimpleQueryMessage;
use pgharden_pgconn::{BlockingClient, Settings};

use crate::discover::Cluster;
use crate::error::{Error, Result};
use crate::files::Files;
use crate::sql::{Rows, Sql};

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
    pub fn local(cluster: &Cluster, files: &Files, role: &str, dbname: &str) -> Result<Self> {
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
        let target =
            format!("{dbname} as {role} through {} as OS user {}", socket.display(), files.account().name);
        let stream = files
            .actor()
            .connect_unix(&socket)
            .map_err(|source| Error::Socket { target: target.clone(), source })?;
        let client = BlockingClient::connect_unix_stream(
            stream,
            &socket,
            role,
            dbname,
            pgharden_pgconn::DEFAULT_CONNECT_TIMEOUT,
        )
        .map_err(|source| Error::Connect {
            target,
            source: Box::new(source),
            hint: Some(format!("pg_hba.conf must allow `local all {role} peer`")),
        })?;
        Ok(Self { client, what: format!("{role}@{dbname} via {}", socket_dir.display()) })
    }

    /// Connect with resolved libpq settings (from a CONNINFO, PG* variables and ~/.postgresql).
    pub fn remote(settings: &Settings) -> Result<Self> {
        let what = format!("{}@{}", settings.user, settings.dbname);
        let client = BlockingClient::connect(settings).map_err(|source| Error::Connect {
            target: what.clone(),
            source: Box::new(source),
            hint: None,
        })?;
        Ok(Self { client, what })
    }

    /// Parse and resolve a CONNINFO the way libpq does.
    pub fn settings(conninfo: &str) -> Result<Settings> {
        pgharden_pgconn::Conninfo::parse(conninfo)
            .and_then(|c| c.resolve(&pgharden_pgconn::Env::from_process()))
            .map_err(|e| Error::Conninfo(Box::new(e)))
    }
}

impl Sql for Db {
    fn query(&mut self, sql: &str) -> Result<Rows> {
        let messages = self.client.simple_query(sql).map_err(|source| Error::Query {
            sql: sql.to_string(),
            via: self.what.clone(),
            source: Box::new(source),
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
