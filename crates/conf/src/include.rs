//! What the three file types share about includes: where a relative target points, which files an
//! `include_dir` takes, and the guard against cycles and too-deep nesting. It reads directories and
//! canonicalizes paths, and reads no file contents itself.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, IncludeError, Location};

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
    const ALL: [(&'static str, IncludeKind); 3] = [
        ("include", IncludeKind::Include),
        ("include_if_exists", IncludeKind::IncludeIfExists),
        ("include_dir", IncludeKind::IncludeDir),
    ];

    /// guc-file.l compares directive names with `guc_name_compare` (ASCII case-insensitive).
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find_map(|(n, kind)| name.eq_ignore_ascii_case(n).then_some(kind))
    }

    /// hba.c compares with `strcmp`.
    pub(crate) fn from_exact(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find_map(|(n, kind)| (name == n).then_some(kind))
    }

    pub fn keyword(self) -> &'static str {
        match self {
            IncludeKind::Include => "include",
            IncludeKind::IncludeIfExists => "include_if_exists",
            IncludeKind::IncludeDir => "include_dir",
        }
    }
}

/// An `include_if_exists` target (or a `postgresql.auto.conf`) that could not be opened and that
/// PostgreSQL therefore skips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedInclude {
    /// The directive; None for `postgresql.auto.conf`.
    pub at: Option<Location>,
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
pub(crate) fn conf_files_in_dir(dir: &Path) -> Result<Vec<PathBuf>, IncludeError> {
    let bad =
        |e: std::io::Error| IncludeError::BadDirectory { path: dir.to_path_buf(), message: e.to_string() };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(bad)? {
        let entry = entry.map_err(bad)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.len() < 6 || name.starts_with('.') || !name.ends_with(".conf") {
            continue;
        }
        let path = dir.join(name);
        // Like get_dirent_type(..., look_through_symlinks = true): a symlink to a directory is skipped.
        let is_dir = std::fs::metadata(&path).map_err(bad)?.is_dir();
        if !is_dir {
            files.push(path);
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
    pub(crate) fn enter(&mut self, path: &Path, at: Option<&Location>) -> Result<(), Error> {
        let depth = self.open.len();
        let err = |kind| match at {
            Some(at) => Error::Include { at: at.clone(), kind },
            None => Error::Include { at: Location::new(path, 0), kind },
        };
        if depth > MAX_DEPTH {
            return Err(err(IncludeError::TooDeep { path: path.to_path_buf() }));
        }
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.open.contains(&canonical) {
            return Err(err(IncludeError::Cycle { path: path.to_path_buf() }));
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

/// Reads an included file, turning a failure into an error at the including line.
pub(crate) fn read_included(path: &Path, at: &Location) -> Result<String, Error> {
    crate::text::read(path).map_err(|e| match e {
        Error::Io { message, .. } => Error::Include {
            at: at.clone(),
            kind: IncludeError::Unreadable { path: path.to_path_buf(), message },
        },
        other => other,
    })
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
        let names: Vec<_> = conf_files_in_dir(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["A.conf", "a.conf", "b.conf"]);
    }
}
