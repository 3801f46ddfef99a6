//! The STIG Viewer checklist renderer against the three DISA benchmarks: the fixtures built from
//! the facts in `tests/data/`, and with `PGHARDEN_STIG_DIR=DIR` also the DISA files in DIR.

mod support;

use std::collections::BTreeMap;

use pgharden_audit::report::{self, CklError};
use pgharden_audit::{Report, Status};
use quick_xml::Reader;
use quick_xml::events::Event;

use support::stig;

/// Per family: the id of the failing sample rule, of the passing one, of the manual one.
fn sample_ids(family: &str) -> (&'static str, &'static str, &'static str) {
    match family {
        "pgs9" => ("PGS9-00-000100", "PGS9-00-000200", "PGS9-00-000300"),
        "cd12" => ("CD12-00-000100", "CD12-00-000200", "CD12-00-000300"),
        "cd16" => ("CD16-00-003500", "CD16-00-001400", "CD16-00-009200"),
        other => panic!("no family {other}"),
    }
}

fn sample() -> Report {
    serde_json::from_str(include_str!("fixtures/report-sample.json")).expect("sample report")
}

/// The fixture benchmark of a family (built from the facts; no file outside the repository).
fn benchmark(family: &str) -> String {
    stig::xccdf(&stig::facts(family))
}

/// One VULN of a checklist: STIG_DATA attributes (repeated ones joined by `|`), and the rest.
#[derive(Debug, Default)]
struct Vuln {
    data: BTreeMap<String, String>,
    status: String,
    details: String,
    comments: String,
    severity_override: Option<String>,
}

#[derive(Debug, Default)]
struct Checklist {
    asset: BTreeMap<String, String>,
    stig_info: BTreeMap<String, String>,
    vulns: Vec<Vuln>,
}

/// Reads the whole checklist with quick-xml (any error fails the test) into its parts.
fn parse_ckl(xml: &str) -> Checklist {
    let mut reader = Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut ckl = Checklist::default();
    let mut attribute = String::new();
    let mut sid_name = String::new();
    loop {
        match reader.read_event().expect("checklist is well-formed XML") {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_owned();
                if name == "VULN" {
                    ckl.vulns.push(Vuln::default());
                }
                path.push(name);
                text.clear();
            }
            Event::Empty(e) => panic!("unexpected empty element {:?}", e.local_name().as_ref()),
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let s: &str = &r;
                match r.resolve_char_ref().expect("char ref") {
                    Some(c) => text.push(c),
                    None => {
                        text.push_str(quick_xml::escape::resolve_predefined_entity(s).expect("known entity"));
                    }
                }
            }
            Event::End(_) => {
                let name = path.pop().expect("balanced");
                let parent = path.last().map(String::as_str).unwrap_or_default();
                match (parent, name.as_str()) {
                    ("ASSET", _) => {
                        ckl.asset.insert(name.clone(), text.clone());
                    }
                    ("SI_DATA", "SID_NAME") => sid_name = text.clone(),
                    ("SI_DATA", "SID_DATA") => {
                        ckl.stig_info.insert(sid_name.clone(), text.clone());
                    }
                    ("STIG_DATA", "VULN_ATTRIBUTE") => attribute = text.clone(),
                    ("STIG_DATA", "ATTRIBUTE_DATA") => {
                        let vuln = ckl.vulns.last_mut().expect("in a VULN");
                        vuln.data
                            .entry(attribute.clone())
                            .and_modify(|v| {
                                v.push('|');
                                v.push_str(&text);
                            })
                            .or_insert_with(|| text.clone());
                    }
                    ("VULN", field) => {
                        let vuln = ckl.vulns.last_mut().expect("in a VULN");
                        match field {
                            "STATUS" => vuln.status = text.clone(),
                            "FINDING_DETAILS" => vuln.details = text.clone(),
                            "COMMENTS" => vuln.comments = text.clone(),
                            "SEVERITY_OVERRIDE" => vuln.severity_override = Some(text.clone()),
                            _ => {}
                        }
                    }
                    _ => {}
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(path.is_empty());
    ckl
}

fn vuln<'a>(ckl: &'a Checklist, version: &str) -> &'a Vuln {
    ckl.vulns
        .iter()
        .find(|v| v.data.get("Rule_Ver").map(String::as_str) == Some(version))
        .unwrap_or_else(|| panic!("no VULN for {version}"))
}

#[test]
fn ckl_for_each_benchmark() {
    let report = sample();
    for source in stig::sources() {
        let (fail_id, pass_id, manual_id) = sample_ids(source.family);
        let (file, xml) = (&source.label, &source.xml);
        let out = report::ckl(&report, xml).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(out.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
        let ckl = parse_ckl(&out);

        let rules = xml.matches("<Rule ").count();
        assert!(rules > 100, "{file}: {rules} rules");
        assert_eq!(ckl.vulns.len(), rules, "{file}: one VULN per rule");

        // Every VULN is complete and its ids look like DISA's.
        for v in &ckl.vulns {
            for key in [
                "Vuln_Num",
                "Severity",
                "Group_Title",
                "Rule_ID",
                "Rule_Ver",
                "Rule_Title",
                "Vuln_Discuss",
                "Check_Content",
                "Fix_Text",
                "CCI_REF",
            ] {
                assert!(
                    v.data.get(key).is_some_and(|d| !d.is_empty()),
                    "{file}: {key} missing in {:?}",
                    v.data.get("Rule_Ver")
                );
            }
            assert!(v.data["Vuln_Num"].starts_with("V-"));
            assert!(v.data["Group_Title"].starts_with("SRG-"));
            assert!(v.data["Rule_ID"].starts_with("SV-"));
            assert!(["low", "medium", "high"].contains(&v.data["Severity"].as_str()));
            assert!(v.data["CCI_REF"].starts_with("CCI-"));
            assert!(!v.data["Vuln_Discuss"].contains("<VulnDiscussion>"));
            assert_eq!(v.comments, "pgharden");
            assert_eq!(v.severity_override.as_deref(), Some(""));
            assert!(["Open", "NotAFinding", "Not_Reviewed", "Not_Applicable"].contains(&v.status.as_str()));
        }

        let fail = vuln(&ckl, fail_id);
        assert_eq!(fail.status, "Open", "{file}");
        assert!(
            fail.details.contains("/etc/postgresql/16/main/postgresql.conf:64: port = 5433"),
            "{file}: {}",
            fail.details
        );
        assert!(fail.details.contains("Fix: set port = 5432 in postgresql.conf and restart"));

        let pass = vuln(&ckl, pass_id);
        assert_eq!(pass.status, "NotAFinding", "{file}");
        assert!(pass.details.contains("log_line_prefix = '%m %u %d %e '"));

        let manual = vuln(&ckl, manual_id);
        assert_eq!(manual.status, "Not_Reviewed", "{file}");
        assert!(manual.details.contains("MANUAL"));

        let untouched = ckl
            .vulns
            .iter()
            .filter(|v| v.status == "Not_Reviewed")
            .find(|v| v.details == "not checked automatically by pgharden");
        assert!(untouched.is_some(), "{file}");
        let decided = ckl.vulns.iter().filter(|v| v.status != "Not_Reviewed").count();
        assert!(decided >= 2, "{file}");

        // Asset and STIG info.
        assert_eq!(ckl.asset["ASSET_TYPE"], "Computing");
        assert_eq!(ckl.asset["TECH_AREA"], "Database");
        assert_eq!(ckl.asset["WEB_OR_DATABASE"], "true");
        assert_eq!(ckl.asset["HOST_NAME"], "db1.example.com");
        assert_eq!(ckl.asset["WEB_DB_SITE"], "db1.example.com:5432");
        assert_eq!(ckl.asset["WEB_DB_INSTANCE"], "/var/lib/postgresql/16/main");
        assert!(ckl.asset["TARGET_KEY"].chars().all(|c| c.is_ascii_digit()));
        assert!(!ckl.asset["TARGET_KEY"].is_empty());
        for key in ["ROLE", "HOST_IP"] {
            assert!(ckl.asset.contains_key(key), "{key}");
        }
        assert_eq!(ckl.stig_info["classification"], "UNCLASSIFIED");
        assert!(ckl.stig_info["title"].contains("Security Technical Implementation Guide"));
        assert!(ckl.stig_info["releaseinfo"].starts_with("Release: "));
        assert!(!ckl.stig_info["version"].is_empty());
        assert!(!ckl.stig_info["stigid"].is_empty());
        assert_eq!(ckl.stig_info["uuid"].len(), 36);
        assert!(xml.contains(&format!("id=\"{}\"", ckl.stig_info["stigid"])));
    }
}

#[test]
fn the_benchmark_families_are_the_expected_ones() {
    for source in stig::sources().into_iter().filter(|s| s.family == "pgs9") {
        let ckl = parse_ckl(&report::ckl(&sample(), &source.xml).expect("ckl"));
        pgs9_facts(&ckl, source.disa);
    }
}

fn pgs9_facts(ckl: &Checklist, disa: bool) {
    assert_eq!(ckl.stig_info["stigid"], "PostgreSQL_9-x_STIG");
    assert_eq!(ckl.stig_info["version"], "2");
    assert_eq!(ckl.stig_info["releaseinfo"], "Release: 5 Benchmark Date: 24 Jul 2024");
    let v = vuln(ckl, "PGS9-00-000100");
    assert_eq!(v.data["Vuln_Num"], "V-214048");
    assert_eq!(v.data["Rule_ID"], "SV-214048r960966_rule");
    assert_eq!(v.data["Group_Title"], "SRG-APP-000142-DB-000094");
    assert_eq!(v.data["CCI_REF"], "CCI-000382|CCI-001762");
    assert_eq!(v.data["LEGACY_ID"], "SV-87493|V-72841");
    assert_eq!(v.data["TargetKey"], "3994");
    assert_eq!(v.data["Check_Content_Ref"], "M");
    assert_eq!(v.data["Severity"], "medium");
    if disa {
        assert!(v.data["Vuln_Discuss"].starts_with("In order to prevent unauthorized connection"));
        assert!(v.data["Check_Content"].contains("SHOW port"));
    } else {
        assert_eq!(v.data["Vuln_Discuss"], stig::discussion("PGS9-00-000100"));
        assert_eq!(v.data["Check_Content"], stig::check_text("PGS9-00-000100"));
        assert_eq!(v.data["Fix_Text"], stig::fix_text("PGS9-00-000100"));
        assert_eq!(v.data["Documentable"], "false");
    }
    assert_eq!(ckl.asset["TARGET_KEY"], "3994");
}

/// With `PGHARDEN_STIG_DIR`, the fixture and DISA's file give the same checklist facts (every
/// rule, in the same order, with the same ids, severity, weight, title, CCIs and legacy ids).
#[test]
fn the_fixture_holds_the_facts_of_disas_files() {
    let sources = stig::sources();
    let disa: Vec<&stig::Source> = sources.iter().filter(|s| s.disa).collect();
    if disa.is_empty() {
        // Nothing to compare with: the facts were checked against the crosswalk (catalogue.rs).
        return;
    }
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    for theirs in disa {
        let ours = sources.iter().find(|s| !s.disa && s.family == theirs.family).expect("fixture");
        let a = parse_ckl(&report::ckl(&sample(), &ours.xml).expect("ckl"));
        let b = parse_ckl(&report::ckl(&sample(), &theirs.xml).expect("ckl"));
        assert_eq!(a.vulns.len(), b.vulns.len(), "{}", theirs.label);
        assert_eq!(a.stig_info, b.stig_info, "{}", theirs.label);
        assert_eq!(a.asset, b.asset, "{}", theirs.label);
        for (x, y) in a.vulns.iter().zip(&b.vulns) {
            for key in [
                "Vuln_Num",
                "Severity",
                "Group_Title",
                "Rule_ID",
                "Rule_Ver",
                "Rule_Title",
                "Weight",
                "CCI_REF",
                "LEGACY_ID",
                "TargetKey",
                "Check_Content_Ref",
                "STIG_UUID",
                "STIGRef",
            ] {
                assert_eq!(
                    x.data.get(key).map(|v| norm(v)),
                    y.data.get(key).map(|v| norm(v)),
                    "{}: {key} of {:?} (run scripts/stig-facts on that directory)",
                    theirs.label,
                    y.data.get("Rule_Ver")
                );
            }
            assert_eq!((&x.status, &x.details), (&y.status, &y.details), "{:?}", y.data.get("Rule_Ver"));
        }
    }
}

#[test]
fn several_findings_on_one_rule() {
    let xml = benchmark("pgs9");
    let base = sample();
    let port = base.findings[0].clone();
    let status_with = |statuses: &[Status]| {
        let mut r = base.clone();
        r.findings = statuses
            .iter()
            .map(|&s| {
                let mut f = port.clone();
                f.status = s;
                f
            })
            .collect();
        let ckl = parse_ckl(&report::ckl(&r, &xml).expect("ckl"));
        vuln(&ckl, "PGS9-00-000100").status.clone()
    };
    assert_eq!(status_with(&[Status::Pass, Status::Fail]), "Open");
    assert_eq!(status_with(&[Status::Manual, Status::Fail]), "Open");
    assert_eq!(status_with(&[Status::Pass, Status::Pass]), "NotAFinding");
    assert_eq!(status_with(&[Status::Pass, Status::NotChecked]), "Not_Reviewed");
    assert_eq!(status_with(&[Status::Manual]), "Not_Reviewed");
    assert_eq!(status_with(&[]), "Not_Reviewed");
}

#[test]
fn hostile_text_is_escaped() {
    let xml = benchmark("cd12");
    let mut r = sample();
    let evil = "</FINDING_DETAILS><STATUS>NotAFinding</STATUS> & ]]> \"q\" 'a'\r\u{1}";
    r.findings[0].evidence = vec![evil.to_owned()];
    r.findings[0].title = "<script>".into();
    r.target.host_name = Some("<host>&".into());
    r.tool = "pg--harden".into();
    let out = report::ckl(&r, &xml).expect("ckl");
    let ckl = parse_ckl(&out);
    let v = vuln(&ckl, "CD12-00-000100");
    assert_eq!(v.status, "Open");
    assert!(
        v.details.contains("</FINDING_DETAILS><STATUS>NotAFinding</STATUS> & ]]> \"q\" 'a'\r\\u{1}"),
        "{:?}",
        v.details
    );
    assert!(v.details.contains("<script>"));
    assert_eq!(ckl.asset["HOST_NAME"], "<host>&");
}

#[test]
fn ip_hosts_go_to_host_ip() {
    let xml = benchmark("cd16");
    let mut r = sample();
    r.target.host = Some("192.0.2.10".into());
    r.target.host_name = None;
    let ckl = parse_ckl(&report::ckl(&r, &xml).expect("ckl"));
    assert_eq!(ckl.asset["HOST_IP"], "192.0.2.10");
    assert_eq!(ckl.asset["HOST_NAME"], "");
}

#[test]
fn bad_benchmarks_are_typed_errors() {
    let r = sample();
    assert!(matches!(
        report::ckl(&r, "<Benchmark><Group>"),
        Err(CklError::Xml { .. }) | Err(CklError::Truncated)
    ));
    assert!(matches!(
        report::ckl(&r, "<html><body/></html>"),
        Err(CklError::NotABenchmark(name)) if name == "html"
    ));
    assert!(matches!(
        report::ckl(&r, "<Benchmark xmlns=\"http://checklists.nist.gov/xccdf/1.1\" id=\"x\"/>"),
        Err(CklError::NoRules)
    ));
    assert!(matches!(
        report::ckl(
            &r,
            "<Benchmark id=\"x\"><Group id=\"V-1\"><Rule id=\"SV-1\"><title>t</title></Rule></Group></Benchmark>"
        ),
        Err(CklError::MissingField { rule, .. }) if rule == "SV-1"
    ));
    let err = report::ckl(&r, "").expect_err("empty");
    assert!(!err.to_string().is_empty());
}

#[test]
fn minimal_benchmark_without_groups() {
    let xml = r#"<?xml version="1.0"?>
<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.1" id="Mini">
  <title>Mini &amp; small</title><version>1</version>
  <Rule id="SV-9_rule" severity="low"><version>PGS9-00-000100</version><title>T</title>
    <description>plain discussion</description></Rule>
</Benchmark>"#;
    let ckl = parse_ckl(&report::ckl(&sample(), xml).expect("ckl"));
    assert_eq!(ckl.vulns.len(), 1);
    let v = &ckl.vulns[0];
    assert_eq!(v.status, "Open");
    assert_eq!(v.data["Vuln_Num"], "SV-9_rule");
    assert_eq!(v.data["Vuln_Discuss"], "plain discussion");
    assert_eq!(ckl.stig_info["title"], "Mini & small");
}
