//! `pgharden hba explain`: which pg_hba.conf line a described connection meets, why each earlier
//! line did not, which later lines it never reaches, and which lines no connection can reach.
//!
//! Owns: opening the cluster as apply and audit do (as its owner; a running server names its
//! pg_hba.conf), asking a running server for role membership as hba.c counts it, and putting the
//! conf crate's evaluation ([`pgharden_conf::hba::evaluate_as`], `matching_as`, `unreachable_as`)
//! into words and JSON. Must not: evaluate rules itself (the conf crate does), connect to the
//! server as the described client, or change anything.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use pgharden_cluster::db::Db;
use pgharden_cluster::discover::{self, Cluster};
use pgharden_cluster::{Account, Files, Sql};
use pgharden_conf::hba::{
    self, ConnType, Connection, ConnectionKind, Evaluation, HbaSet, Method, NoMatchReason, Outcome, Rule,
    RuleRef,
};
use pgharden_conf::{Item, Severity};
use serde::Serialize;

use crate::cli::{HbaCommand, HbaExplainArgs};
use crate::output::{self, Outcome as Exit, shown};

mod text;

pub(crate) fn run(cmd: HbaCommand) -> anyhow::Result<Exit> {
    match cmd {
        HbaCommand::Explain(args) => explain(&args),
    }
}

/// The described connection, owned (the conf crate's [`Connection`] borrows from it).
#[derive(Debug, Clone, Serialize)]
struct Described {
    /// `local` (Unix socket) or `host` (TCP).
    kind: &'static str,
    address: Option<IpAddr>,
    database: String,
    user: String,
    ssl: bool,
    gss_encrypted: bool,
    client_cert: bool,
    replication: bool,
}

/// What was learnt about role membership, and from where.
#[derive(Debug, Serialize)]
struct Membership {
    /// `server` (asked the running server) or `unknown`.
    source: &'static str,
    /// Why it is unknown (server stopped, refused, query failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    why_unknown: Option<String>,
    /// Whether the role exists on the server (None when the server was not asked).
    role_exists: Option<bool>,
    /// The roles the rules ask about (`+group` names, the database name for `samerole`).
    asked: Vec<String>,
    /// Those of them the user is a member of (itself included), as pg_hba.conf counts membership.
    member_of: Vec<String>,
}

/// One line of the file and what it did with the connection.
#[derive(Debug, Serialize)]
struct LineView {
    file: PathBuf,
    line: usize,
    last_line: usize,
    /// The rule, rendered from its fields.
    text: String,
    /// `no_match`, `undecidable`, `matches`, `not_tried`.
    verdict: &'static str,
    /// Why, in words.
    reason: String,
    /// For a `not_tried` line: it would match this connection too, were it reached.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    would_also_match: bool,
}

/// A line no connection can reach.
#[derive(Debug, Serialize)]
struct ShadowView {
    file: PathBuf,
    line: usize,
    text: String,
    /// The earlier lines that take every connection it would: one for a shadowed line, several
    /// when each takes one kind (TLS, GSSAPI, plaintext) of its connections.
    by: Vec<ByView>,
}

#[derive(Debug, Serialize)]
struct ByView {
    file: PathBuf,
    line: usize,
    text: String,
}

#[derive(Debug, Serialize)]
struct ProblemView {
    file: PathBuf,
    line: usize,
    severity: &'static str,
    message: String,
}

/// The whole explanation, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Explanation {
    format: u32,
    hba_file: PathBuf,
    major: u32,
    includes_followed: bool,
    server_running: bool,
    connection: Described,
    membership: Membership,
    /// `authenticate`, `reject`, `certificate_required`, `implicit_reject`, `undecidable`.
    outcome: &'static str,
    /// The method of the deciding line, for `authenticate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<String>,
    /// The line that decides (certainly, unless `outcome` is `undecidable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    matched: Option<LineRefView>,
    /// The outcome in one sentence.
    summary: String,
    /// What the server says to a refused client (its log and libpq's error), when it is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    server_message: Option<String>,
    lines: Vec<LineView>,
    shadowed: Vec<ShadowView>,
    problems: Vec<ProblemView>,
}

#[derive(Debug, Serialize)]
struct LineRefView {
    file: PathBuf,
    line: usize,
}

fn explain(args: &HbaExplainArgs) -> anyhow::Result<Exit> {
    let files = files_for(&args.pgdata)
        .with_context(|| format!("opening the files of {}", shown(args.pgdata.display())))?;
    let (cluster, mut db, not_asked) = open(&args.pgdata, &files)?;
    let major = cluster.major;
    let set = HbaSet::load_for(major, &cluster.hba_file, &files)
        .with_context(|| format!("reading {}", shown(cluster.hba_file.display())))?;
    let rules = set.rules();
    let user = args.user.clone().unwrap_or_else(|| cluster.owner.name.clone());
    let described = Described {
        kind: if args.address.is_some() { "host" } else { "local" },
        address: args.address,
        database: if args.replication {
            "replication".to_owned()
        } else {
            args.database.clone().unwrap_or_else(|| user.clone())
        },
        user,
        ssl: args.ssl || args.cert,
        gss_encrypted: args.gss,
        client_cert: args.cert,
        replication: args.replication,
    };
    let bare = connection(&described, None);
    let wanted = hba::membership_roles(&rules, &bare);
    let membership = match (&mut db, not_asked) {
        (Some(db), _) => ask_membership(db, &described.user, &wanted),
        (None, why) => Membership {
            source: "unknown",
            why_unknown: Some(why.unwrap_or_else(|| "the server is not running".to_owned())),
            role_exists: None,
            asked: wanted.clone(),
            member_of: Vec::new(),
        },
    };
    let known: BTreeSet<String> = membership.member_of.iter().cloned().collect();
    let is_member = |role: &str| known.contains(role);
    let groups: Option<&dyn Fn(&str) -> bool> =
        if membership.source == "server" { Some(&is_member) } else { None };
    let conn = connection(&described, groups);

    let evaluation = hba::evaluate_as(major, &rules, &conn);
    let also = hba::matching_as(major, &rules, &conn);
    let root = cluster.hba_file.clone();
    let lines = line_views(&rules, &evaluation, &also, &described);
    let shadowed = hba::unreachable_as(major, &rules)
        .into_iter()
        .map(|(line, by)| ShadowView {
            file: line.file.clone(),
            line: line.line,
            text: render_at(&rules, &line),
            by: by
                .iter()
                .map(|b| ByView { file: b.file.clone(), line: b.line, text: render_at(&rules, b) })
                .collect(),
        })
        .collect();
    let problems = set
        .validate(major)
        .into_iter()
        .map(|p| ProblemView {
            file: p.at.file.clone(),
            line: p.at.line,
            severity: match p.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
            message: p.message,
        })
        .collect();
    let (outcome, method) = match &evaluation.outcome {
        Outcome::Authenticate(m) => ("authenticate", Some(m.keyword().to_owned())),
        Outcome::Reject => ("reject", None),
        Outcome::CertificateRequired => ("certificate_required", None),
        Outcome::ImplicitReject => ("implicit_reject", None),
        Outcome::Undecidable => ("undecidable", None),
    };
    let explanation = Explanation {
        format: 1,
        hba_file: root.clone(),
        major,
        includes_followed: major >= 16,
        server_running: cluster.postmaster.is_some(),
        summary: summary(&evaluation, &root),
        server_message: server_message(&evaluation.outcome, &described),
        matched: evaluation.matched.as_ref().map(|m| LineRefView { file: m.file.clone(), line: m.line }),
        outcome,
        method,
        connection: described,
        membership,
        lines,
        shadowed,
        problems,
    };
    if args.json {
        output::json(&explanation)?;
    } else {
        output::print(&text::render(&explanation))?;
    }
    Ok(if matches!(evaluation.outcome, Outcome::Authenticate(_)) { Exit::Success } else { Exit::Found })
}

/// The files of the cluster, as its owner when that is possible (root, or the owner itself), else
/// as this process's own account, which sees what it may (and an unreadable pg_hba.conf is then an
/// error naming it). Root never reads the owner's files as root.
fn files_for(data_dir: &Path) -> pgharden_cluster::Result<Files> {
    let owner = Files::owner_of(data_dir)?;
    if Account::current().is_root() || owner.is_current() {
        Files::as_account(owner, data_dir)
    } else {
        Ok(Files::as_self())
    }
}

/// The cluster as apply opens it (a running server names its own pg_hba.conf). A server that runs
/// but refuses the owner (often the very pg_hba.conf being explained) leaves the files the data
/// directory names, and why the server could not be asked.
fn open(dir: &Path, files: &Files) -> anyhow::Result<(Cluster, Option<Db>, Option<String>)> {
    match pgharden_cluster::open_local(dir, files) {
        Ok(o) => Ok((o.cluster, o.db, None)),
        Err(e @ (pgharden_cluster::Error::Connect { .. } | pgharden_cluster::Error::Socket { .. })) => {
            let offline = discover::from_data_dir(dir, files)
                .with_context(|| format!("opening the cluster in {}", shown(dir.display())))?;
            let why = format!("the running server could not be asked ({e}); reading the files PGDATA names");
            Ok((offline, None, Some(why)))
        }
        Err(e) => Err(e).with_context(|| format!("opening the cluster in {}", shown(dir.display()))),
    }
}

/// The roles among `wanted` that `user` is a member of, as hba.c's `is_member` counts: the role
/// itself and every role reached through `pg_auth_members`, whatever the grants' INHERIT option.
/// `pg_has_role(…, 'MEMBER')` is not used because it is true for every role when the user is a
/// superuser, and hba.c ignores superuser status (`is_member_of_role_nosuper`).
fn ask_membership(db: &mut Db, user: &str, wanted: &[String]) -> Membership {
    let user_lit = pgharden_cluster::sql::literal(user);
    let exists = db.value(&format!("SELECT count(*) FROM pg_roles WHERE rolname = {user_lit}"));
    let query = format!(
        "WITH RECURSIVE m(oid) AS (SELECT oid FROM pg_roles WHERE rolname = {user_lit} \
         UNION SELECT a.roleid FROM pg_auth_members a JOIN m ON a.member = m.oid) \
         SELECT r.rolname FROM pg_roles r JOIN m ON r.oid = m.oid ORDER BY 1"
    );
    match (exists, db.query(&query)) {
        (Ok(count), Ok(rows)) => {
            let all: BTreeSet<String> =
                rows.into_iter().filter_map(|r| r.into_iter().next().flatten()).collect();
            Membership {
                source: "server",
                why_unknown: None,
                role_exists: Some(count.as_deref() != Some("0")),
                asked: wanted.to_vec(),
                member_of: wanted.iter().filter(|w| all.contains(*w)).cloned().collect(),
            }
        }
        (Err(e), _) | (_, Err(e)) => Membership {
            source: "unknown",
            why_unknown: Some(format!("asking the server for role membership failed: {e}")),
            role_exists: None,
            asked: wanted.to_vec(),
            member_of: Vec::new(),
        },
    }
}

fn connection<'a>(d: &'a Described, groups: Option<&'a dyn Fn(&str) -> bool>) -> Connection<'a> {
    Connection {
        kind: if d.address.is_some() { ConnectionKind::Tcp } else { ConnectionKind::Local },
        database: &d.database,
        user: &d.user,
        address: d.address,
        ssl: d.ssl,
        gss_encrypted: d.gss_encrypted,
        client_cert: d.client_cert,
        replication: d.replication,
        user_groups: groups,
    }
}

fn line_views(rules: &[Rule], ev: &Evaluation, also: &[RuleRef], d: &Described) -> Vec<LineView> {
    let mut reached = true;
    rules
        .iter()
        .map(|rule| {
            let (verdict, reason) = if !reached {
                if also.contains(&rule.at) {
                    let by = ev.matched.as_ref().map_or(0, |m| m.line);
                    ("not_tried", format!("would match too, but line {by} takes the connection first"))
                } else {
                    ("not_tried", "not tried: an earlier line decided".to_owned())
                }
            } else if ev.matched.as_ref() == Some(&rule.at) {
                reached = false;
                ("matches", matched_words(rule, d, !ev.undecidable.is_empty()))
            } else if let Some((_, why)) = ev.checked.iter().find(|(at, _)| *at == rule.at) {
                ("no_match", no_match_words(why, rule, d))
            } else if let Some((_, why)) = ev.undecidable.iter().find(|(at, _)| *at == rule.at) {
                ("undecidable", format!("may match: {why}"))
            } else {
                // The evaluation puts every rule before the match in `checked` or `undecidable`.
                ("undecidable", "not evaluated".to_owned())
            };
            LineView {
                file: rule.at.file.clone(),
                line: rule.at.line,
                last_line: rule.at.last_line,
                text: render_rule(rule),
                verdict,
                reason,
                would_also_match: verdict == "not_tried" && also.contains(&rule.at),
            }
        })
        .collect()
}

/// Why `rule` does not fit the connection, naming what each side has.
fn no_match_words(reason: &NoMatchReason, rule: &Rule, d: &Described) -> String {
    let kw = rule.conn_type.keyword();
    match reason {
        NoMatchReason::ConnectionType => match (rule.conn_type, d.address.is_some()) {
            (ConnType::Local, true) => {
                "a local line fits Unix-socket connections only; this one is TCP".into()
            }
            (_, false) => {
                format!("a {kw} line fits TCP connections only; this one comes through the Unix socket")
            }
            (ConnType::HostSsl, _) if d.gss_encrypted => {
                "hostssl fits TLS connections only; this one uses GSSAPI encryption".into()
            }
            (ConnType::HostSsl, _) => "hostssl fits TLS connections only; this one is not encrypted".into(),
            (ConnType::HostNoSsl, _) => {
                "hostnossl fits connections without TLS only; this one uses TLS".into()
            }
            (ConnType::HostGssEnc, _) => {
                "hostgssenc fits GSSAPI-encrypted connections only; this one is not GSSAPI-encrypted".into()
            }
            (ConnType::HostNoGssEnc, _) => {
                "hostnogssenc fits connections without GSSAPI encryption only; this one uses it".into()
            }
            (ConnType::Host, _) => format!("the connection type does not fit {kw}"),
        },
        NoMatchReason::Address => {
            let client = d.address.map_or_else(|| "the client".to_owned(), |a| a.to_string());
            let range = rule.address.as_ref().map_or_else(String::new, shown);
            format!("{client} is not in {range}")
        }
        NoMatchReason::Database if d.replication => format!(
            "a replication connection fits only the replication keyword, not {}",
            shown(list(&rule.databases))
        ),
        NoMatchReason::Database => {
            format!("database {} is not in {}", shown(&d.database), shown(list(&rule.databases)))
        }
        NoMatchReason::User => {
            let groups = rule.users.iter().any(|i| i.token().is_some_and(|t| t.member_check().is_some()));
            let note =
                if groups { " (nor a member of the +groups, as the server counts membership)" } else { "" };
            format!("user {} is not in {}{note}", shown(&d.user), shown(list(&rule.users)))
        }
    }
}

/// What the matching line does with the connection (as the conf crate's evaluation decides it).
fn matched_words(rule: &Rule, d: &Described, earlier_undecidable: bool) -> String {
    let unless = if earlier_undecidable { ", unless an undecidable line above does" } else { "" };
    let method = rule.effective_method();
    let words = if method == Method::Reject {
        "rejects the connection; no later line is tried".to_owned()
    } else if rule.requires_client_cert() && !d.client_cert {
        "needs a client certificate (cert, or clientcert=verify-ca|verify-full), which the connection \
         does not present: authentication fails; no later line is tried"
            .to_owned()
    } else {
        let note = match method {
            Method::Trust => ": no password, no certificate, anyone who fits the line gets in",
            Method::Cert => ": the client certificate (its CN, through map= if given) must name the role",
            Method::Md5 => ": weaker than scram-sha-256 (a stored MD5 hash is a password equivalent)",
            Method::Password => ": the password is sent in clear text (protected only by TLS, if any)",
            Method::Peer => ": the OS user of the connecting process must be the role (or map to it)",
            Method::ScramSha256 if rule.requires_client_cert() => {
                ": a SCRAM password and a client certificate"
            }
            _ => "",
        };
        format!("{} authentication{note}", method.keyword())
    };
    format!("MATCHES{unless}: {words}")
}

fn summary(ev: &Evaluation, root: &Path) -> String {
    let at = |r: &RuleRef| place(r, root);
    match (&ev.outcome, &ev.matched) {
        (Outcome::Authenticate(m), Some(r)) => {
            format!("{} decides: {} authentication", at(r), m.keyword())
        }
        (Outcome::Reject, Some(r)) => format!("refused by the reject line {}", at(r)),
        (Outcome::CertificateRequired, Some(r)) => {
            format!("refused: {} needs a client certificate the connection does not present", at(r))
        }
        (Outcome::ImplicitReject, _) => "refused: no line matches".to_owned(),
        (_, Some(r)) => format!(
            "cannot be decided here: {} matches unless one of the {} undecidable line(s) above it does",
            at(r),
            ev.undecidable.len()
        ),
        (_, None) => format!(
            "cannot be decided here: no line certainly matches, and {} line(s) are undecidable",
            ev.undecidable.len()
        ),
    }
}

/// What the server writes to its log and sends the client when pg_hba.conf refuses (auth.c's
/// `ClientAuthentication`), so the explanation can be matched with psql's error.
fn server_message(outcome: &Outcome, d: &Described) -> Option<String> {
    let host = d.address.map_or_else(|| "[local]".to_owned(), |a| a.to_string());
    let encryption = if d.ssl {
        "SSL encryption"
    } else if d.gss_encrypted {
        "GSS encryption"
    } else {
        "no encryption"
    };
    // auth.c words the two messages differently for a replication connection.
    let (rejects, entry) = if d.replication {
        let tail = format!("host \"{host}\", user \"{}\", {encryption}", d.user);
        (format!("replication connection for {tail}"), format!("replication connection from {tail}"))
    } else {
        let tail = format!("host \"{host}\", user \"{}\", database \"{}\", {encryption}", d.user, d.database);
        (format!("connection for {tail}"), tail)
    };
    match outcome {
        Outcome::Reject => Some(format!("pg_hba.conf rejects {rejects}")),
        Outcome::ImplicitReject => Some(format!("no pg_hba.conf entry for {entry}")),
        Outcome::CertificateRequired => Some("connection requires a valid client certificate".to_owned()),
        _ => None,
    }
}

/// `line N` in the root file, `FILE:N` in an included one.
fn place(r: &RuleRef, root: &Path) -> String {
    if r.file == root { format!("line {}", r.line) } else { shown(r) }
}

fn render_at(rules: &[Rule], at: &RuleRef) -> String {
    rules.iter().find(|r| r.at == *at).map(render_rule).unwrap_or_default()
}

/// A rule from its fields, in pg_hba.conf syntax (comments and spacing are not kept).
fn render_rule(rule: &Rule) -> String {
    let mut parts = vec![rule.conn_type.keyword().to_owned(), list(&rule.databases), list(&rule.users)];
    if let Some(a) = &rule.address {
        parts.push(a.to_string());
    }
    parts.push(rule.method.keyword().to_owned());
    parts.extend(rule.options.iter().map(|o| format!("{}={}", o.name, o.value)));
    parts.join(" ")
}

fn list(items: &[Item]) -> String {
    items.iter().map(Item::render).collect::<Vec<_>>().join(",")
}
