//! Reading through a `Source`: FIFOs anywhere in a configuration are refused at once instead of
//! hanging, only targets that do not exist are skipped, files over the size limit are refused,
//! and nothing is read except through the `Source`.

#![allow(clippy::unwrap_used)]

mod common;

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use common::{Call, Memory, Recording, fifo, within_10s, write};
use pgharden_conf::hba::{HbaFile, HbaSet};
use pgharden_conf::ident::{IdentFile, IdentSet};
use pgharden_conf::postgresql_conf::{ConfFile, ConfTree};
use pgharden_conf::{Disk, Error, IncludeError, Location, MAX_FILE_BYTES, SkippedInclude, Source};

const FIFO: &str = "not a regular file (a FIFO)";

/// The error must be an `Error::Include` at `at` that cannot read `path` because it is a FIFO.
fn assert_fifo_include(err: &Error, at: Location, path: &Path) {
    match err {
        Error::Include { at: got, kind: IncludeError::Unreadable { path: p, message } } => {
            assert_eq!((got, p.as_path(), message.as_str()), (&at, path, FIFO), "{err}");
        }
        other => panic!("expected an unreadable include, got {other:?}"),
    }
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");
}

#[test]
fn a_fifo_as_include_target_is_refused_at_the_directive() {
    let dir = tempfile::tempdir().unwrap();
    let root = write(dir.path(), "postgresql.conf", "ssl = on\ninclude 'evil.conf'\n");
    let evil = fifo(dir.path(), "evil.conf");
    let r = root.clone();
    let err = within_10s("include of a FIFO", move || ConfTree::load_from(&r, &Disk)).unwrap_err();
    assert_fifo_include(&err, Location::new(&root, 2), &evil);
}

#[test]
fn a_fifo_as_include_if_exists_target_is_an_error_not_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = write(dir.path(), "postgresql.conf", "include_if_exists 'evil.conf'\n");
    let evil = fifo(dir.path(), "evil.conf");
    let r = root.clone();
    let err = within_10s("include_if_exists of a FIFO", move || ConfTree::load_from(&r, &Disk)).unwrap_err();
    assert_fifo_include(&err, Location::new(&root, 1), &evil);
}

#[test]
fn a_fifo_in_an_include_dir_is_refused_and_so_is_a_fifo_as_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = write(dir.path(), "postgresql.conf", "port = 5432\n\ninclude_dir 'conf.d'\n");
    write(dir.path(), "conf.d/01-ok.conf", "ssl = on\n");
    let evil = fifo(dir.path(), "conf.d/02-evil.conf");
    let r = root.clone();
    let err = within_10s("FIFO in include_dir", move || ConfTree::load_from(&r, &Disk)).unwrap_err();
    assert_fifo_include(&err, Location::new(&root, 3), &evil);

    write(dir.path(), "postgresql.conf", "include_dir 'fifo.d'\n");
    let fifo_dir = fifo(dir.path(), "fifo.d");
    let r = root.clone();
    let err = within_10s("include_dir of a FIFO", move || ConfTree::load_from(&r, &Disk)).unwrap_err();
    match &err {
        Error::Include { at, kind: IncludeError::BadDirectory { path, .. } } => {
            assert_eq!((at, path), (&Location::new(&root, 1), &fifo_dir));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_fifo_as_postgresql_auto_conf_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = write(dir.path(), "postgresql.conf", "ssl = on\n");
    let auto = fifo(dir.path(), "postgresql.auto.conf");
    let (r, a) = (root.clone(), auto.clone());
    let err =
        within_10s("FIFO auto.conf", move || ConfTree::load_with_auto_conf_from(&r, &a, &Disk)).unwrap_err();
    match &err {
        Error::Io { path, kind, message } => {
            assert_eq!((path, *kind, message.as_str()), (&auto, io::ErrorKind::InvalidInput, FIFO));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.to_string(), format!("{}: {FIFO}", auto.display()));
}

#[test]
fn a_fifo_as_the_root_file_is_refused_by_every_loader() {
    let dir = tempfile::tempdir().unwrap();
    let evil = fifo(dir.path(), "pg_hba.conf");
    type Load = fn(&Path) -> Result<(), Error>;
    let loads: Vec<(&str, Load)> = vec![
        ("ConfFile", |p| ConfFile::load_from(p, &Disk).map(drop)),
        ("ConfTree", |p| ConfTree::load_from(p, &Disk).map(drop)),
        ("HbaFile", |p| HbaFile::load_from(p, &Disk).map(drop)),
        ("HbaSet", |p| HbaSet::load_from(p, &Disk).map(drop)),
        ("IdentFile", |p| IdentFile::load_from(p, &Disk).map(drop)),
        ("IdentSet", |p| IdentSet::load_from(p, &Disk).map(drop)),
    ];
    for (name, load) in loads {
        let e = evil.clone();
        let err = within_10s(name, move || load(&e)).unwrap_err();
        assert_eq!(err.to_string(), format!("{}: {FIFO}", evil.display()), "{name}");
    }
}

#[test]
fn a_fifo_as_pg_hba_at_file_is_refused_at_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let root = write(dir.path(), "pg_hba.conf", "local all all peer\nlocal all @evil trust\n");
    let evil = fifo(dir.path(), "evil");
    let r = root.clone();
    let err = within_10s("@file FIFO", move || HbaSet::load_from(&r, &Disk)).unwrap_err();
    assert_fifo_include(&err, Location::new(&root, 2), &evil);
}

#[test]
fn a_fifo_named_by_a_pg_hba_or_pg_ident_include_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let evil = fifo(dir.path(), "evil.conf");
    fifo(dir.path(), "d/x.conf");
    for directive in ["include evil.conf", "include_if_exists evil.conf", "include_dir d"] {
        let target = if directive.ends_with(" d") { dir.path().join("d/x.conf") } else { evil.clone() };
        let hba = write(dir.path(), "pg_hba.conf", format!("local all all peer\n{directive}\n"));
        let h = hba.clone();
        let err = within_10s(directive, move || HbaSet::load_from(&h, &Disk)).unwrap_err();
        assert_fifo_include(&err, Location::new(&hba, 2), &target);

        let ident = write(dir.path(), "pg_ident.conf", format!("{directive}\n"));
        let i = ident.clone();
        let err = within_10s(directive, move || IdentSet::load_from(&i, &Disk)).unwrap_err();
        assert_fifo_include(&err, Location::new(&ident, 1), &target);
    }
}

#[test]
fn only_targets_that_do_not_exist_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(dir.path().join("nowhere"), dir.path().join("dangling.conf")).unwrap();
    let root = write(
        dir.path(),
        "postgresql.conf",
        "include_if_exists 'nope.conf'\ninclude_if_exists 'dangling.conf'\n",
    );
    let auto = dir.path().join("postgresql.auto.conf");
    let tree = ConfTree::load_with_auto_conf_from(&root, &auto, &Disk).unwrap();
    assert_eq!(
        tree.skipped(),
        [
            SkippedInclude { at: Some(Location::new(&root, 1)), path: dir.path().join("nope.conf") },
            SkippedInclude { at: Some(Location::new(&root, 2)), path: dir.path().join("dangling.conf") },
            SkippedInclude { at: None, path: auto },
        ]
    );

    let hba = write(dir.path(), "pg_hba.conf", "include_if_exists nope.conf\nlocal all all peer\n");
    let set = HbaSet::load_from(&hba, &Disk).unwrap();
    assert_eq!(
        set.skipped(),
        [SkippedInclude { at: Some(Location::new(&hba, 1)), path: dir.path().join("nope.conf") }]
    );
    assert_eq!(set.rules().len(), 1);
    let ident = write(dir.path(), "pg_ident.conf", "include_if_exists nope.conf\n");
    assert_eq!(IdentSet::load_from(&ident, &Disk).unwrap().skipped().len(), 1);

    // A path through a file that is not a directory is ENOTDIR, not ENOENT: PostgreSQL fails on it.
    write(dir.path(), "plain", "");
    write(dir.path(), "postgresql.conf", "include_if_exists 'plain/x.conf'\n");
    let err = ConfTree::load_from(&root, &Disk).unwrap_err();
    assert!(
        matches!(&err, Error::Include { at, kind: IncludeError::Unreadable { .. } } if at.line == 1),
        "{err}"
    );
}

/// `Disk`, except that one path gives "permission denied" as the kernel would (tests run as root,
/// who is never denied by file modes).
struct Denied(PathBuf);

impl Source for Denied {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        if path == self.0 {
            return Err(io::Error::from(nix::errno::Errno::EACCES));
        }
        Disk.read(path)
    }

    fn read_dir(&self, dir: &Path) -> io::Result<Vec<(OsString, bool)>> {
        Disk.read_dir(dir)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        Disk.canonicalize(path)
    }
}

#[test]
fn an_unreadable_include_if_exists_target_or_auto_conf_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let secret = write(dir.path(), "secret.conf", "ssl = off\n");
    let denied = Denied(secret.clone());
    let message = "Permission denied (os error 13)";

    let root = write(dir.path(), "postgresql.conf", "ssl = on\ninclude_if_exists 'secret.conf'\n");
    let err = ConfTree::load_from(&root, &denied).unwrap_err();
    let expected = IncludeError::Unreadable { path: secret.clone(), message: message.into() };
    assert_eq!(err, Error::Include { at: Location::new(&root, 2), kind: expected.clone() });

    write(dir.path(), "postgresql.conf", "ssl = on\n");
    let err = ConfTree::load_with_auto_conf_from(&root, &secret, &denied).unwrap_err();
    assert_eq!(err.to_string(), format!("{}: {message}", secret.display()));

    let hba = write(dir.path(), "pg_hba.conf", "local all all peer\ninclude_if_exists secret.conf\n");
    let err = HbaSet::load_from(&hba, &denied).unwrap_err();
    assert_eq!(err, Error::Include { at: Location::new(&hba, 2), kind: expected });
}

#[test]
fn files_over_the_size_limit_are_refused_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.conf");
    std::fs::File::create(&big).unwrap().set_len(17 << 20).unwrap();
    let root = write(dir.path(), "postgresql.conf", "include 'big.conf'\n");
    let err = ConfTree::load_from(&root, &Disk).unwrap_err();
    assert!(
        matches!(&err, Error::Include { at, kind: IncludeError::Unreadable { path, .. } } if at.line == 1 && *path == big),
        "{err}"
    );
    assert!(err.to_string().contains("larger than 16777216 bytes (16 MiB)"));
    let err = HbaFile::load_from(&big, &Disk).unwrap_err();
    assert!(matches!(&err, Error::Io { kind: io::ErrorKind::InvalidData, .. }), "{err}");
    assert!(err.to_string().contains("16777216 bytes (16 MiB)"), "{err}");
}

/// A `Source` that ignores the rules: it returns more than `MAX_FILE_BYTES` and more than
/// `MAX_DIR_ENTRIES` entries. The loaders must not rely on a `Source` to keep the limits.
struct Careless;

impl Source for Careless {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        if path.ends_with("postgresql.conf") {
            return Ok(b"include 'big.conf'\ninclude_dir 'many'\n".to_vec());
        }
        Ok(vec![b'#'; MAX_FILE_BYTES as usize + 1])
    }

    fn read_dir(&self, _: &Path) -> io::Result<Vec<(OsString, bool)>> {
        Ok((0..=10_000).map(|i| (OsString::from(format!("{i:05}.conf")), false)).collect())
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        Ok(path.to_path_buf())
    }
}

#[test]
fn a_careless_source_cannot_get_past_the_limits() {
    let err = ConfTree::load_from("/virtual/postgresql.conf", &Careless).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/virtual/postgresql.conf:1: cannot include /virtual/big.conf: larger than")
    );
    let err = ConfTree::load_from("/virtual/postgresql.conf", &SkipBig).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/virtual/postgresql.conf:2: cannot read include directory /virtual/many: more than 10000 entries"
    );
}

/// `Careless`, with an empty `big.conf`.
struct SkipBig;

impl Source for SkipBig {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        if path.ends_with("big.conf") { Ok(Vec::new()) } else { Careless.read(path) }
    }

    fn read_dir(&self, dir: &Path) -> io::Result<Vec<(OsString, bool)>> {
        Careless.read_dir(dir)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        Careless.canonicalize(path)
    }
}

fn nasty() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/nasty")
}

#[test]
fn loads_read_the_files_they_name_and_nothing_else() {
    let dir = nasty();
    let recording = Recording::default();
    let tree = ConfTree::load_with_auto_conf_from(
        dir.join("postgresql.conf"),
        dir.join("postgresql.auto.conf"),
        &recording,
    )
    .unwrap();
    assert_eq!(tree.files().len(), 5);
    let p = PathBuf::from;
    let expected = [
        Call::Canonicalize(p("postgresql.conf")),
        Call::Read(p("postgresql.conf")),
        Call::Canonicalize(p("inc/extra.conf")),
        Call::Read(p("inc/extra.conf")),
        Call::ReadDir(p("conf.d")),
        Call::Canonicalize(p("conf.d/01-first.conf")),
        Call::Read(p("conf.d/01-first.conf")),
        Call::Canonicalize(p("conf.d/02-second.conf")),
        Call::Read(p("conf.d/02-second.conf")),
        Call::Canonicalize(p("missing.conf")),
        Call::Read(p("missing.conf")),
        Call::Canonicalize(p("postgresql.auto.conf")),
        Call::Read(p("postgresql.auto.conf")),
    ];
    assert_eq!(recording.calls_relative_to(&dir), expected);

    let recording = Recording::default();
    let set = HbaSet::load_from(dir.join("pg_hba.conf"), &recording).unwrap();
    assert_eq!(set.rules().len(), 8);
    let reads: Vec<Call> =
        recording.calls_relative_to(&dir).into_iter().filter(|c| matches!(c, Call::Read(_))).collect();
    assert_eq!(
        reads,
        [Call::Read(p("pg_hba.conf")), Call::Read(p("admins")), Call::Read(p("hba.d/extra.conf"))]
    );
}

#[test]
fn a_source_serving_another_tree_gets_the_same_result_as_disk() {
    // The files exist only in memory, under a directory that does not exist: a loader reading
    // anything on its own would fail or differ.
    let real = nasty();
    let virtual_root = Path::new("/nonexistent-pgharden-test/nasty");
    assert!(!virtual_root.exists());
    let memory = Memory::copy_of(&real, virtual_root);
    let show = |text: String, base: &Path| text.replace(&base.display().to_string(), "BASE");

    let load = |base: &Path, src: &dyn Source| {
        ConfTree::load_with_auto_conf_from(
            base.join("postgresql.conf"),
            base.join("postgresql.auto.conf"),
            src,
        )
        .unwrap()
    };
    let (from_disk, from_memory) = (load(&real, &Disk), load(virtual_root, &memory));
    let files = |t: &ConfTree, base: &Path| show(format!("{:?}", t.files()), base);
    assert_eq!(files(&from_memory, virtual_root), files(&from_disk, &real));
    assert_eq!(
        show(format!("{:?}", from_memory.skipped()), virtual_root),
        show(format!("{:?}", from_disk.skipped()), &real)
    );
    assert_eq!(from_memory.get("ssl"), Some("on"));

    let hba = |base: &Path, src: &dyn Source| {
        let set = HbaSet::load_from(base.join("pg_hba.conf"), src).unwrap();
        show(format!("{:?} {:?}", set.records(), set.validate(16)), base)
    };
    assert_eq!(hba(virtual_root, &memory), hba(&real, &Disk));
    let ident = |base: &Path, src: &dyn Source| {
        let set = IdentSet::load_from(base.join("pg_ident.conf"), src).unwrap();
        show(format!("{:?}", set.entries()), base)
    };
    assert_eq!(ident(virtual_root, &memory), ident(&real, &Disk));
    assert!(memory.calls.borrow().iter().all(|c| matches!(c, Call::Read(p) | Call::ReadDir(p) | Call::Canonicalize(p) if p.starts_with(virtual_root))));
}
