//! The ledger tables of `pgharden lock`: finding them, deciding whether each can be trusted, creating
//! one, and the advisory lock that serialises lock and restore.
//!
//! Owns: the trust check, made on catalog facts only. Anyone with CREATE on the database (the owner
//! of an application database, say) can create `pgharden.locked_roles` before pgharden does, with a
//! trigger that runs as the superuser who writes it, or with rows that restore would re-enable. A
//! ledger is trusted only when its schema and table are owned by superusers, the table is a plain
//! table (no partition, no inheritance) with the columns an insert needs, it has no triggers, rules
//! or policies, nothing in its columns, defaults, constraints or indexes uses a function, operator,
//! type or operator class outside pg_catalog, and neither the schema, the table nor a column grants
//! anything to a role that is not a superuser. pgharden's own ledgers live in schemas named
//! `pgharden_` and 16 hex digits, created without IF NOT EXISTS.
//! Must not: read, write or lock a table before it is found trusted (its owner could hold a lock on
//! it to stall the emergency lock), run a query before the caller's transaction has set a safe
//! search_path, or end the caller's transaction.

use std::time::{Duration, Instant};

use super::{LockError, Untrusted};
use crate::error::{Error, Result};
use crate::sql::{Rows, Sql, ident, literal};

/// The schema of the usual ledger, `pgharden.locked_roles`.
pub(super) const USUAL_SCHEMA: &str = "pgharden";

/// The names of pgharden's own ledger schemas (a regular expression for `~`).
const OWN_SCHEMA_PATTERN: &str = "^pgharden_[0-9a-f]{16}$";

/// The table's definition, the same in every ledger.
const TABLE_COLUMNS: &str = "(rolname pg_catalog.name PRIMARY KEY, \
     locked_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(), \
     locked_by pg_catalog.name NOT NULL DEFAULT session_user)";

/// The key of the transaction-level advisory lock that every lock and restore takes before it looks
/// at the ledgers, so concurrent runs on one database take turns. (The bytes spell "pghardn" + 1.)
pub const ADVISORY_KEY: i64 = 0x7067_6861_7264_6e01;

/// How long a run waits for another superuser's run to release [`ADVISORY_KEY`].
const ADVISORY_WAIT: Duration = Duration::from_secs(60);
const ADVISORY_POLL: Duration = Duration::from_millis(50);

/// How long creating the usual ledger waits for another session creating the same names.
const CREATE_WAIT: Duration = Duration::from_secs(2);

/// How many names one reason shows (the rest are counted); how many untrusted ledgers are listed.
const SAMPLE: usize = 5;
const LISTED: usize = 20;

/// One ledger table, `schema.locked_roles`. The schema is always the usual one or matches
/// [`OWN_SCHEMA_PATTERN`], so its name needs no escaping anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Ledger {
    schema: String,
}

impl Ledger {
    pub(super) fn usual() -> Self {
        Self { schema: USUAL_SCHEMA.to_string() }
    }

    /// The table, quoted for SQL.
    pub(super) fn table(&self) -> String {
        format!("{}.locked_roles", ident(&self.schema))
    }

    /// The table, as people read it.
    pub(super) fn name(&self) -> String {
        format!("{}.locked_roles", self.schema)
    }
}

/// The usual ledger, as far as a lock is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Usual {
    /// No schema `pgharden`: a lock creates schema and table.
    NoSchema,
    /// A trusted schema without the table: a lock creates the table.
    NoTable,
    /// The table exists and is trusted.
    Trusted,
    /// Something there is not trusted: a lock uses a ledger of pgharden's own.
    Untrusted,
}

/// Every ledger of the connected database.
#[derive(Debug)]
pub(super) struct Survey {
    pub(super) usual: Usual,
    /// The tables that exist and are trusted, the usual one first.
    pub(super) trusted: Vec<Ledger>,
    /// At most [`LISTED`] that are not trusted.
    pub(super) untrusted: Vec<Untrusted>,
    /// How many more are not trusted than `untrusted` lists.
    pub(super) unlisted: u64,
}

/// What the catalog says about one candidate schema.
enum Examined {
    NoSchema,
    Found { table: bool, reasons: Vec<String> },
}

/// Look at the usual ledger and at every schema that looks like one of pgharden's own.
pub(super) fn survey(sql: &mut dyn Sql) -> Result<Survey> {
    let mut survey = Survey { usual: Usual::NoSchema, trusted: vec![], untrusted: vec![], unlisted: 0 };
    survey.usual = match examine(sql, USUAL_SCHEMA)? {
        Examined::NoSchema => Usual::NoSchema,
        Examined::Found { table, reasons } if reasons.is_empty() => {
            if table {
                survey.trusted.push(Ledger::usual());
                Usual::Trusted
            } else {
                Usual::NoTable
            }
        }
        Examined::Found { reasons, .. } => {
            survey.untrusted.push(Untrusted { ledger: Ledger::usual().name(), reasons });
            Usual::Untrusted
        }
    };
    // Only superusers can create a schema owned by a superuser, so those few get the full check; the
    // ones anybody else owns are refused on that fact alone, and counted rather than all listed.
    let candidates = format!(
        "SELECT n.nspname FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner \
         WHERE n.nspname ~ {pattern} AND r.rolsuper {has_table} ORDER BY 1",
        pattern = literal(OWN_SCHEMA_PATTERN),
        has_table = HAS_TABLE
    );
    for schema in first_column(sql.query(&candidates)?) {
        if let Examined::Found { table: true, reasons } = examine(sql, &schema)? {
            let ledger = Ledger { schema };
            if reasons.is_empty() {
                survey.trusted.push(ledger);
            } else {
                survey.untrusted.push(Untrusted { ledger: ledger.name(), reasons });
            }
        }
    }
    let foreign = format!(
        "SELECT pg_catalog.count(*) OVER (), n.nspname, coalesce(pg_catalog.quote_ident(r.rolname), n.nspowner::text) \
         FROM pg_catalog.pg_namespace n LEFT JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner \
         WHERE n.nspname ~ {pattern} AND NOT coalesce(r.rolsuper, false) {has_table} ORDER BY 2 LIMIT {LISTED}",
        pattern = literal(OWN_SCHEMA_PATTERN),
        has_table = HAS_TABLE
    );
    for row in sql.query(&foreign)? {
        let total = count(row.first());
        let [schema, owner] = [1, 2].map(|i| row.get(i).cloned().flatten().unwrap_or_default());
        survey.unlisted = total.saturating_sub(LISTED as u64);
        let ledger = Ledger { schema };
        survey.untrusted.push(Untrusted {
            ledger: ledger.name(),
            reasons: vec![format!("schema {} is owned by {owner}, which is not a superuser", ledger.schema)],
        });
    }
    Ok(survey)
}

/// `AND` the schema `n` holds a relation named locked_roles.
const HAS_TABLE: &str = "AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c \
     WHERE c.relnamespace = n.oid AND c.relname = 'locked_roles')";

/// The reasons not to trust `schema` and its `locked_roles`.
fn examine(sql: &mut dyn Sql, schema: &str) -> Result<Examined> {
    let rows = sql.query(&format!(
        "SELECT n.oid, coalesce(pg_catalog.quote_ident(r.rolname), n.nspowner::text), coalesce(r.rolsuper, false) \
         FROM pg_catalog.pg_namespace n LEFT JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner \
         WHERE n.nspname = {}",
        literal(schema)
    ))?;
    let Some(row) = rows.into_iter().next() else { return Ok(Examined::NoSchema) };
    let [nsp, owner, owner_super] = [0, 1, 2].map(|i| row.get(i).cloned().flatten().unwrap_or_default());
    let nsp = oid(&nsp)?;
    let mut reasons = Vec::new();
    if owner_super != "t" {
        reasons.push(format!("schema {schema} is owned by {owner}, which is not a superuser"));
    }
    let label = format!("schema {schema} grants");
    check(sql, &mut reasons, &label, "; ", &grants_sql("pg_namespace", "nspacl", &format!("n.oid = {nsp}")))?;

    let rows = sql.query(&format!(
        "SELECT c.oid, c.relkind, c.relispartition, coalesce(pg_catalog.quote_ident(r.rolname), c.relowner::text), \
                coalesce(r.rolsuper, false) \
         FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_roles r ON r.oid = c.relowner \
         WHERE c.relnamespace = {nsp} AND c.relname = 'locked_roles'"
    ))?;
    let Some(row) = rows.into_iter().next() else {
        // CREATE TABLE would fail on a type of that name; say so instead of failing later.
        let types = format!(
            "SELECT pg_catalog.count(*) OVER (), t.typname::text FROM pg_catalog.pg_type t \
             WHERE t.typnamespace = {nsp} AND t.typname = 'locked_roles'"
        );
        check(sql, &mut reasons, &format!("schema {schema} holds a type named"), ", ", &types)?;
        return Ok(Examined::Found { table: false, reasons });
    };
    let [table, kind, partition, owner, owner_super] =
        [0, 1, 2, 3, 4].map(|i| row.get(i).cloned().flatten().unwrap_or_default());
    let table = oid(&table)?;
    if kind != "r" {
        reasons.push(format!("it is {}, not a plain table", relkind(&kind)));
    }
    if partition == "t" {
        reasons.push("it is a partition of another table".to_string());
    }
    if owner_super != "t" {
        reasons.push(format!("it is owned by {owner}, which is not a superuser"));
    }
    for (label, separator, query) in table_checks(table) {
        check(sql, &mut reasons, label, separator, &query)?;
    }
    Ok(Examined::Found { table: true, reasons })
}

/// The checks of the table with oid `table`: a label, how items are joined, and a query returning
/// `count(*) OVER ()` and one text per offending item.
fn table_checks(table: u32) -> Vec<(&'static str, &'static str, String)> {
    let ns = |column: &str| format!("{column} = 'pg_catalog'::pg_catalog.regnamespace");
    vec![
        ("it grants", "; ", grants_sql("pg_class", "relacl", &format!("n.oid = {table}"))),
        ("its columns grant", "; ", column_grants_sql(table)),
        (
            "it has trigger(s)",
            ", ",
            format!(
                "SELECT pg_catalog.count(*) OVER (), pg_catalog.quote_ident(tgname) FROM pg_catalog.pg_trigger WHERE tgrelid = {table}"
            ),
        ),
        (
            "it has rule(s)",
            ", ",
            format!(
                "SELECT pg_catalog.count(*) OVER (), pg_catalog.quote_ident(rulename) FROM pg_catalog.pg_rewrite WHERE ev_class = {table}"
            ),
        ),
        (
            "it has row-level security policy(ies)",
            ", ",
            format!(
                "SELECT pg_catalog.count(*) OVER (), pg_catalog.quote_ident(polname) FROM pg_catalog.pg_policy WHERE polrelid = {table}"
            ),
        ),
        (
            "it inherits from",
            ", ",
            format!(
                "SELECT pg_catalog.count(*) OVER (), inhparent::pg_catalog.regclass::text FROM pg_catalog.pg_inherits WHERE inhrelid = {table}"
            ),
        ),
        (
            "it is inherited by",
            ", ",
            format!(
                "SELECT pg_catalog.count(*) OVER (), inhrelid::pg_catalog.regclass::text FROM pg_catalog.pg_inherits WHERE inhparent = {table}"
            ),
        ),
        (
            "it lacks the column",
            ", ",
            format!(
                "SELECT 1, 'rolname of type name' WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute \
                 WHERE attrelid = {table} AND attname = 'rolname' AND NOT attisdropped \
                 AND atttypid = 'pg_catalog.name'::pg_catalog.regtype)"
            ),
        ),
        (
            "pgharden's insert would fail on its NOT NULL column(s) without a default",
            ", ",
            format!(
                "SELECT pg_catalog.count(*) OVER (), pg_catalog.quote_ident(attname) FROM pg_catalog.pg_attribute \
                 WHERE attrelid = {table} AND attnum > 0 AND NOT attisdropped AND attnotnull AND NOT atthasdef \
                 AND attidentity = '' AND attname <> 'rolname'"
            ),
        ),
        (
            "its columns, defaults, constraints or indexes use, from outside pg_catalog,",
            ", ",
            // The table and what depends on it (defaults, constraints, indexes, TOAST, owned
            // sequences), and what those depend on. Built-in objects are pinned and never appear.
            format!(
                "WITH objs(classid, objid) AS ( \
                   SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid, {table}::pg_catalog.oid \
                   UNION SELECT d.classid, d.objid FROM pg_catalog.pg_depend d \
                   WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = {table} \
                     AND d.classid IN ('pg_catalog.pg_attrdef'::pg_catalog.regclass, \
                       'pg_catalog.pg_constraint'::pg_catalog.regclass, 'pg_catalog.pg_class'::pg_catalog.regclass)), \
                 refs AS (SELECT DISTINCT d.refclassid, d.refobjid FROM pg_catalog.pg_depend d \
                   JOIN objs o ON o.classid = d.classid AND o.objid = d.objid) \
                 SELECT pg_catalog.count(*) OVER (), pg_catalog.pg_describe_object(f.refclassid, f.refobjid, 0) FROM refs f \
                 WHERE (f.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND NOT EXISTS \
                     (SELECT 1 FROM pg_catalog.pg_proc p WHERE p.oid = f.refobjid AND {p})) \
                   OR (f.refclassid = 'pg_catalog.pg_operator'::pg_catalog.regclass AND NOT EXISTS \
                     (SELECT 1 FROM pg_catalog.pg_operator p WHERE p.oid = f.refobjid AND {o})) \
                   OR (f.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass AND NOT EXISTS \
                     (SELECT 1 FROM pg_catalog.pg_type p WHERE p.oid = f.refobjid AND {t})) \
                   OR (f.refclassid = 'pg_catalog.pg_opclass'::pg_catalog.regclass AND NOT EXISTS \
                     (SELECT 1 FROM pg_catalog.pg_opclass p WHERE p.oid = f.refobjid AND {c})) \
                   OR (f.refclassid = 'pg_catalog.pg_opfamily'::pg_catalog.regclass AND NOT EXISTS \
                     (SELECT 1 FROM pg_catalog.pg_opfamily p WHERE p.oid = f.refobjid AND {f}))",
                p = ns("p.pronamespace"),
                o = ns("p.oprnamespace"),
                t = ns("p.typnamespace"),
                c = ns("p.opcnamespace"),
                f = ns("p.opfnamespace"),
            ),
        ),
    ]
}

/// Privileges in the ACL `column` of `catalog` (aliased `n`, row chosen by `filter`) held by PUBLIC
/// or by roles that are not superusers, as "INSERT, SELECT to role".
fn grants_sql(catalog: &str, column: &str, filter: &str) -> String {
    format!(
        "SELECT pg_catalog.count(*) OVER (), g.privs || ' to ' || g.who FROM ( \
           SELECT {who} AS who, pg_catalog.string_agg(DISTINCT a.privilege_type, ', ' ORDER BY a.privilege_type) AS privs \
           FROM pg_catalog.{catalog} n CROSS JOIN LATERAL pg_catalog.aclexplode(n.{column}) a \
           LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee \
           WHERE {filter} AND NOT coalesce(r.rolsuper, false) GROUP BY 1) g",
        who = GRANTEE
    )
}

/// Column privileges of `table` held by PUBLIC or by roles that are not superusers.
fn column_grants_sql(table: u32) -> String {
    format!(
        "SELECT pg_catalog.count(*) OVER (), g.privs || ' on ' || g.col || ' to ' || g.who FROM ( \
           SELECT pg_catalog.quote_ident(n.attname) AS col, {who} AS who, \
                  pg_catalog.string_agg(DISTINCT a.privilege_type, ', ' ORDER BY a.privilege_type) AS privs \
           FROM pg_catalog.pg_attribute n CROSS JOIN LATERAL pg_catalog.aclexplode(n.attacl) a \
           LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee \
           WHERE n.attrelid = {table} AND NOT coalesce(r.rolsuper, false) GROUP BY 1, 2) g",
        who = GRANTEE
    )
}

/// The grantee of an `aclexplode` row `a` (roles `r`), for people and for REVOKE.
const GRANTEE: &str = "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE coalesce(pg_catalog.quote_ident(r.rolname), a.grantee::text) END";

/// Run one check (its query gets the sample order and limit here) and add its reason, if any.
fn check(
    sql: &mut dyn Sql,
    reasons: &mut Vec<String>,
    label: &str,
    separator: &str,
    query: &str,
) -> Result<()> {
    let rows = sql.query(&format!("SELECT * FROM ({query}) q ORDER BY 2 LIMIT {SAMPLE}"))?;
    let total = rows.first().map(|r| count(r.first())).unwrap_or(0);
    if total == 0 {
        return Ok(());
    }
    let items: Vec<String> = rows.into_iter().filter_map(|r| r.into_iter().nth(1).flatten()).collect();
    let mut reason = format!("{label} {}", items.join(separator));
    if total > items.len() as u64 {
        reason.push_str(&format!(" (and {} more)", total - items.len() as u64));
    }
    reasons.push(reason);
    Ok(())
}

fn relkind(kind: &str) -> &'static str {
    match kind {
        "p" => "a partitioned table",
        "v" => "a view",
        "m" => "a materialized view",
        "f" => "a foreign table",
        "S" => "a sequence",
        "i" | "I" => "an index",
        "c" => "a composite type",
        "t" => "a TOAST table",
        _ => "an unusual relation",
    }
}

/// Create what is missing of the usual ledger (`with_schema`: the schema too), make it private and
/// check it as any other; the caller holds [`ADVISORY_KEY`]. Another session may be creating a
/// schema or table of that name right now, in a transaction it keeps open (any role with CREATE on
/// the database can), or commit one first: then this gives up after [`CREATE_WAIT`] or on the
/// duplicate, undoes its part, and returns why (`Ok(Err(reason))`) for the caller to use a ledger of
/// its own.
pub(super) fn create_usual(sql: &mut dyn Sql, with_schema: bool) -> Result<Result<Ledger, String>> {
    sql.execute(&format!(
        "SAVEPOINT pgharden_usual_ledger; SET LOCAL lock_timeout = {}",
        CREATE_WAIT.as_millis()
    ))?;
    match create(sql, Ledger::usual(), with_schema) {
        Ok(ledger) => {
            sql.execute("RELEASE SAVEPOINT pgharden_usual_ledger; SET LOCAL lock_timeout = 0")?;
            Ok(Ok(ledger))
        }
        Err(e) => {
            sql.execute("ROLLBACK TO SAVEPOINT pgharden_usual_ledger; SET LOCAL lock_timeout = 0")?;
            Ok(Err(format!("creating it failed (another session may be creating it at the same time): {e}")))
        }
    }
}

/// Create a ledger of pgharden's own in a fresh schema. Its name is random and CREATE SCHEMA has no
/// IF NOT EXISTS, so a schema someone made in advance makes this fail instead of being used.
pub(super) fn create_own(sql: &mut dyn Sql) -> Result<Ledger> {
    // gen_random_uuid uses the server's strong random source (md5() would fail on a FIPS server).
    let schema = sql
        .value(
            "SELECT 'pgharden_' || pg_catalog.substr(pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', ''), 1, 16)",
        )?
        .unwrap_or_default();
    let hex = schema.strip_prefix("pgharden_").unwrap_or_default();
    if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(Error::Database {
            reason: format!("the server made an unusable schema name {schema:?}"),
        });
    }
    create(sql, Ledger { schema }, true)
}

fn create(sql: &mut dyn Sql, ledger: Ledger, with_schema: bool) -> Result<Ledger> {
    let schema = ident(&ledger.schema);
    let table = ledger.table();
    let mut ddl = String::new();
    if with_schema {
        ddl.push_str(&format!("CREATE SCHEMA {schema}; "));
    }
    // Default privileges (ALTER DEFAULT PRIVILEGES by a superuser) may have granted something to
    // others: revoke every grant but the owner's, so the ledger passes the check restore will make.
    ddl.push_str(&format!(
        "CREATE TABLE {table} {TABLE_COLUMNS}; \
         DO $$ DECLARE g text; BEGIN \
           FOR g IN SELECT DISTINCT {GRANTEE} FROM pg_catalog.pg_namespace n \
               CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee \
               WHERE n.nspname = {name} AND a.grantee <> n.nspowner AND (a.grantee = 0 OR r.oid IS NOT NULL) LOOP \
             EXECUTE 'REVOKE ALL ON SCHEMA {schema} FROM ' || g; \
           END LOOP; \
           FOR g IN SELECT DISTINCT {GRANTEE} FROM pg_catalog.pg_class n \
               CROSS JOIN LATERAL pg_catalog.aclexplode(n.relacl) a LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee \
               WHERE n.oid = {table_literal}::pg_catalog.regclass AND a.grantee <> n.relowner \
                 AND (a.grantee = 0 OR r.oid IS NOT NULL) LOOP \
             EXECUTE 'REVOKE ALL ON TABLE {table} FROM ' || g; \
           END LOOP; END $$",
        name = literal(&ledger.schema),
        table_literal = literal(&table),
    ));
    sql.execute(&ddl)?;
    match examine(sql, &ledger.schema)? {
        Examined::Found { table: true, reasons } if reasons.is_empty() => Ok(ledger),
        Examined::Found { reasons, .. } => Err(Error::Database {
            reason: format!(
                "the ledger pgharden just created, {}, is not trusted: {}",
                ledger.name(),
                reasons.join("; ")
            ),
        }),
        Examined::NoSchema => {
            Err(Error::Database { reason: format!("the schema of {} vanished after CREATE", ledger.name()) })
        }
    }
}

/// Take [`ADVISORY_KEY`] for the rest of the transaction. While another superuser session holds it
/// (another lock or restore), wait, up to [`ADVISORY_WAIT`]. Anyone may take an advisory lock, so a
/// key held only by roles that are not superusers is not a pgharden run: going on without it beats
/// letting them stall the emergency lock (the ledger's own table lock still orders the writes).
pub(super) fn serialise(sql: &mut dyn Sql) -> Result<(), LockError> {
    let (high, low) = ((ADVISORY_KEY >> 32) as u32, ADVISORY_KEY as u32);
    let holders = |superuser: &str| {
        format!(
            "EXISTS (SELECT 1 FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid \
             JOIN pg_catalog.pg_roles r ON r.oid = a.usesysid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {high} AND l.objid = {low} AND l.objsubid = 1 \
               AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()) \
               AND l.pid <> pg_catalog.pg_backend_pid() {superuser})"
        )
    };
    let query = format!(
        "SELECT CASE WHEN pg_catalog.pg_try_advisory_xact_lock({ADVISORY_KEY}) THEN 'held' \
                     WHEN {} THEN 'wait' WHEN {} THEN 'foreign' ELSE 'retry' END",
        holders("AND r.rolsuper"),
        holders("")
    );
    let started = Instant::now();
    loop {
        // "retry": the holder left between the two looks, or is one no session shows (a prepared
        // transaction); "wait": another superuser's run.
        match sql.value(&query)?.as_deref() {
            Some("held" | "foreign") => return Ok(()),
            _ if started.elapsed() >= ADVISORY_WAIT => {
                return Err(LockError::Busy { seconds: ADVISORY_WAIT.as_secs() });
            }
            _ => std::thread::sleep(ADVISORY_POLL),
        }
    }
}

/// The count in the first column of a row from `count(*)` or `count(*) OVER ()`.
pub(super) fn count(cell: Option<&Option<String>>) -> u64 {
    cell.cloned().flatten().and_then(|c| c.parse().ok()).unwrap_or(0)
}

fn oid(text: &str) -> Result<u32> {
    text.parse().map_err(|_| Error::Database { reason: format!("the catalog returned {text:?} as an oid") })
}

pub(super) fn first_column(rows: Rows) -> Vec<String> {
    rows.into_iter().filter_map(|r| r.into_iter().next().flatten()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_names_are_quoted_for_sql_and_plain_for_people() {
        let own = Ledger { schema: "pgharden_0123456789abcdef".into() };
        assert_eq!(own.table(), "\"pgharden_0123456789abcdef\".locked_roles");
        assert_eq!(own.name(), "pgharden_0123456789abcdef.locked_roles");
        assert_eq!(Ledger::usual().name(), "pgharden.locked_roles");
    }

    #[test]
    fn the_advisory_key_splits_as_pg_locks_shows_it() {
        assert_eq!(((ADVISORY_KEY >> 32) as u32, ADVISORY_KEY as u32), (0x7067_6861, 0x7264_6e01));
    }

    #[test]
    fn every_relkind_but_a_plain_table_is_named() {
        for kind in ["p", "v", "m", "f", "S", "i", "I", "c", "t"] {
            assert!(!relkind(kind).contains("unusual"), "{kind}");
        }
    }

    #[test]
    fn counts_read_from_cells_and_default_to_zero() {
        assert_eq!(count(Some(&Some("12".into()))), 12);
        assert_eq!(count(Some(&None)), 0);
        assert_eq!(count(None), 0);
    }
}
