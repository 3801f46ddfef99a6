//! `pgharden_audit::values`: the UTC aliases checked against the tz database on this machine, and
//! properties of the parsers over generated inputs. The comparison with a running server is in
//! `values_server.rs`.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use pgharden_audit::values::{
    AuditClass, DurationUnit, UTC_ZONE_NAMES, duration_ms, file_mode, is_utc_zone, missing_escapes,
    parse_bool, pgaudit_classes, prefix_escapes,
};
use proptest::prelude::*;

// --- time zones against the tz database -------------------------------------

/// The directory PostgreSQL 15 reads zones from: its own, or (Debian: `--with-system-tzdata`) the
/// system's. Missing both is a failure, never a skip.
fn tz_dir() -> PathBuf {
    ["/usr/share/postgresql/15/timezone", "/usr/share/zoneinfo"]
        .iter()
        .map(PathBuf::from)
        .find(|d| d.join("Etc/UTC").is_file())
        .expect("no time-zone directory with Etc/UTC: install tzdata (PostgreSQL 15 on Debian reads /usr/share/zoneinfo)")
}

/// The parts of a TZif file that say what a zone does: its transition count, its local time types
/// (offset, DST flag) and its abbreviations.
#[derive(Debug, PartialEq, Eq)]
struct ZoneRules {
    transitions: u32,
    types: Vec<(i32, bool)>,
    abbreviations: Vec<u8>,
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// Read the version-1 block of a TZif file (RFC 8536 section 3), which every zone file has.
fn zone_rules(path: &Path) -> ZoneRules {
    let b = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&b[..4], b"TZif", "{} is not a TZif file", path.display());
    let [isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt] =
        [20, 24, 28, 32, 36, 40].map(|at| be32(&b, at) as usize);
    let _ = (isutcnt, isstdcnt, leapcnt);
    let types_at = 44 + timecnt * 5;
    let types = (0..typecnt)
        .map(|i| {
            let at = types_at + i * 6;
            (be32(&b, at) as i32, b[at + 4] != 0)
        })
        .collect();
    let chars_at = types_at + typecnt * 6;
    ZoneRules {
        transitions: u32::try_from(timecnt).unwrap(),
        types,
        abbreviations: b[chars_at..chars_at + charcnt].to_vec(),
    }
}

#[test]
fn every_accepted_utc_name_is_a_zone_file_that_is_utc() {
    let dir = tz_dir();
    let utc = fs::read(dir.join("Etc/UTC")).unwrap();
    let gmt = fs::read(dir.join("Etc/GMT")).unwrap();
    // Etc/UTC and Etc/GMT differ only in the abbreviation: no transitions, one type at offset 0.
    for (name, abbreviation) in [("Etc/UTC", b"UTC\0"), ("Etc/GMT", b"GMT\0")] {
        let rules = zone_rules(&dir.join(name));
        assert_eq!(
            rules,
            ZoneRules { transitions: 0, types: vec![(0, false)], abbreviations: abbreviation.to_vec() }
        );
    }
    let posix = UTC_ZONE_NAMES.iter().map(|n| format!("posix/{n}"));
    for name in UTC_ZONE_NAMES.iter().map(|n| n.to_string()).chain(posix) {
        assert!(is_utc_zone(&name), "{name}");
        let bytes = fs::read(dir.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(bytes == utc || bytes == gmt, "{name} is neither Etc/UTC nor Etc/GMT");
    }
}

#[test]
fn every_zone_file_that_is_utc_is_accepted() {
    let dir = tz_dir();
    let utc = fs::read(dir.join("Etc/UTC")).unwrap();
    let gmt = fs::read(dir.join("Etc/GMT")).unwrap();
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(&dir).unwrap().to_string_lossy().into_owned();
            // `localtime` is this host's own zone; `right/` counts leap seconds (not UTC's rules).
            if name == "localtime" || name == "right" {
                continue;
            }
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                stack.push(path);
            } else if path.is_file() && [&utc, &gmt].contains(&&fs::read(&path).unwrap()) {
                found.insert(name);
            }
        }
    }
    assert!(found.len() >= UTC_ZONE_NAMES.len(), "only {found:?} found in {}", dir.display());
    for name in &found {
        assert!(is_utc_zone(name), "{name} is UTC in {} but not accepted", dir.display());
        assert!(is_utc_zone(&name.to_ascii_lowercase()), "{name} in lower case");
    }
}

#[test]
fn zones_with_an_offset_are_not_utc() {
    let dir = tz_dir();
    for name in ["America/New_York", "Etc/GMT+5", "Etc/GMT-14", "Europe/London", "Factory"] {
        let rules = zone_rules(&dir.join(name));
        assert!(rules.transitions > 0 || rules.types.iter().any(|t| t.0 != 0) || name == "Factory");
        assert!(!is_utc_zone(name), "{name}");
    }
}

// --- properties --------------------------------------------------------------

/// A prefix made of literal text, escapes, padding and stray percents.
fn prefix() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            "[a-zA-Z <>\\[\\]@:=é]{0,4}",
            "%-?[0-9]{0,2}[abudcpPlmtnsirhqvxeQzZ%]",
            Just("%".to_string()),
        ],
        0..8,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Escaping every percent (what a DBA does to print a literal `%m`) leaves no escape at all.
    #[test]
    fn doubled_percents_use_no_escape(p in prefix()) {
        prop_assert!(prefix_escapes(&p.replace('%', "%%")).is_empty());
    }

    /// An escape written after text whose percents are all literal is used.
    #[test]
    fn an_escape_appended_after_a_literal_percent_is_used(p in prefix(), c in "[abudcpPlmtnsirhqvxeQ]") {
        let c = c.chars().next().unwrap();
        let whole = format!("{}%% %{c}", p.replace('%', "%%"));
        prop_assert!(prefix_escapes(&whole).contains(&c));
        prop_assert!(missing_escapes(&whole, &[c]).is_empty());
    }

    /// pgaudit's bitmap arithmetic, element by element, in any case, spacing and quoting.
    #[test]
    fn pgaudit_list_is_bitmap_arithmetic(
        items in proptest::collection::vec((any::<bool>(), 0usize..9, any::<bool>(), any::<bool>(), " {0,2}"), 1..8)
    ) {
        const NAMES: [&str; 9] = ["none", "all", "ddl", "function", "misc", "misc_set", "read", "role", "write"];
        // pgaudit's LOG_* bits, in AuditClass::ALL order: read write function role ddl misc misc_set.
        const BITS: [u32; 9] = [0, u32::MAX, 1 << 4, 1 << 2, (1 << 5) | (1 << 6), 1 << 6, 1, 1 << 3, 1 << 1];
        let mut bitmap = 0u32;
        let mut parts = Vec::new();
        for (minus, n, upper, quoted, pad) in &items {
            let mut word = format!("{}{}", if *minus { "-" } else { "" }, NAMES[*n]);
            if *upper { word = word.to_ascii_uppercase(); }
            if *quoted { word = format!("\"{word}\""); }
            parts.push(format!("{pad}{word}{pad}"));
            if *minus { bitmap &= !BITS[*n]; } else { bitmap |= BITS[*n]; }
        }
        let expected: BTreeSet<AuditClass> =
            AuditClass::ALL.iter().enumerate().filter(|(i, _)| bitmap & (1 << i) != 0).map(|(_, c)| *c).collect();
        prop_assert_eq!(pgaudit_classes(&parts.join(",")).unwrap(), expected);
    }

    /// Any non-empty prefix of a boolean word, in any case, is that word's value (on/off: two
    /// letters at least); anything longer than the word is refused.
    #[test]
    fn bool_prefixes(word in 0usize..6, len in 1usize..6, upper in proptest::collection::vec(any::<bool>(), 6)) {
        let (text, value) = [("true", true), ("false", false), ("yes", true), ("no", false), ("on", true), ("off", false)][word];
        let cut: String = text.chars().chain("x".chars()).take(len).zip(&upper)
            .map(|(c, u)| if *u { c.to_ascii_uppercase() } else { c }).collect();
        let expected = if len > text.len() || (text.starts_with('o') && len < 2) { None } else { Some(value) };
        prop_assert_eq!(parse_bool(&cut), expected, "{:?}", cut);
    }

    /// Whole numbers with a unit, written with any spacing, are exact products.
    #[test]
    fn whole_durations_are_exact(n in 0i64..20_000, unit in 0usize..4, space in " {0,2}", trail in " {0,2}") {
        let (name, ms) = [("ms", 1), ("s", 1000), ("min", 60_000), ("h", 3_600_000)][unit];
        let value = format!("{n}{space}{name}{trail}");
        let expected = n * ms;
        let got = duration_ms(&value, DurationUnit::Milliseconds);
        if expected > i64::from(i32::MAX) {
            prop_assert!(got.is_err());
        } else {
            prop_assert_eq!(got.unwrap(), expected);
        }
    }

    /// A bare number is in the setting's own unit.
    #[test]
    fn bare_numbers_are_in_the_default_unit(n in 0i64..1_000_000) {
        prop_assert_eq!(duration_ms(&n.to_string(), DurationUnit::Milliseconds).unwrap(), n);
        prop_assert_eq!(duration_ms(&n.to_string(), DurationUnit::Seconds).unwrap(), n * 1000);
        prop_assert_eq!(duration_ms(&n.to_string(), DurationUnit::Minutes).unwrap(), n * 60_000);
    }

    /// Every mode reads back from the spellings C's strtol takes, and not from Rust's `0o`.
    #[test]
    fn file_modes_in_every_c_spelling(mode in 0u32..=0o777) {
        prop_assert_eq!(file_mode(&format!("0{mode:o}")).unwrap(), mode);
        prop_assert_eq!(file_mode(&format!("{mode}")).unwrap(), mode);
        prop_assert_eq!(file_mode(&format!("{mode:#x}")).unwrap(), mode);
        prop_assert_eq!(file_mode(&format!("{mode:04o}")).unwrap(), mode);
        let rust_octal = format!("{mode:#o}");
        prop_assert!(file_mode(&rust_octal).is_err());
    }
}
