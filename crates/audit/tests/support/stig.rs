//! The STIG benchmarks the tests read: an XCCDF fixture built from the facts in `tests/data/`
//! (written by `scripts/stig-facts`), and, when `PGHARDEN_STIG_DIR` names a directory with the
//! user's own DISA copies, those files as well.
//!
//! Owns: reading the facts and writing a benchmark of the structure STIG Viewer expects (Benchmark
//! → Group `V-…` → Rule `SV-…` → version, title, packed description, idents, fixtext, check). Must
//! not: read anything outside the repository unless the variable asks for it, or carry DISA's
//! discussion, check or fix text (the fixture writes its own, naming the rule).

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// The variable naming a directory with the DISA XCCDF files (and `stig_crosswalk.tsv`).
pub(crate) const STIG_DIR_VAR: &str = "PGHARDEN_STIG_DIR";

/// One family's facts: the benchmark's own (`@key` lines) and its rules, in document order.
#[derive(Debug)]
pub(crate) struct Facts {
    /// `pgs9`, `cd12` or `cd16`.
    pub family: &'static str,
    /// The DISA file name the facts come from.
    pub file: String,
    pub meta: BTreeMap<String, String>,
    pub rules: Vec<FactRule>,
}

/// One rule's facts, as `scripts/stig-facts` wrote them.
#[derive(Debug, Clone)]
pub(crate) struct FactRule {
    pub group: String,
    pub srg: String,
    pub rule: String,
    pub severity: String,
    pub weight: String,
    pub version: String,
    pub title: String,
    pub cci: Vec<String>,
    pub legacy: Vec<String>,
    pub target_key: String,
    pub check_ref: String,
}

const FAMILIES: [(&str, &str); 3] = [
    ("pgs9", include_str!("../data/pgs9.tsv")),
    ("cd12", include_str!("../data/cd12.tsv")),
    ("cd16", include_str!("../data/cd16.tsv")),
];

/// The crosswalk (SRG → the three families' ids), a copy of DISA's facts.
pub(crate) const CROSSWALK: &str = include_str!("../data/stig_crosswalk.tsv");

/// The facts of every family, in the order pgs9, cd12, cd16.
pub(crate) fn all_facts() -> Vec<Facts> {
    FAMILIES.iter().map(|(family, text)| parse_facts(family, text)).collect()
}

pub(crate) fn facts(family: &str) -> Facts {
    all_facts().into_iter().find(|f| f.family == family).unwrap_or_else(|| panic!("no family {family}"))
}

fn parse_facts(family: &'static str, text: &str) -> Facts {
    let mut meta = BTreeMap::new();
    let mut rules = Vec::new();
    let mut header_seen = false;
    for (n, line) in text.lines().enumerate() {
        let at = || format!("tests/data/{family}.tsv:{}", n + 1);
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some(kv) = line.strip_prefix('@') {
            let (k, v) = kv.split_once('\t').unwrap_or_else(|| panic!("{}: `@key<TAB>value` expected", at()));
            meta.insert(k.to_owned(), v.to_owned());
            continue;
        }
        if !header_seen {
            assert!(line.starts_with("group\tsrg\trule\t"), "{}: column header expected", at());
            header_seen = true;
            continue;
        }
        let c: Vec<&str> = line.split('\t').collect();
        assert_eq!(c.len(), 11, "{}: 11 columns expected, found {}", at(), c.len());
        let list = |s: &str| s.split(',').filter(|i| !i.is_empty()).map(str::to_owned).collect();
        rules.push(FactRule {
            group: c[0].into(),
            srg: c[1].into(),
            rule: c[2].into(),
            severity: c[3].into(),
            weight: c[4].into(),
            version: c[5].into(),
            title: c[6].into(),
            cci: list(c[7]),
            legacy: list(c[8]),
            target_key: c[9].into(),
            check_ref: c[10].into(),
        });
    }
    let file = meta.get("file").cloned().unwrap_or_else(|| panic!("tests/data/{family}.tsv: no @file"));
    Facts { family, file, meta, rules }
}

/// The fixture's discussion, check and fix texts of a rule (ours, naming the rule).
pub(crate) fn discussion(version: &str) -> String {
    format!("Fixture discussion of {version}: the DISA text is in the benchmark itself.")
}
pub(crate) fn check_text(version: &str) -> String {
    format!("Fixture check of {version}: if the setting is wrong, this is a finding.")
}
pub(crate) fn fix_text(version: &str) -> String {
    format!("Fixture fix of {version}: set it as the STIG says.")
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An XCCDF 1.1 benchmark with the facts' ids, severities, titles and idents.
pub(crate) fn xccdf(f: &Facts) -> String {
    let m = |k: &str| esc(f.meta.get(k).map(String::as_str).unwrap_or_default());
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    let _ = write!(
        x,
        "<Benchmark xmlns:dc=\"http://purl.org/dc/elements/1.1/\" id=\"{}\" xml:lang=\"en\" \
         xmlns=\"http://checklists.nist.gov/xccdf/1.1\"><title>{}</title><description>{}</description>\
         <notice id=\"{}\" xml:lang=\"en\"></notice><reference href=\"https://cyber.mil\">\
         <dc:publisher>DISA</dc:publisher><dc:source>{}</dc:source></reference>\
         <plain-text id=\"release-info\">{}</plain-text><version>{}</version>",
        m("id"),
        m("title"),
        m("description"),
        m("notice"),
        m("source"),
        m("release-info"),
        m("version"),
    );
    for r in &f.rules {
        let description = format!(
            "<VulnDiscussion>{}</VulnDiscussion><FalsePositives></FalsePositives><FalseNegatives></FalseNegatives>\
             <Documentable>false</Documentable><Mitigations></Mitigations><SeverityOverrideGuidance></SeverityOverrideGuidance>\
             <PotentialImpacts></PotentialImpacts><ThirdPartyTools></ThirdPartyTools><MitigationControl></MitigationControl>\
             <Responsibility></Responsibility><IAControls></IAControls>",
            discussion(&r.version)
        );
        let _ = write!(
            x,
            "<Group id=\"{}\"><title>{}</title><description>&lt;GroupDescription&gt;&lt;/GroupDescription&gt;</description>\
             <Rule id=\"{}\" weight=\"{}\" severity=\"{}\"><version>{}</version><title>{}</title>\
             <description>{}</description><reference><dc:publisher>DISA</dc:publisher>\
             <dc:identifier>{}</dc:identifier></reference>",
            esc(&r.group),
            esc(&r.srg),
            esc(&r.rule),
            esc(&r.weight),
            esc(&r.severity),
            esc(&r.version),
            esc(&r.title),
            esc(&description),
            esc(&r.target_key),
        );
        for l in &r.legacy {
            let _ = write!(x, "<ident system=\"http://cyber.mil/legacy\">{}</ident>", esc(l));
        }
        for c in &r.cci {
            let _ = write!(x, "<ident system=\"http://cyber.mil/cci\">{}</ident>", esc(c));
        }
        let _ = write!(
            x,
            "<fixtext fixref=\"F-{0}_fix\">{1}</fixtext><fix id=\"F-{0}_fix\" />\
             <check system=\"C-{0}_chk\"><check-content-ref href=\"{2}\" name=\"{3}\" />\
             <check-content>{4}</check-content></check></Rule></Group>",
            esc(&r.group),
            esc(&fix_text(&r.version)),
            esc(&f.file),
            esc(&r.check_ref),
            esc(&check_text(&r.version)),
        );
    }
    x.push_str("</Benchmark>\n");
    x
}

/// The user's DISA directory, when `PGHARDEN_STIG_DIR` is set (set but not a directory fails).
pub(crate) fn disa_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os(STIG_DIR_VAR)?);
    assert!(dir.is_dir(), "{STIG_DIR_VAR}={}: not a directory", dir.display());
    Some(dir)
}

/// A benchmark as a test reads it: where it came from, and its XML.
pub(crate) struct Source {
    pub family: &'static str,
    pub file: String,
    /// `true` for the user's DISA copy, `false` for the fixture.
    pub disa: bool,
    pub label: String,
    pub xml: String,
}

/// The fixture of every family, then (with `PGHARDEN_STIG_DIR`) the user's DISA copies. Prints one
/// line saying which were used.
pub(crate) fn sources() -> Vec<Source> {
    let mut out: Vec<Source> = all_facts()
        .iter()
        .map(|f| Source {
            family: f.family,
            file: f.file.clone(),
            disa: false,
            label: format!("fixture from tests/data/{}.tsv", f.family),
            xml: xccdf(f),
        })
        .collect();
    match disa_dir() {
        Some(dir) => {
            for f in all_facts() {
                let path = dir.join(&f.file);
                let xml = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{STIG_DIR_VAR}: cannot read {}: {e}", path.display()));
                out.push(Source {
                    family: f.family,
                    file: f.file.clone(),
                    disa: true,
                    label: path.display().to_string(),
                    xml,
                });
            }
            println!("STIG benchmarks: the fixtures from tests/data and DISA's files in {}", dir.display());
        }
        None => println!(
            "STIG benchmarks: the fixtures from tests/data ({STIG_DIR_VAR}=DIR also checks DISA's files)"
        ),
    }
    out
}

/// The crosswalk text: the repository's copy, and (with `PGHARDEN_STIG_DIR`) the user's, which
/// must be the same.
pub(crate) fn crosswalk() -> &'static str {
    if let Some(dir) = disa_dir() {
        let path = dir.join("stig_crosswalk.tsv");
        if let Ok(theirs) = std::fs::read_to_string(&path) {
            assert_eq!(theirs, CROSSWALK, "{} differs from tests/data/stig_crosswalk.tsv", path.display());
            println!("crosswalk: tests/data/stig_crosswalk.tsv, equal to {}", path.display());
            return CROSSWALK;
        }
    }
    CROSSWALK
}
