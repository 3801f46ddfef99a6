//! The limits of one load: files, bytes, lines and tokens. A configuration over a limit stops
//! quickly with an error at the line that crossed it, naming the limit; one just under it loads.

#![allow(clippy::unwrap_used)]

mod common;

use common::{within_10s, write};
use pgharden_conf::hba::HbaSet;
use pgharden_conf::postgresql_conf::ConfTree;
use pgharden_conf::{
    Disk, Error, IncludeError, Item, LimitError, Location, MAX_LOAD_BYTES, MAX_LOAD_FILES, MAX_LOAD_LINES,
    MAX_LOAD_TOKENS,
};

#[test]
fn a_diamond_of_includes_stops_at_the_file_limit() {
    // Each level includes the next twice: 2^11 - 1 reads for eleven levels (the review's 2^10
    // "diamond"), past the limit of 1,000 files.
    let dir = tempfile::tempdir().unwrap();
    for level in 0..10 {
        let next = format!("d{}.conf", level + 1);
        write(dir.path(), &format!("d{level}.conf"), format!("include '{next}'\ninclude '{next}'\n"));
    }
    write(dir.path(), "d10.conf", "x = 1\n");
    let root = dir.path().join("d0.conf");
    let r = root.clone();
    let err = within_10s("diamond", move || ConfTree::load_from(&r, &Disk)).unwrap_err();
    match &err {
        Error::Include { at, kind: IncludeError::TooManyFiles { limit, .. } } => {
            assert_eq!(*limit, MAX_LOAD_FILES);
            assert!(at.line == 1 || at.line == 2, "{err}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("one load reads at most 1000 files"), "{err}");

    // Eight levels below the root (511 files) are within the limit.
    write(dir.path(), "d8.conf", "x = 2\n");
    assert_eq!(ConfTree::load_from(&root, &Disk).unwrap().files().len(), 511);
}

#[test]
fn the_file_limit_counts_every_file_and_directory_listing() {
    let dir = tempfile::tempdir().unwrap();
    let root = write(dir.path(), "postgresql.conf", "port = 5432\ninclude_dir 'conf.d'\n");
    // The root, the listing and 998 files are 1,000.
    for i in 0..MAX_LOAD_FILES - 2 {
        write(dir.path(), &format!("conf.d/{i:04}.conf"), "");
    }
    assert_eq!(ConfTree::load_from(&root, &Disk).unwrap().files().len(), MAX_LOAD_FILES - 1);
    let last = write(dir.path(), "conf.d/9999.conf", "");
    let err = ConfTree::load_from(&root, &Disk).unwrap_err();
    assert_eq!(
        err,
        Error::Include {
            at: Location::new(&root, 2),
            kind: IncludeError::TooManyFiles { path: last, limit: MAX_LOAD_FILES }
        }
    );
}

#[test]
fn the_byte_limit_counts_every_file_read() {
    let dir = tempfile::tempdir().unwrap();
    // Five reads of a fifth of the limit (and a little more) are over it; four are not.
    let size = (MAX_LOAD_BYTES / 5) as usize + 1024;
    let big = write(dir.path(), "big.conf", format!("#{}\n", "x".repeat(size - 2)));
    let root = write(dir.path(), "postgresql.conf", "include 'big.conf'\n".repeat(4));
    assert_eq!(ConfTree::load_from(&root, &Disk).unwrap().files().len(), 5);
    write(dir.path(), "postgresql.conf", "include 'big.conf'\n".repeat(5));
    let err = ConfTree::load_from(&root, &Disk).unwrap_err();
    assert_eq!(
        err,
        Error::Include {
            at: Location::new(&root, 5),
            kind: IncludeError::TooManyBytes { path: big, limit: MAX_LOAD_BYTES }
        }
    );
    assert!(err.to_string().ends_with("one load reads at most 67108864 bytes (64 MiB) in all"), "{err}");
}

#[test]
fn every_reference_to_an_at_file_counts_its_bytes_again() {
    // PostgreSQL reads an @file once per reference; a list referenced by many rules is copied
    // into each of them, so each reference counts.
    let dir = tempfile::tempdir().unwrap();
    let list = write(dir.path(), "big", "a".repeat(1 << 20));
    let rule = "local all @big trust\n";
    let root = write(dir.path(), "pg_hba.conf", rule.repeat(60));
    assert_eq!(HbaSet::load_from(&root, &Disk).unwrap().rules().len(), 60);
    // 70 rules: root bytes + k MiB cross 64 MiB at the 64th reference.
    write(dir.path(), "pg_hba.conf", rule.repeat(70));
    let err = HbaSet::load_from(&root, &Disk).unwrap_err();
    assert_eq!(
        err,
        Error::Include {
            at: Location::new(&root, 64),
            kind: IncludeError::TooManyBytes { path: list, limit: MAX_LOAD_BYTES }
        }
    );
}

#[test]
fn the_line_limit_is_reported_where_it_is_crossed() {
    let dir = tempfile::tempdir().unwrap();
    let root = write(dir.path(), "postgresql.conf", "#\n".repeat(MAX_LOAD_LINES));
    assert!(ConfTree::load_from(&root, &Disk).is_ok());
    write(dir.path(), "postgresql.conf", format!("{}x = 1", "\n".repeat(MAX_LOAD_LINES)));
    let err = ConfTree::load_from(&root, &Disk).unwrap_err();
    let lines = LimitError::Lines { limit: MAX_LOAD_LINES };
    assert_eq!(err, Error::Limit { at: Location::new(&root, MAX_LOAD_LINES + 1), kind: lines.clone() });
    assert!(err.to_string().contains("one load reads at most 100000 lines"), "{err}");

    // The lines of all files count: 60,000 in the root leave 40,000 for what it includes.
    write(dir.path(), "postgresql.conf", format!("include 'inc.conf'\n{}", "\n".repeat(59_999)));
    let inc = write(dir.path(), "inc.conf", "\n".repeat(50_000));
    let err = ConfTree::load_from(&root, &Disk).unwrap_err();
    assert_eq!(err, Error::Limit { at: Location::new(&inc, 40_001), kind: lines });
}

#[test]
fn the_token_limit_counts_at_file_lists_for_every_reference() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = LimitError::Tokens { limit: MAX_LOAD_TOKENS };
    // One line of a million and one list items.
    let root =
        write(dir.path(), "pg_hba.conf", format!("local {}a all trust\n", "a,".repeat(MAX_LOAD_TOKENS)));
    let err = HbaSet::load_from(&root, &Disk).unwrap_err();
    assert_eq!(err, Error::Limit { at: Location::new(&root, 1), kind: tokens.clone() });

    // A 100,000-token list referenced by eleven rules (4 tokens each): the tenth reference
    // brings the count over the limit.
    write(dir.path(), "list", "u,".repeat(100_000));
    write(dir.path(), "pg_hba.conf", "local all @list trust\n".repeat(11));
    let err = HbaSet::load_from(&root, &Disk).unwrap_err();
    assert_eq!(err, Error::Limit { at: Location::new(&root, 10), kind: tokens });
    write(dir.path(), "pg_hba.conf", "local all @list trust\n".repeat(9));
    let rules = HbaSet::load_from(&root, &Disk).unwrap().rules();
    match &rules[8].users[0] {
        Item::File { target, tokens: Some(list) } => {
            assert_eq!((target.as_str(), list.len()), ("list", 100_000));
        }
        other => panic!("{other:?}"),
    }
}
