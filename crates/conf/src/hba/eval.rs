//! Which pg_hba.conf rule a connection meets (`check_hba` in hba.c), and which rules can never be
//! met because an earlier rule takes every connection they would (`shadowed`).
//!
//! check_hba walks the rules in order and takes the first whose connection type, address,
//! database and user all match; the method of that rule then decides, and a failure there (a
//! `cert` rule without a client certificate, a `reject` rule) does not fall through to later
//! rules. No matching rule is an implicit reject.

use std::fmt;
use std::net::IpAddr;

use super::{ConnType, Method, Rule, RuleRef};
use crate::error::excerpt;
use crate::tokens::{Item, Token};
use crate::{NEWEST_MAJOR, pg_regex};

/// How the client reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionKind {
    /// Unix-domain socket.
    Local,
    /// TCP/IP.
    Tcp,
}

/// A connection attempt to evaluate.
#[derive(Clone, Copy)]
pub struct Connection<'a> {
    /// Unix socket or TCP.
    pub kind: ConnectionKind,
    /// The database asked for.
    pub database: &'a str,
    /// The role asked for.
    pub user: &'a str,
    /// The client address (TCP only); None makes address checks undecidable.
    pub address: Option<IpAddr>,
    /// Whether the session uses TLS (`hostssl` lines need it, `hostnossl` lines refuse it).
    pub ssl: bool,
    /// Whether the session uses GSSAPI encryption (for `hostgssenc` / `hostnogssenc`).
    pub gss_encrypted: bool,
    /// Whether the client presents a certificate the server's CA accepts.
    pub client_cert: bool,
    /// A physical-replication connection (`replication=true`), which only the `replication`
    /// keyword matches in the database field.
    pub replication: bool,
    /// Whether `user` is a member (directly or indirectly, superuser status aside) of the named
    /// role; None makes `+group`, `samerole` and `samegroup` undecidable.
    pub user_groups: Option<&'a dyn Fn(&str) -> bool>,
}

impl<'a> Connection<'a> {
    /// A Unix-socket connection.
    pub fn local(database: &'a str, user: &'a str) -> Self {
        Self {
            kind: ConnectionKind::Local,
            database,
            user,
            address: None,
            ssl: false,
            gss_encrypted: false,
            client_cert: false,
            replication: false,
            user_groups: None,
        }
    }

    /// A plaintext TCP connection from `address`.
    pub fn tcp(database: &'a str, user: &'a str, address: IpAddr) -> Self {
        Self { kind: ConnectionKind::Tcp, address: Some(address), ..Self::local(database, user) }
    }

    /// The same connection over TLS, with or without a client certificate.
    pub fn with_ssl(self, client_cert: bool) -> Self {
        Self { ssl: true, client_cert, ..self }
    }
}

impl fmt::Debug for Connection<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("kind", &self.kind)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("address", &self.address)
            .field("ssl", &self.ssl)
            .field("gss_encrypted", &self.gss_encrypted)
            .field("client_cert", &self.client_cert)
            .field("replication", &self.replication)
            .field("user_groups", &self.user_groups.map(|_| ".."))
            .finish()
    }
}

/// Why a rule did not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoMatchReason {
    /// The connection type field does not fit (local/host, TLS, GSSAPI encryption).
    ConnectionType,
    /// The client address is not in the rule's address range.
    Address,
    /// The database is not in the rule's database field.
    Database,
    /// The user is not in the rule's user field.
    User,
}

impl fmt::Display for NoMatchReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ConnectionType => "connection type (local/host, SSL, GSS encryption) differs",
            Self::Address => "client address not in the rule's address range",
            Self::Database => "database not in the rule's list",
            Self::User => "user not in the rule's list",
        })
    }
}

/// Why a rule's match cannot be decided without the running system. The texts are kept whole;
/// `Display` quotes them cut as the crate's errors do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undecidable {
    /// Needs reverse and forward DNS.
    Hostname(String),
    /// Needs the server's interface addresses.
    SameHost,
    /// Needs the server's interface networks.
    SameNet,
    /// The connection has no address.
    UnknownAddress,
    /// Needs role membership (no `user_groups` given).
    Membership(String),
    /// A regular expression pgharden cannot run faithfully.
    Regex(String),
    /// An `@file` list that was not read (parse from text instead of `HbaSet::load`).
    UnreadFile(String),
}

impl fmt::Display for Undecidable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hostname(h) => write!(f, "host name {} needs DNS", excerpt(h)),
            Self::SameHost => f.write_str("samehost needs the server's interface addresses"),
            Self::SameNet => f.write_str("samenet needs the server's interface networks"),
            Self::UnknownAddress => f.write_str("the client address is unknown"),
            Self::Membership(r) => write!(f, "membership in role {} is unknown", excerpt(r)),
            Self::Regex(e) => f.write_str(&excerpt(e)),
            Self::UnreadFile(t) => write!(f, "@{} was not read", excerpt(t)),
        }
    }
}

/// What happens to the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The matched rule's method authenticates the client.
    Authenticate(Method),
    /// A `reject` rule matched.
    Reject,
    /// The matched rule demands a client certificate the connection lacks: authentication fails
    /// ("connection requires a valid client certificate"); later rules are not tried.
    CertificateRequired,
    /// No rule matched ("no pg_hba.conf entry for host ...").
    ImplicitReject,
    /// A rule before any certain match could not be decided (see `Evaluation::undecidable`).
    Undecidable,
}

/// The result of `evaluate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// What happens to the connection (`Undecidable` when an undecidable rule comes first).
    pub outcome: Outcome,
    /// The first rule that certainly matches. It is the rule the server uses only if
    /// `undecidable` is empty (otherwise one of those may match first).
    pub matched: Option<RuleRef>,
    /// The outcome in one sentence, naming the rule (`FILE:LINE matches: scram-sha-256 authentication`).
    pub why: String,
    /// Whether `matched` is a `reject` rule (true even when `outcome` is `Undecidable`).
    pub rejected_by_reject_rule: bool,
    /// The rules before `matched` that certainly do not match, and why.
    pub checked: Vec<(RuleRef, NoMatchReason)>,
    /// The rules before `matched` whose match cannot be decided here.
    pub undecidable: Vec<(RuleRef, Undecidable)>,
}

impl Evaluation {
    /// True if the outcome does not depend on DNS, interfaces or role membership.
    pub fn is_certain(&self) -> bool {
        self.undecidable.is_empty()
    }
}

/// Three-valued match of one part of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tri {
    Yes,
    No,
    Unknown(Undecidable),
}

impl Tri {
    /// Any certain yes wins; otherwise any unknown; otherwise no.
    fn any(results: impl IntoIterator<Item = Self>) -> Self {
        let mut unknown = None;
        for r in results {
            match r {
                Self::Yes => return Self::Yes,
                Self::Unknown(u) => unknown = unknown.or(Some(u)),
                Self::No => {}
            }
        }
        unknown.map_or(Self::No, Tri::Unknown)
    }
}

/// Evaluates with the rules of the newest PostgreSQL version (regular expressions in the
/// database and user fields, 16+).
pub fn evaluate(rules: &[Rule], conn: &Connection<'_>) -> Evaluation {
    evaluate_as(NEWEST_MAJOR, rules, conn)
}

/// Evaluates as PostgreSQL `major` would: before 16, `/name` is a literal name, not a regex.
pub fn evaluate_as(major: u32, rules: &[Rule], conn: &Connection<'_>) -> Evaluation {
    let mut checked = Vec::new();
    let mut undecidable = Vec::new();
    for rule in rules {
        match rule_matches(major, rule, conn) {
            Err(reason) => checked.push((rule.at.clone(), reason)),
            Ok(Tri::Unknown(u)) => undecidable.push((rule.at.clone(), u)),
            Ok(_) => return matched(rule, conn, checked, undecidable),
        }
    }
    let (outcome, why) = if undecidable.is_empty() {
        (Outcome::ImplicitReject, "no rule matches: implicit reject".to_owned())
    } else {
        (
            Outcome::Undecidable,
            format!("no rule certainly matches; {} rule(s) undecidable", undecidable.len()),
        )
    };
    Evaluation { outcome, matched: None, why, rejected_by_reject_rule: false, checked, undecidable }
}

/// Every rule that, taken alone, certainly matches `conn` (connection type, address, database and
/// user), in server order, as PostgreSQL `major` reads them. The server uses only the first (if no
/// earlier rule is undecidable, see [`evaluate_as`]); the others are lines this connection never
/// reaches, the usual reason a `hostssl` line "does nothing" behind a `host` line.
pub fn matching_as(major: u32, rules: &[Rule], conn: &Connection<'_>) -> Vec<RuleRef> {
    rules.iter().filter(|r| rule_matches(major, r, conn) == Ok(Tri::Yes)).map(|r| r.at.clone()).collect()
}

/// The roles whose membership evaluating `conn` against `rules` may ask about: every `+group` of a
/// user field and, for `samerole`/`samegroup` in a database field, the database name (each once,
/// in order of first use). A caller with a server looks these up and answers
/// [`Connection::user_groups`] from the result.
pub fn membership_roles(rules: &[Rule], conn: &Connection<'_>) -> Vec<String> {
    let tokens = |items: &[Item]| -> Vec<Token> {
        items
            .iter()
            .flat_map(|i| match i {
                Item::Token(t) => vec![t.clone()],
                Item::File { tokens, .. } => tokens.clone().unwrap_or_default(),
            })
            .collect()
    };
    let mut out: Vec<String> = Vec::new();
    for rule in rules {
        let from_users = tokens(&rule.users).into_iter().filter_map(|t| t.member_check().map(str::to_owned));
        let same =
            tokens(&rule.databases).iter().any(|t| t.is_keyword("samerole") || t.is_keyword("samegroup"));
        let from_db = same.then(|| conn.database.to_owned());
        for role in from_users.chain(from_db) {
            if !out.contains(&role) {
                out.push(role);
            }
        }
    }
    out
}

fn matched(
    rule: &Rule,
    conn: &Connection<'_>,
    checked: Vec<(RuleRef, NoMatchReason)>,
    undecidable: Vec<(RuleRef, Undecidable)>,
) -> Evaluation {
    let method = rule.effective_method();
    let (outcome, mut why) = if method == Method::Reject {
        (Outcome::Reject, format!("{} matches and rejects the connection", rule.at))
    } else if rule.requires_client_cert() && !conn.client_cert {
        (
            Outcome::CertificateRequired,
            format!("{} matches and requires a client certificate, which the connection lacks", rule.at),
        )
    } else {
        let shown = excerpt(method.keyword());
        (Outcome::Authenticate(method.clone()), format!("{} matches: {shown} authentication", rule.at))
    };
    let rejected = outcome == Outcome::Reject;
    let outcome = if undecidable.is_empty() { outcome } else { Outcome::Undecidable };
    if let Some((first, reason)) = undecidable.first() {
        why = format!("{first} may match first ({reason}); otherwise {why}");
    }
    Evaluation {
        outcome,
        matched: Some(rule.at.clone()),
        why,
        rejected_by_reject_rule: rejected,
        checked,
        undecidable,
    }
}

/// check_hba's tests in its order: connection type, address, database, user. A certain "no"
/// anywhere settles it; otherwise the first unknown.
fn rule_matches(major: u32, rule: &Rule, conn: &Connection<'_>) -> Result<Tri, NoMatchReason> {
    if !conn_type_matches(rule.conn_type, conn) {
        return Err(NoMatchReason::ConnectionType);
    }
    let parts = [
        (address_matches(rule, conn), NoMatchReason::Address),
        (database_matches(major, &rule.databases, conn), NoMatchReason::Database),
        (
            Tri::any(rule.users.iter().map(|i| item_matches(i, &|t| user_token(major, t, conn)))),
            NoMatchReason::User,
        ),
    ];
    let mut first_unknown = None;
    for (tri, reason) in parts {
        match tri {
            Tri::No => return Err(reason),
            Tri::Unknown(u) => first_unknown = first_unknown.or(Some(u)),
            Tri::Yes => {}
        }
    }
    Ok(first_unknown.map_or(Tri::Yes, Tri::Unknown))
}

fn conn_type_matches(rule: ConnType, conn: &Connection<'_>) -> bool {
    match (rule, conn.kind) {
        (ConnType::Local, kind) => kind == ConnectionKind::Local,
        (_, ConnectionKind::Local) => false,
        (ConnType::Host, _) => true,
        (ConnType::HostSsl, _) => conn.ssl,
        (ConnType::HostNoSsl, _) => !conn.ssl,
        (ConnType::HostGssEnc, _) => conn.gss_encrypted,
        (ConnType::HostNoGssEnc, _) => !conn.gss_encrypted,
    }
}

fn address_matches(rule: &Rule, conn: &Connection<'_>) -> Tri {
    use super::Address;
    let Some(address) = &rule.address else { return Tri::Yes };
    match (address, conn.address) {
        (Address::All, _) => Tri::Yes,
        (Address::SameHost, _) => Tri::Unknown(Undecidable::SameHost),
        (Address::SameNet, _) => Tri::Unknown(Undecidable::SameNet),
        (Address::Hostname(h), _) => Tri::Unknown(Undecidable::Hostname(h.clone())),
        (Address::Net { .. }, None) => Tri::Unknown(Undecidable::UnknownAddress),
        (net, Some(client)) => {
            if net.contains(client) == Some(true) {
                Tri::Yes
            } else {
                Tri::No
            }
        }
    }
}

fn item_matches(item: &Item, token_matches: &dyn Fn(&Token) -> Tri) -> Tri {
    match item {
        Item::Token(t) => token_matches(t),
        Item::File { tokens: Some(tokens), .. } => Tri::any(tokens.iter().map(token_matches)),
        Item::File { target, tokens: None } => Tri::Unknown(Undecidable::UnreadFile(target.clone())),
    }
}

fn database_matches(major: u32, databases: &[Item], conn: &Connection<'_>) -> Tri {
    Tri::any(databases.iter().map(|i| item_matches(i, &|t| database_token(major, t, conn))))
}

/// `check_db` for one token.
fn database_token(major: u32, t: &Token, conn: &Connection<'_>) -> Tri {
    if conn.replication {
        // Physical replication connections match only the replication keyword.
        return bool_tri(t.is_keyword("replication"));
    }
    if t.is_keyword("all") {
        Tri::Yes
    } else if t.is_keyword("sameuser") {
        bool_tri(conn.database == conn.user)
    } else if t.is_keyword("samegroup") || t.is_keyword("samerole") {
        membership(conn, conn.database)
    } else if t.is_keyword("replication") {
        Tri::No
    } else {
        name_token(major, t, conn.database)
    }
}

/// `check_role` for one token.
fn user_token(major: u32, t: &Token, conn: &Connection<'_>) -> Tri {
    if let Some(group) = t.member_check() {
        membership(conn, group)
    } else if t.is_keyword("all") {
        Tri::Yes
    } else {
        name_token(major, t, conn.user)
    }
}

/// A regular expression (16+) or an exact, case-sensitive name.
fn name_token(major: u32, t: &Token, name: &str) -> Tri {
    match t.regex_pattern() {
        Some(pattern) if major >= 16 => match pg_regex::compile(pattern) {
            Ok(re) => bool_tri(re.is_match(name)),
            Err(e) => Tri::Unknown(Undecidable::Regex(e)),
        },
        _ => bool_tri(t.text == name),
    }
}

fn membership(conn: &Connection<'_>, role: &str) -> Tri {
    match conn.user_groups {
        Some(is_member) => bool_tri(is_member(role)),
        None => Tri::Unknown(Undecidable::Membership(role.to_owned())),
    }
}

fn bool_tri(b: bool) -> Tri {
    if b { Tri::Yes } else { Tri::No }
}

/// Rules that can never match because an earlier rule matches every connection they would
/// (newest-version semantics): (shadowed rule, the earlier rule that shadows it).
pub fn shadowed(rules: &[Rule]) -> Vec<(RuleRef, RuleRef)> {
    shadowed_as(NEWEST_MAJOR, rules)
}

/// `shadowed` as PostgreSQL `major` reads the rules. Conservative: a pair is reported only when
/// the earlier rule certainly covers the later one (host names, regexes and `@file`s that cannot
/// be compared count as not covering).
pub fn shadowed_as(major: u32, rules: &[Rule]) -> Vec<(RuleRef, RuleRef)> {
    let mut out = Vec::new();
    for (i, later) in rules.iter().enumerate() {
        if let Some(earlier) = rules[..i].iter().find(|earlier| covers(major, earlier, later)) {
            out.push((later.at.clone(), earlier.at.clone()));
        }
    }
    out
}

/// Rules no connection can reach, as PostgreSQL `major` reads them: those [`shadowed_as`] finds
/// (one earlier rule takes every connection they would), and those that several earlier rules take
/// between them, each for one kind of connection: `hostssl X` and `hostnossl X` leave nothing for a
/// later `host X`. Each comes with the earlier rules that take its connections (one for a shadowed
/// rule), in file order. As conservative as `shadowed_as`.
pub fn unreachable_as(major: u32, rules: &[Rule]) -> Vec<(RuleRef, Vec<RuleRef>)> {
    let mut out = Vec::new();
    for (i, later) in rules.iter().enumerate() {
        let earlier = &rules[..i];
        if let Some(one) = earlier.iter().find(|a| covers(major, a, later)) {
            out.push((later.at.clone(), vec![one.at.clone()]));
            continue;
        }
        // Every kind of connection the later rule admits must be taken by some earlier rule that
        // also covers its address, databases and users.
        let mut by: Vec<RuleRef> = Vec::new();
        let all_taken = kinds(later.conn_type).iter().all(|kind| {
            let taker =
                earlier.iter().find(|a| kinds(a.conn_type).contains(kind) && fields_cover(major, a, later));
            taker.inspect(|a| by.push(a.at.clone())).is_some()
        });
        if all_taken {
            by.sort();
            by.dedup();
            out.push((later.at.clone(), by));
        }
    }
    out
}

/// The kinds of connection a connection type admits: a Unix socket, or TCP with TLS, with GSSAPI
/// encryption, or with neither (a session has at most one of the two).
fn kinds(t: ConnType) -> &'static [&'static str] {
    match t {
        ConnType::Local => &["local"],
        ConnType::Host => &["tls", "gss", "plain"],
        ConnType::HostSsl => &["tls"],
        ConnType::HostNoSsl => &["gss", "plain"],
        ConnType::HostGssEnc => &["gss"],
        ConnType::HostNoGssEnc => &["tls", "plain"],
    }
}

fn covers(major: u32, a: &Rule, b: &Rule) -> bool {
    conn_type_covers(a.conn_type, b.conn_type) && fields_cover(major, a, b)
}

/// `a`'s address, databases and users take every connection `b`'s would.
fn fields_cover(major: u32, a: &Rule, b: &Rule) -> bool {
    let address = match (&a.address, &b.address) {
        (Some(x), Some(y)) => x.covers(y),
        (None, None) => true,
        _ => false,
    };
    address
        && list_covers(major, &a.databases, &b.databases, true)
        && list_covers(major, &a.users, &b.users, false)
}

/// Every connection type `b` admits is admitted by `a`. SSL and GSS encryption exclude each other,
/// so `hostnogssenc` admits every `hostssl` connection and `hostnossl` every `hostgssenc` one.
fn conn_type_covers(a: ConnType, b: ConnType) -> bool {
    use ConnType::*;
    a == b
        || (a == Host && b != Local)
        || (a == HostNoGssEnc && b == HostSsl)
        || (a == HostNoSsl && b == HostGssEnc)
}

/// Every value a `b` token matches is matched by some `a` token.
fn list_covers(major: u32, a: &[Item], b: &[Item], database: bool) -> bool {
    let Some(a_tokens) = flatten(a) else { return false };
    let Some(b_tokens) = flatten(b) else { return false };
    b_tokens.iter().all(|t| a_tokens.iter().any(|s| token_covers(major, s, t, database)))
}

/// The tokens of a list, or None if an `@file` was not read.
fn flatten(items: &[Item]) -> Option<Vec<&Token>> {
    let mut out = Vec::new();
    for item in items {
        match item {
            Item::Token(t) => out.push(t),
            Item::File { tokens: Some(tokens), .. } => out.extend(tokens),
            Item::File { tokens: None, .. } => return None,
        }
    }
    Some(out)
}

/// The meaning of a token, so `"bob"` and `bob` compare equal.
#[derive(Debug, PartialEq, Eq)]
enum Meaning<'a> {
    Keyword(&'a str),
    Member(&'a str),
    Regex(&'a str),
    Name(&'a str),
}

fn meaning<'a>(major: u32, t: &'a Token, database: bool) -> Meaning<'a> {
    let keywords: &[&str] =
        if database { &["all", "sameuser", "samerole", "samegroup", "replication"] } else { &["all"] };
    if let Some(k) = keywords.iter().find(|k| t.is_keyword(k)) {
        return Meaning::Keyword(k);
    }
    if let (false, Some(group)) = (database, t.member_check()) {
        return Meaning::Member(group);
    }
    match t.regex_pattern() {
        Some(p) if major >= 16 => Meaning::Regex(p),
        _ => Meaning::Name(&t.text),
    }
}

fn token_covers(major: u32, a: &Token, b: &Token, database: bool) -> bool {
    let (ma, mb) = (meaning(major, a, database), meaning(major, b, database));
    match (&ma, &mb) {
        // `all` in the database field does not match physical replication connections, which
        // only the `replication` keyword matches.
        (Meaning::Keyword("all"), other) => !database || *other != Meaning::Keyword("replication"),
        (Meaning::Regex(p), Meaning::Name(n)) => pg_regex::compile(p).is_ok_and(|re| re.is_match(n)),
        _ => ma == mb,
    }
}
