//! What the server says over SQL: settings, roles, password hashes, and what each database holds.
//!
//! Owns: the queries and turning their rows into facts; connecting to each database through a
//! caller-given [`Connector`] (the caller knows how: the owner's socket, or the CONNINFO with
//! another dbname), with a cap on how many. Must not: judge.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pgharden_cluster::Sql;

use super::{DatabaseFacts, EntryKind, Evidence, Fact, FileFacts, Missing, RoleFacts, settings};

/// Opens a connection to another database of the same server.
pub(crate) type Connector<'a> = dyn FnMut(&str) -> Result<Box<dyn Sql>, String> + 'a;

/// At most this many databases are visited; more makes the per-database facts "not checked".
const MAX_DATABASES: usize = 500;

/// Gather what a database connection shows, and what each database holds through `connect`.
pub(crate) fn from_sql(ev: &mut Evidence, sql: &mut dyn Sql, connect: &mut Connector<'_>) {
    ev.settings = settings::gather(sql);
    ev.major = major(ev);
    super::reading::from_server(ev, sql);
    ev.roles = roles(sql);
    ev.md5_roles =
        column(sql, "SELECT rolname FROM pg_authid WHERE rolpassword LIKE 'md5%' ORDER BY rolname")
            .map_err(|e| denied("pg_authid", &e, "reading password hashes needs a superuser"));
    ev.databases = databases(sql, connect);
    match pg_config(sql) {
        Ok(dirs) => {
            ev.pgaudit_files = pgaudit_files(&dirs);
            ev.software_files = software_files(&dirs);
        }
        Err(why) => {
            ev.pgaudit_files = Err(why.clone());
            ev.software_files = Err(why);
        }
    }
}

/// A failed read of `what`: a permission error (SQLSTATE 42501) in a few words, since it is
/// repeated in each rule that needs the fact; any other error as the server said it.
pub(super) fn denied(what: &str, error: &str, needs: &str) -> Missing {
    if error.contains("(42501)") {
        Missing::failed(what, format!("permission denied: {needs}"))
    } else {
        Missing::failed(what, format!("{error} ({needs})"))
    }
}

/// The major version from `server_version_num` (170004 is 17).
fn major(ev: &Evidence) -> Fact<u32> {
    let num = ev.setting("server_version_num")?;
    num.trim()
        .parse::<u32>()
        .map(|n| n / 10000)
        .map_err(|_| Missing::failed("server_version_num", format!("{num:?} is not a version number")))
}

fn column(sql: &mut dyn Sql, query: &str) -> Result<Vec<String>, String> {
    sql.query(query)
        .map(|rows| rows.into_iter().filter_map(|r| r.into_iter().next().flatten()).collect())
        .map_err(|e| e.to_string())
}

fn roles(sql: &mut dyn Sql) -> Fact<Vec<RoleFacts>> {
    let rows = sql
        .query(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolcanlogin, \
             rolconnlimit, oid = 10 FROM pg_roles WHERE rolname !~ '^pg_' OR oid = 10 ORDER BY rolname",
        )
        .map_err(|e| Missing::failed("pg_roles", e))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let flag = |i: usize| r.get(i).cloned().flatten().as_deref() == Some("t");
            Some(RoleFacts {
                name: r.first().cloned().flatten()?,
                superuser: flag(1),
                createrole: flag(2),
                createdb: flag(3),
                bypassrls: flag(4),
                login: flag(5),
                connlimit: r.get(6).cloned().flatten().and_then(|v| v.parse().ok()).unwrap_or(-1),
                bootstrap: flag(7),
            })
        })
        .collect())
}

/// Every database that accepts connections, visited one by one.
fn databases(sql: &mut dyn Sql, connect: &mut Connector<'_>) -> Fact<Vec<DatabaseFacts>> {
    let names = column(sql, "SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname")
        .map_err(|e| Missing::failed("pg_database", e))?;
    if names.len() > MAX_DATABASES {
        return Err(Missing::failed(
            "databases",
            format!("{} databases accept connections; the audit visits at most {MAX_DATABASES}", names.len()),
        ));
    }
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let mut db = connect(&name).map_err(|e| Missing::failed(format!("database {name}"), e))?;
        out.push(database(db.as_mut(), &name).map_err(|e| Missing::failed(format!("database {name}"), e))?);
    }
    Ok(out)
}

fn database(sql: &mut dyn Sql, name: &str) -> Result<DatabaseFacts, String> {
    let public_create_schemas = column(
        sql,
        "SELECT nspname FROM pg_namespace WHERE has_schema_privilege('public', oid, 'CREATE') ORDER BY nspname",
    )?;
    let public_create_database = sql
        .value("SELECT has_database_privilege('public', current_database(), 'CREATE')")
        .map_err(|e| e.to_string())?
        .as_deref()
        == Some("t");
    let untrusted_languages = column(
        sql,
        "SELECT lanname FROM pg_language WHERE NOT lanpltrusted AND lanname NOT IN ('c', 'internal') \
         ORDER BY lanname",
    )?;
    let extensions = column(sql, "SELECT extname FROM pg_extension ORDER BY extname")?;
    let definers_without_search_path = column(
        sql,
        "SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
         AND NOT coalesce(array_to_string(p.proconfig, E'\\n') ~ '(^|\\n)search_path=', false) \
         ORDER BY 1",
    )?;
    Ok(DatabaseFacts {
        name: name.to_string(),
        public_create_schemas,
        public_create_database,
        untrusted_languages,
        extensions,
        definers_without_search_path,
    })
}

/// The installation's directories by `pg_config` name, as the server reports them (a view only
/// superusers may read).
fn pg_config(sql: &mut dyn Sql) -> Fact<BTreeMap<String, PathBuf>> {
    let rows = sql
        .query(
            "SELECT name, setting FROM pg_config WHERE name IN \
             ('BINDIR', 'LIBDIR', 'PKGLIBDIR', 'SHAREDIR', 'INCLUDEDIR', 'PKGINCLUDEDIR', 'INCLUDEDIR-SERVER')",
        )
        .map_err(|e| denied("pg_config", &e.to_string(), "reading it needs a superuser"))?;
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((r.first().cloned().flatten()?, PathBuf::from(r.get(1).cloned().flatten()?))))
        .collect())
}

/// pgaudit's library and extension files, and the directories holding them.
fn pgaudit_files(dirs: &BTreeMap<String, PathBuf>) -> Fact<Vec<FileFacts>> {
    let (Some(lib), Some(share)) = (dirs.get("PKGLIBDIR"), dirs.get("SHAREDIR")) else {
        return Err(Missing::failed("pg_config", "no PKGLIBDIR or SHAREDIR"));
    };
    let extension = share.join("extension");
    let mut paths = vec![lib.clone(), lib.join("pgaudit.so"), extension.clone()];
    let listing =
        std::fs::read_dir(&extension).map_err(|e| Missing::failed(extension.display().to_string(), e))?;
    let mut ext_files: Vec<PathBuf> = listing
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("pgaudit")))
        .collect();
    ext_files.sort();
    paths.extend(ext_files);
    // A file that is not there is not a file anyone could have changed (pgaudit not installed is
    // the pgaudit rules' finding, not this one's).
    paths.iter().filter(|p| std::fs::symlink_metadata(p).is_ok()).map(|p| stat_system(p)).collect()
}

/// The installation's directories and the programs in its bin directory (CD16-00-002500: "bin,
/// include, lib and share owned by root").
fn software_files(dirs: &BTreeMap<String, PathBuf>) -> Fact<Vec<FileFacts>> {
    let mut paths: Vec<PathBuf> =
        dirs.values().filter(|d| std::fs::symlink_metadata(d).is_ok()).cloned().collect();
    paths.sort();
    paths.dedup();
    if let Some(bin) = dirs.get("BINDIR") {
        let listing = std::fs::read_dir(bin).map_err(|e| Missing::failed(bin.display().to_string(), e))?;
        let mut programs: Vec<PathBuf> =
            listing.filter_map(|e| e.ok()).map(|e| e.path()).take(MAX_PROGRAMS).collect();
        programs.sort();
        paths.extend(programs);
    }
    paths.iter().map(|p| stat_system(p)).collect()
}

/// At most this many entries of the bin directory are looked at.
const MAX_PROGRAMS: usize = 1_000;

/// Stat a file of the installed software (root's, not the cluster owner's: only read here).
fn stat_system(path: &Path) -> Fact<FileFacts> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path).map_err(|e| Missing::failed(path.display().to_string(), e))?;
    let kind = if m.file_type().is_symlink() {
        EntryKind::Symlink
    } else if m.is_dir() {
        EntryKind::Dir
    } else if m.is_file() {
        EntryKind::File
    } else {
        EntryKind::Other
    };
    Ok(FileFacts { path: path.to_path_buf(), uid: m.uid(), gid: m.gid(), mode: m.mode() & 0o7777, kind })
}
