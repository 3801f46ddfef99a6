//! Loading pg_hba.conf / pg_ident.conf from disk with their include directives (PostgreSQL 16+:
//! `include`, `include_if_exists`, `include_dir`, processed in place, depth-first) and `@file`
//! references. Shared by the `hba` and `ident` modules, which parse; this module only follows
//! references and records the order in which the server sees records.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};

use crate::error::{Error, IncludeError, Location};
use crate::include::{self, Guard, IncludeKind, SkippedInclude};
use crate::tokens::{self, Item, Token};

/// What the loader needs to know about a parsed authentication file.
pub(crate) trait AuthFile: Sized {
    fn parse_text(text: &str, path: &Path) -> Self;
    /// Include directives: (record index, kind, target, 1-based line).
    fn include_directives(&self) -> Vec<(usize, IncludeKind, String, usize)>;
    /// `@file` references: (target, 1-based line).
    fn file_refs(&self) -> Vec<(String, usize)>;
    fn record_count(&self) -> usize;
}

/// `@file` contents, keyed by the referencing file and the target as written.
pub(crate) type AtFiles = HashMap<(PathBuf, String), Vec<Token>>;

#[derive(Debug, Clone)]
pub(crate) struct Tree<F> {
    pub(crate) files: Vec<F>,
    /// The records the server sees, in order: (file index, record index). Include directives are
    /// replaced by the records of the files they include.
    pub(crate) order: Vec<(usize, usize)>,
    pub(crate) at_files: AtFiles,
    pub(crate) skipped: Vec<SkippedInclude>,
    pub(crate) paths: Vec<PathBuf>,
}

pub(crate) fn load<F: AuthFile>(root: &Path) -> Result<Tree<F>, Error> {
    let mut tree = Tree {
        files: Vec::new(),
        order: Vec::new(),
        at_files: HashMap::new(),
        skipped: Vec::new(),
        paths: Vec::new(),
    };
    tree.read(root, None, &mut Guard::default())?;
    Ok(tree)
}

impl<F: AuthFile> Tree<F> {
    fn read(&mut self, path: &Path, at: Option<&Location>, guard: &mut Guard) -> Result<(), Error> {
        guard.enter(path, at)?;
        let text = match at {
            Some(at) => include::read_included(path, at)?,
            None => crate::text::read(path)?,
        };
        let file = F::parse_text(&text, path);
        let depth = self.depth_of(guard);
        for (target, line) in file.file_refs() {
            if let Entry::Vacant(slot) = self.at_files.entry((path.to_path_buf(), target.clone())) {
                slot.insert(tokens::expand_file(&target, path, &Location::new(path, line), depth + 1)?);
            }
        }
        let directives = file.include_directives();
        let count = file.record_count();
        let index = self.files.len();
        self.files.push(file);
        self.paths.push(path.to_path_buf());
        for record in 0..count {
            match directives.iter().find(|d| d.0 == record) {
                Some((_, kind, target, line)) => {
                    self.follow(*kind, target, &Location::new(path, *line), guard)?
                }
                None => self.order.push((index, record)),
            }
        }
        guard.leave();
        Ok(())
    }

    fn depth_of(&self, guard: &Guard) -> usize {
        guard.depth().saturating_sub(1)
    }

    fn follow(
        &mut self,
        kind: IncludeKind,
        target: &str,
        at: &Location,
        guard: &mut Guard,
    ) -> Result<(), Error> {
        if target.trim_matches([' ', '\t', '\r', '\n']).is_empty() {
            return Err(Error::Include { at: at.clone(), kind: IncludeError::EmptyTarget });
        }
        let path = include::resolve(target, &at.file);
        match kind {
            IncludeKind::Include => self.read(&path, Some(at), guard),
            IncludeKind::IncludeIfExists => {
                if std::fs::File::open(&path).is_err() {
                    self.skipped.push(SkippedInclude { at: Some(at.clone()), path });
                    return Ok(());
                }
                self.read(&path, Some(at), guard)
            }
            IncludeKind::IncludeDir => {
                let files = include::conf_files_in_dir(&path)
                    .map_err(|kind| Error::Include { at: at.clone(), kind })?;
                files.iter().try_for_each(|f| self.read(f, Some(at), guard))
            }
        }
    }
}

/// Fills the `@file` items of a list with the tokens read for `file`.
pub(crate) fn fill_items(items: &mut [Item], file: &Path, at_files: &AtFiles) {
    for item in items {
        if let Item::File { target, tokens } = item {
            *tokens = at_files.get(&(file.to_path_buf(), target.clone())).cloned();
        }
    }
}
