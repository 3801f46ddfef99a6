//! `pg_hba.conf`: lossless parsing and editing (`HbaFile`), the include tree as the server reads it
//! (`HbaSet`), version-specific validation (`validate`, `validate_with`), rule evaluation
//! (`evaluate`, `matching_as`) and shadowed or unreachable rules (`shadowed`, `unreachable_as`).
//!
//! Owns the record grammar of hba.c (`parse_hba_line`), version-independently: the parse accepts
//! what PostgreSQL 18 accepts, and `validate(major)` reports what a given major version rejects
//! (`validate_with` also what depends on the server's settings, [`ServerSettings`]).
//! It must not resolve host names, enumerate network interfaces or look up roles: where the answer
//! depends on those, evaluation says "undecidable" instead of guessing.

mod address;
mod eval;
mod server;
mod set;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

pub use address::Address;
pub use eval::{
    Connection, ConnectionKind, Evaluation, NoMatchReason, Outcome, Undecidable, evaluate, evaluate_as,
    matching_as, membership_roles, shadowed, shadowed_as, unreachable_as,
};
pub use server::ServerSettings;
pub use set::HbaSet;

use crate::error::{Error, Location, Problem, excerpt, shown};
use crate::include::{Format, IncludeKind, Loader};
use crate::source::{Disk, Source};
use crate::text::{self, Line};
use crate::tokens::{self, Item, Token};

/// The marker `disable` appends to the lines it comments out.
pub const DISABLED_MARKER: &str = "# disabled by pgharden";

/// Where a record is: file, first line and (for backslash continuations) last line, 1-based.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleRef {
    /// The file the record is in.
    pub file: PathBuf,
    /// Its first line, 1-based.
    pub line: usize,
    /// Its last line: the same as `line` unless the record continues with backslashes.
    pub last_line: usize,
}

impl RuleRef {
    /// The record's first line, as a [`Location`] for messages.
    pub fn location(&self) -> Location {
        Location::new(&self.file, self.line)
    }
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.last_line > self.line {
            write!(f, "{}:{}-{}", shown(&self.file), self.line, self.last_line)
        } else {
            write!(f, "{}:{}", shown(&self.file), self.line)
        }
    }
}

/// The first field of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnType {
    /// `local`: Unix-domain sockets.
    Local,
    /// `host`: TCP, with or without TLS or GSSAPI encryption.
    Host,
    /// `hostssl`: TCP with TLS only.
    HostSsl,
    /// `hostnossl`: TCP without TLS only.
    HostNoSsl,
    /// `hostgssenc`: TCP with GSSAPI encryption only.
    HostGssEnc,
    /// `hostnogssenc`: TCP without GSSAPI encryption only.
    HostNoGssEnc,
}

impl ConnType {
    /// The keyword as pg_hba.conf spells it.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Host => "host",
            Self::HostSsl => "hostssl",
            Self::HostNoSsl => "hostnossl",
            Self::HostGssEnc => "hostgssenc",
            Self::HostNoGssEnc => "hostnogssenc",
        }
    }

    /// hba.c compares the connection type with `strcmp`, quoted or not.
    pub fn from_keyword(word: &str) -> Option<Self> {
        [Self::Local, Self::Host, Self::HostSsl, Self::HostNoSsl, Self::HostGssEnc, Self::HostNoGssEnc]
            .into_iter()
            .find(|t| t.keyword() == word)
    }
}

/// The authentication method field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// `trust`: anyone who matches the line gets in, without a credential.
    Trust,
    /// `reject`: the connection is refused; later lines are not consulted.
    Reject,
    /// `scram-sha-256`: a SCRAM password exchange.
    ScramSha256,
    /// `md5`: an MD5 challenge, or SCRAM when the role's password is stored as SCRAM.
    Md5,
    /// `password`: the password sent in clear text, protected only by TLS if the session has it.
    Password,
    /// `gss`: GSSAPI (Kerberos).
    Gss,
    /// `sspi`: Windows' SSPI.
    Sspi,
    /// `ident`: the client host's ident server (on a `local` line it means `peer`).
    Ident,
    /// `peer`: the OS user of the connecting process, from the kernel (`local` only).
    Peer,
    /// `ldap`: a password checked against an LDAP server.
    Ldap,
    /// `radius`: a password checked against a RADIUS server.
    Radius,
    /// `cert`: a trusted client certificate whose name maps to the role; no password.
    Cert,
    /// `pam`: a password checked by PAM.
    Pam,
    /// `bsd`: a password checked by BSD Authentication.
    Bsd,
    /// PostgreSQL 18+.
    OAuth,
    /// A word PostgreSQL does not know (the file is rejected; see `validate`).
    Unknown(String),
}

impl Method {
    const KNOWN: [Self; 15] = [
        Self::Trust,
        Self::Reject,
        Self::ScramSha256,
        Self::Md5,
        Self::Password,
        Self::Gss,
        Self::Sspi,
        Self::Ident,
        Self::Peer,
        Self::Ldap,
        Self::Radius,
        Self::Cert,
        Self::Pam,
        Self::Bsd,
        Self::OAuth,
    ];

    /// The keyword as pg_hba.conf spells it (an unknown word as written).
    pub fn keyword(&self) -> &str {
        match self {
            Self::Trust => "trust",
            Self::Reject => "reject",
            Self::ScramSha256 => "scram-sha-256",
            Self::Md5 => "md5",
            Self::Password => "password",
            Self::Gss => "gss",
            Self::Sspi => "sspi",
            Self::Ident => "ident",
            Self::Peer => "peer",
            Self::Ldap => "ldap",
            Self::Radius => "radius",
            Self::Cert => "cert",
            Self::Pam => "pam",
            Self::Bsd => "bsd",
            Self::OAuth => "oauth",
            Self::Unknown(word) => word,
        }
    }

    /// The method `word` names, compared exactly as hba.c does; [`Method::Unknown`] for any other word.
    pub fn from_keyword(word: &str) -> Self {
        Self::KNOWN
            .into_iter()
            .find(|m| m.keyword() == word)
            .unwrap_or_else(|| Self::Unknown(word.to_owned()))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// One `name=value` authentication option.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthOption {
    /// The option name (`clientcert`, `map`, …).
    pub name: String,
    /// Its value, as the tokenizer gives it (quotes removed).
    pub value: String,
}

/// A parsed pg_hba.conf rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Where the rule is.
    pub at: RuleRef,
    /// Which connections it is about.
    pub conn_type: ConnType,
    /// The database field: names, keywords (`all`, `sameuser`, …) and `@file` references (with their
    /// tokens once a loader has read the file).
    pub databases: Vec<Item>,
    /// The user field: roles, `+group` memberships, `all` and `@file` references.
    pub users: Vec<Item>,
    /// None for `local` rules.
    pub address: Option<Address>,
    /// The method as written (see [`Rule::effective_method`]).
    pub method: Method,
    /// The `name=value` options after the method, in order.
    pub options: Vec<AuthOption>,
}

impl Rule {
    /// The value of option `name` (the last one wins, as in hba.c).
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options.iter().rev().find(|o| o.name == name).map(|o| o.value.as_str())
    }

    /// The method the server uses: `ident` on a `local` line means `peer` (hba.c, for
    /// backwards compatibility).
    pub fn effective_method(&self) -> Method {
        match (&self.method, self.conn_type) {
            (Method::Ident, ConnType::Local) => Method::Peer,
            (m, _) => m.clone(),
        }
    }

    /// Whether a client certificate is demanded: the `cert` method, or `clientcert=verify-ca` /
    /// `verify-full` on a `hostssl` line.
    pub fn requires_client_cert(&self) -> bool {
        self.effective_method() == Method::Cert
            || matches!(self.option("clientcert"), Some("verify-ca" | "verify-full"))
    }
}

/// One non-blank, non-comment logical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A rule.
    Rule(Rule),
    /// PostgreSQL 16+ include directive.
    Include {
        /// Where the directive is.
        at: RuleRef,
        /// `include`, `include_if_exists` or `include_dir`.
        kind: IncludeKind,
        /// The file or directory it names, as written.
        target: String,
    },
    /// A line PostgreSQL rejects while parsing, with hba.c's message.
    Invalid {
        /// Where the line is.
        at: RuleRef,
        /// hba.c's message for it.
        message: String,
    },
}

impl Record {
    /// Where the record is, whatever it is.
    pub fn at(&self) -> &RuleRef {
        match self {
            Self::Rule(r) => &r.at,
            Self::Include { at, .. } | Self::Invalid { at, .. } => at,
        }
    }
}

/// A new rule to write. `render` lays it out in the columns of PostgreSQL's sample file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    /// The connection type.
    pub conn_type: ConnType,
    /// The database field, one token per comma-separated entry.
    pub databases: Vec<Token>,
    /// The user field, one token per entry.
    pub users: Vec<Token>,
    /// `10.0.0.0/8`, `all`, `samenet`, a host name, or `address mask`; None for `local`.
    pub address: Option<String>,
    /// The method.
    pub method: Method,
    /// Options after the method, written as `name=value` tokens (quoted where needed).
    pub options: Vec<AuthOption>,
}

impl RuleSpec {
    /// The line, without a line ending, in the sample file's columns; tokens are quoted where needed.
    pub fn render(&self) -> String {
        let list = |tokens: &[Token]| tokens.iter().map(Token::render).collect::<Vec<_>>().join(",");
        let address = self.address.as_deref().unwrap_or("");
        // The widest connection type (`hostnossl`) sets the first column, so every line aligns.
        let mut line = format!(
            "{:<9} {:<15} {:<15} {:<23} {}",
            self.conn_type.keyword(),
            list(&self.databases),
            list(&self.users),
            address,
            self.method.keyword()
        );
        for option in &self.options {
            let token = Token { text: format!("{}={}", option.name, option.value), quoted: false };
            line.push(' ');
            line.push_str(&token.render());
        }
        line
    }

    /// Whether `rule` says what this spec says (same type, databases, users, address, method and
    /// options, however it is laid out).
    pub fn matches(&self, rule: &Rule) -> bool {
        match parse_record(&self.render(), rule.at.clone()) {
            Some(Record::Rule(mine)) => &mine == rule,
            _ => false,
        }
    }

    /// Renders and parses the rule back, refusing specs that would not read back as themselves.
    fn checked_line(&self) -> Result<String, Error> {
        let line = self.render();
        let parsed = parse_record(&line, RuleRef { file: PathBuf::new(), line: 1, last_line: 1 });
        let ok = match &parsed {
            Some(Record::Rule(rule)) => {
                rule.conn_type == self.conn_type
                    && rule.method == self.method
                    && rule.options == self.options
                    && rule.address.is_some() == self.address.is_some()
                    && same_tokens(&rule.databases, &self.databases)
                    && same_tokens(&rule.users, &self.users)
            }
            _ => false,
        };
        if ok {
            Ok(line)
        } else {
            Err(Error::InvalidRecord(format!("{:?} does not parse back as the rule given", excerpt(&line))))
        }
    }
}

fn same_tokens(items: &[Item], tokens: &[Token]) -> bool {
    items.len() == tokens.len()
        && items
            .iter()
            .zip(tokens)
            .all(|(i, t)| i.token().is_some_and(|it| it.text == t.text && it.quoted == t.quoted))
}

/// Where `insert` puts a new rule.
#[non_exhaustive]
pub enum Position<'a> {
    /// Before the first record, after the file's leading comments and blank lines.
    Top,
    /// After the last line.
    End,
    /// Before this rule.
    Before(&'a RuleRef),
    /// Before the first rule the predicate accepts; `Error::NoRuleMatched` if none does.
    BeforeFirst(&'a dyn Fn(&Rule) -> bool),
}

impl fmt::Debug for Position<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Top => f.write_str("Top"),
            Position::End => f.write_str("End"),
            Position::Before(r) => write!(f, "Before({r})"),
            Position::BeforeFirst(_) => f.write_str("BeforeFirst(..)"),
        }
    }
}

/// One pg_hba.conf file, every byte kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HbaFile {
    path: PathBuf,
    lines: Vec<Line>,
    records: Vec<Record>,
}

impl HbaFile {
    /// Parses text read from `path`. Never fails: lines PostgreSQL would reject become
    /// `Record::Invalid` (and `validate` reports them).
    pub fn parse(text: &str, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let lines = text::split(text);
        let records = parse_records(&lines, &path);
        Self { path, lines, records }
    }

    /// `load_from` with this process's own credentials (`Disk`).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::load_from(path, &Disk)
    }

    /// Reads one file through `src` and parses it (its includes and `@file`s are not followed:
    /// see `HbaSet::load_from`). The file obeys the limits of a load: a FIFO, a device or a file
    /// over [`MAX_FILE_BYTES`](crate::MAX_FILE_BYTES), [`MAX_LOAD_LINES`](crate::MAX_LOAD_LINES)
    /// or [`MAX_LOAD_TOKENS`](crate::MAX_LOAD_TOKENS) is an error.
    pub fn load_from(path: impl AsRef<Path>, src: &dyn Source) -> Result<Self, Error> {
        let path = path.as_ref();
        Ok(Self::parse(&Loader::new(src, Format::Auth).read(path, None)?, path))
    }

    /// The path the file was loaded from (or named when parsed).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every record in file order: rules, include directives and lines PostgreSQL rejects.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The rules only, in file order (the order PostgreSQL tries them in).
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.records.iter().filter_map(|r| match r {
            Record::Rule(rule) => Some(rule),
            _ => None,
        })
    }

    /// Problems PostgreSQL `major` would have with this file alone (see `HbaSet::validate` for a
    /// file with includes), its settings unknown: a line whose fate depends on one gets a warning.
    pub fn validate(&self, major: u32) -> Vec<Problem> {
        self.validate_with(&ServerSettings::for_major(major))
    }

    /// Problems `server` would have with this file alone.
    pub fn validate_with(&self, server: &ServerSettings) -> Vec<Problem> {
        let records: Vec<&Record> = self.records.iter().collect();
        validate::validate(&records, server, &self.path)
    }

    /// Inserts a new rule; returns its 1-based line number.
    pub fn insert(&mut self, at: Position<'_>, rule: &RuleSpec) -> Result<usize, Error> {
        let line = rule.checked_line()?;
        let index = match at {
            Position::Top => self.records.first().map_or(self.lines.len(), |r| r.at().line - 1),
            Position::End => self.lines.len(),
            Position::Before(target) => self.record_index(target)?.line - 1,
            Position::BeforeFirst(pred) => {
                self.rules().find(|r| pred(r)).ok_or(Error::NoRuleMatched)?.at.line - 1
            }
        };
        if index == self.lines.len() {
            text::terminate_last(&mut self.lines);
        }
        let ending = text::dominant_ending(&self.lines);
        self.lines.insert(index, Line::new(line, ending));
        self.reparse();
        Ok(index + 1)
    }

    /// Comments a rule out: `# ` before each of its lines, `# disabled by pgharden` after the last.
    pub fn disable(&mut self, rule: &RuleRef) -> Result<(), Error> {
        let at = self.record_index(rule)?.clone();
        for line in &mut self.lines[at.line - 1..at.last_line] {
            line.text.insert_str(0, "# ");
        }
        let last = &mut self.lines[at.last_line - 1];
        last.text = format!("{} {DISABLED_MARKER}", last.text.trim_end_matches([' ', '\t']));
        self.reparse();
        Ok(())
    }

    /// Removes a record (all its continuation lines): for a line pgharden wrote itself and now
    /// writes again or replaces, so re-planning never piles up commented copies.
    pub fn remove(&mut self, rule: &RuleRef) -> Result<(), Error> {
        let at = self.record_index(rule)?.clone();
        self.lines.drain(at.line - 1..at.last_line);
        self.reparse();
        Ok(())
    }

    /// Replaces a rule (all its continuation lines) with a new single-line rule.
    pub fn replace(&mut self, rule: &RuleRef, new: &RuleSpec) -> Result<(), Error> {
        let line = new.checked_line()?;
        let at = self.record_index(rule)?.clone();
        let ending = self.lines[at.last_line - 1].ending;
        self.lines.splice(at.line - 1..at.last_line, [Line::new(line, ending)]);
        self.reparse();
        Ok(())
    }

    fn record_index(&self, target: &RuleRef) -> Result<&RuleRef, Error> {
        self.records
            .iter()
            .map(Record::at)
            .find(|at| {
                at.line == target.line && (target.file.as_os_str().is_empty() || at.file == target.file)
            })
            .ok_or_else(|| Error::NoSuchRecord(target.location()))
    }

    fn reparse(&mut self) {
        self.records = parse_records(&self.lines, &self.path);
    }
}

impl fmt::Display for HbaFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&text::join(&self.lines))
    }
}

fn parse_records(lines: &[Line], path: &Path) -> Vec<Record> {
    let mut records: Vec<Record> = tokens::logical_lines(lines)
        .filter_map(|l| {
            let at = RuleRef { file: path.to_path_buf(), line: l.first + 1, last_line: l.last + 1 };
            parse_record(&l.text, at)
        })
        .collect();
    records.shrink_to_fit();
    records
}

/// `parse_hba_line` without the version- and build-dependent checks (those are in `validate`).
fn parse_record(line: &str, at: RuleRef) -> Option<Record> {
    let fields = tokens::fields(line);
    if fields.is_empty() {
        return None;
    }
    if let Some((kind, target)) = include_directive(&fields) {
        return Some(Record::Include { at, kind, target });
    }
    Some(match parse_rule(fields, at.clone()) {
        Ok(rule) => Record::Rule(rule),
        Err(message) => Record::Invalid { at, message },
    })
}

/// `tokenize_auth_file`: a line of exactly two fields whose first token is `include`,
/// `include_if_exists` or `include_dir` (compared with `strcmp`, quoting ignored).
pub(crate) fn include_directive(fields: &[Vec<Item>]) -> Option<(IncludeKind, String)> {
    let [first, second] = fields else { return None };
    let kind = IncludeKind::from_exact(&first.first()?.token()?.text)?;
    let target = match second.first()? {
        Item::Token(t) => t.text.clone(),
        Item::File { target, .. } => format!("@{target}"),
    };
    Some((kind, target))
}

fn parse_rule(fields: Vec<Vec<Item>>, at: RuleRef) -> Result<Rule, String> {
    let mut fields = fields.into_iter();
    let conn_word = single(fields.next(), "connection type", "")?;
    let conn_type = ConnType::from_keyword(&conn_word)
        .ok_or_else(|| format!("invalid connection type \"{}\"", excerpt(&conn_word)))?;
    let databases = fields.next().ok_or("end-of-line before database specification")?;
    let users = fields.next().ok_or("end-of-line before role specification")?;
    let address = if conn_type == ConnType::Local { None } else { Some(address::parse(&mut fields)?) };
    let method =
        Method::from_keyword(&single(fields.next(), "authentication type", "authentication method")?);
    let mut options = Vec::new();
    for item in fields.flatten() {
        let text = plain(&item)?;
        let (name, value) = text
            .split_once('=')
            .ok_or_else(|| format!("authentication option not in name=value format: {}", excerpt(&text)))?;
        options.push(AuthOption { name: name.to_owned(), value: value.to_owned() });
    }
    Ok(Rule { at, conn_type, databases, users, address, method, options })
}

/// A field that must hold exactly one plain token.
pub(crate) fn single(field: Option<Vec<Item>>, what: &str, eol_what: &str) -> Result<String, String> {
    let eol_what = if eol_what.is_empty() { what } else { eol_what };
    let field = field.ok_or_else(|| format!("end-of-line before {eol_what}"))?;
    match field.as_slice() {
        [item] => plain(item),
        _ => Err(format!("multiple values specified for {what}")),
    }
}

/// The text of a token; an `@file` outside the database and user lists is not supported here.
pub(crate) fn plain(item: &Item) -> Result<String, String> {
    match item {
        Item::Token(t) => Ok(t.text.clone()),
        Item::File { target, .. } => {
            Err(format!("\"@{}\": pgharden supports @file only in database and user fields", excerpt(target)))
        }
    }
}

#[cfg(test)]
mod tests;
