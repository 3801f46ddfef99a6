//! Settings as every session sees them.
//!
//! Owns: the cluster-wide value of each setting and where it was set (file and line, as
//! `pg_settings` reports it to a superuser: postgresql.conf, an included file or
//! postgresql.auto.conf), and every per-role, per-database and per-role-in-database override
//! (`pg_db_role_setting`, i.e. `ALTER ROLE … SET`, `ALTER DATABASE … SET`, `ALTER ROLE … IN
//! DATABASE … SET`). The auditor's own session is one of those sessions: when an override applies
//! to it, the cluster-wide value is recovered from `pg_file_settings` (or the built-in default), so
//! one `ALTER DATABASE postgres SET` cannot hide what every other database runs with.
//! Must not: judge values.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use pgharden_cluster::Sql;

use super::{Fact, Missing};

/// A setting's cluster-wide value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The value as `pg_settings.setting` shows it (or the files, when `masked`).
    pub value: String,
    /// `pg_settings.source`: default, configuration file, command line, environment variable…
    pub source: String,
    /// The file and line that set it (shown to superusers only).
    pub file: Option<(PathBuf, u32)>,
    /// Whether the auditor's session had an override, so the value was read from the files.
    pub masked: bool,
    /// Why the cluster-wide value is unknown: the auditor's session overrides it and the files
    /// could not be read (`pg_file_settings` needs a superuser or pg_read_all_settings).
    pub unknown: Option<String>,
}

impl Setting {
    /// Where the value comes from, for evidence: `postgresql.auto.conf:3` or `default`.
    pub fn origin(&self) -> String {
        match &self.file {
            Some((path, line)) => format!("{}:{line}", path.display()),
            None => self.source.clone(),
        }
    }
}

/// Whom an override applies to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Where {
    /// Every session of one role (`ALTER ROLE … SET`).
    Role(String),
    /// Every session in one database (`ALTER DATABASE … SET`).
    Database(String),
    /// One role's sessions in one database (`ALTER ROLE … IN DATABASE … SET`).
    RoleInDatabase {
        /// The role.
        role: String,
        /// The database.
        database: String,
    },
}

impl std::fmt::Display for Where {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Role(r) => write!(f, "role {r} (ALTER ROLE {r} SET)"),
            Self::Database(d) => write!(f, "database {d} (ALTER DATABASE {d} SET)"),
            Self::RoleInDatabase { role, database } => {
                write!(f, "role {role} in database {database} (ALTER ROLE {role} IN DATABASE {database} SET)")
            }
        }
    }
}

/// One `pg_db_role_setting` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// Whose sessions it applies to.
    pub at: Where,
    /// Lower case, as GUC names compare.
    pub name: String,
    /// The value it sets.
    pub value: String,
}

/// Every setting and every override.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    values: BTreeMap<String, Setting>,
    /// Every `pg_db_role_setting` entry, of any setting.
    pub overrides: Vec<Override>,
    /// The auditing role when it may not read every setting (neither superuser nor a member of
    /// pg_read_all_settings): `pg_settings` then leaves out the superuser-only ones.
    pub limited_reader: Option<String>,
    /// Settings the server has but refused to show that role (`current_setting` raised 42501).
    pub hidden: BTreeSet<String>,
    /// Settings the server said it does not have (`current_setting(name, true)` was NULL).
    pub absent: BTreeSet<String>,
}

impl Settings {
    /// Settings from name/value pairs, as if set in postgresql.conf (for tests and callers that
    /// know the values already).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let values = pairs
            .into_iter()
            .map(|(n, v)| {
                let s = Setting {
                    value: v.to_string(),
                    source: "configuration file".into(),
                    file: None,
                    masked: false,
                    unknown: None,
                };
                (n.to_ascii_lowercase(), s)
            })
            .collect();
        Self { values, ..Self::default() }
    }

    /// Add an override (tests, and the gatherer).
    pub fn with_override(mut self, at: Where, name: &str, value: &str) -> Self {
        self.overrides.push(Override { at, name: name.to_ascii_lowercase(), value: value.to_string() });
        self
    }

    /// The cluster-wide setting `name` (any case), or `None` when the server did not show it.
    pub fn get(&self, name: &str) -> Option<&Setting> {
        self.values.get(&name.to_ascii_lowercase())
    }

    /// Why `name` is not among the settings: absent from the server, or hidden from the role.
    pub fn missing(&self, name: &str) -> Missing {
        let key = name.to_ascii_lowercase();
        match &self.limited_reader {
            Some(role) if self.hidden.contains(&key) => {
                Missing::HiddenSetting { name: name.into(), role: role.clone() }
            }
            Some(role) if !self.absent.contains(&key) => {
                Missing::MaybeHiddenSetting { name: name.into(), role: role.clone() }
            }
            _ => Missing::NoSuchSetting(name.into()),
        }
    }

    /// The overrides of one setting.
    pub fn overrides_of<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Override> + 'a {
        let name = name.to_ascii_lowercase();
        self.overrides.iter().filter(move |o| o.name == name)
    }
}

/// Sources that come from `pg_db_role_setting`, not from the cluster. (`client` and `session`
/// are the auditor's own connection parameters, such as client_encoding.)
const OVERRIDE_SOURCES: &[&str] = &["database", "user", "database user"];

/// Read the settings through `sql`.
pub(super) fn gather(sql: &mut dyn Sql) -> Fact<Settings> {
    let rows = sql
        .query(
            "SELECT name, current_setting(name), source, sourcefile, sourceline, reset_val, boot_val \
             FROM pg_settings",
        )
        .map_err(|e| Missing::failed("pg_settings", e))?;
    let mut masked = Vec::new();
    let mut values = BTreeMap::new();
    for row in rows {
        let col = |i: usize| row.get(i).cloned().flatten();
        let Some(name) = col(0) else { continue };
        let source = col(2).unwrap_or_default();
        // Over the Unix socket the keepalive settings show the socket's 0; the configured value
        // is what every TCP session gets.
        let value = if name.starts_with("tcp_keepalives_") { col(5) } else { col(1) }.unwrap_or_default();
        let file = match (col(3), col(4).and_then(|l| l.parse().ok())) {
            (Some(f), Some(l)) => Some((PathBuf::from(f), l)),
            _ => None,
        };
        if OVERRIDE_SOURCES.contains(&source.as_str()) {
            masked.push((name.clone(), col(6).unwrap_or_default()));
        }
        values
            .insert(name.to_ascii_lowercase(), Setting { value, source, file, masked: false, unknown: None });
    }
    if !masked.is_empty()
        && let Err(why) = unmask(sql, &mut values, &masked)
    {
        for (name, _) in &masked {
            if let Some(s) = values.get_mut(&name.to_ascii_lowercase()) {
                s.unknown = Some(format!(
                    "the auditor's own session overrides {name} ({}), and the cluster-wide value could not be read: {why}",
                    s.source
                ));
            }
        }
    }
    let overrides = overrides(sql)?;
    let mut settings = Settings { values, overrides, ..Settings::default() };
    settings.limited_reader = limited_reader(sql);
    if settings.limited_reader.is_some() {
        for name in AUDITED {
            if settings.get(name).is_some() {
                continue;
            }
            match sql
                .query(&format!("SELECT current_setting({}, true)", pgharden_cluster::sql::literal(name)))
            {
                Ok(rows) if rows.first().and_then(|r| r.first()).is_some_and(Option::is_none) => {
                    settings.absent.insert(name.to_string());
                }
                Err(e) if is_insufficient_privilege(&e.to_string()) => {
                    settings.hidden.insert(name.to_string());
                }
                // A value pg_settings did not list, or another error: leave it undecided.
                _ => {}
            }
        }
    }
    Ok(settings)
}

/// The settings the checks judge or the gatherer reads. A role without pg_read_all_settings is
/// not shown the superuser-only ones in `pg_settings`; each of these it does not see is asked for
/// by name, so the evidence can say "absent" or "not readable by this role".
const AUDITED: &[&str] = &[
    "ssl",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "ssl_ciphers",
    "ssl_ecdh_curve",
    "ssl_cert_file",
    "ssl_key_file",
    "ssl_ca_file",
    "ssl_crl_file",
    "ssl_crl_dir",
    "ssl_passphrase_command",
    "ssl_passphrase_command_supports_reload",
    "hba_file",
    "ident_file",
    "config_file",
    "data_directory",
    "listen_addresses",
    "port",
    "password_encryption",
    "client_min_messages",
    "log_connections",
    "log_disconnections",
    "log_line_prefix",
    "log_destination",
    "log_timezone",
    "log_min_messages",
    "log_min_error_statement",
    "log_directory",
    "log_filename",
    "log_file_mode",
    "logging_collector",
    "syslog_facility",
    "shared_preload_libraries",
    "pgaudit.log",
    "pgaudit.log_level",
    "pgaudit.log_client",
    "pgaudit.log_catalog",
    "pgaudit.log_parameter",
    "pgaudit.role",
    "statement_timeout",
    "tcp_keepalives_idle",
    "tcp_keepalives_interval",
    "tcp_keepalives_count",
    "max_connections",
    "oauth_validator_libraries",
    "server_version_num",
];

/// The auditing role when it is neither a superuser nor a member of pg_read_all_settings.
fn limited_reader(sql: &mut dyn Sql) -> Option<String> {
    let rows = sql
        .query(
            "SELECT current_user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) \
             OR pg_has_role(current_user, 'pg_read_all_settings', 'USAGE')",
        )
        .ok()?;
    let row = rows.into_iter().next()?;
    let user = row.first().cloned().flatten()?;
    (row.get(1).cloned().flatten().as_deref() == Some("f")).then_some(user)
}

/// SQLSTATE 42501, as the server words it for settings ("must be superuser or have privileges of
/// pg_read_all_settings to examine …"; older majors say "must be superuser or a member of").
fn is_insufficient_privilege(error: &str) -> bool {
    error.contains("42501") || error.contains("pg_read_all_settings") || error.contains("must be superuser")
}

/// Replace values the auditor's session overrides with what the configuration files set (the last
/// applied line, as the server reads them), or else the built-in default.
fn unmask(
    sql: &mut dyn Sql,
    values: &mut BTreeMap<String, Setting>,
    masked: &[(String, String)],
) -> Fact<()> {
    let rows = sql
        .query(
            "SELECT name, setting, sourcefile, sourceline FROM pg_file_settings \
             WHERE applied AND error IS NULL ORDER BY seqno",
        )
        .map_err(|e| Missing::failed("pg_file_settings (the auditor's session has overrides)", e))?;
    for (name, boot) in masked {
        let from_file = rows.iter().rev().find(|r| r.first().cloned().flatten().as_deref() == Some(name));
        let setting = match from_file {
            Some(r) => Setting {
                value: r.get(1).cloned().flatten().unwrap_or_default(),
                source: "configuration file".into(),
                file: match (
                    r.get(2).cloned().flatten(),
                    r.get(3).cloned().flatten().and_then(|l| l.parse().ok()),
                ) {
                    (Some(f), Some(l)) => Some((PathBuf::from(f), l)),
                    _ => None,
                },
                masked: true,
                unknown: None,
            },
            None => Setting {
                value: boot.clone(),
                source: "default".into(),
                file: None,
                masked: true,
                unknown: None,
            },
        };
        values.insert(name.to_ascii_lowercase(), setting);
    }
    Ok(())
}

fn overrides(sql: &mut dyn Sql) -> Fact<Vec<Override>> {
    let rows = sql
        .query(
            "SELECT r.rolname, d.datname, c FROM pg_db_role_setting s \
             LEFT JOIN pg_roles r ON r.oid = s.setrole \
             LEFT JOIN pg_database d ON d.oid = s.setdatabase \
             CROSS JOIN LATERAL unnest(s.setconfig) AS c",
        )
        .map_err(|e| Missing::failed("pg_db_role_setting", e))?;
    let mut out = Vec::new();
    for row in rows {
        let col = |i: usize| row.get(i).cloned().flatten();
        let Some((name, value)) =
            col(2).and_then(|c| c.split_once('=').map(|(n, v)| (n.to_string(), v.to_string())))
        else {
            continue;
        };
        let at = match (col(0), col(1)) {
            (Some(role), Some(database)) => Where::RoleInDatabase { role, database },
            (Some(role), None) => Where::Role(role),
            (None, Some(database)) => Where::Database(database),
            (None, None) => continue,
        };
        out.push(Override { at, name: name.to_ascii_lowercase(), value });
    }
    Ok(out)
}
