//! Loading pg_hba.conf / pg_ident.conf through a `Source` with their include directives
//! (PostgreSQL 16+: `include`, `include_if_exists`, `include_dir`, processed in place,
//! depth-first; a load for an older server leaves them as records) and `@file` references.
//! Shared by the `hba` and `ident` modules, which parse; this module only follows references
//! (within the limits of a load, see `include::Loader`) and records the order in which the server
//! sees records and every file it read.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};

use crate::error::{Error, IncludeError, Location};
use crate::include::{self, Format, IncludeKind, Loader, SkippedInclude, Usage};
use crate::source::Source;
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

/// What reading each `@file` of `AtFiles` cost the load: a later reference to the same list counts
/// it again, as PostgreSQL reads the file once per reference. This also bounds what filling the
/// lists into the records (`fill_items`) can copy.
type AtCosts = HashMap<(PathBuf, String), Usage>;

#[derive(Debug, Clone)]
pub(crate) struct Tree<F> {
    pub(crate) files: Vec<F>,
    /// The records the server sees, in order: (file index, record index). Include directives are
    /// replaced by the records of the files they include.
    pub(crate) order: Vec<(usize, usize)>,
    pub(crate) at_files: AtFiles,
    pub(crate) skipped: Vec<SkippedInclude>,
    pub(crate) paths: Vec<PathBuf>,
    /// Every file read, `@file` lists included, each once in the order first read.
    pub(crate) read: Vec<PathBuf>,
    /// Whether include directives are followed (PostgreSQL 16+) or kept as records.
    follow_includes: bool,
}

/// Loads `root` and everything it references, reading through `src`; `follow_includes` false
/// reads as PostgreSQL 14 and 15 do, for which an include directive is just a line.
pub(crate) fn load<F: AuthFile>(
    root: &Path,
    src: &dyn Source,
    follow_includes: bool,
) -> Result<Tree<F>, Error> {
    let mut tree = Tree {
        files: Vec::new(),
        order: Vec::new(),
        at_files: HashMap::new(),
        skipped: Vec::new(),
        paths: Vec::new(),
        read: Vec::new(),
        follow_includes,
    };
    let mut loader = Loader::new(src, Format::Auth);
    let mut costs = AtCosts::new();
    tree.read(root, None, false, &mut loader, &mut costs)?;
    tree.read = loader.paths_read().to_vec();
    Ok(tree)
}

impl<F: AuthFile> Tree<F> {
    fn read(
        &mut self,
        path: &Path,
        at: Option<&Location>,
        if_exists: bool,
        loader: &mut Loader<'_>,
        costs: &mut AtCosts,
    ) -> Result<(), Error> {
        let Some(text) = loader.open(path, at, if_exists)? else {
            self.skipped.push(SkippedInclude { at: at.cloned(), path: path.to_path_buf() });
            return Ok(());
        };
        let file = F::parse_text(&text, path);
        drop(text);
        let depth = loader.guard.depth().saturating_sub(1);
        for (target, line) in file.file_refs() {
            self.expand(path, target, &Location::new(path, line), depth + 1, loader, costs)?;
        }
        let directives = file.include_directives();
        let count = file.record_count();
        let index = self.files.len();
        self.files.push(file);
        self.paths.push(path.to_path_buf());
        for record in 0..count {
            match directives.iter().find(|d| d.0 == record).filter(|_| self.follow_includes) {
                Some((_, kind, target, line)) => {
                    self.follow(*kind, target, &Location::new(path, *line), loader, costs)?;
                }
                None => self.order.push((index, record)),
            }
        }
        loader.leave();
        Ok(())
    }

    /// Reads the `@file` `target` referenced from `file` at `at`, or counts its cost again if
    /// `file` has referenced it before.
    fn expand(
        &mut self,
        file: &Path,
        target: String,
        at: &Location,
        depth: usize,
        loader: &mut Loader<'_>,
        costs: &mut AtCosts,
    ) -> Result<(), Error> {
        match self.at_files.entry((file.to_path_buf(), target)) {
            Entry::Occupied(slot) => {
                let cost = costs.get(slot.key()).copied().unwrap_or_default();
                loader.count_again(cost, &include::resolve(&slot.key().1, file), at)
            }
            Entry::Vacant(slot) => {
                let before = loader.used();
                let tokens = tokens::expand_file(&slot.key().1, file, at, depth, loader)?;
                let after = loader.used();
                let cost = Usage { bytes: after.bytes - before.bytes, tokens: after.tokens - before.tokens };
                costs.insert(slot.key().clone(), cost);
                slot.insert(tokens);
                Ok(())
            }
        }
    }

    fn follow(
        &mut self,
        kind: IncludeKind,
        target: &str,
        at: &Location,
        loader: &mut Loader<'_>,
        costs: &mut AtCosts,
    ) -> Result<(), Error> {
        if target.trim_matches([' ', '\t', '\r', '\n']).is_empty() {
            return Err(Error::Include { at: at.clone(), kind: IncludeError::EmptyTarget });
        }
        let path = include::resolve(target, &at.file);
        match kind {
            IncludeKind::Include => self.read(&path, Some(at), false, loader, costs),
            IncludeKind::IncludeIfExists => self.read(&path, Some(at), true, loader, costs),
            IncludeKind::IncludeDir => {
                let files = loader.conf_files_in_dir(&path, at)?;
                files.iter().try_for_each(|f| self.read(f, Some(at), false, loader, costs))
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
