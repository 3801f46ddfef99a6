//! What an audit produces: findings against catalogue rules, and the report that carries them.
//!
//! Owns: the types every other module of the crate shares (rule references, statuses, findings,
//! the policy rules are judged under, the report and its versioned JSON schema). Must not: gather evidence or render.

use serde::{Deserialize, Serialize};

/// The JSON schema version of [`Report`]; bumped on incompatible change.
pub const REPORT_FORMAT: u32 = 1;

/// STIG severity (CAT I = high, CAT II = medium, CAT III = low).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// CAT III.
    Low,
    /// CAT II.
    Medium,
    /// CAT I.
    High,
}

/// The area a rule belongs to; the text report groups by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Area {
    /// TLS settings, certificates and what the server accepts on the wire.
    Tls,
    /// pg_hba.conf, pg_ident.conf and password storage.
    Authentication,
    /// The server log: what it records and who can read it.
    Logging,
    /// pgaudit.
    Audit,
    /// Encryption at rest and of data (pgcrypto).
    Encryption,
    /// Ownership and modes of the cluster's and the installation's files.
    Files,
    /// Roles, their attributes and grants.
    Privileges,
    /// The host the cluster runs on (FIPS mode, packages).
    Host,
    /// Everything else.
    Other,
}

/// Whether a rule is about the cluster or about the host it runs on (FIPS mode, packages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The cluster: its settings, files and server.
    Cluster,
    /// The host: judged once, whichever cluster is audited.
    Host,
}

/// The outcome of one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The evidence shows the requirement is met.
    Pass,
    /// The evidence shows it is not.
    Fail,
    /// The check could not be decided (no superuser, no file access, server down): never a pass.
    NotChecked,
    /// A person must judge; the finding says what to look at.
    Manual,
}

/// The same requirement in the three STIG families (PGS9 / CD12 / CD16 ids, e.g. `PGS9-00-011600`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StigIds {
    /// The SRG requirement (`SRG-APP-…`).
    pub srg: String,
    /// The PostgreSQL 9.x STIG id; `None` when that family has no rule for it.
    pub pgs9: Option<String>,
    /// The Crunchy Data PostgreSQL STIG id; `None` when that family has no rule for it.
    pub cd12: Option<String>,
    /// The Crunchy Data Postgres 16 STIG id; `None` when that family has no rule for it.
    pub cd16: Option<String>,
}

/// One rule's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// pgharden's rule id (stable).
    pub rule: String,
    /// The rule's short statement.
    pub title: String,
    /// The rule's area.
    pub area: Area,
    /// Whether the rule is about the cluster or the host.
    pub scope: Scope,
    /// The rule's severity.
    pub severity: Severity,
    /// The rule's ids in the STIG families.
    pub stig: StigIds,
    /// The verdict.
    pub status: Status,
    /// What was looked at and what it said (file:line, setting values, server answers).
    pub evidence: Vec<String>,
    /// What `pgharden apply` would change, or the SQL/command to run, when the rule fails.
    pub fix: Option<String>,
}

/// A whole audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// [`REPORT_FORMAT`] of the producer.
    pub format: u32,
    /// The producing tool's name (`pgharden`).
    pub tool: String,
    /// The producing tool's version.
    pub version: String,
    /// RFC 3339 UTC.
    pub generated_at: String,
    /// What was audited: data directory, host:port, server version.
    pub target: Audited,
    /// One finding per rule in scope, in catalogue order.
    pub findings: Vec<Finding>,
    /// Why whole groups of evidence could not be gathered, each said once (the findings that
    /// depend on it point here instead of repeating it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// What the organization approved and the warning window the rules were judged with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
}

/// The audited cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audited {
    /// The data directory; `None` when it was neither given nor found.
    pub data_dir: Option<String>,
    /// The host the network probe used; `None` when there was nothing to probe.
    pub host: Option<String>,
    /// The port the network probe used; `None` with `host`.
    pub port: Option<u16>,
    /// The server's version (`15.4`), or the data directory's major version when the server
    /// could not be asked; `None` when neither was found.
    pub server_version: Option<String>,
    /// The machine's host name (`/proc/sys/kernel/hostname`); `None` when it could not be read.
    pub host_name: Option<String>,
}

/// What the organization has approved, which the STIG texts leave to it ("unless documented and
/// approved"), and how far ahead an expiry counts as a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// A certificate or CRL that expires (or is due) within this many days fails, with the date.
    pub warn_days: u32,
    /// Superusers besides the bootstrap superuser that the ISSM approved (`--approved-superuser`).
    pub approved_superusers: Vec<String>,
    /// pg_ident.conf mappings approved although they let a certificate become another role than
    /// its CN: `(MAP, ROLE)`, every line of map MAP whose PG-USERNAME is ROLE (`--approved-mapping`).
    pub approved_mappings: Vec<(String, String)>,
    /// Non-superuser roles approved to hold CREATEROLE, CREATEDB or BYPASSRLS (`--approved-admin`).
    pub approved_admins: Vec<String>,
    /// Untrusted procedural languages the AO authorized (`--approved-language`).
    pub approved_languages: Vec<String>,
    /// Extensions approved besides those the profile installs (`--approved-extension`).
    #[serde(default)]
    pub approved_extensions: Vec<String>,
}

/// Days before an expiry that an audit reports it, unless told otherwise.
pub const DEFAULT_WARN_DAYS: u32 = 7;

impl Default for Policy {
    fn default() -> Self {
        Self {
            warn_days: DEFAULT_WARN_DAYS,
            approved_superusers: Vec::new(),
            approved_mappings: Vec::new(),
            approved_admins: Vec::new(),
            approved_languages: Vec::new(),
            approved_extensions: Vec::new(),
        }
    }
}
