//! What apply does inside each database: the extensions of Appendices E (pgcrypto) and B (pgaudit),
//! and no CREATE for PUBLIC on schema `public` (PostgreSQL 14 and older grant it by default; on 15+
//! only someone's GRANT does).
//!
//! Owns: visiting every database that accepts connections — `template1` included, so databases
//! created from it inherit the result — and listing the statements each one still needs, so that a
//! hardened cluster yields none.
//! Must not: run anything that changes a database (that is `execute`).

use crate::discover::Cluster;
use crate::error::Result;
use crate::plan::SqlAction;
use crate::sql::{Sql, ident, literal};

/// The statement that takes CREATE on schema `public` away from PUBLIC.
pub const REVOKE_PUBLIC_CREATE: &str = "REVOKE CREATE ON SCHEMA public FROM PUBLIC";

const WHY_REVOKE: &str = "CD16-00-007700 / PGS9-00-008400: no undocumented CREATE privilege; every role could \
     otherwise create objects in schema public (PostgreSQL 14 and older grant it to PUBLIC)";

/// The statements each database still needs, database by database.
pub(crate) fn database_actions(
    cluster: &Cluster,
    sql_in: &mut dyn FnMut(&str) -> Result<Box<dyn Sql>>,
) -> Result<Vec<SqlAction>> {
    let mut extensions = Vec::new();
    if cluster.extensions.pgcrypto {
        extensions.push(("pgcrypto", "Appendix E: cryptographic functions for data at rest"));
    }
    if cluster.extensions.pgaudit {
        extensions.push(("pgaudit", "Appendix B: session and object audit logging"));
    }
    let mut postgres = sql_in("postgres")?;
    let databases: Vec<String> = postgres
        .query("SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname")?
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect();
    let mut out = Vec::new();
    for db in databases {
        let mut conn = sql_in(&db)?;
        let action = |statement: String, why: &str| SqlAction {
            database: db.clone(),
            statement,
            why: why.to_string(),
        };
        for (ext, why) in &extensions {
            let present = conn
                .value(&format!("SELECT 1 FROM pg_extension WHERE extname = {}", literal(ext)))?
                .is_some();
            if !present {
                out.push(action(format!("CREATE EXTENSION IF NOT EXISTS {}", ident(ext)), why));
            }
        }
        if public_may_create(conn.as_mut())? {
            out.push(action(REVOKE_PUBLIC_CREATE.to_string(), WHY_REVOKE));
        }
    }
    Ok(out)
}

/// Whether PUBLIC (every role) holds CREATE on this database's schema `public`, if there is one.
fn public_may_create(sql: &mut dyn Sql) -> Result<bool> {
    // The role name "public" means PUBLIC itself here, so only a grant to every role counts.
    let value = sql.value(
        "SELECT has_schema_privilege('public', oid, 'CREATE') FROM pg_namespace WHERE nspname = 'public'",
    )?;
    Ok(value.as_deref() == Some("t"))
}
