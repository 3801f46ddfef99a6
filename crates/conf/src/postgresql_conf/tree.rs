//! A whole configuration as the server reads it: the root file, the files its include directives
//! pull in (depth-first, in place), and `postgresql.auto.conf` last. Answers "which line wins?".
//! Every file is read through the caller's `Source`, within the limits of one load.

use std::path::Path;

use super::{ConfFile, IncludeKind, Parsed, Setting};
use crate::error::{Error, IncludeError, Location};
use crate::include::{self, Format, Loader, SkippedInclude};
use crate::source::{Disk, Source};

/// A `postgresql.conf` include tree, loaded through a `Source`.
#[derive(Debug, Clone)]
pub struct ConfTree {
    files: Vec<ConfFile>,
    /// Every active setting in the order the server applies them: (file index, line index).
    order: Vec<(usize, usize)>,
    skipped: Vec<SkippedInclude>,
}

/// One line setting a parameter, and where it is.
#[derive(Debug, Clone, Copy)]
pub struct Occurrence<'a> {
    /// The file the line is in.
    pub file: &'a Path,
    /// The line.
    pub setting: &'a Setting,
}

impl Occurrence<'_> {
    /// The file and line, for messages.
    pub fn location(&self) -> Location {
        Location::new(self.file, self.setting.line())
    }
}

/// Which line decides a parameter, and the lines it overrides (in the order they were read).
#[derive(Debug, Clone)]
pub struct Resolution<'a> {
    /// The line whose value the server uses: the last one read.
    pub winner: Occurrence<'a>,
    /// Earlier lines for the same parameter, which have no effect.
    pub overridden: Vec<Occurrence<'a>>,
}

impl ConfTree {
    /// `load_from` with this process's own credentials (`Disk`).
    pub fn load(root: impl AsRef<Path>) -> Result<Self, Error> {
        Self::load_from(root, &Disk)
    }

    /// Loads `root` and everything it includes, reading through `src`. Any syntax error,
    /// missing or unreadable `include` target (a FIFO, a device, a file over
    /// [`MAX_FILE_BYTES`](crate::MAX_FILE_BYTES)), include cycle, nesting deeper than 10, or a
    /// load over [`MAX_LOAD_FILES`](crate::MAX_LOAD_FILES) files or
    /// [`MAX_LOAD_BYTES`](crate::MAX_LOAD_BYTES) (or more than
    /// [`MAX_LOAD_LINES`](crate::MAX_LOAD_LINES) lines) fails the load, naming file and line, as
    /// most of these make PostgreSQL ignore the whole configuration. Only an `include_if_exists`
    /// target that does not exist is skipped.
    pub fn load_from(root: impl AsRef<Path>, src: &dyn Source) -> Result<Self, Error> {
        let mut tree = Self::empty();
        tree.read_file(root.as_ref(), None, false, &mut Loader::new(src, Format::Conf))?;
        Ok(tree)
    }

    /// `load_with_auto_conf_from` with this process's own credentials (`Disk`).
    pub fn load_with_auto_conf(root: impl AsRef<Path>, auto_conf: impl AsRef<Path>) -> Result<Self, Error> {
        Self::load_with_auto_conf_from(root, auto_conf, &Disk)
    }

    /// Like `load_from`, then reads `auto_conf` (normally `$PGDATA/postgresql.auto.conf`) last,
    /// as the server does, in the same load. An auto file that does not exist is skipped; one
    /// that cannot be read is an error (`Error::Io`), as in PostgreSQL.
    pub fn load_with_auto_conf_from(
        root: impl AsRef<Path>,
        auto_conf: impl AsRef<Path>,
        src: &dyn Source,
    ) -> Result<Self, Error> {
        let mut tree = Self::empty();
        let mut loader = Loader::new(src, Format::Conf);
        tree.read_file(root.as_ref(), None, false, &mut loader)?;
        tree.read_file(auto_conf.as_ref(), None, true, &mut loader)?;
        Ok(tree)
    }

    fn empty() -> Self {
        Self { files: Vec::new(), order: Vec::new(), skipped: Vec::new() }
    }

    /// Every file read, root first, in the order first read.
    pub fn files(&self) -> &[ConfFile] {
        &self.files
    }

    /// The file read from `path` (as resolved from its include directive).
    pub fn file(&self, path: impl AsRef<Path>) -> Option<&ConfFile> {
        self.files.iter().find(|f| f.path() == path.as_ref())
    }

    /// Gives the files up for editing (each edit then touches one file, which the caller writes).
    pub fn into_files(self) -> Vec<ConfFile> {
        self.files
    }

    /// `include_if_exists` targets (and a missing auto.conf) that were skipped.
    pub fn skipped(&self) -> &[SkippedInclude] {
        &self.skipped
    }

    /// The effective value of `name` (last setting wins across the whole tree).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.resolve(name).map(|r| r.winner.setting.value())
    }

    /// Which line sets `name` for the server, and which earlier lines it overrides.
    pub fn resolve(&self, name: &str) -> Option<Resolution<'_>> {
        let mut all: Vec<Occurrence<'_>> =
            self.occurrences().filter(|o| o.setting.name().eq_ignore_ascii_case(name)).collect();
        let winner = all.pop()?;
        Some(Resolution { winner, overridden: all })
    }

    /// Every parameter set anywhere, each with its resolution, in the order the winners were read.
    pub fn effective(&self) -> Vec<Resolution<'_>> {
        let mut names: Vec<String> = Vec::new();
        for o in self.occurrences() {
            let lower = o.setting.name().to_ascii_lowercase();
            if let Some(pos) = names.iter().position(|n| *n == lower) {
                names.remove(pos);
            }
            names.push(lower);
        }
        names.iter().filter_map(|n| self.resolve(n)).collect()
    }

    /// Every active setting in application order.
    pub fn occurrences(&self) -> impl Iterator<Item = Occurrence<'_>> {
        self.order.iter().filter_map(|&(f, l)| {
            let file = &self.files[f];
            match &file.parsed[l] {
                Parsed::Setting(setting) => Some(Occurrence { file: file.path(), setting }),
                _ => None,
            }
        })
    }

    /// Reads one file and, in place, what it includes. With `if_exists`, a file that does not
    /// exist is recorded as skipped.
    fn read_file(
        &mut self,
        path: &Path,
        at: Option<&Location>,
        if_exists: bool,
        loader: &mut Loader<'_>,
    ) -> Result<(), Error> {
        let Some(text) = loader.open(path, at, if_exists)? else {
            self.skipped.push(SkippedInclude { at: at.cloned(), path: path.to_path_buf() });
            return Ok(());
        };
        let file = ConfFile::parse(&text, path)?;
        drop(text);
        let index = self.files.len();
        let directives: Vec<(usize, Option<(IncludeKind, String)>)> = file
            .parsed
            .iter()
            .enumerate()
            .map(|(l, p)| {
                (l, if let Parsed::Include(i) = p { Some((i.kind, i.target.clone())) } else { None })
            })
            .collect();
        self.files.push(file);
        for (line, directive) in directives {
            match directive {
                None => self.order.push((index, line)),
                Some((kind, target)) => {
                    let at = Location::new(path, line + 1);
                    self.follow(kind, &target, &at, loader)?;
                }
            }
        }
        loader.leave();
        Ok(())
    }

    fn follow(
        &mut self,
        kind: IncludeKind,
        target: &str,
        at: &Location,
        loader: &mut Loader<'_>,
    ) -> Result<(), Error> {
        // ParseConfigFile and GetConfFilesInDir reject all-blank names: they would name the directory.
        if target.trim_matches([' ', '\t', '\r', '\n']).is_empty() {
            return Err(Error::Include { at: at.clone(), kind: IncludeError::EmptyTarget });
        }
        let path = include::resolve(target, &at.file);
        match kind {
            IncludeKind::Include => self.read_file(&path, Some(at), false, loader),
            IncludeKind::IncludeIfExists => self.read_file(&path, Some(at), true, loader),
            IncludeKind::IncludeDir => {
                let files = loader.conf_files_in_dir(&path, at)?;
                files.iter().try_for_each(|f| self.read_file(f, Some(at), false, loader))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn last_setting_wins_across_includes() {
        let dir = tempfile::tempdir().unwrap();
        let root = write(
            dir.path(),
            "postgresql.conf",
            "ssl = off\ninclude 'a.conf'\ninclude_dir 'conf.d'\nport = 5433\ninclude_if_exists 'nope.conf'\n",
        );
        write(dir.path(), "a.conf", "ssl = on\nport = 5434\n");
        write(dir.path(), "conf.d/20-b.conf", "ssl = 'off'\n");
        write(dir.path(), "conf.d/10-a.conf", "SSL = on\nmax_connections = 10\n");
        let auto = write(dir.path(), "postgresql.auto.conf", "max_connections = '20'\n");
        let tree = ConfTree::load_with_auto_conf(&root, &auto).unwrap();

        let ssl = tree.resolve("ssl").unwrap();
        assert_eq!(ssl.winner.location(), Location::new(dir.path().join("conf.d/20-b.conf"), 1));
        let overridden: Vec<_> = ssl.overridden.iter().map(|o| o.location()).collect();
        assert_eq!(
            overridden,
            [
                Location::new(&root, 1),
                Location::new(dir.path().join("a.conf"), 1),
                Location::new(dir.path().join("conf.d/10-a.conf"), 1)
            ]
        );
        assert_eq!(tree.get("ssl"), Some("off"));
        assert_eq!(tree.get("port"), Some("5433"));
        assert_eq!(tree.get("max_connections"), Some("20"));
        assert_eq!(tree.skipped().len(), 1);
        let names: Vec<_> = tree.effective().iter().map(|r| r.winner.setting.name().to_owned()).collect();
        assert_eq!(names, ["ssl", "port", "max_connections"]);
    }

    #[test]
    fn include_cycles_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let root = write(dir.path(), "postgresql.conf", "include 'a.conf'\n");
        write(dir.path(), "a.conf", "x = 1\n\ninclude 'postgresql.conf'\n");
        let err = ConfTree::load(&root).unwrap_err();
        assert_eq!(
            err,
            Error::Include {
                at: Location::new(dir.path().join("a.conf"), 3),
                kind: IncludeError::Cycle { path: root.clone() }
            }
        );
    }

    #[test]
    fn nesting_deeper_than_ten_fails() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..11 {
            write(dir.path(), &format!("f{i}.conf"), &format!("include 'f{}.conf'\n", i + 1));
        }
        write(dir.path(), "f11.conf", "x = 1\n");
        let err = ConfTree::load(dir.path().join("f0.conf")).unwrap_err();
        assert!(
            matches!(&err, Error::Include { at, kind: IncludeError::TooDeep { .. } } if at.line == 1
            && at.file == dir.path().join("f10.conf")),
            "{err}"
        );
        // Ten levels below the root are fine.
        write(dir.path(), "f10.conf", "x = 1\n");
        assert_eq!(ConfTree::load(dir.path().join("f0.conf")).unwrap().get("x"), Some("1"));
    }

    #[test]
    fn bad_include_targets_name_the_directive() {
        let dir = tempfile::tempdir().unwrap();
        let root = write(dir.path(), "postgresql.conf", "a = 1\ninclude 'missing.conf'\n");
        let err = ConfTree::load(&root).unwrap_err();
        assert!(
            matches!(&err, Error::Include { at, kind: IncludeError::Unreadable { .. } } if at.line == 2),
            "{err}"
        );
        write(dir.path(), "postgresql.conf", "include_dir ''\n");
        let err = ConfTree::load(&root).unwrap_err();
        assert_eq!(err, Error::Include { at: Location::new(&root, 1), kind: IncludeError::EmptyTarget });
        write(dir.path(), "postgresql.conf", "include_dir 'nodir'\n");
        assert!(matches!(
            ConfTree::load(&root),
            Err(Error::Include { kind: IncludeError::BadDirectory { .. }, .. })
        ));
        write(dir.path(), "postgresql.conf", "a = 1\n");
        write(dir.path(), "bad.conf", "x = 'oops\n");
        write(dir.path(), "postgresql.conf", "include 'bad.conf'\n");
        let err = ConfTree::load(&root).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}:1: unterminated quoted string", dir.path().join("bad.conf").display())
        );
    }
}
