//! A cluster opened for planning and applying: the discovered facts plus a way to reach its server.
//!
//! Owns: turning `--pgdata DIR` or a CONNINFO into a [`Cluster`] the server itself confirms, and
//! handing out connections (as the owner over the socket, or with the CONNINFO and another dbname).
//! Must not: decide what to change.

use std::path::PathBuf;

use pgharden_pki::Pki;

use crate::db::Db;
use crate::discover::{self, Cluster};
use crate::error::{Error, Result};
use crate::execute::{self, Applied};
use crate::plan::{self, Plan, Request};
use crate::sql::Sql;

/// How the user named the cluster.
#[derive(Debug, Clone)]
pub enum Target {
    PgData(PathBuf),
    Conninfo(String),
}

/// An opened cluster.
#[derive(Debug)]
pub struct Session {
    pub cluster: Cluster,
    /// `None`: as the owner over the Unix socket; else the resolved CONNINFO.
    remote: Option<pgharden_pgconn::Settings>,
}

impl Session {
    /// Discover the cluster; when its server runs, ask the server for the authoritative paths.
    pub fn open(target: Target) -> Result<Session> {
        let mut remote = None;
        let cluster = match &target {
            Target::PgData(dir) => {
                let offline = discover::from_data_dir(dir)?;
                if offline.postmaster.is_some() {
                    let mut db = Db::local(&offline, &offline.owner.name, "postgres")?;
                    discover::from_server(Some(&offline.data_dir), &mut db)?
                } else {
                    offline
                }
            }
            Target::Conninfo(c) => {
                let settings = Db::settings(c)?;
                let mut db = Db::remote(&settings)?;
                remote = Some(settings);
                // The files are local and written as the owner, so the owner's socket is reachable
                // too; it is used from here on because apply may well change how the CONNINFO's
                // connection authenticates (a password line replaced by `cert`).
                let superuser = db.value("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")?;
                if superuser.as_deref() != Some("t") {
                    return Err(Error::Database {
                        reason: "apply needs a superuser connection (it reads and changes server files)"
                            .into(),
                    });
                }
                discover::from_server(None, &mut db)?
            }
        };
        if remote.is_some() && cluster.postmaster.is_some() && cluster.owner.can_act_as() {
            let owner = cluster.owner.name.clone();
            if Db::local(&cluster, &owner, "postgres").is_ok() {
                remote = None;
            }
        }
        Ok(Session { cluster, remote })
    }

    /// A connection to `dbname` (the server must run).
    pub fn connect(&self, dbname: &str) -> Result<Box<dyn Sql>> {
        Ok(Box::new(match &self.remote {
            None => Db::local(&self.cluster, &self.cluster.owner.name, dbname)?,
            Some(settings) => {
                let mut settings = settings.clone();
                settings.dbname = dbname.to_string();
                Db::remote(&settings)?
            }
        }))
    }

    /// What apply would change.
    pub fn plan(&self, pki: &Pki, req: &Request) -> Result<Plan> {
        let mut sql: Option<Box<dyn Sql>> =
            if self.cluster.postmaster.is_some() { Some(self.connect("postgres")?) } else { None };
        let mut sql_in = |db: &str| self.connect(db);
        match sql.as_mut() {
            Some(conn) => plan::plan(&self.cluster, pki, req, Some(conn.as_mut()), &mut sql_in),
            None => plan::plan(&self.cluster, pki, req, None, &mut sql_in),
        }
    }

    /// Carry out a plan, then re-read the cluster (a restart changes the postmaster).
    pub fn apply(&mut self, plan: &Plan) -> Result<Applied> {
        let applied = {
            let mut connect = |db: &str| self.connect(db);
            execute::execute(&self.cluster, plan, &mut connect)?
        };
        self.cluster.postmaster = crate::postmaster::Postmaster::read(&self.cluster.data_dir)?;
        Ok(applied)
    }
}
