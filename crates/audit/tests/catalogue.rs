//! The catalogue against its sources: the crosswalk (one rule per row, same ids, highest severity)
//! and the three DISA XCCDF benchmarks (every benchmark rule covered exactly once): the fixtures
//! built from `tests/data/`, and with `PGHARDEN_STIG_DIR=DIR` also the DISA files in DIR.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use pgharden_audit::CheckId;
use pgharden_audit::catalogue::{RULES, Rule, area_code, by_id, by_stig_id};
use pgharden_audit::model::{Area, Scope, Severity};

use support::stig;

fn prefix(family: &str) -> String {
    format!("{}-", family.to_ascii_uppercase())
}

fn severity(s: &str) -> Severity {
    match s {
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        other => panic!("unknown severity {other:?}"),
    }
}

/// One crosswalk row: the SRG, each family's ids (in order) and the highest severity.
#[derive(Debug)]
struct Row {
    srg: String,
    families: [Vec<String>; 3],
    severity: Severity,
}

/// Cells look like `PGS9-00-000700(V-214054,medium) PGS9-00-000710(V-214055,medium)` or are empty.
fn parse_cell(cell: &str) -> Vec<(String, Severity)> {
    cell.split_whitespace()
        .map(|item| {
            let (id, rest) = item.split_once('(').unwrap_or_else(|| panic!("bad crosswalk item {item:?}"));
            let inner = rest.strip_suffix(')').unwrap_or_else(|| panic!("bad crosswalk item {item:?}"));
            let (vnum, sev) = inner.split_once(',').unwrap_or_else(|| panic!("bad crosswalk item {item:?}"));
            assert!(vnum.starts_with("V-"), "bad V-number in {item:?}");
            (id.to_string(), severity(sev))
        })
        .collect()
}

fn crosswalk() -> Vec<Row> {
    let text = stig::crosswalk();
    let mut lines = text.lines();
    let header = lines.next().expect("crosswalk header");
    assert!(header.starts_with("srg\t"), "unexpected crosswalk header {header:?}");
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert!(cols.len() >= 4, "short crosswalk row {line:?}");
            let cells: Vec<Vec<(String, Severity)>> = cols[1..4].iter().map(|c| parse_cell(c)).collect();
            let severity = cells.iter().flatten().map(|(_, s)| *s).max().expect("a row with no STIG id");
            let families = [0, 1, 2].map(|i| cells[i].iter().map(|(id, _)| id.clone()).collect::<Vec<_>>());
            Row { srg: cols[0].to_string(), families, severity }
        })
        .collect()
}

/// The `<version>` of every `<Rule>` in a benchmark (the benchmark's own `<version>` comes before
/// the first rule and is skipped).
fn benchmark_rule_ids(xml: &str) -> Vec<String> {
    xml.split("<Rule ")
        .skip(1)
        .map(|rule| {
            let start = rule.find("<version>").expect("a rule without <version>") + "<version>".len();
            let end = rule[start..].find("</version>").expect("unterminated <version>") + start;
            rule[start..end].trim().to_string()
        })
        .collect()
}

fn rule_families(rule: &Rule) -> [Vec<String>; 3] {
    let mut fam: [Vec<String>; 3] = Default::default();
    for (i, (first, prefix)) in
        [(rule.pgs9, "PGS9-"), (rule.cd12, "CD12-"), (rule.cd16, "CD16-")].into_iter().enumerate()
    {
        if let Some(id) = first {
            assert!(id.starts_with(prefix), "{}: {id} is in the wrong family field", rule.id);
            fam[i].push(id.to_string());
        }
        fam[i].extend(rule.also.iter().filter(|a| a.starts_with(prefix)).map(|a| a.to_string()));
    }
    fam
}

#[test]
fn every_crosswalk_row_is_one_rule_with_the_same_ids_and_highest_severity() {
    let rows = crosswalk();
    assert_eq!(rows.len(), RULES.len(), "one rule per crosswalk row");
    for row in &rows {
        let matching: Vec<&Rule> = RULES.iter().filter(|r| r.srg == row.srg).collect();
        assert_eq!(matching.len(), 1, "{} must appear exactly once, found {}", row.srg, matching.len());
        let rule = matching[0];
        assert_eq!(
            rule_families(rule),
            row.families,
            "{} ({}): STIG ids differ from the crosswalk",
            rule.id,
            row.srg
        );
        assert_eq!(rule.severity, row.severity, "{} ({}): severity", rule.id, row.srg);
        let extra = row.families.iter().map(|f| f.len().saturating_sub(1)).sum::<usize>();
        assert_eq!(rule.also.len(), extra, "{}: `also` holds exactly the second ids of a family", rule.id);
    }
}

#[test]
fn every_benchmark_rule_is_covered_by_exactly_one_catalogue_rule() {
    let mut missing = Vec::new();
    for source in stig::sources() {
        let file = &source.label;
        let ids = benchmark_rule_ids(&source.xml);
        assert!(ids.len() > 100, "{file}: only {} rules parsed", ids.len());
        let unique: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{file}: duplicate rule versions");
        for id in &ids {
            assert!(id.starts_with(&prefix(source.family)), "{file}: unexpected id {id}");
            match by_stig_id(id).len() {
                0 => missing.push(format!("{file}: {id}")),
                1 => {}
                n => panic!("{id} is covered by {n} catalogue rules"),
            }
        }
    }
    assert!(missing.is_empty(), "benchmark rules missing from the catalogue (and crosswalk): {missing:#?}");
}

#[test]
fn catalogue_ids_are_all_benchmark_ids() {
    let mut all = BTreeSet::new();
    for source in stig::sources() {
        all.extend(benchmark_rule_ids(&source.xml));
    }
    for rule in RULES {
        for id in rule.stig_ids() {
            assert!(all.contains(id), "{}: {id} is in no benchmark", rule.id);
        }
    }
}

#[test]
fn ids_are_unique_well_formed_and_match_the_area() {
    let mut seen = BTreeSet::new();
    let mut per_area: BTreeMap<Area, Vec<u32>> = BTreeMap::new();
    for rule in RULES {
        assert!(seen.insert(rule.id), "duplicate id {}", rule.id);
        let mut parts = rule.id.split('-');
        let (pgh, code, num) = (parts.next(), parts.next(), parts.next());
        assert_eq!(pgh, Some("PGH"), "{}", rule.id);
        assert_eq!(code, Some(area_code(rule.area)), "{}: code does not match area {:?}", rule.id, rule.area);
        let num = num.unwrap_or_else(|| panic!("{}: no number", rule.id));
        assert!(parts.next().is_none(), "{}", rule.id);
        assert!(
            num.len() == 2 && num.bytes().all(|b| b.is_ascii_digit()),
            "{}: number must be two digits",
            rule.id
        );
        per_area.entry(rule.area).or_default().push(num.parse().expect("digits"));
        assert!(
            rule.srg.starts_with("SRG-APP-") && rule.srg.ends_with(|c: char| c.is_ascii_digit()),
            "{}",
            rule.srg
        );
        assert!(by_id(rule.id).is_some_and(|r| std::ptr::eq(r, rule)), "by_id({})", rule.id);
    }
    // Numbers run 01, 02, … within each area (nothing skipped).
    for (area, mut nums) in per_area {
        nums.sort_unstable();
        assert_eq!(nums, (1..=nums.len() as u32).collect::<Vec<_>>(), "{area:?}");
    }
    assert!(by_id("PGH-TLS-00").is_none());
}

#[test]
fn checks_manual_text_and_fix_are_consistent() {
    for rule in RULES {
        let mut uniq = BTreeSet::new();
        assert!(rule.checks.iter().all(|c| uniq.insert(*c)), "{}: duplicate check", rule.id);
        if rule.checks.is_empty() {
            assert!(rule.manual.is_some(), "{}: a rule without checks needs a manual text", rule.id);
        }
        if let Some(m) = rule.manual {
            assert!(m.trim().len() >= 20, "{}: manual text too short", rule.id);
            assert!(m.len() <= 400, "{}: manual text should be one or two sentences", rule.id);
        }
        assert!(rule.fix.trim().len() >= 10, "{}: no fix", rule.id);
        assert_eq!(rule.is_automated(), !rule.checks.is_empty() && rule.manual.is_none());
    }
}

#[test]
fn every_check_is_used() {
    let used: BTreeSet<CheckId> = RULES.iter().flat_map(|r| r.checks.iter().copied()).collect();
    let unused: Vec<&CheckId> = CheckId::ALL.iter().filter(|c| !used.contains(c)).collect();
    assert!(unused.is_empty(), "checks no rule uses: {unused:?}");
}

#[test]
fn titles_are_short_and_our_own() {
    for rule in RULES {
        assert!(!rule.title.trim().is_empty(), "{}: empty title", rule.id);
        assert!(rule.title.chars().count() <= 90, "{}: title longer than 90 characters", rule.id);
        assert!(!rule.title.contains("must"), "{}: title reads like DISA's text", rule.id);
    }
    // No title is copied from the crosswalk's (DISA's) titles.
    let text = stig::crosswalk();
    let disa: BTreeSet<&str> = text.lines().skip(1).filter_map(|l| l.split('\t').nth(5)).collect();
    for rule in RULES {
        assert!(!disa.contains(rule.title), "{}: DISA title", rule.id);
    }
}

#[test]
fn host_scope_and_fips() {
    for rule in RULES {
        if rule.checks.contains(&CheckId::FipsMode) {
            assert_eq!(rule.scope, Scope::Host, "{}: FIPS mode is a host property", rule.id);
        }
        if rule.area == Area::Host {
            assert_eq!(rule.scope, Scope::Host, "{}", rule.id);
        }
    }
}

#[test]
fn lookups_by_stig_id() {
    // PGS9 and CD12 share suffixes; CD16 is renumbered (README: PGS9-00-011600 is CD16-00-006200).
    let a = by_stig_id("PGS9-00-011600");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].cd12, Some("CD12-00-011600"));
    assert_eq!(a[0].cd16, Some("CD16-00-006200"));
    assert!(std::ptr::eq(a[0], by_stig_id("cd16-00-006200")[0]));
    // The second id of a split requirement finds the same rule as the first.
    let first = by_stig_id("PGS9-00-000700");
    let second = by_stig_id("PGS9-00-000710");
    assert_eq!(first.len(), 1);
    assert!(std::ptr::eq(first[0], second[0]));
    assert_eq!(first[0].cd16, Some("CD16-00-002600"));
    // Requirements only some families have.
    assert_eq!(by_stig_id("CD12-00-010000")[0].pgs9, None);
    assert_eq!(by_stig_id("PGS9-00-008000")[0].cd16, None);
    assert!(by_stig_id("PGS9-00-999999").is_empty());
    let stig = first[0].stig();
    assert_eq!(stig.srg, first[0].srg);
    assert_eq!(stig.pgs9.as_deref(), Some("PGS9-00-000700"));
}

#[test]
fn the_facts_agree_with_the_crosswalk() {
    // Every crosswalk item `ID(V-number,severity)` names one benchmark rule with that V-number and
    // severity, and every benchmark rule is in the crosswalk.
    let mut items: BTreeMap<String, (String, String)> = BTreeMap::new();
    for line in stig::crosswalk().lines().skip(1) {
        for cell in line.split('\t').skip(1).take(3) {
            for item in cell.split_whitespace() {
                let (id, rest) = item.split_once('(').expect("crosswalk item");
                let (vnum, sev) = rest.trim_end_matches(')').split_once(',').expect("crosswalk item");
                items.insert(id.to_owned(), (vnum.to_owned(), sev.to_owned()));
            }
        }
    }
    let mut seen = 0;
    for facts in stig::all_facts() {
        for r in &facts.rules {
            let (vnum, sev) =
                items.get(&r.version).unwrap_or_else(|| panic!("{}: not in the crosswalk", r.version));
            assert_eq!((&r.group, &r.severity), (vnum, sev), "{}: V-number and severity", r.version);
            assert!(r.rule.starts_with(&format!("S{}r", r.group)), "{}: rule id {}", r.version, r.rule);
            assert!(r.srg.starts_with("SRG-APP-"), "{}: {}", r.version, r.srg);
            assert!(!r.cci.is_empty() && r.cci.iter().all(|c| c.starts_with("CCI-")), "{}", r.version);
            seen += 1;
        }
    }
    assert_eq!(seen, items.len(), "the crosswalk names rules the benchmarks do not have");
    assert_eq!(seen, 110 + 113 + 111);
}
