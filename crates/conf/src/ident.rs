//! `pg_ident.conf`: user name maps (`map system-username database-username`), lossless, with
//! entry edits and `lookup`, which answers "which database roles may system user S use under map
//! M?" as `check_usermap` in hba.c would.
//!
//! Owns the ident record grammar (the tokenizer is shared with pg_hba.conf: quoting, `#`
//! comments, backslash continuation, PostgreSQL 16+ include directives). It does not look up
//! roles or authenticate anyone.
//!
//! Semantics by version: a system name starting with `/` is a regular expression (all versions);
//! a `\1` in the role is replaced by its first capture group. From PostgreSQL 16 the role column
//! also takes `all`, `+group` and `/regex` (before 16 they are literal names). Regular
//! expressions run on the `regex` crate; what it cannot do like PostgreSQL (back-references,
//! lookaround, collating elements, leftmost-longest matching) is listed in the crate's
//! `pg_regex` notes, and such entries make `lookup` fail rather than guess.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::authfile::{self, AuthFile, Tree};
use crate::error::{Error, Problem, excerpt};
use crate::hba::{self, RuleRef};
use crate::include::{Format, Loader};
use crate::include::{IncludeKind, SkippedInclude};
use crate::source::{Disk, Source};
use crate::text::{self, Line};
use crate::tokens::{self, Item, Token};
use crate::{NEWEST_MAJOR, pg_regex};

/// The marker `remove` appends to the lines it comments out.
pub const REMOVED_MARKER: &str = "# removed by pgharden";

/// One `map system-username database-username` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Where the line is.
    pub at: RuleRef,
    /// The map name, as `map=` in pg_hba.conf names it.
    pub map: String,
    /// The system user name: a literal, or `/regex` whose first group `\1` may fill `role`.
    pub system: Token,
    /// The database role it may use (from 16 also `all`, `+group` or `/regex`).
    pub role: Token,
}

/// One non-blank, non-comment logical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A mapping line.
    Mapping(Mapping),
    /// PostgreSQL 16+ include directive.
    Include {
        /// Where the directive is.
        at: RuleRef,
        /// `include`, `include_if_exists` or `include_dir`.
        kind: IncludeKind,
        /// The file or directory it names, as written.
        target: String,
    },
    /// A line PostgreSQL rejects, with hba.c's message.
    Invalid {
        /// Where the line is.
        at: RuleRef,
        /// hba.c's message for it.
        message: String,
    },
}

impl Entry {
    /// Where the entry is, whatever it is.
    pub fn at(&self) -> &RuleRef {
        match self {
            Self::Mapping(m) => &m.at,
            Self::Include { at, .. } | Self::Invalid { at, .. } => at,
        }
    }
}

/// What a matching map line allows, for `lookup`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RoleMatch {
    /// Exactly this role (after `\1` substitution).
    Role(String),
    /// Any role (`all`, PostgreSQL 16+).
    All,
    /// Any member of this role (`+group`, 16+).
    MemberOf(String),
    /// Any role the expression matches (`/regex`, 16+).
    Regex(String),
}

impl fmt::Display for RoleMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Role(r) => f.write_str(r),
            Self::All => f.write_str("all"),
            Self::MemberOf(g) => write!(f, "+{g}"),
            Self::Regex(p) => write!(f, "/{p}"),
        }
    }
}

/// One pg_ident.conf file, every byte kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentFile {
    path: PathBuf,
    lines: Vec<Line>,
    entries: Vec<Entry>,
}

impl IdentFile {
    /// Parses text read from `path`; never fails (bad lines become `Entry::Invalid`).
    pub fn parse(text: &str, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let lines = text::split(text);
        let entries = parse_entries(&lines, &path);
        Self { path, lines, entries }
    }

    /// `load_from` with this process's own credentials (`Disk`).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::load_from(path, &Disk)
    }

    /// Reads one file through `src` and parses it (its includes are not followed: see
    /// `IdentSet::load_from`), within the limits of a load as `HbaFile::load_from` does.
    pub fn load_from(path: impl AsRef<Path>, src: &dyn Source) -> Result<Self, Error> {
        let path = path.as_ref();
        Ok(Self::parse(&Loader::new(src, Format::Auth).read(path, None)?, path))
    }

    /// The path the file was loaded from (or named when parsed).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry in file order: mappings, include directives and lines PostgreSQL rejects.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The mappings only, in file order.
    pub fn mappings(&self) -> impl Iterator<Item = &Mapping> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Mapping(m) => Some(m),
            _ => None,
        })
    }

    /// Problems PostgreSQL `major` would have with this file.
    pub fn validate(&self, major: u32) -> Vec<Problem> {
        validate(self.entries.iter(), major)
    }

    /// The roles system user `system_name` may use under `map` (newest-version semantics).
    pub fn lookup(&self, map: &str, system_name: &str) -> Result<Vec<RoleMatch>, Error> {
        lookup_as(NEWEST_MAJOR, self.mappings(), map, system_name)
    }

    /// `lookup` as PostgreSQL `major` reads the file.
    pub fn lookup_as(&self, major: u32, map: &str, system_name: &str) -> Result<Vec<RoleMatch>, Error> {
        lookup_as(major, self.mappings(), map, system_name)
    }

    /// Appends a mapping; returns its 1-based line number.
    pub fn add(&mut self, map: &str, system: &Token, role: &Token) -> Result<usize, Error> {
        let line = render_mapping(map, system, role)?;
        text::terminate_last(&mut self.lines);
        let ending = text::dominant_ending(&self.lines);
        self.lines.push(Line::new(line, ending));
        self.entries = parse_entries(&self.lines, &self.path);
        Ok(self.lines.len())
    }

    /// Comments out every mapping equal to (map, system, role); returns the lines changed.
    pub fn remove(&mut self, map: &str, system: &Token, role: &Token) -> Vec<usize> {
        let targets: Vec<RuleRef> = self
            .mappings()
            .filter(|m| m.map == map && same(&m.system, system) && same(&m.role, role))
            .map(|m| m.at.clone())
            .collect();
        for at in &targets {
            for line in &mut self.lines[at.line - 1..at.last_line] {
                line.text.insert(0, '#');
            }
            let last = &mut self.lines[at.last_line - 1];
            last.text = format!("{} {REMOVED_MARKER}", last.text);
        }
        self.entries = parse_entries(&self.lines, &self.path);
        targets.iter().map(|t| t.line).collect()
    }
}

impl fmt::Display for IdentFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&text::join(&self.lines))
    }
}

impl AuthFile for IdentFile {
    fn parse_text(text: &str, path: &Path) -> Self {
        Self::parse(text, path)
    }

    fn include_directives(&self) -> Vec<(usize, IncludeKind, String, usize)> {
        let directive = |(i, e): (usize, &Entry)| match e {
            Entry::Include { at, kind, target } => Some((i, *kind, target.clone(), at.line)),
            _ => None,
        };
        self.entries.iter().enumerate().filter_map(directive).collect()
    }

    fn file_refs(&self) -> Vec<(String, usize)> {
        Vec::new()
    }

    fn record_count(&self) -> usize {
        self.entries.len()
    }
}

/// A pg_ident.conf with everything it includes (PostgreSQL 16+).
#[derive(Debug, Clone)]
pub struct IdentSet {
    tree: Tree<IdentFile>,
}

impl IdentSet {
    /// `load_from` with this process's own credentials (`Disk`).
    pub fn load(root: impl AsRef<Path>) -> Result<Self, Error> {
        Self::load_from(root, &Disk)
    }

    /// Loads `root` through `src` and follows its include directives as `HbaSet::load_from` does
    /// (same limits, same errors; only an `include_if_exists` target that does not exist is
    /// skipped).
    pub fn load_from(root: impl AsRef<Path>, src: &dyn Source) -> Result<Self, Error> {
        Ok(Self { tree: authfile::load(root.as_ref(), src, true)? })
    }

    /// `load_from` as PostgreSQL `major` reads the files: before 16 an include directive is not
    /// followed (the server refuses the line, and `validate` says so).
    pub fn load_for(major: u32, root: impl AsRef<Path>, src: &dyn Source) -> Result<Self, Error> {
        Ok(Self { tree: authfile::load(root.as_ref(), src, major >= 16)? })
    }

    /// Every file read, the root first, then each included file in the order its directive is met.
    pub fn files(&self) -> &[IdentFile] {
        &self.tree.files
    }

    /// The files, owned, in the order of [`IdentSet::files`].
    pub fn into_files(self) -> Vec<IdentFile> {
        self.tree.files
    }

    /// The `include_if_exists` targets that did not exist, which PostgreSQL skips too.
    pub fn skipped(&self) -> &[SkippedInclude] {
        &self.tree.skipped
    }

    /// Every file the load read, each once, in the order read.
    pub fn paths_read(&self) -> &[PathBuf] {
        &self.tree.read
    }

    /// Every entry in the order the server sees them.
    pub fn entries(&self) -> Vec<&Entry> {
        self.tree.order.iter().map(|&(f, e)| &self.tree.files[f].entries[e]).collect()
    }

    /// What PostgreSQL `major` would refuse or misread in the set, sorted by file and line.
    pub fn validate(&self, major: u32) -> Vec<Problem> {
        let mut entries = self.entries();
        if major < 16 {
            let includes = self.tree.files.iter().flat_map(|f| &f.entries);
            entries.extend(includes.filter(|e| matches!(e, Entry::Include { .. })));
        }
        let mut problems = validate(entries.into_iter(), major);
        problems.sort_by(|a, b| a.at.cmp(&b.at));
        // A set loaded for a server before 16 holds its include lines in order too.
        problems.dedup();
        problems
    }

    /// The roles system user `system_name` may use under `map`, in the order of the mappings
    /// (newest-version semantics).
    pub fn lookup(&self, map: &str, system_name: &str) -> Result<Vec<RoleMatch>, Error> {
        self.lookup_as(NEWEST_MAJOR, map, system_name)
    }

    /// `lookup` as PostgreSQL `major` reads the set: before 16 the role field is a literal name.
    pub fn lookup_as(&self, major: u32, map: &str, system_name: &str) -> Result<Vec<RoleMatch>, Error> {
        let mappings = self.entries().into_iter().filter_map(|e| match e {
            Entry::Mapping(m) => Some(m),
            _ => None,
        });
        lookup_as(major, mappings, map, system_name)
    }
}

fn same(a: &Token, b: &Token) -> bool {
    a.text == b.text && a.quoted == b.quoted
}

fn render_mapping(map: &str, system: &Token, role: &Token) -> Result<String, Error> {
    let line = format!("{:<15} {:<23} {}", Token::literal(map).render(), system.render(), role.render());
    let at = RuleRef { file: PathBuf::new(), line: 1, last_line: 1 };
    match parse_entry(&line, at) {
        Some(Entry::Mapping(m)) if m.map == map && same(&m.system, system) && same(&m.role, role) => Ok(line),
        _ => Err(Error::InvalidRecord(format!(
            "{:?} does not parse back as the mapping given",
            excerpt(&line)
        ))),
    }
}

fn parse_entries(lines: &[Line], path: &Path) -> Vec<Entry> {
    tokens::logical_lines(lines)
        .filter_map(|l| {
            let at = RuleRef { file: path.to_path_buf(), line: l.first + 1, last_line: l.last + 1 };
            parse_entry(&l.text, at)
        })
        .collect()
}

/// `parse_ident_line`: three single-token fields (further fields are ignored, as in hba.c).
fn parse_entry(line: &str, at: RuleRef) -> Option<Entry> {
    let fields = tokens::fields(line);
    if fields.is_empty() {
        return None;
    }
    if let Some((kind, target)) = hba::include_directive(&fields) {
        return Some(Entry::Include { at, kind, target });
    }
    let mut it = fields.into_iter();
    let mut next = || -> Result<Token, String> {
        let field = it.next().ok_or("missing entry at end of line")?;
        match field.as_slice() {
            [Item::Token(t)] => Ok(t.clone()),
            [Item::File { .. }] => Err("pgharden does not support @file in pg_ident.conf".into()),
            _ => Err("multiple values in ident field".into()),
        }
    };
    let parsed = (|| Ok::<_, String>((next()?, next()?, next()?)))();
    Some(match parsed {
        Ok((map, system, role)) => Entry::Mapping(Mapping { at, map: map.text, system, role }),
        Err(message) => Entry::Invalid { at, message },
    })
}

fn validate<'a>(entries: impl Iterator<Item = &'a Entry>, major: u32) -> Vec<Problem> {
    let mut out = Vec::new();
    for entry in entries {
        match entry {
            Entry::Invalid { at, message } => out.push(Problem::error(at.location(), message.clone())),
            Entry::Include { at, .. } if major < 16 => out.push(Problem::error(
                at.location(),
                "missing entry at end of line (include directives need PostgreSQL 16)",
            )),
            Entry::Include { .. } => {}
            Entry::Mapping(m) => check_mapping(m, major, &mut out),
        }
    }
    out
}

fn check_mapping(m: &Mapping, major: u32, out: &mut Vec<Problem>) {
    let at = m.at.location();
    if let Some(p) = m.system.regex_pattern()
        && let Err(e) = pg_regex::compile(p)
    {
        out.push(Problem::warning(
            at.clone(),
            format!("{e}; PostgreSQL rejects the file if the regex is invalid"),
        ));
    }
    let role = &m.role;
    let special = role.is_keyword("all") || role.member_check().is_some() || role.regex_pattern().is_some();
    if major < 16 && special {
        out.push(Problem::warning(
            at.clone(),
            format!(
                "PostgreSQL {major} reads \"{}\" as a literal role name (all, +group and /regex need 16)",
                excerpt(&role.text)
            ),
        ));
    } else if let Some(p) = role.regex_pattern()
        && let Err(e) = pg_regex::compile(p)
    {
        out.push(Problem::warning(at.clone(), e));
    }
    if role.text.contains("\\1") && m.system.regex_pattern().is_none() {
        out.push(Problem::warning(at, "\\1 is replaced only when the system user is a /regex"));
    }
}

fn lookup_as<'a>(
    major: u32,
    mappings: impl Iterator<Item = &'a Mapping>,
    map: &str,
    system_name: &str,
) -> Result<Vec<RoleMatch>, Error> {
    let mut out = Vec::new();
    for m in mappings.filter(|m| m.map == map) {
        if let Some(role) = match_mapping(major, m, system_name)? {
            out.push(role);
        }
    }
    Ok(out)
}

/// `check_ident_usermap` for one line: the role this line grants `system_name`, if any.
fn match_mapping(major: u32, m: &Mapping, system_name: &str) -> Result<Option<RoleMatch>, Error> {
    let regex_error = |message: String| Error::Regex { at: m.at.location(), message };
    let role = match m.system.regex_pattern() {
        Some(pattern) => {
            let re = pg_regex::compile(pattern).map_err(regex_error)?;
            let Some(caps) = re.captures(system_name) else { return Ok(None) };
            let special =
                major >= 16 && (m.role.member_check().is_some() || m.role.regex_pattern().is_some());
            if !special && m.role.text.contains("\\1") {
                let first = caps.get(1).ok_or_else(|| {
                    regex_error(format!(
                        "regular expression \"{}\" has no subexpressions as requested by backreference in \"{}\"",
                        excerpt(pattern),
                        excerpt(&m.role.text)
                    ))
                })?;
                // PostgreSQL replaces the first `\1` only, and the result is a literal name.
                return Ok(Some(RoleMatch::Role(m.role.text.replacen("\\1", first.as_str(), 1))));
            }
            &m.role
        }
        None if m.system.text == system_name => &m.role,
        None => return Ok(None),
    };
    Ok(Some(classify(major, role)))
}

fn classify(major: u32, role: &Token) -> RoleMatch {
    if major < 16 {
        return RoleMatch::Role(role.text.clone());
    }
    if let Some(group) = role.member_check() {
        RoleMatch::MemberOf(group.to_owned())
    } else if role.is_keyword("all") {
        RoleMatch::All
    } else if let Some(p) = role.regex_pattern() {
        RoleMatch::Regex(p.to_owned())
    } else {
        RoleMatch::Role(role.text.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# MAPNAME SYSTEM PG\nssl bob@example.com bob\nssl /^(.*)@EXAMPLE\\.COM$ \\1\n\
        gss /^admin-(.*)$ +admins\ngss carol all\ngss \"dave x\" \"all\"\nbad onlytwo\nbad a,b c\n";

    fn file() -> IdentFile {
        IdentFile::parse(SAMPLE, "pg_ident.conf")
    }

    #[test]
    fn round_trip_and_entries() {
        let f = file();
        assert_eq!(f.to_string(), SAMPLE);
        assert_eq!(f.mappings().count(), 5);
        let invalid: Vec<_> = f
            .entries()
            .iter()
            .filter_map(
                |e| if let Entry::Invalid { message, .. } = e { Some(message.as_str()) } else { None },
            )
            .collect();
        assert_eq!(invalid, ["missing entry at end of line", "multiple values in ident field"]);
    }

    #[test]
    fn lookup_substitutes_the_first_capture() {
        let f = file();
        assert_eq!(f.lookup("ssl", "alice@EXAMPLE.COM").unwrap(), [RoleMatch::Role("alice".into())]);
        assert_eq!(f.lookup("ssl", "bob@example.com").unwrap(), [RoleMatch::Role("bob".into())]);
        assert!(f.lookup("ssl", "eve@evil").unwrap().is_empty());
    }

    #[test]
    fn role_patterns_depend_on_the_version() {
        let f = file();
        assert_eq!(f.lookup("gss", "admin-x").unwrap(), [RoleMatch::MemberOf("admins".into())]);
        assert_eq!(f.lookup_as(15, "gss", "admin-x").unwrap(), [RoleMatch::Role("+admins".into())]);
        assert_eq!(f.lookup("gss", "carol").unwrap(), [RoleMatch::All]);
        assert_eq!(f.lookup("gss", "dave x").unwrap(), [RoleMatch::Role("all".into())]);
        let warnings = f.validate(15);
        assert!(warnings.iter().any(|p| p.at.line == 4 && p.message.contains("literal role name")));
        assert!(f.validate(16).iter().all(|p| p.at.line >= 7));
    }

    #[test]
    fn add_and_remove_keep_other_lines() {
        let mut f = IdentFile::parse("# maps\nm a b", "pg_ident.conf");
        assert_eq!(f.add("ssl", &Token::literal("CN=x, O=y"), &Token::literal("x")).unwrap(), 3);
        assert_eq!(f.to_string(), "# maps\nm a b\nssl             \"CN=x, O=y\"             x\n");
        assert_eq!(f.lookup("ssl", "CN=x, O=y").unwrap(), [RoleMatch::Role("x".into())]);
        assert_eq!(f.remove("m", &Token::literal("a"), &Token::literal("b")), [2]);
        assert!(f.to_string().starts_with("# maps\n#m a b # removed by pgharden\n"));
        assert!(f.lookup("m", "a").unwrap().is_empty());
    }

    #[test]
    fn includes_are_errors_before_16() {
        let f = IdentFile::parse("include other.conf\n", "pg_ident.conf");
        assert!(matches!(f.entries(), [Entry::Include { kind: IncludeKind::Include, .. }]));
        assert_eq!(f.validate(15).len(), 1);
        assert!(f.validate(16).is_empty());
    }

    #[test]
    fn a_set_for_an_older_server_does_not_follow_includes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("pg_ident.conf");
        std::fs::write(&root, "m a a\ninclude other.conf\n").unwrap();
        std::fs::write(dir.path().join("other.conf"), "m b postgres\n").unwrap();
        let on16 = IdentSet::load_for(16, &root, &Disk).unwrap();
        assert_eq!(on16.lookup_as(16, "m", "b").unwrap(), [RoleMatch::Role("postgres".into())]);
        assert_eq!(on16.paths_read().len(), 2);
        let on15 = IdentSet::load_for(15, &root, &Disk).unwrap();
        assert!(on15.lookup_as(15, "m", "b").unwrap().is_empty(), "other.conf is not read on 15");
        assert_eq!(on15.paths_read(), std::slice::from_ref(&root));
        let problems = on15.validate(15);
        assert_eq!(problems.len(), 1, "the include line, once: {problems:?}");
        assert_eq!(problems[0].at.line, 2);
    }
}
