//! A cluster opened for planning and applying: the discovered facts, its files reached as the
//! cluster owner, and a way to reach its server.
//!
//! Owns: turning `--pgdata DIR` or a CONNINFO into a [`Cluster`] the server itself confirms, with a
//! [`Files`] acting as the owner of its data directory and allowed to write only there, in the
//! directory of `postgresql.conf`, and in directories the operator named; and handing out
//! connections (as the owner over the socket, or with the CONNINFO and another dbname).
//! Must not: decide what to change.

use std::path::PathBuf;

use pgharden_pki::Pki;

use crate::db::Db;
use crate::discover::{self, Cluster};
use crate::error::{Error, Result};
use crate::execute::{self, Applied};
use crate::files::Files;
use crate::material::Material;
use crate::open::open_local;
use crate::plan::{self, Plan, Request};
use crate::sql::Sql;

/// How the user named the cluster.
#[derive(Debug, Clone)]
pub enum Locator {
    /// `--pgdata`: a local data directory, reached as its owner.
    PgData(PathBuf),
    /// `--conninfo`: a libpq connection string or URI; it must log in as a superuser, and the
    /// data directory the server reports must be on this machine.
    Conninfo(String),
}

/// An opened cluster.
#[derive(Debug)]
pub struct Session {
    /// What was discovered about the cluster (from the running server when there is one).
    pub cluster: Cluster,
    files: Files,
    /// `None`: as the owner over the Unix socket; else the resolved CONNINFO.
    remote: Option<pgharden_pgconn::Settings>,
}

impl Session {
    /// Discover the cluster; when its server runs, ask the server for the authoritative paths
    /// (for `--pgdata`, through [`open_local`], as the audit does).
    /// `write_dirs` are directories the operator allows apply to write in besides PGDATA and the
    /// directory of postgresql.conf.
    pub fn open(target: Locator, write_dirs: &[PathBuf]) -> Result<Self> {
        let mut remote = None;
        let (cluster, mut files) = match &target {
            Locator::PgData(dir) => {
                let files = Files::for_data_dir(dir)?;
                // Connections are opened per use (`connect`); this one has served discovery.
                let opened = open_local(dir, &files)?;
                (opened.cluster, files)
            }
            Locator::Conninfo(c) => {
                let settings = Db::settings(c)?;
                let mut db = Db::remote(&settings)?;
                remote = Some(settings);
                let superuser = db.value("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")?;
                if superuser.as_deref() != Some("t") {
                    return Err(Error::Database {
                        reason: "apply needs a superuser connection (it reads and changes server files)"
                            .into(),
                    });
                }
                let files = Files::for_data_dir(&discover::data_directory(&mut db)?)?;
                (discover::from_server(None, &mut db, &files)?, files)
            }
        };
        files.allow_writes_under(cluster.data_dir.clone());
        if let Some(conf_dir) = cluster.config_file.parent() {
            files.allow_writes_under(conf_dir.to_path_buf());
        }
        for dir in write_dirs {
            files.allow_writes_under(files.canonicalize(dir)?);
        }
        // The files are local and written as the owner, so the owner's socket is reachable too;
        // it is used from here on because apply may well change how the CONNINFO's connection
        // authenticates (a password line replaced by `cert`).
        if remote.is_some() && cluster.postmaster.is_some() {
            let owner = cluster.owner.name.clone();
            if Db::local(&cluster, &files, &owner, "postgres").is_ok() {
                remote = None;
            }
        }
        Ok(Self { cluster, files, remote })
    }

    /// The cluster's files, as its owner.
    pub fn files(&self) -> &Files {
        &self.files
    }

    /// A connection to `dbname` (the server must run).
    pub fn connect(&self, dbname: &str) -> Result<Box<dyn Sql>> {
        Ok(Box::new(match &self.remote {
            None => Db::local(&self.cluster, &self.files, &self.cluster.owner.name, dbname)?,
            Some(settings) => {
                let mut settings = settings.clone();
                settings.dbname = dbname.to_string();
                Db::remote(&settings)?
            }
        }))
    }

    /// What apply would change.
    pub fn plan(&self, pki: Option<&Pki>, req: &Request) -> Result<Plan> {
        let mut sql: Option<Box<dyn Sql>> =
            if self.cluster.postmaster.is_some() { Some(self.connect("postgres")?) } else { None };
        let mut sql_in = |db: &str| self.connect(db);
        match sql.as_mut() {
            Some(conn) => plan::plan(&self.cluster, &self.files, pki, req, Some(conn.as_mut()), &mut sql_in),
            None => plan::plan(&self.cluster, &self.files, pki, req, None, &mut sql_in),
        }
    }

    /// What installing `material` alone (the TLS files and the `ssl_*` settings naming them) would
    /// change.
    pub fn plan_tls(&self, material: &Material) -> Result<Plan> {
        let mut sql: Option<Box<dyn Sql>> =
            if self.cluster.postmaster.is_some() { Some(self.connect("postgres")?) } else { None };
        plan::tls::tls_plan(
            &self.cluster,
            &self.files,
            material,
            sql.as_mut().map(|c| c.as_mut() as &mut dyn Sql),
        )
    }

    /// The leaf certificate (DER) the cluster's data directory holds now.
    pub fn deployed_leaf(&self) -> Result<Option<Vec<u8>>> {
        crate::material::deployed_leaf(&self.cluster, &self.files)
    }

    /// Carry out a plan, then re-read the cluster (a restart changes the postmaster).
    pub fn apply(&mut self, plan: &Plan) -> Result<Applied> {
        self.apply_proven(plan, &mut || Ok(()))
    }

    /// Carry out a plan; once the server runs on it, `prove` must succeed, or every file is put
    /// back and the server brought back onto them.
    pub fn apply_proven(&mut self, plan: &Plan, prove: &mut dyn FnMut() -> Result<()>) -> Result<Applied> {
        let applied = {
            let mut connect = |db: &str| self.connect(db);
            execute::execute_proven(&self.cluster, &self.files, plan, &mut connect, prove)?
        };
        self.cluster.postmaster = crate::postmaster::Postmaster::read(&self.cluster.data_dir, &self.files)?;
        Ok(applied)
    }

    /// Reload the server (as the owner) and wait until it has, without changing any file.
    pub fn reload(&self) -> Result<()> {
        let mut sql = self.connect("postgres")?;
        execute::reload_only(&self.cluster, &self.files, sql.as_mut())
    }
}
