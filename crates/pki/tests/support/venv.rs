//! Where the tests find the validators that are not ours: the Python virtual environment
//! `scripts/deps` makes, with `cryptography` and sslyze in it.
//!
//! Owns: the one path of that environment and the check that it is complete. Must not: create or
//! repair it (that is `scripts/deps`, which may need root for apt), or skip a test when it is missing:
//! a missing validator fails the test, naming `scripts/deps`.
//!
//! Shared by `crates/pki/tests/` and `crates/pgharden/tests/integration/certinfo.rs` (through `#[path]`).

#![allow(dead_code)] // each test binary uses the part it needs

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The environment's directory: `${XDG_CACHE_HOME:-$HOME/.cache}/pgharden-test-venv`, as
/// `scripts/deps` spells it (an empty `XDG_CACHE_HOME` counts as unset, as in the shell).
pub(super) fn dir() -> PathBuf {
    let cache = match std::env::var_os("XDG_CACHE_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => {
            let home =
                std::env::var_os("HOME").expect("HOME is set (scripts/deps puts the test venv under it)");
            PathBuf::from(home).join(".cache")
        }
    };
    cache.join("pgharden-test-venv")
}

/// The environment's Python, after checking once that `cryptography` and sslyze import in it.
pub(super) fn python() -> PathBuf {
    static CHECKED: OnceLock<PathBuf> = OnceLock::new();
    CHECKED.get_or_init(check).clone()
}

/// The environment's `sslyze` command.
pub(super) fn sslyze() -> PathBuf {
    let python = python();
    python.with_file_name("sslyze")
}

fn check() -> PathBuf {
    let python = dir().join("bin/python");
    let out = Command::new(&python).args(["-c", "import cryptography, sslyze"]).output();
    match out {
        Ok(out) if out.status.success() => python,
        Ok(out) => panic!(
            "{} cannot import cryptography and sslyze ({}); run scripts/deps",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!("the test venv is missing: {} ({e}); run scripts/deps", python.display()),
    }
}
