//! `postgresql.conf` and `postgresql.auto.conf`: one file (`ConfFile`) kept line for line, and a
//! whole include tree (`ConfTree`) with PostgreSQL's last-setting-wins rule.
//!
//! Owns the grammar of guc-file.l (`name [=] value [# comment]`, include directives) and edits that
//! keep every other byte. It does not know which parameters exist or what values they accept (the
//! server checks that) — except the list values that apply and the audit must read alike, in
//! [`split_identifiers`] and [`log_connections`] — and it does not write files.

mod lexer;
mod lists;
mod tree;
mod value;
mod zones;

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

pub use crate::include::SkippedInclude;
pub use lists::{ConnectionLogAspect, ListError, log_connections, log_connections_value, split_identifiers};
pub use tree::{ConfTree, Occurrence, Resolution};
pub use value::Value;
pub use zones::{UTC_ZONE_NAMES, is_utc_zone};

pub use crate::include::IncludeKind;

use crate::error::{Error, Location, SyntaxError, excerpt_owned};
use crate::include::{Format, Loader};
use crate::source::{Disk, Source};
use crate::text::{self, Line};
use lexer::Kind;

/// The marker `remove` appends to the lines it comments out.
pub const REMOVED_MARKER: &str = "# removed by pgharden";

/// One active `name = value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    name: String,
    value: String,
    raw_value: String,
    line: usize,
    value_span: Range<usize>,
}

impl Setting {
    /// The name as written (PostgreSQL compares names ASCII-case-insensitively).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value PostgreSQL sees: quotes and escapes removed.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The value token as written in the file.
    pub fn raw_value(&self) -> &str {
        &self.raw_value
    }

    /// Whether the value was written in single quotes.
    pub fn is_quoted(&self) -> bool {
        self.raw_value.starts_with('\'')
    }

    /// 1-based line number.
    pub fn line(&self) -> usize {
        self.line
    }
}

/// An include directive line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// `include`, `include_if_exists` or `include_dir`.
    pub kind: IncludeKind,
    /// The target as PostgreSQL reads it (dequoted), relative to the including file's directory.
    pub target: String,
    /// 1-based line number.
    pub line: usize,
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// The value on this (1-based) line was replaced; `old` is the previous value token.
    Replaced {
        /// The line, 1-based.
        line: usize,
        /// The value token it held, as written.
        old: String,
    },
    /// A new `name = value` line was added at the end.
    Appended {
        /// The new line, 1-based.
        line: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Parsed {
    /// Blank or comment-only.
    Nothing,
    Setting(Setting),
    Include(Include),
    Invalid(SyntaxError),
}

/// One `postgresql.conf`-syntax file, every byte kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfFile {
    path: PathBuf,
    lines: Vec<Line>,
    parsed: Vec<Parsed>,
}

impl ConfFile {
    /// Parses text read from `path` (used for error positions and to resolve includes). Fails on
    /// the first line PostgreSQL would reject.
    pub fn parse(text: &str, path: impl Into<PathBuf>) -> Result<Self, Error> {
        let (file, errors) = Self::parse_lenient(text, path);
        match errors.into_iter().next() {
            Some(err) => Err(err),
            None => Ok(file),
        }
    }

    /// Parses text, keeping lines PostgreSQL would reject as they are and reporting each of them.
    /// The file still renders byte for byte.
    pub fn parse_lenient(text: &str, path: impl Into<PathBuf>) -> (Self, Vec<Error>) {
        let path = path.into();
        let lines = text::split(text);
        let parsed: Vec<Parsed> = lines.iter().enumerate().map(|(i, l)| parse_line(&l.text, i + 1)).collect();
        let errors = parsed
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match p {
                Parsed::Invalid(kind) => {
                    Some(Error::Syntax { at: Location::new(&path, i + 1), kind: kind.clone() })
                }
                _ => None,
            })
            .collect();
        (Self { path, lines, parsed }, errors)
    }

    /// `load_from` with this process's own credentials (`Disk`).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::load_from(path, &Disk)
    }

    /// Reads one file through `src` and parses it (its includes are not followed: see `ConfTree`).
    /// The file obeys the limits of a load: a FIFO, a device or a file over
    /// [`MAX_FILE_BYTES`](crate::MAX_FILE_BYTES) or [`MAX_LOAD_LINES`](crate::MAX_LOAD_LINES) is
    /// an error.
    pub fn load_from(path: impl AsRef<Path>, src: &dyn Source) -> Result<Self, Error> {
        let path = path.as_ref();
        Self::parse(&Loader::new(src, Format::Conf).read(path, None)?, path)
    }

    /// The path the file was loaded from (or named when parsed); includes resolve against its directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of physical lines.
    pub fn line_count(&self) -> usize {
        self.lines.len()
    }

    /// The text of a 1-based line, without its terminator.
    pub fn line_text(&self, line: usize) -> Option<&str> {
        self.lines.get(line.checked_sub(1)?).map(|l| l.text.as_str())
    }

    /// Every active setting, in file order.
    pub fn settings(&self) -> impl Iterator<Item = &Setting> {
        self.parsed.iter().filter_map(|p| match p {
            Parsed::Setting(s) => Some(s),
            _ => None,
        })
    }

    /// Every include directive, in file order.
    pub fn includes(&self) -> impl Iterator<Item = &Include> {
        self.parsed.iter().filter_map(|p| match p {
            Parsed::Include(i) => Some(i),
            _ => None,
        })
    }

    /// Every active line setting `name` (case-insensitive), in file order.
    pub fn occurrences(&self, name: &str) -> Vec<&Setting> {
        self.settings().filter(|s| s.name.eq_ignore_ascii_case(name)).collect()
    }

    /// The setting that wins within this file: the last one.
    pub fn setting(&self, name: &str) -> Option<&Setting> {
        self.settings().filter(|s| s.name.eq_ignore_ascii_case(name)).last()
    }

    /// The value this file gives `name` (the last active line wins), dequoted.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.setting(name).map(Setting::value)
    }

    /// Sets `name`: replaces the value token on the last active line for it (keeping spacing and
    /// trailing comment), or appends `name = value` at the end if no active line sets it.
    /// Commented-out lines such as `#ssl = off` are left alone.
    pub fn set(&mut self, name: &str, value: &Value) -> Result<Edit, Error> {
        check_name(name)?;
        let last = self
            .parsed
            .iter()
            .rposition(|p| matches!(p, Parsed::Setting(s) if s.name.eq_ignore_ascii_case(name)));
        match last {
            Some(idx) => self.replace_value(idx, value),
            None => self.append(name, value),
        }
    }

    /// Comments out every active line setting `name` (`#` in front, `# removed by pgharden` at the
    /// end), so the server default applies. Returns the 1-based lines changed.
    pub fn remove(&mut self, name: &str) -> Vec<usize> {
        let mut changed = Vec::new();
        for idx in 0..self.lines.len() {
            if matches!(&self.parsed[idx], Parsed::Setting(s) if s.name.eq_ignore_ascii_case(name)) {
                let line = &mut self.lines[idx];
                line.text = format!("#{} {REMOVED_MARKER}", line.text);
                self.parsed[idx] = Parsed::Nothing;
                changed.push(idx + 1);
            }
        }
        changed
    }

    fn replace_value(&mut self, idx: usize, value: &Value) -> Result<Edit, Error> {
        let Parsed::Setting(setting) = &self.parsed[idx] else {
            return Err(Error::NoSuchRecord(Location::new(&self.path, idx + 1)));
        };
        let span = setting.value_span.clone();
        let old = setting.raw_value.clone();
        let current = &self.lines[idx].text;
        let new_text = format!("{}{}{}", &current[..span.start], value.render(), &current[span.end..]);
        self.replace_line(idx, new_text, value)?;
        Ok(Edit::Replaced { line: idx + 1, old })
    }

    fn append(&mut self, name: &str, value: &Value) -> Result<Edit, Error> {
        text::terminate_last(&mut self.lines);
        let ending = text::dominant_ending(&self.lines);
        self.lines.push(Line::new(String::new(), ending));
        self.parsed.push(Parsed::Nothing);
        let idx = self.lines.len() - 1;
        self.replace_line(idx, format!("{name} = {}", value.render()), value)?;
        Ok(Edit::Appended { line: idx + 1 })
    }

    /// Installs new text for a line and re-parses it; a value that makes the line invalid is refused
    /// (and the line left as it was).
    fn replace_line(&mut self, idx: usize, new_text: String, value: &Value) -> Result<(), Error> {
        let parsed = parse_line(&new_text, idx + 1);
        if !matches!(parsed, Parsed::Setting(_)) {
            return Err(Error::InvalidValue {
                text: excerpt_owned(value.render()),
                reason: "the edited line would not parse".into(),
            });
        }
        self.lines[idx].text = new_text;
        self.parsed[idx] = parsed;
        Ok(())
    }
}

impl fmt::Display for ConfFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&text::join(&self.lines))
    }
}

/// A name `set` may write: one ID or QUALIFIED_ID token that is not an include directive.
fn check_name(name: &str) -> Result<(), Error> {
    let lexed = lexer::lex(name, 2);
    let is_name = matches!(lexed.tokens.as_slice(),
        [t] if t.start == 0 && t.end == name.len() && matches!(t.kind, Kind::Id | Kind::QualifiedId));
    if !is_name || lexed.comment.is_some() {
        return Err(Error::InvalidName(excerpt_owned(name)));
    }
    if IncludeKind::from_name(name).is_some() {
        return Err(Error::ReservedName(name.to_owned()));
    }
    Ok(())
}

/// ParseConfigFp for one line: name, optional `=`, one value token, nothing else but a comment.
fn parse_line(line: &str, number: usize) -> Parsed {
    // A name, `=`, a value and whatever follows are all that decide the line.
    let lexed = lexer::lex(line, 4);
    let toks = lexed.tokens.as_slice();
    let Some(first) = toks.first() else { return Parsed::Nothing };
    let text_of = |t: &lexer::Tok| line[t.start..t.end].to_owned();
    if !matches!(first.kind, Kind::Id | Kind::QualifiedId) {
        return Parsed::Invalid(SyntaxError::InvalidName {
            found: excerpt_owned(&line[first.start..first.end]),
        });
    }
    let name = text_of(first);
    let rest = match toks.get(1) {
        Some(t) if t.kind == Kind::Equals => &toks[2..],
        _ => &toks[1..],
    };
    let Some(value) = rest.first() else {
        return Parsed::Invalid(SyntaxError::MissingValue { name: excerpt_owned(&name) });
    };
    if !value::is_value_kind(value.kind) {
        let kind = if &line[value.start..value.end] == "'" {
            SyntaxError::UnterminatedString
        } else {
            SyntaxError::InvalidValue { found: excerpt_owned(line[value.start..].trim_end()) }
        };
        return Parsed::Invalid(kind);
    }
    if let Some(extra) = rest.get(1) {
        let end = lexer::comment(line, extra.start).unwrap_or(line.len());
        let found = excerpt_owned(line[extra.start..end].trim_end());
        // An unterminated string after a value is still best described as garbage after the value.
        return Parsed::Invalid(SyntaxError::GarbageAfterValue { found });
    }
    let raw_value = text_of(value);
    let decoded = value::decode(&raw_value);
    if let Some(kind) = IncludeKind::from_name(&name) {
        return Parsed::Include(Include { kind, target: decoded, line: number });
    }
    Parsed::Setting(Setting {
        name,
        value: decoded,
        raw_value,
        line: number,
        value_span: value.start..value.end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(text: &str) -> ConfFile {
        ConfFile::parse(text, "postgresql.conf").unwrap()
    }

    fn syntax_error(text: &str) -> SyntaxError {
        match ConfFile::parse(text, "p.conf") {
            Err(Error::Syntax { kind, .. }) => kind,
            other => panic!("expected a syntax error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn settings_with_and_without_equals() {
        let c = conf("a = 1\nb 'two'\nc=on#x\npgaudit.log = 'ddl, role'\n  # comment\n\n");
        assert_eq!(c.get("a"), Some("1"));
        assert_eq!(c.get("B"), Some("two"));
        assert_eq!(c.get("c"), Some("on"));
        assert_eq!(c.get("PGAUDIT.LOG"), Some("ddl, role"));
        assert_eq!(c.settings().count(), 4);
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        assert_eq!(syntax_error("a = 'abc"), SyntaxError::UnterminatedString);
        assert_eq!(syntax_error("a ="), SyntaxError::MissingValue { name: "a".into() });
        assert_eq!(syntax_error("a = on off # c"), SyntaxError::GarbageAfterValue { found: "off".into() });
        assert_eq!(syntax_error("a = /tmp"), SyntaxError::InvalidValue { found: "/tmp".into() });
        assert_eq!(syntax_error("a = x.y"), SyntaxError::InvalidValue { found: "x.y".into() });
        assert_eq!(syntax_error("1a = 3"), SyntaxError::InvalidName { found: "1a".into() });
        let err = ConfFile::parse("ok = 1\n\nbad = 'x", "/etc/pg.conf").unwrap_err();
        assert_eq!(err.to_string(), "/etc/pg.conf:3: unterminated quoted string");
    }

    #[test]
    fn set_replaces_the_last_active_line_in_place() {
        let mut c = conf("#ssl = off\nssl = off\nssl\t=\toff   # keep me\n");
        let edit = c.set("SSL", &Value::bool(true)).unwrap();
        assert_eq!(edit, Edit::Replaced { line: 3, old: "off".into() });
        assert_eq!(c.to_string(), "#ssl = off\nssl = off\nssl\t=\ton   # keep me\n");
    }

    #[test]
    fn set_appends_and_terminates_the_last_line() {
        let mut c = conf("a = 1\r\nb = 2");
        assert_eq!(c.set("ssl_ciphers", &Value::string("HIGH:!aNULL")).unwrap(), Edit::Appended { line: 3 });
        assert_eq!(c.to_string(), "a = 1\r\nb = 2\r\nssl_ciphers = 'HIGH:!aNULL'\r\n");
    }

    #[test]
    fn set_refuses_directives_and_bad_names() {
        let mut c = conf("");
        assert_eq!(c.set("include", &Value::string("x")), Err(Error::ReservedName("include".into())));
        assert_eq!(c.set("a b", &Value::int(1)), Err(Error::InvalidName("a b".into())));
        assert_eq!(c.to_string(), "");
    }

    #[test]
    fn remove_comments_out_active_lines_only() {
        let mut c = conf("#ssl = on\nssl = on # x\nport = 5432\nSSL off\n");
        assert_eq!(c.remove("ssl"), vec![2, 4]);
        assert_eq!(
            c.to_string(),
            "#ssl = on\n#ssl = on # x # removed by pgharden\nport = 5432\n#SSL off # removed by pgharden\n"
        );
        assert_eq!(c.get("ssl"), None);
    }

    #[test]
    fn includes_are_directives() {
        let c = conf("include 'a.conf'\nINCLUDE_DIR = 'conf.d'\ninclude_if_exists='b.conf'\n");
        let kinds: Vec<_> = c.includes().map(|i| (i.kind, i.target.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (IncludeKind::Include, "a.conf"),
                (IncludeKind::IncludeDir, "conf.d"),
                (IncludeKind::IncludeIfExists, "b.conf")
            ]
        );
        assert_eq!(c.settings().count(), 0);
    }
}
