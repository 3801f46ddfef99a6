//! Row-level security by security label (STIG supplement Appendix D), installed and then proved.
//!
//! Owns: resolving a table and its label column the way SQL does (unquoted names folded to lower
//! case, quoted parts kept), installing the `pgharden_security_label` policy with ROW LEVEL SECURITY
//! enabled *and forced* in one transaction, and `check`: for every label role, switching to each of
//! its members that can log in and collecting the rows that member sees.
//! Appendix D's policy called a function over `pg_group` / `pg_user` (deprecated views, and its
//! `username` column does not exist); here the policy asks `pg_has_role` about the role whose name
//! is the row's label, looked up in `pg_roles`, so a label naming no role (or NULL) hides the row
//! instead of failing the whole query with "role does not exist".
//! Must not: connect (it is given a [`Sql`]), change anything but the one table's row-security
//! flags and the one policy, or leave `check`'s transaction open: every `check` ends in ROLLBACK.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::sql::{Rows, Sql, ident, literal};

/// The name of the policy `label` installs and `check` proves.
pub const POLICY: &str = "pgharden_security_label";

/// How long `label` waits for the table's lock. ALTER TABLE needs an ACCESS EXCLUSIVE lock, and
/// while it waits behind a long query every new query on the table queues behind it: failing
/// after a short wait is kinder to a live system than blocking it.
const LOCK_TIMEOUT: &str = "10s";

/// What `label` did.
#[derive(Debug, Clone, Serialize)]
pub struct LabelReport {
    /// The table as SQL would write it (`public.accounts`).
    pub table: String,
    /// The table's schema, as the catalog has it.
    pub schema: String,
    /// The table's name within the schema, as the catalog has it.
    pub name: String,
    /// The label column.
    pub column: String,
    /// The policy created or replaced (always [`POLICY`]).
    pub policy: String,
    /// Row-level security was already enabled before this run.
    pub was_enabled: bool,
    /// Row-level security was already forced (applies to the owner too) before this run.
    pub was_forced: bool,
    /// A policy of the same name existed and was replaced.
    pub replaced: bool,
    /// The statements run, in order, in one transaction.
    pub statements: Vec<String>,
    /// The policy's USING expression as the server stored it.
    pub using: String,
    /// The table's other policies: permissive ones widen what is visible whatever the label.
    pub other_policies: Vec<OtherPolicy>,
}

/// A policy on the table that is not ours.
#[derive(Debug, Clone, Serialize)]
pub struct OtherPolicy {
    /// The policy's name.
    pub name: String,
    /// Permissive policies are OR-ed with ours (they can only show more rows); restrictive ones
    /// are AND-ed (they can only hide more).
    pub permissive: bool,
    /// ALL, SELECT, INSERT, UPDATE or DELETE.
    pub command: String,
    /// The roles it applies to, as SQL would list them.
    pub roles: String,
}

/// What `check` found. Nothing was changed to find it.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// The table as SQL would write it (`public.accounts`).
    pub table: String,
    /// The table's schema, as the catalog has it.
    pub schema: String,
    /// The table's name within the schema, as the catalog has it.
    pub name: String,
    /// The label column (the one our policy reads).
    pub column: String,
    /// The policy the check read (always [`POLICY`]).
    pub policy: String,
    /// Whether row-level security is enabled on the table.
    pub enabled: bool,
    /// Whether row-level security is forced (applies to the table's owner too).
    pub forced: bool,
    /// The role the check connected as; labels of rows it cannot see are not counted.
    pub checked_as: String,
    /// The table's columns, in `SELECT *` order.
    pub columns: Vec<Column>,
    /// Every label that names a role, with the members of that role that can log in.
    pub labels: Vec<LabelView>,
    /// Labels naming no role, and NULL: those rows are visible only to roles that bypass
    /// row-level security.
    pub hidden: Vec<HiddenLabel>,
    /// The table's other policies: permissive ones widen what is visible whatever the label.
    pub other_policies: Vec<OtherPolicy>,
    /// What makes the labels not hold (empty when they do).
    pub problems: Vec<String>,
}

/// A column of the checked table.
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// The column's name.
    pub name: String,
    /// `format_type`, e.g. `integer`, `character varying(20)`.
    pub type_name: String,
    /// A number type (psql right-aligns these).
    pub numeric: bool,
}

/// One label that names a role.
#[derive(Debug, Clone, Serialize)]
pub struct LabelView {
    /// The label value, which is the name of a role.
    pub label: String,
    /// How many rows carry it.
    pub rows: u64,
    /// Roles that can log in and are members of the label role (recursively), or the label role
    /// itself when it can log in.
    pub members: Vec<MemberView>,
}

/// What one member sees.
#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    /// The member role.
    pub role: String,
    /// A superuser or BYPASSRLS role: it sees every row whatever the label.
    pub bypasses_rls: bool,
    /// `SELECT * FROM table ORDER BY 1` as this role, as text (`None` for NULL).
    pub rows: Rows,
    /// Why the rows could not be read (e.g. no SELECT privilege); `rows` is then empty.
    pub error: Option<String>,
}

/// A label value that names no role.
#[derive(Debug, Clone, Serialize)]
pub struct HiddenLabel {
    /// `None` for NULL.
    pub label: Option<String>,
    /// How many rows carry it.
    pub rows: u64,
}

/// A table name as given: `accounts`, `public.accounts`, `"My Schema"."Top Secret"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableName {
    pub schema: Option<String>,
    pub name: String,
}

/// Parse an optionally schema-qualified table name with SQL's rules: unquoted parts are folded to
/// lower case, double-quoted parts are kept as written (`""` is a quote).
pub(crate) fn parse_table(input: &str) -> Result<TableName> {
    let mut parts = split_name(input, "table")?;
    match parts.len() {
        1 => Ok(TableName { schema: None, name: parts.remove(0) }),
        2 => {
            let name = parts.remove(1);
            Ok(TableName { schema: Some(parts.remove(0)), name })
        }
        _ => Err(invalid(format!(
            "table {input:?}: give TABLE or SCHEMA.TABLE (the database is the one CONNINFO names)"
        ))),
    }
}

/// Parse one identifier (a column name) with SQL's rules, as [`parse_table`] does.
pub(crate) fn parse_identifier(input: &str, what: &str) -> Result<String> {
    let mut parts = split_name(input, what)?;
    if parts.len() != 1 {
        return Err(invalid(format!(
            "{what} {input:?} is one name, not a dotted one (double-quote a name holding a dot)"
        )));
    }
    Ok(parts.remove(0))
}

fn split_name(input: &str, what: &str) -> Result<Vec<String>> {
    let hint = || {
        if input.contains(['"', '.']) {
            "double-quote a part holding spaces, capitals or other special characters".to_string()
        } else {
            format!(
                "double-quote a name holding spaces, capitals or other special characters: '{}'",
                ident(input)
            )
        }
    };
    let mut parts = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let part = if chars.next_if_eq(&'"').is_some() {
            let mut part = String::new();
            loop {
                match chars.next() {
                    None => return Err(invalid(format!("{what} {input:?}: a double quote is not closed"))),
                    Some('"') if chars.next_if_eq(&'"').is_some() => part.push('"'),
                    Some('"') => break,
                    Some(c) => part.push(c),
                }
            }
            if part.is_empty() {
                return Err(invalid(format!("{what} {input:?}: \"\" is an empty name")));
            }
            part
        } else {
            let mut part = String::new();
            while let Some(c) = chars.next_if(|c| *c != '.' && *c != '"' && !c.is_whitespace()) {
                part.push(c);
            }
            if !plain_identifier(&part) {
                let shown = if part.is_empty() { "an empty name".to_string() } else { format!("{part:?}") };
                return Err(invalid(format!(
                    "{what} {input:?}: {shown} is not a name SQL accepts unquoted; {}",
                    hint()
                )));
            }
            // PostgreSQL folds only ASCII letters of unquoted names (with UTF-8 databases).
            part.to_ascii_lowercase()
        };
        parts.push(part);
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.next() {
            None => return Ok(parts),
            Some('.') => {}
            Some(c) => return Err(invalid(format!("{what} {input:?}: unexpected {c:?}; {}", hint()))),
        }
    }
}

/// A name SQL accepts without quotes (keywords aside: the server rejects those itself).
fn plain_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || !c.is_ascii())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$' || !c.is_ascii())
}

/// A name for messages: bare when SQL would read it back unchanged, double-quoted otherwise.
fn shown(name: &str) -> String {
    let bare = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if bare { name.to_string() } else { ident(name) }
}

fn invalid(reason: String) -> Error {
    Error::Database { reason }
}

/// A table found on the server.
struct Table {
    oid: String,
    schema: String,
    name: String,
    display: String,
    enabled: bool,
    forced: bool,
}

impl Table {
    /// `"schema"."name"`, for statements.
    fn quoted(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.name))
    }
}

fn flag(row: &[Option<String>], i: usize) -> bool {
    row.get(i).and_then(|v| v.as_deref()) == Some("t")
}

fn text(row: &[Option<String>], i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}

fn count(row: &[Option<String>], i: usize) -> u64 {
    row.get(i).and_then(|v| v.as_deref()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn resolve_table(sql: &mut dyn Sql, wanted: &TableName, input: &str) -> Result<Table> {
    let quoted = match &wanted.schema {
        Some(schema) => format!("{}.{}", ident(schema), ident(&wanted.name)),
        None => ident(&wanted.name),
    };
    // to_regclass resolves an unqualified name through search_path, as a query would, and gives
    // NULL instead of an error when there is no such relation.
    let rows = sql.query(&format!(
        "SELECT c.oid, n.nspname, c.relname, pg_catalog.format('%I.%I', n.nspname, c.relname), \
                c.relkind, c.relrowsecurity, c.relforcerowsecurity \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.oid = pg_catalog.to_regclass({})",
        literal(&quoted)
    ))?;
    let Some(row) = rows.first() else {
        let place = match &wanted.schema {
            Some(schema) => format!("in schema {}", ident(schema)),
            None => "in the search_path".to_string(),
        };
        let folded = if input.chars().any(|c| c.is_ascii_uppercase()) && !input.contains('"') {
            " (unquoted names are folded to lower case, as in SQL; double-quote a name to keep its capitals)"
        } else {
            ""
        };
        return Err(invalid(format!("no table {} {place}{folded}", ident(&wanted.name))));
    };
    let display = text(row, 3);
    let kind = match text(row, 4).as_str() {
        "r" | "p" => None,
        "v" => Some("a view"),
        "m" => Some("a materialized view"),
        "f" => Some("a foreign table"),
        "S" => Some("a sequence"),
        "i" | "I" => Some("an index"),
        "c" => Some("a composite type"),
        _ => Some("not an ordinary table"),
    };
    if let Some(kind) = kind {
        return Err(invalid(format!("{display} is {kind}; row-level security applies to tables")));
    }
    Ok(Table {
        oid: text(row, 0),
        schema: text(row, 1),
        name: text(row, 2),
        display,
        enabled: flag(row, 5),
        forced: flag(row, 6),
    })
}

fn columns(sql: &mut dyn Sql, table: &Table) -> Result<Vec<Column>> {
    // The OIDs psql right-aligns: int2/4/8, oid, xid, cid, float4/8, money, numeric, xid8.
    let rows = sql.query(&format!(
        "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), \
                a.atttypid IN (20, 21, 23, 26, 28, 29, 700, 701, 790, 1700, 5069) \
         FROM pg_catalog.pg_attribute a \
         WHERE a.attrelid = {} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        table.oid
    ))?;
    Ok(rows.iter().map(|r| Column { name: text(r, 0), type_name: text(r, 1), numeric: flag(r, 2) }).collect())
}

fn other_policies(sql: &mut dyn Sql, table: &Table) -> Result<Vec<OtherPolicy>> {
    let rows = sql.query(&format!(
        "SELECT p.polname, p.polpermissive, \
                CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' \
                              WHEN 'd' THEN 'DELETE' ELSE 'ALL' END, \
                (SELECT pg_catalog.string_agg(CASE WHEN r = 0 THEN 'PUBLIC' \
                                                   ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r)) END, \
                                              ', ' ORDER BY r) \
                 FROM pg_catalog.unnest(p.polroles) r) \
         FROM pg_catalog.pg_policy p WHERE p.polrelid = {} AND p.polname <> {} ORDER BY p.polname",
        table.oid,
        literal(POLICY)
    ))?;
    Ok(rows
        .iter()
        .map(|r| OtherPolicy {
            name: text(r, 0),
            permissive: flag(r, 1),
            command: text(r, 2),
            roles: text(r, 3),
        })
        .collect())
}

/// Enable and force row-level security on `table` and (re)install the `pgharden_security_label`
/// policy: a row is visible to (and writable by) members of the role named in `column`.
/// One transaction: on any error nothing is changed. Running it again gives the same result.
pub fn label(sql: &mut dyn Sql, table: &str, column: &str) -> Result<LabelReport> {
    let wanted = parse_table(table)?;
    let column_name = parse_identifier(column, "column")?;
    sql.execute("BEGIN")?;
    match label_in(sql, &wanted, table, &column_name) {
        Ok(report) => {
            sql.execute("COMMIT")?;
            Ok(report)
        }
        Err(e) => {
            // The error is what matters; a failed ROLLBACK means the connection is gone anyway,
            // and the server rolls back an abandoned transaction itself.
            let _ = sql.execute("ROLLBACK");
            Err(e)
        }
    }
}

fn label_in(sql: &mut dyn Sql, wanted: &TableName, input: &str, column: &str) -> Result<LabelReport> {
    sql.execute(&format!("SET LOCAL lock_timeout = {}", literal(LOCK_TIMEOUT)))?;
    let table = resolve_table(sql, wanted, input)?;
    let rows = sql.query(&format!(
        "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), t.typcategory \
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
         WHERE a.attrelid = {} AND a.attname = {} AND a.attnum > 0 AND NOT a.attisdropped",
        table.oid,
        literal(column)
    ))?;
    let Some(found) = rows.first() else {
        let names: Vec<String> = columns(sql, &table)?.iter().map(|c| ident(&c.name)).collect();
        return Err(invalid(format!(
            "table {} has no column {} (its columns: {})",
            table.display,
            ident(column),
            names.join(", ")
        )));
    };
    // The label is compared with role names; a number or a date is no role name, and comparing
    // one would fail (or, cast, never match) on every row.
    if text(found, 2) != "S" {
        return Err(invalid(format!(
            "column {} of {} is {}; a security label holds a role name, so it must be a text type \
             (text, varchar, char or name)",
            ident(column),
            table.display,
            text(found, 1)
        )));
    }
    // Checked here rather than left to ALTER TABLE, to say who may do it.
    let owner = sql.query(&format!(
        "SELECT pg_catalog.pg_get_userbyid(c.relowner), pg_catalog.pg_has_role(c.relowner, 'USAGE'), current_user \
         FROM pg_catalog.pg_class c WHERE c.oid = {}",
        table.oid
    ))?;
    if let Some(row) = owner.first().filter(|r| !flag(r, 1)) {
        return Err(invalid(format!(
            "only the owner of {} (role {}) or a superuser can enable row-level security on it; \
             connected as {}",
            table.display,
            shown(&text(row, 0)),
            shown(&text(row, 2))
        )));
    }
    let target = table.quoted();
    // Take the lock the ALTERs need up front, with the timeout, so that a busy table is reported
    // as such (and no ALTER is left waiting with every other query queued behind it).
    sql.execute(&format!("LOCK TABLE {target} IN ACCESS EXCLUSIVE MODE")).map_err(|e| {
        invalid(format!(
            "{} is in use: its lock was not granted within {LOCK_TIMEOUT}; try again when it is idle ({e})",
            table.display
        ))
    })?;
    let replaced = sql
        .value(&format!(
            "SELECT pg_catalog.count(*) FROM pg_catalog.pg_policy WHERE polrelid = {} AND polname = {}",
            table.oid,
            literal(POLICY)
        ))?
        .as_deref()
        != Some("0");

    let policy = ident(POLICY);
    // The column is written schema.table.column: an unqualified name inside the subquery would be
    // taken from pg_roles first when the label column happens to be called `rolname` or `oid`.
    let label_ref = format!("{target}.{}", ident(column));
    let statements = vec![
        format!("ALTER TABLE {target} ENABLE ROW LEVEL SECURITY"),
        // Without FORCE the table's owner is not filtered at all.
        format!("ALTER TABLE {target} FORCE ROW LEVEL SECURITY"),
        format!("DROP POLICY IF EXISTS {policy} ON {target}"),
        // pg_has_role(name, 'MEMBER') would raise "role does not exist" for a label naming no role,
        // failing every query on the table; looking the role up in pg_roles first makes such a
        // row (and a NULL label) simply invisible. MEMBER counts indirect membership too.
        format!(
            "CREATE POLICY {policy} ON {target} USING (EXISTS (SELECT 1 FROM pg_catalog.pg_roles r \
             WHERE r.rolname = {label_ref}::pg_catalog.text \
             AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')))"
        ),
        format!(
            "COMMENT ON POLICY {policy} ON {target} IS {}",
            literal(&format!(
                "pgharden rls label: rows are visible to members of the role named in column {}",
                ident(column)
            ))
        ),
    ];
    for statement in &statements {
        sql.execute(statement)?;
    }
    let using = sql
        .value(&format!(
            "SELECT pg_catalog.pg_get_expr(polqual, polrelid) FROM pg_catalog.pg_policy \
             WHERE polrelid = {} AND polname = {}",
            table.oid,
            literal(POLICY)
        ))?
        .unwrap_or_default();
    let other_policies = other_policies(sql, &table)?;
    Ok(LabelReport {
        table: table.display.clone(),
        schema: table.schema.clone(),
        name: table.name.clone(),
        column: text(found, 0),
        policy: POLICY.to_string(),
        was_enabled: table.enabled,
        was_forced: table.forced,
        replaced,
        statements,
        using,
        other_policies,
    })
}

/// For every label of `table` that names a role, what each member of that role that can log in
/// sees. Runs in one read-only REPEATABLE READ transaction (one snapshot for every member) that is
/// always rolled back; each member's query runs as that role (`SET LOCAL ROLE`) inside a savepoint
/// that is rolled back too. Needs a superuser, or a role that may SET ROLE to every member.
pub fn check(sql: &mut dyn Sql, table: &str) -> Result<CheckReport> {
    let wanted = parse_table(table)?;
    sql.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
    let report = check_in(sql, &wanted, table);
    let ended = sql.execute("ROLLBACK");
    let report = report?;
    ended?;
    Ok(report)
}

fn check_in(sql: &mut dyn Sql, wanted: &TableName, input: &str) -> Result<CheckReport> {
    let table = resolve_table(sql, wanted, input)?;
    let policy_oid = sql.value(&format!(
        "SELECT oid FROM pg_catalog.pg_policy WHERE polrelid = {} AND polname = {}",
        table.oid,
        literal(POLICY)
    ))?;
    let Some(policy_oid) = policy_oid else {
        return Err(invalid(format!(
            "table {} has no {POLICY} policy; run `pgharden rls label` on it first",
            table.display
        )));
    };
    // The server records which columns a policy's expression reads; ours reads exactly one, the
    // label. This survives a renamed column, which parsing the expression text would not.
    let label_columns = sql.query(&format!(
        "SELECT a.attname FROM pg_catalog.pg_depend d \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
         WHERE d.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass AND d.objid = {policy_oid} \
           AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid = {} \
           AND d.refobjsubid > 0",
        table.oid
    ))?;
    let column = match label_columns.as_slice() {
        [one] => text(one, 0),
        _ => {
            return Err(invalid(format!(
                "the {POLICY} policy on {} was changed by hand (it reads {} columns of the table, not one); \
                 run `pgharden rls label` again",
                table.display,
                label_columns.len()
            )));
        }
    };
    let columns = columns(sql, &table)?;
    let label_index = columns.iter().position(|c| c.name == column);
    let other_policies = other_policies(sql, &table)?;
    let me = sql.query(
        "SELECT current_user, rolsuper OR rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user",
    )?;
    let checked_as = me.first().map(|r| text(r, 0)).unwrap_or_default();
    let sees_all = me.first().is_some_and(|r| flag(r, 1));

    let target = table.quoted();
    let counted = sql.query(&format!(
        "SELECT l.label, r.rolname IS NOT NULL, l.n \
         FROM (SELECT {}::pg_catalog.text AS label, pg_catalog.count(*) AS n FROM {target} GROUP BY 1) l \
         LEFT JOIN pg_catalog.pg_roles r ON r.rolname = l.label \
         ORDER BY l.label NULLS FIRST",
        ident(&column)
    ))?;
    let mut labels = Vec::new();
    let mut hidden = Vec::new();
    let mut seen: HashMap<String, (Rows, Option<String>)> = HashMap::new();
    for row in &counted {
        let rows = count(row, 2);
        let label = match &row[0] {
            Some(label) if flag(row, 1) => label.clone(),
            other => {
                hidden.push(HiddenLabel { label: other.clone(), rows });
                continue;
            }
        };
        let member_rows = sql.query(&format!(
            "WITH RECURSIVE m(oid) AS ( \
                 SELECT oid FROM pg_catalog.pg_roles WHERE rolname = {} \
                 UNION \
                 SELECT a.member FROM pg_catalog.pg_auth_members a JOIN m ON a.roleid = m.oid) \
             SELECT r.rolname, r.rolsuper OR r.rolbypassrls \
             FROM m JOIN pg_catalog.pg_roles r ON r.oid = m.oid WHERE r.rolcanlogin ORDER BY r.rolname",
            literal(&label)
        ))?;
        let mut members = Vec::new();
        for m in &member_rows {
            let role = text(m, 0);
            if !seen.contains_key(&role) {
                let view = rows_as(sql, &role, &table)?;
                seen.insert(role.clone(), view);
            }
            let (rows, error) = seen.get(&role).cloned().unwrap_or_default();
            members.push(MemberView { role, bypasses_rls: flag(m, 1), rows, error });
        }
        labels.push(LabelView { label, rows, members });
    }

    let mut problems = Vec::new();
    if !table.enabled {
        problems
            .push(format!("row-level security is not enabled on {}: every row is visible", table.display));
    }
    if !table.forced {
        problems
            .push(format!("row-level security is not forced on {}: its owner sees every row", table.display));
    }
    for p in &other_policies {
        if p.permissive && (p.command == "ALL" || p.command == "SELECT") {
            problems.push(format!(
                "policy {} on {} is permissive: the rows it allows are visible to {} whatever their label",
                shown(&p.name),
                table.display,
                p.roles
            ));
        }
    }
    if !sees_all {
        problems.push(format!(
            "checked as {checked_as}, which does not bypass row-level security: labels of rows it cannot \
             see are missing; run the check as a superuser"
        ));
    }
    if let Some(index) = label_index {
        problems.extend(leaks(&labels, index));
    }
    Ok(CheckReport {
        table: table.display.clone(),
        schema: table.schema.clone(),
        name: table.name.clone(),
        column,
        policy: POLICY.to_string(),
        enabled: table.enabled,
        forced: table.forced,
        checked_as,
        columns,
        labels,
        hidden,
        other_policies,
        problems,
    })
}

/// `SELECT *` as `role`, inside a savepoint that is rolled back (which also undoes SET LOCAL).
/// A failing query (no SELECT privilege, say) is that member's result, not the check's failure.
fn rows_as(sql: &mut dyn Sql, role: &str, table: &Table) -> Result<(Rows, Option<String>)> {
    // `SELECT *` needs USAGE on the schema and SELECT on the table or on every column. Asked first
    // so that the report says which privilege is missing.
    let who = literal(role);
    let may = sql.query(&format!(
        "SELECT pg_catalog.has_schema_privilege({who}, c.relnamespace, 'USAGE'), \
                pg_catalog.has_table_privilege({who}, c.oid, 'SELECT') OR NOT EXISTS ( \
                    SELECT 1 FROM pg_catalog.pg_attribute a \
                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                      AND NOT pg_catalog.has_column_privilege({who}, c.oid, a.attnum, 'SELECT')) \
         FROM pg_catalog.pg_class c WHERE c.oid = {}",
        table.oid
    ))?;
    let may = may.first().map(|r| (flag(r, 0), flag(r, 1))).unwrap_or_default();
    if !may.0 {
        return Ok((
            Vec::new(),
            Some(format!("{} has no USAGE privilege on schema {}", shown(role), shown(&table.schema))),
        ));
    }
    if !may.1 {
        return Ok((
            Vec::new(),
            Some(format!("{} has no SELECT privilege on {}", shown(role), table.display)),
        ));
    }
    let target = table.quoted();
    sql.execute("SAVEPOINT pgharden_rls_member")?;
    // row_security = off would make the query fail instead of filtering: set it on explicitly.
    let seen = sql
        .execute(&format!("SET LOCAL ROLE {}; SET LOCAL row_security = on", ident(role)))
        .and_then(|()| sql.query(&format!("SELECT * FROM {target} ORDER BY 1")));
    sql.execute("ROLLBACK TO SAVEPOINT pgharden_rls_member")?;
    Ok(match seen {
        Ok(rows) => (rows, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    })
}

/// Rows a member sees although their label is not a role it belongs to (another permissive
/// policy, say). Members that bypass row-level security see everything by design and are skipped.
fn leaks(labels: &[LabelView], label_index: usize) -> Vec<String> {
    let mut allowed: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for l in labels {
        for m in &l.members {
            allowed.entry(m.role.as_str()).or_default().insert(l.label.as_str());
        }
    }
    let mut problems = BTreeSet::new();
    for m in labels.iter().flat_map(|l| &l.members).filter(|m| !m.bypasses_rls) {
        for row in &m.rows {
            let label = row.get(label_index).cloned().flatten();
            let ok =
                label.as_deref().is_some_and(|l| allowed.get(m.role.as_str()).is_some_and(|a| a.contains(l)));
            if !ok {
                let label = label.map(|l| shown(&l)).unwrap_or_else(|| "NULL".to_string());
                problems.insert(format!(
                    "{} sees rows labelled {label}, a role it is not a member of",
                    shown(&m.role)
                ));
            }
        }
    }
    problems.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(schema: Option<&str>, name: &str) -> TableName {
        TableName { schema: schema.map(str::to_string), name: name.to_string() }
    }

    #[test]
    fn table_names_parse_as_sql_does() {
        assert_eq!(parse_table("accounts").unwrap(), t(None, "accounts"));
        assert_eq!(parse_table("Public.Accounts").unwrap(), t(Some("public"), "accounts"));
        assert_eq!(
            parse_table(r#""My Schema"."Top ""Secret""""#).unwrap(),
            t(Some("My Schema"), r#"Top "Secret""#)
        );
        assert_eq!(parse_table(r#" public . "a.b" "#).unwrap(), t(Some("public"), "a.b"));
        assert_eq!(parse_table("_x$1").unwrap(), t(None, "_x$1"));
    }

    #[test]
    fn bad_names_are_refused_with_a_hint() {
        let e = parse_table("Top Secret").unwrap_err().to_string();
        assert!(e.contains(r#"'"Top Secret"'"#), "{e}");
        for bad in ["", "a.", ".a", "a.b.c", r#""open"#, r#""""#, "1abc", "a-b"] {
            assert!(parse_table(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_identifier("a.b", "column").is_err());
        assert_eq!(parse_identifier(r#""Label""#, "column").unwrap(), "Label");
    }

    fn member(role: &str, rows: &[&[Option<&str>]]) -> MemberView {
        MemberView {
            role: role.into(),
            bypasses_rls: false,
            rows: rows.iter().map(|r| r.iter().map(|v| v.map(str::to_string)).collect()).collect(),
            error: None,
        }
    }

    #[test]
    fn a_row_outside_the_members_labels_is_a_leak() {
        let labels = vec![
            LabelView {
                label: "a".into(),
                rows: 1,
                members: vec![member("bob", &[&[Some("1"), Some("a")]])],
            },
            LabelView {
                label: "b".into(),
                rows: 1,
                members: vec![member("eve", &[&[Some("1"), Some("a")], &[Some("2"), None]])],
            },
        ];
        let found = leaks(&labels, 1);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|p| p.starts_with("eve sees")), "{found:?}");
    }
}
