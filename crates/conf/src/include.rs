//! What the three file types share about includes: where a relative target points, which files an
//! `include_dir` takes, the guard against cycles and too-deep nesting, and the `Loader` through
//! which a whole load reads its files and which keeps it within the limits of a load. Every read
//! goes through the caller's `Source`; nothing here touches the file system directly.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, IncludeError, LimitError, Location};
use crate::source::{
    self, MAX_DIR_ENTRIES, MAX_LOAD_BYTES, MAX_LOAD_FILES, MAX_LOAD_LINES, MAX_LOAD_TOKENS, Source,
};

/// The three include directives; the same words in postgresql.conf (any case) and, from
/// PostgreSQL 16, in pg_hba.conf and pg_ident.conf (exact case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncludeKind {
    /// `include file`: a missing file is an error.
    Include,
    /// `include_if_exists file`: a missing file is skipped.
    IncludeIfExists,
    /// `include_dir dir`: every `*.conf` file in the directory, in name order.
    IncludeDir,
}

impl IncludeKind {
    const ALL: [(&'static str, Self); 3] = [
        ("include", Self::Include),
        ("include_if_exists", Self::IncludeIfExists),
        ("include_dir", Self::IncludeDir),
    ];

    /// guc-file.l compares directive names with `guc_name_compare` (ASCII case-insensitive).
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find_map(|(n, kind)| name.eq_ignore_ascii_case(n).then_some(kind))
    }

    /// hba.c compares with `strcmp`.
    pub(crate) fn from_exact(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find_map(|(n, kind)| (name == n).then_some(kind))
    }

    /// The directive's keyword, as written in the file.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Include => "include",
            Self::IncludeIfExists => "include_if_exists",
            Self::IncludeDir => "include_dir",
        }
    }
}

/// An `include_if_exists` target (or a `postgresql.auto.conf`) that does not exist, and that
/// PostgreSQL therefore skips. (A target that exists but cannot be read is an error, as in
/// PostgreSQL.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedInclude {
    /// The directive; None for `postgresql.auto.conf`.
    pub at: Option<Location>,
    /// The file that does not exist, resolved against the including file's directory.
    pub path: PathBuf,
}

/// PostgreSQL's `CONF_FILE_MAX_DEPTH`: the root file is at depth 0, a file it includes at depth 1;
/// opening a file at a depth greater than this fails.
pub(crate) const MAX_DEPTH: usize = 10;

/// `AbsoluteConfigLocation`: an absolute target as it is, a relative one relative to the directory
/// of the including file. `..` and `.` are folded lexically, as `canonicalize_path` does.
pub(crate) fn resolve(target: &str, including_file: &Path) -> PathBuf {
    let target = Path::new(target);
    if target.is_absolute() {
        return normalize(target);
    }
    let base = including_file.parent().unwrap_or_else(|| Path::new(""));
    normalize(&base.join(target))
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                let can_pop = matches!(out.components().next_back(), Some(Component::Normal(_)));
                if can_pop {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// `GetConfFilesInDir`: the regular (or symlinked) files whose name ends in `.conf`, is at least six
/// bytes long and does not start with `.`, sorted by name in byte order (`strcmp`).
pub(crate) fn conf_files_in_dir(dir: &Path, src: &dyn Source) -> Result<Vec<PathBuf>, IncludeError> {
    let bad =
        |e: std::io::Error| IncludeError::BadDirectory { path: dir.to_path_buf(), message: e.to_string() };
    let entries = src.read_dir(dir).map_err(bad)?;
    // A `Source` must enforce the limit itself; this keeps one that does not from getting past it.
    if entries.len() > MAX_DIR_ENTRIES {
        return Err(bad(source::too_many_entries()));
    }
    let mut files = Vec::new();
    for (name, is_dir) in entries {
        let Some(name) = name.to_str() else { continue };
        if name.len() < 6 || name.starts_with('.') || !name.ends_with(".conf") {
            continue;
        }
        // Like get_dirent_type(..., look_through_symlinks = true): a symlink to a directory is skipped.
        if !is_dir {
            files.push(dir.join(name));
        }
    }
    files.sort_by(|a, b| a.as_os_str().as_encoded_bytes().cmp(b.as_os_str().as_encoded_bytes()));
    Ok(files)
}

/// The chain of files being read, to refuse cycles (PostgreSQL only notices them by the depth
/// limit; naming the cycle is kinder) and nesting deeper than `MAX_DEPTH`.
#[derive(Debug, Default)]
pub(crate) struct Guard {
    open: Vec<PathBuf>,
}

impl Guard {
    /// Enters `path`, included from `at` (None for a root file).
    pub(crate) fn enter(
        &mut self,
        path: &Path,
        at: Option<&Location>,
        src: &dyn Source,
    ) -> Result<(), Error> {
        let depth = self.open.len();
        if depth > MAX_DEPTH {
            return Err(error_at(path, at, IncludeError::TooDeep { path: path.to_path_buf() }));
        }
        let canonical = src.canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.open.contains(&canonical) {
            return Err(error_at(path, at, IncludeError::Cycle { path: path.to_path_buf() }));
        }
        self.open.push(canonical);
        Ok(())
    }

    /// How many files are open: 1 while the root is being read.
    pub(crate) fn depth(&self) -> usize {
        self.open.len()
    }

    pub(crate) fn leave(&mut self) {
        self.open.pop();
    }
}

/// An include error at the directive `at`, or at line 0 of `path` for a file no directive names
/// (a root file, `postgresql.auto.conf`).
fn error_at(path: &Path, at: Option<&Location>, kind: IncludeError) -> Error {
    let at = at.cloned().unwrap_or_else(|| Location::new(path, 0));
    Error::Include { at, kind }
}

/// What a file type keeps per token, which decides whether a load counts tokens (see
/// `MAX_LOAD_TOKENS`): pg_hba.conf and pg_ident.conf keep every token, postgresql.conf keeps
/// only the few at the start of each line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Conf,
    Auth,
}

/// What a load has used of its limits; also what one `@file` expansion cost, to count it again.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Usage {
    pub(crate) bytes: u64,
    pub(crate) tokens: usize,
}

/// One load: where files come from, the include chain, and what the load has read so far, so
/// that no configuration can make it read more than the limits of a load (`MAX_LOAD_FILES`,
/// `MAX_LOAD_BYTES`, `MAX_LOAD_LINES`, `MAX_LOAD_TOKENS`). Lines and tokens are counted in the
/// text before it is parsed, so a file over a limit never costs the memory of its parse.
pub(crate) struct Loader<'a> {
    src: &'a dyn Source,
    format: Format,
    pub(crate) guard: Guard,
    files: usize,
    lines: usize,
    used: Usage,
    /// Every file read so far, each once, in the order first read (and as a set, to keep it so).
    read: Vec<PathBuf>,
    seen: HashSet<PathBuf>,
}

impl<'a> Loader<'a> {
    pub(crate) fn new(src: &'a dyn Source, format: Format) -> Self {
        Self {
            src,
            format,
            guard: Guard::default(),
            files: 0,
            lines: 0,
            used: Usage::default(),
            read: Vec::new(),
            seen: HashSet::new(),
        }
    }

    /// Enters `path` in the include chain (see `Guard::enter`).
    pub(crate) fn enter(&mut self, path: &Path, at: Option<&Location>) -> Result<(), Error> {
        self.guard.enter(path, at, self.src)
    }

    pub(crate) fn leave(&mut self) {
        self.guard.leave();
    }

    /// Reads a file of the load: a root file (`at` None: a failure is `Error::Io`) or the target
    /// of the directive `at` (a failure is `Error::Include` there).
    pub(crate) fn read(&mut self, path: &Path, at: Option<&Location>) -> Result<String, Error> {
        self.count_file(path, at)?;
        let text = crate::text::read(path, self.src).map_err(|e| unreadable(e, path, at))?;
        self.count_text(&text, path, at)?;
        self.note_read(path);
        Ok(text)
    }

    /// `read` for `include_if_exists` and `postgresql.auto.conf`: a file that does not exist
    /// gives `None`. Like PostgreSQL's ParseConfigFile, only ENOENT is skipped; any other failure
    /// (a FIFO, permission denied, too large) is an error.
    pub(crate) fn read_if_exists(
        &mut self,
        path: &Path,
        at: Option<&Location>,
    ) -> Result<Option<String>, Error> {
        self.count_file(path, at)?;
        let text = match crate::text::read(path, self.src) {
            Ok(text) => text,
            Err(Error::Io { kind: std::io::ErrorKind::NotFound, .. }) => return Ok(None),
            Err(e) => return Err(unreadable(e, path, at)),
        };
        self.count_text(&text, path, at)?;
        self.note_read(path);
        Ok(Some(text))
    }

    /// The files read so far, each once, in the order first read.
    pub(crate) fn paths_read(&self) -> &[PathBuf] {
        &self.read
    }

    fn note_read(&mut self, path: &Path) {
        if self.seen.insert(path.to_path_buf()) {
            self.read.push(path.to_path_buf());
        }
    }

    /// Enters `path` and reads it (`if_exists`: as `read_if_exists`). `None`: it does not exist
    /// and was left again; the caller records it as skipped.
    pub(crate) fn open(
        &mut self,
        path: &Path,
        at: Option<&Location>,
        if_exists: bool,
    ) -> Result<Option<String>, Error> {
        self.enter(path, at)?;
        let text = if if_exists { self.read_if_exists(path, at)? } else { Some(self.read(path, at)?) };
        if text.is_none() {
            self.leave();
        }
        Ok(text)
    }

    /// `conf_files_in_dir` for the `include_dir` directive at `at`; the listing counts as a file.
    pub(crate) fn conf_files_in_dir(&mut self, dir: &Path, at: &Location) -> Result<Vec<PathBuf>, Error> {
        self.count_file(dir, Some(at))?;
        conf_files_in_dir(dir, self.src).map_err(|kind| Error::Include { at: at.clone(), kind })
    }

    /// What the load has used so far (the difference of two calls is what reading in between cost).
    pub(crate) fn used(&self) -> Usage {
        self.used
    }

    /// Counts `cost` again, as if `path` had been read again for the reference at `at`.
    pub(crate) fn count_again(&mut self, cost: Usage, path: &Path, at: &Location) -> Result<(), Error> {
        self.count_bytes(cost.bytes, path, Some(at))?;
        self.used.tokens = self.used.tokens.saturating_add(cost.tokens);
        if self.used.tokens > MAX_LOAD_TOKENS {
            return Err(Error::Limit { at: at.clone(), kind: LimitError::Tokens { limit: MAX_LOAD_TOKENS } });
        }
        Ok(())
    }

    fn count_file(&mut self, path: &Path, at: Option<&Location>) -> Result<(), Error> {
        self.files += 1;
        if self.files > MAX_LOAD_FILES {
            let kind = IncludeError::TooManyFiles { path: path.to_path_buf(), limit: MAX_LOAD_FILES };
            return Err(error_at(path, at, kind));
        }
        Ok(())
    }

    fn count_bytes(&mut self, bytes: u64, path: &Path, at: Option<&Location>) -> Result<(), Error> {
        self.used.bytes = self.used.bytes.saturating_add(bytes);
        if self.used.bytes > MAX_LOAD_BYTES {
            let kind = IncludeError::TooManyBytes { path: path.to_path_buf(), limit: MAX_LOAD_BYTES };
            return Err(error_at(path, at, kind));
        }
        Ok(())
    }

    /// Counts the bytes, lines and (for authentication files) tokens of a file just read; a limit
    /// crossed inside the file is reported at the line where it was crossed.
    fn count_text(&mut self, text: &str, path: &Path, at: Option<&Location>) -> Result<(), Error> {
        self.count_bytes(text.len() as u64, path, at)?;
        let left = MAX_LOAD_LINES - self.lines;
        match crate::text::count_lines(text, left) {
            Ok(n) => self.lines += n,
            Err(line) => {
                let kind = LimitError::Lines { limit: MAX_LOAD_LINES };
                return Err(Error::Limit { at: Location::new(path, line), kind });
            }
        }
        if self.format == Format::Auth {
            let left = MAX_LOAD_TOKENS.saturating_sub(self.used.tokens);
            match crate::tokens::count_tokens(text, left) {
                Ok(n) => self.used.tokens += n,
                Err(line) => {
                    let kind = LimitError::Tokens { limit: MAX_LOAD_TOKENS };
                    return Err(Error::Limit { at: Location::new(path, line), kind });
                }
            }
        }
        Ok(())
    }
}

/// A read failure of `path`: as it is for a root file, at the directive `at` for an included one.
fn unreadable(err: Error, path: &Path, at: Option<&Location>) -> Error {
    match err {
        Error::Io { message, .. } if at.is_some() => {
            error_at(path, at, IncludeError::Unreadable { path: path.to_path_buf(), message })
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_targets_are_relative_to_the_including_file() {
        let from = Path::new("/etc/postgresql/15/main/postgresql.conf");
        assert_eq!(resolve("conf.d/a.conf", from), PathBuf::from("/etc/postgresql/15/main/conf.d/a.conf"));
        assert_eq!(resolve("../x.conf", from), PathBuf::from("/etc/postgresql/15/x.conf"));
        assert_eq!(resolve("/abs/./y.conf", from), PathBuf::from("/abs/y.conf"));
        assert_eq!(resolve("z.conf", Path::new("postgresql.conf")), PathBuf::from("z.conf"));
    }

    #[test]
    fn include_dir_takes_conf_files_in_byte_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.conf", "A.conf", "a.conf", ".hidden.conf", "x.conf~", "c.txt", ".conf"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.conf")).unwrap();
        let names: Vec<_> = conf_files_in_dir(dir.path(), &crate::Disk)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["A.conf", "a.conf", "b.conf"]);
    }
}
