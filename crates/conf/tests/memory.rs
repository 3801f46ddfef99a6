//! Loading any file of up to `MAX_FILE_BYTES` takes at most a small multiple of that in memory,
//! whatever its shape: one huge line, many short lines, long lists, huge regular expressions.
//! The review saw 20 MB lines abort with out-of-memory, and 16 MiB of short lines took gigabytes
//! before the line and token limits.
//!
//! Each shape is loaded in a process of its own (this test binary, run with `--child SHAPE`, so
//! no other test shares its memory), which reports how far its peak resident size (`VmHWM`) rose
//! during the load. This file has no libtest harness (`harness = false` in Cargo.toml): `main`
//! runs the shapes and fails if any went over the bound.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use pgharden_conf::hba::HbaSet;
use pgharden_conf::ident::IdentSet;
use pgharden_conf::postgresql_conf::ConfTree;
use pgharden_conf::{Disk, MAX_FILE_BYTES, MAX_LOAD_LINES};

/// The most a load may add to the peak: eight times the largest file.
const BOUND: u64 = 8 * MAX_FILE_BYTES;

/// Just under the file size limit, so that every shape is read and parsed (or refused by a limit
/// after it was read).
const SIZE: usize = MAX_FILE_BYTES as usize - 1024;

const SHAPES: [&str; 10] = [
    "conf-huge-garbage",
    "conf-huge-value",
    "conf-short-lines",
    "conf-settings-at-line-limit",
    "hba-huge-list",
    "hba-rules-and-list-at-limits",
    "hba-invalid-lines-at-line-limit",
    "hba-huge-regex",
    "hba-huge-hostname",
    "ident-mappings-at-line-limit",
];

fn fill(unit: &str) -> String {
    unit.repeat(SIZE / unit.len())
}

fn shape(name: &str) -> String {
    let lines = MAX_LOAD_LINES - 1;
    match name {
        "conf-huge-garbage" => format!("bad = on {}\n", fill("x")),
        "conf-huge-value" => format!("x = '{}'\n", fill("a")),
        "conf-short-lines" => fill("a=1\n"),
        "conf-settings-at-line-limit" => format!("{}x = '{}'\n", "a=1\n".repeat(lines), "v".repeat(SIZE / 2)),
        "hba-huge-list" => format!("local {}a all trust\n", fill("a,")),
        // The worst that loads: rules up to the line limit, a list up to the token limit.
        "hba-rules-and-list-at-limits" => {
            format!("{}local {}a all trust\n", "local all all trust\n".repeat(lines), "a,".repeat(600_000))
        }
        "hba-invalid-lines-at-line-limit" => "x\n".repeat(MAX_LOAD_LINES),
        "hba-huge-regex" => format!("local all /({} trust\n", fill("x")),
        "hba-huge-hostname" => format!("host all all {} md5\n", fill("h")),
        "ident-mappings-at-line-limit" => "m a b\n".repeat(MAX_LOAD_LINES),
        other => panic!("unknown shape {other}"),
    }
}

/// Loads the file as the format the shape names, and validates it as a caller would.
fn load(name: &str, path: &Path) -> String {
    let outcome = if name.starts_with("conf") {
        ConfTree::load_from(path, &Disk).map(|t| format!("{} settings", t.occurrences().count()))
    } else if name.starts_with("hba") {
        HbaSet::load_from(path, &Disk).map(|s| format!("{} problems", s.validate(16).len()))
    } else {
        IdentSet::load_from(path, &Disk).map(|s| format!("{} problems", s.validate(16).len()))
    };
    outcome.unwrap_or_else(|e| format!("refused ({} bytes of message)", e.to_string().len()))
}

fn peak_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// In the child: writes the shape's file, forgets the text, resets the peak (Linux's
/// `clear_refs` value 5) and loads it.
fn child(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file.conf");
    std::fs::write(&path, shape(name)).unwrap();
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = peak_bytes();
    let outcome = load(name, &path);
    println!("{} {outcome}", peak_bytes() - before);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, name] = args.as_slice()
        && flag == "--child"
    {
        return child(name);
    }
    let exe = std::env::current_exe().unwrap();
    let mut failures = Vec::new();
    for name in SHAPES {
        let out = Command::new(&exe).args(["--child", name]).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name}: {}{}", stdout, String::from_utf8_lossy(&out.stderr));
        let (grew, outcome) = stdout.trim().split_once(' ').unwrap();
        let grew: u64 = grew.parse().unwrap();
        println!("{name}: peak grew by {} MiB; {outcome}", grew >> 20);
        if grew > BOUND {
            failures.push(format!("{name}: {} MiB > {} MiB", grew >> 20, BOUND >> 20));
        }
    }
    assert!(failures.is_empty(), "loads over the memory bound: {failures:?}");
    println!("memory: {} shapes within {} MiB", SHAPES.len(), BOUND >> 20);
}
