//! How much of each STIG family pgharden decides by itself, beside MITRE's InSpec profiles.
//!
//! Counted per STIG id, not per pgharden rule: an id belongs to every rule whose
//! [`Rule::stig_ids`] name it, and it is *automated* when all of those rules are decided by their
//! checks alone, *manual* when none of them has a check, and *partial* otherwise (checks plus a
//! step for a person, or one rule of each kind). The InSpec numbers are data
//! (`data/inspec_coverage.tsv`, bundled at build time), parsed here into typed counts.
//!
//! Owns: the per-family counts, the bundled InSpec table and its parser, and the text table.
//! Must not: judge rules or gather evidence (it reads only the catalogue), print, or invent a
//! number the catalogue or the table does not hold.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalogue::{RULES, Rule};

/// The JSON schema version of `pgharden audit --coverage --format json`.
pub const COVERAGE_FORMAT: u32 = 1;

/// The STIG families, in the order reports list them, as their ids begin (`PGS9-00-000100`).
pub const FAMILIES: [&str; 3] = ["PGS9", "CD12", "CD16"];

/// The InSpec counts, as counted in the audit-fidelity review (see the file's header).
const INSPEC_TSV: &str = include_str!("../data/inspec_coverage.tsv");

/// One family's coverage: pgharden's catalogue beside MITRE's InSpec profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FamilyCoverage {
    /// `PGS9`, `CD12` or `CD16`.
    pub family: &'static str,
    /// How many distinct STIG ids of the family the catalogue holds.
    pub rules: u32,
    /// Ids every rule of which is decided by its checks alone.
    pub automated: u32,
    /// Ids decided partly: checks plus a step for a person.
    pub partial: u32,
    /// Ids left entirely to a person (no check).
    pub manual: u32,
    /// The InSpec profile the next numbers are from (a repository of github.com/mitre).
    pub inspec_profile: &'static str,
    /// Ids the profile decides with automated tests alone.
    pub inspec_automated: u32,
    /// Ids the profile decides partly, with a manual step beside its tests.
    pub inspec_mixed: u32,
    /// Ids the profile leaves to a person.
    pub inspec_manual: u32,
    /// Ids of the family the profile has no control for.
    pub inspec_unmapped: u32,
}

/// One line of the bundled InSpec table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InspecCounts {
    pub(crate) family: &'static str,
    pub(crate) profile: &'static str,
    pub(crate) automated: u32,
    pub(crate) mixed: u32,
    pub(crate) manual: u32,
    pub(crate) unmapped: u32,
}

/// What is wrong with an InSpec table; `line` counts from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoverageError {
    /// A line has another number of columns than the 6 expected.
    #[error(
        "line {line}: {found} tab-separated columns where 6 are expected (family, profile, automated, mixed, manual, unmapped)"
    )]
    Columns {
        /// The line, from 1.
        line: usize,
        /// How many columns it has.
        found: usize,
    },
    /// The first column is none of [`FAMILIES`].
    #[error("line {line}: unknown STIG family {family:?} (expected one of PGS9, CD12, CD16)")]
    UnknownFamily {
        /// The line, from 1.
        line: usize,
        /// The family column as written.
        family: String,
    },
    /// The profile column is empty.
    #[error("line {line}: the profile name is empty")]
    EmptyProfile {
        /// The line, from 1.
        line: usize,
    },
    /// A count column is not a non-negative whole number.
    #[error("line {line}: the {column} count {value:?} is not a whole number")]
    Count {
        /// The line, from 1.
        line: usize,
        /// The column's name (`automated`, `mixed`, `manual` or `unmapped`).
        column: &'static str,
        /// The count as written.
        value: String,
    },
    /// A family has a second line.
    #[error("line {line}: family {family} is already counted on line {first}")]
    Duplicate {
        /// The second line, from 1.
        line: usize,
        /// The family counted twice.
        family: &'static str,
        /// The line that counted it first.
        first: usize,
    },
    /// A family has no line at all.
    #[error("no line for STIG family {family}")]
    MissingFamily {
        /// The family without a line.
        family: &'static str,
    },
}

/// How pgharden decides one STIG id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Automated,
    Partial,
    Manual,
}

impl Mode {
    fn of(rule: &Rule) -> Self {
        if rule.is_automated() {
            Self::Automated
        } else if rule.is_manual_only() {
            Self::Manual
        } else {
            Self::Partial
        }
    }

    /// An id shared by rules decided differently is decided only partly.
    fn with(self, other: Self) -> Self {
        if self == other { self } else { Self::Partial }
    }
}

/// Every family's coverage, in [`FAMILIES`] order: the catalogue's counts beside the bundled
/// InSpec table. An error means the bundled table is malformed (its unit test says which line).
pub fn coverage() -> Result<Vec<FamilyCoverage>, CoverageError> {
    let inspec = parse_inspec(INSPEC_TSV)?;
    let modes = modes_by_family(RULES);
    Ok(FAMILIES
        .iter()
        .zip(inspec)
        .map(|(family, i)| {
            let ids = modes.get(family).map(BTreeMap::values);
            let count = |m: Mode| ids.clone().map_or(0, |v| v.filter(|x| **x == m).count()) as u32;
            FamilyCoverage {
                family,
                rules: modes.get(family).map_or(0, |m| m.len() as u32),
                automated: count(Mode::Automated),
                partial: count(Mode::Partial),
                manual: count(Mode::Manual),
                inspec_profile: i.profile,
                inspec_automated: i.automated,
                inspec_mixed: i.mixed,
                inspec_manual: i.manual,
                inspec_unmapped: i.unmapped,
            }
        })
        .collect())
}

/// For each family, every STIG id of it in `rules` and how pgharden decides it.
fn modes_by_family(rules: &[Rule]) -> BTreeMap<&'static str, BTreeMap<&'static str, Mode>> {
    let mut out: BTreeMap<&'static str, BTreeMap<&'static str, Mode>> = BTreeMap::new();
    for rule in rules {
        let mode = Mode::of(rule);
        for id in rule.stig_ids() {
            let Some(family) = family_of(id) else { continue };
            out.entry(family).or_default().entry(id).and_modify(|m| *m = m.with(mode)).or_insert(mode);
        }
    }
    out
}

/// The family an id belongs to, by its prefix (`CD16-00-004700` → `CD16`).
fn family_of(id: &str) -> Option<&'static str> {
    let prefix = id.split_once('-')?.0;
    FAMILIES.iter().copied().find(|f| *f == prefix)
}

/// Parse an InSpec table (the format of `data/inspec_coverage.tsv`): one line per family, in any
/// order, returned in [`FAMILIES`] order; every family exactly once.
pub(crate) fn parse_inspec(text: &'static str) -> Result<Vec<InspecCounts>, CoverageError> {
    let mut found: Vec<(usize, InspecCounts)> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim_end_matches('\r');
        if trimmed.trim().is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let counts = parse_line(line, trimmed)?;
        if let Some((first, _)) = found.iter().find(|(_, c)| c.family == counts.family) {
            return Err(CoverageError::Duplicate { line, family: counts.family, first: *first });
        }
        found.push((line, counts));
    }
    FAMILIES
        .iter()
        .map(|family| {
            found
                .iter()
                .find(|(_, c)| c.family == *family)
                .map(|(_, c)| *c)
                .ok_or(CoverageError::MissingFamily { family })
        })
        .collect()
}

fn parse_line(line: usize, text: &'static str) -> Result<InspecCounts, CoverageError> {
    let columns: Vec<&'static str> = text.split('\t').collect();
    let [family, profile, automated, mixed, manual, unmapped] = columns[..] else {
        return Err(CoverageError::Columns { line, found: columns.len() });
    };
    let family = family_of(&format!("{family}-"))
        .ok_or_else(|| CoverageError::UnknownFamily { line, family: family.to_string() })?;
    if profile.trim().is_empty() {
        return Err(CoverageError::EmptyProfile { line });
    }
    let count = |column: &'static str, value: &str| {
        value.parse::<u32>().map_err(|_| CoverageError::Count { line, column, value: value.to_string() })
    };
    Ok(InspecCounts {
        family,
        profile,
        automated: count("automated", automated)?,
        mixed: count("mixed", mixed)?,
        manual: count("manual", manual)?,
        unmapped: count("unmapped", unmapped)?,
    })
}

/// The coverage as a plain-text table (no colour), with a legend.
pub fn render_text(families: &[FamilyCoverage]) -> String {
    let mut out = String::from(
        "Coverage per STIG id: what pgharden decides, beside MITRE's InSpec profiles\n\n\
         family   ids | pgharden: automated  partial  manual | InSpec: automated  mixed  manual  unmapped  profile\n",
    );
    for f in families {
        out.push_str(&format!(
            "{:<6} {:>5} | {:>19} {:>8} {:>7} | {:>17} {:>6} {:>7} {:>9}  {}\n",
            f.family,
            f.rules,
            f.automated,
            f.partial,
            f.manual,
            f.inspec_automated,
            f.inspec_mixed,
            f.inspec_manual,
            f.inspec_unmapped,
            f.inspec_profile,
        ));
    }
    out.push_str(
        "\nautomated: the checks alone decide; partial: checks plus a step for a person \
         (InSpec: mixed);\nmanual: a person decides (InSpec: skipped as a manual review); \
         unmapped: no InSpec control.\n",
    );
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_bundled_table_parses() {
        let rows = parse_inspec(INSPEC_TSV).unwrap_or_else(|e| panic!("data/inspec_coverage.tsv: {e}"));
        assert_eq!(rows.iter().map(|r| r.family).collect::<Vec<_>>(), FAMILIES);
        assert!(rows.iter().all(|r| r.automated > 0 && !r.profile.is_empty()), "{rows:?}");
    }

    #[test]
    fn each_family_counts_every_id_of_the_catalogue_once() {
        let families = coverage().unwrap();
        assert_eq!(families.len(), FAMILIES.len());
        for f in &families {
            let ids: BTreeSet<&str> =
                RULES.iter().flat_map(Rule::stig_ids).filter(|id| family_of(id) == Some(f.family)).collect();
            assert!(!ids.is_empty(), "{}: no ids in the catalogue", f.family);
            assert_eq!(f.rules as usize, ids.len(), "{f:?}");
            assert_eq!(f.automated + f.partial + f.manual, f.rules, "{f:?}");
        }
    }

    #[test]
    fn inspec_covers_as_many_ids_as_the_catalogue_holds() {
        // Both sides count every id of the STIG: a mismatch is a missing rule or a wrong number.
        for f in coverage().unwrap() {
            let inspec = f.inspec_automated + f.inspec_mixed + f.inspec_manual + f.inspec_unmapped;
            assert_eq!(inspec, f.rules, "{f:?}");
        }
    }

    #[test]
    fn an_id_shared_by_rules_decided_differently_is_partial() {
        let auto = RULES.iter().find(|r| r.is_automated()).unwrap();
        let manual = RULES.iter().find(|r| r.is_manual_only()).unwrap();
        let shared = "PGS9-99-999999";
        let a = Rule { pgs9: Some(shared), cd12: None, cd16: None, also: &[], ..*auto };
        let m = Rule { pgs9: Some(shared), cd12: None, cd16: None, also: &[], ..*manual };
        assert_eq!(modes_by_family(&[a, m])["PGS9"][shared], Mode::Partial);
        assert_eq!(modes_by_family(&[a, a])["PGS9"][shared], Mode::Automated);
        assert_eq!(modes_by_family(&[m])["PGS9"][shared], Mode::Manual);
    }

    #[test]
    fn a_bad_line_is_a_clear_error() {
        const HEAD: &str = "# comment\n\nCD12\tp\t1\t2\t3\t0\nCD16\tp\t1\t2\t3\t0\n";
        let cases: [(&'static str, CoverageError); 5] = [
            ("PGS9\tp\t1\t2\t3\n", CoverageError::Columns { line: 5, found: 5 }),
            ("PG10\tp\t1\t2\t3\t0\n", CoverageError::UnknownFamily { line: 5, family: "PG10".into() }),
            (
                "PGS9\tp\t1\tmany\t3\t0\n",
                CoverageError::Count { line: 5, column: "mixed", value: "many".into() },
            ),
            ("CD12\tp\t1\t2\t3\t0\n", CoverageError::Duplicate { line: 5, family: "CD12", first: 3 }),
            ("PGS9\t \t1\t2\t3\t0\n", CoverageError::EmptyProfile { line: 5 }),
        ];
        for (tail, want) in cases {
            let text: &'static str = Box::leak(format!("{HEAD}{tail}").into_boxed_str());
            assert_eq!(parse_inspec(text), Err(want));
        }
        assert_eq!(parse_inspec(HEAD), Err(CoverageError::MissingFamily { family: "PGS9" }));
        let err = parse_inspec("PGS9\t1\t2\n").unwrap_err().to_string();
        assert!(err.starts_with("line 1: 3 tab-separated columns"), "{err}");
    }

    #[test]
    fn the_text_table_has_a_row_per_family() {
        let families = coverage().unwrap();
        let text = render_text(&families);
        for f in &families {
            let row = text.lines().find(|l| l.starts_with(f.family)).unwrap();
            assert!(row.contains(f.inspec_profile), "{row}");
            assert!(row.split_whitespace().nth(1) == Some(&f.rules.to_string()), "{row}");
        }
    }
}
