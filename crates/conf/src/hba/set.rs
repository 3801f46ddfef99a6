//! `HbaSet`: a pg_hba.conf with everything it includes, read through a `Source` as the server
//! reads it (include directives in place, `@file` lists filled in), and its validation as a
//! whole. The grammar of one file is in the parent module; this module only assembles files.

use std::path::{Path, PathBuf};

use super::{HbaFile, Record, Rule, ServerSettings, validate};
use crate::authfile::{self, AuthFile, Tree};
use crate::error::{Error, Problem};
use crate::include::{IncludeKind, SkippedInclude};
use crate::source::{Disk, Source};
use crate::tokens::Item;

impl AuthFile for HbaFile {
    fn parse_text(text: &str, path: &Path) -> Self {
        Self::parse(text, path)
    }

    fn include_directives(&self) -> Vec<(usize, IncludeKind, String, usize)> {
        let directive = |(i, r): (usize, &Record)| match r {
            Record::Include { at, kind, target } => Some((i, *kind, target.clone(), at.line)),
            _ => None,
        };
        self.records.iter().enumerate().filter_map(directive).collect()
    }

    fn file_refs(&self) -> Vec<(String, usize)> {
        let mut refs = Vec::new();
        for rule in self.rules() {
            for item in rule.databases.iter().chain(&rule.users) {
                if let Item::File { target, .. } = item {
                    refs.push((target.clone(), rule.at.line));
                }
            }
        }
        refs
    }

    fn record_count(&self) -> usize {
        self.records.len()
    }
}

/// A pg_hba.conf with everything it includes, as the server reads it.
#[derive(Debug, Clone)]
pub struct HbaSet {
    tree: Tree<HbaFile>,
}

impl HbaSet {
    /// `load_from` with this process's own credentials (`Disk`).
    pub fn load(root: impl AsRef<Path>) -> Result<Self, Error> {
        Self::load_from(root, &Disk)
    }

    /// Loads `root` through `src`, follows include directives and reads `@file` lists. Missing or
    /// unreadable `include` targets and `@file`s (a FIFO, a device, a file over
    /// [`MAX_FILE_BYTES`](crate::MAX_FILE_BYTES)), cycles, nesting deeper than 10, and a load
    /// over [`MAX_LOAD_FILES`](crate::MAX_LOAD_FILES) files or
    /// [`MAX_LOAD_BYTES`](crate::MAX_LOAD_BYTES), and more than
    /// [`MAX_LOAD_LINES`](crate::MAX_LOAD_LINES) lines or
    /// [`MAX_LOAD_TOKENS`](crate::MAX_LOAD_TOKENS) tokens, fail, naming file and line. Only an
    /// `include_if_exists` target that does not exist is skipped.
    pub fn load_from(root: impl AsRef<Path>, src: &dyn Source) -> Result<Self, Error> {
        Ok(Self { tree: authfile::load(root.as_ref(), src, true)? })
    }

    /// `load_from` as PostgreSQL `major` reads the files: before 16 an include directive is not
    /// followed (it is a line the server refuses, and `validate` reports it), so no rule of the
    /// files it names is taken for one in force. `@file` lists are read in every version.
    pub fn load_for(major: u32, root: impl AsRef<Path>, src: &dyn Source) -> Result<Self, Error> {
        Ok(Self { tree: authfile::load(root.as_ref(), src, major >= 16)? })
    }

    /// Every file read, the root first, then each in the order its include was met.
    pub fn files(&self) -> &[HbaFile] {
        &self.tree.files
    }

    /// The file loaded from `path` (compared as given, not canonicalised).
    pub fn file(&self, path: impl AsRef<Path>) -> Option<&HbaFile> {
        self.tree.files.iter().find(|f| f.path() == path.as_ref())
    }

    /// The files, owned, in the order of [`HbaSet::files`].
    pub fn into_files(self) -> Vec<HbaFile> {
        self.tree.files
    }

    /// The `include_if_exists` targets that did not exist, which PostgreSQL skips too.
    pub fn skipped(&self) -> &[SkippedInclude] {
        &self.tree.skipped
    }

    /// Every file the load read, in the order read: the root, the included files and the `@file`
    /// lists (each once), i.e. every file whose content the server takes from this load.
    pub fn paths_read(&self) -> &[PathBuf] {
        &self.tree.read
    }

    /// Every record in the order the server sees them (include directives replaced by the
    /// records of the included files).
    pub fn records(&self) -> Vec<Record> {
        self.tree
            .order
            .iter()
            .map(|&(f, r)| {
                let file = &self.tree.files[f];
                let mut record = file.records[r].clone();
                if let Record::Rule(rule) = &mut record {
                    authfile::fill_items(&mut rule.databases, &file.path, &self.tree.at_files);
                    authfile::fill_items(&mut rule.users, &file.path, &self.tree.at_files);
                }
                record
            })
            .collect()
    }

    /// Every rule in server order, `@file` lists filled in: the input of `evaluate` and `shadowed`.
    pub fn rules(&self) -> Vec<Rule> {
        self.records()
            .into_iter()
            .filter_map(|r| match r {
                Record::Rule(rule) => Some(rule),
                _ => None,
            })
            .collect()
    }

    /// Problems PostgreSQL `major` would have loading this configuration, its settings unknown.
    /// Include directives are reported as errors before 16 (and their files' records, when the
    /// set was loaded with them followed, are checked as 16+ would).
    pub fn validate(&self, major: u32) -> Vec<Problem> {
        self.validate_with(&ServerSettings::for_major(major))
    }

    /// Problems `server` would have loading this configuration.
    pub fn validate_with(&self, server: &ServerSettings) -> Vec<Problem> {
        let major = server.major;
        // The checks look at plain tokens only, so the records are not copied to fill in `@file`s.
        let mut refs: Vec<&Record> = Vec::new();
        if major < 16 {
            let files = self.tree.files.iter().flat_map(|f| &f.records);
            refs.extend(files.filter(|r| matches!(r, Record::Include { .. })));
        }
        refs.extend(self.tree.order.iter().map(|&(f, r)| &self.tree.files[f].records[r]));
        let root = self.tree.paths.first().cloned().unwrap_or_default();
        let mut problems = validate::validate(&refs, server, &root);
        problems.sort_by(|a, b| a.at.cmp(&b.at));
        problems.dedup();
        problems
    }
}
